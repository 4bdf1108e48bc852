//! CapMonster Cloud: `POST /reportIncorrectTokenCaptcha` with `{clientKey, taskId}`.
//! https://docs.capmonster.cloud/docs/api/bad-tokens/
//! (Its `reportIncorrectImageCaptcha`, `reportIncorrectRecaptcha` and `reportIncorrectHcaptcha`
//! share anti-captcha's paths and bodies and are answered as anti-captcha.)

mod wire;

use axum::Router;
use verdict_domain::{Eligibility, Family, ReportKind};

use crate::AppState;
use crate::dialect::error_id::{self, method};
use crate::dialect::registry::Dialect;
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

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "CapMonster Cloud",
    endpoints: &["POST /reportIncorrectTokenCaptcha"],
    routes: Some(routes),
    windows: &[],
    families: TOKEN_CAPTCHAS,
    integer_ids: false,
    example: |r| {
        (r.kind == ReportKind::Incorrect)
            .then(|| error_id::example("reportIncorrectTokenCaptcha", r))
    },
    recorded: error_id::is_success,
    shaped: error_id::is_shaped,
    // CapMonster documents errorId 1 for every error.
    throttled: crate::dialect::error_id::throttled::<CapMonster>,
    unavailable: (
        200,
        r#"{"errorId":1,"errorCode":"ERROR_NO_SLOT_AVAILABLE","errorDescription":"Service temporarily unavailable; retry in a few seconds."}"#,
    ),
};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/reportIncorrectTokenCaptcha",
        method::<CapMonster>(ReportKind::Incorrect, TOKEN_CAPTCHAS),
    )
}
