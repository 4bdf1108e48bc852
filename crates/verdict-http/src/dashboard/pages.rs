//! The dashboard's pages as maud templates. Each page is a pure function of what its handler
//! read; `data-live` marks the sections the script refreshes in place.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};
use verdict_domain::{
    Amount, CaptchaType, EntryKind, LedgerEntry, Report, Standing, Timestamp, Verdict,
};
use verdict_engine::{FlowCount, MoneyCount, Period, TaskStory};

use super::charts::{self, Band, Series};
use super::{AccountPage, OperatorView};

/// Verdicts in the order the charts stack them, each with its colour class.
const VERDICTS: [(Verdict, &str); 4] = [
    (Verdict::Accepted, "v-accepted"),
    (Verdict::Rejected, "v-rejected"),
    (Verdict::Pending, "v-pending"),
    (Verdict::Acknowledged, "v-acknowledged"),
];

/// Colour classes for providers, in the order they are listed.
const PROVIDER_CLASSES: [&str; 8] = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"];

/// `2026-12-07 17:05:03 UTC`.
fn when(t: Timestamp) -> String {
    let text = t.to_rfc3339();
    match (text.get(..10), text.get(11..19)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => text,
    }
}

/// A short label for a chart's axis: the time of day, or the day and hour over a week.
fn tick(t: Timestamp, period: Period) -> String {
    let text = t.to_rfc3339();
    match period {
        Period::Hour | Period::Day => text.get(11..16).map(str::to_owned),
        Period::Week => text.get(5..13).map(|s| format!("{}h", s.replace('T', " "))),
    }
    .unwrap_or(text)
}

