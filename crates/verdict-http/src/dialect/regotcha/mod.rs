//! regotcha: `POST /feedbackTask` with `{clientKey, taskId, result{valid}}` — `valid`, the
//! opposite polarity of uCaptcha's and capsolver's `invalid`.
//! https://regotcha.com/docs/api/feedback
//! The route is shared with uCaptcha and capsolver: see `dialect::feedback_task`.

mod wire;

use std::time::Duration;

pub use wire::Regotcha;

pub const NAME: &str = "regotcha";

/// "Feedback window expired (24h limit)".
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);
