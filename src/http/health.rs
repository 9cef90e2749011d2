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
