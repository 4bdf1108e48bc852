//! CapMonster Cloud: `POST /reportIncorrectTokenCaptcha` with `{clientKey, taskId}`.
//! https://docs.capmonster.cloud/docs/api/bad-tokens/
//! (Its `reportIncorrectImageCaptcha`, `reportIncorrectRecaptcha` and `reportIncorrectHcaptcha`
//! share anti-captcha's paths and bodies and are answered as anti-captcha.)

mod wire;

use axum::Router;
use verdict_domain::{Eligibility, Family, ReportKind};

use crate::AppState;
use crate::dialect::error_id::method;
use wire::CapMonster;

pub const NAME: &str = "capmonster";

/// "For token-captcha reports: recaptcha (2, 3, enterprise), hcaptcha, geetest, funcaptcha, turnstile."
pub const TOKEN_CAPTCHAS: Eligibility = Eligibility::only(&[
    Family::Recaptcha,
    Family::Hcaptcha,
    Family::Geetest,
    Family::Funcaptcha,
    Family::Turnstile,
]);

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/reportIncorrectTokenCaptcha",
        method::<CapMonster>(ReportKind::Incorrect, TOKEN_CAPTCHAS),
    )
}
