//! anti-captcha's table. Documented: success; 16 `ERROR_NO_SUCH_CAPCHA_ID` for an unknown,
//! foreign or expired task (also what it answers for captchas it takes no reports on); 1 for an
//! unknown key; 14 for an unknown method. verdict's choices where the docs are silent: a
//! conflicting second report and an endpoint/type mismatch are 16 with a description saying so;
//! storage outages are 2 `ERROR_NO_SLOT_AVAILABLE`, the code clients already retry on. A report
//! from an account whose reports are being ignored is acknowledged like any other: anti-captcha
//! does not tell, and the verdict is in the native API.

use axum::response::Response;
use verdict_domain::Refusal;

use super::NAME;
use crate::dialect::error_id::{ErrorIdDialect, KEY_DOES_NOT_EXIST, NO_SUCH_CAPCHA_ID, failure};

pub(super) const NOT_FOUND_TEXT: &str =
    "Task you are requesting does not exist in your current task list or has been expired.";
pub(super) const KEY_TEXT: &str = "Account authorization key not found in the system";

#[derive(Debug)]
pub struct AntiCaptcha;

impl ErrorIdDialect for AntiCaptcha {
    const NAME: &'static str = NAME;

    fn refused(refusal: &Refusal) -> Response {
        match refusal {
            Refusal::UnknownKey => failure(KEY_DOES_NOT_EXIST, KEY_TEXT),
            Refusal::UnknownTask | Refusal::WindowClosed { .. } => {
                failure(NO_SUCH_CAPCHA_ID, NOT_FOUND_TEXT)
            }
            Refusal::Ineligible { .. } | Refusal::CorrectionNotApplicable { .. } => {
                failure(NO_SUCH_CAPCHA_ID, &refusal.describe())
            }
            Refusal::Conflict { .. } => failure(
                NO_SUCH_CAPCHA_ID,
                "A different report was already recorded for this task; only one report per task is allowed.",
            ),
        }
    }
}
