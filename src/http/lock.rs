//! `POST /v1/lock`: a complete `.terraform.lock.hcl` for a configuration's provider
//! requirements (`crate::lock`), readable by whoever may read the mirror.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::access;
use super::error::AppError;
use crate::constraints::VersionConstraints;
use crate::domain::{Platform, ProviderAddress};
use crate::lock::{LockError, LockRequest, Locker, Requirement};
use crate::state::AppState;

/// Bounds on what one request may ask for (the whole body is bounded by
/// `limits.max_json_bytes`).
const MAX_PROVIDERS: usize = 200;
const MAX_PLATFORMS: usize = 32;
const MAX_CONSTRAINTS: usize = 64;
const MAX_FILES: usize = 100;
const MAX_FILE_NAME: usize = 255;

pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    let json = super::json_config(json_limit);
    cfg.service(web::resource("/v1/lock").app_data(json).post(lock_file));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    providers: Vec<ProviderBody>,
    /// `.tf` files whose `required_providers` name the providers instead (the web UI sends
    /// what a user pastes or uploads), read by `tfconfig` as `tfmirror lock` reads them.
    #[serde(default)]
    configuration: Option<Vec<ConfigFile>>,
    #[serde(default)]
    platforms: Vec<String>,
    /// An existing `.terraform.lock.hcl`.
    #[serde(default)]
    lock_file: Option<String>,
    #[serde(default)]
    upgrade: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderBody {
    /// `NAMESPACE/TYPE` or `HOST/NAMESPACE/TYPE`, as in `required_providers`.
    source: String,
    /// Every `version` constraint the configuration's modules give it.
    #[serde(default)]
    constraints: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Shown in errors: `main.tf: line 3: ...`.
    name: String,
    text: String,
}

async fn lock_file(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Body>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let body = body.into_inner();
    let request = lock_request(body)?;
    let locker = Locker {
        catalog: &state.catalog,
        pull: &state.pull,
        db: &state.db,
        max_pulls: state.config.limits.max_lock_pulls,
    };
    let locks = locker.lock(&request).await.map_err(|e| match e {
        LockError::Unsatisfiable(m) | LockError::TooManyPulls(m) => AppError::Conflict(m),
        LockError::Upstream(m) => AppError::UpstreamUnavailable(m),
        LockError::Catalog(e) => e.into(),
        LockError::Db(e) => e.into(),
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(crate::lockfile::render(&locks)))
}

/// The request as domain values; every bad part is a 400 that names it.
fn lock_request(mut body: Body) -> Result<LockRequest, AppError> {
    let bad = |m: String| AppError::BadRequest(m);
    if let Some(files) = body.configuration.take() {
        if !body.providers.is_empty() {
            return Err(bad(
                "give either providers or configuration, not both".into()
            ));
        }
        body.providers = configured_providers(&files)?;
    }
    if body.providers.is_empty() {
        return Err(bad("providers: name at least one provider".into()));
    }
    if body.providers.len() > MAX_PROVIDERS {
        return Err(bad(format!(
            "providers: at most {MAX_PROVIDERS} in one request"
        )));
    }
    if body.platforms.len() > MAX_PLATFORMS {
        return Err(bad(format!(
            "platforms: at most {MAX_PLATFORMS} in one request"
        )));
    }
    let mut providers: Vec<Requirement> = Vec::new();
    for p in &body.providers {
        let address = ProviderAddress::parse(p.source.trim())
            .map_err(|e| bad(format!("provider {:?}: {e}", p.source)))?;
        if p.constraints.len() > MAX_CONSTRAINTS {
            return Err(bad(format!(
                "provider {address}: at most {MAX_CONSTRAINTS} constraints"
            )));
        }
        let mut constraints = Vec::new();
        for c in &p.constraints {
            constraints.push(
                VersionConstraints::parse(c)
                    .map_err(|e| bad(format!("provider {address}: {e}")))?,
            );
        }
        // The same provider named twice (two modules): one requirement with both constraints.
        match providers.iter_mut().find(|r| r.address == address) {
            Some(r) => r.constraints.extend(constraints),
            None => providers.push(Requirement {
                address,
                constraints,
            }),
        }
    }
    let mut platforms: Vec<Platform> = Vec::new();
    for p in &body.platforms {
        let platform =
            Platform::parse(p.trim()).map_err(|e| bad(format!("platform {p:?}: {e}")))?;
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    let existing = match &body.lock_file {
        Some(text) => crate::lockfile::parse(text).map_err(|e| bad(format!("lock_file: {e}")))?,
        None => Vec::new(),
    };
    Ok(LockRequest {
        providers,
        platforms,
        existing,
        upgrade: body.upgrade,
    })
}

/// The providers the `required_providers` of `files` name, in the order they appear, each
/// with the `version` constraint of every entry that names it (as `tfmirror lock` gathers
/// them; local modules are not followed: their files are given like any other). A file that
/// does not read is a 400 naming it and the line.
fn configured_providers(files: &[ConfigFile]) -> Result<Vec<ProviderBody>, AppError> {
    let bad = |m: String| AppError::BadRequest(m);
    if files.is_empty() {
        return Err(bad("configuration: give at least one file".into()));
    }
    if files.len() > MAX_FILES {
        return Err(bad(format!(
            "configuration: at most {MAX_FILES} files in one request"
        )));
    }
    let mut out: Vec<ProviderBody> = Vec::new();
    for file in files {
        let name = file.name.trim();
        if name.is_empty() || name.len() > MAX_FILE_NAME || name.contains(char::is_control) {
            return Err(bad(format!(
                "configuration: a file name must be 1 to {MAX_FILE_NAME} bytes without control characters"
            )));
        }
        let found = crate::tfconfig::read(&file.text).map_err(|e| bad(format!("{name}: {e}")))?;
        for r in found.providers {
            let source = r.address.to_string();
            match out.iter_mut().find(|p| p.source == source) {
                Some(p) => p.constraints.extend(r.version),
                None => out.push(ProviderBody {
                    source,
                    constraints: r.version.into_iter().collect(),
                }),
            }
        }
    }
    if out.is_empty() {
        return Err(bad(
            "configuration: no required_providers entry in the given files".into(),
        ));
    }
    Ok(out)
}
