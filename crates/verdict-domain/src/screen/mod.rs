//! The statistical screen for incorrect-reports on captchas that cannot be re-checked (SPEC §5
//! rule 6; research/domain.md §3.3), plus verdict's own-baseline and drift lanes. Four lanes may
//! put an account on `ignored` standing, and two caps limit refunds without judging anyone:
//!
//! - **fast lane**: the last 6 h (for accounts below the minimum volume, the last 72 h) against
//!   the trusted cohort, from 20 tasks, at p < 1e-9 —
//!   always-report scripts and sybils within their first tasks;
//! - **slow lane**: the last 72 h against the cohort, once the account had the minimum volume
//!   (100 tasks of the family in 24 h, or as many in the 72 h), at p < 1e-6 (domain.md proposes 1e-4; that flags honest
//!   accounts in the long tail of site failures, which the simulation has);
//! - **baseline lane**: the last 72 h against the account's *own* history relative to the
//!   cohort, at p < 1e-6 — catches accounts that start inflating their reports by an amount the
//!   cohort comparison cannot see, because honest accounts differ that much from each other;
//! - **drift lane**: a cumulative sum (Page's CUSUM, domain.md §3.3's add-on) of the evidence
//!   that the account now reports 1.5× what its own history predicts, hour after hour for as
//!   long as the rise lasts — catches the few-percent inflation that no 72 h window shows
//!   clearly, and knows when the rise began;
//! - **refund cap**: refunds in 72 h stay within the cohort's 99th-percentile rate, and, for an
//!   account with a baseline, within its own 99 % predictive bound;
//! - **probation**: below the minimum volume, refunds stay within the cohort's cap alone.
//!
//! The cohort tests use the empirical-Bayes beta-binomial: report rates of trusted accounts
//! follow `Beta(a, b)` (fitted by [`fit_prior`]), so an account's count is `BetaBinomial(n, a, b)`
//! under "like the cohort", which models honest accounts' real spread instead of assuming one
//! rate for all. The baseline lane uses a Gamma posterior for the account's rate relative to
//! the cohort, so its predictive count is negative-binomial.

use std::time::Duration;

use crate::stats::{
    beta_cdf, beta_quantile, betabinom_quantile, betabinom_upper_tail, negbin_quantile,
    negbin_upper_tail,
};
use crate::timestamp::{HOUR_MS, Timestamp, hour_of};

mod activity;
mod baseline;
mod cohort;
mod findings;

use activity::binomial_llr;
pub use activity::{Activity, Counts, RISE_START_SLACK};
pub use baseline::{Baseline, Drift, FoldRow, advance_baseline, fold_hour, ignored_since};
pub use cohort::{
    Cohort, CohortBasis, CohortPrior, CohortRecord, estimate_prior, fit_prior, needs_standing,
    pooled, refit_due,
};
pub use findings::{
    BaselineLane, Caps, DriftLane, DriftRise, FastLane, Findings, PriorShown, TailTest,
};

/// The screen's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScreenPolicy {
    /// Tasks of the family in 24 h before an account is judged by its rate (anti-captcha: 100).
    pub min_volume: u64,
    pub slow_window_hours: i64,
    pub slow_p: f64,
    pub fast_window_hours: i64,
    pub fast_min_tasks: u64,
    pub fast_p: f64,
    pub baseline_p: f64,
    /// Expected reports a baseline must hold before it is used.
    pub baseline_min_expected: f64,
    /// Half-life of the baseline.
    pub baseline_half_life: Duration,
    /// Whether the drift lane may flag accounts (its sum is kept either way). Off by default: at
    /// full population in the simulation it wrongly ignored honest accounts whose early
    /// histories undersold them, for 0.11 point less leakage than clawback alone at CI size.
    pub drift_lane: bool,
    /// The rise the drift lane looks for: this many times the rate the history vouches for.
    pub drift_ratio: f64,
    /// The drift lane's sum that flags an account (nats). Page's sum crosses `h` by chance
    /// about once in `e^h` restarts of an account whose rate has not risen.
    pub drift_threshold: f64,
    /// Quantile of the account's own relative rate the drift lane takes as its history.
    pub drift_history_quantile: f64,
    /// Expected reports a history must hold before the drift lane measures against it.
    pub drift_min_expected: f64,
    /// Quantile of the cohort (and of an account's own prediction) that caps refunds.
    pub cap_quantile: f64,
    /// Trusted accounts with the minimum volume needed to fit a prior.
    pub min_cohort: usize,
    /// With fewer, how much honest accounts' rates are taken to differ: the concentration
    /// `a + b` of the pooled prior (60 at an 11 % rate: a standard deviation of 4.0 points).
    /// It also sets the highest rate the slow lane lets pass however long the account reports:
    /// at 40 that was 45 % against an 11 % cohort (four times its rate), at 60 it is 38 %
    /// (docs/simulation.md, "Worlds").
    pub pooled_concentration: f64,
    /// Tasks a pooled rate needs (trusted ones, or failing those, of accounts in good standing).
    pub pooled_min_tasks: u64,
    /// Accounts in good standing with `fast_min_tasks` tasks a pooled median needs.
    pub pooled_min_accounts: usize,
    /// Tasks ingested since a family's last refit, as a share of those its prior rests on,
    /// that make the next ingest refit it rather than wait for the timer.
    pub refit_growth: f64,
    /// How long an account is ignored after the slow or baseline lane flags it (SPEC: 3 days).
    pub ignore_for: Duration,
    /// How long after a fast-lane flag (a broken script or a burst; anti-captcha case 1).
    pub fast_ignore_for: Duration,
    /// Ignore periods double for each earlier one within this period, up to 4×.
    pub repeat_period: Duration,
}

