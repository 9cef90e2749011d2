//! Jobs and their items: one item per provider/version/platform, or module/version, to fetch.

use super::{DbError, Pool, WriteTx, now_sql, on_pool};
use crate::clock::{now, now_ms};
use crate::domain::{ItemStatus, JobStatus, ModuleAddress, Platform, ProviderAddress, Version};

/// What an item fetches.
#[derive(Debug, Clone)]
pub enum ItemSubject {
    Package {
        address: ProviderAddress,
        platform: Platform,
    },
    Module(ModuleAddress),
}

impl ItemSubject {
    /// `(kind, hostname, namespace, type, os, arch)` as the row holds them: a module's name in
    /// `type`, its target system in `os`, `arch` empty.
    fn columns(&self) -> [&str; 6] {
        match self {
            ItemSubject::Package { address, platform } => [
                "provider",
                address.hostname.as_str(),
                address.namespace.as_str(),
                address.provider_type.as_str(),
                &platform.os,
                &platform.arch,
            ],
            ItemSubject::Module(a) => [
                "module",
                a.hostname.as_str(),
                a.namespace.as_str(),
                a.name.as_str(),
                a.system.as_str(),
                "",
            ],
        }
    }
}

/// One package or module version to fetch, as planned.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub subject: ItemSubject,
    pub version: Version,
    /// Items known to be impossible at planning time are created already failed or skipped.
    pub status: ItemStatus,
    pub note: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ItemRow {
    pub id: i64,
    pub job_id: i64,
    /// `provider` or `module` (see [`ItemSubject`]).
    pub kind: String,
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

/// Creates a job and all its items in one transaction, and wakes the workers of every
/// replica.
pub async fn create_job(
    pool: &Pool,
    source: &str,
    created_by: &str,
    items: &[NewItem],
) -> Result<i64, DbError> {
    let job_id = on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
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
            let [kind, hostname, namespace, name, os, arch] = item.subject.columns();
            sqlx::query(
                "INSERT INTO job_items
                   (job_id, hostname, namespace, type, version, os, arch, status, last_error,
                    finished_at, kind)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT DO NOTHING",
            )
            .bind(job_id)
            .bind(hostname)
            .bind(namespace)
            .bind(name)
            .bind(item.version.to_string())
            .bind(os)
            .bind(arch)
            .bind(item.status)
            .bind(&item.note)
            .bind(finished)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        job_id
    });
    super::notify::publish(pool, &super::notify::Change::Jobs).await;
    Ok(job_id)
}

const ITEM_COLUMNS: &str =
    "id, job_id, kind, hostname, namespace, type, version, os, arch, status, attempts,
    last_error, bytes_done, bytes_total, next_attempt_at, started_at, finished_at";

/// Atomically claims the next due pending item for `owner`: marks it running under that
/// lease and counts the attempt. On PostgreSQL concurrent claims skip each other's locked
/// rows (`FOR UPDATE SKIP LOCKED`), so any number of workers take distinct items without
/// waiting; SQLite's write lock makes the claim serial.
pub async fn claim_next(pool: &Pool, owner: &str) -> Result<Option<ItemRow>, DbError> {
    let lock = match pool {
        Pool::Postgres(_) => "FOR UPDATE OF i SKIP LOCKED",
        Pool::Sqlite(_) => "",
    };
    let t = now();
    let t_ms = now_ms();
    Ok(on_pool!(pool, p => sqlx::query_as::<_, ItemRow>(&format!(
        "UPDATE job_items
         SET status = 'running', attempts = attempts + 1, heartbeat_at = {now},
             started_at = COALESCE(started_at, $1), bytes_done = 0, lease_owner = $3
         WHERE id = (SELECT i.id FROM job_items i JOIN jobs j ON j.id = i.job_id
                     WHERE i.status = 'pending' AND i.next_attempt_at <= $2 AND j.cancelled = 0
                     ORDER BY i.next_attempt_at, i.id LIMIT 1 {lock})
           AND status = 'pending'
         RETURNING {ITEM_COLUMNS}",
        now = now_sql(p),
    ))
    .bind(t)
    .bind(t_ms)
    .bind(owner)
    .fetch_optional(p)
    .await?))
}

/// Earliest time (unix milliseconds) a pending item becomes due, to sleep until then.
pub async fn next_due(pool: &Pool) -> Result<Option<i64>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_scalar(
        "SELECT MIN(i.next_attempt_at) FROM job_items i JOIN jobs j ON j.id = i.job_id
         WHERE i.status = 'pending' AND j.cancelled = 0",
    )
    .fetch_one(p)
    .await?))
}

