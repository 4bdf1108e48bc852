//! Tasks: completed solves ingested from the platform, and the checks a record must pass.

use std::time::Duration;

use crate::account::AccountId;
use crate::captcha::CaptchaType;
use crate::ids::TaskId;
use crate::money::Amount;
use crate::timestamp::Timestamp;

/// Longest provider or worker name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Longest answer kept, in bytes (hCaptcha tokens run to several KiB).
pub const MAX_ANSWER_LEN: usize = 32 * 1024;
/// How far in the future a completion time may lie, to tolerate clock skew between hosts.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// The earliest completion time accepted, 2000-01-01T00:00:00Z: anything before is a wrong
/// clock or a placeholder (year 0, the Unix epoch), not a solve anyone can report.
pub const EARLIEST_COMPLETION: Timestamp = Timestamp::from_millis(946_684_800_000);

/// One completed solve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub account: AccountId,
    pub captcha_type: CaptchaType,
    pub provider: String,
    pub worker: Option<String>,
    pub answer: Option<String>,
    pub cost: Amount,
    pub completed_at: Timestamp,
}

/// A task record as received, every field still text. Ingest turns it into a [`Task`] or names
/// the first thing wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskInput {
    pub id: Option<String>,
    pub account: Option<String>,
    pub captcha_type: Option<String>,
    pub provider: Option<String>,
    pub worker: Option<String>,
    pub answer: Option<String>,
    pub cost: Option<String>,
    pub completed_at: Option<String>,
}

impl TaskInput {
    /// Validates the record; the error says which field is wrong and why.
    pub fn validate(self, now: Timestamp) -> Result<Task, String> {
        let id = required(self.id, "id")?;
        let id = TaskId::parse(&id).map_err(|e| format!("id: {e}"))?;
        let account = required(self.account, "account")?;
        let account = AccountId::parse(&account)
            .ok_or_else(|| format!("account: {account:?} is not an account id"))?;
        let captcha_type = required(self.captcha_type, "type")?;
        let captcha_type = CaptchaType::parse(&captcha_type).map_err(|e| format!("type: {e}"))?;
        let provider = required(self.provider, "provider")?;
        check_name(&provider, "provider")?;
        let worker = match self.worker {
            Some(w) if !w.is_empty() => {
                check_name(&w, "worker")?;
                Some(w)
            }
            _ => None,
        };
        if let Some(answer) = &self.answer {
            if answer.len() > MAX_ANSWER_LEN {
                return Err(format!("answer: longer than {MAX_ANSWER_LEN} bytes"));
            }
            // PostgreSQL text cannot hold NUL; refusing it here keeps both backends alike.
            if answer.contains('\0') {
                return Err("answer: must not contain NUL characters".into());
            }
        }
        let cost = required(self.cost, "cost")?;
        let cost = Amount::parse_non_negative(&cost).map_err(|e| format!("cost: {e}"))?;
        let completed_at = required(self.completed_at, "completed_at")?;
        let completed_at =
            Timestamp::parse_rfc3339(&completed_at).map_err(|e| format!("completed_at: {e}"))?;
        if completed_at > now.saturating_add(MAX_CLOCK_SKEW) {
            return Err("completed_at: lies in the future".into());
        }
        if completed_at < EARLIEST_COMPLETION {
            return Err("completed_at: before 2000-01-01, so not a real completion time".into());
        }
        Ok(Task {
            id,
            account,
            captcha_type,
            provider,
            worker,
            answer: self.answer,
            cost,
            completed_at,
        })
    }
}

fn required(value: Option<String>, field: &str) -> Result<String, String> {
    value.ok_or_else(|| format!("{field}: missing"))
}

fn check_name(name: &str, field: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("{field}: must be 1 to {MAX_NAME_LEN} bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{field}: must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-21T10:00:00Z").unwrap()
    }

    fn input() -> TaskInput {
        TaskInput {
            id: Some("74455221488".into()),
            account: Some("1".into()),
            captcha_type: Some("recaptcha_v2".into()),
            provider: Some("p1".into()),
            worker: Some("w9".into()),
            answer: Some("03AGdBq2…".into()),
            cost: Some("0.0020".into()),
            completed_at: Some("2026-11-21T09:59:00Z".into()),
        }
    }

    #[test]
    fn a_complete_record_becomes_a_task() {
        let task = input().validate(now()).unwrap();
        assert_eq!(task.id.as_u64(), Some(74_455_221_488));
        assert_eq!(task.cost, Amount::from_micros(2_000));
        assert_eq!(task.captcha_type, CaptchaType::RecaptchaV2);
    }

    #[rstest]
    #[case::missing_id(TaskInput { id: None, ..input() }, "id: missing")]
    #[case::bad_id(TaskInput { id: Some("007".into()), ..input() }, "id: ")]
    #[case::bad_account(TaskInput { account: Some("bob".into()), ..input() }, "account: ")]
    #[case::bad_type(TaskInput { captcha_type: Some("captcha".into()), ..input() }, "type: unknown")]
    #[case::empty_provider(TaskInput { provider: Some(String::new()), ..input() }, "provider: ")]
    #[case::bad_cost(TaskInput { cost: Some("free".into()), ..input() }, "cost: ")]
    #[case::negative_cost(TaskInput { cost: Some("-1".into()), ..input() }, "cost: amount must not be negative")]
    #[case::bad_time(TaskInput { completed_at: Some("today".into()), ..input() }, "completed_at: ")]
    #[case::nul_in_answer(TaskInput { answer: Some("a\0b".into()), ..input() }, "answer: must not contain NUL")]
    #[case::future(TaskInput { completed_at: Some("2026-11-22T00:00:00Z".into()), ..input() }, "completed_at: lies in the future")]
    #[case::year_zero(TaskInput { completed_at: Some("0000-01-01T00:00:00Z".into()), ..input() }, "completed_at: before 2000-01-01")]
    #[case::epoch(TaskInput { completed_at: Some("1970-01-01T00:00:00Z".into()), ..input() }, "completed_at: before 2000-01-01")]
    fn each_bad_field_is_named(#[case] input: TaskInput, #[case] prefix: &str) {
        let err = input.validate(now()).unwrap_err();
        assert!(
            err.starts_with(prefix),
            "{err:?} should start with {prefix:?}"
        );
    }

    #[test]
    fn an_empty_worker_is_no_worker() {
        let task = TaskInput {
            worker: Some(String::new()),
            ..input()
        }
        .validate(now())
        .unwrap();
        assert_eq!(task.worker, None);
    }
}
