//! Module packages: unpacking untrusted archives safely, and repacking a tree into the one
//! deterministic `.tar.gz` the mirror stores and serves.
//!
//! * [`unpack`] writes a `.tar.gz`, `.tgz`, `.tar` or `.zip` into an empty directory and
//!   refuses, naming the entry, anything that could reach outside it or hide something:
//!   absolute paths, `..`, symbolic links whose target leaves the package, hard links, device
//!   files and FIFOs, an entry written twice, an entry below a symbolic link. Actual bytes
//!   written and entries are counted against [`TreeLimits`] (never the sizes an archive
//!   declares), so a tar or zip bomb stops at the limit.
//! * [`repack`] walks a tree in byte order and writes a tar with fixed owner, mode and time
//!   inside a gzip with a fixed header: the same files always give the same bytes, so the
//!   archive's sha256 identifies the content. `.git` at the root is left out.
//! * [`tree_h1`] is the `h1:` of the tree (Go's `dirhash.Hash1`, the hash providers use):
//!   sha256 over the sorted lines `hex(sha256(content))  path`.
//!
//! Everything here blocks: call it from `spawn_blocking`.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hashes::Sha256Writer;

/// What bounds a module package; exceeding one refuses it.
#[derive(Debug, Clone, Copy)]
pub struct TreeLimits {
    /// Total bytes of the unpacked files.
    pub max_bytes: u64,
    /// Files, directories and links.
    pub max_entries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    TarGz,
    Tar,
    Zip,
}

impl ArchiveFormat {
    /// The format go-getter would pick for a path's suffix (or an `?archive=` value).
    pub fn from_suffix(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") || name == "tar.gz" || name == "tgz"
        {
            Some(Self::TarGz)
        } else if name.ends_with(".zip") || name == "zip" {
            Some(Self::Zip)
        } else if name.ends_with(".tar") || name == "tar" {
            Some(Self::Tar)
        } else {
            None
        }
    }

    /// Recognises the format by the file's first bytes, for uploads without a usable name.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Self::TarGz)
        } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
            Some(Self::Zip)
        } else if head.len() >= 262 && &head[257..262] == b"ustar" {
            Some(Self::Tar)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a readable archive: {0}")]
    Unreadable(String),
    #[error("archive entry {entry:?} is refused: {why}")]
    Refused { entry: String, why: &'static str },
    #[error("archive unpacks to more than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("archive has more than the limit of {0} entries")]
    TooManyEntries(usize),
    #[error("the package is empty")]
    Empty,
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// What was unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeStats {
    pub files: usize,
    pub bytes: u64,
}

/// Checks an entry name and turns it into a relative path of normal components.
fn entry_path(name: &str) -> Result<PathBuf, ArchiveError> {
    let refuse = |why| ArchiveError::Refused {
        entry: name.chars().take(200).collect(),
        why,
    };
    if name.contains(['\0', '\n', '\r', '\\']) {
        return Err(refuse("its name contains a NUL, a newline or a backslash"));
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return Err(refuse("it is an absolute path"));
    }
    let mut path = PathBuf::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(refuse("its path contains '..'")),
            p => path.push(p),
        }
    }
    Ok(path)
}

