//! The standing's reason when a lane flags an account: one sentence with the numbers behind
//! it, read from the screen's typed findings.

use crate::captcha::Family;
use crate::screen::{Findings, Lane, TailTest};

/// One sentence for the standing's reason, with the numbers behind it.
pub(super) fn explain_flag(lane: Lane, family: Family, found: &Findings) -> String {
    let (tasks, incorrect) = (found.tasks, found.incorrect);
    let hours = found.window_hours;
    let test = |t: Option<TailTest>| t.map_or((1.0, 0.0), |t| (t.p_value, t.threshold));
    match lane {
        Lane::Fast => {
            let fast = found.fast_lane;
            let (p, t) = fast.map_or((1.0, 0.0), |f| (f.p_value, f.threshold));
            let (n, x, h) = fast.map_or((0, 0, 0), |f| (f.tasks, f.incorrect, f.window_hours));
            format!(
                "{x} of {n} {family} tasks in {h} h reported incorrect, far above the trusted cohort's {:.1} % (p = {p:.1e} < {t:.0e})",
                100.0 * found.cohort_rate
            )
        }
        Lane::Slow => {
            let (p, t) = test(found.slow_lane);
            format!(
                "{incorrect} of {tasks} {family} tasks in {hours} h reported incorrect ({:.1} %), far above the trusted cohort's {:.1} % (p = {p:.1e} < {t:.0e})",
                100.0 * found.account_rate,
                100.0 * found.cohort_rate
            )
        }
        Lane::Baseline => {
            let lane = found.baseline_lane;
            let (p, t) = lane.map_or((1.0, 0.0), |b| (b.p_value, b.threshold));
            let expected = lane.map_or(0.0, |b| b.expected_incorrect);
            format!(
                "{incorrect} of {tasks} {family} tasks in {hours} h reported incorrect where the account's own history predicts {expected:.0} (p = {p:.1e} < {t:.0e})"
            )
        }
        Lane::Drift => {
            let lane = found.drift_lane;
            let rise = lane.and_then(|d| d.rise);
            format!(
                "since {} {} of {} {family} tasks reported incorrect where the account's own history predicts {:.0}; evidence of a rise to {}x: {:.1} nats >= {}",
                rise.map_or_else(|| "?".to_owned(), |r| r.since.to_rfc3339()),
                rise.map_or(0, |r| r.incorrect),
                rise.map_or(0, |r| r.tasks),
                rise.map_or(0.0, |r| r.expected_incorrect),
                shown(lane.map_or(0.0, |d| d.ratio)),
                lane.map_or(0.0, |d| d.llr),
                shown(lane.map_or(0.0, |d| d.threshold)),
            )
        }
    }
}

/// A number as the evidence shows it (`12.0`, not `12`), so that the reason reads like the
/// record beside it.
fn shown(v: f64) -> String {
    serde_json::Value::from(v).to_string()
}