impl Default for ScreenPolicy {
    fn default() -> Self {
        Self {
            min_volume: 100,
            slow_window_hours: 72,
            slow_p: 1e-6,
            fast_window_hours: 6,
            // 12 catches scripts a few tasks sooner, but in the simulation it also flags honest
            // accounts a few hours into their own outages, which costs them more genuine
            // refunds afterwards (docs/simulation.md, step 6).
            fast_min_tasks: 20,
            fast_p: 1e-9,
            baseline_p: 1e-6,
            baseline_min_expected: 30.0,
            baseline_half_life: Duration::from_secs(7 * 24 * 3600),
            drift_lane: false,
            drift_ratio: 1.5,
            drift_threshold: 12.0,
            drift_history_quantile: 0.9,
            // At 30, young histories undersold honest accounts' rates in the simulation, and
            // the lane flagged them in their first days.
            drift_min_expected: 100.0,
            cap_quantile: 0.99,
            min_cohort: 30,
            pooled_concentration: 60.0,
            pooled_min_tasks: 200,
            pooled_min_accounts: 3,
            refit_growth: 0.25,
            ignore_for: Duration::from_secs(72 * 3600),
            fast_ignore_for: Duration::from_secs(12 * 3600),
            repeat_period: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// What the screen knows about the account in the report's family.
#[derive(Debug, Clone, Copy)]
pub struct ScreenInput<'a> {
    /// Hourly counts so far; the report being judged is not among them.
    pub activity: &'a Activity,
    pub baseline: Baseline,
    pub prior: &'a CohortPrior,
    /// The cohort's pooled report rate over the slow window (for the baseline lane's expectation).
    pub cohort_rate: f64,
    /// Earlier ignore periods within `repeat_period`.
    pub recent_ignores: u32,
    /// Activity before this moment (the end of the last ignored period) is not counted.
    pub judged_from: Option<Timestamp>,
}

/// Which lane flagged an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Fast,
    Slow,
    Baseline,
    Drift,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Fast => "fast",
            Lane::Slow => "slow",
            Lane::Baseline => "baseline",
            Lane::Drift => "drift",
        }
    }
}

/// The screen's decision on one incorrect-report.
#[derive(Debug, Clone, PartialEq)]
pub enum Screened {
    Uphold(Findings),
    /// Refused by a cap; the account is not judged.
    Capped {
        probation: bool,
        findings: Findings,
    },
    /// The account's reports are to be ignored for `period`.
    Flagged {
        lane: Lane,
        period: Duration,
        findings: Findings,
        /// Since when the account's refunds look unowed: where the rise began within the window
        /// the lane judged ([`Activity::rise_start`]), or for the drift lane where its sum began.
        abnormal_since: Timestamp,
    },
}

