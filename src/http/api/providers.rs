//! Providers (list, detail, status, delete), definitions uploads and package uploads.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::{Paging, audit_record, page_json};
use crate::catalog::{Expected, IngestOutcome};
use crate::db::{self, admin::ProviderFilter};
use crate::domain::{PackageId, PackageSource, Platform, ProviderAddress, Version, VersionStatus};
use crate::http::caller::Caller;
use crate::http::error::{AppError, FieldError, OrInternal};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/providers", web::get().to(list))
        .route(
            "/providers/{hostname}/{namespace}/{type}",
            web::get().to(detail),
        )
        .route(
            "/providers/{hostname}/{namespace}/{type}",
            web::delete().to(delete_provider),
        )
        .route(
            "/providers/{hostname}/{namespace}/{type}/versions/{version}",
            web::delete().to(delete_version),
        )
        .route(
            "/providers/{hostname}/{namespace}/{type}/versions/{version}/status",
            web::put().to(set_status),
        )
        .route("/definitions", web::post().to(definitions))
        .route("/packages", web::post().to(upload_package));
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    hostname: Option<String>,
    namespace: Option<String>,
    status: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// `status must be one of active, deprecated, blocked` for anything else.
fn version_status(s: &str) -> Result<VersionStatus, AppError> {
    s.parse().map_err(|_| {
        let all: Vec<&str> = VersionStatus::ALL.iter().map(|s| s.as_str()).collect();
        AppError::BadRequest(format!("status must be one of {}", all.join(", ")))
    })
}

async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let (limit, offset, page, per_page) = Paging {
        page: q.page,
        per_page: q.per_page,
    }
    .resolve()?;
    fn given(s: &Option<String>) -> Option<&str> {
        s.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
    let status = given(&q.status).map(version_status).transpose()?;
    if given(&q.q).is_some_and(|s| s.len() > 200) {
        return Err(AppError::BadRequest(
            "q is longer than 200 characters".into(),
        ));
    }
    let filter = ProviderFilter {
        q: given(&q.q),
        hostname: given(&q.hostname),
        namespace: given(&q.namespace),
        status,
    };
    let (items, total) = db::admin::providers_page(&state.db, &filter, limit, offset).await?;
    Ok(page_json(items, page, per_page, total))
}

fn address(path: &(String, String, String)) -> Result<ProviderAddress, AppError> {
    Ok(ProviderAddress::new(&path.0, &path.1, &path.2)?)
}

async fn detail(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let address = address(&path)?;
    state.downloads.flush(&state.db).await?;
    let versions = db::admin::provider_detail(&state.db, &address)
        .await?
        .ok_or_else(|| AppError::not_found(format!("provider {address} is not in this mirror")))?;
    Ok(HttpResponse::Ok().json(json!({
        "hostname": address.hostname,
        "namespace": address.namespace,
        "type": address.provider_type,
        "versions": versions,
    })))
}

