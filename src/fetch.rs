//! The one way a package comes from a registry into the catalog, shared by the job worker and
//! pull-through: download info (the archive's name and `shasum`), the signed `SHA256SUMS`
//! (which must list that `shasum`), the download (hashed as it streams to a spool file), the
//! sha256 of the bytes (which must equal `shasum`), then the catalog's ingest (`h1:`, `zh:`,
//! store, record with the evidence). A package is stored only when every step passed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio_util::sync::CancellationToken;

use crate::catalog::{Catalog, Expected, Ingest, IngestOutcome};
use crate::domain::{Evidence, PackageId, PackageSource, ProviderAddress, Version};
use crate::hashes;
use crate::upstream::client::{DownloadInfo, DownloadObserver};
use crate::upstream::{RegistryClient, UpstreamError, verify};

/// How a fetch ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    Stored,
    /// The identical archive was stored already (by an earlier fetch, import or upload).
    AlreadyStored,
}

/// Whether a version's verified `SHA256SUMS` may come from memory. Pull-through answers
/// clients and reuses what a metadata request verified moments ago; the job worker always
/// asks the registry afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sums {
    Cached,
    Fresh,
}

/// Someone following a fetch: the download's size and progress, then the moment its bytes
/// proved authentic (before they are stored).
pub trait FetchObserver: DownloadObserver {
    fn verified(&self) {}
}

/// One package to fetch and where to spool it.
pub struct FetchRequest<'a> {
    pub id: &'a PackageId,
    /// A temp file; the catalog takes it over when the package is stored.
    pub spool: &'a Path,
    pub source: PackageSource,
    /// Recorded with the package (`job 12`, `pull-through from HOST`).
    pub detail: String,
    pub sums: Sums,
    pub observer: Arc<dyn FetchObserver>,
    pub cancel: &'a CancellationToken,
}

pub struct Fetcher {
    catalog: Arc<Catalog>,
    client: Arc<RegistryClient>,
    max_archive_bytes: u64,
    /// Verified `SHA256SUMS` per version, for pull-through's metadata and downloads.
    sums: Cache<(ProviderAddress, String), Arc<Evidence>>,
}

impl Fetcher {
    pub fn new(
        catalog: Arc<Catalog>,
        client: Arc<RegistryClient>,
        max_archive_bytes: u64,
        sums_ttl: Duration,
    ) -> Self {
        Self {
            catalog,
            client,
            max_archive_bytes,
            sums: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(sums_ttl)
                .build(),
        }
    }

    pub fn client(&self) -> &Arc<RegistryClient> {
        &self.client
    }

    /// The verified `SHA256SUMS` of a version, from memory when a recent request verified it.
    pub async fn version_sums(
        &self,
        address: &ProviderAddress,
        version: &Version,
        info: &DownloadInfo,
    ) -> Result<Arc<Evidence>, UpstreamError> {
        self.sums
            .try_get_with((address.clone(), version.to_string()), async {
                Ok::<_, UpstreamError>(Arc::new(
                    verify::verified_sums(&self.client, address, info).await?,
                ))
            })
            .await
            .map_err(|e| (*e).clone())
    }

    /// A version's verified checksums if they are in memory.
    pub async fn cached_sums(
        &self,
        address: &ProviderAddress,
        version: &Version,
    ) -> Option<Arc<Evidence>> {
        self.sums.get(&(address.clone(), version.to_string())).await
    }

    /// A package's download info, its lower-case `shasum`, and its version's verified
    /// `SHA256SUMS`, which must list that `shasum`.
    pub async fn verified_info(
        &self,
        id: &PackageId,
        sums: Sums,
    ) -> Result<(DownloadInfo, String, Arc<Evidence>), UpstreamError> {
        let (info, shasum) = verify::package_info(&self.client, id).await?;
        let evidence = match sums {
            Sums::Cached => self.version_sums(&id.address, &id.version, &info).await?,
            Sums::Fresh => Arc::new(verify::verified_sums(&self.client, &id.address, &info).await?),
        };
        verify::check_listed(&evidence.shasums, &id.filename(), &shasum)?;
        Ok((info, shasum, evidence))
    }

    /// Runs the whole pipeline for one package. A package already stored with the registry's
    /// `shasum` is not downloaded again; one stored with different bytes is never replaced.
    #[tracing::instrument(skip_all, fields(package = %req.id, source = req.source.as_str()))]
    pub async fn fetch(&self, req: FetchRequest<'_>) -> Result<Fetched, UpstreamError> {
        let FetchRequest {
            id,
            spool,
            source,
            detail,
            sums,
            observer,
            cancel,
        } = req;
        let (info, shasum) = verify::package_info(&self.client, id).await?;
        let internal = |e: crate::catalog::CatalogError| UpstreamError::transient(e.to_string());
        if let Some(stored) = self.catalog.stored_sha256(id).await.map_err(internal)? {
            return if stored == shasum {
                Ok(Fetched::AlreadyStored)
            } else {
                Err(UpstreamError::permanent(format!(
                    "a different archive is already stored (sha256 {stored}); the registry now offers {shasum}"
                )))
            };
        }
        // 1-2. The signed SHA256SUMS must verify and list the registry's shasum.
        let evidence = match sums {
            Sums::Cached => self.version_sums(&id.address, &id.version, &info).await?,
            Sums::Fresh => Arc::new(verify::verified_sums(&self.client, &id.address, &info).await?),
        };
        verify::check_listed(&evidence.shasums, &id.filename(), &shasum)?;

        // 3. Download, hashing as the bytes stream to the spool file.
        let (sha256, _size) = self
            .client
            .download_to(
                &id.address,
                &info.download_url,
                spool,
                self.max_archive_bytes,
                observer.clone(),
                cancel,
            )
            .await?;
        // 4. The bytes must hash to the signed shasum.
        verify::check_sha256(&shasum, &sha256)?;
        observer.verified();

        // 5. h1/zh, store, record: the same path as every other way in.
        let outcome = self
            .catalog
            .ingest(Ingest {
                id,
                path: spool,
                expected: &Expected {
                    hashes: vec![hashes::zh(&shasum)],
                },
                source,
                source_detail: Some(&detail),
                known_sha256: Some(sha256),
                evidence: Some(&evidence),
                consume: true,
            })
            .await
            .map_err(internal)?;
        match outcome {
            IngestOutcome::Added(_) => Ok(Fetched::Stored),
            IngestOutcome::AlreadyPresent => Ok(Fetched::AlreadyStored),
            IngestOutcome::Rejected(why) => Err(UpstreamError::permanent(why.to_string())),
        }
    }
}
