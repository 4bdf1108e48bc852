//! anti-captcha: `reportIncorrectImageCaptcha`, `reportIncorrectRecaptcha`,
//! `reportCorrectRecaptcha`, `reportIncorrectHcaptcha`, each `POST {clientKey, taskId}`.
//! Seeds `002_d4832f9807b42ea4.txt` and `003_696542c61bd13842.txt`;
//! https://anti-captcha.com/apidoc/methods/reportIncorrectRecaptcha and siblings.
//!
//! These paths are also 2captcha API v2's compatibility aliases and CapMonster Cloud's image and
//! reCAPTCHA methods, with the same bodies; one path can have one meaning, so they get
//! anti-captcha's (image-only image method, reCAPTCHA-only reCAPTCHA methods).

mod wire;

use axum::Router;
use verdict_domain::{Eligibility, Family, ReportKind};

use crate::AppState;
use crate::dialect::error_id::{self, method};
use crate::dialect::registry::Dialect;
use wire::AntiCaptcha;

pub const NAME: &str = "anticaptcha";

/// "Reports must be sent within 60 seconds of task completion" — on every report method's
/// page, reportIncorrectImageCaptcha's included; later: ERROR_NO_SUCH_CAPCHA_ID.
pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "anti-captcha",
    endpoints: &[
        "POST /reportIncorrectImageCaptcha",
        "POST /reportIncorrectRecaptcha",
        "POST /reportCorrectRecaptcha",
        "POST /reportIncorrectHcaptcha",
    ],
    routes: Some(routes),
    windows: &[(None, WINDOW)],
    families: Eligibility::only(&[Family::Image, Family::Recaptcha, Family::Hcaptcha]),
    integer_ids: false,
    example: |r| {
        let method = match (r.family, r.kind) {
            (Family::Image, ReportKind::Incorrect) => "reportIncorrectImageCaptcha",
            (Family::Recaptcha, ReportKind::Incorrect) => "reportIncorrectRecaptcha",
            (Family::Recaptcha, ReportKind::Correct) => "reportCorrectRecaptcha",
            (Family::Hcaptcha, ReportKind::Incorrect) => "reportIncorrectHcaptcha",
            _ => return None,
        };
        Some(error_id::example(method, r))
    },
    recorded: error_id::is_success,
    shaped: error_id::is_shaped,
    throttled: crate::dialect::error_id::throttled::<AntiCaptcha>,
    unavailable: (
        200,
        r#"{"errorId":2,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"Service temporarily unavailable; retry in a few seconds."}"#,
    ),
};

pub fn routes() -> Router<AppState> {
    let image = Eligibility::only(&[Family::Image]);
    let recaptcha = Eligibility::only(&[Family::Recaptcha]);
    let hcaptcha = Eligibility::only(&[Family::Hcaptcha]);
    Router::new()
        .route(
            "/reportIncorrectImageCaptcha",
            method::<AntiCaptcha>(ReportKind::Incorrect, image),
        )
        .route(
            "/reportIncorrectRecaptcha",
            method::<AntiCaptcha>(ReportKind::Incorrect, recaptcha),
        )
        .route(
            "/reportCorrectRecaptcha",
            method::<AntiCaptcha>(ReportKind::Correct, recaptcha),
        )
        .route(
            "/reportIncorrectHcaptcha",
            method::<AntiCaptcha>(ReportKind::Incorrect, hcaptcha),
        )
}
