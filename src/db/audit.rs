//! The audit log: every mutating admin action, who did it, from where, and what changed.

use serde::Serialize;

use super::{DbError, Pool, on_pool};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub client_addr: Option<String>,
    #[serde(serialize_with = "raw_json")]
    pub details: String,
}

fn raw_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    value.serialize(s)
}

pub async fn record(
    pool: &Pool,
    actor: &str,
    action: &str,
    target: Option<&str>,
    client_addr: Option<&str>,
    details: &serde_json::Value,
) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, client_addr, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::clock::now())
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(client_addr)
    .bind(details.to_string())
    .execute(p).await?.rows_affected());
    Ok(())
}

/// One page, newest first, filtered by exact actor and/or action (bound, never spliced).
pub async fn page(
    pool: &Pool,
    actor: Option<&str>,
    action: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditEntry>, i64), DbError> {
    const FILTER: &str = "WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2)";
    let items = on_pool!(pool, p => sqlx::query_as(&format!(
        "SELECT id, at, actor, action, target, client_addr, details FROM audit_log {FILTER}
         ORDER BY id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(actor)
    .bind(action)
    .bind(limit)
    .bind(offset)
    .fetch_all(p).await?);
    let total = on_pool!(pool, p => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM audit_log {FILTER}"))
        .bind(actor)
        .bind(action)
        .fetch_one(p).await?);
    Ok((items, total))
}
