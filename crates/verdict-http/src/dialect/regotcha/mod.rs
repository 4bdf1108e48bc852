//! regotcha: `POST /feedbackTask` with `{clientKey, taskId, result{valid}}` — `valid`, the
//! opposite polarity of uCaptcha's and capsolver's `invalid`.
//! https://regotcha.com/docs/api/feedback
//! The route is shared with uCaptcha and capsolver: see `dialect::feedback_task`.

mod wire;

use std::time::Duration;

use verdict_domain::{Eligibility, ReportKind};
pub use wire::Regotcha;

use crate::dialect::registry::{Dialect, WireRequest, json_of};

pub const NAME: &str = "regotcha";

/// "Feedback window expired (24h limit)".
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// The registry's entry; served by uCaptcha's entry's `/feedbackTask` route.
pub const DIALECT: Dialect = Dialect {
    name: NAME,
    service: "regotcha",
    endpoints: &["POST /feedbackTask"],
    routes: None,
    windows: &[(None, WINDOW)],
    families: Eligibility::ALL,
    integer_ids: false,
    example: |r| {
        let valid = r.kind == ReportKind::Correct;
        Some(WireRequest::json(
            "/feedbackTask".into(),
            &serde_json::json!({ "clientKey": r.key, "taskId": r.task, "result": { "valid": valid } }),
        ))
    },
    recorded: |status, body| status == 200 && json_of(body)["errorId"] == 0,
    shaped: crate::dialect::feedback_task::is_shaped,
    throttled: crate::dialect::feedback_task::throttled,
    unavailable: (
        503,
        r#"{"errorId":1,"errorCode":"ERROR_SERVICE_UNAVAILABLE","errorDescription":"The service is temporarily unavailable; retry shortly"}"#,
    ),
};
