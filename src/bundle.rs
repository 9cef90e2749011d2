//! Air-gap bundles: one file that carries provider packages with their evidence (the
//! origin's `SHA256SUMS`, its signature and signing key) and module versions with their
//! recorded hashes from a connected mirror to a disconnected one.
//!
//! A bundle is an uncompressed tar stream (the packages are compressed already), readable
//! with `tar -tf`: first `manifest.json` (every entry's name, size and sha256, each provider
//! version's evidence, each module version's hashes; written from the database, so it is
//! known before any package is read), then `manifest.json.sig` (a detached OpenPGP signature
//! over the manifest by the exporting mirror's key), then one entry per stored blob,
//! `packages/SHA256.zip` or `modules/SHA256.tar.gz`.
//!
//! Import trusts nothing it has not checked: the manifest's signature against the operator's
//! trusted key before anything else is read, every origin signature over its `SHA256SUMS`
//! and every package's line in it (the worker's checks), every entry's size, sha256 and
//! `h1:` as it arrives (a module's tree unpacked with the usual bounds and hashed), every
//! manifest entry present. Blobs are stored as they verify; the rows are written in one
//! transaction only when the whole bundle verified, so a refused bundle lists nothing (and
//! the blobs it stored are deleted again). Importing a bundle twice changes nothing.
//! Memory follows the manifest (bounded), never the packages: every entry streams through a
//! spool file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::archive::{self, ArchiveFormat};
use crate::catalog::{Catalog, CatalogError};
use crate::db::{self, modules::NewModuleVersion, packages::NewPackage};
use crate::definitions::Definitions;
use crate::domain::{
    Evidence, ModuleAddress, PackageId, PackageSource, Platform, ProviderAddress, Version,
};
use crate::hashes::{self, HashError};
use crate::signing::MirrorKey;
use crate::storage::{BlobKey, BlobStore};
use crate::upstream::signature;

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIGNATURE: &str = "manifest.json.sig";
/// The manifest's `format`; a reader refuses any other.
pub const FORMAT: &str = "tfmirror-bundle/1";
const MAX_MANIFEST_BYTES: u64 = 64 << 20;
const MAX_SIGNATURE_BYTES: u64 = 64 << 10;
const BLOCK: usize = 512;
const CHUNK: usize = 256 << 10;

/// What a bundle holds, and the proof of each part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The exporting mirror's key id (for people: the signature is what is checked).
    pub signed_by: String,
    /// The origins' ASCII-armored signing keys, each once, by the first 16 hex digits of its
    /// armor's sha256 (what `EvidenceEntry::signing_key` names).
    pub signing_keys: BTreeMap<String, String>,
    pub providers: Vec<ProviderVersionEntry>,
    pub modules: Vec<ModuleVersionEntry>,
}

/// One provider version: its evidence and its packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderVersionEntry {
    /// `HOST/NAMESPACE/TYPE`.
    pub source: String,
    pub version: String,
    /// `None` for packages that reached the exporting mirror without a registry (imports,
    /// uploads): they are trusted on the manifest's signature alone.
    pub evidence: Option<EvidenceEntry>,
    pub packages: Vec<PackageEntry>,
}

/// The origin's `SHA256SUMS`, its detached signature (base64) and the key that verified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceEntry {
    pub shasums: String,
    pub signature: Option<String>,
    pub signing_key_id: Option<String>,
    /// The key in [`Manifest::signing_keys`].
    pub signing_key: Option<String>,
    pub protocols: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageEntry {
    /// `OS_ARCH`.
    pub platform: String,
    /// The tar entry holding the archive.
    pub entry: String,
    pub size: u64,
    pub sha256: String,
    pub h1: String,
    /// How it reached the exporting mirror (`job`, `pull-through`, `import`, `upload`).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleVersionEntry {
    /// `HOST/NAMESPACE/NAME/SYSTEM`.
    pub source: String,
    pub version: String,
    pub entry: String,
    pub size: u64,
    pub sha256: String,
    /// Of the unpacked tree.
    pub h1: String,
    pub files: u64,
    pub subdir: String,
    pub location: Option<String>,
    pub commit: Option<String>,
}

/// Someone watching an export or import: called after every entry.
pub trait Progress: Send + Sync {
    fn advance(&self, _entries_done: usize, _entries: usize, _bytes_done: u64, _bytes: u64) {}
}

/// Nobody watching.
pub struct Quiet;
impl Progress for Quiet {}

// ---------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------

/// What to export.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every stored package and module version that is not blocked.
    All,
    /// What a definitions file lists (providers by version constraints and platforms,
    /// modules by version constraints), as far as it is stored.
    Definitions(Definitions),
}