/// Deletes metadata first, then blobs nothing references any more, then drops caches.
async fn remove(
    state: &AppState,
    caller: &Caller,
    address: &ProviderAddress,
    version: Option<&Version>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let target = match version {
        Some(v) => format!("{address} {v}"),
        None => address.to_string(),
    };
    let orphans = db::admin::delete(&state.db, address, version)
        .await?
        .ok_or_else(|| AppError::not_found(format!("{target} is not in this mirror")))?;
    state.catalog.invalidate(address).await;
    for key in &orphans {
        match crate::storage::BlobKey::parse(key) {
            Some(k) => {
                if let Err(e) = state.catalog.store().delete(&k).await {
                    tracing::warn!(key, error = %e, "could not delete an unreferenced blob");
                }
            }
            None => tracing::error!(key, "invalid storage key in database; left in place"),
        }
    }
    let action = if version.is_some() {
        "version.delete"
    } else {
        "provider.delete"
    };
    audit_record(
        state,
        caller,
        action,
        Some(&target),
        json!({ "blobs_removed": orphans.len() }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_provider(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    remove(&state, &caller, &address(&path)?, None).await
}

async fn delete_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let (h, n, t, v) = path.into_inner();
    let address = address(&(h, n, t))?;
    remove(&state, &caller, &address, Some(&Version::parse(&v)?)).await
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

async fn set_status(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String, String)>,
    body: web::Json<StatusBody>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let (h, n, t, v) = path.into_inner();
    let address = address(&(h, n, t))?;
    let version = Version::parse(&v)?;
    let status = version_status(&body.status)?;
    let pool = &state.db;
    if !db::packages::set_version_status(pool, &address, &version, status).await? {
        return Err(AppError::not_found(format!(
            "{address} {version} is not in this mirror"
        )));
    }
    state.catalog.invalidate(&address).await;
    audit_record(
        &state,
        &caller,
        "version.status",
        Some(&format!("{address} {version}")),
        json!({ "status": body.status }),
    )
    .await?;
    let detail = db::admin::provider_detail(pool, &address)
        .await?
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.version == version.to_string());
    Ok(HttpResponse::Ok().json(detail))
}

/// Reads a request body up to `limit` bytes: the raw body, or the `file` field of a
/// multipart form.
async fn read_text_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::TooLarge(format!("the file is larger than {limit} bytes"));
    if is_multipart(req) {
        let mut form = actix_multipart::Multipart::new(req.headers(), payload);
        while let Some(field) = form.next().await {
            let mut field =
                field.map_err(|e| AppError::BadRequest(format!("invalid multipart body: {e}")))?;
            if field.name() != Some("file") {
                continue;
            }
            let mut out = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk
                    .map_err(|e| AppError::BadRequest(format!("invalid multipart body: {e}")))?;
                if out.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                out.extend_from_slice(&chunk);
            }
            return Ok(out);
        }
        return Err(AppError::BadRequest(
            "the multipart form has no `file` field".into(),
        ));
    }
    let mut payload = payload;
    let mut out = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("reading the body: {e}")))?;
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

#[derive(Deserialize)]
struct DefinitionsQuery {
    dry_run: Option<bool>,
}

async fn definitions(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<DefinitionsQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let bytes = read_text_body(&req, payload, state.config.limits.max_definitions_bytes).await?;
    let text = String::from_utf8(bytes)
        .map_err(|_| AppError::BadRequest("the definitions file is not UTF-8 text".into()))?;
    let defs =
        crate::jobs::validate(&text, &state.registry).map_err(|errors| AppError::Validation {
            message: format!("the definitions file has {} problem(s)", errors.len()),
            errors: errors
                .into_iter()
                .map(|e| FieldError {
                    line: e.line,
                    column: e.column,
                    message: e.message,
                })
                .collect(),
        })?;
    let plan = crate::jobs::plan(&state.registry, &defs)
        .await
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let plan_json = plan_json(&plan);
    if q.dry_run.unwrap_or(false) {
        return Ok(HttpResponse::Ok().json(plan_json));
    }
    let job = crate::jobs::enqueue(&state.db, &text, &caller.actor, &plan).await?;
    audit_record(
        &state,
        &caller,
        "job.create",
        Some(&format!("job {job}")),
        json!({ "packages": plan.package_count() }),
    )
    .await?;
    let summary = db::jobs::job_summary(&state.db, job).await?;
    Ok(HttpResponse::Created().json(json!({ "job": summary, "plan": plan_json })))
}

/// The plan as the API documents it: one item per provider version, and the problems.
fn plan_json(plan: &crate::jobs::Plan) -> serde_json::Value {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for p in &plan.providers {
        for v in &p.versions {
            items.push(
                json!({ "provider": p.address, "version": v.version, "platforms": v.platforms }),
            );
            for m in &v.missing_platforms {
                problems.push(format!(
                    "{} {}: the upstream has no {m} build",
                    p.address, v.version
                ));
            }
        }
        for u in &p.unmatched {
            problems.push(format!("{}: no upstream version matches {u}", p.address));
        }
    }
    json!({ "items": items, "problems": problems, "total_packages": plan.package_count() })
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
        let mut field =
            field.map_err(|e| AppError::BadRequest(format!("invalid multipart body: {e}")))?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            use std::io::Write;
            let mut file = tmp.reopen().or_internal("opening the upload file")?;
            let mut size = 0u64;
            while let Some(chunk) = field.next().await {
                let chunk = chunk
                    .map_err(|e| AppError::BadRequest(format!("invalid multipart body: {e}")))?;
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
                let chunk = chunk
                    .map_err(|e| AppError::BadRequest(format!("invalid multipart body: {e}")))?;
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
    let detail = db::admin::provider_detail(&state.db, &id.address)
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
