//! Pull-through downloads in progress across replicas (`pull_flights`): one replica leads
//! each package's download, the others follow.

use super::{DbError, Pool, now_sql, on_pool};

/// Takes the lead of `package`'s download for `owner` unless another owner leads it and
/// heart-beat within `stale_after_seconds`. True when `owner` leads now (taken now, or
/// already its own).
pub async fn claim(
    pool: &Pool,
    package: &str,
    owner: &str,
    stale_after_seconds: i64,
) -> Result<bool, DbError> {
    let leader: Option<String> = on_pool!(pool, p => sqlx::query_scalar(&format!(
        "INSERT INTO pull_flights (package, owner, heartbeat_at) VALUES ($1, $2, {now})
         ON CONFLICT (package) DO UPDATE
           SET owner = excluded.owner, heartbeat_at = excluded.heartbeat_at
           WHERE pull_flights.heartbeat_at < {now} - $3
         RETURNING owner",
        now = now_sql(p)
    ))
    .bind(package)
    .bind(owner)
    .bind(stale_after_seconds)
    .fetch_optional(p)
    .await?);
    let leader = match leader {
        Some(l) => Some(l),
        None => on_pool!(pool, p => sqlx::query_scalar(
            "SELECT owner FROM pull_flights WHERE package = $1",
        )
        .bind(package)
        .fetch_optional(p)
        .await?),
    };
    Ok(leader.as_deref() == Some(owner))
}

/// The leader is alive.
pub async fn heartbeat(pool: &Pool, package: &str, owner: &str) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query(&format!(
        "UPDATE pull_flights SET heartbeat_at = {} WHERE package = $1 AND owner = $2",
        now_sql(p)
    ))
    .bind(package)
    .bind(owner)
    .execute(p)
    .await?
    .rows_affected());
    Ok(())
}

/// The download ended (stored or failed): followers stop waiting.
pub async fn release(pool: &Pool, package: &str, owner: &str) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query("DELETE FROM pull_flights WHERE package = $1 AND owner = $2")
        .bind(package)
        .bind(owner)
        .execute(p)
        .await?
        .rows_affected());
    Ok(())
}
