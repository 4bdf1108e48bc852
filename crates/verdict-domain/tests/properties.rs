//! Invariants of judging over arbitrary sequences of reports, checked against a minimal
//! in-memory book that does what storage does: keep the first report per task and its refund.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use verdict_domain::ledger::{self, LedgerEntry};
use verdict_domain::{
    Account, AccountId, Amount, CaptchaType, Eligibility, Judgement, Policy, Report, ReportKind,
    ReportRequest, Situation, Standing, Task, TaskId, Timestamp, judge,
};

const T0: Timestamp = Timestamp::from_millis(1_800_000_000_000);

#[derive(Debug, Clone, Default, PartialEq)]
struct Book {
    reports: BTreeMap<TaskId, Report>,
    entries: Vec<LedgerEntry>,
}

impl Book {
    fn apply(&mut self, req: &ReportRequest, account: &Account, tasks: &[Task], now: Timestamp) {
        let task = tasks.iter().find(|t| t.id == req.task);
        let existing = self.reports.get(&req.task);
        let situation = Situation {
            account,
            task,
            existing,
            family: None,
        };
        if let Judgement::Record(decision) = judge(req, situation, &Policy::default(), now) {
            let report = decision.report;
            if let Some(entry) = LedgerEntry::refund_for(&report) {
                let taken: HashSet<_> = self.entries.iter().map(|e| &e.idempotency_key).collect();
                assert!(
                    !taken.contains(&entry.idempotency_key),
                    "a second refund was granted"
                );
                self.entries.push(entry);
            }
            self.reports.insert(report.task.clone(), report);
        }
    }
}

fn accounts() -> Vec<Account> {
    (1..=2)
        .map(|id| Account {
            id: AccountId(id),
            name: format!("a{id}"),
            trusted: false,
            balance: Amount::ZERO,
            standing: Standing::Good,
            ignores: Default::default(),
            screen_flag: None,
            disabled: None,
            created_at: Timestamp::from_millis(0),
        })
        .collect()
}

fn tasks() -> Vec<Task> {
    let types = [
        CaptchaType::Image,
        CaptchaType::RecaptchaV2,
        CaptchaType::Audio,
        CaptchaType::Hcaptcha,
    ];
    (0..8u64)
        .map(|i| Task {
            id: TaskId::from_u64(1000 + i),
            account: AccountId(1 + (i % 2) as i64),
            captcha_type: types[(i % 4) as usize],
            provider: "p".into(),
            worker: None,
            answer: Some(format!("ans{i}")),
            cost: Amount::from_micros(1_000 * (i as i64 + 1)),
            completed_at: T0,
        })
        .collect()
}

prop_compose! {
    fn arb_step()(task in 1000u64..1010, account in 0usize..2, correct: bool,
                  correction in prop::option::of(prop_oneof![Just("ans0".to_string()), "[a-z]{1,4}"]),
                  secs in 0u64..200) -> (ReportRequest, usize, Timestamp) {
        let kind = if correct { ReportKind::Correct } else { ReportKind::Incorrect };
        let req = ReportRequest::new(TaskId::from_u64(task), kind, "prop", Eligibility::ALL)
            .with_correction(correction)
            .expect("short");
        (req, account, T0.saturating_add(Duration::from_secs(secs)))
    }
}

proptest! {
    #[test]
    fn refunds_never_exceed_charges_and_each_task_is_refunded_at_most_once(
        steps in prop::collection::vec(arb_step(), 0..60)
    ) {
        let (accounts, tasks) = (accounts(), tasks());
        let mut book = Book::default();
        for (req, who, now) in &steps {
            book.apply(req, &accounts[*who], &tasks, *now);
        }
        for account in &accounts {
            let charged: Amount = tasks.iter().filter(|t| t.account == account.id).map(|t| t.cost).sum();
            let refunded = ledger::balance(book.entries.iter().filter(|e| e.account == account.id));
            prop_assert!(refunded <= charged, "refunded {refunded} of {charged}");
        }
        for entry in &book.entries {
            let task = tasks.iter().find(|t| t.id == entry.task).expect("refund for a known task");
            prop_assert_eq!(entry.amount, task.cost);
            prop_assert_eq!(entry.account, task.account);
        }
    }

    #[test]
    fn a_report_applied_twice_equals_once(
        prefix in prop::collection::vec(arb_step(), 0..20),
        step in arb_step(),
    ) {
        let (accounts, tasks) = (accounts(), tasks());
        let mut book = Book::default();
        for (req, who, now) in &prefix {
            book.apply(req, &accounts[*who], &tasks, *now);
        }
        let (req, who, now) = step;
        book.apply(&req, &accounts[who], &tasks, now);
        let once = book.clone();
        book.apply(&req, &accounts[who], &tasks, now);
        prop_assert_eq!(book, once);
    }
}
