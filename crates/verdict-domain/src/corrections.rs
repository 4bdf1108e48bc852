//! The corrections dataset (SPEC §1.4): which reports become training labels, what each row of
//! the dataset holds, and how far a consumer may trust a row's label. Storage selects the rows
//! ([`is_label`] is the rule its query spells); what a row says is decided here.
//!
//! A report's verdict and its label's confidence answer different questions. The verdict says
//! whether the client was refunded, and may rest on policy rather than on the text: a re-check
//! that timed out is accepted by default, a report from an ignored account is rejected whatever
//! it says. The confidence says only what independent solves found about the correction.

use crate::captcha::CaptchaType;
use crate::ids::TaskId;
use crate::report::{Reason, Report, Verdict, same_text};
use crate::timestamp::Timestamp;

/// Whether a report belongs in the dataset: every report that carries a correction, whatever
/// its verdict, so that a consumer can also learn from the corrections that were wrong.
/// Judging only takes corrections with incorrect-reports on image and audio tasks.
pub fn is_label(report: &Report) -> bool {
    report.correction.is_some()
}

/// One row of the dataset: a correction with the task it corrects and what was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub task: TaskId,
    pub captcha_type: CaptchaType,
    pub provider: String,
    pub worker: Option<String>,
    /// The answer the platform delivered (the one the client said was wrong).
    pub answer: Option<String>,
    pub completed_at: Timestamp,
    /// The text the client says is right.
    pub correction: String,
    /// The reporter's trust when the report was judged, in [0, 1] (`Report::trust_weight`).
    pub trust_weight: f64,
    pub verdict: Verdict,
    pub reason: Reason,
    /// Independent solves from re-checks, oldest first (at most `recheck::MAX_SOLVES`).
    pub solves: Vec<String>,
    /// When the report arrived.
    pub reported_at: Timestamp,
}

/// How far a row's correction can be trusted as the right text of its captcha, from the
/// independent solves alone (answers compared trimmed and case-folded, as re-checks compare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelConfidence {
    /// An independent solve gave the same text as the correction: two parties who did not see
    /// each other's answer agree.
    Corroborated,
    /// Independent solves speak against the correction: one gave the delivered answer (the
    /// client was wrong to report it), or two agreed with each other on a third text.
    Contradicted,
    /// Nothing independent checked the correction: no re-check (not sampled, re-checks off),
    /// one still pending or timed out, or solves that agree with nobody. Only the reporter's
    /// trust weight speaks for it.
    Unverified,
}

impl LabelConfidence {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelConfidence::Corroborated => "corroborated",
            LabelConfidence::Contradicted => "contradicted",
            LabelConfidence::Unverified => "unverified",
        }
    }
}

impl Correction {
    /// What the independent solves say about the correction (see [`LabelConfidence`]).
    pub fn label_confidence(&self) -> LabelConfidence {
        if self
            .solves
            .iter()
            .any(|solve| same_text(solve, &self.correction))
        {
            return LabelConfidence::Corroborated;
        }
        let confirms_answer = |solve: &String| {
            self.answer
                .as_deref()
                .is_some_and(|answer| same_text(solve, answer))
        };
        let solvers_agree = self
            .solves
            .iter()
            .enumerate()
            .any(|(i, a)| self.solves[i + 1..].iter().any(|b| same_text(a, b)));
        if self.solves.iter().any(confirms_answer) || solvers_agree {
            LabelConfidence::Contradicted
        } else {
            LabelConfidence::Unverified
        }
    }

    /// The first independent solve, where a re-check got one.
    pub fn second_solve(&self) -> Option<&str> {
        self.solves.first().map(String::as_str)
    }

