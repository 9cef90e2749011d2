//! Package uploads: one provider archive with its address, stored like an import.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::audit_record;
use super::body::receive_upload;
use crate::catalog::{Expected, IngestOutcome};
use crate::db;
use crate::domain::{PackageId, PackageSource, Platform, ProviderAddress, Version};
use crate::http::caller::Caller;
use crate::http::error::{AppError, OrInternal};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/packages", web::post().to(upload_package));
}

/// One provider zip with its address, stored like an import.
async fn upload_package(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let limit = state.config.limits.max_archive_bytes;
    let upload = receive_upload(&req, &state, payload, limit, &[]).await?;
    let field = |name| upload.required(name);
    let hostname = upload
        .optional("hostname")
        .unwrap_or(crate::domain::DEFAULT_ORIGIN);
    let id = PackageId {
        address: ProviderAddress::new(hostname, field("namespace")?, field("type")?)?,
        version: Version::parse(field("version")?)?,
        platform: Platform::parse(field("platform")?)?,
    };
    let outcome = state
        .catalog
        .ingest_file(
            &id,
            upload.file.path(),
            &Expected::default(),
            PackageSource::Upload,
            Some(&caller.actor),
        )
        .await?;
    let (status, hashes) = match outcome {
        IngestOutcome::Added(h) => (actix_web::http::StatusCode::CREATED, Some(h)),
        IngestOutcome::AlreadyPresent => (actix_web::http::StatusCode::OK, None),
        IngestOutcome::Rejected(crate::catalog::Rejection::Conflict { stored, offered }) => {
            return Err(AppError::Conflict(format!(
                "a different archive is already stored for {id} (sha256 {stored}; this one {offered})"
            )));
        }
        IngestOutcome::Rejected(why) => {
            return Err(AppError::BadRequest(format!(
                "the archive was refused: {why}"
            )));
        }
    };
    if let Some(h) = &hashes {
        audit_record(
            &state,
            &caller,
            "package.upload",
            Some(&id.to_string()),
            json!({ "sha256": h.sha256, "size": h.size }),
        )
        .await?;
    }
    let detail = db::providers::provider_detail(&state.db, &id.address)
        .await?
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.version == id.version.to_string())
        .and_then(|v| {
            v.packages
                .into_iter()
                .find(|p| p.os == id.platform.os && p.arch == id.platform.arch)
        });
    let mut body = serde_json::to_value(detail).or_internal("rendering a provider")?;
    body["hostname"] = json!(id.address.hostname);
    body["namespace"] = json!(id.address.namespace);
    body["type"] = json!(id.address.provider_type);
    body["version"] = json!(id.version);
    Ok(HttpResponse::build(status).json(body))
}