pub fn screen(input: ScreenInput<'_>, policy: &ScreenPolicy, now: Timestamp) -> Screened {
    let prior = input.prior;
    let from = input.judged_from;
    let slow = input
        .activity
        .window_from(now, policy.slow_window_hours, from);
    let fast = input
        .activity
        .window_from(now, policy.fast_window_hours, from);
    let day = input.activity.window_from(now, 24, from);
    // The report being judged counts, and a window cannot hold more reports than tasks.
    let x_slow = (slow.incorrect + 1).min(slow.tasks.max(1));
    let x_fast = (fast.incorrect + 1).min(fast.tasks.max(1));
    let n_slow = slow.tasks.max(1);
    let mut findings = Findings {
        window_hours: policy.slow_window_hours,
        tasks: slow.tasks,
        incorrect: slow.incorrect + 1,
        refunds: slow.refunds,
        tasks_24h: day.tasks,
        account_rate: round(x_slow as f64 / n_slow as f64),
        cohort_rate: round(prior.mean()),
        cohort_prior: PriorShown {
            a: round(prior.a),
            b: round(prior.b),
            accounts: prior.accounts,
        },
        counted_from: from.filter(|f| hour_of(*f) >= hour_of(now) - policy.slow_window_hours),
        fast_lane: None,
        slow_lane: None,
        baseline_lane: None,
        drift_lane: None,
        caps: None,
    };

    let doubling = 1u32 << input.recent_ignores.min(2);
    let judged = day.tasks >= policy.min_volume;
    // The fast lane looks at the last hours and, for accounts below the minimum volume (which
    // the slow lane does not judge), at the whole slow window: an always-report script at 20
    // tasks a day is as certain as one at 2,000, only slower to show it.
    let fast_lane = [
        (policy.fast_window_hours, fast.tasks, x_fast, true),
        (policy.slow_window_hours, slow.tasks, x_slow, !judged),
    ]
    .into_iter()
    .filter(|&(_, n, _, applies)| applies && n >= policy.fast_min_tasks)
    .map(|(hours, n, x, _)| (hours, n, x))
    .map(|(hours, n, x)| (hours, n, x, betabinom_upper_tail(x, n, prior.a, prior.b)))
    .min_by(|l, r| l.3.total_cmp(&r.3));
    if let Some((hours, n, x, p)) = fast_lane {
        findings.fast_lane = Some(FastLane {
            window_hours: hours,
            tasks: n,
            incorrect: x,
            p_value: p,
            threshold: policy.fast_p,
        });
        if p < policy.fast_p {
            return Screened::Flagged {
                lane: Lane::Fast,
                period: policy.fast_ignore_for * doubling,
                findings,
                abnormal_since: input.activity.rise_start(now, hours, from, prior.mean()),
            };
        }
    }

    // Below the minimum daily volume an account is on probation, but not beyond the test: once
    // its slow window holds the minimum volume, a rate several times the cohort's is as certain
    // at 84 tasks a day as at 1,000, and an account that stays under 100 a day must not be
    // able to report at any rate for ever (the simulation had a report-40 % account at 84 a
    // day that no lane ever judged). The 24 h lie inside the 72 h, so this includes `judged`.
    if slow.tasks >= policy.min_volume {
        let p = betabinom_upper_tail(x_slow, n_slow, prior.a, prior.b);
        findings.slow_lane = Some(TailTest {
            p_value: p,
            threshold: policy.slow_p,
        });
        if p < policy.slow_p {
            return Screened::Flagged {
                lane: Lane::Slow,
                period: policy.ignore_for * doubling,
                findings,
                abnormal_since: input.activity.rise_start(
                    now,
                    policy.slow_window_hours,
                    from,
                    prior.mean(),
                ),
            };
        }
    }

    let mut personal_cap = None;
    if judged && input.baseline.expected >= policy.baseline_min_expected {
        // Rate relative to the cohort ~ Gamma(2 + reports, 2 + expected): a weak prior at 1.
        let shape = 2.0 + input.baseline.reports;
        let rate = 2.0 + input.baseline.expected;
        let exposure = n_slow as f64 * input.cohort_rate.max(1e-6);
        let p_success = rate / (rate + exposure);
        let p = negbin_upper_tail(x_slow, shape, p_success);
        let cap = negbin_quantile(policy.cap_quantile, shape, p_success);
        findings.baseline_lane = Some(BaselineLane {
            own_relative_rate: round(shape / rate),
            expected_incorrect: round(exposure * shape / rate),
            p_value: p,
            threshold: policy.baseline_p,
            refund_cap: cap,
        });
        if p < policy.baseline_p {
            return Screened::Flagged {
                lane: Lane::Baseline,
                period: policy.ignore_for * doubling,
                findings,
                abnormal_since: input.activity.rise_start(
                    now,
                    policy.slow_window_hours,
                    from,
                    shape / rate * input.cohort_rate,
                ),
            };
        }
        personal_cap = Some(cap);
    }

    // Below the minimum volume too: the lane's own minimum is a history of
    // `drift_min_expected` reports' worth of tasks, and its evidence builds over days.
    if let Some((drift, history_rate)) = policy
        .drift_lane
        .then(|| drift_now(&input, policy, now))
        .flatten()
    {
        let since = Timestamp::from_millis(drift.since_hour * HOUR_MS);
        findings.drift_lane = Some(DriftLane {
            llr: round(drift.llr),
            threshold: policy.drift_threshold,
            ratio: policy.drift_ratio,
            history_rate: round(history_rate),
            rise: (drift.llr > 0.0).then(|| DriftRise {
                since,
                tasks: drift.tasks,
                incorrect: drift.reports,
                expected_incorrect: round(drift.expected),
            }),
        });
        if drift.llr >= policy.drift_threshold {
            return Screened::Flagged {
                lane: Lane::Drift,
                period: policy.ignore_for * doubling,
                findings,
                abnormal_since: since,
            };
        }
    }

    // What a trusted account with this many tasks stays within 99 % of the time: the cohort's
    // spread and chance together (for large windows this is the 99th-percentile rate times the
    // tasks; for small ones it allows the noise a handful of tasks has).
    let cohort_cap = betabinom_quantile(policy.cap_quantile, n_slow, prior.a, prior.b);
    let (cap, probation) = if judged {
        (
            personal_cap.map_or(cohort_cap, |c| c.min(cohort_cap)),
            false,
        )
    } else {
        // Too little data to judge the account: only the cohort's cap, and the first report of
        // a small account is always honoured.
        (cohort_cap.max(1), true)
    };
    findings.caps = Some(Caps {
        refund_cap: cap,
        probation,
        trust_weight: round(trust_weight(x_slow, n_slow, prior, policy, probation)),
    });
    if slow.refunds >= cap {
        return Screened::Capped {
            probation,
            findings,
        };
    }
    Screened::Uphold(findings)
}