/// Whether a link at `link` (relative to the package root) pointing at `target` stays
/// inside the package, resolving the target lexically.
fn link_stays_inside(link: &Path, target: &str) -> bool {
    if target.is_empty() || target.starts_with('/') || target.contains(['\0', '\\']) {
        return false;
    }
    let mut depth: Vec<Component<'_>> = link
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for part in Path::new(target).components() {
        match part {
            Component::Normal(_) => depth.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Whether the link at `path` (named `rel` inside the package at the canonical `root`) stays
/// inside: its target resolved lexically, and what it names on disk, through any other link.
/// A link that names nothing is refused too: what it would name is not in the package.
fn link_inside(root: &Path, path: &Path, rel: &Path, target: &str) -> bool {
    link_stays_inside(rel, target) && fs::canonicalize(path).is_ok_and(|p| p.starts_with(root))
}

/// Writes the entries of an archive below `dest`, keeping count against the limits.
struct Unpacker<'a> {
    dest: &'a Path,
    limits: TreeLimits,
    stats: TreeStats,
    entries: usize,
    seen: BTreeSet<PathBuf>,
    links: BTreeSet<PathBuf>,
}

enum Kind<'r> {
    Dir,
    File {
        executable: bool,
        reader: &'r mut dyn Read,
    },
    Symlink(String),
}

impl<'a> Unpacker<'a> {
    fn new(dest: &'a Path, limits: TreeLimits) -> Self {
        Self {
            dest,
            limits,
            stats: TreeStats::default(),
            entries: 0,
            seen: BTreeSet::new(),
            links: BTreeSet::new(),
        }
    }

    fn add(&mut self, name: &str, kind: Kind<'_>) -> Result<(), ArchiveError> {
        let rel = entry_path(name)?;
        let refuse = |why| ArchiveError::Refused {
            entry: name.chars().take(200).collect(),
            why,
        };
        if rel.as_os_str().is_empty() {
            return match kind {
                Kind::Dir => Ok(()),
                _ => Err(refuse("it names the package root")),
            };
        }
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries(self.limits.max_entries));
        }
        if rel.ancestors().skip(1).any(|a| self.links.contains(a)) {
            return Err(refuse("it lies below a symbolic link"));
        }
        let dir_again = matches!(kind, Kind::Dir) && self.dest.join(&rel).is_dir();
        if !self.seen.insert(rel.clone()) && !dir_again {
            return Err(refuse("the archive holds it twice"));
        }
        let path = self.dest.join(&rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        match kind {
            Kind::Dir => fs::create_dir_all(&path)?,
            Kind::Symlink(target) => {
                if !link_stays_inside(&rel, &target) {
                    return Err(refuse(
                        "it is a symbolic link that leads outside the package",
                    ));
                }
                std::os::unix::fs::symlink(&target, &path)?;
                self.links.insert(rel);
            }
            Kind::File { executable, reader } => {
                let remaining = self.limits.max_bytes - self.stats.bytes;
                let mut file = fs::File::create_new(&path)?;
                // One byte past the budget tells a file that is too large from one that fits.
                let written = io::copy(&mut reader.take(remaining + 1), &mut file)
                    .map_err(|e| ArchiveError::Unreadable(format!("entry {name:?}: {e}")))?;
                if written > remaining {
                    return Err(ArchiveError::TooLarge(self.limits.max_bytes));
                }
                self.stats.bytes += written;
                self.stats.files += 1;
                file.set_permissions(fs::Permissions::from_mode(if executable {
                    0o755
                } else {
                    0o644
                }))?;
            }
        }
        Ok(())
    }
}

fn is_executable(mode: u32) -> bool {
    mode & 0o111 != 0
}

fn unpack_tar(reader: impl Read, u: &mut Unpacker<'_>) -> Result<(), ArchiveError> {
    let unreadable = |e: io::Error| ArchiveError::Unreadable(e.to_string());
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| ArchiveError::Unreadable("an entry's name is not UTF-8".into()))?;
        let refuse = |why| ArchiveError::Refused {
            entry: name.chars().take(200).collect(),
            why,
        };
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644);
        match header.entry_type() {
            tar::EntryType::Directory => u.add(&name, Kind::Dir)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let executable = is_executable(mode);
                u.add(
                    &name,
                    Kind::File {
                        executable,
                        reader: &mut entry,
                    },
                )?
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                u.add(&name, Kind::Symlink(target))?
            }
            tar::EntryType::Link => return Err(refuse("it is a hard link")),
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(refuse("it is a device file"));
            }
            tar::EntryType::Fifo => return Err(refuse("it is a FIFO")),
            // Metadata records (pax, GNU long names) are folded in by the reader.
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => return Err(refuse("it is not a file, a directory or a symbolic link")),
        }
    }
    Ok(())
}

