//! Registry modules and their stored versions. A version row is written once and never
//! updated but for its status: a later fetch with other content becomes a `module_conflicts`
//! row beside it.

use serde::Serialize;

use super::{DbError, Pool, WriteTx, on_pool};
use crate::domain::{ModuleAddress, PackageSource, Version, VersionStatus};

/// A version about to be recorded, after its archive is stored.
#[derive(Debug, Clone)]
pub struct NewModuleVersion<'a> {
    pub address: &'a ModuleAddress,
    pub version: &'a Version,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub h1: &'a str,
    pub files: i64,
    pub storage_key: &'a str,
    pub subdir: &'a str,
    pub source: PackageSource,
    pub location: Option<&'a str>,
    pub commit_sha: Option<&'a str>,
    pub created_by: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Added,
    /// The same content was stored already.
    AlreadyPresent,
    /// Other content is stored under this version; it stays, the newcomer is recorded as a
    /// conflict.
    Conflict {
        stored_h1: String,
        stored_sha256: String,
    },
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ModuleVersionRow {
    pub version: String,
    pub status: VersionStatus,
    #[sqlx(rename = "size_bytes")]
    pub size: i64,
    pub sha256: String,
    pub h1: String,
    pub files: i64,
    #[serde(skip)]
    pub storage_key: String,
    pub subdir: String,
    pub source: String,
    pub location: Option<String>,
    pub commit_sha: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub conflicts: i64,
}

const VERSION_COLUMNS: &str = "v.version, v.status, v.size_bytes, v.sha256, v.h1, v.files,
    v.storage_key, v.subdir, v.source, v.location, v.commit_sha, v.created_by, v.created_at,
    (SELECT COUNT(*) FROM module_conflicts c WHERE c.version_id = v.id) AS conflicts";

pub(crate) const MODULE_IS: &str =
    "m.hostname = $1 AND m.namespace = $2 AND m.name = $3 AND m.system = $4";

/// Binds a module's four names as `$1`..`$4` (see [`MODULE_IS`]).
macro_rules! bind_module {
    ($q:expr, $a:expr) => {
        $q.bind($a.hostname.as_str())
            .bind($a.namespace.as_str())
            .bind($a.name.as_str())
            .bind($a.system.as_str())
    };
}
pub(crate) use bind_module;

/// Records a stored version, unless the version exists: then the same content is
/// `AlreadyPresent` and other content a `Conflict` (recorded, the stored one untouched).
pub async fn record_version(pool: &Pool, v: &NewModuleVersion<'_>) -> Result<Recorded, DbError> {
    on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        let outcome = record_version_in!(tx, v);
        tx.commit().await?;
        Ok(outcome)
    })
}

