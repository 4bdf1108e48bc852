//! The native API's JSON shapes (SPEC §4). Built here and nowhere else.

use serde_json::{Value, json};
use verdict_domain::ledger::TaskMoney;
use verdict_domain::{Account, LedgerEntry, Report, Standing, Task};
use verdict_engine::{AccountView, TaskStory};

pub fn task(t: &Task) -> Value {
    json!({
        "id": t.id.as_str(),
        "account": t.account.0,
        "type": t.captcha_type.as_str(),
        "provider": t.provider,
        "worker": t.worker,
        "answer": t.answer,
        "cost": t.cost.to_string(),
        "completed_at": t.completed_at.to_rfc3339(),
    })
}

pub fn report(r: &Report) -> Value {
    json!({
        "kind": r.kind.as_str(),
        "dialect": r.dialect,
        "correction": r.correction,
        "code": r.code,
        "message": r.message,
        "received_at": r.received_at.to_rfc3339(),
        "verdict": r.verdict.as_str(),
        "reason": r.reason.code(),
        "explanation": r.reason.describe(),
        "evidence": Value::Object(r.evidence.as_map().clone()),
        "refund": r.refund.map(|a| a.to_string()),
        "refund_granted": r.refund.map(|a| a.to_string()),
    })
}

/// A recorded report as its task shows it: `refund` is what the account keeps (a reversed
/// refund shows as reversed, so an account's balance is the sum of its tasks' refunds), with the
/// refund first granted and the reversal beside it.
pub fn report_with_money(r: &Report, money: &TaskMoney) -> Value {
    let mut shown = report(r);
    shown["refund"] = json!(money.kept.or(r.refund).map(|a| a.to_string()));
    shown["refund_granted"] = json!(money.granted.or(r.refund).map(|a| a.to_string()));
    if let Some(reversal) = &money.reversal {
        shown["reversal"] = json!({
            "at": reversal.at.to_rfc3339(),
            "amount": reversal.amount.to_string(),
            "reason": reversal.reason,
            "lane": reversal.lane,
        });
    }
    shown
}

/// A task's whole story, as `GET /v1/tasks/{id}` and `verdict tasks show` give it.
pub fn task_story(story: &TaskStory) -> Value {
    json!({
        "task": task(&story.task),
        "report": story.report.as_ref().map(|r| report_with_money(r, &story.money)),
        "ledger": story.ledger.iter().map(ledger_entry).collect::<Vec<_>>(),
    })
}

/// An account's standing, with how often it was ignored (periods double when they repeat).
pub fn standing(s: &Standing) -> Value {
    match s {
        Standing::Good => json!({ "state": "good", "until": null, "reason": null }),
        Standing::Ignored { until, reason } => {
            json!({ "state": "ignored", "until": until.to_rfc3339(), "reason": reason })
        }
    }
}

pub fn account(view: &AccountView, now: verdict_domain::Timestamp) -> Value {
    let a: &Account = &view.account;
    let stats: serde_json::Map<String, Value> = view
        .activity
        .iter()
        .map(|f| {
            let counts =
                json!({ "tasks": f.tasks, "incorrect": f.incorrect, "correct": f.correct });
            (f.family.as_str().to_owned(), counts)
        })
        .collect();
    json!({
        "id": a.id.0,
        "name": a.name,
        "trusted": a.trusted,
        "balance": a.balance.to_string(),
        "standing": standing(a.standing.at(now)),
        "ignore_history": {
            "periods": a.ignores.count,
            "last_started_at": a.ignores.last_at.map(|t| t.to_rfc3339()),
            "last_ended_at": a.ignores.ended_at.map(|t| t.to_rfc3339()),
        },
        // Set when the screen would have flagged this trusted account and its trust stood.
        "screen_flag": a.screen_flag.as_ref().map(|f| json!({
            "at": f.at.to_rfc3339(), "lane": f.lane, "reason": f.reason,
        })),
        // Set while an operator has the account switched off: none of its keys opens anything.
        "disabled": a.disabled.as_ref().map(|d| json!({
            "at": d.at.to_rfc3339(), "reason": d.reason,
        })),
        "stats": stats,
        "stats_period": "24h",
        "created_at": a.created_at.to_rfc3339(),
    })
}

pub fn ledger_entry(e: &LedgerEntry) -> Value {
    json!({
        "task": e.task.as_str(),
        "kind": e.kind.as_str(),
        "amount": e.amount.to_string(),
        "idempotency_key": e.idempotency_key,
        "at": e.at.to_rfc3339(),
        "reason": e.reason,
        "lane": e.lane,
    })
}