/// How long ago, roughly: `42 s`, `5 min`, `3 h`, `2 d`.
fn ago(now: Timestamp, then: Timestamp) -> String {
    let s = now.millis_since(then).max(0) / 1000;
    match s {
        0..=119 => format!("{s} s"),
        120..=7_199 => format!("{} min", s / 60),
        7_200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

fn amount_of(micros: f64) -> String {
    Amount::from_micros(micros.round() as i64).to_string()
}

fn layout(title: &str, signed_in: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · verdict" }
                link rel="stylesheet" href="/dashboard/assets/dashboard.css";
                script src="/dashboard/assets/dashboard.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "verdict" }
                    @if let Some(who) = signed_in {
                        form.search action="/dashboard/tasks" method="get" role="search" {
                            label for="task-search" { "Task" }
                            input #task-search type="search" name="id" placeholder="task id" required autocomplete="off";
                            button type="submit" { "Open" }
                        }
                        span.who { (who) }
                        form action="/dashboard/logout" method="post" {
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// A page with a heading and one sentence: errors and refusals.
pub fn message(title: &str, text: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            section.card.narrow {
                h1 { (title) }
                p { (text) }
                p { a href="/" { "Back to the dashboard" } }
            }
        },
    )
}

pub fn login(ended: bool, error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                p { "Operators sign in with the admin token, clients with their API key. The key stays in this browser only, in a cookie scripts cannot read." }
                @if ended {
                    p.notice role="status" { "Your session ended: its key no longer opens an enabled account." }
                }
                @if let Some(error) = error {
                    p.error role="alert" #login-error { (error) }
                }
                form.login action="/dashboard/login" method="post" {
                    label for="token" { "Admin token or API key" }
                    input #token type="password" name="token" required autocomplete="current-password"
                        aria-describedby=[error.map(|_| "login-error")];
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

fn period_nav(current: Period, charted: Option<CaptchaType>) -> Markup {
    let suffix = charted.map_or(String::new(), |t| format!("&type={t}"));
    html! {
        nav.periods aria-label="Period" {
            @for p in Period::ALL {
                a href=(format!("/?period={}{suffix}", p.as_str()))
                    aria-current=[(p == current).then_some("page")] { "Last " (p.as_str()) }
            }
            label.live {
                input #live type="checkbox" checked;
                " Live"
            }
        }
    }
}

/// Buckets of a period at `since`, as timestamps.
fn buckets(since: Timestamp, period: Period, now: Timestamp) -> Vec<Timestamp> {
    let width = period.bucket().as_millis() as i64;
    let mut out = Vec::new();
    let mut at = since.as_millis();
    while at <= now.as_millis() {
        out.push(Timestamp::from_millis(at));
        at += width;
    }
    out
}

fn index_of(buckets: &[Timestamp], at: Timestamp) -> Option<usize> {
    buckets.iter().rposition(|b| *b <= at)
}

pub fn operator(view: &OperatorView) -> Markup {
    let o = &view.overview;
    let times = buckets(o.since, o.period, o.now);
    let labels: Vec<String> = times.iter().map(|t| when(*t)).collect();
    let ticks: Vec<String> = times.iter().map(|t| tick(*t, o.period)).collect();
    let total: u64 = o.flow.iter().map(|f| f.count).sum();
    let by_verdict = |v: Verdict| -> u64 {
        o.flow
            .iter()
            .filter(|f| f.verdict == v)
            .map(|f| f.count)
            .sum()
    };
    let money = |kind: EntryKind| -> (u64, i64) {
        o.money
            .iter()
            .filter(|m| m.kind == kind)
            .fold((0, 0), |(n, a), m| (n + m.count, a + m.amount.micros()))
    };
    let (refunds, refunded) = money(EntryKind::Refund);
    let (reversals, reversed) = money(EntryKind::Reversal);
    layout(
        "Operator",
        Some("Operator"),
        html! {
            h1 { "Operator" }
            (period_nav(o.period, view.charted))
            section.cards data-live="summary" #summary aria-label="Summary" {
                div.card.stat { span.label { "Reports" } span.value data-stat="reports" { (count(total)) } span.sub { "last " (o.period.as_str()) } }
                div.card.stat { span.label { "Accepted" } span.value { (percent(by_verdict(Verdict::Accepted), total)) } span.sub { (count(by_verdict(Verdict::Rejected))) " rejected" } }
                div.card.stat { span.label { "Refunded" } span.value { (Amount::from_micros(refunded)) } span.sub { (count(refunds)) " refunds" } }
                div.card.stat { span.label { "Reversed" } span.value { (Amount::from_micros(reversed)) } span.sub { (count(reversals)) " reversals" } }
                div.card.stat { span.label { "Re-checks open" } span.value { (count(o.rechecks.open)) } span.sub { (count(o.rechecks.overdue)) " overdue" } }
                div.card.stat { span.label { "Accounts to look at" } span.value data-stat="attention" { (count(o.attention.len() as u64)) @if o.attention_truncated { "+" } } span.sub { "ignored, flagged or disabled" } }
            }
            section.card data-live="flow" #flow aria-labelledby="flow-h" {
                h2 #flow-h { "Report flow" }
                (flow_chart(&o.flow, &times, &labels, &ticks, o.period))
                div.split {
                    (flow_table("By dialect", "dialect", &o.flow, |f| f.dialect.clone()))
                    (flow_table("By captcha type", "type", &o.flow, |f| f.captcha_type.to_string()))
                }
            }
            section.card data-live="recent" #recent aria-labelledby="recent-h" {
                h2 #recent-h { "Latest reports" }
                (reports_table(&view.recent, true, o.now))
            }
            section.card data-live="money" #money aria-labelledby="money-h" {
                h2 #money-h { "Refunds and reversals" }
                (money_chart(&o.money, &times, &labels, &ticks))
                p {
                    (count(refunds)) " refunds of " (Amount::from_micros(refunded)) ", "
                    (count(reversals)) " reversals of " (Amount::from_micros(reversed)) "; net "
                    (Amount::from_micros(refunded + reversed)) " paid out in the last " (o.period.as_str()) "."
                }
            }
            section.card data-live="attention" #attention aria-labelledby="attention-h" {
                h2 #attention-h { "Accounts to look at" }
                (attention_table(view))
            }
            section.card data-live="providers" #providers aria-labelledby="providers-h" {
                h2 #providers-h { "Providers" }
                (providers(view))
            }
            section.card data-live="rechecks" #rechecks aria-labelledby="rechecks-h" {
                h2 #rechecks-h { "Re-check queue" }
                dl.facts {
                    dt { "Waiting for a second solve" } dd { (count(o.rechecks.open)) }
                    dt { "Past their deadline" } dd { (count(o.rechecks.overdue)) " (settled by the default on the next timer)" }
                    dt { "Held by a worker now" } dd { (count(o.rechecks.held)) }
                    dt { "Oldest waiting" } dd { @match o.rechecks.oldest { Some(t) => { (ago(o.now, t)) " (" (when(t)) ")" }, None => "–" } }
                }
            }
            p.updated { "As of " time datetime=(o.now.to_rfc3339()) { (when(o.now)) } "." }
        },
    )
}