/// The statements of [`record_version`] inside the open transaction `$tx`; evaluates to the
/// [`Recorded`] outcome.
macro_rules! record_version_in {
    ($tx:ident, $v:expr) => {{
        use $crate::db::modules::{MODULE_IS, Recorded};
        let v: &$crate::db::modules::NewModuleVersion<'_> = $v;
        let a = v.address;
        let version = v.version.to_string();
        let at = $crate::clock::now();
        $crate::db::modules::bind_module!(sqlx::query(
            "INSERT INTO modules (hostname, namespace, name, system, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hostname, namespace, name, system) DO NOTHING",
        ), a)
        .bind(at)
        .execute(&mut *$tx)
        .await?;
        let module_id: i64 = $crate::db::modules::bind_module!(
            sqlx::query_scalar(&format!("SELECT m.id FROM modules m WHERE {MODULE_IS}")),
            a
        )
        .fetch_one(&mut *$tx)
        .await?;
        let added: Option<i64> = sqlx::query_scalar(
            "INSERT INTO module_versions
               (module_id, version, size_bytes, sha256, h1, files, storage_key, subdir, source,
                location, commit_sha, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (module_id, version) DO NOTHING RETURNING id",
        )
        .bind(module_id)
        .bind(&version)
        .bind(v.size_bytes)
        .bind(v.sha256)
        .bind(v.h1)
        .bind(v.files)
        .bind(v.storage_key)
        .bind(v.subdir)
        .bind(v.source.as_str())
        .bind(v.location)
        .bind(v.commit_sha)
        .bind(v.created_by)
        .bind(at)
        .fetch_optional(&mut *$tx)
        .await?;
        if added.is_some() {
            Recorded::Added
        } else {
            let (id, stored_h1, stored_sha256): (i64, String, String) = sqlx::query_as(
                "SELECT id, h1, sha256 FROM module_versions WHERE module_id = $1 AND version = $2",
            )
            .bind(module_id)
            .bind(&version)
            .fetch_one(&mut *$tx)
            .await?;
            if stored_h1 == v.h1 {
                Recorded::AlreadyPresent
            } else {
                sqlx::query(
                    "INSERT INTO module_conflicts
                       (version_id, location, commit_sha, sha256, h1, first_seen, last_seen)
                     VALUES ($1, $2, $3, $4, $5, $6, $6)
                     ON CONFLICT (version_id, h1) DO UPDATE SET last_seen = excluded.last_seen",
                )
                .bind(id)
                .bind(v.location.unwrap_or(""))
                .bind(v.commit_sha)
                .bind(v.sha256)
                .bind(v.h1)
                .bind(at)
                .execute(&mut *$tx)
                .await?;
                Recorded::Conflict { stored_h1, stored_sha256 }
            }
        }
    }};
}
pub(crate) use record_version_in;

/// Every stored version of a module, newest first (blocked ones too).
pub async fn versions(pool: &Pool, a: &ModuleAddress) -> Result<Vec<ModuleVersionRow>, DbError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM module_versions v JOIN modules m ON m.id = v.module_id
         WHERE {MODULE_IS}"
    );
    let mut rows: Vec<ModuleVersionRow> =
        on_pool!(pool, p => bind_module!(sqlx::query_as(&sql), a).fetch_all(p).await?);
    rows.sort_by(|x, y| {
        let key = |v: &str| Version::parse(v).ok();
        key(&y.version).cmp(&key(&x.version))
    });
    Ok(rows)
}

