//! Definitions files through the API: validated (every problem with its line and column),
//! resolved against the upstreams, and enqueued as a job (or only planned, `dry_run`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::audit_record;
use super::body::read_text_body;
use crate::db;
use crate::http::caller::Caller;
use crate::http::error::{AppError, FieldError, OrInternal};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/definitions", web::post().to(definitions));
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
    // Linear, but a megabyte of text is still milliseconds of CPU: off the executor, so
    // uploads never hold up the requests sharing this worker thread.
    let registry = state.registry.clone();
    let (text, validated) = web::block(move || {
        let validated = crate::jobs::validate(&text, &registry);
        (text, validated)
    })
    .await
    .or_internal("validating a definitions file")?;
    let defs = validated.map_err(|invalid| match invalid {
        crate::jobs::Invalid::File(problems) => AppError::Validation {
            message: format!("the definitions file has {}", problems.summary()),
            total: problems.total,
            errors: problems
                .listed
                .into_iter()
                .map(|e| FieldError {
                    line: e.line,
                    column: e.column,
                    message: e.message,
                })
                .collect(),
        },
        // The file is fine; the server's configuration is not: a plain error (the UI shows
        // it above the editor, not as a red line).
        crate::jobs::Invalid::Origins(problems) => {
            let mut seen = Vec::new();
            for e in problems.iter() {
                if !seen.contains(&e.message) {
                    seen.push(e.message.clone());
                }
            }
            AppError::BadRequest(format!(
                "the tfmirror configuration does not allow this file: {}",
                seen.join("; ")
            ))
        }
    })?;
    let plan = crate::jobs::plan(&state.registry, &defs)
        .await
        .map_err(|e| {
            if e.source.is_transient() {
                AppError::UpstreamUnavailable(e.to_string())
            } else {
                AppError::BadRequest(e.to_string())
            }
        })?;
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

/// The plan as the API documents it: one item per provider version, one per module version,
/// and the problems.
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
    let mut modules = Vec::new();
    for m in &plan.modules {
        for v in &m.versions {
            modules.push(json!({ "module": m.address, "version": v }));
        }
        for u in &m.unmatched {
            problems.push(format!(
                "module {}: no upstream version matches {u}",
                m.address
            ));
        }
    }
    json!({
        "items": items,
        "modules": modules,
        "problems": problems,
        "total_packages": plan.package_count(),
    })
}
