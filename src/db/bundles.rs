//! What an air-gap bundle reads (every servable package and module version) and writes (all
//! of a verified bundle's rows in one transaction, so a bundle is listed whole or not at all).

use super::modules::{NewModuleVersion, record_version_in};
use super::packages::{NewPackage, insert_package_in};
use super::{DbError, Pool, WriteTx, on_pool};

/// A stored package whose version is not blocked, as a bundle lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportPackage {
    pub hostname: String,
    pub namespace: String,
    #[sqlx(rename = "type")]
    pub provider_type: String,
    pub version: String,
    pub os: String,
    pub arch: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub h1: String,
    pub storage_key: String,
    pub source: String,
}

/// A stored module version that is not blocked, as a bundle lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportModule {
    pub hostname: String,
    pub namespace: String,
    pub name: String,
    pub system: String,
    pub version: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub h1: String,
    pub files: i64,
    pub storage_key: String,
    pub subdir: String,
    pub location: Option<String>,
    pub commit_sha: Option<String>,
}

/// Every package of a version that is not blocked, by provider, version and platform.
pub async fn servable_packages(pool: &Pool) -> Result<Vec<ExportPackage>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(
        "SELECT p.hostname, p.namespace, p.type, v.version, pk.os, pk.arch, pk.size_bytes,
                pk.sha256, pk.h1, pk.storage_key, pk.source
         FROM packages pk
         JOIN provider_versions v ON v.id = pk.version_id
         JOIN providers p ON p.id = v.provider_id
         WHERE v.status <> 'blocked'
         ORDER BY p.hostname, p.namespace, p.type, v.version, pk.os, pk.arch",
    )
    .fetch_all(p).await?))
}

/// Every module version that is not blocked, by module and version.
pub async fn servable_modules(pool: &Pool) -> Result<Vec<ExportModule>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(
        "SELECT m.hostname, m.namespace, m.name, m.system, v.version, v.size_bytes, v.sha256,
                v.h1, v.files, v.storage_key, v.subdir, v.location, v.commit_sha
         FROM module_versions v
         JOIN modules m ON m.id = v.module_id
         WHERE v.status <> 'blocked'
         ORDER BY m.hostname, m.namespace, m.name, m.system, v.version",
    )
    .fetch_all(p).await?))
}

/// Records a verified bundle's new packages and module versions in one transaction: all of
/// them are listed, or (on any error) none.
pub async fn record(
    pool: &Pool,
    packages: &[NewPackage<'_>],
    modules: &[NewModuleVersion<'_>],
) -> Result<(), DbError> {
    on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        for pkg in packages {
            insert_package_in!(tx, pkg);
        }
        for m in modules {
            let _ = record_version_in!(tx, m);
        }
        tx.commit().await?;
    });
    Ok(())
}
