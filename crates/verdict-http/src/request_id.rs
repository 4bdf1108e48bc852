//! Request ids. Every request gets one: the client's `X-Request-Id` when it is sane (one header,
//! 1 to [`MAX_LEN`] visible ASCII characters), else a new UUID. It is a field of the request's
//! log span, so every line logged while handling the request carries it, and it is echoed in
//! the response's `X-Request-Id`. tower-http's `request_id` middleware does the setting and the
//! echoing; it keeps any incoming id as it is, so [`drop_insane`] runs before it and removes an
//! id that could flood or forge log lines.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// `x-request-id`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming id kept: longer than any UUID, trace id or ULID in use.
pub const MAX_LEN: usize = 128;

/// Whether an incoming id may be kept: 1 to [`MAX_LEN`] bytes, each visible ASCII (no spaces,
/// no control characters, nothing beyond ASCII).
pub fn is_sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=MAX_LEN).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
}

/// Removes an incoming `X-Request-Id` that is not sane, or that is sent more than once, so that
/// a new one is made.
pub(crate) async fn drop_insane(mut request: Request, next: Next) -> Response {
    let mut values = request.headers().get_all(&X_REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(only), None) => is_sane(only),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_sane() {
        for sane in [
            "a",
            "550e8400-e29b-41d4-a716-446655440000",
            &"x".repeat(MAX_LEN),
        ] {
            assert!(is_sane(&HeaderValue::from_str(sane).unwrap()), "{sane}");
        }
        for insane in [
            "".to_owned(),
            "x".repeat(MAX_LEN + 1),
            "two words".into(),
            "tab\there".into(),
        ] {
            assert!(
                !is_sane(&HeaderValue::from_str(&insane).unwrap()),
                "{insane:?}"
            );
        }
        assert!(!is_sane(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()));
    }
}