impl Selection {
    fn provider(&self, id: &PackageId) -> bool {
        match self {
            Self::All => true,
            Self::Definitions(d) => d.providers.iter().any(|p| {
                p.address == id.address
                    && (p.versions.is_empty() || p.versions.iter().any(|c| c.matches(&id.version)))
                    && (p.platforms.is_empty() || p.platforms.contains(&id.platform))
            }),
        }
    }

    fn module(&self, address: &ModuleAddress, version: &Version) -> bool {
        match self {
            Self::All => true,
            Self::Definitions(d) => d.modules.iter().any(|m| {
                m.address == *address
                    && (m.versions.is_empty() || m.versions.iter().any(|c| c.matches(version)))
            }),
        }
    }
}

/// A bundle about to be written: its manifest and, in order, each entry's blob.
pub struct Plan {
    pub manifest: Manifest,
    /// (entry name, blob, size), each blob once.
    pub entries: Vec<(String, BlobKey, u64)>,
    /// Definitions blocks that matched nothing stored (`provider X (line N)`).
    pub unmatched: Vec<String>,
}

impl Plan {
    /// The bytes of the packages and module archives (without the tar framing).
    pub fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.2).sum()
    }

    /// How many provider packages the manifest lists.
    pub fn packages(&self) -> usize {
        self.manifest
            .providers
            .iter()
            .map(|v| v.packages.len())
            .sum()
    }
}

/// Reads from the database what the selection exports, with each version's evidence.
pub async fn plan(
    pool: &db::Pool,
    selection: &Selection,
    signed_by: &str,
) -> Result<Plan, CatalogError> {
    let mut manifest = Manifest {
        format: FORMAT.into(),
        created_at: crate::clock::now(),
        signed_by: signed_by.into(),
        signing_keys: BTreeMap::new(),
        providers: Vec::new(),
        modules: Vec::new(),
    };
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    let mut matched_providers = HashSet::new();
    let mut matched_modules = HashSet::new();
    for row in db::bundles::servable_packages(pool).await? {
        let Ok(address) = ProviderAddress::new(&row.hostname, &row.namespace, &row.provider_type)
        else {
            continue;
        };
        let (Ok(version), Ok(platform)) = (
            Version::parse(&row.version),
            Platform::new(&row.os, &row.arch),
        ) else {
            continue;
        };
        let id = PackageId {
            address,
            version,
            platform,
        };
        if !selection.provider(&id) {
            continue;
        }
        matched_providers.insert(id.address.clone());
        let source = id.address.to_string();
        let same_version = manifest
            .providers
            .last()
            .is_some_and(|v| v.source == source && v.version == row.version);
        if !same_version {
            let evidence = db::packages::version_evidence(pool, &id.address, &row.version)
                .await?
                .map(|e| {
                    let signing_key = e.signing_key_armor.map(|armor| {
                        let reference = hex::encode(&Sha256::digest(armor.as_bytes())[..8]);
                        manifest
                            .signing_keys
                            .entry(reference.clone())
                            .or_insert(armor);
                        reference
                    });
                    EvidenceEntry {
                        shasums: e.shasums,
                        signature: e
                            .signature
                            .map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
                        signing_key_id: e.signing_key_id,
                        signing_key,
                        protocols: e.protocols,
                    }
                });
            manifest.providers.push(ProviderVersionEntry {
                source,
                version: row.version.clone(),
                evidence,
                packages: Vec::new(),
            });
        }
        let entry = format!("packages/{}.zip", row.sha256);
        let size = row.size_bytes.max(0) as u64;
        if seen.insert(entry.clone())
            && let Some(key) = BlobKey::parse(&row.storage_key)
        {
            entries.push((entry.clone(), key, size));
        }
        if let Some(v) = manifest.providers.last_mut() {
            v.packages.push(PackageEntry {
                platform: id.platform.to_string(),
                entry,
                size,
                sha256: row.sha256,
                h1: row.h1,
                source: row.source,
            });
        }
    }
    for row in db::bundles::servable_modules(pool).await? {
        let Ok(address) = ModuleAddress::new(&row.hostname, &row.namespace, &row.name, &row.system)
        else {
            continue;
        };
        let Ok(version) = Version::parse(&row.version) else {
            continue;
        };
        if !selection.module(&address, &version) {
            continue;
        }
        matched_modules.insert(address.clone());
        let entry = format!("modules/{}.tar.gz", row.sha256);
        let size = row.size_bytes.max(0) as u64;
        if seen.insert(entry.clone())
            && let Some(key) = BlobKey::parse(&row.storage_key)
        {
            entries.push((entry.clone(), key, size));
        }
        manifest.modules.push(ModuleVersionEntry {
            source: address.to_string(),
            version: row.version,
            entry,
            size,
            sha256: row.sha256,
            h1: row.h1,
            files: row.files.max(0) as u64,
            subdir: row.subdir,
            location: row.location,
            commit: row.commit_sha,
        });
    }
    let mut unmatched = Vec::new();
    if let Selection::Definitions(d) = selection {
        for p in &d.providers {
            if !matched_providers.contains(&p.address) {
                unmatched.push(format!("provider {} (line {})", p.address, p.line));
            }
        }
        for m in &d.modules {
            if !matched_modules.contains(&m.address) {
                unmatched.push(format!("module {} (line {})", m.address, m.line));
            }
        }
    }
    Ok(Plan {
        manifest,
        entries,
        unmatched,
    })
}

