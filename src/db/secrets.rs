//! Secrets shared by every replica, and fingerprints of configured ones (`cluster_secrets`).

use super::{DbError, Pool, on_pool};

/// The stored value of `name`, if any.
pub async fn get(pool: &Pool, name: &str) -> Result<Option<String>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_scalar(
        "SELECT value FROM cluster_secrets WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(p)
    .await?))
}

/// Stores `value` under `name` unless a value is there already, and returns the one that is:
/// replicas starting at once all end up with the first one stored.
pub async fn insert_or_get(pool: &Pool, name: &str, value: &str) -> Result<String, DbError> {
    on_pool!(pool, p => sqlx::query(
        "INSERT INTO cluster_secrets (name, value, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(value)
    .bind(crate::clock::now())
    .execute(p)
    .await?
    .rows_affected());
    Ok(get(pool, name).await?.unwrap_or_else(|| value.to_owned()))
}
