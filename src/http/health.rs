use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AppError;
use crate::state::AppState;

/// Liveness: the process is up and answering.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness: the database and the blob store both answer.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    crate::db::ping(state.catalog.pool())
        .await
        .map_err(|e| AppError::Unavailable(format!("database: {e}")))?;
    state
        .catalog
        .store()
        .check()
        .await
        .map_err(|e| AppError::Unavailable(format!("storage: {e}")))?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}

/// `GET /metrics`: Prometheus text format; a bearer token when `metrics.token` is set.
pub async fn metrics(
    req: actix_web::HttpRequest,
    state: actix_web::web::Data<crate::state::AppState>,
) -> Result<actix_web::HttpResponse, crate::error::AppError> {
    use std::fmt::Write;
    let cfg = &state.config.metrics;
    if !cfg.enabled {
        return Err(crate::error::AppError::not_found("metrics are disabled"));
    }
    if !cfg.token.is_empty() {
        let sent = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        use sha2::Digest;
        // Compare digests: equal length, so no early exit leaks the token's prefix.
        if sha2::Sha256::digest(sent.as_bytes())
            != sha2::Sha256::digest(cfg.token.expose().as_bytes())
        {
            return Err(crate::error::AppError::Unauthorized(
                "metrics need the configured bearer token".into(),
            ));
        }
    }
    state.downloads.flush(state.catalog.pool()).await?;
    let mut out = String::new();
    state.catalog.metrics().render(&mut out);
    let _ = writeln!(
        out,
        "# HELP tfmirror_upstream_requests_total Requests sent to each upstream."
    );
    let _ = writeln!(out, "# TYPE tfmirror_upstream_requests_total counter");
    let upstreams = state.registry.stats();
    for u in &upstreams {
        let _ = writeln!(
            out,
            "tfmirror_upstream_requests_total{{upstream=\"{}\"}} {}",
            u.hostname, u.fetches
        );
    }
    let _ = writeln!(
        out,
        "# HELP tfmirror_upstream_failures_total Upstream requests that failed (connection errors and non-2xx answers)."
    );
    let _ = writeln!(out, "# TYPE tfmirror_upstream_failures_total counter");
    for u in &upstreams {
        let _ = writeln!(
            out,
            "tfmirror_upstream_failures_total{{upstream=\"{}\"}} {}",
            u.hostname, u.failures
        );
    }
    let gauges = crate::db::admin::gauges(state.catalog.pool()).await?;
    let _ = writeln!(out, "# HELP tfmirror_job_items Job items by state.");
    let _ = writeln!(out, "# TYPE tfmirror_job_items gauge");
    for state_name in [
        "pending",
        "running",
        "succeeded",
        "failed",
        "skipped",
        "cancelled",
    ] {
        let n = gauges.items.get(state_name).copied().unwrap_or(0);
        let _ = writeln!(out, "tfmirror_job_items{{state=\"{state_name}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP tfmirror_storage_bytes Bytes of stored packages."
    );
    let _ = writeln!(out, "# TYPE tfmirror_storage_bytes gauge");
    let _ = writeln!(out, "tfmirror_storage_bytes {}", gauges.bytes);
    let _ = writeln!(out, "# HELP tfmirror_packages Stored packages.");
    let _ = writeln!(out, "# TYPE tfmirror_packages gauge");
    let _ = writeln!(out, "tfmirror_packages {}", gauges.packages);
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(out))
}
