//! The package catalog: the one place that puts packages in (hash, verify, store, record)
//! and renders what the mirror protocol serves (cached in memory, invalidated on change).
//! The CLI importers, the HTTP handlers and the job worker all go through it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::{self, DbError, Pool, packages::NewPackage};
use crate::domain::{Evidence, PackageId, PackageSource, ProviderAddress};
use crate::hashes::{self, HashError, PackageHashes, ZipLimits};
use crate::storage::{BlobKey, BlobStore, StorageError};

pub mod modules;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("background task failed: {0}")]
    Task(String),
    /// The database did not answer (kept apart from `Task` so it stays a 503).
    #[error("{0}")]
    Unavailable(String),
}

/// Why a package was not stored. These are the user's problem, not faults.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    Invalid(#[from] HashError),
    /// A device, a FIFO or a directory: reading it might never end.
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("archive is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    #[error("checksum mismatch: archive hashes to {actual}, expected one of {expected}")]
    HashMismatch { actual: String, expected: String },
    #[error(
        "a different archive is already stored for this version and platform (stored sha256 {stored}, this one {offered})"
    )]
    Conflict { stored: String, offered: String },
}

#[derive(Debug)]
pub enum IngestOutcome {
    Added(PackageHashes),
    /// The identical archive was already stored; nothing changed.
    AlreadyPresent,
    Rejected(Rejection),
}

/// What a package must hash to, when the caller knows (an import's `VERSION.json`, a
/// registry's signed `SHA256SUMS`). Empty means "trust the bytes as given".
#[derive(Debug, Default, Clone)]
pub struct Expected {
    /// Acceptable `h1:` or `zh:` strings; at least one must match.
    pub hashes: Vec<String>,
}

/// Everything [`Catalog::ingest`] needs to know about one archive.
pub struct Ingest<'a> {
    pub id: &'a PackageId,
    pub path: &'a Path,
    pub expected: &'a Expected,
    pub source: PackageSource,
    pub source_detail: Option<&'a str>,
    /// sha256 already computed over exactly these bytes.
    pub known_sha256: Option<String>,
    /// The file is a temp file the store may take over (move instead of copy).
    pub consume: bool,
    pub evidence: Option<&'a Evidence>,
}

/// A stored archive the mirror can serve.
#[derive(Debug, Clone)]
pub struct StoredPackage {
    /// The package's row id (download counts are kept per package).
    pub id: i64,
    pub key: BlobKey,
    pub size: u64,
    pub sha256: String,
}

/// A JSON document with its strong validator.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub etag: String,
}

impl Rendered {
    pub fn new(value: &serde_json::Value) -> Self {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        // Cached for as long as the view lives: no spare capacity from the vector's growth.
        body.shrink_to_fit();
        let body = Bytes::from(body);
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
        Self { body, etag }
    }
}

/// Everything the mirror protocol serves for one provider, rendered once: the documents, and
/// of each stored archive only what serving it needs (its file name follows from the
/// provider, version and platform, so it is not kept).
#[derive(Debug, Default)]
pub struct ProviderView {
    /// `None` when nothing servable is stored: the mirror answers 404.
    pub index: Option<Rendered>,
    /// Stored versions, in the order of their strings.
    pub versions: BTreeMap<String, VersionView>,
    /// Versions an operator blocked: never served, never fetched.
    pub blocked: std::collections::HashSet<String>,
    provider_type: Box<str>,
}

/// One stored version: its `{version}.json` and its archives.
#[derive(Debug)]
pub struct VersionView {
    pub doc: Rendered,
    /// Sorted by platform.
    pub archives: Vec<StoredArchive>,
}

/// A stored archive of a version, as `{version}.json` lists it.
#[derive(Debug)]
pub struct StoredArchive {
    /// `os_arch`.
    pub platform: Box<str>,
    pub h1: Box<str>,
    pub package: StoredPackage,
}