fn unpack_zip(file: fs::File, u: &mut Unpacker<'_>) -> Result<(), ArchiveError> {
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| ArchiveError::Unreadable(e.to_string()))?;
    if archive.len() > u.limits.max_entries.saturating_add(1) {
        return Err(ArchiveError::TooManyEntries(u.limits.max_entries));
    }
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| ArchiveError::Unreadable(format!("entry {i}: {e}")))?;
        let name = std::str::from_utf8(entry.name_raw())
            .map_err(|_| ArchiveError::Unreadable(format!("entry {i}: name is not UTF-8")))?
            .to_owned();
        let mode = entry.unix_mode().unwrap_or(0o644);
        const S_IFMT: u32 = 0o170000;
        const S_IFLNK: u32 = 0o120000;
        const S_IFREG: u32 = 0o100000;
        const S_IFDIR: u32 = 0o040000;
        let file_type = mode & S_IFMT;
        if entry.is_dir() || file_type == S_IFDIR {
            u.add(&name, Kind::Dir)?;
        } else if file_type == S_IFLNK {
            let mut target = String::new();
            (&mut entry)
                .take(4096)
                .read_to_string(&mut target)
                .map_err(|e| ArchiveError::Unreadable(format!("entry {name:?}: {e}")))?;
            u.add(&name, Kind::Symlink(target))?;
        } else if file_type == 0 || file_type == S_IFREG {
            u.add(
                &name,
                Kind::File {
                    executable: is_executable(mode),
                    reader: &mut entry,
                },
            )?;
        } else {
            return Err(ArchiveError::Refused {
                entry: name,
                why: "it is not a file, a directory or a symbolic link",
            });
        }
    }
    Ok(())
}

/// Unpacks `archive` into the empty directory `dest`. On an error `dest` holds a partial
/// tree: the caller throws it away.
pub fn unpack(
    archive: &Path,
    format: ArchiveFormat,
    dest: &Path,
    limits: TreeLimits,
) -> Result<TreeStats, ArchiveError> {
    let mut u = Unpacker::new(dest, limits);
    let file = fs::File::open(archive)?;
    match format {
        ArchiveFormat::TarGz => unpack_tar(
            flate2::read::GzDecoder::new(io::BufReader::new(file)),
            &mut u,
        )?,
        ArchiveFormat::Tar => unpack_tar(io::BufReader::new(file), &mut u)?,
        ArchiveFormat::Zip => unpack_zip(file, &mut u)?,
    }
    if u.stats.files == 0 {
        return Err(ArchiveError::Empty);
    }
    // Each link was checked by its own target; through each other they may still leave.
    let root = fs::canonicalize(dest)?;
    for rel in &u.links {
        let target = fs::read_link(dest.join(rel))?;
        if !link_inside(&root, &dest.join(rel), rel, &target.to_string_lossy()) {
            return Err(ArchiveError::Refused {
                entry: rel.to_string_lossy().into_owned(),
                why: "it is a symbolic link that leads outside the package or to nothing",
            });
        }
    }
    Ok(u.stats)
}

/// The directory that holds the package: `dir` itself, or its only entry when that is a
/// directory (the `repo-v1.2.0/` wrapper of a source archive).
pub fn single_root(dir: &Path) -> io::Result<PathBuf> {
    let mut entries = fs::read_dir(dir)?;
    match (entries.next(), entries.next()) {
        (Some(only), None) => {
            let only = only?;
            if only.file_type()?.is_dir() {
                Ok(only.path())
            } else {
                Ok(dir.to_owned())
            }
        }
        _ => Ok(dir.to_owned()),
    }
}

/// One entry of a tree, by its path relative to the root (`/`-separated).
struct TreeEntry {
    rel: String,
    path: PathBuf,
    kind: TreeKind,
}

enum TreeKind {
    Dir,
    File { executable: bool },
    Symlink(PathBuf),
}

/// Every entry below `root` in byte order of the relative path, without the root's `.git`.
fn walk(root: &Path, limits: TreeLimits) -> Result<Vec<TreeEntry>, ArchiveError> {
    let canonical_root = fs::canonicalize(root)?;
    let mut out = Vec::new();
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| ArchiveError::Refused {
                    entry: n.to_string_lossy().into_owned(),
                    why: "its name is not UTF-8",
                })?;
            if prefix.is_empty() && name == ".git" {
                continue;
            }
            let rel = format!("{prefix}{name}");
            entry_path(&rel)?;
            let file_type = entry.file_type()?;
            let kind = if file_type.is_symlink() {
                let target = fs::read_link(entry.path())?;
                let inside = target.to_str().is_some_and(|t| {
                    link_inside(&canonical_root, &entry.path(), Path::new(&rel), t)
                });
                if !inside {
                    return Err(ArchiveError::Refused {
                        entry: rel,
                        why: "it is a symbolic link that leads outside the package or to nothing",
                    });
                }
                TreeKind::Symlink(target)
            } else if file_type.is_dir() {
                stack.push((entry.path(), format!("{rel}/")));
                TreeKind::Dir
            } else if file_type.is_file() {
                let mode = entry.metadata()?.permissions().mode();
                TreeKind::File {
                    executable: is_executable(mode),
                }
            } else {
                return Err(ArchiveError::Refused {
                    entry: rel,
                    why: "it is not a file, a directory or a symbolic link",
                });
            };
            out.push(TreeEntry {
                rel,
                path: entry.path(),
                kind,
            });
            if out.len() > limits.max_entries {
                return Err(ArchiveError::TooManyEntries(limits.max_entries));
            }
        }
    }
    out.sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    Ok(out)
}