/// The drift lane's sum as of now, with the history's rate: the sum folded through hours that
/// left the slow window, continued over the window's hours and the report being judged. After
/// a served ignore period inside the window, the sum starts again from that period's end.
fn drift_now(
    input: &ScreenInput<'_>,
    policy: &ScreenPolicy,
    now: Timestamp,
) -> Option<(Drift, f64)> {
    let p0 = input.baseline.vouched_rate(input.cohort_rate, policy)?;
    let last = hour_of(now);
    let mut first = last - policy.slow_window_hours + 1;
    let mut drift = input.baseline.drift;
    if let Some(from) = input.judged_from.map(hour_of).filter(|h| *h >= first) {
        first = from + 1;
        drift = Drift::default();
    }
    let mut hours: Vec<(i64, Counts)> = input
        .activity
        .hours
        .iter()
        .filter(|(h, _)| (first..=last).contains(h))
        .copied()
        .collect();
    hours.sort_unstable_by_key(|(h, _)| *h);
    match hours.last_mut() {
        Some((h, counts)) if *h == last => counts.incorrect += 1,
        _ => hours.push((
            last,
            Counts {
                incorrect: 1,
                ..Counts::default()
            },
        )),
    }
    for (hour, counts) in hours {
        drift = drift.step(hour, counts.tasks, counts.incorrect, p0, policy);
    }
    Some((drift, p0))
}

/// How much an unflagged account's reports count as evidence about solvers (domain.md §3.3):
/// the probability that its report rate lies inside the trusted cohort's normal band (below the
/// cohort's 99th-percentile rate), halved on probation, where there is too little data to tell.
pub fn trust_weight(
    incorrect: u64,
    tasks: u64,
    prior: &CohortPrior,
    policy: &ScreenPolicy,
    probation: bool,
) -> f64 {
    let band = beta_quantile(policy.cap_quantile, prior.a, prior.b);
    let x = incorrect.min(tasks) as f64;
    let inside = beta_cdf(band, prior.a + x, prior.b + tasks as f64 - x);
    let inside = if inside.is_finite() {
        inside.clamp(0.0, 1.0)
    } else {
        0.0
    };
    if probation { 0.5 * inside } else { inside }
}