/// Writes the bundle: the signed manifest, then every blob streamed from the store in
/// chunks. Returns the bytes written.
pub async fn write<W: AsyncWrite + Unpin>(
    store: &dyn BlobStore,
    key: &MirrorKey,
    plan: &Plan,
    out: &mut W,
    progress: &dyn Progress,
) -> anyhow::Result<u64> {
    let manifest = serde_json::to_vec_pretty(&plan.manifest)?;
    anyhow::ensure!(
        manifest.len() as u64 <= MAX_MANIFEST_BYTES,
        "the manifest would be {} bytes, over the {MAX_MANIFEST_BYTES} an import reads (about \
         20,000 provider versions): export in parts with definitions files",
        manifest.len()
    );
    let signature = key.sign(&manifest)?;
    let mtime = plan.manifest.created_at.max(0) as u64;
    let mut written = 0;
    written += write_entry(out, MANIFEST, &manifest, mtime).await?;
    written += write_entry(out, MANIFEST_SIGNATURE, &signature, mtime).await?;
    let total = plan.bytes();
    let mut done = 0;
    for (i, (name, blob, size)) in plan.entries.iter().enumerate() {
        out.write_all(&header(name, *size, mtime)?).await?;
        let mut stream = store
            .get(blob, None)
            .await
            .with_context(|| format!("reading {name} ({}) from the store", blob.as_str()))?;
        let mut copied = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading {name} from the store"))?;
            copied += chunk.len() as u64;
            anyhow::ensure!(
                copied <= *size,
                "{} in the store is larger than its recorded {size} bytes: run `tfmirror verify`",
                blob.as_str()
            );
            out.write_all(&chunk).await?;
        }
        anyhow::ensure!(
            copied == *size,
            "{} in the store has {copied} bytes, not its recorded {size}: run `tfmirror verify`",
            blob.as_str()
        );
        out.write_all(&[0; BLOCK][..padding(*size)]).await?;
        written += BLOCK as u64 + size + padding(*size) as u64;
        done += size;
        progress.advance(i + 1, plan.entries.len(), done, total);
    }
    out.write_all(&[0; 2 * BLOCK]).await?;
    out.flush().await?;
    Ok(written + 2 * BLOCK as u64)
}

async fn write_entry<W: AsyncWrite + Unpin>(
    out: &mut W,
    name: &str,
    body: &[u8],
    mtime: u64,
) -> anyhow::Result<u64> {
    out.write_all(&header(name, body.len() as u64, mtime)?)
        .await?;
    out.write_all(body).await?;
    out.write_all(&[0; BLOCK][..padding(body.len() as u64)])
        .await?;
    Ok((BLOCK + body.len() + padding(body.len() as u64)) as u64)
}

fn header(name: &str, size: u64, mtime: u64) -> std::io::Result<[u8; BLOCK]> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(*h.as_bytes())
}

fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

// ---------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle is not what it claims: nothing from it is listed.
    #[error("bundle refused at {entry}: {why}; nothing from it was imported")]
    Refused { entry: String, why: String },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn refuse(entry: &str, why: impl Into<String>) -> BundleError {
    BundleError::Refused {
        entry: entry.chars().take(200).collect(),
        why: why.into(),
    }
}

/// What an import did, entry by entry.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// The trusted key that signed the manifest.
    pub signed_by: String,
    pub created_at: i64,
    pub entries: Vec<EntryReport>,
    pub packages_added: usize,
    pub packages_present: usize,
    pub modules_added: usize,
    pub modules_present: usize,
    pub bytes: u64,
}

/// One verified entry: what it holds and what was checked.
#[derive(Debug, Serialize)]
pub struct EntryReport {
    pub entry: String,
    /// `HOST/NAMESPACE/TYPE VERSION OS_ARCH` or `HOST/NAMESPACE/NAME/SYSTEM VERSION`, one per
    /// package or module version the entry holds.
    pub items: Vec<String>,
    /// The checks it passed.
    pub verified: Vec<String>,
    /// `added` or `already stored`.
    pub outcome: &'static str,
}

impl ImportReport {
    pub fn render(&self) -> String {
        let mut out = format!(
            "bundle signed by {} (made {}): verified {} entries, {} bytes\n",
            self.signed_by,
            crate::clock::iso8601(self.created_at),
            self.entries.len(),
            self.bytes
        );
        for e in &self.entries {
            out.push_str(&format!(
                "  {:<14} {} ({})\n",
                e.outcome,
                e.items.join(", "),
                e.verified.join(", ")
            ));
        }
        out.push_str(&format!(
            "providers: {} packages added, {} already stored; modules: {} versions added, {} already stored\n",
            self.packages_added, self.packages_present, self.modules_added, self.modules_present
        ));
        out
    }
}