impl ProviderView {
    /// The stored archive a file name names (`terraform-provider-{type}_{version}_{os}_{arch}.zip`,
    /// the only names the catalog stores).
    pub fn package(&self, name: &str) -> Option<&StoredPackage> {
        let rest = name
            .strip_prefix("terraform-provider-")?
            .strip_prefix(&*self.provider_type)?
            .strip_prefix('_')?
            .strip_suffix(".zip")?;
        let (version, platform) = rest.split_once('_')?;
        let stored = self.versions.get(version)?;
        let i = stored
            .archives
            .binary_search_by(|a| (*a.platform).cmp(platform))
            .ok()?;
        Some(&stored.archives[i].package)
    }

    /// The file name of a version's archive for a platform (`os_arch`).
    pub fn filename(&self, version: &str, platform: &str) -> String {
        format!(
            "terraform-provider-{}_{version}_{platform}.zip",
            self.provider_type
        )
    }

    /// A version's stored archives as `{version}.json` lists them: platform ->
    /// `{url, hashes}` (empty when the version is not stored).
    pub fn archive_map(&self, version: &str) -> serde_json::Map<String, serde_json::Value> {
        let Some(stored) = self.versions.get(version) else {
            return serde_json::Map::new();
        };
        stored
            .archives
            .iter()
            .map(|a| {
                (
                    a.platform.to_string(),
                    json!({
                        "url": self.filename(version, &a.platform),
                        "hashes": [&*a.h1, hashes::zh(&a.package.sha256)],
                    }),
                )
            })
            .collect()
    }
}

/// Both limits of a metadata cache in one weight: every entry weighs its bytes, but at least
/// `bytes / entries`, so the cache holds at most `metadata_capacity` entries and at most
/// `metadata_capacity_mb` of documents, whichever comes first.
#[derive(Debug, Clone, Copy)]
struct CacheBound {
    bytes: u64,
    floor: u64,
}

/// What a metadata cache weighs its entries by: about how many bytes one holds in memory.
pub trait Weighed {
    fn weight(&self) -> u64;
}

/// A cache of rendered metadata: expiring after `metadata_ttl_seconds`, bounded both in
/// entries and in bytes ([`CacheBound`]).
fn metadata_cache<K, V>(cfg: &crate::config::CacheConfig) -> Cache<K, Arc<V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Weighed + Send + Sync + 'static,
{
    let bound = CacheBound::new(cfg);
    Cache::builder()
        .max_capacity(bound.bytes)
        .weigher(move |_, v: &Arc<V>| bound.weigh(v.weight()))
        .time_to_live(Duration::from_secs(cfg.metadata_ttl_seconds.max(1)))
        .build()
}

impl CacheBound {
    fn new(cfg: &crate::config::CacheConfig) -> Self {
        let bytes = cfg.metadata_capacity_mb.max(1) << 20;
        Self {
            bytes,
            floor: (bytes / cfg.metadata_capacity.max(1)).max(1),
        }
    }

    fn weigh(&self, bytes: u64) -> u32 {
        u32::try_from(bytes.max(self.floor)).unwrap_or(u32::MAX)
    }
}

/// What a map entry costs besides the bytes of its key and value (the table's slot, the
/// allocation's header): a rough figure, so the weight errs on the heavy side.
const ENTRY_OVERHEAD: u64 = 64;

/// What the allocator adds to a heap allocation (its header and rounding), on the heavy side.
const ALLOCATION_OVERHEAD: u64 = 16;

