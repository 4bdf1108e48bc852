//! uCaptcha: `POST /feedbackTask` with `{clientKey, taskId, result{invalid, code?, message}}`.
//! Seed `004_eab805ea463ca408.txt`; https://ucaptcha.net/docs/api/ucaptcha/feedback-task
//! The route is shared with capsolver and regotcha: see `dialect::feedback_task`.

mod wire;

pub use wire::Ucaptcha;

use verdict_domain::{Eligibility, ReportKind};

use crate::dialect::feedback_task;
use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "ucaptcha";

/// The registry's entry. Its routes are `/feedbackTask` (and `/getToken`) for all three
/// services that share them.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "uCaptcha",
    endpoints: &["POST /feedbackTask"],
    routes: Some(feedback_task::routes),
    windows: &[],
    families: Eligibility::ALL,
    integer_ids: false,
    example: |r| {
        let invalid = r.kind == ReportKind::Incorrect;
        let message = if invalid {
            "Token was rejected by the target site"
        } else {
            "Solution accepted successfully"
        };
        Some(WireRequest::json(
            "/feedbackTask".into(),
            &serde_json::json!({
                "clientKey": r.key, "taskId": r.task,
                "result": { "invalid": invalid, "message": message }
            }),
        ))
    },
    recorded: |status, body| status == 200 && json_of(body)["errorId"] == 0,
    shaped: crate::dialect::feedback_task::is_shaped,
    throttled: crate::dialect::feedback_task::throttled,
    unavailable: (
        503,
        r#"{"errorId":1,"errorCode":"ERROR_SERVICE_UNAVAILABLE","errorDescription":"The service is temporarily unavailable; retry shortly."}"#,
    ),
};
