//! 2captcha's legacy API: `GET` or `POST /res.php?key=…&action=reportbad|reportgood&id=…`,
//! optionally `json=1` and `header_acao=1`. Also the API of its clones (rucaptcha, solvecaptcha).
//! https://2captcha.com/h/how-to-submit-reports; error tokens from 2captcha's client libraries.

mod wire;

use std::time::Duration;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;

use verdict_domain::{Eligibility, ReportKind};

use crate::AppState;
use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "twocaptcha";

/// "ERROR_REPORT_NOT_RECORDED: … more than 15 minutes passed since the captcha was submitted."
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// The registry's entry.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "2captcha (legacy res.php), rucaptcha, solvecaptcha",
    endpoints: &["GET|POST /res.php?action=reportbad|reportgood"],
    routes: Some(routes),
    windows: &[(None, WINDOW)],
    families: Eligibility::ALL,
    integer_ids: true,
    example: |r| {
        let action = match r.kind {
            ReportKind::Incorrect => "reportbad",
            ReportKind::Correct => "reportgood",
        };
        Some(WireRequest::get(format!(
            "/res.php?key={}&action={action}&id={}",
            r.key, r.task
        )))
    },
    recorded: |status, body| status == 200 && body == "OK_REPORT_RECORDED",
    throttled: wire::throttled,
    unavailable: (503, "ERROR_NO_SLOT_AVAILABLE"),
    // A bare token (or with json=1 `{"status":0|1,"request":token}`), HTTP 200 but in an
    // outage.
    shaped: |status, body| {
        let json = json_of(body);
        let token = json["request"].as_str().unwrap_or(body);
        // `ERROR: 1004`/`ERROR: 1005`: its numbered throttling tokens.
        let numbered = token
            .strip_prefix("ERROR: ")
            .is_some_and(|n| n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit()));
        (status == 200 || status == 503)
            && (numbered
                || ((token.starts_with("OK_") || token.starts_with("ERROR_"))
                    && !token.contains(char::is_whitespace)))
    },
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/res.php", get(res).post(res))
}

/// `res.php` for its report actions: parameters from the query string and, for POST, the form.
async fn res(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = wire::Params::read(query.as_deref(), &headers, body.ok()).await;
    match wire::to_command(&params) {
        Ok((key, request)) => {
            let render = |result| wire::render(&params, result);
            app.report(wire::throttled, query.as_deref(), &key, request, render)
                .await
        }
        Err(bad) => wire::render_bad_request(&params, bad),
    }
}
