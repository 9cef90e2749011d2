//! Complete lock files: for a configuration's provider requirements, the version Terraform
//! would select and the hashes `terraform providers lock -platform=...` would record through
//! this mirror's registry protocol (an `h1:` per requested platform, the signed `zh:` of every
//! platform in the version's `SHA256SUMS`), without the client downloading anything.
//! Platforms not stored yet are pulled through (when allowed) before their `h1:` is read;
//! what cannot be obtained is an error naming the provider and platform, never a shorter file.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::{Catalog, CatalogError, ProviderView};
use crate::constraints::{VersionConstraints, lock_file_string};
use crate::db::{self, Pool};
use crate::domain::{PackageId, Platform, ProviderAddress, Version};
use crate::hashes;
use crate::lockfile::ProviderLock;
use crate::pull::{PullError, PullThrough};

/// One provider of a configuration and every constraint its modules put on it.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub address: ProviderAddress,
    pub constraints: Vec<VersionConstraints>,
}

/// What to lock.
#[derive(Debug, Clone, Default)]
pub struct LockRequest {
    pub providers: Vec<Requirement>,
    /// The platforms to record an `h1:` for; empty for every platform the mirror or the
    /// origin has for the selected version.
    pub platforms: Vec<Platform>,
    /// The locks of an existing lock file: a locked version that still meets the constraints
    /// is kept (as `terraform init` keeps it), and its recorded hashes stay.
    pub existing: Vec<ProviderLock>,
    /// Select the newest allowed version even where a lock exists (`terraform init -upgrade`).
    pub upgrade: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The request cannot be met as asked: no version satisfies the constraints, a lock does
    /// not meet them, a platform has no package anywhere.
    #[error("{0}")]
    Unsatisfiable(String),
    /// An origin that had to answer did not.
    #[error("{0}")]
    Upstream(String),
    /// The request needs more packages pulled through than one request may wait for.
    #[error("{0}")]
    TooManyPulls(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// The parts of the server a lock needs.
pub struct Locker<'a> {
    pub catalog: &'a Catalog,
    pub pull: &'a PullThrough,
    pub db: &'a Pool,
    /// The most packages one request may pull through (each waits for its download): a
    /// request beyond it is refused once it reaches it; what it pulled stays stored.
    pub max_pulls: usize,
}

impl Locker<'_> {
    /// The lock of every requested provider, in request order.
    pub async fn lock(&self, req: &LockRequest) -> Result<Vec<ProviderLock>, LockError> {
        let mut out = Vec::with_capacity(req.providers.len());
        let mut pulled = 0;
        for requirement in &req.providers {
            let existing = req
                .existing
                .iter()
                .find(|l| l.address == requirement.address);
            out.push(
                self.lock_one(requirement, existing, req, &mut pulled)
                    .await?,
            );
        }
        Ok(out)
    }

