//! The one way a module version comes into the catalog, from its origin registry (the job
//! worker, pull-through) or from an upload: the location (`X-Terraform-Get`, followed once
//! through `?terraform-get=1`), the fetch (an HTTP(S) archive, or a shallow git clone of the
//! ref with its commit recorded), the safe unpack, the deterministic repack, then the
//! catalog's store. A version is stored only when every step passed; a refused package
//! stores nothing and says why.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::archive::{self, ArchiveError, ArchiveFormat, Packed, TreeLimits};
use crate::catalog::modules::PreparedModule;
use crate::catalog::{Catalog, CatalogError, KeyedLocks};
use crate::config::Config;
use crate::db::modules::Recorded;
use crate::domain::{ModuleAddress, PackageSource, Version};
use crate::upstream::git::{self, GitOptions};
use crate::upstream::location::{self, Location};
use crate::upstream::{RegistryClient, UpstreamError};

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    /// The package or its location cannot be accepted; retrying will not help.
    #[error("module {module} {version}: {reason}")]
    Refused {
        module: String,
        version: String,
        reason: String,
    },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("module fetch: {0}")]
    Io(#[from] std::io::Error),
}

impl ModuleError {
    fn refused(a: &ModuleAddress, version: &Version, reason: String) -> Self {
        ModuleError::Refused {
            module: a.to_string(),
            version: version.to_string(),
            reason,
        }
    }

    /// Worth trying again later (a network failure, a store that is down).
    pub fn is_transient(&self) -> bool {
        match self {
            ModuleError::Upstream(e) => e.is_transient(),
            ModuleError::Refused { .. } => false,
            ModuleError::Catalog(_) | ModuleError::Io(_) => true,
        }
    }
}

/// How a version was stored.
#[derive(Debug, Clone)]
pub struct ModuleFetched {
    pub recorded: Recorded,
    pub location: String,
    pub commit: Option<String>,
}

pub struct ModuleFetcher {
    catalog: Arc<Catalog>,
    client: Arc<RegistryClient>,
    tmp_dir: PathBuf,
    git: GitOptions,
    fetch_timeout: Duration,
    /// One fetch per module version at a time in this process; the second waits, then finds
    /// the version stored.
    flights: KeyedLocks,
    /// Where versions come from, as the origin said recently: `download` and the archive
    /// fetch that follows ask once.
    located: moka::future::Cache<String, Arc<(String, Location)>>,
}

impl ModuleFetcher {
    pub fn new(config: &Config, catalog: Arc<Catalog>, client: Arc<RegistryClient>) -> Self {
        let tmp_dir = config.data_dir.join("tmp/modules");
        let fetch_timeout = Duration::from_secs(config.limits.module_fetch_seconds);
        let ca_bundle = config.outbound.extra_ca_file.as_ref().and_then(|extra| {
            std::fs::create_dir_all(&tmp_dir)
                .and_then(|_| git::ca_bundle(&tmp_dir, extra))
                .inspect_err(|e| tracing::warn!(error = %e, "no CA bundle for git"))
                .ok()
        });
        Self {
            catalog,
            client,
            git: GitOptions {
                ca_bundle,
                timeout: fetch_timeout,
            },
            tmp_dir,
            fetch_timeout,
            flights: KeyedLocks::default(),
            located: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(config.metadata_ttl())
                .build(),
        }
    }

    pub fn client(&self) -> &Arc<RegistryClient> {
        &self.client
    }

    /// Removes what a crash left in the work directory (the CA bundle is made again).
    pub fn clear_tmp(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.tmp_dir)?;
        for entry in std::fs::read_dir(&self.tmp_dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        Ok(())
    }

    fn work_dir(&self) -> std::io::Result<tempfile::TempDir> {
        std::fs::create_dir_all(&self.tmp_dir)?;
        tempfile::Builder::new()
            .prefix("fetch-")
            .tempdir_in(&self.tmp_dir)
    }

