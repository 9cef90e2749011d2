//! The admin API under `/api/v1`, described by `src/http/openapi.yaml` (served at
//! `/api/v1/openapi.yaml`). Every route but login and the OpenAPI document takes a
//! [`Caller`](crate::http::caller::Caller); mutating routes require the admin role and write an
//! audit row.

mod auth;
mod body;
mod bundles;
mod definitions;
mod jobs;
mod modules;
mod oidc;
mod packages;
mod providers;
mod users;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::db;
use crate::http::caller::Caller;
use crate::http::error::{AppError, OrInternal};
use crate::state::AppState;

pub const OPENAPI: &str = include_str!("../openapi.yaml");

pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    let json = crate::http::json_config(json_limit);
    let query = web::QueryConfig::default().error_handler(|err, _| {
        AppError::BadRequest(format!("invalid query parameters: {err}")).into()
    });
    let path = web::PathConfig::default().error_handler(|err, _| {
        AppError::BadRequest(format!("invalid path parameters: {err}")).into()
    });
    cfg.service(
        web::scope("/api/v1")
            .wrap(actix_web::middleware::from_fn(authorize))
            .app_data(json)
            .app_data(query)
            .app_data(path)
            .route("/openapi.yaml", web::get().to(openapi))
            .configure(auth::configure)
            .configure(oidc::configure)
            .configure(providers::configure)
            .configure(definitions::configure)
            .configure(packages::configure)
            .configure(jobs::configure)
            .configure(modules::configure)
            .configure(bundles::configure)
            .configure(users::configure)
            .route("/stats", web::get().to(stats))
            .route("/verify", web::post().to(verify))
            .route("/audit", web::get().to(audit))
            .route("/config", web::get().to(config))
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(AppError::not_found("no such API route"))
            })),
    );
}

/// The routes anyone may call (`security: []` in the OpenAPI document): logging in, the
/// document itself, what the login page shows, spending the first-admin setup link, and the
/// two single sign-on navigations.
const PUBLIC_ROUTES: [&str; 6] = [
    "/api/v1/auth/login",
    "/api/v1/auth/oidc/login",
    "/api/v1/auth/oidc/callback",
    "/api/v1/openapi.yaml",
    "/api/v1/about",
    "/api/v1/setup",
];

/// Authenticates every request but the public routes before any body is read,
/// and refuses mutating methods to viewers (403) before their handlers run.
async fn authorize(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    let path = req.path();
    let public = PUBLIC_ROUTES.contains(&path);
    if !public {
        let caller = crate::http::caller::authenticate(req.request().clone()).await?;
        if caller.role == crate::domain::Role::Consumer {
            return Err(AppError::Forbidden(
                "a consumer token reads the mirror and registry protocols only, not the admin API"
                    .into(),
            )
            .into());
        }
        let reads = matches!(
            *req.method(),
            actix_web::http::Method::GET | actix_web::http::Method::HEAD
        );
        if !reads && path != "/api/v1/auth/logout" {
            caller.require_admin()?;
        }
        req.extensions_mut().insert(caller);
    }
    let mut res = next.call(req).await?;
    // Answers for one caller: no shared or browser cache may keep them.
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}

/// `page` and `per_page`, bounded.
#[derive(Debug, Deserialize)]
pub struct Paging {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

impl Paging {
    pub const MAX_PER_PAGE: u64 = 200;

    /// (limit, offset, page, per_page); 400 for values out of range.
    pub fn resolve(&self) -> Result<(i64, i64, u64, u64), AppError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(50);
        if page == 0 || page > 1_000_000 {
            return Err(AppError::BadRequest(
                "page must be between 1 and 1000000".into(),
            ));
        }
        if per_page == 0 || per_page > Self::MAX_PER_PAGE {
            return Err(AppError::BadRequest(format!(
                "per_page must be between 1 and {}",
                Self::MAX_PER_PAGE
            )));
        }
        Ok((
            per_page as i64,
            ((page - 1) * per_page) as i64,
            page,
            per_page,
        ))
    }
}

pub fn page_json<T: serde::Serialize>(
    items: Vec<T>,
    page: u64,
    per_page: u64,
    total: i64,
) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": total,
    }))
}

/// Records a mutating action. A failure to audit fails the request: an action the log
/// cannot show must not pass silently.
pub async fn audit_record(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: Option<&str>,
    details: serde_json::Value,
) -> Result<(), AppError> {
    db::audit::record(
        &state.db,
        &caller.actor,
        action,
        target,
        caller.client_addr.as_deref(),
        &details,
    )
    .await?;
    tracing::info!(actor = %caller.actor, action, target, "audit");
    Ok(())
}

/// Re-hashes every stored package against its recorded sha256 and lists orphaned blobs;
/// changes nothing. The result also feeds `/metrics`.
async fn verify(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let report = crate::integrity::verify(&state.db, &state.catalog)
        .await
        .map_err(AppError::internal)?;
    use std::sync::atomic::Ordering::Relaxed;
    let m = &state.metrics;
    m.verify_missing.store(report.missing_count, Relaxed);
    m.verify_corrupt.store(report.corrupt_count, Relaxed);
    m.verify_orphaned.store(report.orphaned_count, Relaxed);
    m.verify_last_run
        .store(crate::clock::now().max(0) as u64, Relaxed);
    audit_record(
        &state,
        &caller,
        "storage.verify",
        None,
        json!({
            "checked": report.checked,
            "missing": report.missing_count,
            "corrupt": report.corrupt_count,
            "orphaned": report.orphaned_count,
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

async fn stats(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, AppError> {
    state.downloads.flush(&state.db).await?;
    let stats = db::stats::stats(&state.db, &crate::downloads::day(29)).await?;
    let mut value = serde_json::to_value(stats).or_internal("rendering stats")?;
    // Every one of the last 30 days, zero when nothing was downloaded.
    let counted: std::collections::HashMap<String, i64> = value["downloads_per_day"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["day"].as_str()?.to_owned(), d["downloads"].as_i64()?)))
        .collect();
    value["downloads_per_day"] = (0..30)
        .rev()
        .map(|ago| {
            let day = crate::downloads::day(ago);
            let n = counted.get(&day).copied().unwrap_or(0);
            serde_json::json!({ "day": day, "downloads": n })
        })
        .collect();
    value["upstream"] =
        serde_json::to_value(state.registry.stats()).or_internal("rendering upstream stats")?;
    Ok(HttpResponse::Ok().json(value))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    page: Option<u64>,
    per_page: Option<u64>,
}

async fn audit(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (limit, offset, page, per_page) = Paging {
        page: q.page,
        per_page: q.per_page,
    }
    .resolve()?;
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let (items, total) = db::audit::page(
        &state.db,
        nonempty(&q.actor).as_deref(),
        nonempty(&q.action).as_deref(),
        limit,
        offset,
    )
    .await?;
    Ok(page_json(items, page, per_page, total))
}

/// The effective configuration; `Secret` values serialize masked.
async fn config(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(&*state.config))
}