/// Puts running items whose lease holder has not heart-beaten for `stale_after_seconds`
/// (by the database's clock) back in the queue, for any worker to take. Leases that are
/// still alive are left alone, whoever holds them.
pub async fn reclaim_stale(pool: &Pool, stale_after_seconds: i64) -> Result<u64, DbError> {
    Ok(on_pool!(pool, p => sqlx::query(&format!(
        "UPDATE job_items SET status = 'pending', next_attempt_at = 0, bytes_done = 0,
                lease_owner = NULL
         WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < {} - $1)",
        now_sql(p)
    ))
    .bind(stale_after_seconds)
    .execute(p)
    .await?
    .rows_affected()))
}

/// Gives back every lease `owner` holds (a worker stopping): those items are due again at
/// once, for any worker.
pub async fn release(pool: &Pool, owner: &str) -> Result<u64, DbError> {
    let n = on_pool!(pool, p => sqlx::query(
        "UPDATE job_items SET status = 'pending', next_attempt_at = 0, bytes_done = 0,
                heartbeat_at = NULL, lease_owner = NULL
         WHERE status = 'running' AND lease_owner = $1",
    )
    .bind(owner)
    .execute(p)
    .await?
    .rows_affected());
    if n > 0 {
        super::notify::publish(pool, &super::notify::Change::Jobs).await;
    }
    Ok(n)
}

/// Progress and heartbeat of a running item; false if the lease is no longer `owner`'s
/// (cancelled, or reclaimed and perhaps taken by another worker).
pub async fn heartbeat(
    pool: &Pool,
    item_id: i64,
    owner: &str,
    bytes_done: u64,
    bytes_total: Option<u64>,
) -> Result<bool, DbError> {
    let done = on_pool!(pool, p => sqlx::query(&format!(
        "UPDATE job_items SET heartbeat_at = {}, bytes_done = $1,
                bytes_total = COALESCE($2, bytes_total)
         WHERE id = $3 AND status = 'running' AND lease_owner = $4",
        now_sql(p)
    ))
    .bind(bytes_done as i64)
    .bind(bytes_total.map(|b| b as i64))
    .bind(item_id)
    .bind(owner)
    .execute(p)
    .await?
    .rows_affected());
    Ok(done > 0)
}

/// Final state of an attempt: succeeded, skipped or failed. False (nothing changed) when
/// the lease is no longer `owner`'s: the item belongs to whoever holds it now. The finished
/// item keeps `owner` as the worker that did it.
pub async fn finish_item(
    pool: &Pool,
    item_id: i64,
    owner: &str,
    status: ItemStatus,
    note: Option<&str>,
) -> Result<bool, DbError> {
    let done = on_pool!(pool, p => sqlx::query(
        "UPDATE job_items SET status = $1, last_error = $2, finished_at = $3, heartbeat_at = NULL
         WHERE id = $4 AND status = 'running' AND lease_owner = $5",
    )
    .bind(status)
    .bind(note)
    .bind(now())
    .bind(item_id)
    .bind(owner)
    .execute(p)
    .await?
    .rows_affected());
    Ok(done > 0)
}

/// A transient failure: back to pending, due again at `next_attempt_at_ms`. False when the
/// lease is no longer `owner`'s.
pub async fn retry_later(
    pool: &Pool,
    item_id: i64,
    owner: &str,
    error: &str,
    next_attempt_at_ms: i64,
) -> Result<bool, DbError> {
    let done = on_pool!(pool, p => sqlx::query(
        "UPDATE job_items SET status = 'pending', last_error = $1, next_attempt_at = $2,
                heartbeat_at = NULL, lease_owner = NULL
         WHERE id = $3 AND status = 'running' AND lease_owner = $4",
    )
    .bind(error)
    .bind(next_attempt_at_ms)
    .bind(item_id)
    .bind(owner)
    .execute(p)
    .await?
    .rows_affected());
    Ok(done > 0)
}

/// Cancels a job: pending items become cancelled; running ones stop at their next heartbeat.
pub async fn cancel_job(pool: &Pool, job_id: i64) -> Result<bool, DbError> {
    Ok(on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        let found = sqlx::query("UPDATE jobs SET cancelled = 1 WHERE id = $1")
            .bind(job_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        sqlx::query(
            "UPDATE job_items SET status = 'cancelled', finished_at = $1, lease_owner = NULL
             WHERE job_id = $2 AND status IN ('pending', 'running')",
        )
        .bind(now())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        found
    }))
}

