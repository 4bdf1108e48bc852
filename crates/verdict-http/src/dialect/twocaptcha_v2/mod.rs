//! 2captcha API v2: `POST /reportIncorrect` and `POST /reportCorrect` with `{clientKey, taskId}`.
//! https://2captcha.com/api-docs/report-incorrect, https://2captcha.com/h/how-to-submit-reports
//! (Its aliases `reportIncorrectImageCaptcha`, `reportIncorrectRecaptcha` and
//! `reportCorrectRecaptcha` are anti-captcha's paths and are answered as anti-captcha.)

mod wire;

use std::time::Duration;

use axum::Router;
use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::error_id::{self, method};
use crate::dialect::registry::Dialect;
use wire::TwoCaptchaV2;

pub const NAME: &str = "twocaptcha_v2";

/// No window is documented for API v2; 2captcha's legacy API documents 15 minutes and v2 is
/// assumed to share its backend.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "2captcha API v2",
    endpoints: &["POST /reportIncorrect", "POST /reportCorrect"],
    routes: Some(routes),
    windows: &[(None, WINDOW)],
    families: Eligibility::ALL,
    integer_ids: false,
    example: |r| {
        let method = match r.kind {
            ReportKind::Incorrect => "reportIncorrect",
            ReportKind::Correct => "reportCorrect",
        };
        Some(error_id::example(method, r))
    },
    recorded: error_id::is_success,
    shaped: error_id::is_shaped,
    throttled: crate::dialect::error_id::throttled::<TwoCaptchaV2>,
    unavailable: (
        200,
        r#"{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"Service temporarily unavailable; retry in a few seconds."}"#,
    ),
};

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
