//! Jobs and their items: one item per provider/version/platform to fetch.

use sqlx::Row;

use super::{DbError, Pool};
use crate::clock::{now, now_ms};
use crate::domain::{ItemStatus, JobStatus, Platform, ProviderAddress, Version};

/// One package to fetch, as planned.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub address: ProviderAddress,
    pub version: Version,
    pub platform: Platform,
    /// Items known to be impossible at planning time are created already failed or skipped.
    pub status: ItemStatus,
    pub note: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ItemRow {
    pub id: i64,
    pub job_id: i64,
    pub hostname: String,
    pub namespace: String,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub provider_type: String,
    pub version: String,
    pub os: String,
    pub arch: String,
    pub status: ItemStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub bytes_done: i64,
    pub bytes_total: Option<i64>,
    pub next_attempt_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct JobSummary {
    pub id: i64,
    pub created_by: String,
    pub created_at: i64,
    pub cancelled: bool,
    pub status: JobStatus,
    pub total: i64,
    pub pending: i64,
    pub running: i64,
    pub succeeded: i64,
    pub skipped: i64,
    /// Items that failed (permanently, or out of attempts).
    pub failed: i64,
    /// Items stopped by a cancel.
    pub cancelled_items: i64,
    pub bytes_done: i64,
    /// When the last item finished, once none is pending or running.
    pub finished_at: Option<i64>,
}

impl JobSummary {
    pub fn is_finished(&self) -> bool {
        self.pending == 0 && self.running == 0
    }
}

/// Creates a job and all its items in one transaction.
pub async fn create_job(
    pool: &Pool,
    source: &str,
    created_by: &str,
    items: &[NewItem],
) -> Result<i64, DbError> {
    let mut tx = super::write_tx(pool).await?;
    let job_id: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (source, created_by, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(source)
    .bind(created_by)
    .bind(now())
    .fetch_one(&mut *tx)
    .await?;
    for item in items {
        let finished = item.status.is_final().then(now);
        sqlx::query(
            "INSERT INTO job_items
               (job_id, hostname, namespace, type, version, os, arch, status, last_error, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT DO NOTHING",
        )
        .bind(job_id)
        .bind(item.address.hostname.as_str())
        .bind(item.address.namespace.as_str())
        .bind(item.address.provider_type.as_str())
        .bind(item.version.to_string())
        .bind(&item.platform.os)
        .bind(&item.platform.arch)
        .bind(item.status)
        .bind(&item.note)
        .bind(finished)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(job_id)
}

const ITEM_COLUMNS: &str =
    "id, job_id, hostname, namespace, type, version, os, arch, status, attempts,
    last_error, bytes_done, bytes_total, next_attempt_at, started_at, finished_at";

/// Atomically claims the next due pending item: marks it running and counts the attempt.
pub async fn claim_next(pool: &Pool) -> Result<Option<ItemRow>, DbError> {
    let t = now();
    let t_ms = now_ms();
    Ok(sqlx::query_as::<_, ItemRow>(&format!(
        "UPDATE job_items
         SET status = 'running', attempts = attempts + 1, heartbeat_at = $1,
             started_at = COALESCE(started_at, $1), bytes_done = 0
         WHERE id = (SELECT i.id FROM job_items i JOIN jobs j ON j.id = i.job_id
                     WHERE i.status = 'pending' AND i.next_attempt_at <= $2 AND j.cancelled = 0
                     ORDER BY i.next_attempt_at, i.id LIMIT 1)
           AND status = 'pending'
         RETURNING {ITEM_COLUMNS}"
    ))
    .bind(t)
    .bind(t_ms)
    .fetch_optional(pool)
    .await?)
}

/// Earliest time (unix milliseconds) a pending item becomes due, to sleep until then.
pub async fn next_due(pool: &Pool) -> Result<Option<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(i.next_attempt_at) FROM job_items i JOIN jobs j ON j.id = i.job_id
         WHERE i.status = 'pending' AND j.cancelled = 0",
    )
    .fetch_one(pool)
    .await?)
}

/// Puts running items whose heartbeat is older than `stale_before` back in the queue.
/// At start-up the worker passes `i64::MAX`: everything left running by a crash is redone.
pub async fn reclaim_stale(pool: &Pool, stale_before: i64) -> Result<u64, DbError> {
    Ok(sqlx::query(
        "UPDATE job_items SET status = 'pending', next_attempt_at = 0, bytes_done = 0
         WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $1)",
    )
    .bind(stale_before)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Progress and heartbeat of a running item; false if the item is no longer ours to run
/// (cancelled, or reclaimed).
pub async fn heartbeat(
    pool: &Pool,
    item_id: i64,
    bytes_done: u64,
    bytes_total: Option<u64>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE job_items SET heartbeat_at = $1, bytes_done = $2, bytes_total = COALESCE($3, bytes_total)
         WHERE id = $4 AND status = 'running'",
    )
    .bind(now())
    .bind(bytes_done as i64)
    .bind(bytes_total.map(|b| b as i64))
    .bind(item_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Final state of an attempt: succeeded, skipped or failed.
pub async fn finish_item(
    pool: &Pool,
    item_id: i64,
    status: ItemStatus,
    note: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE job_items SET status = $1, last_error = $2, finished_at = $3, heartbeat_at = NULL
         WHERE id = $4 AND status = 'running'",
    )
    .bind(status)
    .bind(note)
    .bind(now())
    .bind(item_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A transient failure: back to pending, due again at `next_attempt_at_ms`.
pub async fn retry_later(
    pool: &Pool,
    item_id: i64,
    error: &str,
    next_attempt_at_ms: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE job_items SET status = 'pending', last_error = $1, next_attempt_at = $2, heartbeat_at = NULL
         WHERE id = $3 AND status = 'running'",
    )
    .bind(error)
    .bind(next_attempt_at_ms)
    .bind(item_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Cancels a job: pending items become cancelled; running ones stop at their next heartbeat.
pub async fn cancel_job(pool: &Pool, job_id: i64) -> Result<bool, DbError> {
    let mut tx = super::write_tx(pool).await?;
    let found = sqlx::query("UPDATE jobs SET cancelled = 1 WHERE id = $1")
        .bind(job_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    sqlx::query(
        "UPDATE job_items SET status = 'cancelled', finished_at = $1
         WHERE job_id = $2 AND status IN ('pending', 'running')",
    )
    .bind(now())
    .bind(job_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(found)
}

/// Puts a job's failed (and cancelled) items back in the queue with fresh attempts.
pub async fn retry_failed(pool: &Pool, job_id: i64) -> Result<u64, DbError> {
    let mut tx = super::write_tx(pool).await?;
    sqlx::query("UPDATE jobs SET cancelled = 0, finished_at = NULL WHERE id = $1")
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query(
        "UPDATE job_items SET status = 'pending', attempts = 0, next_attempt_at = 0, finished_at = NULL
         WHERE job_id = $1 AND status IN ('failed', 'cancelled')",
    )
    .bind(job_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

pub async fn job_items(pool: &Pool, job_id: i64) -> Result<Vec<ItemRow>, DbError> {
    Ok(sqlx::query_as::<_, ItemRow>(&format!(
        "SELECT {ITEM_COLUMNS} FROM job_items WHERE job_id = $1 ORDER BY hostname, namespace, type, version, os, arch"
    ))
    .bind(job_id)
    .fetch_all(pool)
    .await?)
}

pub async fn item(pool: &Pool, item_id: i64) -> Result<Option<ItemRow>, DbError> {
    Ok(sqlx::query_as::<_, ItemRow>(&format!(
        "SELECT {ITEM_COLUMNS} FROM job_items WHERE id = $1"
    ))
    .bind(item_id)
    .fetch_optional(pool)
    .await?)
}

const SUMMARY: &str = "SELECT j.id, j.created_by, j.created_at, j.cancelled,
        COUNT(i.id) AS total,
        COALESCE(SUM(CASE WHEN i.status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
        COALESCE(SUM(CASE WHEN i.status = 'running' THEN 1 ELSE 0 END), 0) AS running,
        COALESCE(SUM(CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END), 0) AS succeeded,
        COALESCE(SUM(CASE WHEN i.status = 'skipped' THEN 1 ELSE 0 END), 0) AS skipped,
        COALESCE(SUM(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0) AS failed,
        COALESCE(SUM(CASE WHEN i.status = 'cancelled' THEN 1 ELSE 0 END), 0) AS cancelled_items,
        COALESCE(SUM(i.bytes_done), 0) AS bytes_done,
        MAX(i.finished_at) AS last_finished_at,
        COALESCE(SUM(i.attempts), 0) AS attempts
    FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id";

fn summary_from_row(r: &sqlx::sqlite::SqliteRow) -> JobSummary {
    let mut s = JobSummary {
        id: r.get("id"),
        created_by: r.get("created_by"),
        created_at: r.get("created_at"),
        cancelled: r.get::<i64, _>("cancelled") != 0,
        status: JobStatus::Pending,
        total: r.get("total"),
        pending: r.get("pending"),
        running: r.get("running"),
        succeeded: r.get("succeeded"),
        skipped: r.get("skipped"),
        failed: r.get("failed"),
        cancelled_items: r.get("cancelled_items"),
        bytes_done: r.get("bytes_done"),
        finished_at: None,
    };
    if s.is_finished() {
        s.finished_at = r
            .get::<Option<i64>, _>("last_finished_at")
            .or(Some(s.created_at));
    }
    // Items that failed at planning time (platform not offered) never ran: a job whose
    // remaining items have not been tried yet is still pending.
    let attempts: i64 = r.get("attempts");
    s.status = if s.cancelled {
        JobStatus::Cancelled
    } else if s.running > 0 || (s.pending > 0 && attempts > 0) {
        JobStatus::Running
    } else if s.pending > 0 {
        JobStatus::Pending
    } else if s.failed > 0 || s.cancelled_items > 0 {
        JobStatus::Failed
    } else {
        JobStatus::Succeeded
    };
    s
}

pub async fn job_summary(pool: &Pool, job_id: i64) -> Result<Option<JobSummary>, DbError> {
    let row = sqlx::query(&format!("{SUMMARY} WHERE j.id = $1 GROUP BY j.id"))
        .bind(job_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(summary_from_row))
}

pub async fn list_jobs(pool: &Pool, limit: i64) -> Result<Vec<JobSummary>, DbError> {
    let rows = sqlx::query(&format!(
        "{SUMMARY} GROUP BY j.id ORDER BY j.id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(summary_from_row).collect())
}

/// One page of jobs, newest first, and how many there are.
pub async fn jobs_page(
    pool: &Pool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<JobSummary>, i64), DbError> {
    let rows = sqlx::query(&format!(
        "{SUMMARY} GROUP BY j.id ORDER BY j.id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(pool)
        .await?;
    Ok((rows.iter().map(summary_from_row).collect(), total))
}
