//! Failed-login records shared by every replica (`auth::throttle` decides what they mean).

use super::{DbError, Pool, WriteTx, on_pool};

/// One key's record. Times are unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Record {
    pub failures: i64,
    pub last_failure_ms: i64,
    pub locked_until_ms: Option<i64>,
}

/// The latest lockout end among `keys` (unix milliseconds), if any key has one.
pub async fn locked_until(pool: &Pool, keys: &[String]) -> Result<Option<i64>, DbError> {
    let mut latest = None;
    for key in keys {
        let until: Option<Option<i64>> = on_pool!(pool, p => sqlx::query_scalar(
            "SELECT locked_until_ms FROM login_failures WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(p)
        .await?);
        latest = latest.max(until.flatten());
    }
    Ok(latest)
}

/// Counts a failure under every key in one transaction: `next` turns each key's record (or
/// none) into its new record. Rows are locked while they change, so failures counted at once
/// by several replicas all count. Records no longer in effect (`forget_before_ms`) go.
pub async fn record_failure(
    pool: &Pool,
    keys: &[String],
    forget_before_ms: i64,
    next: &(dyn Fn(usize, Option<Record>) -> Record + Sync),
) -> Result<(), DbError> {
    let lock = match pool {
        Pool::Postgres(_) => "FOR UPDATE",
        Pool::Sqlite(_) => "",
    };
    on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        for (i, key) in keys.iter().enumerate() {
            let old: Option<Record> = sqlx::query_as(&format!(
                "SELECT failures, last_failure_ms, locked_until_ms FROM login_failures
                 WHERE key = $1 {lock}"
            ))
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            let new = next(i, old);
            // A concurrent first failure of the same key: the insert waits for the other
            // transaction and then updates the row it made.
            sqlx::query(
                "INSERT INTO login_failures (key, failures, last_failure_ms, locked_until_ms)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET
                   failures = CASE WHEN login_failures.last_failure_ms = $5
                                   THEN excluded.failures
                                   ELSE login_failures.failures + 1 END,
                   last_failure_ms = excluded.last_failure_ms,
                   locked_until_ms = excluded.locked_until_ms",
            )
            .bind(key)
            .bind(new.failures)
            .bind(new.last_failure_ms)
            .bind(new.locked_until_ms)
            .bind(old.map_or(-1, |o| o.last_failure_ms))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "DELETE FROM login_failures WHERE last_failure_ms < $1
               AND (locked_until_ms IS NULL OR locked_until_ms < $1)",
        )
        .bind(forget_before_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

/// Forgets `keys` (a successful login).
pub async fn clear(pool: &Pool, keys: &[String]) -> Result<(), DbError> {
    for key in keys {
        on_pool!(pool, p => sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(p)
            .await?
            .rows_affected());
    }
    Ok(())
}
