//! Providers, versions and stored package archives.

use super::{DbError, Pool, WriteTx, on_pool};
use crate::domain::{Evidence, PackageSource, Platform, ProviderAddress, Version, VersionStatus};
use crate::storage::BlobKey;

/// A package about to be recorded; its blob is already in storage.
#[derive(Debug, Clone)]
pub struct NewPackage<'a> {
    pub address: &'a ProviderAddress,
    pub version: &'a Version,
    pub platform: &'a Platform,
    pub filename: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub h1: &'a str,
    pub storage_key: &'a str,
    pub source: PackageSource,
    pub source_detail: Option<&'a str>,
    /// Proof of origin for packages fetched from a registry.
    pub evidence: Option<&'a Evidence>,
}

/// A stored package as the mirror protocol needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PackageRow {
    pub id: i64,
    pub version: String,
    pub status: VersionStatus,
    pub os: String,
    pub arch: String,
    pub filename: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub h1: String,
    pub storage_key: String,
}

/// A stored package as `verify` checks it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredBlob {
    /// `HOST/NAMESPACE/TYPE VERSION OS_ARCH`.
    pub package: String,
    pub storage_key: String,
    pub sha256: String,
    pub size_bytes: i64,
}

/// Every stored blob with its key and recorded hash: provider packages, then module
/// archives (so nothing stored is ever taken for an orphan).
pub async fn stored_blobs(pool: &Pool) -> Result<Vec<StoredBlob>, DbError> {
    let mut blobs: Vec<StoredBlob> = on_pool!(pool, p => sqlx::query_as(
        "SELECT p.hostname || '/' || p.namespace || '/' || p.type || ' ' || v.version || ' '
                || pk.os || '_' || pk.arch AS package,
                pk.storage_key, pk.sha256, pk.size_bytes
         FROM packages pk
         JOIN provider_versions v ON v.id = pk.version_id
         JOIN providers p ON p.id = v.provider_id
         ORDER BY pk.id",
    )
    .fetch_all(p).await?);
    blobs.extend(super::modules::stored_blobs(pool).await?);
    Ok(blobs)
}

/// How many storage keys [`referenced_keys`] looks up in one query (well under the smallest
/// bind-parameter limit of either database).
pub const KEY_BATCH: usize = 500;

/// Which of these blobs (at most [`KEY_BATCH`]) a package's or a module version's row
/// points at: index lookups, so finding orphans costs memory for a batch, not the table.
pub async fn referenced_keys(
    pool: &Pool,
    keys: &[BlobKey],
) -> Result<std::collections::HashSet<String>, DbError> {
    if keys.is_empty() {
        return Ok(Default::default());
    }
    let list = (1..=keys.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT storage_key FROM packages WHERE storage_key IN ({list})
         UNION SELECT storage_key FROM module_versions WHERE storage_key IN ({list})"
    );
    let found: Vec<String> = on_pool!(pool, p => {
        let mut query = sqlx::query_scalar(&sql);
        for key in keys {
            query = query.bind(key.as_str());
        }
        query.fetch_all(p).await?
    });
    Ok(found.into_iter().collect())
}

/// Whether any package's or module version's row points at this blob.
pub async fn storage_key_referenced(pool: &Pool, key: &str) -> Result<bool, DbError> {
    let used: i64 = on_pool!(pool, p => sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM packages WHERE storage_key = $1)
              + (SELECT COUNT(*) FROM module_versions WHERE storage_key = $1)")
        .bind(key)
        .fetch_one(p).await?);
    Ok(used > 0)
}

/// The sha256 of the package already stored for this version and platform, if any.
pub async fn find_package_sha256(
    pool: &Pool,
    address: &ProviderAddress,
    version: &Version,
    platform: &Platform,
) -> Result<Option<String>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_scalar(
        "SELECT pk.sha256 FROM packages pk
         JOIN provider_versions v ON v.id = pk.version_id
         JOIN providers p ON p.id = v.provider_id
         WHERE p.hostname = $1 AND p.namespace = $2 AND p.type = $3
           AND v.version = $4 AND pk.os = $5 AND pk.arch = $6",
    )
    .bind(address.hostname.as_str())
    .bind(address.namespace.as_str())
    .bind(address.provider_type.as_str())
    .bind(version.to_string())
    .bind(&platform.os)
    .bind(&platform.arch)
    .fetch_optional(p).await?))
}

