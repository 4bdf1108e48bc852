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
    /// The last time the screen would have flagged this operator-trusted account and did not
    /// (the operator's word stands by default): for the operator to look at.
    pub screen_flag: Option<ScreenFlag>,
    /// Switched off by an operator: none of its keys opens anything until switched on again.
    pub disabled: Option<Disabled>,
    pub created_at: Timestamp,
}

impl Account {
    /// Whether the account's keys open anything.
    pub fn enabled(&self) -> bool {
        self.disabled.is_none()
    }

    /// Whether an operator should look at the account now: its reports are ignored, the screen
    /// flagged it while its trust stood, or it is disabled.
    pub fn needs_attention(&self, now: Timestamp) -> bool {
        matches!(self.standing.at(now), Standing::Ignored { .. })
            || self.screen_flag.is_some()
            || self.disabled.is_some()
    }
}

/// When and why an operator disabled an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub at: Timestamp,
    pub reason: String,
}

/// What the screen found against a trusted account it was not allowed to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenFlag {
    pub at: Timestamp,
    /// The lane that would have flagged it (`fast`, `slow`, `baseline`, `drift`).
    pub lane: String,
    pub reason: String,
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

    /// Why the account is ignored; `None` in good standing.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Standing::Ignored { reason, .. } => Some(reason),
            Standing::Good => None,
        }
    }

    pub fn state_name(&self) -> &'static str {
        match self {
            Standing::Good => "good",
            Standing::Ignored { .. } => "ignored",
        }
    }
}

/// An account's standing and ignore history together: what a change of standing reads and
/// writes. The rules of every such change are here; storage writes the state they return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingState {
    /// As stored: an ignore period that has ended is still `Ignored` until changed.
    pub standing: Standing,
    pub ignores: IgnoreHistory,
}

impl Account {
    pub fn standing_state(&self) -> StandingState {
        StandingState {
            standing: self.standing.clone(),
            ignores: self.ignores,
        }
    }
}

impl StandingState {
    /// A period that has not ended at `now`.
    fn running_at(&self, now: Timestamp) -> Option<(Timestamp, &str)> {
        match &self.standing {
            Standing::Ignored { until, reason } if *until > now => Some((*until, reason)),
            _ => None,
        }
    }

    /// After judging put the account on ignored standing until `until` at `now`: a longer
    /// period already imposed is never shortened (its reason stands too); a period begun while
    /// one is running is not counted again; a new one counts as a repeat of one that began at
    /// or after `count_since`, and otherwise starts the count afresh.
    pub fn flagged(
        &self,
        until: Timestamp,
        reason: &str,
        count_since: Timestamp,
        now: Timestamp,
    ) -> StandingState {
        let running = self.running_at(now).is_some();
        let count = if running {
            self.ignores.count
        } else if self.ignores.last_at.is_some_and(|at| at >= count_since) {
            self.ignores.count.saturating_add(1)
        } else {
            1
        };
        let (until, reason) = match &self.standing {
            Standing::Ignored {
                until: longer,
                reason: why,
            } if *longer >= until => (*longer, why.clone()),
            _ => (until, reason.to_owned()),
        };
        StandingState {
            standing: Standing::Ignored { until, reason },
            ignores: IgnoreHistory {
                count,
                last_at: if running {
                    self.ignores.last_at
                } else {
                    Some(now)
                },
                ended_at: Some(until),
            },
        }
    }

    /// After an operator set the standing at `now`: an imposed period is exactly the one given
    /// and always counts; lifting one ends a running period now, and remembers when the last
    /// one ended (the screen counts from then).
    pub fn set_by_operator(&self, standing: &Standing, now: Timestamp) -> StandingState {
        match standing {
            Standing::Ignored { until, .. } => StandingState {
                standing: standing.clone(),
                ignores: IgnoreHistory {
                    count: self.ignores.count.saturating_add(1),
                    last_at: Some(now),
                    ended_at: Some(*until),
                },
            },
            Standing::Good => StandingState {
                standing: Standing::Good,
                ignores: IgnoreHistory {
                    ended_at: match self.running_at(now) {
                        Some(_) => Some(now),
                        None => self.ignores.ended_at,
                    },
                    ..self.ignores
                },
            },
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

    fn state(standing: Standing, count: u32, last: Option<i64>) -> StandingState {
        let ended_at = match &standing {
            Standing::Ignored { until, .. } => Some(*until),
            Standing::Good => None,
        };
        StandingState {
            standing,
            ignores: IgnoreHistory {
                count,
                last_at: last.map(Timestamp::from_millis),
                ended_at,
            },
        }
    }

    fn ignored(until: i64, reason: &str) -> Standing {
        Standing::Ignored {
            until: Timestamp::from_millis(until),
            reason: reason.into(),
        }
    }

    const T: fn(i64) -> Timestamp = Timestamp::from_millis;

    #[test]
    fn a_flag_never_shortens_a_longer_period_and_counts_a_running_one_once() {
        let running = state(ignored(5_000, "long"), 1, Some(100));
        let after = running.flagged(T(3_000), "short", T(0), T(1_000));
        assert_eq!(after.standing, ignored(5_000, "long"));
        assert_eq!(
            after.ignores.count, 1,
            "begun while one runs: not counted again"
        );
        assert_eq!(after.ignores.last_at, Some(T(100)));
        let longer = running.flagged(T(9_000), "longer", T(0), T(1_000));
        assert_eq!(longer.standing, ignored(9_000, "longer"));
        assert_eq!(longer.ignores.ended_at, Some(T(9_000)));
    }

    #[test]
    fn a_new_flag_repeats_a_recent_period_and_starts_afresh_after_an_old_one() {
        let served = state(ignored(500, "old"), 2, Some(100));
        let repeat = served.flagged(T(3_000), "again", T(50), T(1_000));
        assert_eq!(
            (repeat.ignores.count, repeat.ignores.last_at),
            (3, Some(T(1_000)))
        );
        let afresh = served.flagged(T(3_000), "again", T(200), T(1_000));
        assert_eq!(afresh.ignores.count, 1);
        let never = state(Standing::Good, 0, None).flagged(T(3_000), "first", T(0), T(1_000));
        assert_eq!(never.ignores.count, 1);
    }

    #[test]
    fn an_operator_imposes_exactly_the_period_given_and_lifting_ends_it_now() {
        let running = state(ignored(5_000, "long"), 1, Some(100));
        let imposed = running.set_by_operator(&ignored(2_000, "by hand"), T(1_000));
        assert_eq!(imposed.standing, ignored(2_000, "by hand"));
        assert_eq!(
            (imposed.ignores.count, imposed.ignores.ended_at),
            (2, Some(T(2_000)))
        );
        let lifted = running.set_by_operator(&Standing::Good, T(1_000));
        assert_eq!(lifted.standing, Standing::Good);
        assert_eq!(lifted.ignores.ended_at, Some(T(1_000)));
        let served = state(ignored(500, "old"), 1, Some(100));
        let lifted_late = served.set_by_operator(&Standing::Good, T(1_000));
        assert_eq!(
            lifted_late.ignores.ended_at,
            Some(T(500)),
            "it had ended by itself"
        );
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
