//! Modules in the catalog: the one way a module version goes in (archive stored first, row
//! second, never over a stored version) and each module's stored versions, cached.

use std::path::Path;
use std::sync::Arc;

use super::{Catalog, CatalogError};
use crate::archive::{Packed, TreeLimits};
use crate::db::{self, modules::ModuleVersionRow, modules::NewModuleVersion, modules::Recorded};
use crate::domain::{ModuleAddress, PackageSource, Version, VersionStatus};
use crate::storage::BlobKey;

/// A module's stored versions, newest first (blocked ones too).
#[derive(Debug, Default)]
pub struct ModuleView {
    pub versions: Vec<ModuleVersionRow>,
}

impl super::Weighed for ModuleView {
    fn weight(&self) -> u64 {
        self.versions
            .iter()
            .map(|v| {
                let texts = [
                    &v.version,
                    &v.sha256,
                    &v.h1,
                    &v.storage_key,
                    &v.subdir,
                    &v.source,
                ];
                let optional = [&v.location, &v.commit_sha, &v.created_by];
                std::mem::size_of_val(v) as u64
                    + texts.iter().map(|t| t.len() as u64).sum::<u64>()
                    + optional
                        .iter()
                        .flat_map(|t| t.as_deref())
                        .map(|t| t.len() as u64)
                        .sum::<u64>()
                    + super::ENTRY_OVERHEAD
            })
            .sum::<u64>()
            + std::mem::size_of::<Self>() as u64
    }
}

impl ModuleView {
    pub fn get(&self, version: &str) -> Option<&ModuleVersionRow> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The versions clients may install.
    pub fn servable(&self) -> impl Iterator<Item = &ModuleVersionRow> {
        self.versions
            .iter()
            .filter(|v| v.status != VersionStatus::Blocked)
    }

    pub fn is_blocked(&self, version: &str) -> bool {
        self.get(version)
            .is_some_and(|v| v.status == VersionStatus::Blocked)
    }
}

/// A module version whose archive is repacked and hashed, ready to be stored.
pub struct PreparedModule<'a> {
    pub address: &'a ModuleAddress,
    pub version: &'a Version,
    /// The repacked `.tar.gz`, a temp file the store may take over.
    pub archive: &'a Path,
    pub packed: &'a Packed,
    /// The `//subdir` of the package clients are sent to ("" for the root).
    pub subdir: &'a str,
    pub source: PackageSource,
    pub location: Option<&'a str>,
    pub commit: Option<&'a str>,
    pub created_by: Option<&'a str>,
}

impl Catalog {
    pub fn module_limits(&self) -> TreeLimits {
        self.module_limits
    }

    /// A module's stored versions, from memory when fresh.
    pub async fn module_view(&self, a: &ModuleAddress) -> Result<Arc<ModuleView>, CatalogError> {
        let load = async {
            Ok::<_, CatalogError>(Arc::new(ModuleView {
                versions: db::modules::versions(&self.pool, a).await?,
            }))
        };
        if self.uncached {
            return load.await;
        }
        self.modules
            .try_get_with(a.clone(), load)
            .await
            .map_err(super::loader_error)
    }

    /// Stores the archive, then records the version. A version already stored is never
    /// replaced: the same content is `AlreadyPresent`, other content a `Conflict` (logged and
    /// recorded beside the stored one, whose archive stays what clients get).
    #[tracing::instrument(skip_all, fields(module = %m.address, version = %m.version))]
    pub async fn store_module(&self, m: PreparedModule<'_>) -> Result<Recorded, CatalogError> {
        if let Some(stored) = self
            .module_view(m.address)
            .await?
            .get(&m.version.to_string())
            && stored.h1 == m.packed.h1
        {
            return Ok(Recorded::AlreadyPresent);
        }
        let key = BlobKey::for_module_sha256(&m.packed.sha256).expect("sha256 hex is a valid key");
        let guard = self.blob_locks.lock(key.as_str()).await;
        self.store
            .put_owned_file(&key, m.archive, m.packed.size)
            .await?;
        let recorded = db::modules::record_version(
            &self.pool,
            &NewModuleVersion {
                address: m.address,
                version: m.version,
                size_bytes: m.packed.size as i64,
                sha256: &m.packed.sha256,
                h1: &m.packed.h1,
                files: m.packed.files as i64,
                storage_key: key.as_str(),
                subdir: m.subdir,
                source: m.source,
                location: m.location,
                commit_sha: m.commit,
                created_by: m.created_by,
            },
        )
        .await?;
        drop(guard);
        match &recorded {
            Recorded::Added => {
                tracing::info!(sha256 = %m.packed.sha256, size = m.packed.size, "module version stored");
            }
            Recorded::AlreadyPresent => {}
            Recorded::Conflict { stored_h1, .. } => {
                tracing::warn!(
                    stored = %stored_h1,
                    fetched = %m.packed.h1,
                    location = m.location.unwrap_or(""),
                    commit = m.commit.unwrap_or(""),
                    "module version changed at its origin; the stored content stays"
                );
            }
        }
        if recorded != Recorded::Added {
            self.remove_unreferenced(&[key]).await?;
        }
        self.invalidate_module(m.address).await;
        Ok(recorded)
    }

    /// Blocks or unblocks a stored version; `false` when it is not stored.
    pub async fn set_module_status(
        &self,
        a: &ModuleAddress,
        version: &Version,
        status: VersionStatus,
    ) -> Result<bool, CatalogError> {
        let done = db::modules::set_status(&self.pool, a, version, status).await?;
        self.invalidate_module(a).await;
        Ok(done)
    }

    /// Deletes a version (or the whole module) and the archives nothing else uses. `None`
    /// when nothing was stored.
    pub async fn delete_module(
        &self,
        a: &ModuleAddress,
        version: Option<&Version>,
    ) -> Result<Option<usize>, CatalogError> {
        let Some(keys) = db::modules::delete(&self.pool, a, version).await? else {
            return Ok(None);
        };
        self.invalidate_module(a).await;
        let keys: Vec<BlobKey> = keys.iter().filter_map(|k| BlobKey::parse(k)).collect();
        Ok(Some(self.remove_unreferenced(&keys).await?))
    }

    /// Drops a module's cached versions here and (on PostgreSQL) on every other replica.
    pub async fn invalidate_module(&self, a: &ModuleAddress) {
        self.modules.invalidate(a).await;
        db::notify::publish(&self.pool, &db::notify::Change::Module(a.clone())).await;
    }

    /// Drops a module's cached versions because another replica changed them.
    pub async fn invalidate_module_local(&self, a: &ModuleAddress) {
        self.modules.invalidate(a).await;
    }
}
