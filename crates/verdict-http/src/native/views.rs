//! The native API's response shapes (SPEC §4), as types: what handlers return, what the CLI
//! reads back and prints, and what `/openapi.json` describes, so that the three cannot drift
//! apart. Built here and nowhere else.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use verdict_domain::ledger::TaskMoney;
use verdict_domain::{LedgerEntry, Standing as DomainStanding};
use verdict_engine::{AccountView, TaskStory};

/// A task as the platform ingested it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: String,
    pub account: i64,
    /// The canonical captcha type (`image`, `recaptcha_v2`, …).
    #[serde(rename = "type")]
    pub captcha_type: String,
    pub provider: String,
    pub worker: Option<String>,
    pub answer: Option<String>,
    /// Decimal string, e.g. `"0.0020"`.
    pub cost: String,
    /// RFC 3339.
    pub completed_at: String,
}

impl Task {
    pub fn of(t: &verdict_domain::Task) -> Self {
        Self {
            id: t.id.as_str().to_owned(),
            account: t.account.0,
            captcha_type: t.captcha_type.as_str().to_owned(),
            provider: t.provider.clone(),
            worker: t.worker.clone(),
            answer: t.answer.clone(),
            cost: t.cost.to_string(),
            completed_at: t.completed_at.to_rfc3339(),
        }
    }
}

/// A refund taken back by a clawback.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reversal {
    pub at: String,
    pub amount: String,
    pub reason: Option<String>,
    /// The screen's lane that flagged the account (`fast`, `slow`, …).
    pub lane: Option<String>,
}

/// A report and what was decided about it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// `incorrect` or `correct`.
    pub kind: String,
    /// The wire dialect it arrived in.
    pub dialect: String,
    pub correction: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub received_at: String,
    /// `accepted`, `rejected`, `acknowledged` or `pending`.
    pub verdict: String,
    /// A stable reason code.
    pub reason: String,
    /// The reason in words.
    pub explanation: String,
    /// The numbers the verdict rests on.
    #[schema(value_type = Object)]
    pub evidence: Map<String, Value>,
    /// What the account keeps of the refund: a reversed refund shows as reversed, so an
    /// account's balance is the sum of its tasks' refunds. Decimal string or null.
    pub refund: Option<String>,
    /// The refund first granted.
    pub refund_granted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal: Option<Reversal>,
}

impl Report {
    /// A report as recorded now (no reversal can have happened yet).
    pub fn of(r: &verdict_domain::Report) -> Self {
        Self {
            kind: r.kind.as_str().to_owned(),
            dialect: r.dialect.clone(),
            correction: r.correction.clone(),
            code: r.code.clone(),
            message: r.message.clone(),
            received_at: r.received_at.to_rfc3339(),
            verdict: r.verdict.as_str().to_owned(),
            reason: r.reason.code().to_owned(),
            explanation: r.reason.describe().to_owned(),
            evidence: r.evidence.as_map().clone(),
            refund: r.refund.map(|a| a.to_string()),
            refund_granted: r.refund.map(|a| a.to_string()),
            reversal: None,
        }
    }

    /// A recorded report with what its account keeps of its refund.
    pub fn with_money(r: &verdict_domain::Report, money: &TaskMoney) -> Self {
        Self {
            refund: money.kept.or(r.refund).map(|a| a.to_string()),
            refund_granted: money.granted.or(r.refund).map(|a| a.to_string()),
            reversal: money.reversal.as_ref().map(|reversal| Reversal {
                at: reversal.at.to_rfc3339(),
                amount: reversal.amount.to_string(),
                reason: reversal.reason.clone(),
                lane: reversal.lane.clone(),
            }),
            ..Self::of(r)
        }
    }
}

/// A ledger entry: a refund or a reversal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    pub task: String,
    /// `refund` or `reversal`.
    pub kind: String,
    /// Signed decimal string.
    pub amount: String,
    /// `refund:<task>` or `reversal:<task>`: the same effect is never written twice.
    pub idempotency_key: String,
    pub at: String,
    pub reason: Option<String>,
    pub lane: Option<String>,
}

