//! The native API's answers as tables for people: columns separated by spaces, no borders, so
//! that `grep` and `awk` read them too. `--json` prints the answers themselves instead.

use comfy_table::{Table, presets};
use verdict_http::native::{
    AccountPage, CreatedAccount, Issued, KeyList, KeyView, ReportPage, views,
};

use super::import::Imported;

/// Columns under a header.
fn columns(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_header(header.to_vec());
    table
}

/// Names and values, one pair a row.
fn pairs<'a>(rows: impl IntoIterator<Item = (&'a str, String)>) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    for (name, value) in rows {
        table.add_row(vec![name.to_owned(), value]);
    }
    table
}

/// Tables one after another (those with no rows left out), flush left, columns two spaces
/// apart.
fn stack<const N: usize>(tables: [Table; N]) -> String {
    let mut text = String::new();
    for mut table in tables.into_iter().filter(|t| !t.is_empty()) {
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&table.trim_fmt());
        text.push('\n');
    }
    text
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn standing(s: &views::Standing) -> String {
    match (&s.until, &s.reason) {
        (Some(until), Some(reason)) => format!("{} until {until}: {reason}", s.state),
        (Some(until), None) => format!("{} until {until}", s.state),
        _ => s.state.clone(),
    }
}

pub fn created(created: &CreatedAccount) -> String {
    stack([pairs([
        ("id", created.id.to_string()),
        ("name", created.name.clone()),
        ("trusted", yes_no(created.trusted)),
        ("api key", format!("{} (shown this once)", created.api_key)),
    ])])
}

pub fn account(a: &views::Account) -> String {
    let history = &a.ignore_history;
    let ignores = match (&history.last_started_at, &history.last_ended_at) {
        (Some(start), Some(end)) => format!("{} (the last from {start} to {end})", history.periods),
        (Some(start), None) => format!("{} (the last from {start})", history.periods),
        _ => history.periods.to_string(),
    };
    let facts = pairs([
        ("id", a.id.to_string()),
        ("name", a.name.clone()),
        ("trusted", yes_no(a.trusted)),
        ("balance", a.balance.clone()),
        ("standing", standing(&a.standing)),
        ("ignore periods", ignores),
        (
            "screen flag",
            a.screen_flag.as_ref().map_or("-".to_owned(), |f| {
                format!("{} ({} lane): {}", f.at, f.lane, f.reason)
            }),
        ),
        (
            "disabled",
            a.disabled
                .as_ref()
                .map_or("-".to_owned(), |d| format!("since {}: {}", d.at, d.reason)),
        ),
        ("created", a.created_at.clone()),
    ]);
    let mut stats = columns(&[
        &format!("FAMILY (last {})", a.stats_period),
        "TASKS",
        "INCORRECT",
        "CORRECT",
    ]);
    for (family, s) in &a.stats {
        stats.add_row(vec![
            family.clone(),
            s.tasks.to_string(),
            s.incorrect.to_string(),
            s.correct.to_string(),
        ]);
    }
    stack([facts, stats])
}

pub fn accounts(page: &AccountPage) -> String {
    let mut table = columns(&[
        "ID", "NAME", "TRUSTED", "BALANCE", "STANDING", "DISABLED", "CREATED",
    ]);
    if page.accounts.is_empty() {
        return "no accounts\n".to_owned();
    }
    for a in &page.accounts {
        table.add_row(vec![
            a.id.to_string(),
            a.name.clone(),
            yes_no(a.trusted),
            a.balance.clone(),
            standing(&a.standing),
            or_dash(a.disabled.as_ref().map(|d| d.reason.as_str())),
            a.created_at.clone(),
        ]);
    }
    stack([table])
}

fn entries(entries: &[views::Entry]) -> Table {
    let mut table = columns(&["AT", "TASK", "KIND", "AMOUNT", "REASON"]);
    for e in entries {
        table.add_row(vec![
            e.at.clone(),
            e.task.clone(),
            e.kind.clone(),
            e.amount.clone(),
            or_dash(e.reason.as_deref()),
        ]);
    }
    table
}

