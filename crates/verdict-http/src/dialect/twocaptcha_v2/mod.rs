//! 2captcha API v2: `POST /reportIncorrect` and `POST /reportCorrect` with `{clientKey, taskId}`.
//! https://2captcha.com/api-docs/report-incorrect, https://2captcha.com/h/how-to-submit-reports
//! (Its aliases `reportIncorrectImageCaptcha`, `reportIncorrectRecaptcha` and
//! `reportCorrectRecaptcha` are anti-captcha's paths and are answered as anti-captcha.)

mod wire;

use std::time::Duration;

use axum::Router;
use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::error_id::method;
use wire::TwoCaptchaV2;

pub const NAME: &str = "twocaptcha_v2";

/// No window is documented for API v2; 2captcha's legacy API documents 15 minutes and v2 is
/// assumed to share its backend.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/reportIncorrect",
            method::<TwoCaptchaV2>(ReportKind::Incorrect, Eligibility::ALL),
        )
        .route(
            "/reportCorrect",
            method::<TwoCaptchaV2>(ReportKind::Correct, Eligibility::ALL),
        )
}
