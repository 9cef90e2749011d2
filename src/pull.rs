//! Pull-through caching: a mirror request for something not stored is answered from the
//! origin registry, when its `upstream` block sets `pull_through = true` and its allow/deny
//! lists permit the provider. Nothing else is ever contacted.
//!
//! * Version lists and verified `SHA256SUMS` are cached in memory (moka); when the upstream
//!   is down the last good version list is served stale.
//! * An archive is downloaded once however many clients ask at the same time (single-flight):
//!   the download spools to a temp file that every waiting client streams from as it grows.
//!   It is verified exactly as the job worker verifies (signed `SHA256SUMS`, `shasum`, sha256
//!   of the bytes), then stored. The last byte is held back from clients until the bytes are
//!   verified, so no client ever receives a complete copy of a bad archive, and a package that
//!   fails verification is never stored or listed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::future::Cache;
use serde_json::json;
use tokio::sync::watch;

use crate::catalog::{
    Catalog, Expected, Ingest, IngestOutcome, PackageId, PackageSource, ProviderView, Rendered,
};
use crate::config::{Config, UpstreamConfig};
use crate::db::{self, packages::Evidence};
use crate::domain::{Platform, ProviderAddress, Version};
use crate::hashes;
use crate::upstream::client::{DownloadInfo, UpstreamVersion, shasum_for};
use crate::upstream::{RegistryClient, UpstreamError, verify};

/// An upstream's version list with when the mirror first saw each version.
#[derive(Debug)]
pub struct Listing {
    pub versions: Vec<UpstreamVersion>,
    first_seen: HashMap<String, i64>,
}

/// A version's verified `SHA256SUMS` and the evidence to record with its packages.
#[derive(Debug)]
pub struct VersionSums {
    pub evidence: Evidence,
}

/// How far a shared download has got.
#[derive(Debug, Clone, Default)]
pub struct FlightState {
    /// The archive's size, once the upstream answered.
    pub total: Option<u64>,
    /// Bytes in the spool file so far.
    pub written: u64,
    /// The whole download hashed to the signed `shasum`: clients may have the last byte.
    pub verified: bool,
    /// `Some(Ok)` once verified and stored; `Some(Err)` when it failed.
    pub outcome: Option<Result<(), String>>,
}

/// One upstream download that any number of clients stream from.
pub struct Flight {
    pub path: PathBuf,
    state: watch::Sender<FlightState>,
}

impl Flight {
    pub fn subscribe(&self) -> watch::Receiver<FlightState> {
        self.state.subscribe()
    }
}

fn too_slow(deadline: Duration) -> UpstreamError {
    UpstreamError::transient(format!(
        "the origin did not answer within {} ms",
        deadline.as_millis()
    ))
}

pub struct PullThrough {
    catalog: Arc<Catalog>,
    client: Arc<RegistryClient>,
    config: Arc<Config>,
    tmp_dir: PathBuf,
    fresh: Cache<ProviderAddress, Arc<Listing>>,
    last_good: Cache<ProviderAddress, Arc<Listing>>,
    sums: Cache<(ProviderAddress, String), Arc<VersionSums>>,
    flights: Mutex<HashMap<PackageId, Arc<Flight>>>,
}