pub fn ledger(ledger: &views::Ledger) -> String {
    stack([
        pairs([
            ("account", ledger.account.to_string()),
            ("balance", ledger.balance.clone()),
        ]),
        entries(&ledger.entries),
    ])
}

fn key_table<'a>(keys: impl IntoIterator<Item = &'a KeyView>) -> Table {
    let mut table = columns(&["KEY", "LABEL", "STATE", "CREATED", "EXPIRES", "REVOKED"]);
    for k in keys {
        table.add_row(vec![
            k.id.clone(),
            or_dash(k.label.as_deref()),
            k.state.clone(),
            k.created_at.clone(),
            or_dash(k.expires_at.as_deref()),
            or_dash(k.revoked_at.as_deref()),
        ]);
    }
    table
}

pub fn keys(list: &KeyList) -> String {
    stack([key_table(&list.keys)])
}

pub fn key(key: &KeyView) -> String {
    stack([key_table([key])])
}

pub fn issued(issued: &Issued) -> String {
    let shown = pairs([
        ("account", issued.account.to_string()),
        ("key", issued.key.id.clone()),
        ("api key", format!("{} (shown this once)", issued.api_key)),
    ]);
    match &issued.keys {
        Some(all) => stack([shown, key_table(all)]),
        None => stack([shown, key_table([&issued.key])]),
    }
}

pub fn task(story: &views::TaskStoryView) -> String {
    let t = &story.task;
    let task = pairs([
        ("task", t.id.clone()),
        ("account", t.account.to_string()),
        ("type", t.captcha_type.clone()),
        ("provider", t.provider.clone()),
        ("worker", or_dash(t.worker.as_deref())),
        ("answer", or_dash(t.answer.as_deref())),
        ("cost", t.cost.clone()),
        ("completed", t.completed_at.clone()),
    ]);
    let Some(r) = &story.report else {
        return stack([task, pairs([("report", "none".to_owned())])]);
    };
    let mut report = vec![
        ("report", format!("{} ({})", r.kind, r.dialect)),
        ("received", r.received_at.clone()),
        ("verdict", format!("{} ({})", r.verdict, r.reason)),
        ("why", r.explanation.clone()),
        ("correction", or_dash(r.correction.as_deref())),
        ("refund", or_dash(r.refund.as_deref())),
        ("refund granted", or_dash(r.refund_granted.as_deref())),
    ];
    if let Some(reversal) = &r.reversal {
        report.push((
            "reversal",
            format!(
                "{} at {}: {}",
                reversal.amount,
                reversal.at,
                reversal.reason.as_deref().unwrap_or("-")
            ),
        ));
    }
    stack([task, pairs(report), entries(&story.ledger)])
}

pub fn reports(page: &ReportPage) -> String {
    let mut table = columns(&[
        "RECEIVED", "TASK", "ACCOUNT", "TYPE", "DIALECT", "KIND", "VERDICT", "REASON", "REFUND",
    ]);
    if page.reports.is_empty() {
        return "no reports\n".to_owned();
    }
    for listed in &page.reports {
        let (t, r) = (&listed.task, &listed.report);
        table.add_row(vec![
            r.received_at.clone(),
            t.id.clone(),
            t.account.to_string(),
            t.captcha_type.clone(),
            r.dialect.clone(),
            r.kind.clone(),
            r.verdict.clone(),
            r.reason.clone(),
            or_dash(r.refund.as_deref()),
        ]);
    }
    stack([table])
}

pub fn imported(imported: &Imported) -> String {
    let summary = pairs([
        ("inserted", imported.inserted.to_string()),
        ("duplicates", imported.duplicates.to_string()),
        ("rejected", imported.rejected.len().to_string()),
    ]);
    if imported.rejected.is_empty() {
        return stack([summary]);
    }
    let mut rejected = columns(&["WHERE", "ERROR"]);
    for r in &imported.rejected {
        rejected.add_row(vec![r.place.to_string(), r.error.clone()]);
    }
    stack([summary, rejected])
}
