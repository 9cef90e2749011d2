//! Providers: list, detail, version status, delete.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Paging, audit_record, page_json};
use crate::db::{self, providers::ProviderFilter};
use crate::domain::{ProviderAddress, Version, VersionStatus};
use crate::http::caller::Caller;
use crate::http::error::AppError;
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
        );
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
pub(super) fn version_status(s: &str) -> Result<VersionStatus, AppError> {
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
    let (items, total) = db::providers::providers_page(&state.db, &filter, limit, offset).await?;
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
    let versions = db::providers::provider_detail(&state.db, &address)
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
    let orphans = db::providers::delete(&state.db, address, version)
        .await?
        .ok_or_else(|| AppError::not_found(format!("{target} is not in this mirror")))?;
    state.catalog.invalidate(address).await;
    let keys: Vec<crate::storage::BlobKey> = orphans
        .iter()
        .filter_map(|key| {
            let parsed = crate::storage::BlobKey::parse(key);
            if parsed.is_none() {
                tracing::error!(key, "invalid storage key in database; left in place");
            }
            parsed
        })
        .collect();
    // Checked again under the blob's lock: an upload of the same bytes may have claimed it.
    if let Err(e) = state.catalog.remove_unreferenced(&keys).await {
        tracing::warn!(error = %e, "could not delete unreferenced blobs");
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
    let detail = db::providers::provider_detail(pool, &address)
        .await?
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.version == version.to_string());
    Ok(HttpResponse::Ok().json(detail))
}
