//! `tfmirror import DIR`: brings in a directory written by `terraform providers mirror`
//! (`HOST/NAMESPACE/TYPE/{index.json, VERSION.json, *.zip}`), checking every archive against
//! the hashes its `VERSION.json` records. A bad package is reported and skipped; the rest
//! imports; what was stored before is never touched. Nothing outside the directory is read:
//! symbolic links are reported and skipped, and a `VERSION.json` has a size limit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::{Catalog, CatalogError, Expected, IngestOutcome};
use crate::domain::{PackageId, PackageSource, Platform, ProviderAddress, Version};

/// What an import did, package by package.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub skipped: Vec<String>,
    pub rejected: Vec<(String, String)>,
}

impl ImportReport {
    pub fn record(&mut self, what: String, outcome: IngestOutcome) {
        match outcome {
            IngestOutcome::Added(h) => self.added.push(format!("{what} ({})", h.h1)),
            IngestOutcome::AlreadyPresent => self.skipped.push(format!("{what}: already stored")),
            IngestOutcome::Rejected(why) => self.rejected.push((what, why.to_string())),
        }
    }

    fn reject(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.rejected.push((what.into(), why.into()));
    }

    /// A summary for the terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for a in &self.added {
            out.push_str(&format!("added    {a}\n"));
        }
        for s in &self.skipped {
            out.push_str(&format!("skipped  {s}\n"));
        }
        for (what, why) in &self.rejected {
            out.push_str(&format!("REJECTED {what}: {why}\n"));
        }
        out.push_str(&format!(
            "{} added, {} skipped, {} rejected\n",
            self.added.len(),
            self.skipped.len(),
            self.rejected.len()
        ));
        out
    }
}

#[derive(Deserialize)]
struct VersionDoc {
    archives: BTreeMap<String, ArchiveDoc>,
}

#[derive(Deserialize)]
struct ArchiveDoc {
    url: String,
    #[serde(default)]
    hashes: Vec<String>,
}

/// The largest `VERSION.json` read: real ones are a few KiB (one entry per platform), and a
/// parsed document takes several times its size in memory.
const MAX_VERSION_DOC_BYTES: u64 = 16 << 20;

/// Why a symbolic link is skipped. Import reads only what is inside the directory it was
/// given: a link may point anywhere (another tree, a device), so none is followed.
const SYMLINK: &str = "is a symbolic link; import follows no links";

/// The subdirectories of `dir`, sorted; each symbolic link in it is reported and skipped.
fn subdirs(dir: &Path, report: &mut ImportReport) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            report.reject(entry.path().display().to_string(), SYMLINK);
        } else if kind.is_dir() {
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a `VERSION.json`, refusing one over [`MAX_VERSION_DOC_BYTES`] before and while
/// reading it (the file may grow).
fn read_version_doc(path: &Path) -> Result<VersionDoc, String> {
    use std::io::Read;
    let too_big = |size: u64| {
        format!(
            "{size} bytes, over the limit of {} MiB for a VERSION.json",
            MAX_VERSION_DOC_BYTES >> 20
        )
    };
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size > MAX_VERSION_DOC_BYTES {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_VERSION_DOC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_VERSION_DOC_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// Imports every provider under `root`.
pub async fn import_dir(catalog: &Catalog, root: &Path) -> Result<ImportReport, CatalogError> {
    let io = |e: std::io::Error| CatalogError::Storage(e.into());
    if !root.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a directory", root.display()),
        )));
    }
    let mut report = ImportReport::default();
    for (host, host_dir) in subdirs(root, &mut report).map_err(io)? {
        for (ns, ns_dir) in subdirs(&host_dir, &mut report).map_err(io)? {
            for (ty, ty_dir) in subdirs(&ns_dir, &mut report).map_err(io)? {
                let label = format!("{host}/{ns}/{ty}");
                match ProviderAddress::new(&host, &ns, &ty) {
                    Ok(address) => import_provider(catalog, &address, &ty_dir, &mut report).await?,
                    Err(e) => report.reject(label, e.to_string()),
                }
            }
        }
    }
    Ok(report)
}

async fn import_provider(
    catalog: &Catalog,
    address: &ProviderAddress,
    dir: &Path,
    report: &mut ImportReport,
) -> Result<(), CatalogError> {
    let io = |e: std::io::Error| CatalogError::Storage(e.into());
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let mut zips: BTreeSet<String> = BTreeSet::new();
    // Names that are not regular files: reported once here, never read.
    let mut unreadable: BTreeSet<String> = BTreeSet::new();
    let mut version_docs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().map_err(io)?;
        let wanted = name.ends_with(".json") || name.ends_with(".zip");
        if kind.is_symlink() {
            report.reject(entry.path().display().to_string(), SYMLINK);
            unreadable.insert(name);
        } else if wanted && !kind.is_file() {
            report.reject(entry.path().display().to_string(), "is not a regular file");
            unreadable.insert(name);
        } else if name.ends_with(".zip") {
            zips.insert(name);
        } else if let Some(v) = name.strip_suffix(".json")
            && name != "index.json"
        {
            version_docs.push((v.to_owned(), dir.join(&name)));
        }
    }
    version_docs.sort();
    for (raw_version, doc_path) in version_docs {
        let what = format!("{address} {raw_version}");
        let version = match Version::parse(&raw_version) {
            Ok(v) => v,
            Err(e) => {
                report.reject(what, e.to_string());
                continue;
            }
        };
        let doc = match read_version_doc(&doc_path) {
            Ok(d) => d,
            Err(e) => {
                report.reject(
                    format!("{}", doc_path.display()),
                    format!("unreadable: {e}"),
                );
                continue;
            }
        };
        for (platform, archive) in doc.archives {
            let what = format!("{address} {version} {platform}");
            let platform = match Platform::parse(&platform) {
                Ok(p) => p,
                Err(e) => {
                    report.reject(what, e.to_string());
                    continue;
                }
            };
            let id = PackageId {
                address: address.clone(),
                version: version.clone(),
                platform,
            };
            // The url must be a bare file name beside VERSION.json: nothing else is read.
            if archive.url != id.filename() {
                report.reject(
                    what,
                    format!(
                        "archive url {:?} is not the expected file name {}",
                        archive.url,
                        id.filename()
                    ),
                );
                continue;
            }
            listed.insert(archive.url.clone());
            if archive.hashes.is_empty() {
                report.reject(
                    what,
                    "VERSION.json records no hash to check the archive against",
                );
                continue;
            }
            if unreadable.contains(&archive.url) {
                continue;
            }
            let path = dir.join(&archive.url);
            if !zips.contains(&archive.url) {
                report.reject(what, format!("{} is missing", path.display()));
                continue;
            }
            let expected = Expected {
                hashes: archive.hashes,
            };
            let detail = path.display().to_string();
            let outcome = catalog
                .ingest_file(&id, &path, &expected, PackageSource::Import, Some(&detail))
                .await?;
            report.record(what, outcome);
        }
    }
    for orphan in zips.difference(&listed) {
        report.skipped.push(format!(
            "{}: not listed in any VERSION.json",
            dir.join(orphan).display()
        ));
    }
    Ok(())
}
