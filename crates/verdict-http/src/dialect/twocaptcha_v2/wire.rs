//! 2captcha API v2's table. Documented: success `{"errorId":0,"status":"success"}`; the common
//! errorIds shared with anti-captcha (1 key, 16 captcha id); `ERROR_REPORT_NOT_RECORDED` for a
//! report refused by the 40 % rule or too late. Not documented, so verdict's choice:
//! `ERROR_REPORT_NOT_RECORDED` and `ERROR_DUPLICATE_REPORT` (the legacy API's token for a second
//! report) travel with errorId 16, the id clients already read as "this task cannot take it".
//! An identical repeat gets the first answer again: python-rucaptcha sends every report 19 times
//! and returns the last answer to its caller.

use axum::response::Response;
use verdict_domain::{Refusal, Report};

use super::NAME;
use crate::dialect::error_id::{
    ErrorCode, ErrorIdDialect, KEY_DOES_NOT_EXIST, NO_SUCH_CAPCHA_ID, failure, success,
};

const REPORT_NOT_RECORDED: ErrorCode = ErrorCode(16, "ERROR_REPORT_NOT_RECORDED");
const DUPLICATE_REPORT: ErrorCode = ErrorCode(16, "ERROR_DUPLICATE_REPORT");
const KEY_TEXT: &str = "Your API key is incorrect. Make sure you set the key correctly and copied it from the dashboard in Customer or Developer mode";
const ID_TEXT: &str = "You've provided incorrect captcha ID in the request";

#[derive(Debug)]
pub struct TwoCaptchaV2;

impl ErrorIdDialect for TwoCaptchaV2 {
    const NAME: &'static str = NAME;

    fn recorded(report: &Report) -> Response {
        // Reports from an account over the complaint threshold are not recorded, 2captcha says.
        if report.reason.is_screen_refusal() {
            failure(
                REPORT_NOT_RECORDED,
                "The report was not recorded: this account's reports are not being accepted now.",
            )
        } else {
            success()
        }
    }

    fn refused(refusal: &Refusal) -> Response {
        match refusal {
            Refusal::UnknownKey => failure(KEY_DOES_NOT_EXIST, KEY_TEXT),
            Refusal::UnknownTask => failure(NO_SUCH_CAPCHA_ID, ID_TEXT),
            Refusal::WindowClosed { .. } => failure(
                REPORT_NOT_RECORDED,
                "The report was not recorded: the task is too old to be reported.",
            ),
            Refusal::Conflict { .. } => {
                failure(DUPLICATE_REPORT, "This task was already reported.")
            }
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                failure(NO_SUCH_CAPCHA_ID, &refusal.describe())
            }
        }
    }
}