/// One package of the manifest, checked.
struct PackageTarget {
    id: PackageId,
    sha256: String,
    h1: String,
    size: u64,
    evidence: Option<Arc<Evidence>>,
    present: bool,
}

/// One module version of the manifest, checked.
struct ModuleTarget {
    address: ModuleAddress,
    version: Version,
    entry: ModuleVersionEntry,
    present: bool,
}

/// What an entry of the bundle must be, and what it holds.
#[derive(Default)]
struct Expected {
    size: u64,
    sha256: String,
    packages: Vec<usize>,
    modules: Vec<usize>,
    seen: bool,
}

/// Imports bundles into a catalog.
pub struct Importer<'a> {
    pub catalog: &'a Catalog,
    /// Where entries are spooled and modules unpacked while they are checked.
    pub tmp_dir: &'a Path,
    /// ASCII-armored public keys; the manifest must be signed by one of them.
    pub trusted_keys: &'a [String],
}

impl Importer<'_> {
    /// Reads, verifies and (only when everything verified) records a bundle.
    pub async fn import<R: AsyncRead + Unpin>(
        &self,
        reader: R,
        progress: &dyn Progress,
    ) -> Result<ImportReport, BundleError> {
        let mut stored = Vec::new();
        let result = self.import_inner(reader, progress, &mut stored).await;
        if result.is_err() && !stored.is_empty() {
            // Blobs of a refused bundle that no row references go again.
            if let Err(e) = self.catalog.remove_unreferenced(&stored).await {
                tracing::warn!(error = %e, "could not delete the blobs of a refused bundle; orphan collection will");
            }
        }
        result
    }

    async fn import_inner<R: AsyncRead + Unpin>(
        &self,
        reader: R,
        progress: &dyn Progress,
        stored: &mut Vec<BlobKey>,
    ) -> Result<ImportReport, BundleError> {
        tokio::fs::create_dir_all(self.tmp_dir).await?;
        let mut tar = TarReader { inner: reader };
        let manifest_bytes = tar.small_entry(MANIFEST, MAX_MANIFEST_BYTES).await?;
        let signature_bytes = tar
            .small_entry(MANIFEST_SIGNATURE, MAX_SIGNATURE_BYTES)
            .await?;
        let keys = self.trusted_keys.to_vec();
        let signed = manifest_bytes.clone();
        let verified = tokio::task::spawn_blocking(move || {
            signature::verify_detached(&signed, &signature_bytes, &keys)
        })
        .await
        .map_err(|e| CatalogError::Task(e.to_string()))?
        .map_err(|e| {
            let why = match e {
                signature::SignatureError::UnknownKey { key_id, offered } => format!(
                    "the manifest is not signed by a trusted key: it is signed by key {key_id}, the trusted keys are {}",
                    offered.join(", ")
                ),
                other => format!("the manifest is not signed by a trusted key ({other})"),
            };
            refuse(MANIFEST_SIGNATURE, why)
        })?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| refuse(MANIFEST, format!("not a bundle manifest: {e}")))?;
        drop(manifest_bytes);
        if manifest.format != FORMAT {
            return Err(refuse(
                MANIFEST,
                format!("format {:?} is not {FORMAT:?}", manifest.format),
            ));
        }
        let mut report = ImportReport {
            signed_by: verified.key_id,
            created_at: manifest.created_at,
            ..Default::default()
        };
        let (mut packages, mut modules, mut expected) = self.check_manifest(&manifest).await?;
        let total_bytes: u64 = expected.values().map(|e| e.size).sum();
        let total_entries = expected.len();
        // The order an export writes the entries in, to name the one a short file lacks.
        let order: Vec<&str> = manifest
            .providers
            .iter()
            .flat_map(|v| v.packages.iter().map(|p| p.entry.as_str()))
            .chain(manifest.modules.iter().map(|m| m.entry.as_str()))
            .collect();
        let mut done = 0;
        let mut cursor = 0;
        loop {
            // Entries arrive in that order, so the cursor only moves forward.
            while cursor < order.len() && expected.get(order[cursor]).is_none_or(|x| x.seen) {
                cursor += 1;
            }
            let next = order
                .get(cursor)
                .copied()
                .unwrap_or("the end of the bundle");
            let Some((name, size)) = tar.next_header(next).await? else {
                break;
            };
            let exp = expected
                .get_mut(&name)
                .ok_or_else(|| refuse(&name, "the manifest does not list this entry"))?;
            if exp.seen {
                return Err(refuse(&name, "the entry is in the bundle twice"));
            }
            exp.seen = true;
            if size != exp.size {
                return Err(refuse(
                    &name,
                    format!("{size} bytes, the manifest says {}", exp.size),
                ));
            }
            let spool = tempfile::Builder::new()
                .prefix("bundle-")
                .tempfile_in(self.tmp_dir)?
                .into_temp_path();
            let sha256 = tar.body_to_file(&name, size, &spool).await?;
            if sha256 != exp.sha256 {
                return Err(refuse(
                    &name,
                    format!(
                        "its bytes hash to sha256 {sha256}, the manifest says {}",
                        exp.sha256
                    ),
                ));
            }
            let mut verified = vec![format!("sha256 {}", short(&exp.sha256))];
            if !exp.packages.is_empty() {
                let limits = self.catalog.zip_limits();
                let path = spool.to_path_buf();
                let known = sha256.clone();
                let hashed = tokio::task::spawn_blocking(move || {
                    hashes::hash_package_file_with(&path, limits, Some(known))
                })
                .await
                .map_err(|e| CatalogError::Task(e.to_string()))?;
                let hashed = match hashed {
                    Ok(h) => h,
                    Err(HashError::Io(e)) => return Err(e.into()),
                    Err(e) => return Err(refuse(&name, format!("not a provider package: {e}"))),
                };
                for &i in &exp.packages {
                    let p = &packages[i];
                    if hashed.h1 != p.h1 {
                        return Err(refuse(
                            &name,
                            format!(
                                "{}: its h1 is {}, the manifest says {}",
                                p.id, hashed.h1, p.h1
                            ),
                        ));
                    }
                }
                verified.push(format!("{} (h1)", short(&hashed.h1)));
                if exp.packages.iter().any(|&i| packages[i].evidence.is_some()) {
                    verified.push("listed in the origin's signed SHA256SUMS".into());
                }
            }
            for &i in &exp.modules {
                let m = &modules[i];
                let h1 = self
                    .module_tree_h1(&spool)
                    .await
                    .map_err(|why| refuse(&name, format!("{} {}: {why}", m.address, m.version)))?;
                if h1 != m.entry.h1 {
                    return Err(refuse(
                        &name,
                        format!(
                            "{} {}: its tree's h1 is {h1}, the manifest says {}",
                            m.address, m.version, m.entry.h1
                        ),
                    ));
                }
                verified.push(format!("{} (tree h1)", short(&h1)));
            }
            let fresh = exp.packages.iter().any(|&i| !packages[i].present)
                || exp.modules.iter().any(|&i| !modules[i].present);
            if fresh {
                let key = if exp.packages.is_empty() {
                    BlobKey::for_module_sha256(&sha256)
                } else {
                    BlobKey::for_sha256(&sha256)
                }
                .expect("a sha256 is a key");
                self.catalog
                    .store()
                    .put_owned_file(&key, &spool, size)
                    .await
                    .map_err(CatalogError::from)?;
                stored.push(key);
            }
            let mut items: Vec<String> = exp
                .packages
                .iter()
                .map(|&i| packages[i].id.to_string())
                .collect();
            items.extend(
                exp.modules
                    .iter()
                    .map(|&i| format!("{} {}", modules[i].address, modules[i].version)),
            );
            report.entries.push(EntryReport {
                entry: name,
                items,
                verified,
                outcome: if fresh { "added" } else { "already stored" },
            });
            report.bytes += size;
            done += 1;
            progress.advance(done, total_entries, report.bytes, total_bytes);
        }
        if let Some((name, _)) = expected.iter().find(|(_, e)| !e.seen) {
            return Err(refuse(
                name,
                "the manifest lists it but the bundle ends without it (truncated or incomplete)",
            ));
        }
        self.record(&mut packages, &mut modules, &mut report)
            .await?;
        Ok(report)
    }

    /// Checks every claim of the manifest that needs no package bytes: names, the origin
    /// signatures over each `SHA256SUMS` and each package's line in it, and what is stored
    /// here already (the same bytes are skipped; other bytes refuse the bundle).
    #[allow(clippy::type_complexity)]
    async fn check_manifest(
        &self,
        manifest: &Manifest,
    ) -> Result<
        (
            Vec<PackageTarget>,
            Vec<ModuleTarget>,
            HashMap<String, Expected>,
        ),
        BundleError,
    > {
        let mut packages = Vec::new();
        let mut modules = Vec::new();
        let mut expected: HashMap<String, Expected> = HashMap::new();
        let mut ids = HashSet::new();
        for v in &manifest.providers {
            let what = format!("{} {}", v.source, v.version);
            let address = ProviderAddress::parse(&v.source)
                .map_err(|e| refuse(MANIFEST, format!("{what}: {e}")))?;
            let version =
                Version::parse(&v.version).map_err(|e| refuse(MANIFEST, format!("{what}: {e}")))?;
            let evidence = match &v.evidence {
                Some(e) => {
                    let e = e.clone();
                    // Only the key this version names goes to the blocking pool.
                    let key: BTreeMap<String, String> = e
                        .signing_key
                        .as_ref()
                        .and_then(|r| manifest.signing_keys.get_key_value(r))
                        .map(|(r, a)| (r.clone(), a.clone()))
                        .into_iter()
                        .collect();
                    let checked = tokio::task::spawn_blocking(move || check_evidence(&e, &key))
                        .await
                        .map_err(|e| CatalogError::Task(e.to_string()))?;
                    Some(Arc::new(
                        checked.map_err(|why| refuse(MANIFEST, format!("{what}: {why}")))?,
                    ))
                }
                None => None,
            };
            for p in &v.packages {
                let platform = Platform::parse(&p.platform)
                    .map_err(|e| refuse(MANIFEST, format!("{what}: {e}")))?;
                let id = PackageId {
                    address: address.clone(),
                    version: version.clone(),
                    platform,
                };
                if !ids.insert(id.to_string()) {
                    return Err(refuse(MANIFEST, format!("{id} is listed twice")));
                }
                let sha256 = p.sha256.to_ascii_lowercase();
                if BlobKey::for_sha256(&sha256).is_none()
                    || p.entry != format!("packages/{sha256}.zip")
                {
                    return Err(refuse(
                        MANIFEST,
                        format!(
                            "{id}: entry {:?} or sha256 {:?} is malformed",
                            p.entry, p.sha256
                        ),
                    ));
                }
                match &evidence {
                    Some(e) => hashes::check_listed(&e.shasums, &id.filename(), &sha256)
                        .map_err(|why| refuse(&p.entry, format!("{id}: {why}")))?,
                    None if matches!(p.source.as_str(), "import" | "upload") => {}
                    None => {
                        return Err(refuse(
                            MANIFEST,
                            format!(
                                "{id} came from a registry ({}) but carries no evidence",
                                p.source
                            ),
                        ));
                    }
                }
                let present = match self.catalog.stored_sha256(&id).await? {
                    Some(s) if s == sha256 => true,
                    Some(s) => {
                        return Err(refuse(
                            &p.entry,
                            format!(
                                "{id}: this mirror stores other bytes for it (sha256 {s}); a stored package is never replaced"
                            ),
                        ));
                    }
                    None => false,
                };
                if p.size > self.catalog.max_archive_bytes() {
                    return Err(refuse(
                        &p.entry,
                        format!(
                            "{id}: {} bytes, over this mirror's limits.max_archive_bytes ({})",
                            p.size,
                            self.catalog.max_archive_bytes()
                        ),
                    ));
                }
                let exp = expect(&mut expected, &p.entry, p.size, &sha256)?;
                exp.packages.push(packages.len());
                packages.push(PackageTarget {
                    id,
                    sha256,
                    h1: p.h1.clone(),
                    size: p.size,
                    evidence: evidence.clone(),
                    present,
                });
            }
        }
        let mut module_ids = HashSet::new();
        for m in &manifest.modules {
            let what = format!("{} {}", m.source, m.version);
            let address = ModuleAddress::parse(&m.source)
                .map_err(|e| refuse(MANIFEST, format!("{what}: {e}")))?;
            let version =
                Version::parse(&m.version).map_err(|e| refuse(MANIFEST, format!("{what}: {e}")))?;
            if !module_ids.insert(what.clone()) {
                return Err(refuse(MANIFEST, format!("{what} is listed twice")));
            }
            let sha256 = m.sha256.to_ascii_lowercase();
            if BlobKey::for_module_sha256(&sha256).is_none()
                || m.entry != format!("modules/{sha256}.tar.gz")
                || !m.h1.starts_with("h1:")
            {
                return Err(refuse(
                    MANIFEST,
                    format!("{what}: entry, sha256 or h1 is malformed"),
                ));
            }
            if m.subdir.len() > 1024 || m.location.as_ref().is_some_and(|l| l.len() > 4096) {
                return Err(refuse(
                    MANIFEST,
                    format!("{what}: subdir or location too long"),
                ));
            }
            let present = match self
                .catalog
                .module_view(&address)
                .await?
                .get(&version.to_string())
            {
                Some(s) if s.h1 == m.h1 => true,
                Some(s) => {
                    return Err(refuse(
                        &m.entry,
                        format!(
                            "{what}: this mirror stores other content for it ({}); a stored version is never replaced",
                            s.h1
                        ),
                    ));
                }
                None => false,
            };
            if m.size > self.catalog.module_limits().max_bytes {
                return Err(refuse(
                    &m.entry,
                    format!(
                        "{what}: {} bytes, over this mirror's limits.max_module_bytes ({})",
                        m.size,
                        self.catalog.module_limits().max_bytes
                    ),
                ));
            }
            let exp = expect(&mut expected, &m.entry, m.size, &sha256)?;
            exp.modules.push(modules.len());
            modules.push(ModuleTarget {
                address,
                version,
                entry: ModuleVersionEntry {
                    sha256,
                    ..m.clone()
                },
                present,
            });
        }
        Ok((packages, modules, expected))
    }

    async fn module_tree_h1(&self, archive: &Path) -> Result<String, String> {
        let work = tempfile::Builder::new()
            .prefix("bundle-module-")
            .tempdir_in(self.tmp_dir)
            .map_err(|e| e.to_string())?;
        let limits = self.catalog.module_limits();
        let archive = archive.to_path_buf();
        let dest: PathBuf = work.path().join("tree");
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir(&dest)?;
            archive::unpack(&archive, ArchiveFormat::TarGz, &dest, limits)?;
            archive::tree_h1(&dest, limits)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
    }

    /// Writes every new row in one transaction and counts what was there already.
    async fn record(
        &self,
        packages: &mut [PackageTarget],
        modules: &mut [ModuleTarget],
        report: &mut ImportReport,
    ) -> Result<(), BundleError> {
        let detail = format!(
            "bundle signed by {} made {}",
            report.signed_by,
            crate::clock::iso8601(report.created_at)
        );
        let filenames: Vec<String> = packages.iter().map(|p| p.id.filename()).collect();
        let keys: Vec<BlobKey> = packages
            .iter()
            .map(|p| BlobKey::for_sha256(&p.sha256).expect("checked"))
            .collect();
        let new_packages: Vec<NewPackage<'_>> = packages
            .iter()
            .zip(filenames.iter().zip(&keys))
            .filter(|(p, _)| !p.present)
            .map(|(p, (filename, key))| NewPackage {
                address: &p.id.address,
                version: &p.id.version,
                platform: &p.id.platform,
                filename,
                size: p.size,
                sha256: &p.sha256,
                h1: &p.h1,
                storage_key: key.as_str(),
                source: PackageSource::Import,
                source_detail: Some(&detail),
                evidence: p.evidence.as_deref(),
            })
            .collect();
        let module_keys: Vec<BlobKey> = modules
            .iter()
            .map(|m| BlobKey::for_module_sha256(&m.entry.sha256).expect("checked"))
            .collect();
        let new_modules: Vec<NewModuleVersion<'_>> = modules
            .iter()
            .zip(&module_keys)
            .filter(|(m, _)| !m.present)
            .map(|(m, key)| NewModuleVersion {
                address: &m.address,
                version: &m.version,
                size_bytes: m.entry.size as i64,
                sha256: &m.entry.sha256,
                h1: &m.entry.h1,
                files: m.entry.files as i64,
                storage_key: key.as_str(),
                subdir: &m.entry.subdir,
                source: PackageSource::Import,
                location: m.entry.location.as_deref(),
                commit_sha: m.entry.commit.as_deref(),
                created_by: Some(&detail),
            })
            .collect();
        report.packages_added = new_packages.len();
        report.packages_present = packages.len() - new_packages.len();
        report.modules_added = new_modules.len();
        report.modules_present = modules.len() - new_modules.len();
        if !new_packages.is_empty() || !new_modules.is_empty() {
            self.catalog
                .record_bundle(&new_packages, &new_modules)
                .await?;
        }
        tracing::info!(
            signed_by = %report.signed_by,
            packages_added = report.packages_added,
            modules_added = report.modules_added,
            "bundle imported"
        );
        Ok(())
    }
}

