//! The Module Registry Protocol (`modules.v1`), for the default origin under `/v1/modules/`
//! and for every origin under `/registry/HOSTNAME/v1/modules/`:
//!
//! * `{ns}/{name}/{system}/versions`: the stored versions that are not blocked, plus (with
//!   pull-through) what the origin offers, from cached metadata when it is slow or down.
//! * `{ns}/{name}/{system}/{version}/download`: `204` with an `X-Terraform-Get` that points,
//!   by a path-absolute URL, at the mirror's own `.tar.gz` (plus the package's `//subdir`),
//!   so the client needs no second hop and nothing is fetched within its 10 s.
//! * `{ns}/{name}/{system}/{version}/archive.tar.gz`: the stored archive (GET and HEAD,
//!   ETag, Range); a version offered but not stored is fetched first (pull-through).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::access;
use super::error::AppError;
use super::mirror::{Blob, blob_response};
use crate::domain::{ModuleAddress, Version};
use crate::module_fetch::ModuleError;
use crate::state::AppState;
use crate::storage::BlobKey;

/// Routes under `/v1/modules` (the default origin), split by hand: a pattern per route would
/// run the router's regexes on every archive download (6% of its CPU when measured).
pub fn default_routes(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(default_dispatch));
}

async fn default_dispatch(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let rest = req.path().strip_prefix("/v1/modules/").unwrap_or_default();
    let parts: Vec<&str> = rest.split('/').collect();
    let method = req.method();
    let read = method == actix_web::http::Method::GET || method == actix_web::http::Method::HEAD;
    match parts.as_slice() {
        [ns, name, system, "versions"] if read => {
            access::allow_read(&req, &state).await?;
            let names = ((*ns).to_owned(), (*name).to_owned(), (*system).to_owned());
            versions_of(&state, &default_address(&state, &names)?).await
        }
        [ns, name, system, version, "download"] if read => {
            access::allow_read(&req, &state).await?;
            let names = ((*ns).to_owned(), (*name).to_owned(), (*system).to_owned());
            let a = default_address(&state, &names)?;
            download_of(&state, &a, &Version::parse(version)?, "/v1/modules").await
        }
        [ns, name, system, version, "archive.tar.gz"] if read => {
            access::allow_read(&req, &state).await?;
            let names = ((*ns).to_owned(), (*name).to_owned(), (*system).to_owned());
            let a = default_address(&state, &names)?;
            archive_of(&req, &state, &a, &Version::parse(version)?).await
        }
        [_, _, _, "versions"] | [_, _, _, _, "download" | "archive.tar.gz"] => {
            Err(AppError::MethodNotAllowed)
        }
        _ => Err(AppError::not_found(
            "not a module registry path: expected NAMESPACE/NAME/SYSTEM/versions, .../VERSION/download or .../VERSION/archive.tar.gz",
        )),
    }
}

/// Routes under `/registry` (any origin).
pub fn origin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/{host}/v1/modules/{ns}/{name}/{system}/versions").get(versions))
        .service(
            web::resource("/{host}/v1/modules/{ns}/{name}/{system}/{version}/download")
                .get(download),
        )
        .service(
            web::resource("/{host}/v1/modules/{ns}/{name}/{system}/{version}/archive.tar.gz")
                .route(web::get().to(archive))
                .route(web::head().to(archive)),
        );
}

type Names = (String, String, String);

fn default_address(
    state: &AppState,
    (ns, name, system): &Names,
) -> Result<ModuleAddress, AppError> {
    Ok(ModuleAddress::new(
        &state.config.registry.default_origin,
        ns,
        name,
        system,
    )?)
}

async fn versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (host, ns, name, system) = path.into_inner();
    versions_of(&state, &ModuleAddress::new(&host, &ns, &name, &system)?).await
}

async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (host, ns, name, system, version) = path.into_inner();
    let a = ModuleAddress::new(&host, &ns, &name, &system)?;
    let base = format!("/registry/{}/v1/modules", a.hostname);
    download_of(&state, &a, &Version::parse(&version)?, &base).await
}

async fn archive(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (host, ns, name, system, version) = path.into_inner();
    let a = ModuleAddress::new(&host, &ns, &name, &system)?;
    archive_of(&req, &state, &a, &Version::parse(&version)?).await
}

/// The origin's versions, or `None` (with the reason logged) when they cannot be had.
async fn offered(state: &AppState, a: &ModuleAddress) -> Option<std::sync::Arc<Vec<Version>>> {
    if !state.modules.enabled_for(a) {
        return None;
    }
    match state.modules.offered(a).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(module = %a, error = %e, "origin version list unavailable");
            None
        }
    }
}

async fn versions_of(state: &AppState, a: &ModuleAddress) -> Result<HttpResponse, AppError> {
    let view = state.catalog.module_view(a).await?;
    let mut listed: Vec<Version> = view
        .servable()
        .filter_map(|v| Version::parse(&v.version).ok())
        .collect();
    if let Some(offered) = offered(state, a).await {
        listed.extend(
            offered
                .iter()
                .filter(|v| !view.is_blocked(&v.to_string()))
                .cloned(),
        );
    }
    listed.sort();
    listed.dedup();
    if listed.is_empty() {
        return Err(AppError::not_found(format!(
            "module {a} is not in this mirror"
        )));
    }
    let versions: Vec<_> = listed
        .iter()
        .rev()
        .map(|v| json!({ "version": v.to_string() }))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        .json(json!({ "modules": [{ "versions": versions }] })))
}

