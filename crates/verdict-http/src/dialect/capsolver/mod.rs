//! capsolver: `POST /feedbackTask` with `{clientKey, appId?, taskId, result{invalid, code?,
//! message?}}` — and the same body posted to `/getToken`, which is where python3-capsolver 1.2.2
//! sends it. https://docs.capsolver.com/guide/api-feedback.html
//! The `/feedbackTask` route is shared with uCaptcha and regotcha: see `dialect::feedback_task`.

mod wire;

pub use wire::Capsolver;

pub const NAME: &str = "capsolver";