/// One stored version.
pub async fn find_version(
    pool: &Pool,
    a: &ModuleAddress,
    version: &Version,
) -> Result<Option<ModuleVersionRow>, DbError> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM module_versions v JOIN modules m ON m.id = v.module_id
         WHERE {MODULE_IS} AND v.version = $5"
    );
    let version = version.to_string();
    Ok(on_pool!(pool, p => bind_module!(sqlx::query_as(&sql), a)
        .bind(&version)
        .fetch_optional(p)
        .await?))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ConflictRow {
    pub location: String,
    pub commit_sha: Option<String>,
    pub sha256: String,
    pub h1: String,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// What later fetches of a version found instead of the stored content.
pub async fn conflicts(
    pool: &Pool,
    a: &ModuleAddress,
    version: &str,
) -> Result<Vec<ConflictRow>, DbError> {
    let sql = format!(
        "SELECT c.location, c.commit_sha, c.sha256, c.h1, c.first_seen, c.last_seen
         FROM module_conflicts c JOIN module_versions v ON v.id = c.version_id
         JOIN modules m ON m.id = v.module_id
         WHERE {MODULE_IS} AND v.version = $5 ORDER BY c.first_seen"
    );
    Ok(on_pool!(pool, p => bind_module!(sqlx::query_as(&sql), a)
        .bind(version)
        .fetch_all(p)
        .await?))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ModuleSummary {
    pub hostname: String,
    pub namespace: String,
    pub name: String,
    pub system: String,
    pub versions: i64,
    pub blocked_versions: i64,
    pub bytes: i64,
    #[serde(skip)]
    pub version_list: Option<String>,
    #[sqlx(skip)]
    pub latest_version: Option<String>,
}

/// Modules whose `NAMESPACE/NAME/SYSTEM` contains `q`, by address, one page.
pub async fn modules_page(
    pool: &Pool,
    q: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ModuleSummary>, i64), DbError> {
    const FILTER: &str = "
        WHERE ($1 IS NULL OR (m.namespace || '/' || m.name || '/' || m.system) LIKE $1 ESCAPE '\\')
          AND EXISTS (SELECT 1 FROM module_versions e WHERE e.module_id = m.id)";
    let q = q.map(super::providers::like_pattern);
    let mut rows: Vec<ModuleSummary> = on_pool!(pool, p => sqlx::query_as(&format!(
        "SELECT m.hostname, m.namespace, m.name, m.system,
                (SELECT COUNT(*) FROM module_versions v WHERE v.module_id = m.id) AS versions,
                (SELECT COUNT(*) FROM module_versions v
                   WHERE v.module_id = m.id AND v.status = 'blocked') AS blocked_versions,
                (SELECT CAST(COALESCE(SUM(v.size_bytes), 0) AS BIGINT) FROM module_versions v
                   WHERE v.module_id = m.id) AS bytes,
                (SELECT string_agg(v.version, ',') FROM module_versions v
                   WHERE v.module_id = m.id) AS version_list
         FROM modules m {FILTER}
         ORDER BY m.hostname, m.namespace, m.name, m.system LIMIT $2 OFFSET $3"
    ))
    .bind(&q)
    .bind(limit)
    .bind(offset)
    .fetch_all(p).await?);
    let total: i64 = on_pool!(pool, p => sqlx::query_scalar(&format!("SELECT COUNT(*) FROM modules m {FILTER}"))
        .bind(&q)
        .fetch_one(p).await?);
    for r in &mut rows {
        r.latest_version = r
            .version_list
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|v| Version::parse(v).ok())
            .max()
            .map(|v| v.to_string());
    }
    Ok((rows, total))
}

/// Sets a version's status; `false` when the version is not stored.
pub async fn set_status(
    pool: &Pool,
    a: &ModuleAddress,
    version: &Version,
    status: VersionStatus,
) -> Result<bool, DbError> {
    let version = version.to_string();
    let done = on_pool!(pool, p => bind_module!(sqlx::query(&format!(
        "UPDATE module_versions SET status = $6 WHERE version = $5 AND module_id =
           (SELECT m.id FROM modules m WHERE {MODULE_IS})"
    )), a)
    .bind(&version)
    .bind(status)
    .execute(p)
    .await?
    .rows_affected());
    Ok(done > 0)
}

/// Deletes one version (`Some`) or the whole module (`None`). Returns the storage keys of
/// what it deleted (the caller deletes the blobs nothing references any more, checking under
/// each blob's lock), or `None` when there was nothing to delete.
pub async fn delete(
    pool: &Pool,
    a: &ModuleAddress,
    version: Option<&Version>,
) -> Result<Option<Vec<String>>, DbError> {
    let version = version.map(|v| v.to_string());
    on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        let keys: Vec<String> = bind_module!(sqlx::query_scalar(&format!(
            "SELECT DISTINCT v.storage_key FROM module_versions v JOIN modules m ON m.id = v.module_id
             WHERE {MODULE_IS} AND ($5 IS NULL OR v.version = $5)"
        )), a)
        .bind(&version)
        .fetch_all(&mut *tx)
        .await?;
        let done = bind_module!(sqlx::query(&format!(
            "DELETE FROM module_versions WHERE ($5 IS NULL OR version = $5) AND module_id =
               (SELECT m.id FROM modules m WHERE {MODULE_IS})"
        )), a)
        .bind(&version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(None);
        }
        bind_module!(sqlx::query(&format!(
            "DELETE FROM modules WHERE id = (SELECT m.id FROM modules m WHERE {MODULE_IS})
               AND NOT EXISTS (SELECT 1 FROM module_versions v WHERE v.module_id = modules.id)"
        )), a)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(keys))
    })
}

/// Every stored module version with its blob (see `packages::stored_blobs`).
pub(super) async fn stored_blobs(pool: &Pool) -> Result<Vec<super::packages::StoredBlob>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(
        "SELECT 'module ' || m.hostname || '/' || m.namespace || '/' || m.name || '/' || m.system
                || ' ' || v.version AS package,
                v.storage_key, v.sha256, v.size_bytes
         FROM module_versions v JOIN modules m ON m.id = v.module_id
         ORDER BY v.id",
    )
    .fetch_all(p).await?))
}