    /// Fetches a version from its origin and stores it, unless it is stored already.
    #[tracing::instrument(skip_all, fields(module = %a, version = %version))]
    pub async fn fetch(
        &self,
        a: &ModuleAddress,
        version: &Version,
        source: PackageSource,
        created_by: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<ModuleFetched, ModuleError> {
        let refused = |reason| ModuleError::refused(a, version, reason);
        let (raw, location) = self.locate(a, version).await?;
        // The next fetch of this version asks the origin again (a moved tag shows then).
        self.located.invalidate(&format!("{a} {version}")).await;
        let work = self.work_dir()?;
        let tree = work.path().join("tree");
        std::fs::create_dir(&tree)?;
        let limits = self.catalog.module_limits();
        let commit = match &location {
            Location::Archive { url, format, .. } => {
                self.client.check_module_host(a, url)?;
                let file = work.path().join("download");
                let download =
                    self.client
                        .module_archive_to(a, url, &file, limits.max_bytes, cancel);
                tokio::time::timeout(self.fetch_timeout, download)
                    .await
                    .map_err(|_| {
                        UpstreamError::transient(format!(
                            "module archive download took longer than {:?}",
                            self.fetch_timeout
                        ))
                    })??;
                let (format, tree2) = (*format, tree.clone());
                blocking(move || archive::unpack(&file, format, &tree2, limits))
                    .await?
                    .map_err(|e| refused(archive_reason(e)))?;
                None
            }
            Location::Git { url, reference, .. } => {
                self.client.check_module_host(a, url)?;
                let commit = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return Err(UpstreamError::Cancelled.into()),
                    c = git::shallow_clone(url, reference.as_deref(), &tree, &self.git) => c?,
                };
                Some(commit)
            }
            // `locate` follows a page once and refuses a second one.
            Location::Indirect { .. } => {
                return Err(refused(format!(
                    "location {raw:?} is a page, not an archive"
                )));
            }
        };
        let subdir = location.subdir().to_owned();
        let (root, subdir) = if subdir == "*" {
            (archive::single_root(&tree)?, String::new())
        } else {
            if !subdir.is_empty() && !tree.join(&subdir).is_dir() {
                return Err(refused(format!(
                    "the subdirectory {subdir:?} of location {raw:?} is not in the package"
                )));
            }
            (tree, subdir)
        };
        let out = work.path().join("module.tar.gz");
        let packed = pack(&root, &out, limits)
            .await?
            .map_err(|e| refused(archive_reason(e)))?;
        let recorded = self
            .catalog
            .store_module(PreparedModule {
                address: a,
                version,
                archive: &out,
                packed: &packed,
                subdir: &subdir,
                source,
                location: Some(&raw),
                commit: commit.as_deref(),
                created_by,
            })
            .await?;
        Ok(ModuleFetched {
            recorded,
            location: raw,
            commit,
        })
    }

    /// Where a version comes from: the origin's location, parsed, a page followed once
    /// (remembered for the metadata TTL).
    pub async fn locate(
        &self,
        a: &ModuleAddress,
        version: &Version,
    ) -> Result<(String, Location), ModuleError> {
        let key = format!("{a} {version}");
        if let Some(hit) = self.located.get(&key).await {
            return Ok((*hit).clone());
        }
        let found = self.locate_at_origin(a, version).await?;
        self.located.insert(key, Arc::new(found.clone())).await;
        Ok(found)
    }

    async fn locate_at_origin(
        &self,
        a: &ModuleAddress,
        version: &Version,
    ) -> Result<(String, Location), ModuleError> {
        let refused = |reason| ModuleError::refused(a, version, reason);
        let raw = self.client.module_location(a, version).await?;
        let location =
            location::parse(&raw).map_err(|e| refused(format!("location {raw:?}: {e}")))?;
        let Location::Indirect { url, subdir } = &location else {
            return Ok((raw, location));
        };
        let next = self.client.module_indirect(a, url).await?;
        match location::parse(&next) {
            Ok(Location::Indirect { .. }) => Err(refused(format!(
                "location {raw:?} leads to {next:?}, another page and not an archive"
            ))),
            Ok(inner) => Ok((raw, with_outer_subdir(inner, subdir))),
            Err(e) => Err(refused(format!("location {next:?}: {e}"))),
        }
    }