/// Four significant digits: evidence is for people.
pub(crate) fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 4 - v.abs().log10().ceil() as i32;
    let factor = 10f64.powi(digits);
    let rounded = (v * factor).round() / factor;
    // At the ends of the range the factor overflows: below about 1e-304, `inf / inf` would make
    // the value NaN, which a database stores as NULL (a trust weight of 1e-310 did exactly that).
    if rounded.is_finite() { rounded } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_795_255_200_000);

    fn activity(rows: &[(i64, u64, u64, u64)]) -> Activity {
        let now = hour_of(NOW);
        Activity {
            hours: rows
                .iter()
                .map(|&(ago, tasks, incorrect, refunds)| {
                    (
                        now - ago,
                        Counts {
                            tasks,
                            incorrect,
                            refunds,
                            ..Counts::default()
                        },
                    )
                })
                .collect(),
        }
    }

    fn prior() -> CohortPrior {
        CohortPrior::new(10.0, 90.0, 0.99, 40)
    }

    fn run(a: &Activity, baseline: Baseline) -> Screened {
        let p = prior();
        let policy = ScreenPolicy {
            drift_lane: true,
            ..ScreenPolicy::default()
        };
        screen(
            ScreenInput {
                activity: a,
                baseline,
                prior: &p,
                cohort_rate: 0.1,
                recent_ignores: 0,
                judged_from: None,
            },
            &policy,
            NOW,
        )
    }

    #[test]
    fn no_data_is_probation_and_the_first_report_is_honoured() {
        let empty = Activity::default();
        match run(&empty, Baseline::default()) {
            Screened::Uphold(e) => assert_eq!(e.to_value().get("probation"), Some(&true.into())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn probation_caps_refunds_at_the_cohorts_predictive_quantile() {
        // 50 tasks in 24 h (below 100): 99 % of trusted accounts stay within 12 reports
        // (BetaBinomial(50, 10, 90)), so 12 refunds already is the cap.
        let a = activity(&[(1, 50, 12, 12)]);
        assert!(matches!(
            run(&a, Baseline::default()),
            Screened::Capped {
                probation: true,
                ..
            }
        ));
        let a = activity(&[(1, 50, 11, 11)]);
        assert!(matches!(run(&a, Baseline::default()), Screened::Uphold(_)));
    }

    #[test]
    fn a_small_always_report_script_is_flagged_over_the_slow_window() {
        // 24 tasks over three days, every one reported: too few for the 6 h window, certain
        // over 72 h.
        let rows: Vec<(i64, u64, u64, u64)> = (0..24).map(|h| (h * 3, 1, 1, 0)).collect();
        let mut a = activity(&rows);
        a.hours[0].1.incorrect = 0; // the report being judged is the 24th
        match run(&a, Baseline::default()) {
            Screened::Flagged {
                lane: Lane::Fast,
                findings: evidence,
                ..
            } => assert_eq!(
                evidence.to_value().get("fast_lane").unwrap()["window_hours"],
                72
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rounding_keeps_every_finite_value_finite() {
        assert_eq!(round(0.123456), 0.1235);
        assert_eq!(round(-1234.56), -1235.0);
        for v in [
            1e-300,
            1e-305,
            1e-310,
            f64::MIN_POSITIVE,
            5e-324,
            1e300,
            f64::MAX,
        ] {
            let r = round(v);
            assert!(r.is_finite() && r > 0.0, "{v:e} rounded to {r}");
        }
    }

    #[test]
    fn an_account_below_the_daily_volume_is_judged_once_its_window_holds_that_volume() {
        // 84 tasks a day, never 100 in 24 h: on probation, yet 3.6 times the cohort's rate over
        // 252 tasks is flagged by the slow lane; at the cohort's rate it is not.
        let day = |ago: i64, incorrect: u64| (ago, 84, incorrect, 0);
        let a = activity(&[day(50, 30), day(26, 30), day(2, 30)]);
        match run(&a, Baseline::default()) {
            Screened::Flagged {
                lane: Lane::Slow,
                findings,
                ..
            } => assert_eq!(findings.tasks_24h, 84),
            other => panic!("{other:?}"),
        }
        let a = activity(&[day(50, 8), day(26, 9), day(2, 8)]);
        match run(&a, Baseline::default()) {
            Screened::Uphold(e) => {
                assert_eq!(e.to_value().get("probation"), Some(&true.into()));
                assert!(e.to_value().get("slow_lane").is_some());
            }
            other => panic!("{other:?}"),
        }
        // Fewer than the minimum volume in the whole window: the fast lane's alone.
        let a = activity(&[day(50, 35)]);
        assert!(matches!(
            run(&a, Baseline::default()),
            Screened::Uphold(e) if e.slow_lane.is_none()
        ));
    }

    #[test]
    fn minimum_volume_is_exactly_the_threshold() {
        // 99 tasks in 24 h: probation. 100: judged by the slow lane and the cohort cap.
        let a = activity(&[(2, 99, 9, 0)]);
        match run(&a, Baseline::default()) {
            Screened::Uphold(e) => assert_eq!(e.to_value().get("probation"), Some(&true.into())),
            other => panic!("{other:?}"),
        }
        let a = activity(&[(2, 100, 9, 0)]);
        match run(&a, Baseline::default()) {
            Screened::Uphold(e) => {
                assert_eq!(e.to_value().get("probation"), Some(&false.into()));
                assert!(e.to_value().get("slow_lane").is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_always_report_script_is_flagged_by_the_fast_lane_within_its_first_tasks() {
        // 20 tasks in the last hours, every one reported (this is the 20th).
        let a = activity(&[(0, 20, 19, 2)]);
        match run(&a, Baseline::default()) {
            Screened::Flagged {
                lane: Lane::Fast,
                period,
                abnormal_since,
                ..
            } => {
                assert_eq!(period, Duration::from_secs(12 * 3600));
                // Only the refunds of the burst itself are in question: it began this hour.
                assert_eq!(abnormal_since, NOW);
            }
            other => panic!("{other:?}"),
        }
    }

    fn hours_ago(hours: i64) -> Timestamp {
        Timestamp::from_millis(NOW.as_millis() - hours * HOUR_MS)
    }

    #[test]
    fn an_honest_clients_outage_is_clawed_back_from_where_it_began_not_the_whole_window() {
        // Three ordinary hours at the cohort's 10 %, then the client's integration breaks and
        // it reports every task (the report being judged is the 30th of the burst).
        let a = activity(&[
            (5, 10, 1, 1),
            (4, 10, 1, 1),
            (3, 10, 1, 1),
            (2, 10, 10, 3),
            (1, 10, 10, 0),
            (0, 10, 9, 0),
        ]);
        match run(&a, Baseline::default()) {
            Screened::Flagged {
                lane: Lane::Fast,
                abnormal_since,
                ..
            } => assert_eq!(abnormal_since, hours_ago(2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rise_starts_at_its_first_hour_even_with_a_quiet_hour_inside() {
        let burst = activity(&[
            (6, 10, 1, 0),
            (5, 10, 0, 0),
            (4, 8, 8, 0),
            (3, 8, 8, 0),
            (2, 2, 0, 0),
            (1, 8, 8, 0),
            (0, 8, 7, 0),
        ]);
        assert_eq!(burst.rise_start(NOW, 72, None, 0.1), hours_ago(4));
        // A steady excess (an account reporting 40 % since it began) rose where its tasks
        // began; so does an account at the usual rate, which has no later start to prefer.
        let steady: Vec<(i64, u64, u64, u64)> = (0..60).map(|h| (h, 10, 4, 0)).collect();
        assert_eq!(
            activity(&steady).rise_start(NOW, 72, None, 0.1),
            hours_ago(59)
        );
        let usual: Vec<(i64, u64, u64, u64)> = (0..60).map(|h| (h, 10, 1, 0)).collect();
        assert_eq!(
            activity(&usual).rise_start(NOW, 72, None, 0.1),
            hours_ago(59)
        );
        // A rise as old as the window is the whole window, but never before the end of an
        // ignored period.
        assert_eq!(
            activity(&steady).rise_start(NOW, 6, None, 0.1),
            hours_ago(6)
        );
        assert_eq!(
            activity(&steady).rise_start(NOW, 72, Some(hours_ago(10)), 0.1),
            hours_ago(10)
        );
    }

    #[test]
    fn an_account_that_served_its_period_is_judged_on_what_it_did_since() {
        // Its own integration broke for 12 h a day ago (every task reported), then it was
        // ignored until 17 h ago; since then it reports at the cohort's rate.
        let rows: Vec<(i64, u64, u64, u64)> = (0..72)
            .map(|h| match h {
                18..=29 => (h, 30, 30, 0),
                0..=16 => (h, 10, u64::from(h % 10 == 0), 0),
                _ => (h, 10, 1, 0),
            })
            .collect();
        let a = activity(&rows);
        assert!(
            matches!(run(&a, Baseline::default()), Screened::Flagged { .. }),
            "counting the burst"
        );
        let p = prior();
        let ended = Timestamp::from_millis(NOW.as_millis() - 17 * HOUR_MS + 60_000);
        match screen(
            ScreenInput {
                activity: &a,
                baseline: Baseline::default(),
                prior: &p,
                cohort_rate: 0.1,
                recent_ignores: 1,
                judged_from: Some(ended),
            },
            &ScreenPolicy::default(),
            NOW,
        ) {
            Screened::Uphold(e) => {
                // The 17 whole hours since the one the period ended in: 170 tasks.
                assert_eq!(e.to_value().get("tasks"), Some(&170.into()));
                assert_eq!(
                    e.to_value().get("counted_from"),
                    Some(&ended.to_rfc3339().into())
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rate_far_above_the_cohort_is_flagged_by_the_slow_lane() {
        // 360 tasks over three days, 144 reports (40 %) spread thinly: the fast lane sees little.
        let rows: Vec<(i64, u64, u64, u64)> = (0..72)
            .map(|h| (h, 5, if h % 3 == 0 { 0 } else { 3 }, 0))
            .collect();
        let a = activity(&rows);
        match run(&a, Baseline::default()) {
            Screened::Flagged {
                lane: Lane::Slow,
                period,
                findings: evidence,
                ..
            } => {
                assert_eq!(period, Duration::from_secs(72 * 3600));
                assert!(evidence.to_value().get("slow_lane").is_some());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_honest_rate_near_the_cohort_is_upheld_and_explained() {
        let rows: Vec<(i64, u64, u64, u64)> = (0..72)
            .map(|h| (h, 5, if h % 3 == 0 { 1 } else { 0 }, 0))
            .collect();
        let a = activity(&rows);
        match run(&a, Baseline::default()) {
            Screened::Uphold(e) => {
                for key in [
                    "tasks",
                    "incorrect",
                    "account_rate",
                    "cohort_rate",
                    "cohort_prior",
                    "slow_lane",
                    "refund_cap",
                ] {
                    assert!(e.to_value().get(key).is_some(), "evidence lacks {key}");
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_refund_cap_stops_refunds_above_the_cohorts_99th_percentile() {
        // 360 tasks: 99 % of trusted accounts stay within 69 reports (BetaBinomial(360, 10, 90)).
        let rows: Vec<(i64, u64, u64, u64)> = (0..72).map(|h| (h, 5, 0, 0)).collect();
        let mut a = activity(&rows);
        a.hours.push((
            hour_of(NOW) - 1,
            Counts {
                refunds: 69,
                ..Counts::default()
            },
        ));
        // Reports are few in this window (refunds recorded elsewhere): the slow lane passes.
        assert!(matches!(
            run(&a, Baseline::default()),
            Screened::Capped {
                probation: false,
                ..
            }
        ));
    }

    #[test]
    fn an_account_inflating_its_own_rate_is_caught_by_its_baseline() {
        // History: reported at 0.6x the cohort. Now: 16 % on 360 tasks (58 reports) — within
        // the honest spread of the cohort (p ~ 0.04 there), but far above its own history.
        let rows: Vec<(i64, u64, u64, u64)> = (0..72)
            .map(|h| (h, 5, if h < 58 { 1 } else { 0 }, 0))
            .collect();
        let a = activity(&rows);
        assert!(
            matches!(run(&a, Baseline::default()), Screened::Uphold(_)),
            "the cohort alone lets it pass"
        );
        let history = Baseline {
            reports: 300.0,
            expected: 500.0,
            ..Baseline::default()
        };
        match run(&a, history) {
            Screened::Flagged {
                lane: Lane::Baseline,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_steady_account_gets_its_own_cap_too() {
        let rows: Vec<(i64, u64, u64, u64)> = (0..72)
            .map(|h| (h, 5, if h % 10 == 0 { 1 } else { 0 }, 1))
            .collect();
        let a = activity(&rows);
        let history = Baseline {
            reports: 300.0,
            expected: 500.0,
            ..Baseline::default()
        };
        match run(&a, history) {
            Screened::Capped {
                probation: false,
                findings: evidence,
            }
            | Screened::Uphold(evidence) => {
                let own = evidence
                    .to_value()
                    .get("baseline_lane")
                    .and_then(|b| b["refund_cap"].as_u64())
                    .unwrap();
                assert_eq!(
                    evidence
                        .to_value()
                        .get("refund_cap")
                        .and_then(|c| c.as_u64()),
                    Some(own)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_ignores_double_up_to_four_times() {
        let a = activity(&[(0, 20, 19, 2)]);
        let p = prior();
        for (earlier, hours) in [(1, 24), (2, 48), (5, 48)] {
            let input = ScreenInput {
                activity: &a,
                baseline: Baseline::default(),
                prior: &p,
                cohort_rate: 0.1,
                recent_ignores: earlier,
                judged_from: None,
            };
            match screen(input, &ScreenPolicy::default(), NOW) {
                Screened::Flagged { period, .. } => {
                    assert_eq!(period, Duration::from_secs(hours * 3600))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_prior_fit_follows_the_cohort_and_needs_enough_accounts() {
        let policy = ScreenPolicy::default();
        // 40 trusted accounts at 8 %..12 % on 1000 tasks each.
        let samples: Vec<(u64, u64)> = (0..40).map(|i| (1000, 80 + (i % 5) * 10)).collect();
        let prior = fit_prior(&samples, &policy).expect("enough accounts");
        assert!((prior.mean() - 0.10).abs() < 0.005, "{}", prior.mean());
        assert!(
            prior.cap_rate > 0.11 && prior.cap_rate < 0.2,
            "{}",
            prior.cap_rate
        );
        assert_eq!(prior.accounts, 40);
        assert_eq!(
            fit_prior(&samples[..29], &policy),
            None,
            "29 accounts are too few"
        );
        let low_volume: Vec<(u64, u64)> = (0..40).map(|_| (99, 10)).collect();
        assert_eq!(
            fit_prior(&low_volume, &policy),
            None,
            "accounts below the minimum volume do not count"
        );
    }

    #[test]
    fn a_few_abusers_inside_the_cohort_barely_move_the_prior() {
        // Winsorising at the 5th/95th percentiles absorbs up to ~5 % contamination; beyond
        // that the prior follows the abusers, so the cohort must be kept mostly clean.
        let policy = ScreenPolicy::default();
        let mut samples: Vec<(u64, u64)> = (0..48).map(|i| (1000, 80 + (i % 5) * 10)).collect();
        let clean = fit_prior(&samples, &policy).unwrap();
        samples.extend([(1000, 950), (1000, 1000)]);
        let dirty = fit_prior(&samples, &policy).unwrap();
        assert!(
            (dirty.mean() - clean.mean()).abs() < 0.01,
            "{} vs {}",
            dirty.mean(),
            clean.mean()
        );
    }

    #[test]
    fn a_baseline_decays_with_its_half_life() {
        let policy = ScreenPolicy::default();
        let b = Baseline {
            reports: 100.0,
            expected: 200.0,
            ..Baseline::default()
        };
        let hour = Counts {
            tasks: 10,
            incorrect: 1,
            ..Counts::default()
        };
        let week = 7.0 * 24.0;
        let next = advance_baseline(b, 0, &hour, 0.1, week, false, &policy);
        assert!((next.reports - 51.0).abs() < 1e-9);
        assert!((next.expected - 101.0).abs() < 1e-9);
    }

    /// A history of `hours` hours at `rate` relative to a cohort at 10 %, 20 tasks an hour,
    /// folded hour by hour, the drift lane's sum with it.
    fn folded(hours: i64, history_rate: f64, then: Option<(i64, f64)>) -> Baseline {
        let policy = ScreenPolicy::default();
        let start = hour_of(NOW) - 72 - hours;
        (0..hours).fold(Baseline::default(), |b, i| {
            let rate = match then {
                Some((from, r)) if i >= from => r,
                _ => history_rate,
            };
            // Whole reports, spread evenly: the hour's share of the rate, carried over.
            let due = |k: i64| (rate * 20.0 * k as f64).round() as u64;
            let counts = Counts {
                tasks: 20,
                incorrect: due(i + 1) - due(i),
                ..Counts::default()
            };
            advance_baseline(b, start + i, &counts, 0.1, 1.0, false, &policy)
        })
    }

    /// Ten days at 10 % folded, then two at 16 %; and a 72 h window at 16.7 %: the rise the
    /// drift lane tests are about.
    fn risen() -> Baseline {
        folded(12 * 24, 0.10, Some((10 * 24, 0.16)))
    }

    fn risen_window() -> Activity {
        let rows: Vec<(i64, u64, u64, u64)> = (0..72)
            .map(|h| (h, 20, if h % 3 == 0 { 4 } else { 3 }, 0))
            .collect();
        activity(&rows)
    }

    #[test]
    fn a_steady_history_keeps_the_drift_sum_near_zero() {
        // Two weeks at the rate the history itself sets: nothing accumulates.
        let b = folded(14 * 24, 0.10, None);
        assert!(b.expected > 200.0, "{b:?}");
        assert!(b.drift.llr < 2.0, "{:?}", b.drift);
        let a = activity(
            &(0..72)
                .map(|h| (h, 20, u64::from(h % 2 == 0), 0))
                .collect::<Vec<_>>(),
        );
        match run(&a, b) {
            Screened::Uphold(e) | Screened::Capped { findings: e, .. } => {
                let lane = e.to_value()["drift_lane"].clone();
                assert!(lane["llr"].as_f64().unwrap() < 12.0, "{lane}");
                assert_eq!(lane["threshold"], 12.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rise_of_half_again_is_flagged_by_the_drift_lane_with_when_it_began() {
        // Ten days at 10 %, then 16 %: each 72 h window alone is unremarkable for the baseline
        // lane, but the evidence keeps adding up.
        let b = risen();
        assert!(b.drift.llr > 0.0, "{:?}", b.drift);
        let since = b.drift.since_hour;
        assert!(
            (hour_of(NOW) - 72 - 2 * 24 - 6..=hour_of(NOW) - 72 - 2 * 24 + 6).contains(&since),
            "the run began with the rise, {} h before the window",
            hour_of(NOW) - 72 - since
        );
        let a = risen_window();
        match run(&a, b) {
            Screened::Flagged {
                lane: Lane::Drift,
                findings: evidence,
                abnormal_since,
                ..
            } => {
                let lane = evidence.to_value()["drift_lane"].clone();
                assert!(lane["llr"].as_f64().unwrap() >= 12.0);
                let baseline_p =
                    evidence.to_value().get("baseline_lane").unwrap()["p_value"].as_f64();
                assert!(
                    baseline_p.unwrap() > 1e-6,
                    "the 72 h window alone: {baseline_p:?}"
                );
                let began = Timestamp::from_millis(since * HOUR_MS);
                assert_eq!(lane["since"], began.to_rfc3339());
                assert_eq!(abnormal_since, began);
                let (x, e) = (
                    lane["incorrect"].as_f64().unwrap(),
                    lane["expected_incorrect"].as_f64().unwrap(),
                );
                assert!(x > 1.3 * e, "{x} reports where {e} were predicted");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_drift_lane_flags_no_one_unless_the_operator_turns_it_on() {
        let b = risen();
        let a = risen_window();
        let p = prior();
        let input = ScreenInput {
            activity: &a,
            baseline: b,
            prior: &p,
            cohort_rate: 0.1,
            recent_ignores: 0,
            judged_from: None,
        };
        assert!(matches!(
            run(&a, b),
            Screened::Flagged {
                lane: Lane::Drift,
                ..
            }
        ));
        match screen(input, &ScreenPolicy::default(), NOW) {
            Screened::Uphold(e) | Screened::Capped { findings: e, .. } => {
                assert!(e.to_value().get("drift_lane").is_none(), "{e:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_history_no_drift_lane() {
        let b = folded(40, 0.10, None);
        assert!(b.expected < ScreenPolicy::default().drift_min_expected);
        assert_eq!(b.drift, Drift::default());
        let a = activity(&(0..72).map(|h| (h, 20, 4, 0)).collect::<Vec<_>>());
        match run(&a, b) {
            Screened::Uphold(e) | Screened::Capped { findings: e, .. } => {
                assert!(e.to_value().get("drift_lane").is_none())
            }
            Screened::Flagged { lane, .. } => assert_ne!(lane, Lane::Drift),
        }
    }

    #[test]
    fn a_served_period_starts_the_drift_sum_again() {
        let b = risen();
        let a = risen_window();
        let p = prior();
        let ended = hours_ago(10);
        let input = ScreenInput {
            activity: &a,
            baseline: b,
            prior: &p,
            cohort_rate: 0.1,
            recent_ignores: 1,
            judged_from: Some(ended),
        };
        let policy = ScreenPolicy {
            drift_lane: true,
            ..ScreenPolicy::default()
        };
        match screen(input, &policy, NOW) {
            Screened::Uphold(e) | Screened::Capped { findings: e, .. } => {
                let lane = e.to_value()["drift_lane"].clone();
                assert!(lane["llr"].as_f64().unwrap() < 12.0, "{lane}");
            }
            other => panic!("{other:?}"),
        }
        // The fold begins again after the period too.
        let policy = ScreenPolicy::default();
        let hour = Counts {
            tasks: 20,
            incorrect: 2,
            ..Counts::default()
        };
        let restarted = advance_baseline(b, hour_of(NOW), &hour, 0.1, 1.0, true, &policy);
        assert!(restarted.drift.llr < b.drift.llr && restarted.drift.tasks <= 20);
    }

    #[test]
    fn an_ignored_period_restarts_the_sum_only_if_it_ended_after_the_last_fold() {
        let at = |h: i64| Some(Timestamp::from_millis(h * HOUR_MS + 1));
        assert!(ignored_since(Some(100), at(100)));
        assert!(ignored_since(Some(100), at(130)));
        assert!(!ignored_since(Some(100), at(99)));
        assert!(!ignored_since(None, at(130)));
        assert!(!ignored_since(Some(100), None));
    }
}
