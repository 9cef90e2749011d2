//! Counters over the catalog: daily download counts, the dashboard's statistics and the
//! gauges `/metrics` reads.

use std::collections::HashMap;

use serde::Serialize;

use super::{DbError, Pool, WriteTx, on_pool};
use crate::domain::ItemStatus;

/// Adds downloads counted in memory to today's rows.
pub async fn add_downloads(pool: &Pool, day: &str, counts: &[(i64, u64)]) -> Result<(), DbError> {
    on_pool!(pool, p => {
    let mut tx = p.write_tx().await?;
    for (package_id, n) in counts {
        sqlx::query(
            "INSERT INTO download_counts (package_id, day, downloads)
             SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM packages WHERE id = $1)
             ON CONFLICT (package_id, day)
             DO UPDATE SET downloads = download_counts.downloads + excluded.downloads",
        )
        .bind(package_id)
        .bind(day)
        .bind(*n as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    });
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub providers: i64,
    pub versions: i64,
    pub packages: i64,
    pub bytes: i64,
    pub origins: Vec<serde_json::Value>,
    pub top_providers: Vec<serde_json::Value>,
    pub downloads_per_day: Vec<serde_json::Value>,
}

pub async fn stats(pool: &Pool, since_day: &str) -> Result<Stats, DbError> {
    let (providers, versions, packages, bytes): (i64, i64, i64, i64) = on_pool!(pool, p => sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM providers), (SELECT COUNT(*) FROM provider_versions),
                (SELECT COUNT(*) FROM packages), (SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM packages)",
    )
    .fetch_one(p).await?);
    let origins: Vec<(String, i64, i64)> = on_pool!(pool, p => sqlx::query_as(
        "SELECT p.hostname, COUNT(pk.id), CAST(COALESCE(SUM(pk.size_bytes), 0) AS BIGINT)
         FROM packages pk JOIN provider_versions v ON v.id = pk.version_id
         JOIN providers p ON p.id = v.provider_id GROUP BY p.hostname ORDER BY p.hostname",
    )
    .fetch_all(p).await?);
    let top: Vec<(String, i64, i64)> = on_pool!(pool, p => sqlx::query_as(
        "SELECT p.hostname || '/' || p.namespace || '/' || p.type, COUNT(pk.id),
                CAST(COALESCE(SUM(pk.size_bytes), 0) AS BIGINT) AS bytes
         FROM packages pk JOIN provider_versions v ON v.id = pk.version_id
         JOIN providers p ON p.id = v.provider_id GROUP BY p.id ORDER BY bytes DESC LIMIT 10",
    )
    .fetch_all(p).await?);
    let days: Vec<(String, i64)> = on_pool!(pool, p => sqlx::query_as(
        "SELECT day, CAST(SUM(downloads) AS BIGINT) FROM download_counts WHERE day >= $1 GROUP BY day ORDER BY day",
    )
    .bind(since_day)
    .fetch_all(p).await?);
    Ok(Stats {
        providers,
        versions,
        packages,
        bytes,
        origins: origins
            .into_iter()
            .map(|(h, n, b)| serde_json::json!({"hostname": h, "packages": n, "bytes": b}))
            .collect(),
        top_providers: top
            .into_iter()
            .map(|(p, n, b)| serde_json::json!({"provider": p, "packages": n, "bytes": b}))
            .collect(),
        downloads_per_day: days
            .into_iter()
            .map(|(d, n)| serde_json::json!({"day": d, "downloads": n}))
            .collect(),
    })
}

/// Database gauges for `/metrics`.
pub struct Gauges {
    pub items: HashMap<ItemStatus, i64>,
    pub packages: i64,
    pub bytes: i64,
    pub module_versions: i64,
    pub module_bytes: i64,
}

pub async fn gauges(pool: &Pool) -> Result<Gauges, DbError> {
    let items: Vec<(ItemStatus, i64)> = on_pool!(pool, p => sqlx::query_as("SELECT status, COUNT(*) FROM job_items GROUP BY status")
            .fetch_all(p).await?);
    let (packages, bytes): (i64, i64) = on_pool!(pool, p => sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM packages")
            .fetch_one(p).await?);
    let (module_versions, module_bytes): (i64, i64) = on_pool!(pool, p => sqlx::query_as("SELECT COUNT(*), CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) FROM module_versions")
            .fetch_one(p).await?);
    Ok(Gauges {
        items: items.into_iter().collect(),
        packages,
        bytes,
        module_versions,
        module_bytes,
    })
}
