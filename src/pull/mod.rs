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

mod flight;
pub mod modules;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use moka::future::Cache;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::catalog::{ProviderView, Rendered};
use crate::config::{Config, UpstreamConfig};
use crate::db::{self, Pool};
use crate::domain::{Evidence, PackageId, PackageSource, Platform, ProviderAddress, Version};
use crate::fetch::{FetchObserver, FetchRequest, Fetcher, Sums};
use crate::hashes;
use crate::upstream::UpstreamError;
use crate::upstream::client::{UpstreamVersion, shasum_for};

pub use flight::{Flight, FlightState, Flights};

/// An upstream's version list with when the mirror first saw each version.
#[derive(Debug)]
pub struct Listing {
    pub versions: Vec<UpstreamVersion>,
    first_seen: HashMap<String, i64>,
}

fn too_slow(deadline: Duration) -> UpstreamError {
    UpstreamError::transient(format!(
        "the origin did not answer within {} ms",
        deadline.as_millis()
    ))
}

/// What a client asking for an archive that is not stored gets.
pub enum Pulled {
    /// The bytes of the shared download as they arrive (the last one once verified).
    Streaming {
        total: u64,
        body: BoxStream<'static, Result<Bytes, std::io::Error>>,
    },
    /// The download finished before this client could join it: the package is stored.
    Stored,
}

/// Why an archive could not be pulled through.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The origin failed, or the bytes failed verification: nothing was stored.
    #[error("{0}")]
    Failed(String),
    /// The download's state was lost (a bug; the client may retry).
    #[error("the shared download vanished")]
    Vanished,
    /// Another replica is still downloading the package after the follower's patience.
    #[error(
        "another replica is still fetching this package from the origin after {0} s; retry shortly"
    )]
    Busy(u64),
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// A replica leading a download heart-beats its row this often, and followers check this
/// often whether the package is stored.
const FLIGHT_BEAT: Duration = Duration::from_secs(2);
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// A lead whose heartbeat is this old belongs to a replica that died: taken over.
const FLIGHT_STALE_SECONDS: i64 = 10;

pub struct PullThrough {
    db: Pool,
    fetcher: Arc<Fetcher>,
    config: Arc<Config>,
    tmp_dir: PathBuf,
    fresh: Cache<ProviderAddress, Arc<Listing>>,
    last_good: Cache<ProviderAddress, Arc<Listing>>,
    flights: Arc<Flights<PackageId>>,
    /// This replica's name on the downloads it leads (PostgreSQL only).
    owner: String,
}

impl PullThrough {
    pub fn new(config: Arc<Config>, db: Pool, fetcher: Arc<Fetcher>) -> Self {
        let tmp_dir = config.data_dir.join("tmp/pull");
        Self {
            fresh: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(config.metadata_ttl())
                .build(),
            last_good: Cache::builder().max_capacity(10_000).build(),
            flights: Arc::new(Flights::new(tmp_dir.clone())),
            tmp_dir,
            db,
            fetcher,
            config,
            owner: db::owner_id(),
        }
    }