/// Puts a job's failed (and cancelled) items back in the queue with fresh attempts.
pub async fn retry_failed(pool: &Pool, job_id: i64) -> Result<u64, DbError> {
    let n = on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        sqlx::query("UPDATE jobs SET cancelled = 0, finished_at = NULL WHERE id = $1")
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query(
            "UPDATE job_items SET status = 'pending', attempts = 0, next_attempt_at = 0,
                    finished_at = NULL
             WHERE job_id = $1 AND status IN ('failed', 'cancelled')",
        )
        .bind(job_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        n
    });
    if n > 0 {
        super::notify::publish(pool, &super::notify::Change::Jobs).await;
    }
    Ok(n)
}

pub async fn job_items(pool: &Pool, job_id: i64) -> Result<Vec<ItemRow>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as::<_, ItemRow>(&format!(
        "SELECT {ITEM_COLUMNS} FROM job_items WHERE job_id = $1
         ORDER BY hostname, namespace, type, version, os, arch"
    ))
    .bind(job_id)
    .fetch_all(p)
    .await?))
}

pub async fn item(pool: &Pool, item_id: i64) -> Result<Option<ItemRow>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as::<_, ItemRow>(&format!(
        "SELECT {ITEM_COLUMNS} FROM job_items WHERE id = $1"
    ))
    .bind(item_id)
    .fetch_optional(p)
    .await?))
}

/// `SUM` of a BIGINT is NUMERIC on PostgreSQL: every sum is cast back.
const SUMMARY: &str = "SELECT j.id, j.created_by, j.created_at, j.cancelled,
        COUNT(i.id) AS total,
        CAST(COALESCE(SUM(CASE WHEN i.status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending,
        CAST(COALESCE(SUM(CASE WHEN i.status = 'running' THEN 1 ELSE 0 END), 0) AS BIGINT) AS running,
        CAST(COALESCE(SUM(CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END), 0) AS BIGINT) AS succeeded,
        CAST(COALESCE(SUM(CASE WHEN i.status = 'skipped' THEN 1 ELSE 0 END), 0) AS BIGINT) AS skipped,
        CAST(COALESCE(SUM(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS failed,
        CAST(COALESCE(SUM(CASE WHEN i.status = 'cancelled' THEN 1 ELSE 0 END), 0) AS BIGINT) AS cancelled_items,
        CAST(COALESCE(SUM(i.bytes_done), 0) AS BIGINT) AS bytes_done,
        MAX(i.finished_at) AS last_finished_at,
        CAST(COALESCE(SUM(i.attempts), 0) AS BIGINT) AS attempts
    FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id";

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: i64,
    created_by: String,
    created_at: i64,
    cancelled: i64,
    total: i64,
    pending: i64,
    running: i64,
    succeeded: i64,
    skipped: i64,
    failed: i64,
    cancelled_items: i64,
    bytes_done: i64,
    last_finished_at: Option<i64>,
    attempts: i64,
}

impl From<SummaryRow> for JobSummary {
    fn from(r: SummaryRow) -> Self {
        let mut s = JobSummary {
            id: r.id,
            created_by: r.created_by,
            created_at: r.created_at,
            cancelled: r.cancelled != 0,
            status: JobStatus::Pending,
            total: r.total,
            pending: r.pending,
            running: r.running,
            succeeded: r.succeeded,
            skipped: r.skipped,
            failed: r.failed,
            cancelled_items: r.cancelled_items,
            bytes_done: r.bytes_done,
            finished_at: None,
        };
        if s.is_finished() {
            s.finished_at = r.last_finished_at.or(Some(s.created_at));
        }
        // Items that failed at planning time (platform not offered) never ran: a job whose
        // remaining items have not been tried yet is still pending.
        s.status = if s.cancelled {
            JobStatus::Cancelled
        } else if s.running > 0 || (s.pending > 0 && r.attempts > 0) {
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
}

pub async fn job_summary(pool: &Pool, job_id: i64) -> Result<Option<JobSummary>, DbError> {
    let row: Option<SummaryRow> = on_pool!(pool, p => sqlx::query_as(&format!(
        "{SUMMARY} WHERE j.id = $1 GROUP BY j.id"
    ))
    .bind(job_id)
    .fetch_optional(p)
    .await?);
    Ok(row.map(JobSummary::from))
}

pub async fn list_jobs(pool: &Pool, limit: i64) -> Result<Vec<JobSummary>, DbError> {
    Ok(jobs_page(pool, limit, 0).await?.0)
}

/// One page of jobs, newest first, and how many there are.
pub async fn jobs_page(
    pool: &Pool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<JobSummary>, i64), DbError> {
    let (rows, total): (Vec<SummaryRow>, i64) = on_pool!(pool, p => {
        let rows = sqlx::query_as(&format!(
            "{SUMMARY} GROUP BY j.id ORDER BY j.id DESC LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(p)
        .await?;
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
            .fetch_one(p)
            .await?;
        (rows, total)
    });
    Ok((rows.into_iter().map(JobSummary::from).collect(), total))
}