fn flow_chart(
    flow: &[FlowCount],
    times: &[Timestamp],
    labels: &[String],
    ticks: &[String],
    period: Period,
) -> Markup {
    let series: Vec<Series> = VERDICTS
        .iter()
        .map(|(verdict, class)| {
            let mut values = vec![0.0; times.len()];
            for f in flow.iter().filter(|f| f.verdict == *verdict) {
                if let Some(i) = index_of(times, f.bucket) {
                    values[i] += f.count as f64;
                }
            }
            Series {
                label: verdict.as_str().into(),
                class,
                values,
            }
        })
        .collect();
    let total: u64 = flow.iter().map(|f| f.count).sum();
    charts::bars(
        "flow-chart",
        "Reports per verdict",
        &format!(
            "{total} reports in the last {}, per {} and verdict.",
            period.as_str(),
            match period {
                Period::Hour => "minute",
                Period::Day => "half hour",
                Period::Week => "six hours",
            }
        ),
        labels,
        ticks,
        &series,
        &|v| format!("{v:.0}"),
    )
}

fn flow_table(
    caption: &str,
    column: &str,
    flow: &[FlowCount],
    key: impl Fn(&FlowCount) -> String,
) -> Markup {
    let mut rows: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for f in flow {
        let i = VERDICTS
            .iter()
            .position(|(v, _)| *v == f.verdict)
            .unwrap_or(0);
        rows.entry(key(f)).or_default()[i] += f.count;
    }
    html! {
        div.table-wrap {
            table {
                caption { (caption) }
                thead { tr {
                    th scope="col" { (column) }
                    @for (v, _) in VERDICTS { th scope="col" class="num" { (v.as_str()) } }
                    th scope="col" class="num" { "total" }
                } }
                tbody {
                    @for (name, counts) in &rows {
                        tr {
                            th scope="row" { (name) }
                            @for n in counts { td.num { (count(*n)) } }
                            td.num { (count(counts.iter().sum())) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="6" { "No reports in this period." } } }
                }
            }
        }
    }
}

fn money_chart(
    money: &[MoneyCount],
    times: &[Timestamp],
    labels: &[String],
    ticks: &[String],
) -> Markup {
    let series: Vec<Series> = [
        (EntryKind::Refund, "refunds", "m-refund"),
        (EntryKind::Reversal, "reversals", "m-reversal"),
    ]
    .into_iter()
    .map(|(kind, label, class)| {
        let mut values = vec![0.0; times.len()];
        for m in money.iter().filter(|m| m.kind == kind) {
            if let Some(i) = index_of(times, m.bucket) {
                values[i] += m.amount.micros() as f64;
            }
        }
        Series {
            label: label.into(),
            class,
            values,
        }
    })
    .collect();
    charts::bars(
        "money-chart",
        "Refunds and reversals",
        "Money refunded (above the line) and taken back (below it) per bucket.",
        labels,
        ticks,
        &series,
        &amount_of,
    )
}

fn standing_text(account: &verdict_domain::Account, now: Timestamp) -> Markup {
    html! {
        @match account.standing.at(now) {
            Standing::Good => span.badge.good { "good standing" },
            Standing::Ignored { until, reason } => {
                span.badge.bad { "ignored" } " until " (when(*until)) ": " (reason)
            }
        }
    }
}

fn attention_table(view: &OperatorView) -> Markup {
    let o = &view.overview;
    html! {
        @if o.attention.is_empty() {
            p { "No account is ignored, flagged or disabled." }
        } @else {
            div.table-wrap {
                table #attention-table {
                    thead { tr {
                        th scope="col" { "Account" }
                        th scope="col" { "Why" }
                        th scope="col" class="num" { "Tasks (24 h)" }
                        th scope="col" class="num" { "Incorrect-reports (24 h)" }
                        th scope="col" class="num" { "Reported share" }
                        th scope="col" class="num" { "Ignore periods" }
                        th scope="col" class="num" { "Balance" }
                    } }
                    tbody {
                        @for v in &o.attention {
                            @let a = &v.account;
                            @let tasks: u64 = v.activity.iter().map(|f| f.tasks).sum();
                            @let incorrect: u64 = v.activity.iter().map(|f| f.incorrect).sum();
                            tr data-account=(a.id) {
                                th scope="row" { a href=(format!("/dashboard/accounts/{}", a.id)) { (a.name) " #" (a.id) } }
                                td.why {
                                    ul.reasons {
                                        @if let Standing::Ignored { until, reason } = a.standing.at(o.now) {
                                            li { span.badge.bad { "ignored" } " until " (when(*until)) ": " (reason) }
                                        }
                                        @if let Some(flag) = &a.screen_flag {
                                            li { span.badge.warn { "flagged" } " by the " (flag.lane) " lane " (ago(o.now, flag.at)) " ago: " (flag.reason) }
                                        }
                                        @if let Some(d) = &a.disabled {
                                            li { span.badge.off { "disabled" } " " (ago(o.now, d.at)) " ago: " (d.reason) }
                                        }
                                    }
                                }
                                td.num { (count(tasks)) }
                                td.num { (count(incorrect)) }
                                td.num { (percent(incorrect, tasks)) }
                                td.num { (a.ignores.count) }
                                td.num { (a.balance) }
                            }
                        }
                    }
                }
            }
            @if o.attention_truncated { p { "More accounts need a look than are listed here; the CLI lists them all." } }
        }
    }
}

