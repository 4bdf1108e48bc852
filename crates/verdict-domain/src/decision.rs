//! What a verdict brings besides the report itself: the effects judging and re-checks decide
//! ([`Effect`]) and the report with them ([`Decision`]). What that turns into in storage is
//! the `plan` module's to say.

use crate::report::Report;
use crate::timestamp::Timestamp;

/// What else must happen, atomically with recording the report. Lanes are `&'static str` from
/// a fixed set (the screen's four, or `recheck`), so that they can label metrics as they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Put the account on ignored standing until then (never shortening a longer one). It
    /// counts as a repeat of an earlier period that began at or after `count_since`.
    Ignore {
        until: Timestamp,
        reason: String,
        count_since: Timestamp,
        /// What found it.
        lane: &'static str,
    },
    /// Queue the task for a second solve, due by `deadline`.
    Recheck { deadline: Timestamp },
    /// Take back refunds granted on this account's unverifiable reports received since then.
    Clawback {
        since: Timestamp,
        reason: String,
        lane: &'static str,
    },
    /// Put the worker on the account's whitelist.
    Whitelist { provider: String, worker: String },
    /// The screen would have flagged this operator-trusted account; note it on the account for
    /// the operator instead of acting on it.
    NoteScreenFlag { lane: &'static str, reason: String },
}

/// A report to record, and what comes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub report: Report,
    pub effects: Vec<Effect>,
}