/// Records a package, creating its provider and version rows as needed, in one transaction.
/// A unique violation means another writer recorded the same platform first.
pub async fn insert_package(pool: &Pool, pkg: &NewPackage<'_>) -> Result<(), DbError> {
    on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        insert_package_in!(tx, pkg);
        tx.commit().await?;
    });
    Ok(())
}

/// The statements of [`insert_package`] inside the open transaction `$tx` (a bundle records
/// all its packages and modules in one).
macro_rules! insert_package_in {
    ($tx:ident, $pkg:expr) => {{
        let pkg: &$crate::db::packages::NewPackage<'_> = $pkg;
        sqlx::query(
            "INSERT INTO providers (hostname, namespace, type) VALUES ($1, $2, $3)
             ON CONFLICT (hostname, namespace, type) DO NOTHING",
        )
        .bind(pkg.address.hostname.as_str())
        .bind(pkg.address.namespace.as_str())
        .bind(pkg.address.provider_type.as_str())
        .execute(&mut *$tx)
        .await?;
        let provider_id: i64 = sqlx::query_scalar(
            "SELECT id FROM providers WHERE hostname = $1 AND namespace = $2 AND type = $3",
        )
        .bind(pkg.address.hostname.as_str())
        .bind(pkg.address.namespace.as_str())
        .bind(pkg.address.provider_type.as_str())
        .fetch_one(&mut *$tx)
        .await?;
        sqlx::query(
            "INSERT INTO provider_versions (provider_id, version) VALUES ($1, $2)
             ON CONFLICT (provider_id, version) DO NOTHING",
        )
        .bind(provider_id)
        .bind(pkg.version.to_string())
        .execute(&mut *$tx)
        .await?;
        let version_id: i64 = sqlx::query_scalar(
            "SELECT id FROM provider_versions WHERE provider_id = $1 AND version = $2",
        )
        .bind(provider_id)
        .bind(pkg.version.to_string())
        .fetch_one(&mut *$tx)
        .await?;
        if let Some(e) = pkg.evidence {
            sqlx::query(
                "INSERT INTO version_evidence
                   (version_id, shasums, shasums_signature, signing_key_id, signing_key_armor, protocols, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (version_id) DO NOTHING",
            )
            .bind(version_id)
            .bind(&e.shasums)
            .bind(&e.signature)
            .bind(&e.signing_key_id)
            .bind(&e.signing_key_armor)
            .bind(serde_json::to_string(&e.protocols).unwrap_or_else(|_| "[]".into()))
            .bind($crate::clock::now())
            .execute(&mut *$tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO packages
               (version_id, os, arch, filename, size_bytes, sha256, h1, storage_key, source, source_detail,
                signing_key_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(version_id)
        .bind(&pkg.platform.os)
        .bind(&pkg.platform.arch)
        .bind(pkg.filename)
        .bind(pkg.size as i64)
        .bind(pkg.sha256)
        .bind(pkg.h1)
        .bind(pkg.storage_key)
        .bind(pkg.source.as_str())
        .bind(pkg.source_detail)
        .bind(pkg.evidence.and_then(|e| e.signing_key_id.as_deref()))
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(crate) use insert_package_in;

/// What the mirror serves of a provider, read in one query: its servable packages (versions
/// not blocked) and its blocked versions.
#[derive(Debug, Default)]
pub struct ProviderRows {
    pub packages: Vec<PackageRow>,
    pub blocked: Vec<String>,
}

/// A row of [`provider_rows`]: a package of a version that is not blocked, or a blocked
/// version (without package columns).
#[derive(sqlx::FromRow)]
struct ViewRow {
    id: Option<i64>,
    version: String,
    status: VersionStatus,
    os: Option<String>,
    arch: Option<String>,
    filename: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    h1: Option<String>,
    storage_key: Option<String>,
}

/// A provider's servable packages and blocked versions in one statement (on SQLite each
/// statement is a round trip to the connection's thread: two cost a quarter more per
/// uncached request).
pub async fn provider_rows(
    pool: &Pool,
    address: &ProviderAddress,
) -> Result<ProviderRows, DbError> {
    let rows: Vec<ViewRow> = on_pool!(pool, p => sqlx::query_as(
        "SELECT pk.id, v.version, v.status, pk.os, pk.arch, pk.filename, pk.size_bytes,
                pk.sha256, pk.h1, pk.storage_key
         FROM providers p
         JOIN provider_versions v ON v.provider_id = p.id
         LEFT JOIN packages pk ON pk.version_id = v.id AND v.status <> 'blocked'
         WHERE p.hostname = $1 AND p.namespace = $2 AND p.type = $3
           AND (v.status = 'blocked' OR pk.id IS NOT NULL)",
    )
    .bind(address.hostname.as_str())
    .bind(address.namespace.as_str())
    .bind(address.provider_type.as_str())
    .fetch_all(p).await?);
    let mut out = ProviderRows::default();
    for r in rows {
        if r.status == VersionStatus::Blocked {
            out.blocked.push(r.version);
            continue;
        }
        let (
            Some(id),
            Some(os),
            Some(arch),
            Some(filename),
            Some(size_bytes),
            Some(sha256),
            Some(h1),
            Some(storage_key),
        ) = (
            r.id,
            r.os,
            r.arch,
            r.filename,
            r.size_bytes,
            r.sha256,
            r.h1,
            r.storage_key,
        )
        else {
            continue;
        };
        out.packages.push(PackageRow {
            id,
            version: r.version,
            status: r.status,
            os,
            arch,
            filename,
            size_bytes,
            sha256,
            h1,
            storage_key,
        });
    }
    Ok(out)
}

/// Sets a version's status; false when there is no such version.
pub async fn set_version_status(
    pool: &Pool,
    address: &ProviderAddress,
    version: &Version,
    status: VersionStatus,
) -> Result<bool, DbError> {
    let done = on_pool!(pool, p => sqlx::query(
        "UPDATE provider_versions SET status = $1
         WHERE version = $2 AND provider_id =
           (SELECT id FROM providers WHERE hostname = $3 AND namespace = $4 AND type = $5)",
    )
    .bind(status)
    .bind(version.to_string())
    .bind(address.hostname.as_str())
    .bind(address.namespace.as_str())
    .bind(address.provider_type.as_str())
    .execute(p).await?.rows_affected());
    Ok(done > 0)
}

/// Records `now` as the first sighting of each version not seen before, and returns when
/// each of `versions` was first seen (unix seconds).
pub async fn versions_first_seen(
    pool: &Pool,
    address: &ProviderAddress,
    versions: &[String],
    now: i64,
) -> Result<std::collections::HashMap<String, i64>, DbError> {
    on_pool!(pool, p => {
    let mut tx = p.write_tx().await?;
    for v in versions {
        sqlx::query(
            "INSERT INTO upstream_versions_seen (hostname, namespace, type, version, first_seen)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(address.hostname.as_str())
        .bind(address.namespace.as_str())
        .bind(address.provider_type.as_str())
        .bind(v)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    });
    let rows: Vec<(String, i64)> = on_pool!(pool, p => sqlx::query_as(
        "SELECT version, first_seen FROM upstream_versions_seen
         WHERE hostname = $1 AND namespace = $2 AND type = $3",
    )
    .bind(address.hostname.as_str())
    .bind(address.namespace.as_str())
    .bind(address.provider_type.as_str())
    .fetch_all(p).await?);
    Ok(rows.into_iter().collect())
}

/// shasums, signature, key id, key armor, protocols (JSON).
type EvidenceRow = (
    String,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    String,
);

/// The evidence recorded for a version (the upstream's `SHA256SUMS`, signature and key).
pub async fn version_evidence(
    pool: &Pool,
    address: &ProviderAddress,
    version: &str,
) -> Result<Option<Evidence>, DbError> {
    let row: Option<EvidenceRow> = on_pool!(pool, p => sqlx::query_as(
        "SELECT e.shasums, e.shasums_signature, e.signing_key_id, e.signing_key_armor,
                    e.protocols
             FROM version_evidence e
             JOIN provider_versions v ON v.id = e.version_id
             JOIN providers p ON p.id = v.provider_id
             WHERE p.hostname = $1 AND p.namespace = $2 AND p.type = $3 AND v.version = $4",
    )
    .bind(address.hostname.as_str())
    .bind(address.namespace.as_str())
    .bind(address.provider_type.as_str())
    .bind(version)
    .fetch_optional(p).await?);
    Ok(
        row.map(|(shasums, signature, key_id, armor, protocols)| Evidence {
            shasums,
            signature,
            signing_key_id: key_id,
            signing_key_armor: armor,
            protocols: serde_json::from_str(&protocols).unwrap_or_default(),
        }),
    )
}
