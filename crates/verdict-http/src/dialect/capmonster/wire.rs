//! CapMonster Cloud's table: every error is `errorId` 1 with an `errorCode` (its documented
//! convention); verdict adds `errorDescription` too, which CapMonster omits, because
//! anti-captcha-style clients pointed here raise without it.

use axum::response::Response;
use verdict_domain::Refusal;

use super::NAME;
use crate::dialect::error_id::{ErrorCode, ErrorIdDialect, failure};

const KEY_DOES_NOT_EXIST: ErrorCode = ErrorCode(1, "ERROR_KEY_DOES_NOT_EXIST");
const NO_SUCH_CAPCHA_ID: ErrorCode = ErrorCode(1, "ERROR_NO_SUCH_CAPCHA_ID");
const NO_SLOT_AVAILABLE: ErrorCode = ErrorCode(1, "ERROR_NO_SLOT_AVAILABLE");
/// "You have exceeded the limit of requests…" and "…the limit of requests with the wrong api
/// key" (CapMonster Cloud's error types page).
const TOO_MUCH_REQUESTS: ErrorCode = ErrorCode(1, "ERROR_TOO_MUCH_REQUESTS");
const IP_BANNED: ErrorCode = ErrorCode(1, "ERROR_IP_BANNED");

#[derive(Debug)]
pub struct CapMonster;

impl ErrorIdDialect for CapMonster {
    const NAME: &'static str = NAME;
    const KEY_ERROR: ErrorCode = KEY_DOES_NOT_EXIST;
    const TASK_ERROR: ErrorCode = NO_SUCH_CAPCHA_ID;
    const RETRY_ERROR: ErrorCode = NO_SLOT_AVAILABLE;
    const RATE_ERROR: ErrorCode = TOO_MUCH_REQUESTS;
    const BLOCKED_ERROR: ErrorCode = IP_BANNED;

    fn refused(refusal: &Refusal) -> Response {
        match refusal {
            Refusal::UnknownKey => failure(
                KEY_DOES_NOT_EXIST,
                "Account authorization key not found in the system or has incorrect format.",
            ),
            Refusal::UnknownTask | Refusal::WindowClosed { .. } => failure(
                NO_SUCH_CAPCHA_ID,
                "The captcha that you are requesting was not found or can no longer be reported.",
            ),
            Refusal::Conflict { .. } => failure(
                NO_SUCH_CAPCHA_ID,
                "A different report was already recorded for this task.",
            ),
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                failure(NO_SUCH_CAPCHA_ID, &refusal.describe())
            }
        }
    }
}