fn expect<'a>(
    expected: &'a mut HashMap<String, Expected>,
    entry: &str,
    size: u64,
    sha256: &str,
) -> Result<&'a mut Expected, BundleError> {
    let exp = expected
        .entry(entry.to_owned())
        .or_insert_with(|| Expected {
            size,
            sha256: sha256.to_owned(),
            ..Default::default()
        });
    if exp.size != size || exp.sha256 != sha256 {
        return Err(refuse(
            MANIFEST,
            format!("{entry} is listed with two sizes or hashes"),
        ));
    }
    Ok(exp)
}

/// The origin's signature over its `SHA256SUMS`, checked with the key recorded beside it:
/// what the worker checked when it fetched the packages.
fn check_evidence(e: &EvidenceEntry, keys: &BTreeMap<String, String>) -> Result<Evidence, String> {
    let (Some(sig), Some(reference)) = (&e.signature, &e.signing_key) else {
        return Err(
            "its SHA256SUMS carries no origin signature (the exporting mirror accepted it unsigned); refusing"
                .into(),
        );
    };
    let armor = keys
        .get(reference)
        .ok_or_else(|| format!("its signing key {reference} is not in the manifest"))?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|e| format!("the SHA256SUMS signature is not base64: {e}"))?;
    let by = signature::verify_detached(e.shasums.as_bytes(), &sig, std::slice::from_ref(armor))
        .map_err(|err| format!("the origin's signature over SHA256SUMS does not verify: {err}"))?;
    if let Some(id) = &e.signing_key_id
        && !id.eq_ignore_ascii_case(&by.key_id)
    {
        return Err(format!(
            "SHA256SUMS is signed by {}, the manifest says {id}",
            by.key_id
        ));
    }
    Ok(Evidence {
        shasums: e.shasums.clone(),
        signature: Some(sig),
        signing_key_id: Some(by.key_id),
        signing_key_armor: Some(armor.clone()),
        protocols: e.protocols.clone(),
    })
}

