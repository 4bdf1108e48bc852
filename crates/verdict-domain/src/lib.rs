//! verdict's domain: what a task, an account, a report and a verdict are, and the rules that
//! decide a report. Everything here is pure: no I/O, no async, no global clock (`now` is always
//! passed in), money as integer minor units. HTTP dialects and storage backends translate to and
//! from these types; they never decide anything themselves.
//!
//! The model (`account`, `captcha`, `ids`, `keys`, `money`, `task`, `report`, `ledger`, `timestamp`)
//! comes first; the rules build on it without cycles (`tests/layering.rs` checks): `screen` and
//! `recheck` weigh evidence, `judging` decides a report with them under a `policy`, `decision`
//! is what it decided and `plan` what that writes, `scoring` weighs verdicts into solvers'
//! scores and `routing` chooses a provider; `retention` says which old tasks may be deleted;
//! `corrections` says which reports are training labels and how far each is corroborated.

pub mod account;
pub mod captcha;
pub mod corrections;
pub mod decision;
pub mod ids;
pub mod judging;
pub mod keys;
pub mod ledger;
pub mod money;
pub mod plan;
pub mod policy;
pub mod recheck;
pub mod report;
pub mod retention;
pub mod routing;
pub mod scoring;
pub mod screen;
pub mod stats;
pub mod task;
pub mod timestamp;

pub use account::{Account, AccountId, Standing, StandingState};
pub use captcha::{CaptchaType, Eligibility, Family};
pub use decision::{Decision, Effect};
pub use ids::{ApiKey, KeyHash, TaskId};
pub use judging::{Judgement, ReportRequest, Situation, judge};
pub use ledger::{EntryKind, LedgerEntry};
pub use money::Amount;
pub use policy::{Policy, ReportWindows};
pub use report::{Evidence, Reason, Refusal, Report, ReportKind, Verdict};
pub use task::{Task, TaskInput};
pub use timestamp::Timestamp;