    async fn lock_one(
        &self,
        requirement: &Requirement,
        existing: Option<&ProviderLock>,
        req: &LockRequest,
        pulled: &mut usize,
    ) -> Result<ProviderLock, LockError> {
        let address = &requirement.address;
        let view = self.catalog.provider_view(address).await?;
        // Every version the mirror can serve: stored, and what the origin offers.
        let mut candidates: BTreeMap<Version, BTreeSet<String>> = BTreeMap::new();
        for (version, stored) in &view.versions {
            if let Ok(v) = Version::parse(version) {
                let platforms = candidates.entry(v).or_default();
                platforms.extend(stored.archives.iter().map(|a| a.platform.to_string()));
            }
        }
        if self.pull.enabled_for(address) {
            match self.pull.offered(address, &view).await {
                Ok(offered) => {
                    for o in offered {
                        let Ok(v) = Version::parse(&o.version) else {
                            continue;
                        };
                        let platforms = candidates.entry(v).or_default();
                        platforms.extend(
                            o.platforms
                                .iter()
                                .filter_map(|p| Platform::new(&p.os, &p.arch).ok())
                                .map(|p| p.to_string()),
                        );
                    }
                }
                Err(e) if candidates.is_empty() => {
                    return Err(LockError::Upstream(format!(
                        "{address} is not in this mirror and its origin did not answer: {e}"
                    )));
                }
                Err(e) => {
                    tracing::warn!(%address, error = %e, "origin version list unavailable; locking from stored versions");
                }
            }
        }
        candidates.retain(|v, _| !view.blocked.contains(&v.to_string()));
        let allowed = |v: &Version| requirement.constraints.iter().all(|c| c.matches(v));
        let written = lock_file_string(&requirement.constraints);
        let shown = if written.is_empty() {
            "any version".to_owned()
        } else {
            format!("\"{written}\"")
        };
        let version = match existing {
            Some(lock) if !req.upgrade => {
                if !allowed(&lock.version) {
                    return Err(LockError::Unsatisfiable(format!(
                        "{address}: the lock file selects {}, which does not meet {shown}; \
                         ask for an upgrade to select a new version",
                        lock.version
                    )));
                }
                if !candidates.contains_key(&lock.version) {
                    return Err(LockError::Unsatisfiable(format!(
                        "{address}: the lock file selects {}, which this mirror cannot serve",
                        lock.version
                    )));
                }
                lock.version.clone()
            }
            _ => candidates
                .keys()
                .rev()
                .find(|v| allowed(v))
                .cloned()
                .ok_or_else(|| {
                    let newest: Vec<String> = candidates
                        .keys()
                        .rev()
                        .take(5)
                        .map(Version::to_string)
                        .collect();
                    LockError::Unsatisfiable(if newest.is_empty() {
                        format!("{address}: no version is in this mirror or offered by its origin")
                    } else {
                        format!(
                            "{address}: no version meets {shown} (newest available: {})",
                            newest.join(", ")
                        )
                    })
                })?,
        };
        let known = candidates.remove(&version).unwrap_or_default();
        let platforms: Vec<String> = if req.platforms.is_empty() {
            known.iter().cloned().collect()
        } else {
            req.platforms.iter().map(Platform::to_string).collect()
        };
        let mut hashes: BTreeSet<String> = match existing {
            Some(lock) if lock.version == version => lock.hashes.clone(),
            _ => BTreeSet::new(),
        };
        let key = version.to_string();
        let mut view = view;
        for platform in &platforms {
            if let Some(h1) = stored_h1(&view, &key, platform) {
                hashes.insert(h1);
                continue;
            }
            let parsed = Platform::parse(platform).map_err(|e| {
                LockError::Unsatisfiable(format!("{address} {version}: {platform}: {e}"))
            })?;
            if !(self.pull.enabled_for(address) && known.contains(platform)) {
                let listed: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(LockError::Unsatisfiable(format!(
                    "{address} {version} has no package for {platform} (available: {})",
                    if listed.is_empty() {
                        "none".to_owned()
                    } else {
                        listed.join(", ")
                    }
                )));
            }
            if *pulled >= self.max_pulls {
                return Err(LockError::TooManyPulls(format!(
                    "{address} {version} {platform}: this request needs more than {} packages the mirror does not store yet (limits.max_lock_pulls); the {pulled} fetched so far stay stored: send it again to go on, or load the providers with a job first",
                    self.max_pulls
                )));
            }
            *pulled += 1;
            self.pull_through(&PackageId {
                address: address.clone(),
                version: version.clone(),
                platform: parsed,
            })
            .await?;
            self.catalog.invalidate_local(address).await;
            view = self.catalog.provider_view(address).await?;
            let h1 = stored_h1(&view, &key, platform).ok_or_else(|| {
                LockError::Upstream(format!(
                    "{address} {version} {platform} was fetched but is not served (blocked meanwhile?)"
                ))
            })?;
            hashes.insert(h1);
        }
        hashes.extend(self.signed_zh(address, &key, &view).await?);
        Ok(ProviderLock {
            address: address.clone(),
            version,
            constraints: written,
            hashes,
        })
    }

    /// Fetches a package that is not stored, as a client's download through the mirror would
    /// (joining a download already running), and waits until it is verified and recorded.
    async fn pull_through(&self, id: &PackageId) -> Result<(), LockError> {
        match self.pull.store(id).await {
            Ok(()) => Ok(()),
            Err(PullError::Db(e)) => Err(e.into()),
            Err(e) => Err(LockError::Upstream(format!("{id}: {e}"))),
        }
    }

    /// The `zh:` Terraform records through the registry protocol: every line of the
    /// version's signed `SHA256SUMS` from its origin (none when one line is malformed, as
    /// Terraform takes none), or, for packages without it (uploads,
    /// imports), of the mirror's own signed list of its stored packages.
    async fn signed_zh(
        &self,
        address: &ProviderAddress,
        version: &str,
        view: &ProviderView,
    ) -> Result<BTreeSet<String>, LockError> {
        let evidence = db::packages::version_evidence(self.db, address, version).await?;
        if let Some(e) = evidence.filter(|e| e.signature.is_some()) {
            return Ok(hashes::signed_sums_zh(&e.shasums).into_iter().collect());
        }
        Ok(view
            .versions
            .get(version)
            .map(|stored| {
                stored
                    .archives
                    .iter()
                    .map(|a| hashes::zh(&a.package.sha256))
                    .collect()
            })
            .unwrap_or_default())
    }
}

fn stored_h1(view: &ProviderView, version: &str, platform: &str) -> Option<String> {
    view.versions
        .get(version)?
        .archives
        .iter()
        .find(|a| &*a.platform == platform)
        .map(|a| a.h1.to_string())
}
