//! `tfmirror import DIR`: brings in a directory written by `terraform providers mirror`
//! (`HOST/NAMESPACE/TYPE/{index.json, VERSION.json, *.zip}`), checking every archive against
//! the hashes its `VERSION.json` records. A bad package is reported and skipped; the rest
//! imports; what was stored before is never touched.

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

fn subdirs(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.path(),
            ));
        }
    }
    out.sort();
    Ok(out)
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
    for (host, host_dir) in subdirs(root).map_err(io)? {
        for (ns, ns_dir) in subdirs(&host_dir).map_err(io)? {
            for (ty, ty_dir) in subdirs(&ns_dir).map_err(io)? {
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
    let mut version_docs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let name = entry
            .map_err(io)?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".zip") {
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
        let doc: VersionDoc = match std::fs::read(&doc_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
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
            let path = dir.join(&archive.url);
            if !path.is_file() {
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
