//! The tunable rules of judging. Defaults follow the services verdict imitates; every value can
//! be changed by configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::captcha::Family;
use crate::screen::ScreenPolicy;

/// Everything judging can be configured with.
#[derive(Debug, Clone)]
pub struct Policy {
    pub windows: ReportWindows,
    pub screen: ScreenPolicy,
    pub rechecks: RecheckPolicy,
    /// When the screen puts an account on ignored standing, also take back the refunds it was
    /// granted on unverifiable reports in the period the screen found abnormal (reversal
    /// entries). On by default: without it, an account inflating its reports keeps what it
    /// got until it was caught (docs/simulation.md has the figures with and without it).
    pub clawback: bool,
    /// Whether the screen may ignore, cap and claw back operator-trusted accounts like any
    /// other. Off by default: the operator's word stands, and what the screen would have done
    /// is recorded on the report and the account for the operator to review.
    pub screen_trusted: bool,
    /// Anti-captcha's rule: a client confirming a solution puts the worker who solved it on the
    /// client's whitelist (the router then names those workers for the client's tasks).
    pub whitelist_on_correct: bool,
    /// What published score intervals allow for in how clients report (docs/scoring.md).
    pub reporting: crate::scoring::ReportingBounds,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            windows: ReportWindows::default(),
            screen: ScreenPolicy::default(),
            rechecks: RecheckPolicy::default(),
            clawback: true,
            screen_trusted: false,
            whitelist_on_correct: false,
            reporting: crate::scoring::ReportingBounds::default(),
        }
    }
}

impl Policy {
    /// Whether the screen and re-checks may restrain this account (ignore it, cap or claw back
    /// its refunds), or only record what they found: the operator's trust stands unless
    /// `screen_trusted` is set.
    pub fn may_restrain(&self, account: &crate::account::Account) -> bool {
        self.screen_trusted || !account.trusted
    }
}

/// How long after completion a task can be reported, per family, optionally overridden per
/// dialect (2captcha documents 15 minutes for all types where anti-captcha says 60 seconds).
#[derive(Debug, Clone)]
pub struct ReportWindows {
    per_family: BTreeMap<Family, Duration>,
    per_dialect: BTreeMap<String, DialectWindows>,
}

#[derive(Debug, Clone, Default)]
struct DialectWindows {
    all_families: Option<Duration>,
    per_family: BTreeMap<Family, Duration>,
}

/// Token captchas: a token is single-use and the client learns within a minute whether it
/// worked (anti-captcha, seed 002: 60 s).
pub const DEFAULT_TOKEN_WINDOW: Duration = Duration::from_secs(60);
/// Image and audio answers can be re-checked at leisure.
pub const DEFAULT_VERIFIABLE_WINDOW: Duration = Duration::from_secs(24 * 3600);

impl Default for ReportWindows {
    fn default() -> Self {
        let per_family = Family::ALL
            .into_iter()
            .map(|f| {
                let window = if f.is_verifiable() {
                    DEFAULT_VERIFIABLE_WINDOW
                } else {
                    DEFAULT_TOKEN_WINDOW
                };
                (f, window)
            })
            .collect();
        Self {
            per_family,
            per_dialect: BTreeMap::new(),
        }
    }
}

impl ReportWindows {
    pub fn set_family(&mut self, family: Family, window: Duration) {
        self.per_family.insert(family, window);
    }

    /// Overrides the window for one dialect: for one family, or for all when `family` is none.
    pub fn set_dialect(&mut self, dialect: &str, family: Option<Family>, window: Duration) {
        let entry = self.per_dialect.entry(dialect.to_owned()).or_default();
        match family {
            Some(f) => {
                entry.per_family.insert(f, window);
            }
            None => entry.all_families = Some(window),
        }
    }

    /// The longest window any dialect allows for `family`: after it no report can come.
    pub fn longest(&self, family: Family) -> Duration {
        self.per_dialect
            .keys()
            .map(|d| self.window(d, family))
            .fold(self.window("", family), Duration::max)
    }

    /// The window in force: dialect and family, then dialect, then family.
    pub fn window(&self, dialect: &str, family: Family) -> Duration {
        let by_dialect = self
            .per_dialect
            .get(dialect)
            .and_then(|d| d.per_family.get(&family).copied().or(d.all_families));
        by_dialect
            .or_else(|| self.per_family.get(&family).copied())
            .unwrap_or(DEFAULT_TOKEN_WINDOW)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutVerdict {
    /// Uphold the report: the platform did not re-check in time, the client is not to blame.
    Accept,
    Reject,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecheckPolicy {
    /// Off: verifiable families go through the statistical screen like tokens.
    pub enabled: bool,
    /// Share of reports from accounts in good standing re-checked at random (audit sampling).
    pub sample_rate: f64,
    /// Accounts whose re-checked reports were upheld less often than this are always re-checked.
    pub min_precision: f64,
    pub timeout: Duration,
    pub on_timeout: TimeoutVerdict,
    /// Re-checks settled in the last 24 h before an account can be judged by them.
    pub min_verified: f64,
    /// Reports with a correction are always re-checked.
    pub verify_corrections: bool,
    /// How long an account whose reports are probably mostly false (precision < 50 % with 95 %
    /// probability) is ignored.
    pub ignore_for: Duration,
}

impl Default for RecheckPolicy {
    /// Off by default: re-checks need the platform to run a second solve for each one it is
    /// handed (`GET /v1/rechecks/next`). Until it does, image and audio reports are screened.
    fn default() -> Self {
        Self {
            enabled: false,
            sample_rate: 0.2,
            min_precision: 0.8,
            timeout: Duration::from_secs(3600),
            on_timeout: TimeoutVerdict::Accept,
            min_verified: 20.0,
            verify_corrections: true,
            ignore_for: Duration::from_secs(24 * 3600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_minute_for_tokens_and_a_day_for_images() {
        let w = ReportWindows::default();
        assert_eq!(
            w.window("anticaptcha", Family::Recaptcha),
            Duration::from_secs(60)
        );
        assert_eq!(
            w.window("anticaptcha", Family::Image),
            Duration::from_secs(86_400)
        );
        assert_eq!(w.window("native", Family::Other), Duration::from_secs(60));
    }

    #[test]
    fn the_most_specific_override_wins() {
        let mut w = ReportWindows::default();
        w.set_family(Family::Hcaptcha, Duration::from_secs(120));
        w.set_dialect("twocaptcha", None, Duration::from_secs(900));
        w.set_dialect("twocaptcha", Some(Family::Image), Duration::from_secs(1800));
        assert_eq!(
            w.window("native", Family::Hcaptcha),
            Duration::from_secs(120)
        );
        assert_eq!(
            w.window("twocaptcha", Family::Hcaptcha),
            Duration::from_secs(900)
        );
        assert_eq!(
            w.window("twocaptcha", Family::Image),
            Duration::from_secs(1800)
        );
    }
}