/// The stored archive of a module version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub sha256: String,
    pub size: u64,
    /// `h1:` of the tree (see [`tree_h1`]).
    pub h1: String,
    pub files: usize,
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Writes the tree at `root` as a deterministic `.tar.gz` to `out`, and hashes it.
pub fn repack(root: &Path, out: &Path, limits: TreeLimits) -> Result<Packed, ArchiveError> {
    let entries = walk(root, limits)?;
    let file = fs::File::create(out)?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(
            Sha256Writer::new(io::BufWriter::new(file)),
            flate2::Compression::default(),
        );
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut bytes = 0u64;
    for e in &entries {
        match &e.kind {
            TreeKind::Dir => {
                let mut h = header(tar::EntryType::Directory, 0o755, 0);
                tar.append_data(&mut h, format!("{}/", e.rel), io::empty())?;
            }
            TreeKind::Symlink(target) => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                tar.append_link(&mut h, &e.rel, target)?;
                // dirhash opens the path, which follows the link to what it names.
                if let Ok(mut f) = fs::File::open(&e.path)
                    && f.metadata()?.is_file()
                {
                    let (digest, _) = crate::hashes::sha256_hex(&mut f)?;
                    lines.push((e.rel.clone(), digest));
                }
            }
            TreeKind::File { executable } => {
                let f = fs::File::open(&e.path)?;
                let size = f.metadata()?.len();
                bytes += size;
                if bytes > limits.max_bytes {
                    return Err(ArchiveError::TooLarge(limits.max_bytes));
                }
                let mut h = header(
                    tar::EntryType::Regular,
                    if *executable { 0o755 } else { 0o644 },
                    size,
                );
                let mut hashing = HashingReader::new(f.take(size));
                tar.append_data(&mut h, &e.rel, &mut hashing)?;
                lines.push((e.rel.clone(), hashing.finish()));
            }
        }
    }
    if lines.is_empty() {
        return Err(ArchiveError::Empty);
    }
    let gz = tar.into_inner()?;
    let writer = gz.finish()?;
    let (mut buffered, sha256, size) = writer.finish();
    buffered.flush()?;
    buffered
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(Packed {
        sha256,
        size,
        h1: h1_of_lines(lines),
        files: entries
            .iter()
            .filter(|e| matches!(e.kind, TreeKind::File { .. }))
            .count(),
    })
}

/// A reader that hashes what passes through.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> String {
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn h1_of_lines(mut lines: Vec<(String, String)>) -> String {
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    crate::hashes::h1_of_sorted(&lines)
}