    /// Several replicas share the database: downloads are coordinated through it.
    fn shared(&self) -> bool {
        matches!(self.db, Pool::Postgres(_))
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
            let versions = self.fetcher.client().versions(address).await?;
            let names: Vec<String> = versions.iter().map(|v| v.version.clone()).collect();
            let first_seen =
                db::packages::versions_first_seen(&self.db, address, &names, crate::clock::now())
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
        let now = crate::clock::now();
        Ok(listing
            .versions
            .iter()
            .filter(|v| Version::parse(&v.version).is_ok())
            .filter(|v| !view.blocked.contains(&v.version))
            .filter(|v| {
                min_age == 0
                    || view.versions.contains_key(&v.version)
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
        let mut versions: HashSet<String> = view.versions.keys().cloned().collect();
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
        let mut archives = view.archive_map(&key);
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
                        if let Some(sha) = shasum_for(&sums.shasums, &filename) {
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
    ) -> Result<Arc<Evidence>, UpstreamError> {
        let deadline = self.deadline(address);
        let fetch = async {
            let info = self
                .fetcher
                .client()
                .download_info(address, version, platform)
                .await?;
            self.fetcher.version_sums(address, version, &info).await
        };
        tokio::time::timeout(deadline, fetch)
            .await
            .unwrap_or_else(|_| Err(too_slow(deadline)))
    }

    fn deadline(&self, address: &ProviderAddress) -> Duration {
        self.config.metadata_deadline(address.hostname.as_str())
    }

    /// A version's verified checksums if they are in memory (fetched for a recent request).
    pub async fn cached_sums(
        &self,
        address: &ProviderAddress,
        version: &Version,
    ) -> Option<Arc<Evidence>> {
        self.fetcher.cached_sums(address, version).await
    }

    /// A package's download info, its lower-case `shasum`, and its version's verified
    /// `SHA256SUMS`, which must list that `shasum`.
    pub async fn verified_info(
        &self,
        id: &PackageId,
    ) -> Result<(crate::upstream::client::DownloadInfo, String, Arc<Evidence>), UpstreamError> {
        self.fetcher.verified_info(id, Sums::Cached).await
    }

    /// An archive that is not stored, from the shared upstream download (started if none is
    /// running). Waits only until the origin has answered with the archive's size.
    ///
    /// With several replicas (PostgreSQL), one replica leads each package's download; a
    /// request on another replica waits until the leader has stored the package (then it is
    /// served from storage), at most `limits.follower_wait_seconds`, and takes the lead if
    /// the leader stops without storing it (failed, or died).
    pub async fn archive(&self, id: &PackageId) -> Result<Pulled, PullError> {
        if self.stored_or_led_elsewhere(id).await? {
            return Ok(Pulled::Stored);
        }
        let flight = self.start(id);
        let mut rx = flight.subscribe();
        let started = flight::wait_for(&mut rx, |s| s.total.is_some() || s.outcome.is_some())
            .await
            .ok_or(PullError::Vanished)?;
        if started.outcome.is_none()
            && let Some(total) = started.total
            // The file exists once the size is known; it is gone only if the flight has ended.
            && let Ok(file) = std::fs::File::open(&flight.path)
        {
            let body = flight::flight_stream(flight.clone(), rx, file, total);
            return Ok(Pulled::Streaming {
                total,
                body: Box::pin(body),
            });
        }
        Self::ended(&mut rx).await
    }

    /// Stores a package that is not stored (joining or starting its shared download) and
    /// returns once it is verified and recorded, or why it could not be.
    pub async fn store(&self, id: &PackageId) -> Result<(), PullError> {
        if self.stored_or_led_elsewhere(id).await? {
            return Ok(());
        }
        let flight = self.start(id);
        let mut rx = flight.subscribe();
        Self::ended(&mut rx).await.map(|_| ())
    }

    /// How a download ended: stored, or why not.
    async fn ended(
        rx: &mut tokio::sync::watch::Receiver<FlightState>,
    ) -> Result<Pulled, PullError> {
        let ended = flight::wait_for(rx, |s| s.outcome.is_some())
            .await
            .ok_or(PullError::Vanished)?;
        match ended.outcome {
            Some(Ok(())) => Ok(Pulled::Stored),
            Some(Err(e)) => Err(PullError::Failed(e)),
            None => Err(PullError::Vanished),
        }
    }

    /// With several replicas: true once the package is stored (by whichever replica), false
    /// when this replica may lead its download; waits while another replica leads it. With
    /// one replica, always false: this process's flights are shared in memory.
    async fn stored_or_led_elsewhere(&self, id: &PackageId) -> Result<bool, PullError> {
        if self.shared() {
            let key = id.to_string();
            let deadline = tokio::time::Instant::now()
                + Duration::from_secs(self.config.limits.follower_wait_seconds);
            loop {
                if db::packages::find_package_sha256(
                    &self.db,
                    &id.address,
                    &id.version,
                    &id.platform,
                )
                .await?
                .is_some()
                {
                    return Ok(true);
                }
                if db::flights::claim(&self.db, &key, &self.owner, FLIGHT_STALE_SECONDS).await? {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(PullError::Busy(self.config.limits.follower_wait_seconds));
                }
                tokio::time::sleep(FOLLOW_POLL).await;
            }
        }
        Ok(false)
    }

    /// Joins or starts the shared download of a package.
    fn start(&self, id: &PackageId) -> Arc<Flight> {
        let fetcher = self.fetcher.clone();
        let package = id.clone();
        let lead = self.shared().then(|| (self.db.clone(), self.owner.clone()));
        self.flights.join_or_start(id, move |flight| async move {
            let cancel = CancellationToken::new();
            let fetch = fetcher.fetch(FetchRequest {
                id: &package,
                spool: &flight.path,
                source: PackageSource::PullThrough,
                detail: format!("pull-through from {}", package.address.hostname),
                sums: Sums::Cached,
                observer: flight.clone(),
                cancel: &cancel,
            });
            let result = match &lead {
                None => fetch.await,
                Some((db, owner)) => {
                    // The other replicas' requests wait while this lead heart-beats, and
                    // stop waiting when it is released, stored or not.
                    let key = package.to_string();
                    let beat = async {
                        loop {
                            tokio::time::sleep(FLIGHT_BEAT).await;
                            if let Err(e) = db::flights::heartbeat(db, &key, owner).await {
                                tracing::warn!(error = %e, "cannot heart-beat a shared download");
                            }
                        }
                    };
                    let result = tokio::select! {
                        r = fetch => r,
                        () = beat => unreachable!("the heartbeat loop never ends"),
                    };
                    if let Err(e) = db::flights::release(db, &key, owner).await {
                        tracing::warn!(error = %e, "cannot release a shared download; it expires");
                    }
                    result
                }
            };
            match &result {
                Ok(_) => tracing::info!(package = %package, "pulled through and stored"),
                Err(e) => {
                    tracing::warn!(package = %package, error = %e, "pull-through failed; nothing stored")
                }
            }
            result.map(|_| ()).map_err(|e| e.to_string())
        })
    }
}

impl FetchObserver for Flight {
    fn verified(&self) {
        self.mark_verified();
    }
}