impl Weighed for ProviderView {
    fn weight(&self) -> u64 {
        let doc = |d: &Rendered| (d.body.len() + d.etag.len()) as u64 + 2 * ENTRY_OVERHEAD;
        let versions: u64 = self
            .versions
            .iter()
            .map(|(version, stored)| {
                let archives: u64 = stored
                    .archives
                    .iter()
                    .map(|a| {
                        (a.platform.len()
                            + a.h1.len()
                            + a.package.key.as_str().len()
                            + a.package.sha256.len()) as u64
                            + 4 * ALLOCATION_OVERHEAD
                    })
                    .sum();
                version.len() as u64
                    + ENTRY_OVERHEAD
                    + doc(&stored.doc)
                    + (stored.archives.capacity() * std::mem::size_of::<StoredArchive>()) as u64
                    + archives
            })
            .sum();
        let blocked: u64 = self
            .blocked
            .iter()
            .map(|v| v.len() as u64 + ENTRY_OVERHEAD)
            .sum();
        std::mem::size_of::<Self>() as u64
            + self.provider_type.len() as u64
            + self.index.as_ref().map_or(0, doc)
            + versions
            + blocked
    }
}

pub struct Catalog {
    pool: Pool,
    store: Arc<dyn BlobStore>,
    limits: ZipLimits,
    max_archive_bytes: u64,
    views: Cache<ProviderAddress, Arc<ProviderView>>,
    /// `cache.metadata_ttl_seconds = 0`: render from the database on every request.
    uncached: bool,
    metrics: Arc<crate::metrics::Metrics>,
    /// Held from "the blob is stored" until "the row that references it is written", and
    /// while an unreferenced blob is deleted, so a delete never takes the bytes of a package
    /// that is about to be listed.
    blob_locks: KeyedLocks,
    /// Each module's stored versions (see `modules.rs`).
    modules: Cache<crate::domain::ModuleAddress, Arc<modules::ModuleView>>,
    module_limits: crate::archive::TreeLimits,
}

