//! capsolver: `POST /feedbackTask` with `{clientKey, appId?, taskId, result{invalid, code?,
//! message?}}` — and the same body posted to `/getToken`, which is where python3-capsolver 1.2.2
//! sends it. https://docs.capsolver.com/guide/api-feedback.html
//! The `/feedbackTask` route is shared with uCaptcha and regotcha: see `dialect::feedback_task`.

mod wire;

pub use wire::Capsolver;

use verdict_domain::{Eligibility, ReportKind};

use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "capsolver";

/// The registry's entry; served by uCaptcha's entry's `/feedbackTask` and `/getToken` routes.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "capsolver",
    endpoints: &["POST /feedbackTask", "POST /getToken"],
    routes: None,
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: false,
    example: |r| {
        let invalid = r.kind == ReportKind::Incorrect;
        Some(WireRequest::json(
            "/feedbackTask".into(),
            &serde_json::json!({
                "clientKey": r.key, "appId": "APP_ID", "taskId": r.task,
                "result": { "invalid": invalid, "code": 1001, "message": "invalid token" }
            }),
        ))
    },
    recorded: |status, body| status == 200 && json_of(body)["errorId"] == 0,
    shaped: crate::dialect::feedback_task::is_shaped,
    throttled: crate::dialect::feedback_task::throttled,
    unavailable: (
        503,
        r#"{"errorId":1,"errorCode":"ERROR_SERVICE_UNAVALIABLE","errorDescription":"Service is temporarily unavailable"}"#,
    ),
};
