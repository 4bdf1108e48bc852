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
use crate::dialect::error_id::method;
use wire::AntiCaptcha;

pub const NAME: &str = "anticaptcha";

/// "Reports must be sent within 60 seconds of task completion" — on every report method's
/// page, reportIncorrectImageCaptcha's included; later: ERROR_NO_SUCH_CAPCHA_ID.
pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

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
