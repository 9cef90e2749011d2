//! Modules on demand: the origin's version list (fresh within the upstream's metadata TTL,
//! the last good one when the origin is down or slower than its metadata deadline, so that
//! `/versions` answers within the client's 10 s), and the fetch of a version when a client
//! asks for its archive.

use std::sync::Arc;

use moka::future::Cache;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::domain::{ModuleAddress, Version};
use crate::module_fetch::{ModuleError, ModuleFetcher};
use crate::upstream::UpstreamError;

pub struct ModulePull {
    fetcher: Arc<ModuleFetcher>,
    config: Arc<Config>,
    fresh: Cache<ModuleAddress, Arc<Vec<Version>>>,
    last_good: Cache<ModuleAddress, Arc<Vec<Version>>>,
}

impl ModulePull {
    pub fn new(config: Arc<Config>, fetcher: Arc<ModuleFetcher>) -> Self {
        Self {
            fresh: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(config.metadata_ttl())
                .build(),
            last_good: Cache::builder().max_capacity(10_000).build(),
            fetcher,
            config,
        }
    }

    pub fn fetcher(&self) -> &Arc<ModuleFetcher> {
        &self.fetcher
    }

    /// Whether modules of this origin not stored are fetched on demand.
    pub fn enabled_for(&self, a: &ModuleAddress) -> bool {
        self.fetcher.client().pulls_modules(&a.hostname)
    }

    /// The versions the origin offers (valid ones, as listed).
    pub async fn offered(&self, a: &ModuleAddress) -> Result<Arc<Vec<Version>>, UpstreamError> {
        if let Some(v) = self.fresh.get(a).await {
            return Ok(v);
        }
        let deadline = self.config.metadata_deadline(a.hostname.as_str());
        let load = async {
            let listed = self.fetcher.client().module_versions(a).await?;
            let mut versions: Vec<Version> = listed
                .iter()
                .filter_map(|v| Version::parse(v).ok())
                .collect();
            versions.sort();
            versions.dedup();
            Ok::<_, UpstreamError>(Arc::new(versions))
        };
        let result = match tokio::time::timeout(deadline, load).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::transient(format!(
                "versions of module {a}: the origin did not answer within {} ms",
                deadline.as_millis()
            ))),
        };
        match result {
            Ok(v) => {
                self.fresh.insert(a.clone(), v.clone()).await;
                self.last_good.insert(a.clone(), v.clone()).await;
                Ok(v)
            }
            Err(e) => match self.last_good.get(a).await {
                Some(stale) if e.is_transient() => {
                    tracing::warn!(module = %a, error = %e, "serving the last good version list");
                    Ok(stale)
                }
                _ => Err(e),
            },
        }
    }

    /// Fetches a version not stored yet (one fetch at a time per version). The fetch runs
    /// on its own task: a client that gives up does not waste it for the next one.
    pub async fn ensure(&self, a: &ModuleAddress, version: &Version) -> Result<(), ModuleError> {
        let fetcher = self.fetcher.clone();
        let (a, version) = (a.clone(), version.clone());
        tokio::spawn(async move {
            fetcher
                .ensure(&a, &version, &CancellationToken::new())
                .await
        })
        .await
        .map_err(|e| ModuleError::Io(std::io::Error::other(e.to_string())))?
    }
}
