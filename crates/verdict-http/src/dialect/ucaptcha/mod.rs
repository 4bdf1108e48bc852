//! uCaptcha: `POST /feedbackTask` with `{clientKey, taskId, result{invalid, code?, message}}`.
//! Seed `004_eab805ea463ca408.txt`; https://ucaptcha.net/docs/api/ucaptcha/feedback-task
//! The route is shared with capsolver and regotcha: see `dialect::feedback_task`.

mod wire;

pub use wire::Ucaptcha;

pub const NAME: &str = "ucaptcha";
