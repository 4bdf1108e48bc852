//! A deadline for reading a request's body: a client that sends its report a byte at a time
//! must not hold a connection (and a task) for as long as it likes. Past the deadline the body
//! fails, so the handler reads it as unreadable and answers in its own dialect's shape.
//!
//! Hand-written because tower-http's `TimeoutBody` times the gap between two pieces of a body,
//! not the whole body: a byte a second never trips it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

/// The error a body past its deadline fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?}")]
pub struct BodyTimedOut(Duration);

pin_project! {
    /// `inner`, failing once `sleep` completes.
    pub struct DeadlineBody<B> {
        #[pin]
        inner: B,
        #[pin]
        sleep: Sleep,
        limit: Duration,
    }
}

impl<B> DeadlineBody<B> {
    pub fn new(inner: B, limit: Duration) -> Self {
        Self {
            inner,
            sleep: tokio::time::sleep_until(Instant::now() + limit),
            limit,
        }
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut(*this.limit).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: the request's body must arrive whole within `limit`. Installed with
/// `axum::middleware::from_fn(move |r, n| body_deadline(limit, r, n))`.
pub async fn body_deadline(limit: Duration, request: Request, next: Next) -> Response {
    let request = request.map(|body| Body::new(DeadlineBody::new(body, limit)));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_trickles_past_its_deadline_fails_and_one_in_time_is_whole() {
        let trickle = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
        });
        let slow = DeadlineBody::new(Body::from_stream(trickle), Duration::from_secs(1));
        let Err(err) = slow.collect().await else {
            panic!("a trickle past the deadline was read whole");
        };
        assert!(err.to_string().contains("not received within"), "{err}");

        let quick = DeadlineBody::new(Body::from("{\"clientKey\":1}"), Duration::from_secs(1));
        let bytes = quick.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"{\"clientKey\":1}");
    }
}
