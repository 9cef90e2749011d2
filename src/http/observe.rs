//! Per-request observability: a request id (the client's `X-Request-Id` when it is sane,
//! else a new one) returned in the `X-Request-Id` header and carried by every log line of the
//! request; one log line per request (method, path without the query string, status,
//! duration, bytes, client); and the request metrics.

use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::metrics::{method_label, route_class};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn sane_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    ((1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then(|| s.to_owned())
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let method = method_label(req.method().as_str());
    let path = req.path().to_owned();
    let client = crate::http::caller::client_addr(req.request()).unwrap_or_default();
    let route = route_class(&path);
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %path);
    let result = next.call(req).instrument(span.clone()).await;
    let took = start.elapsed();
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    if let Some(m) = &metrics {
        m.observe(route, method, status, took);
    }
    let bytes = match &result {
        Ok(res) => match res.response().body().size() {
            BodySize::Sized(n) => n,
            _ => 0,
        },
        Err(_) => 0,
    };
    let duration_ms = took.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if route == "health" || route == "metrics" {
            tracing::debug!(status, duration_ms, bytes, client, "request");
        } else {
            tracing::info!(status, duration_ms, bytes, client, "request");
        }
    });
    let mut res = result?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}
