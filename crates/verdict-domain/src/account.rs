//! Accounts: the platform's clients, their trust flag and their standing.

use std::fmt;

use crate::money::Amount;
use crate::timestamp::Timestamp;

/// An account's id, assigned by storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub i64);

impl AccountId {
    pub fn parse(text: &str) -> Option<Self> {
        text.parse::<i64>().ok().filter(|n| *n > 0).map(Self)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Longest account name, in bytes.
pub const MAX_ACCOUNT_NAME_LEN: usize = 200;

/// Checks an account name: 1 to 200 bytes, no control characters, no surrounding spaces.
pub fn validate_account_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.trim() != name {
        return Err("name must be non-empty without leading or trailing spaces");
    }
    if name.len() > MAX_ACCOUNT_NAME_LEN {
        return Err("name must be at most 200 bytes");
    }
    if name.chars().any(char::is_control) {
        return Err("name must not contain control characters");
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// Trusted accounts form the cohort that others' report rates are compared with.
    pub trusted: bool,
    /// Refund credit granted to the account (sum of its ledger entries).
    pub balance: Amount,
    pub standing: Standing,
    /// Earlier ignore periods, for doubling repeated ones.
    pub ignores: IgnoreHistory,
    pub created_at: Timestamp,
}

/// How often an account was put on ignored standing, and when last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IgnoreHistory {
    /// Ignore periods in a row, each begun within the repeat period of the one before.
    pub count: u32,
    pub last_at: Option<Timestamp>,
    /// When the last period ends or ended (or an operator lifted it).
    pub ended_at: Option<Timestamp>,
}

impl IgnoreHistory {
    /// The moment the screen counts from at `now`: the end of the last ignored period, once
    /// it is over. An account that served its period is judged afresh on what it does next,
    /// so one burst (its own integration breaking, say) is not held against it twice.
    pub fn judged_from(&self, now: Timestamp) -> Option<Timestamp> {
        self.ended_at.filter(|t| *t <= now)
    }

    /// Earlier ignore periods that still count at `now`.
    pub fn recent(&self, now: Timestamp, period: std::time::Duration) -> u32 {
        match self.last_at {
            Some(at) if now.millis_since(at) < crate::timestamp::duration_millis(period) => {
                self.count
            }
            _ => 0,
        }
    }
}

/// Whether an account's incorrect-reports count: `Good`, or ignored until a moment, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Good,
    Ignored { until: Timestamp, reason: String },
}

impl Standing {
    /// The standing in force at `now`: an ignore period that has ended is good standing again.
    pub fn at(&self, now: Timestamp) -> &Standing {
        match self {
            Standing::Ignored { until, .. } if *until <= now => &Standing::Good,
            other => other,
        }
    }

    pub fn state_name(&self) -> &'static str {
        match self {
            Standing::Good => "good",
            Standing::Ignored { .. } => "ignored",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_ignore_period_is_good_standing() {
        let s = Standing::Ignored {
            until: Timestamp::from_millis(1_000),
            reason: "test".into(),
        };
        assert_eq!(s.at(Timestamp::from_millis(999)), &s);
        assert_eq!(s.at(Timestamp::from_millis(1_000)), &Standing::Good);
    }

    #[test]
    fn account_names_are_checked() {
        assert!(validate_account_name("alice").is_ok());
        assert!(validate_account_name("").is_err());
        assert!(validate_account_name(" alice").is_err());
        assert!(validate_account_name("a\u{7}").is_err());
        assert!(validate_account_name(&"a".repeat(201)).is_err());
    }

    #[test]
    fn account_ids_are_positive_integers() {
        assert_eq!(AccountId::parse("17"), Some(AccountId(17)));
        assert_eq!(AccountId::parse("0"), None);
        assert_eq!(AccountId::parse("x"), None);
    }
}
