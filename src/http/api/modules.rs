//! Modules: list with search, detail with every version's origin, commit and hashes (and
//! what a moved tag brought instead), block and unblock, delete, and uploads of in-house
//! module versions (the mirror as the company's private module registry).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::body::receive_upload;
use super::{Paging, audit_record, page_json};
use crate::db::{self, modules::Recorded};
use crate::domain::{ModuleAddress, Version};
use crate::http::caller::Caller;
use crate::http::error::AppError;
use crate::module_fetch::ModuleError;
use crate::state::AppState;

const MODULE: &str = "/modules/{hostname}/{namespace}/{name}/{system}";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/modules", web::get().to(list))
        .route("/modules", web::post().to(upload))
        .route(MODULE, web::get().to(detail))
        .route(MODULE, web::delete().to(delete_module))
        .route(
            "/modules/{hostname}/{namespace}/{name}/{system}/versions/{version}",
            web::delete().to(delete_version),
        )
        .route(
            "/modules/{hostname}/{namespace}/{name}/{system}/versions/{version}/status",
            web::put().to(set_status),
        );
}

type ModulePath = (String, String, String, String);
type VersionPath = (String, String, String, String, String);

fn address(p: &ModulePath) -> Result<ModuleAddress, AppError> {
    Ok(ModuleAddress::new(&p.0, &p.1, &p.2, &p.3)?)
}

fn version_address(p: VersionPath) -> Result<(ModuleAddress, Version), AppError> {
    let (h, n, m, s, v) = p;
    Ok((address(&(h, n, m, s))?, Version::parse(&v)?))
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
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
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.len() > 200) {
        return Err(AppError::BadRequest(
            "q is longer than 200 characters".into(),
        ));
    }
    let (items, total) = db::modules::modules_page(&state.db, search, limit, offset).await?;
    Ok(page_json(items, page, per_page, total))
}

async fn detail_json(state: &AppState, a: &ModuleAddress) -> Result<serde_json::Value, AppError> {
    let versions = db::modules::versions(&state.db, a).await?;
    if versions.is_empty() {
        return Err(AppError::not_found(format!(
            "module {a} is not in this mirror"
        )));
    }
    let mut listed = Vec::with_capacity(versions.len());
    for v in versions {
        let conflicts = if v.conflicts > 0 {
            db::modules::conflicts(&state.db, a, &v.version).await?
        } else {
            Vec::new()
        };
        let mut value = serde_json::to_value(&v).map_err(AppError::internal)?;
        value["changed_at_origin"] = serde_json::to_value(conflicts).map_err(AppError::internal)?;
        listed.push(value);
    }
    Ok(json!({
        "hostname": a.hostname,
        "namespace": a.namespace,
        "name": a.name,
        "system": a.system,
        "source_address": module_source(state, a),
        "versions": listed,
    }))
}

/// The source address users write for a module: without the host for the default origin.
fn module_source(state: &AppState, a: &ModuleAddress) -> String {
    if a.hostname.as_str() == state.config.registry.default_origin {
        a.path()
    } else {
        a.to_string()
    }
}

async fn detail(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<ModulePath>,
) -> Result<HttpResponse, AppError> {
    let a = address(&path)?;
    Ok(HttpResponse::Ok().json(detail_json(&state, &a).await?))
}

async fn remove(
    state: &AppState,
    caller: &Caller,
    a: &ModuleAddress,
    version: Option<&Version>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let target = match version {
        Some(v) => format!("module {a} {v}"),
        None => format!("module {a}"),
    };
    let removed = state
        .catalog
        .delete_module(a, version)
        .await?
        .ok_or_else(|| AppError::not_found(format!("{target} is not in this mirror")))?;
    let action = if version.is_some() {
        "module_version.delete"
    } else {
        "module.delete"
    };
    audit_record(
        state,
        caller,
        action,
        Some(&target),
        json!({ "blobs_removed": removed }),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_module(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ModulePath>,
) -> Result<HttpResponse, AppError> {
    remove(&state, &caller, &address(&path)?, None).await
}

async fn delete_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<VersionPath>,
) -> Result<HttpResponse, AppError> {
    let (a, v) = version_address(path.into_inner())?;
    remove(&state, &caller, &a, Some(&v)).await
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
}

async fn set_status(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<VersionPath>,
    body: web::Json<StatusBody>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let (a, version) = version_address(path.into_inner())?;
    let status = super::providers::version_status(&body.status)?;
    if !state
        .catalog
        .set_module_status(&a, &version, status)
        .await?
    {
        return Err(AppError::not_found(format!(
            "module {a} {version} is not in this mirror"
        )));
    }
    audit_record(
        &state,
        &caller,
        "module_version.status",
        Some(&format!("module {a} {version}")),
        json!({ "status": status.as_str() }),
    )
    .await?;
    let detail = db::modules::find_version(&state.db, &a, &version).await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// One in-house module version (`file`: a `.tar.gz`, `.tar` or `.zip`) with its address
/// (`hostname`, by default the mirror's origin, `namespace`, `name`, `system`, `version`).
async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let limit = state.config.limits.max_module_bytes;
    let upload = receive_upload(&req, &state, payload, limit, &[]).await?;
    let field = |name| upload.required(name);
    let hostname = upload
        .optional("hostname")
        .unwrap_or(&state.config.registry.default_origin);
    let a = ModuleAddress::new(
        hostname,
        field("namespace")?,
        field("name")?,
        field("system")?,
    )?;
    let version = Version::parse(field("version")?)?;
    let recorded = state
        .modules
        .fetcher()
        .ingest_upload(&a, &version, upload.file.path(), &caller.actor)
        .await
        .map_err(|e| match e {
            refused @ ModuleError::Refused { .. } => {
                AppError::BadRequest(format!("the archive was refused: {refused}"))
            }
            ModuleError::Catalog(e) => e.into(),
            other => AppError::internal(anyhow::Error::new(other).context("storing an upload")),
        })?;
    let stored = db::modules::find_version(&state.db, &a, &version)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("an uploaded module vanished")))?;
    let status = match recorded {
        Recorded::Added => actix_web::http::StatusCode::CREATED,
        Recorded::AlreadyPresent => actix_web::http::StatusCode::OK,
        Recorded::Conflict { stored_h1, .. } => {
            return Err(AppError::Conflict(format!(
                "module {a} {version} is already stored with other content ({stored_h1}); a stored version never changes: upload a new version"
            )));
        }
    };
    if status == actix_web::http::StatusCode::CREATED {
        audit_record(
            &state,
            &caller,
            "module.upload",
            Some(&format!("module {a} {version}")),
            json!({ "sha256": stored.sha256, "h1": stored.h1, "size": stored.size }),
        )
        .await?;
    }
    let mut body = serde_json::to_value(&stored).map_err(AppError::internal)?;
    body["module"] = json!(a.to_string());
    body["source_address"] = json!(module_source(&state, &a));
    Ok(HttpResponse::build(status).json(body))
}
