//! The tunable rules of judging. Defaults follow the services verdict imitates; every value can
//! be changed by configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::captcha::Family;
use crate::recheck::RecheckPolicy;
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
    /// got until it was caught (the simulation at CI size: 11 % of what abusers claim instead
    /// of 4.6 %).
    pub clawback: bool,
    /// Anti-captcha's rule: a client confirming a solution puts the worker who solved it on the
    /// client's whitelist (the router then names those workers for the client's tasks).
    pub whitelist_on_correct: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            windows: ReportWindows::default(),
            screen: ScreenPolicy::default(),
            rechecks: RecheckPolicy::default(),
            clawback: true,
            whitelist_on_correct: false,
        }
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