/// The `h1:` of the tree at `root` (files, and links to files by what they name; the root's
/// `.git` left out), as [`repack`] computes it.
pub fn tree_h1(root: &Path, limits: TreeLimits) -> Result<String, ArchiveError> {
    let mut lines = Vec::new();
    for e in walk(root, limits)? {
        if matches!(e.kind, TreeKind::Dir) {
            continue;
        }
        if let Ok(mut f) = fs::File::open(&e.path)
            && f.metadata()?.is_file()
        {
            lines.push((e.rel, crate::hashes::sha256_hex(&mut f)?.0));
        }
    }
    Ok(h1_of_lines(lines))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const LIMITS: TreeLimits = TreeLimits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };

    enum E<'a> {
        F(&'a str, &'a [u8]),
        D(&'a str),
        L(&'a str, &'a str),
        H(&'a str, &'a str),
        Dev(&'a str),
    }

    /// A tar.gz written entry by entry with raw names, as a hostile archive would be.
    fn tar_gz(entries: &[E<'_>]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for e in entries {
            let mut h = tar::Header::new_gnu();
            let (name, kind, data): (&str, _, &[u8]) = match e {
                E::F(n, d) => (n, tar::EntryType::Regular, d),
                E::D(n) => (n, tar::EntryType::Directory, b""),
                E::L(n, t) | E::H(n, t) => {
                    h.set_link_name_literal(t).unwrap();
                    let kind = if matches!(e, E::L(..)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    (n, kind, b"")
                }
                E::Dev(n) => (n, tar::EntryType::Char, b""),
            };
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Raw bytes, so `..` and absolute names reach the archive unchanged.
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name = [0; 100];
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    fn unpack_bytes(
        bytes: &[u8],
        format: ArchiveFormat,
        limits: TreeLimits,
    ) -> Result<TreeStats, ArchiveError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a");
        fs::write(&file, bytes).unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        unpack(&file, format, &dest, limits)
    }

    fn ok_file() -> E<'static> {
        E::F("main.tf", b"x")
    }

    fn refused(entries: &[E<'_>]) -> String {
        match unpack_bytes(&tar_gz(entries), ArchiveFormat::TarGz, LIMITS) {
            Err(e) => e.to_string(),
            Ok(s) => panic!("accepted: {s:?}"),
        }
    }

    #[test]
    fn hostile_tar_entries_are_refused_by_name() {
        assert!(
            refused(&[E::F("../evil.tf", b"x")])
                .contains("\"../evil.tf\" is refused: its path contains '..'")
        );
        assert!(refused(&[E::F("a/../../evil", b"x")]).contains("'..'"));
        assert!(refused(&[E::F("/etc/passwd", b"x")]).contains("absolute path"));
        assert!(
            refused(&[ok_file(), E::L("up", "../../etc")])
                .contains("\"up\" is refused: it is a symbolic link that leads outside")
        );
        assert!(refused(&[E::L("abs", "/etc/passwd")]).contains("leads outside"));
        assert!(refused(&[E::L("d/up", "../..")]).contains("leads outside"));
        assert!(refused(&[E::H("hard", "main.tf")]).contains("hard link"));
        assert!(refused(&[E::Dev("null")]).contains("device file"));
        assert!(refused(&[E::F("a.tf", b"1"), E::F("a.tf", b"2")]).contains("twice"));
        assert!(
            refused(&[E::L("l", "sub"), E::D("sub"), E::F("l/x.tf", b"1")])
                .contains("below a symbolic link")
        );
        // Each link alone stays inside; through the first, the second leaves.
        assert!(
            refused(&[
                ok_file(),
                E::D("d"),
                E::L("d/l", ".."),
                E::L("esc", "d/l/..")
            ])
            .contains("\"esc\" is refused")
        );
        assert!(refused(&[ok_file(), E::L("dangling", "nothing.tf")]).contains("to nothing"));
    }

    #[test]
    fn links_inside_the_package_and_directories_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.tgz");
        fs::write(
            &file,
            tar_gz(&[
                E::D("mod/"),
                E::F("mod/main.tf", b"resource {}"),
                E::D("mod/"),
                E::L("mod/alias.tf", "main.tf"),
                E::L("top.tf", "mod/../mod/main.tf"),
            ]),
        )
        .unwrap();
        let dest = dir.path().join("out");
        fs::create_dir(&dest).unwrap();
        let stats = unpack(&file, ArchiveFormat::TarGz, &dest, LIMITS).unwrap();
        assert_eq!(
            stats,
            TreeStats {
                files: 1,
                bytes: 11
            }
        );
        assert_eq!(fs::read(dest.join("mod/alias.tf")).unwrap(), b"resource {}");
    }

    #[test]
    fn bombs_stop_at_the_limits() {
        // 64 MiB of zeros compress to ~64 KiB; the limit is 1 MiB of actual bytes.
        let zeros = vec![0u8; 64 << 20];
        let bomb = tar_gz(&[E::F("zeros", &zeros)]);
        assert!(bomb.len() < 1 << 20);
        let err = unpack_bytes(&bomb, ArchiveFormat::TarGz, LIMITS).unwrap_err();
        assert!(
            matches!(err, ArchiveError::TooLarge(l) if l == 1 << 20),
            "{err}"
        );

        let names: Vec<String> = (0..101).map(|i| format!("f{i}.tf")).collect();
        let many: Vec<E<'_>> = names.iter().map(|n| E::F(n, b"x")).collect();
        let err = unpack_bytes(&tar_gz(&many), ArchiveFormat::TarGz, LIMITS).unwrap_err();
        assert!(matches!(err, ArchiveError::TooManyEntries(100)), "{err}");

        // A zip bomb: a small deflated entry whose actual bytes pass the limit.
        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("zeros", opts).unwrap();
        zip.write_all(&zeros).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(bytes.len() < 1 << 20);
        let err = unpack_bytes(&bytes, ArchiveFormat::Zip, LIMITS).unwrap_err();
        assert!(matches!(err, ArchiveError::TooLarge(_)), "{err}");
    }

    #[test]
    fn zip_entries_get_the_same_checks() {
        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("main.tf", opts).unwrap();
        zip.write_all(b"x").unwrap();
        zip.add_symlink("out", "../../etc/passwd", opts).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let err = unpack_bytes(&bytes, ArchiveFormat::Zip, LIMITS).unwrap_err();
        assert!(err.to_string().contains("\"out\" is refused"), "{err}");

        let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        zip.start_file("../x.tf", opts).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let err = unpack_bytes(&bytes, ArchiveFormat::Zip, LIMITS).unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
    }

    #[test]
    fn repacking_is_deterministic_and_leaves_git_out() {
        let make = |order: &[&str]| {
            let dir = tempfile::tempdir().unwrap();
            for name in order {
                let p = dir.path().join(name);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, format!("content of {name}")).unwrap();
            }
            fs::create_dir_all(dir.path().join(".git/objects")).unwrap();
            fs::write(dir.path().join(".git/HEAD"), "ref").unwrap();
            dir
        };
        let a = make(&["main.tf", "modules/x/main.tf", "README.md"]);
        let b = make(&["README.md", "modules/x/main.tf", "main.tf"]);
        let out = tempfile::tempdir().unwrap();
        let pa = repack(a.path(), &out.path().join("a.tar.gz"), LIMITS).unwrap();
        let pb = repack(b.path(), &out.path().join("b.tar.gz"), LIMITS).unwrap();
        assert_eq!(pa, pb);
        assert_eq!(pa.files, 3);
        assert_eq!(
            fs::read(out.path().join("a.tar.gz")).unwrap(),
            fs::read(out.path().join("b.tar.gz")).unwrap()
        );
        assert_eq!(pa.h1, tree_h1(a.path(), LIMITS).unwrap());

        // The repacked archive unpacks to the same tree, without .git.
        let back = out.path().join("back");
        fs::create_dir(&back).unwrap();
        unpack(
            &out.path().join("a.tar.gz"),
            ArchiveFormat::TarGz,
            &back,
            LIMITS,
        )
        .unwrap();
        assert!(!back.join(".git").exists());
        assert_eq!(tree_h1(&back, LIMITS).unwrap(), pa.h1);

        // Any change of content changes both hashes.
        fs::write(a.path().join("main.tf"), "changed").unwrap();
        let pc = repack(a.path(), &out.path().join("c.tar.gz"), LIMITS).unwrap();
        assert_ne!(pc.sha256, pa.sha256);
        assert_ne!(pc.h1, pa.h1);
    }

    #[test]
    fn h1_matches_go_dirhash() {
        // dirhash.Hash1 over {"a.tf": "hello\n"}: sha256("hello\n") = 5891b5b5...
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.tf"), "hello\n").unwrap();
        let line = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03  a.tf\n";
        let expected = format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(line))
        );
        assert_eq!(tree_h1(dir.path(), LIMITS).unwrap(), expected);
    }

    #[test]
    fn formats_by_suffix_and_by_content() {
        assert_eq!(
            ArchiveFormat::from_suffix("x.TGZ"),
            Some(ArchiveFormat::TarGz)
        );
        assert_eq!(ArchiveFormat::from_suffix("zip"), Some(ArchiveFormat::Zip));
        assert_eq!(ArchiveFormat::from_suffix("x.tar.bz2"), None);
        assert_eq!(
            ArchiveFormat::sniff(&[0x1f, 0x8b, 8]),
            Some(ArchiveFormat::TarGz)
        );
        assert_eq!(
            ArchiveFormat::sniff(b"PK\x03\x04...."),
            Some(ArchiveFormat::Zip)
        );
        assert_eq!(ArchiveFormat::sniff(b"hello"), None);
    }
}