impl Entry {
    pub fn of(e: &LedgerEntry) -> Self {
        Self {
            task: e.task.as_str().to_owned(),
            kind: e.kind.as_str().to_owned(),
            amount: e.amount.to_string(),
            idempotency_key: e.idempotency_key.clone(),
            at: e.at.to_rfc3339(),
            reason: e.reason.clone(),
            lane: e.lane.clone(),
        }
    }
}

/// A task's whole story: the task, its report with the money, and its ledger entries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskStoryView {
    pub task: Task,
    pub report: Option<Report>,
    pub ledger: Vec<Entry>,
}

impl TaskStoryView {
    pub fn of(story: &TaskStory) -> Self {
        Self {
            task: Task::of(&story.task),
            report: story
                .report
                .as_ref()
                .map(|r| Report::with_money(r, &story.money)),
            ledger: story.ledger.iter().map(Entry::of).collect(),
        }
    }
}

/// Whether an account's incorrect-reports count.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Standing {
    /// `good` or `ignored`.
    pub state: String,
    pub until: Option<String>,
    pub reason: Option<String>,
}

impl Standing {
    pub fn of(s: &DomainStanding) -> Self {
        match s {
            DomainStanding::Good => Self {
                state: "good".into(),
                until: None,
                reason: None,
            },
            DomainStanding::Ignored { until, reason } => Self {
                state: "ignored".into(),
                until: Some(until.to_rfc3339()),
                reason: Some(reason.clone()),
            },
        }
    }
}

/// Earlier ignore periods (they double when they repeat).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IgnoreHistory {
    pub periods: u32,
    pub last_started_at: Option<String>,
    pub last_ended_at: Option<String>,
}

/// What the screen would have done to a trusted account whose trust stood.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScreenFlag {
    pub at: String,
    pub lane: String,
    pub reason: String,
}

/// When and why an operator disabled an account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Disabled {
    pub at: String,
    pub reason: String,
}

/// An account's counts in one captcha family over `stats_period`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct FamilyStats {
    pub tasks: u64,
    pub incorrect: u64,
    pub correct: u64,
}

/// An account: balance, standing and recent statistics.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub trusted: bool,
    /// Decimal string: the sum of the account's ledger.
    pub balance: String,
    pub standing: Standing,
    pub ignore_history: IgnoreHistory,
    /// Set when the screen would have flagged this trusted account and its trust stood.
    pub screen_flag: Option<ScreenFlag>,
    /// Set while an operator has the account switched off: none of its keys opens anything.
    pub disabled: Option<Disabled>,
    /// Per captcha family with any activity.
    pub stats: BTreeMap<String, FamilyStats>,
    pub stats_period: String,
    pub created_at: String,
}

impl Account {
    pub fn of(view: &AccountView, now: verdict_domain::Timestamp) -> Self {
        let a = &view.account;
        Self {
            id: a.id.0,
            name: a.name.clone(),
            trusted: a.trusted,
            balance: a.balance.to_string(),
            standing: Standing::of(a.standing.at(now)),
            ignore_history: IgnoreHistory {
                periods: a.ignores.count,
                last_started_at: a.ignores.last_at.map(|t| t.to_rfc3339()),
                last_ended_at: a.ignores.ended_at.map(|t| t.to_rfc3339()),
            },
            screen_flag: a.screen_flag.as_ref().map(|f| ScreenFlag {
                at: f.at.to_rfc3339(),
                lane: f.lane.clone(),
                reason: f.reason.clone(),
            }),
            disabled: a.disabled.as_ref().map(|d| Disabled {
                at: d.at.to_rfc3339(),
                reason: d.reason.clone(),
            }),
            stats: view
                .activity
                .iter()
                .map(|f| {
                    (
                        f.family.as_str().to_owned(),
                        FamilyStats {
                            tasks: f.tasks,
                            incorrect: f.incorrect,
                            correct: f.correct,
                        },
                    )
                })
                .collect(),
            stats_period: "24h".into(),
            created_at: a.created_at.to_rfc3339(),
        }
    }
}

/// An account's ledger and balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ledger {
    pub account: i64,
    pub balance: String,
    pub entries: Vec<Entry>,
}
