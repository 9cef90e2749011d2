//! Package uploads: one provider archive with its address, stored like an import.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

use super::audit_record;
use super::body::{is_multipart, multipart_error};
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
    if !is_multipart(&req) {
        return Err(AppError::BadRequest(
            "expected a multipart/form-data body".into(),
        ));
    }
    let limit = state.config.limits.max_archive_bytes;
    let tmp_dir = state.config.data_dir.join("tmp/uploads");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .or_internal("creating the upload directory")?;
    let tmp = tempfile::NamedTempFile::new_in(&tmp_dir).or_internal("creating an upload file")?;
    let mut fields = std::collections::HashMap::new();
    let mut got_file = false;
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            use std::io::Write;
            let mut file = tmp.reopen().or_internal("opening the upload file")?;
            let mut size = 0u64;
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(AppError::TooLarge(format!(
                        "the archive is larger than {limit} bytes"
                    )));
                }
                file = tokio::task::spawn_blocking(move || file.write_all(&chunk).map(|_| file))
                    .await
                    .or_internal("writing an upload")?
                    .or_internal("writing an upload")?;
            }
            got_file = true;
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                if value.len() + chunk.len() > 1024 {
                    return Err(AppError::BadRequest(format!("field {name} is too long")));
                }
                value.extend_from_slice(&chunk);
            }
            fields.insert(name, String::from_utf8_lossy(&value).trim().to_owned());
        }
    }
    if !got_file {
        return Err(AppError::BadRequest(
            "the multipart form has no `file` field".into(),
        ));
    }
    let field = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AppError::BadRequest(format!("the `{name}` field is required")))
    };
    let hostname = fields
        .get("hostname")
        .map(String::as_str)
        .filter(|s| !s.is_empty())
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
            tmp.path(),
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