fn short(hash: &str) -> String {
    hash.chars().take(19).collect()
}

/// Reads a tar stream entry by entry, never more than a chunk at a time.
struct TarReader<R> {
    inner: R,
}

impl<R: AsyncRead + Unpin> TarReader<R> {
    /// The next entry's name and size; `None` at the end marker. `next` names what is
    /// expected, for the message when the file ends first.
    async fn next_header(&mut self, next: &str) -> Result<Option<(String, u64)>, BundleError> {
        let mut block = [0u8; BLOCK];
        self.read_exact(&mut block, next).await?;
        if block.iter().all(|&b| b == 0) {
            self.read_exact(&mut block, "the end of the bundle").await?;
            return Ok(None);
        }
        let h = tar::Header::from_byte_slice(&block);
        let stored = h.cksum().ok();
        let computed: u32 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        if stored != Some(computed) {
            return Err(refuse(
                "the bundle",
                "a tar header's checksum is wrong: the file is damaged",
            ));
        }
        let name = String::from_utf8(h.path_bytes().into_owned())
            .map_err(|_| refuse("the bundle", "an entry name is not UTF-8"))?;
        if h.entry_type() != tar::EntryType::Regular {
            return Err(refuse(&name, "not a regular file entry"));
        }
        let size = h
            .entry_size()
            .map_err(|e| refuse(&name, format!("unreadable size: {e}")))?;
        Ok(Some((name, size)))
    }