/// One async lock per blob key, made on first use and forgotten when nobody holds it.
#[derive(Default)]
pub(crate) struct KeyedLocks {
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub(crate) struct KeyGuard<'a> {
    owner: &'a KeyedLocks,
    key: String,
    lock: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub(crate) async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let lock = self
            .locks
            .lock()
            .expect("blob locks")
            .entry(key.to_owned())
            .or_default()
            .clone();
        KeyGuard {
            owner: self,
            key: key.to_owned(),
            lock: Some(lock.lock_owned().await),
        }
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.lock.take();
        let mut locks = self.owner.locks.lock().expect("blob locks");
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

impl Catalog {
    pub fn new(
        config: &Config,
        pool: Pool,
        store: Arc<dyn BlobStore>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        let views = metadata_cache(&config.cache);
        Self {
            pool,
            store,
            limits: config.limits.zip(),
            max_archive_bytes: config.limits.max_archive_bytes,
            views,
            uncached: config.cache.metadata_ttl_seconds == 0,
            metrics,
            blob_locks: KeyedLocks::default(),
            modules: metadata_cache(&config.cache),
            module_limits: config.limits.module_tree(),
        }
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// Hashes, checks, stores and records the archive at `path`. Never overwrites: a package
    /// already stored with different bytes is rejected, leaving the stored one intact.
    pub async fn ingest_file(
        &self,
        id: &PackageId,
        path: &Path,
        expected: &Expected,
        source: PackageSource,
        source_detail: Option<&str>,
    ) -> Result<IngestOutcome, CatalogError> {
        self.ingest(Ingest {
            id,
            path,
            expected,
            source,
            source_detail,
            known_sha256: None,
            evidence: None,
            consume: false,
        })
        .await
    }

    /// The general form of [`Catalog::ingest_file`], for the worker: it passes the sha256 it
    /// computed while downloading and the evidence that proved the package authentic.
    #[tracing::instrument(skip_all, fields(package = %req.id, source = req.source.as_str()))]
    pub async fn ingest(&self, req: Ingest<'_>) -> Result<IngestOutcome, CatalogError> {
        let Ingest {
            id,
            path,
            expected,
            source,
            source_detail,
            known_sha256,
            evidence,
            consume,
        } = req;
        let meta = tokio::fs::metadata(path).await.map_err(StorageError::Io)?;
        if !meta.is_file() {
            return Ok(IngestOutcome::Rejected(Rejection::NotAFile(
                path.display().to_string(),
            )));
        }
        // Checked before a byte is read.
        let size = meta.len();
        if size > self.max_archive_bytes {
            return Ok(IngestOutcome::Rejected(Rejection::TooLarge {
                size,
                limit: self.max_archive_bytes,
            }));
        }
        let limits = self.limits;
        let owned = path.to_owned();
        let hashed = tokio::task::spawn_blocking(move || {
            hashes::hash_package_file_with(&owned, limits, known_sha256)
        })
        .await
        .map_err(|e| CatalogError::Task(e.to_string()))?;
        let hashes = match hashed {
            Ok(h) => h,
            Err(HashError::Io(e)) => return Err(StorageError::Io(e).into()),
            Err(e) => return Ok(IngestOutcome::Rejected(e.into())),
        };
        if !expected.hashes.is_empty()
            && !expected
                .hashes
                .iter()
                .any(|h| *h == hashes.h1 || *h == hashes.zh())
        {
            return Ok(IngestOutcome::Rejected(Rejection::HashMismatch {
                actual: format!("{} / {}", hashes.h1, hashes.zh()),
                expected: expected.hashes.join(", "),
            }));
        }
        if let Some(outcome) = self.compare_with_stored(id, &hashes).await? {
            return Ok(outcome);
        }
        let key = BlobKey::for_sha256(&hashes.sha256).expect("sha256 hex is a valid key");
        // Blob first, row second: a crash in between leaves an unreferenced blob, never a
        // listed package without bytes.
        let guard = self.blob_locks.lock(key.as_str()).await;
        if consume {
            self.store.put_owned_file(&key, path, hashes.size).await?;
        } else {
            self.store.put_file(&key, path, hashes.size).await?;
        }
        let filename = id.filename();
        let row = NewPackage {
            address: &id.address,
            version: &id.version,
            platform: &id.platform,
            filename: &filename,
            size: hashes.size,
            sha256: &hashes.sha256,
            h1: &hashes.h1,
            storage_key: key.as_str(),
            source,
            source_detail,
            evidence,
        };
        match db::packages::insert_package(&self.pool, &row).await {
            Ok(()) => drop(guard),
            Err(e) if e.is_unique_violation() => {
                drop(guard);
                // Someone recorded this platform first: report against what they stored, and
                // take back our bytes if they were different (and nothing else uses them).
                let outcome = self
                    .compare_with_stored(id, &hashes)
                    .await?
                    .unwrap_or(IngestOutcome::AlreadyPresent);
                if matches!(outcome, IngestOutcome::Rejected(Rejection::Conflict { .. })) {
                    self.remove_unreferenced(&[key]).await?;
                }
                return Ok(outcome);
            }
            Err(e) => return Err(e.into()),
        }
        self.invalidate(&id.address).await;
        tracing::info!(sha256 = %hashes.sha256, size = hashes.size, "package stored");
        Ok(IngestOutcome::Added(hashes))
    }

    /// The bounds every provider package's zip is read within.
    pub fn zip_limits(&self) -> ZipLimits {
        self.limits
    }

    /// The largest provider package accepted (`limits.max_archive_bytes`).
    pub fn max_archive_bytes(&self) -> u64 {
        self.max_archive_bytes
    }

    /// Records the packages and module versions of a verified bundle, whose blobs are stored,
    /// in one transaction. Each blob's lock is held and the blob checked to be in the store
    /// until the rows are written, so no delete of an unreferenced blob takes bytes that are
    /// about to be listed.
    pub async fn record_bundle(
        &self,
        packages: &[NewPackage<'_>],
        modules: &[crate::db::modules::NewModuleVersion<'_>],
    ) -> Result<(), CatalogError> {
        let mut keys: Vec<&str> = packages
            .iter()
            .map(|p| p.storage_key)
            .chain(modules.iter().map(|m| m.storage_key))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut guards = Vec::with_capacity(keys.len());
        for key in keys {
            guards.push(self.blob_locks.lock(key).await);
            let blob = BlobKey::parse(key).ok_or_else(|| StorageError::NotFound(key.into()))?;
            if !self.store.exists(&blob).await? {
                return Err(StorageError::NotFound(key.into()).into());
            }
        }
        db::bundles::record(&self.pool, packages, modules).await?;
        drop(guards);
        let mut providers: Vec<&ProviderAddress> = packages.iter().map(|p| p.address).collect();
        providers.dedup();
        for address in providers {
            self.invalidate(address).await;
        }
        let mut names: Vec<&crate::domain::ModuleAddress> =
            modules.iter().map(|m| m.address).collect();
        names.dedup();
        for address in names {
            self.invalidate_module(address).await;
        }
        Ok(())
    }

    /// Deletes the blobs no package row references (after a delete, or a lost race). Returns
    /// how many were deleted.
    pub async fn remove_unreferenced(&self, keys: &[BlobKey]) -> Result<usize, CatalogError> {
        let mut removed = 0;
        for key in keys {
            let _guard = self.blob_locks.lock(key.as_str()).await;
            if !db::packages::storage_key_referenced(&self.pool, key.as_str()).await? {
                self.store.delete(key).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The sha256 of the archive stored for this package, if any.
    pub async fn stored_sha256(&self, id: &PackageId) -> Result<Option<String>, CatalogError> {
        Ok(
            db::packages::find_package_sha256(&self.pool, &id.address, &id.version, &id.platform)
                .await?,
        )
    }

    async fn compare_with_stored(
        &self,
        id: &PackageId,
        hashes: &PackageHashes,
    ) -> Result<Option<IngestOutcome>, CatalogError> {
        let stored =
            db::packages::find_package_sha256(&self.pool, &id.address, &id.version, &id.platform)
                .await?;
        Ok(stored.map(|stored| {
            if stored == hashes.sha256 {
                IngestOutcome::AlreadyPresent
            } else {
                IngestOutcome::Rejected(Rejection::Conflict {
                    stored,
                    offered: hashes.sha256.clone(),
                })
            }
        }))
    }

    /// Drops the rendered metadata of a provider after any change to it, here and (on
    /// PostgreSQL) on every other replica.
    pub async fn invalidate(&self, address: &ProviderAddress) {
        self.views.invalidate(address).await;
        db::notify::publish(&self.pool, &db::notify::Change::Provider(address.clone())).await;
    }

    /// Drops a provider's rendered metadata because another replica changed it.
    pub async fn invalidate_local(&self, address: &ProviderAddress) {
        self.views.invalidate(address).await;
    }

    /// Drops every cached document: after the connection to the other replicas' changes was
    /// lost, any of them may be stale.
    pub fn invalidate_all(&self) {
        self.views.invalidate_all();
        self.modules.invalidate_all();
    }

    /// The rendered metadata of a provider, from memory when fresh. Concurrent misses for the
    /// same provider share one database read.
    pub async fn provider_view(
        &self,
        address: &ProviderAddress,
    ) -> Result<Arc<ProviderView>, CatalogError> {
        let load = async {
            let rows = db::packages::provider_rows(&self.pool, address).await?;
            let mut view = render(address.provider_type.as_str(), rows.packages);
            view.blocked = rows.blocked.into_iter().collect();
            Ok::<_, CatalogError>(Arc::new(view))
        };
        use std::sync::atomic::Ordering::Relaxed;
        if !self.uncached
            && let Some(view) = self.views.get(address).await
        {
            self.metrics.cache_hits.fetch_add(1, Relaxed);
            return Ok(view);
        }
        self.metrics.cache_misses.fetch_add(1, Relaxed);
        if self.uncached {
            return load.await;
        }
        self.views
            .try_get_with(address.clone(), load)
            .await
            .map_err(loader_error)
    }
}

/// What a cache loader's failure, shared by every request that waited on it, becomes: a
/// database that did not answer stays `Unavailable` (a 503), anything else is a fault.
fn loader_error(e: Arc<CatalogError>) -> CatalogError {
    match &*e {
        CatalogError::Db(d) if d.is_unavailable() => CatalogError::Unavailable(d.to_string()),
        CatalogError::Unavailable(m) => CatalogError::Unavailable(m.clone()),
        other => CatalogError::Task(other.to_string()),
    }
}

/// Renders `index.json` and every `{version}.json` from the stored rows of a provider.
fn render(provider_type: &str, rows: Vec<db::packages::PackageRow>) -> ProviderView {
    let mut view = ProviderView {
        provider_type: provider_type.into(),
        ..ProviderView::default()
    };
    let mut by_version: BTreeMap<String, Vec<(String, StoredArchive)>> = BTreeMap::new();
    for row in rows {
        // Rows were validated on the way in; a row that no longer parses is skipped, not served.
        let Some(key) = BlobKey::parse(&row.storage_key) else {
            tracing::error!(key = %row.storage_key, "invalid storage key in database; not serving it");
            continue;
        };
        let platform = format!("{}_{}", row.os, row.arch);
        by_version.entry(row.version).or_default().push((
            row.filename,
            StoredArchive {
                platform: platform.into(),
                h1: row.h1.into(),
                package: StoredPackage {
                    id: row.id,
                    key,
                    size: row.size_bytes as u64,
                    sha256: row.sha256,
                },
            },
        ));
    }
    if by_version.is_empty() {
        return view;
    }
    let index: serde_json::Map<String, serde_json::Value> =
        by_version.keys().map(|v| (v.clone(), json!({}))).collect();
    view.index = Some(Rendered::new(&json!({ "versions": index })));
    for (version, mut stored) in by_version {
        stored.sort_by(|a, b| a.1.platform.cmp(&b.1.platform));
        let listed: serde_json::Map<String, serde_json::Value> = stored
            .iter()
            .map(|(filename, a)| {
                (
                    a.platform.to_string(),
                    json!({
                        "url": filename,
                        "hashes": [&*a.h1, hashes::zh(&a.package.sha256)],
                    }),
                )
            })
            .collect();
        let doc = Rendered::new(&json!({ "archives": listed }));
        let mut archives: Vec<StoredArchive> = stored.into_iter().map(|(_, a)| a).collect();
        archives.shrink_to_fit();
        view.versions.insert(version, VersionView { doc, archives });
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CacheConfig;

    /// The rows the database would return for a provider with `versions` versions of
    /// `platforms` platforms each.
    fn rows(provider: usize, versions: usize, platforms: usize) -> Vec<db::packages::PackageRow> {
        let mut rows = Vec::new();
        for v in 0..versions {
            for p in 0..platforms {
                let sha = hex::encode(Sha256::digest(format!("{provider}-{v}-{p}")));
                rows.push(db::packages::PackageRow {
                    id: (v * platforms + p) as i64,
                    version: format!("1.0.{v}"),
                    status: crate::domain::VersionStatus::Active,
                    os: format!("os{p}"),
                    arch: "amd64".into(),
                    filename: format!("terraform-provider-p_1.0.{v}_os{p}_amd64.zip"),
                    size_bytes: 1000,
                    h1: format!("h1:{}=", &sha[..43]),
                    storage_key: BlobKey::for_sha256(&sha).unwrap().as_str().to_owned(),
                    sha256: sha,
                });
            }
        }
        rows
    }

    fn view(provider: usize, versions: usize, platforms: usize) -> Arc<ProviderView> {
        Arc::new(render("p", rows(provider, versions, platforms)))
    }

    /// The cache's byte bound holds only if a view is weighed at no less than it holds; and
    /// a view keeps each archive's facts once, beside its rendered document, so a byte bound
    /// holds several times as many providers as when it kept them three times over.
    #[test]
    fn a_view_is_weighed_at_what_it_holds_and_keeps_archives_lean() {
        for (versions, platforms) in [(1, 1), (10, 4), (300, 6)] {
            let view = view(0, versions, platforms);
            let archives = (versions * platforms) as u64;
            let documents: u64 = view
                .index
                .iter()
                .chain(view.versions.values().map(|v| &v.doc))
                .map(|d| d.body.len() as u64)
                .sum();
            // Each archive's facts live in a struct and four strings besides the documents.
            let facts =
                archives * (std::mem::size_of::<StoredArchive>() as u64 + 11 + 47 + 78 + 64);
            let weight = view.weight();
            assert!(
                weight >= documents + facts,
                "{versions}x{platforms}: weighed {weight} for {documents} + {facts} bytes"
            );
            if archives >= 40 {
                // The view before kept a package map and a JSON platform map beside the
                // documents: 1,300 bytes an archive and more.
                assert!(
                    weight / archives < 700,
                    "{versions}x{platforms}: {} bytes per archive",
                    weight / archives
                );
            }
        }
    }

    async fn fill(
        cfg: &CacheConfig,
        count: usize,
        versions: usize,
    ) -> Cache<usize, Arc<ProviderView>> {
        let cache = metadata_cache(cfg);
        for i in 0..count {
            cache.insert(i, view(i, versions, 4)).await;
        }
        cache.run_pending_tasks().await;
        cache
    }

    #[test]
    fn a_view_finds_its_archives_by_file_name_and_lists_them_as_its_document() {
        let view = view(0, 3, 2);
        let pkg = view
            .package("terraform-provider-p_1.0.2_os1_amd64.zip")
            .expect("stored");
        assert_eq!(pkg.id, 5);
        for missing in [
            "terraform-provider-p_1.0.3_os1_amd64.zip",
            "terraform-provider-p_1.0.2_os9_amd64.zip",
            "terraform-provider-q_1.0.2_os1_amd64.zip",
            "terraform-provider-p_1.0.2_os1_amd64.tar.gz",
            "terraform-provider-p-1.0.2_os1_amd64.zip",
        ] {
            assert!(view.package(missing).is_none(), "{missing}");
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&view.versions["1.0.1"].doc.body).unwrap();
        assert_eq!(
            doc["archives"],
            serde_json::Value::Object(view.archive_map("1.0.1"))
        );
        assert_eq!(
            doc["archives"]["os0_amd64"]["url"],
            "terraform-provider-p_1.0.1_os0_amd64.zip"
        );
        assert!(view.archive_map("9.9.9").is_empty());
    }

    #[tokio::test]
    async fn the_metadata_cache_holds_no_more_bytes_than_configured_however_large_the_views() {
        // 200 providers of 200 versions x 4 platforms: far more than 1 MiB of documents.
        let cfg = CacheConfig {
            metadata_ttl_seconds: 60,
            metadata_capacity_mb: 1,
            ..CacheConfig::default()
        };
        let cache = fill(&cfg, 200, 200).await;
        let held: u64 = cache.iter().map(|(_, v)| v.weight()).sum();
        assert!(cache.entry_count() > 0, "the cache still caches");
        assert!(cache.entry_count() < 200, "some views were evicted");
        assert!(
            held <= 1 << 20,
            "views of {held} bytes held under a 1 MiB bound"
        );
    }

    #[tokio::test]
    async fn the_metadata_cache_holds_no_more_entries_than_configured_however_small_the_views() {
        let cfg = CacheConfig {
            metadata_ttl_seconds: 60,
            metadata_capacity: 50,
            ..CacheConfig::default()
        };
        let cache = fill(&cfg, 500, 1).await;
        assert!(cache.entry_count() <= 50, "{} entries", cache.entry_count());
        assert!(cache.entry_count() >= 25, "{} entries", cache.entry_count());
    }
}