    /// The `//subdir` clients will be sent to once the version is stored ("*", one wrapper
    /// directory, is taken away when it is repacked).
    pub async fn subdir_of(
        &self,
        a: &ModuleAddress,
        version: &Version,
    ) -> Result<String, ModuleError> {
        let (_, location) = self.locate(a, version).await?;
        Ok(match location.subdir() {
            "*" => String::new(),
            s => s.to_owned(),
        })
    }

    /// Fetches a version for a client unless it is stored: one fetch per version at a time,
    /// the others wait for it and then find it stored.
    pub async fn ensure(
        &self,
        a: &ModuleAddress,
        version: &Version,
        cancel: &CancellationToken,
    ) -> Result<(), ModuleError> {
        let key = format!("{a} {version}");
        let _flight = self.flights.lock(&key).await;
        if self
            .catalog
            .module_view(a)
            .await?
            .get(&version.to_string())
            .is_some()
        {
            return Ok(());
        }
        self.fetch(a, version, PackageSource::PullThrough, None, cancel)
            .await
            .map(|_| ())
    }

    /// Stores an uploaded package (a `.tar.gz`, `.tar` or `.zip`; the format by its content),
    /// repacked with its files at the root: a lone wrapper directory is taken away.
    pub async fn ingest_upload(
        &self,
        a: &ModuleAddress,
        version: &Version,
        file: &Path,
        created_by: &str,
    ) -> Result<Recorded, ModuleError> {
        let refused = |reason| ModuleError::refused(a, version, reason);
        let mut head = Vec::with_capacity(512);
        {
            use std::io::Read;
            std::fs::File::open(file)?
                .take(512)
                .read_to_end(&mut head)?;
        }
        let format = ArchiveFormat::sniff(&head)
            .ok_or_else(|| refused("the upload is not a .tar.gz, .tar or .zip archive".into()))?;
        let work = self.work_dir()?;
        let tree = work.path().join("tree");
        std::fs::create_dir(&tree)?;
        let limits = self.catalog.module_limits();
        let (src, dest) = (file.to_owned(), tree.clone());
        blocking(move || archive::unpack(&src, format, &dest, limits))
            .await?
            .map_err(|e| refused(archive_reason(e)))?;
        let root = archive::single_root(&tree)?;
        let out = work.path().join("module.tar.gz");
        let packed = pack(&root, &out, limits)
            .await?
            .map_err(|e| refused(archive_reason(e)))?;
        Ok(self
            .catalog
            .store_module(PreparedModule {
                address: a,
                version,
                archive: &out,
                packed: &packed,
                subdir: "",
                source: PackageSource::Upload,
                location: None,
                commit: None,
                created_by: Some(created_by),
            })
            .await?)
    }
}

/// A location found behind a page keeps the page's own `//subdir` below its own.
fn with_outer_subdir(inner: Location, outer: &str) -> Location {
    if outer.is_empty() {
        return inner;
    }
    let join = |s: String| {
        if s.is_empty() {
            outer.to_owned()
        } else {
            format!("{s}/{outer}")
        }
    };
    match inner {
        Location::Archive {
            url,
            format,
            subdir,
        } => Location::Archive {
            url,
            format,
            subdir: join(subdir),
        },
        Location::Git {
            url,
            reference,
            subdir,
        } => Location::Git {
            url,
            reference,
            subdir: join(subdir),
        },
        other => other,
    }
}

fn archive_reason(e: ArchiveError) -> String {
    match e {
        ArchiveError::Io(e) => format!("i/o error while unpacking: {e}"),
        other => other.to_string(),
    }
}

async fn pack(
    root: &Path,
    out: &Path,
    limits: TreeLimits,
) -> Result<Result<Packed, ArchiveError>, ModuleError> {
    let (root, out) = (root.to_owned(), out.to_owned());
    blocking(move || archive::repack(&root, &out, limits)).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ModuleError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ModuleError::Io(std::io::Error::other(e.to_string())))
}
