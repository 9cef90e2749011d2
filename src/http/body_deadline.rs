//! Request bodies must keep arriving: after a grace period a body has to average at least
//! `server.min_body_bytes_per_second`, or reading it fails (and the request is answered 408).
//! Without this a client trickling one byte a second holds a connection and a worker slot for
//! as long as it likes; the server's own request timeout covers only the head.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::state::AppState;

/// What a body that arrives too slowly fails with; the error mapping answers 408.
pub const TOO_SLOW: &str = "the request body arrived too slowly";

pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let limits = req.app_data::<web::Data<AppState>>().map(|s| {
        (
            Duration::from_secs(s.config.server.body_grace_seconds),
            s.config.server.min_body_bytes_per_second,
        )
    });
    if let Some((grace, rate)) = limits {
        let inner = req.take_payload();
        let paced = Paced {
            inner,
            grace,
            rate: rate.max(1),
            started: Instant::now(),
            received: 0,
            timer: Box::pin(tokio::time::sleep(grace)),
        };
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(paced);
        req.set_payload(Payload::from(stream));
    }
    next.call(req).await
}

struct Paced {
    inner: Payload,
    grace: Duration,
    rate: u64,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
}

impl Paced {
    /// When the body is late: the grace period plus the time its bytes so far were owed.
    fn due(&self) -> Instant {
        self.started + self.grace + Duration::from_secs_f64(self.received as f64 / self.rate as f64)
    }
}

impl Stream for Paced {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.received += chunk.len() as u64;
                let due = self.due();
                self.timer.as_mut().reset(due);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    TOO_SLOW,
                ))))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

/// Whether a payload error is this module's deadline.
pub fn is_too_slow(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}