    /// The solve that decided a re-check the second one could not.
    pub fn third_solve(&self) -> Option<&str> {
        self.solves.get(1).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountId;
    use crate::report::{Evidence, RecheckState, ReportKind};
    use rstest::rstest;

    fn row(answer: Option<&str>, correction: &str, solves: &[&str]) -> Correction {
        Correction {
            task: TaskId::parse("t1").unwrap(),
            captcha_type: CaptchaType::Image,
            provider: "p".into(),
            worker: Some("w".into()),
            answer: answer.map(Into::into),
            completed_at: Timestamp::from_millis(1_800_000_000_000),
            correction: correction.into(),
            trust_weight: 0.5,
            verdict: Verdict::Pending,
            reason: Reason::AwaitingRecheck,
            solves: solves.iter().map(|s| (*s).to_owned()).collect(),
            reported_at: Timestamp::from_millis(1_800_000_060_000),
        }
    }

    #[rstest]
    #[case::a_solve_agrees_with_the_correction(Some("KWG90"), "KWG9O", &["kwg9o "], LabelConfidence::Corroborated)]
    #[case::a_third_solve_agrees_with_the_correction(Some("KWG90"), "KWG9O", &["ZZZ", "KWG9O"], LabelConfidence::Corroborated)]
    #[case::a_solve_gives_the_delivered_answer(Some("KWG90"), "KWG9O", &["KWG90"], LabelConfidence::Contradicted)]
    #[case::a_third_solve_gives_the_delivered_answer(Some("KWG90"), "KWG9O", &["ZZZ", "kwg90"], LabelConfidence::Contradicted)]
    #[case::two_solvers_agree_on_another_text(Some("KWG90"), "KWG9O", &["ZZZ", "zzz"], LabelConfidence::Contradicted)]
    #[case::no_solve_at_all(Some("KWG90"), "KWG9O", &[], LabelConfidence::Unverified)]
    #[case::a_solve_that_agrees_with_nobody(Some("KWG90"), "KWG9O", &["ZZZ"], LabelConfidence::Unverified)]
    #[case::three_different_texts(Some("KWG90"), "KWG9O", &["ZZZ", "YYY"], LabelConfidence::Unverified)]
    #[case::no_delivered_answer_and_a_different_solve(None, "KWG9O", &["ZZZ"], LabelConfidence::Unverified)]
    #[case::the_correction_is_the_delivered_answer(Some("KWG90"), "kwg90", &[], LabelConfidence::Unverified)]
    fn the_label_confidence_follows_the_independent_solves(
        #[case] answer: Option<&str>,
        #[case] correction: &str,
        #[case] solves: &[&str],
        #[case] expected: LabelConfidence,
    ) {
        assert_eq!(row(answer, correction, solves).label_confidence(), expected);
    }

    #[test]
    fn the_confidence_ignores_the_verdict() {
        // Accepted on a timed-out re-check: refunded, yet nobody checked the text.
        let timed_out = Correction {
            verdict: Verdict::Accepted,
            reason: Reason::RecheckTimedOut,
            ..row(Some("KWG90"), "KWG9O", &[])
        };
        assert_eq!(timed_out.label_confidence(), LabelConfidence::Unverified);
    }

    #[test]
    fn the_second_and_third_solves_are_the_solves_in_order() {
        let r = row(Some("A"), "B", &["C", "D"]);
        assert_eq!((r.second_solve(), r.third_solve()), (Some("C"), Some("D")));
        let none = row(Some("A"), "B", &[]);
        assert_eq!((none.second_solve(), none.third_solve()), (None, None));
    }

    #[test]
    fn only_reports_with_a_correction_are_labels() {
        let report = Report {
            task: TaskId::parse("t1").unwrap(),
            account: AccountId(1),
            kind: ReportKind::Incorrect,
            correction: Some("KWG9O".into()),
            code: None,
            message: None,
            dialect: "native".into(),
            received_at: Timestamp::from_millis(1_800_000_000_000),
            verdict: Verdict::Rejected,
            reason: Reason::AccountIgnored,
            evidence: Evidence::new(),
            refund: None,
            trust_weight: 0.1,
            recheck: Some(RecheckState::default()),
        };
        assert!(is_label(&report), "whatever its verdict");
        assert!(!is_label(&Report {
            correction: None,
            ..report
        }));
    }
}