    async fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), BundleError> {
        match self.inner.read_exact(buf).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(refuse(
                what,
                "the bundle ends before this is complete: the file is truncated",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A small entry that must come next, read into memory.
    async fn small_entry(&mut self, name: &str, max: u64) -> Result<Vec<u8>, BundleError> {
        let (found, size) = self
            .next_header(name)
            .await?
            .ok_or_else(|| refuse(name, "the bundle is empty"))?;
        if found != name {
            return Err(refuse(
                name,
                format!(
                    "a bundle starts with {MANIFEST} and {MANIFEST_SIGNATURE}, this one with {found:?}"
                ),
            ));
        }
        if size > max {
            return Err(refuse(
                name,
                format!("{size} bytes, over the limit of {max}"),
            ));
        }
        let mut body = vec![0; size as usize];
        self.read_exact(&mut body, name).await?;
        self.skip_padding(name, size).await?;
        Ok(body)
    }

    /// Copies the entry's body into `path` in chunks.
    /// Copies the entry's body into `path` in chunks, hashing it on the blocking pool as it
    /// is written (a few chunks in flight); returns the sha256 of what was written.
    async fn body_to_file(
        &mut self,
        name: &str,
        size: u64,
        path: &Path,
    ) -> Result<String, BundleError> {
        let (chunks, mut received) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let path = path.to_owned();
        let writer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            use sha2::Digest as _;
            use std::io::Write as _;
            let mut file = std::fs::File::create(&path)?;
            let mut hasher = Sha256::new();
            while let Some(chunk) = received.blocking_recv() {
                hasher.update(&chunk);
                file.write_all(&chunk)?;
            }
            file.sync_all()?;
            Ok(hex::encode(hasher.finalize()))
        });
        let mut left = size;
        let read = async {
            while left > 0 {
                let n = (left as usize).min(CHUNK);
                let mut buf = vec![0u8; n];
                self.read_exact(&mut buf, name).await?;
                left -= n as u64;
                if chunks.send(buf).await.is_err() {
                    // The writer stopped: its error is the one to report.
                    break;
                }
            }
            drop(chunks);
            Ok::<_, BundleError>(())
        };
        let read = read.await;
        let written = writer
            .await
            .map_err(|e| CatalogError::Task(e.to_string()))?;
        read?;
        let sha256 = written?;
        self.skip_padding(name, size).await?;
        Ok(sha256)
    }

    async fn skip_padding(&mut self, name: &str, size: u64) -> Result<(), BundleError> {
        let mut pad = [0u8; BLOCK];
        let n = padding(size);
        self.read_exact(&mut pad[..n], name).await?;
        if pad[..n].iter().any(|&b| b != 0) {
            return Err(refuse(
                name,
                "the padding after it is not zeros: the file is damaged",
            ));
        }
        Ok(())
    }
}