fn providers(view: &OperatorView) -> Markup {
    let Some(charted) = view.charted else {
        return html! { p { "No provider has a score yet: scores start with the first ingested tasks." } };
    };
    let history: Vec<&verdict_engine::ScoreHistory> = view.history.iter().collect();
    // Every provider is scored at the same moments, with no score before its first evidence.
    let moments: Vec<Timestamp> = history
        .first()
        .map(|h| h.points.iter().map(|p| p.0).collect())
        .unwrap_or_default();
    let labels: Vec<String> = moments.iter().map(|t| when(*t)).collect();
    let ticks: Vec<String> = moments
        .iter()
        .map(|t| tick(*t, view.history_period))
        .collect();
    let class_of = |provider: &str| {
        let i = history
            .iter()
            .position(|h| h.provider == provider)
            .unwrap_or(0);
        PROVIDER_CLASSES[i % PROVIDER_CLASSES.len()]
    };
    let bands: Vec<Band> = history
        .iter()
        .map(|h| Band {
            label: h.provider.clone(),
            class: class_of(&h.provider),
            points: h
                .points
                .iter()
                .map(|(_, s)| {
                    s.as_ref()
                        .map(|s| (s.reliability.mean, s.interval.lower, s.interval.upper))
                })
                .collect(),
        })
        .collect();
    let share_of = |provider: &str| view.shares.iter().find(|s| s.0 == provider).map(|s| s.1);
    html! {
        nav.types aria-label="Captcha type" {
            @for t in &view.types {
                a href=(format!("/?period={}&type={t}", view.overview.period.as_str()))
                    aria-current=[(*t == charted).then_some("page")] { (t) }
            }
        }
        (charts::bands(
            "providers-chart",
            &format!("Reliability of {charted} providers over the last {}", view.history_period.as_str()),
            &format!("Each provider's published score (share of its solutions that were right) with the interval its evidence allows, every {}.",
                if view.history_period == Period::Week { "six hours" } else { "hour" }),
            &labels,
            &ticks,
            &bands,
        ))
        div.table-wrap {
            table #providers-table {
                caption { (charted) ": published scores now, and the share of tasks the router would send each" }
                thead { tr {
                    th scope="col" class="num" { "Rank" }
                    th scope="col" { "Provider" }
                    th scope="col" class="num" { "Score" }
                    th scope="col" class="num" { "Interval" }
                    th scope="col" class="num" { "Reports" }
                    th scope="col" class="num" { "Silence share" }
                    th scope="col" class="num" { "Router share" }
                    th scope="col" { "Breaker" }
                } }
                tbody {
                    @for (rank, s) in view.scores.iter().filter(|s| s.captcha_type == charted).enumerate() {
                        tr {
                            td.num { (rank + 1) }
                            th scope="row" { span class=(format!("swatch {}", class_of(&s.provider))) aria-hidden="true" {} (s.provider) }
                            td.num { (format!("{:.1} %", s.score.reliability.mean * 100.0)) }
                            td.num { (format!("{:.1}–{:.1} %", s.score.interval.lower * 100.0, s.score.interval.upper * 100.0)) }
                            td.num { (count(s.score.reports)) }
                            td.num { (format!("{:.0} %", s.score.silent_share * 100.0)) }
                            td.num { @match share_of(&s.provider) { Some(share) => (format!("{:.1} %", share * 100.0)), None => "–" } }
                            td { @match &s.routing { Some(r) if r.breaker_open => span.badge.bad { "open" }, Some(_) => "closed", None => "–" } }
                        }
                    }
                }
            }
        }
    }
}

