use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::domain::ItemStatus;
use crate::http::error::AppError;
use crate::state::AppState;

/// Liveness: the process is up and answering.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// How long readiness waits for each dependency: a probe wants an answer in seconds, and a
/// store that takes longer is not ready to serve archives either.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Readiness: the database and the blob store both answer, each within `READY_WAIT`.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let late = |what: &str| {
        AppError::Unavailable(format!(
            "{what}: no answer within {}s",
            READY_WAIT.as_secs()
        ))
    };
    tokio::time::timeout(READY_WAIT, crate::db::ping(&state.db))
        .await
        .map_err(|_| late("database"))?
        .map_err(|e| AppError::Unavailable(format!("database: {e}")))?;
    tokio::time::timeout(READY_WAIT, state.catalog.store().check())
        .await
        .map_err(|_| late("storage"))?
        .map_err(|e| AppError::Unavailable(format!("storage: {e}")))?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}

/// `GET /metrics`: Prometheus text format; a bearer token when `metrics.token` is set.
pub async fn metrics(
    req: actix_web::HttpRequest,
    state: actix_web::web::Data<crate::state::AppState>,
) -> Result<actix_web::HttpResponse, crate::http::error::AppError> {
    let cfg = &state.config.metrics;
    if !cfg.enabled {
        return Err(crate::http::error::AppError::not_found(
            "metrics are disabled",
        ));
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
            return Err(crate::http::error::AppError::Unauthorized(
                "metrics need the configured bearer token".into(),
            ));
        }
    }
    state.downloads.flush(&state.db).await?;
    let mut out = String::new();
    state.metrics.render(&mut out);
    use crate::metrics::family;
    let upstreams = state.registry.stats();
    let per_upstream = |value: fn(&crate::upstream::client::UpstreamStats) -> u64| {
        upstreams
            .iter()
            .map(move |u| (format!("upstream=\"{}\"", u.hostname), value(u)))
    };
    family(
        &mut out,
        "tfmirror_upstream_requests_total",
        "counter",
        "Requests sent to each upstream.",
        per_upstream(|u| u.fetches),
    );
    family(
        &mut out,
        "tfmirror_upstream_failures_total",
        "counter",
        "Upstream requests that failed (connection errors and non-2xx answers).",
        per_upstream(|u| u.failures),
    );
    let gauges = crate::db::stats::gauges(&state.db).await?;
    family(
        &mut out,
        "tfmirror_job_items",
        "gauge",
        "Job items by state.",
        ItemStatus::ALL.iter().map(|st| {
            let n = gauges.items.get(st).copied().unwrap_or(0);
            (format!("state=\"{st}\""), n)
        }),
    );
    family(
        &mut out,
        "tfmirror_storage_bytes",
        "gauge",
        "Bytes of stored packages.",
        [(String::new(), gauges.bytes)],
    );
    family(
        &mut out,
        "tfmirror_packages",
        "gauge",
        "Stored packages.",
        [(String::new(), gauges.packages)],
    );
    family(
        &mut out,
        "tfmirror_module_versions",
        "gauge",
        "Stored module versions.",
        [(String::new(), gauges.module_versions)],
    );
    family(
        &mut out,
        "tfmirror_module_storage_bytes",
        "gauge",
        "Bytes of stored module archives.",
        [(String::new(), gauges.module_bytes)],
    );
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(out))
}