async fn download_of(
    state: &AppState,
    a: &ModuleAddress,
    version: &Version,
    base: &str,
) -> Result<HttpResponse, AppError> {
    let key = version.to_string();
    let view = state.catalog.module_view(a).await?;
    let subdir = match view.get(&key) {
        Some(_) if view.is_blocked(&key) => {
            return Err(AppError::not_found(format!(
                "version {key} of module {a} is blocked"
            )));
        }
        Some(stored) => stored.subdir.clone(),
        None => match offered(state, a).await {
            // Fetched when the archive is asked for; the origin's location (a quick
            // metadata request) already says which subdirectory the client will need.
            Some(o) if o.contains(version) => {
                // Within the origin's metadata deadline: the client gives up after 10 s.
                let deadline = state.config.metadata_deadline(a.hostname.as_str());
                tokio::time::timeout(deadline, state.modules.fetcher().subdir_of(a, version))
                    .await
                    .map_err(|_| {
                        AppError::UpstreamUnavailable(format!(
                            "module {a} {version} is not stored and its origin did not say where it is within {} ms",
                            deadline.as_millis()
                        ))
                    })?
                    .map_err(|e| module_error(a, version, e))?
            }
            _ => {
                return Err(AppError::not_found(format!(
                    "version {key} of module {a} is not in this mirror"
                )));
            }
        },
    };
    let path = format!("{base}/{}/{key}/archive.tar.gz", a.path());
    Ok(HttpResponse::NoContent()
        .insert_header((
            "X-Terraform-Get",
            with_subdir(access::link(state, path), &subdir),
        ))
        .finish())
}

/// `URL//SUBDIR?QUERY`: go-getter's form of a package's subdirectory.
fn with_subdir(url: String, subdir: &str) -> String {
    if subdir.is_empty() {
        return url;
    }
    match url.split_once('?') {
        Some((path, query)) => format!("{path}//{subdir}?{query}"),
        None => format!("{url}//{subdir}"),
    }
}

fn module_error(a: &ModuleAddress, version: &Version, e: ModuleError) -> AppError {
    use crate::upstream::UpstreamError;
    match e {
        ModuleError::Upstream(UpstreamError::NotFound(m)) => AppError::NotFound(m),
        ModuleError::Upstream(e) if e.is_transient() => AppError::UpstreamUnavailable(format!(
            "module {a} {version} is not stored and its origin failed: {e}"
        )),
        ModuleError::Upstream(e) => AppError::UpstreamUnavailable(format!(
            "module {a} {version} cannot be fetched from its origin: {e}"
        )),
        refused @ ModuleError::Refused { .. } => {
            AppError::UpstreamUnavailable(format!("{refused}; nothing was stored"))
        }
        ModuleError::Catalog(e) => e.into(),
        ModuleError::Io(e) => {
            AppError::internal(anyhow::Error::new(e).context("fetching a module"))
        }
    }
}

async fn archive_of(
    req: &HttpRequest,
    state: &AppState,
    a: &ModuleAddress,
    version: &Version,
) -> Result<HttpResponse, AppError> {
    let key = version.to_string();
    let mut view = state.catalog.module_view(a).await?;
    if view.get(&key).is_none() && state.modules.enabled_for(a) {
        state
            .modules
            .ensure(a, version)
            .await
            .map_err(|e| module_error(a, version, e))?;
        view = state.catalog.module_view(a).await?;
    }
    let stored = view.get(&key).ok_or_else(|| {
        AppError::not_found(format!("version {key} of module {a} is not in this mirror"))
    })?;
    if view.is_blocked(&key) {
        return Err(AppError::not_found(format!(
            "version {key} of module {a} is blocked"
        )));
    }
    let blob_key = BlobKey::parse(&stored.storage_key).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "invalid storage key {:?} recorded for module {a} {key}",
            stored.storage_key
        ))
    })?;
    let name = format!("module {a} {key}");
    blob_response(
        req,
        state,
        Blob {
            key: &blob_key,
            size: stored.size as u64,
            sha256: &stored.sha256,
            content_type: "application/gzip",
            name: &name,
        },
        || {
            state
                .metrics
                .module_downloads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn subdirs_go_before_the_query() {
        assert_eq!(super::with_subdir("/a/x.tar.gz".into(), ""), "/a/x.tar.gz");
        assert_eq!(
            super::with_subdir("/a/x.tar.gz".into(), "m/n"),
            "/a/x.tar.gz//m/n"
        );
        assert_eq!(
            super::with_subdir("/a/x.tar.gz?expires=1&signature=s".into(), "m"),
            "/a/x.tar.gz//m?expires=1&signature=s"
        );
    }
}