fn verdict_badge(verdict: Verdict) -> Markup {
    let class = VERDICTS
        .iter()
        .find(|(v, _)| *v == verdict)
        .map_or("v-acknowledged", |(_, c)| c);
    html! { span class=(format!("badge {class}")) { (verdict.as_str()) } }
}

fn reports_table(stories: &[TaskStory], with_account: bool, now: Timestamp) -> Markup {
    html! {
        @if stories.is_empty() {
            p { "No reports yet." }
        } @else {
            div.table-wrap {
                table.reports {
                    thead { tr {
                        th scope="col" { "Received" }
                        th scope="col" { "Task" }
                        @if with_account { th scope="col" { "Account" } }
                        th scope="col" { "Type" }
                        th scope="col" { "Dialect" }
                        th scope="col" { "Report" }
                        th scope="col" { "Verdict" }
                        th scope="col" { "Why" }
                        th scope="col" class="num" { "Refund kept" }
                    } }
                    tbody {
                        @for story in stories {
                            @if let Some(r) = &story.report {
                                tr data-task=(story.task.id) {
                                    td { time datetime=(r.received_at.to_rfc3339()) title=(when(r.received_at)) { (ago(now, r.received_at)) " ago" } }
                                    td { a href=(format!("/dashboard/tasks/{}", super::url_path_segment(story.task.id.as_str()))) { (story.task.id) } }
                                    @if with_account { td { a href=(format!("/dashboard/accounts/{}", story.task.account)) { "#" (story.task.account) } } }
                                    td { (story.task.captcha_type) }
                                    td { (r.dialect) }
                                    td { (r.kind.as_str()) }
                                    td { (verdict_badge(r.verdict)) }
                                    td.why { (r.reason.describe()) }
                                    td.num { @match story.money.kept.or(r.refund) { Some(a) => (a), None => "–" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn ledger_table(entries: &[LedgerEntry], total: usize) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "No money has moved on this account." }
        } @else {
            div.table-wrap {
                table #ledger-table {
                    caption { "Newest first" @if total > entries.len() { "; the latest " (entries.len()) " of " (count(total as u64)) } }
                    thead { tr {
                        th scope="col" { "When" }
                        th scope="col" { "Kind" }
                        th scope="col" { "Task" }
                        th scope="col" class="num" { "Amount" }
                        th scope="col" { "Why" }
                    } }
                    tbody {
                        @for e in entries {
                            tr {
                                td { (when(e.at)) }
                                td { (e.kind.as_str()) }
                                td { a href=(format!("/dashboard/tasks/{}", super::url_path_segment(e.task.as_str()))) { (e.task) } }
                                td.num { (e.amount) }
                                td.why { (e.reason.as_deref().unwrap_or("")) @if let Some(lane) = &e.lane { " (" (lane) " lane)" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a page about one account shows; `operator` adds what only the operator sees.
fn account_sections(p: &AccountPage, operator: bool) -> Markup {
    let a = &p.view.account;
    let tasks: u64 = p.view.activity.iter().map(|f| f.tasks).sum();
    let incorrect: u64 = p.view.activity.iter().map(|f| f.incorrect).sum();
    let next = p.next.as_ref().map(|cursor| {
        if operator {
            format!("/dashboard/accounts/{}?after={cursor}", a.id)
        } else {
            format!("/?after={cursor}")
        }
    });
    html! {
        section.cards aria-label="Summary" data-live="account-summary" #account-summary {
            div.card.stat { span.label { "Balance" } span.value data-stat="balance" { (a.balance) } span.sub { "refunds less reversals" } }
            div.card.stat { span.label { "Standing" } span.value data-stat="standing" { (a.standing.at(p.now).state_name()) } span.sub { @if a.trusted { "trusted" } @else { "not in the trusted cohort" } } }
            div.card.stat { span.label { "Tasks (24 h)" } span.value { (count(tasks)) } span.sub { (count(incorrect)) " reported incorrect (" (percent(incorrect, tasks)) ")" } }
        }
        section.card aria-labelledby="standing-h" data-live="standing" #standing {
            h2 #standing-h { "Standing" }
            p { (standing_text(a, p.now)) }
            dl.facts {
                dt { "Ignore periods in a row" } dd { (a.ignores.count) }
                dt { "Last ignored" } dd { @match a.ignores.last_at { Some(t) => (when(t)), None => "never" } }
                @if operator {
                    @if let Some(flag) = &a.screen_flag {
                        dt { "Flagged (trust kept)" } dd { (flag.lane) " lane, " (when(flag.at)) ": " (flag.reason) }
                    }
                    @if let Some(d) = &a.disabled {
                        dt { "Disabled" } dd { (when(d.at)) ": " (d.reason) }
                    }
                }
            }
            div.table-wrap {
                table #activity-table {
                    caption { "The last 24 hours, per captcha family: what the screen compares with other accounts" }
                    thead { tr {
                        th scope="col" { "Family" }
                        th scope="col" class="num" { "Tasks" }
                        th scope="col" class="num" { "Incorrect-reports" }
                        th scope="col" class="num" { "Share reported" }
                        th scope="col" class="num" { "Correct-reports" }
                    } }
                    tbody {
                        @for f in &p.view.activity {
                            tr {
                                th scope="row" { (f.family) }
                                td.num { (count(f.tasks)) }
                                td.num { (count(f.incorrect)) }
                                td.num { (percent(f.incorrect, f.tasks)) }
                                td.num { (count(f.correct)) }
                            }
                        }
                        @if p.view.activity.is_empty() { tr { td colspan="5" { "No tasks or reports in the last 24 hours." } } }
                    }
                }
            }
        }
        section.card aria-labelledby="reports-h" data-live="reports" #reports {
            h2 #reports-h { "Reports" }
            (reports_table(&p.reports, false, p.now))
            @if let Some(next) = &next { p { a href=(next) { "Older reports" } } }
        }
        section.card aria-labelledby="ledger-h" data-live="ledger" #ledger {
            h2 #ledger-h { "Ledger" }
            (ledger_table(&p.ledger, p.ledger_entries))
        }
    }
}

pub fn client(p: &AccountPage) -> Markup {
    let a = &p.view.account;
    layout(
        "Your account",
        Some(&format!("{} #{}", a.name, a.id)),
        html! {
            h1 { "Your reports and refunds" }
            p.lead { "Every report you made, what was decided and why, and every refund and reversal on your balance." }
            (account_sections(p, false))
        },
    )
}

pub fn account(p: &AccountPage) -> Markup {
    let a = &p.view.account;
    layout(
        &format!("Account {}", a.name),
        Some("Operator"),
        html! {
            p.crumbs { a href="/" { "Operator" } " › account" }
            h1 { (a.name) " #" (a.id) }
            (account_sections(p, true))
        },
    )
}

fn report_facts(r: &Report) -> Markup {
    html! {
        dl.facts {
            dt { "Report" } dd { (r.kind.as_str()) " via " (r.dialect) ", " (when(r.received_at)) }
            @if let Some(c) = &r.correction { dt { "Correction" } dd { code { (c) } } }
            @if let Some(c) = &r.code { dt { "Code" } dd { code { (c) } } }
            @if let Some(m) = &r.message { dt { "Message" } dd { (m) } }
            dt { "Verdict" } dd { (verdict_badge(r.verdict)) }
            dt { "Reason" } dd { code { (r.reason.code()) } ": " (r.reason.describe()) }
            dt { "Reporter's weight" } dd { (format!("{:.3}", r.trust_weight)) }
        }
    }
}

pub fn task(story: &TaskStory, operator: bool) -> Markup {
    let t = &story.task;
    layout(
        &format!("Task {}", t.id),
        Some(if operator { "Operator" } else { "Client" }),
        html! {
            p.crumbs { a href="/" { "Dashboard" } " › task" }
            h1 { "Task " code { (t.id) } }
            div.split {
                section.card aria-labelledby="task-h" {
                    h2 #task-h { "The task" }
                    dl.facts {
                        dt { "Account" } dd {
                            @if operator { a href=(format!("/dashboard/accounts/{}", t.account)) { "#" (t.account) } } @else { "#" (t.account) }
                        }
                        dt { "Type" } dd { (t.captcha_type) }
                        dt { "Provider" } dd { (t.provider) }
                        dt { "Worker" } dd { (t.worker.as_deref().unwrap_or("–")) }
                        dt { "Answer" } dd { @match &t.answer { Some(a) => code { (a) }, None => "–" } }
                        dt { "Cost" } dd { (t.cost) }
                        dt { "Completed" } dd { (when(t.completed_at)) }
                    }
                }
                section.card aria-labelledby="verdict-h" {
                    h2 #verdict-h { "Report and verdict" }
                    @match &story.report {
                        Some(r) => (report_facts(r)),
                        None => p { "Nobody has reported on this task." },
                    }
                }
            }
            @if let Some(r) = &story.report {
                section.card aria-labelledby="evidence-h" {
                    h2 #evidence-h { "Evidence" }
                    p { "The numbers the verdict rests on." }
                    div.table-wrap {
                        table #evidence-table {
                            tbody {
                                @for (k, v) in r.evidence.as_map() {
                                    tr { th scope="row" { code { (k) } } td { code { (v.to_string()) } } }
                                }
                                @if r.evidence.as_map().is_empty() { tr { td { "None recorded." } } }
                            }
                        }
                    }
                }
            }
            section.card aria-labelledby="money-h" {
                h2 #money-h { "Money" }
                dl.facts {
                    dt { "Refund granted" } dd { @match story.money.granted { Some(a) => (a), None => "none" } }
                    dt { "Kept" } dd #kept { @match story.money.kept { Some(a) => (a), None => "–" } }
                    @if let Some(rev) = &story.money.reversal {
                        dt { "Reversed" } dd { (rev.amount) " on " (when(rev.at)) @if let Some(reason) = &rev.reason { ": " (reason) } @if let Some(lane) = &rev.lane { " (" (lane) " lane)" } }
                    }
                }
                (ledger_table(&story.ledger, story.ledger.len()))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1\u{202f}000");
        assert_eq!(count(1_234_567), "1\u{202f}234\u{202f}567");
        assert_eq!(percent(1, 3), "33.3 %");
        assert_eq!(percent(1, 0), "–");
        let t = Timestamp::from_millis(1_800_000_000_000);
        assert_eq!(when(t), "2027-01-15 08:00:00 UTC");
        assert_eq!(tick(t, Period::Hour), "08:00");
        assert_eq!(tick(t, Period::Week), "01-15 08h");
        assert_eq!(
            ago(t, t.saturating_sub(std::time::Duration::from_secs(5))),
            "5 s"
        );
        assert_eq!(
            ago(t, t.saturating_sub(std::time::Duration::from_secs(600))),
            "10 min"
        );
        assert_eq!(
            ago(
                t,
                t.saturating_sub(std::time::Duration::from_secs(3 * 86_400))
            ),
            "3 d"
        );
    }
}