impl PullThrough {
    pub fn new(config: Arc<Config>, catalog: Arc<Catalog>, client: Arc<RegistryClient>) -> Self {
        let ttl = config
            .upstream
            .values()
            .map(|u| u.metadata_ttl_seconds)
            .min()
            .unwrap_or(300)
            .max(1);
        Self {
            tmp_dir: config.data_dir.join("tmp/pull"),
            fresh: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(ttl))
                .build(),
            last_good: Cache::builder().max_capacity(10_000).build(),
            sums: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(ttl))
                .build(),
            flights: Mutex::new(HashMap::new()),
            catalog,
            client,
            config,
        }
    }

    /// Clears spool files a crash left behind; call once before serving.
    pub fn clear_spool(&self) -> std::io::Result<()> {
        if self.tmp_dir.exists() {
            std::fs::remove_dir_all(&self.tmp_dir)?;
        }
        std::fs::create_dir_all(&self.tmp_dir)
    }

    /// The upstream block that allows pulling this provider through, if any.
    fn upstream_for(&self, address: &ProviderAddress) -> Option<&UpstreamConfig> {
        self.config
            .upstream
            .get(address.hostname.as_str())
            .filter(|u| {
                u.pull_through
                    && u.permits(address.namespace.as_str(), address.provider_type.as_str())
            })
    }

    pub fn enabled_for(&self, address: &ProviderAddress) -> bool {
        self.upstream_for(address).is_some()
    }

    /// The upstream's version list, fresh within the TTL; the last good one when the
    /// upstream fails.
    pub async fn listing(&self, address: &ProviderAddress) -> Result<Arc<Listing>, UpstreamError> {
        let deadline = self.deadline(address);
        let fetch = self.fresh.try_get_with(address.clone(), async {
            let versions = self.client.versions(address).await?;
            let names: Vec<String> = versions.iter().map(|v| v.version.clone()).collect();
            let first_seen = db::packages::versions_first_seen(
                self.catalog.pool(),
                address,
                &names,
                db::jobs::now(),
            )
            .await
            .map_err(|e| UpstreamError::transient(e.to_string()))?;
            Ok::<_, UpstreamError>(Arc::new(Listing {
                versions,
                first_seen,
            }))
        });
        let fetched = match tokio::time::timeout(deadline, fetch).await {
            Ok(result) => result,
            Err(_) => Err(Arc::new(too_slow(deadline))),
        };
        match fetched {
            Ok(listing) => {
                self.last_good
                    .insert(address.clone(), listing.clone())
                    .await;
                Ok(listing)
            }
            Err(e) => match self.last_good.get(address).await {
                Some(stale) => {
                    tracing::warn!(%address, error = %e, "upstream failed; serving its last version list");
                    Ok(stale)
                }
                None => Err((*e).clone()),
            },
        }
    }

    /// The upstream versions this mirror offers: valid, not blocked, old enough.
    pub async fn offered(
        &self,
        address: &ProviderAddress,
        view: &ProviderView,
    ) -> Result<Vec<UpstreamVersion>, UpstreamError> {
        let Some(upstream) = self.upstream_for(address) else {
            return Ok(Vec::new());
        };
        let listing = self.listing(address).await?;
        let min_age = (upstream.min_release_age_hours * 3600) as i64;
        let now = db::jobs::now();
        Ok(listing
            .versions
            .iter()
            .filter(|v| Version::parse(&v.version).is_ok())
            .filter(|v| !view.blocked.contains(&v.version))
            .filter(|v| {
                min_age == 0
                    || view.archives.contains_key(&v.version)
                    || listing
                        .first_seen
                        .get(&v.version)
                        .is_some_and(|seen| now - seen >= min_age)
            })
            .cloned()
            .collect())
    }

    /// `index.json` for a pull-through provider: stored and offered upstream versions.
    /// `None` (a 404) when neither has any; an upstream failure with nothing stored is a 404
    /// too, so the client falls back to its next installation method.
    pub async fn index(&self, address: &ProviderAddress, view: &ProviderView) -> Option<Rendered> {
        let mut versions: HashSet<String> = view.archives.keys().cloned().collect();
        match self.offered(address, view).await {
            Ok(up) => versions.extend(up.into_iter().map(|v| v.version)),
            Err(e) => tracing::warn!(%address, error = %e, "upstream version list unavailable"),
        }
        if versions.is_empty() {
            return None;
        }
        let mut sorted: Vec<String> = versions.into_iter().collect();
        sorted.sort();
        let map: serde_json::Map<String, serde_json::Value> =
            sorted.into_iter().map(|v| (v, json!({}))).collect();
        Some(Rendered::new(&json!({ "versions": map })))
    }

    /// `{version}.json`: stored platforms with `h1:` and `zh:`, plus the upstream's other
    /// platforms with the `zh:` from the version's verified `SHA256SUMS`.
    pub async fn version(
        &self,
        address: &ProviderAddress,
        version: &Version,
        view: &ProviderView,
    ) -> Result<Option<Rendered>, UpstreamError> {
        let key = version.to_string();
        if view.blocked.contains(&key) {
            return Ok(None);
        }
        let mut archives = view.archives.get(&key).cloned().unwrap_or_default();
        let offered = match self.offered(address, view).await {
            Ok(o) => o,
            Err(e) if !archives.is_empty() => {
                tracing::warn!(%address, error = %e, "upstream unavailable; listing stored platforms only");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let missing: Vec<Platform> = offered
            .iter()
            .find(|v| v.version == key)
            .map(|v| {
                v.platforms
                    .iter()
                    .filter_map(|p| Platform::new(&p.os, &p.arch).ok())
                    .filter(|p| !archives.contains_key(&p.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(first) = missing.first() {
            match self.version_sums(address, version, first).await {
                Ok(sums) => {
                    for platform in &missing {
                        let id = PackageId {
                            address: address.clone(),
                            version: version.clone(),
                            platform: platform.clone(),
                        };
                        let filename = id.filename();
                        if let Some(sha) = shasum_for(&sums.evidence.shasums, &filename) {
                            archives.insert(
                                platform.to_string(),
                                json!({ "url": filename, "hashes": [hashes::zh(&sha)] }),
                            );
                        }
                    }
                }
                Err(e) if !archives.is_empty() => {
                    tracing::warn!(%address, %version, error = %e, "upstream checksums unavailable; listing stored platforms only");
                }
                Err(e) => return Err(e),
            }
        }
        if archives.is_empty() {
            return Ok(None);
        }
        Ok(Some(Rendered::new(&json!({ "archives": archives }))))
    }

    /// The verified `SHA256SUMS` of a version, fetched through the download info of one of
    /// its platforms.
    pub async fn version_sums(
        &self,
        address: &ProviderAddress,
        version: &Version,
        platform: &Platform,
    ) -> Result<Arc<VersionSums>, UpstreamError> {
        let deadline = self.deadline(address);
        let fetch = async {
            let info = self
                .client
                .download_info(address, version, platform)
                .await?;
            self.sums_for(address, version, &info).await
        };
        tokio::time::timeout(deadline, fetch)
            .await
            .unwrap_or_else(|_| Err(too_slow(deadline)))
    }

    fn deadline(&self, address: &ProviderAddress) -> Duration {
        let ms = self
            .config
            .upstream
            .get(address.hostname.as_str())
            .map_or(5_000, |u| u.metadata_deadline_ms);
        Duration::from_millis(ms.max(1))
    }

    async fn sums_for(
        &self,
        address: &ProviderAddress,
        version: &Version,
        info: &DownloadInfo,
    ) -> Result<Arc<VersionSums>, UpstreamError> {
        self.sums
            .try_get_with((address.clone(), version.to_string()), async {
                let evidence = verify::verified_sums(&self.client, address, info).await?;
                Ok::<_, UpstreamError>(Arc::new(VersionSums { evidence }))
            })
            .await
            .map_err(|e| (*e).clone())
    }

    /// A version's verified checksums if they are in memory (fetched for a recent request).
    pub async fn cached_sums(
        &self,
        address: &ProviderAddress,
        version: &Version,
    ) -> Option<Arc<VersionSums>> {
        self.sums.get(&(address.clone(), version.to_string())).await
    }

    /// A package's download info, its lower-case `shasum`, and its version's verified
    /// `SHA256SUMS`, which must list that `shasum`.
    pub async fn verified_info(
        &self,
        id: &PackageId,
    ) -> Result<(DownloadInfo, String, Arc<VersionSums>), UpstreamError> {
        let (info, shasum) = verify::package_info(&self.client, id).await?;
        let sums = self.sums_for(&id.address, &id.version, &info).await?;
        verify::check_listed(&sums.evidence.shasums, &id.filename(), &shasum)?;
        Ok((info, shasum, sums))
    }

    /// The shared download of a package not stored, started if none is running.
    pub fn archive(self: &Arc<Self>, id: &PackageId) -> Arc<Flight> {
        let mut flights = self.flights.lock().expect("flights lock");
        if let Some(f) = flights.get(id) {
            return f.clone();
        }
        let flight = Arc::new(Flight {
            path: self
                .tmp_dir
                .join(format!("{}.zip", uuid::Uuid::new_v4().simple())),
            state: watch::Sender::new(FlightState::default()),
        });
        flights.insert(id.clone(), flight.clone());
        drop(flights);
        let this = self.clone();
        let id = id.clone();
        let leader = flight.clone();
        tokio::spawn(async move {
            let result = this.fetch(&id, &leader).await;
            match &result {
                Ok(()) => tracing::info!(package = %id, "pulled through and stored"),
                Err(e) => {
                    tracing::warn!(package = %id, error = %e, "pull-through failed; nothing stored")
                }
            }
            leader
                .state
                .send_modify(|s| s.outcome = Some(result.map_err(|e| e.to_string())));
            this.flights.lock().expect("flights lock").remove(&id);
            let _ = std::fs::remove_file(&leader.path);
        });
        flight
    }

    async fn fetch(&self, id: &PackageId, flight: &Arc<Flight>) -> Result<(), UpstreamError> {
        let (info, shasum, sums) = self.verified_info(id).await?;

        let watcher = flight.clone();
        let on_written = Box::new(move |n: u64| watcher.state.send_modify(|s| s.written = n));
        let (sha256, _size) = self
            .client
            .download_to(
                &id.address,
                &info.download_url,
                &flight.path,
                self.config.limits.max_archive_bytes,
                |_, total| {
                    flight.state.send_if_modified(|s| {
                        let changed = s.total != total;
                        s.total = total;
                        changed
                    });
                    true
                },
                Some(on_written),
            )
            .await?;
        verify::check_sha256(&shasum, &sha256)?;
        // The bytes are authentic: waiting clients may finish while the package is stored.
        flight.state.send_modify(|s| s.verified = true);
        let detail = format!("pull-through from {}", id.address.hostname);
        let outcome = self
            .catalog
            .ingest(Ingest {
                id,
                path: &flight.path,
                expected: &Expected {
                    hashes: vec![hashes::zh(&shasum)],
                },
                source: PackageSource::PullThrough,
                source_detail: Some(&detail),
                known_sha256: Some(sha256),
                evidence: Some(&sums.evidence),
                consume: true,
            })
            .await
            .map_err(|e| UpstreamError::transient(e.to_string()))?;
        match outcome {
            IngestOutcome::Added(_) | IngestOutcome::AlreadyPresent => Ok(()),
            IngestOutcome::Rejected(why) => Err(UpstreamError::permanent(why.to_string())),
        }
    }
}
