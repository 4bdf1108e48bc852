//! anti-captcha: `reportIncorrectImageCaptcha`, `reportIncorrectRecaptcha`,
//! `reportCorrectRecaptcha`, `reportIncorrectHcaptcha`, each `POST {clientKey, taskId}`.
//! Seeds `002_d4832f9807b42ea4.txt` and `003_696542c61bd13842.txt`;
//! https://anti-captcha.com/apidoc/methods/reportIncorrectRecaptcha and siblings.

mod wire;

use axum::Router;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use bytes::Bytes;
use verdict_domain::{Eligibility, Family, ReportKind};

use crate::AppState;
use crate::dialect::parse_json;

pub use wire::render_no_such_method;

pub const NAME: &str = "anticaptcha";

/// One report method: what it claims and which families it takes.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    pub kind: ReportKind,
    pub eligibility: Eligibility,
}

pub const REPORT_INCORRECT_IMAGE_CAPTCHA: Method = Method {
    kind: ReportKind::Incorrect,
    eligibility: Eligibility::only(&[Family::Image]),
};
pub const REPORT_INCORRECT_RECAPTCHA: Method = Method {
    kind: ReportKind::Incorrect,
    eligibility: Eligibility::only(&[Family::Recaptcha]),
};
pub const REPORT_CORRECT_RECAPTCHA: Method = Method {
    kind: ReportKind::Correct,
    eligibility: Eligibility::only(&[Family::Recaptcha]),
};
pub const REPORT_INCORRECT_HCAPTCHA: Method = Method {
    kind: ReportKind::Incorrect,
    eligibility: Eligibility::only(&[Family::Hcaptcha]),
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/reportIncorrectImageCaptcha",
            method(REPORT_INCORRECT_IMAGE_CAPTCHA),
        )
        .route(
            "/reportIncorrectRecaptcha",
            method(REPORT_INCORRECT_RECAPTCHA),
        )
        .route("/reportCorrectRecaptcha", method(REPORT_CORRECT_RECAPTCHA))
        .route(
            "/reportIncorrectHcaptcha",
            method(REPORT_INCORRECT_HCAPTCHA),
        )
}

/// The route of one report method; other HTTP methods get anti-captcha's "no such method".
pub fn method(m: Method) -> MethodRouter<AppState> {
    post(
        move |State(app): State<AppState>, body: Result<Bytes, BytesRejection>| async move {
            report(app, m, body).await
        },
    )
    .fallback(|| async { render_no_such_method() })
}

async fn report(app: AppState, method: Method, body: Result<Bytes, BytesRejection>) -> Response {
    match wire::to_command(method, parse_json(body)) {
        Ok((key, request)) => wire::render(app.engine.submit_report(&key, request).await),
        Err(bad) => wire::render_bad_request(bad),
    }
}
