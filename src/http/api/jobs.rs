//! Jobs: list, detail, retry, cancel, and a server-sent event stream of progress.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::{Paging, audit_record, page_json};
use crate::db;
use crate::http::caller::Caller;
use crate::http::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs", web::get().to(list))
        .route("/jobs/{id}", web::get().to(detail))
        .route("/jobs/{id}/events", web::get().to(events))
        .route("/jobs/{id}/retry", web::post().to(retry))
        .route("/jobs/{id}/cancel", web::post().to(cancel));
}

#[derive(Deserialize)]
struct ListQuery {
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
    let (items, total) = db::jobs::jobs_page(&state.db, limit, offset).await?;
    Ok(page_json(items, page, per_page, total))
}

/// `{job, items}` as the detail route and every progress event carry it.
async fn job_detail(state: &AppState, id: i64) -> Result<serde_json::Value, AppError> {
    let pool = &state.db;
    let job = db::jobs::job_summary(pool, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no job {id}")))?;
    let items: Vec<serde_json::Value> = db::jobs::job_items(pool, id)
        .await?
        .into_iter()
        .map(|i| {
            let module = i.kind == "module";
            json!({
                "id": i.id,
                "kind": i.kind,
                "provider": if module {
                    format!("{}/{}/{}/{}", i.hostname, i.namespace, i.provider_type, i.os)
                } else {
                    format!("{}/{}/{}", i.hostname, i.namespace, i.provider_type)
                },
                "version": i.version,
                "platform": (!module).then(|| format!("{}_{}", i.os, i.arch)),
                "status": i.status,
                "attempts": i.attempts,
                "last_error": i.last_error,
                "bytes_done": i.bytes_done,
                "bytes_total": i.bytes_total,
            })
        })
        .collect();
    Ok(json!({ "job": job, "items": items }))
}

async fn detail(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(job_detail(&state, id.into_inner()).await?))
}

/// `progress` events every half second while the job runs (only when something changed),
/// ending after the event that shows it finished.
async fn events(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let first = job_detail(&state, id).await?;
    // A comment line now and then while nothing changes, so idle-timeout proxies keep the
    // stream open.
    const KEEPALIVE: Duration = Duration::from_secs(15);
    let stream = futures_util::stream::unfold(
        (state, Some(first), String::new(), false),
        move |(state, next, last, done)| async move {
            if done {
                return None;
            }
            let mut next = next;
            let quiet_since = std::time::Instant::now();
            loop {
                let doc = match next.take() {
                    Some(d) => d,
                    None if quiet_since.elapsed() >= KEEPALIVE => {
                        return Some((
                            Ok(web::Bytes::from_static(b": keepalive\n\n")),
                            (state, None, last, false),
                        ));
                    }
                    None => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        match job_detail(&state, id).await {
                            Ok(d) => d,
                            Err(e) => {
                                let line = format!(
                                    "event: error\ndata: {}\n\n",
                                    json!({"message": e.to_string()})
                                );
                                return Some((
                                    Ok::<_, actix_web::Error>(web::Bytes::from(line)),
                                    (state, None, last, true),
                                ));
                            }
                        }
                    }
                };
                let text = doc.to_string();
                let finished = doc["job"]["pending"] == 0 && doc["job"]["running"] == 0;
                if text != last || finished {
                    let line = format!("event: progress\ndata: {text}\n\n");
                    return Some((Ok(web::Bytes::from(line)), (state, None, text, finished)));
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let pool = &state.db;
    if db::jobs::job_summary(pool, id).await?.is_none() {
        return Err(AppError::not_found(format!("there is no job {id}")));
    }
    let n = db::jobs::retry_failed(pool, id).await?;
    audit_record(
        &state,
        &caller,
        "job.retry",
        Some(&format!("job {id}")),
        json!({ "items": n }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(db::jobs::job_summary(pool, id).await?))
}

async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let pool = &state.db;
    if !db::jobs::cancel_job(pool, id).await? {
        return Err(AppError::not_found(format!("there is no job {id}")));
    }
    audit_record(
        &state,
        &caller,
        "job.cancel",
        Some(&format!("job {id}")),
        json!({}),
    )
    .await?;
    Ok(HttpResponse::Ok().json(db::jobs::job_summary(pool, id).await?))
}
