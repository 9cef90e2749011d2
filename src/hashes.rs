//! The two package hashes Terraform understands.
//!
//! * `zh:` is the sha256 of the zip bytes, computed while the bytes stream past
//!   ([`Sha256Writer`]), so it costs no extra read.
//! * `h1:` is Go's `dirhash.Hash1` over the zip's entries, which needs the central directory
//!   at the end of the archive; it is computed from the spooled file, entry by entry, with
//!   every entry's inflated size counted against a bound so a zip bomb fails cleanly.
//!
//! Both are blocking: call them from `spawn_blocking`, never on the async executor.

use std::io::{self, Read, Seek, Write};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// What bounds an archive's contents; exceeding one rejects the package.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    /// Sum of the inflated sizes of all entries.
    pub max_unpacked_bytes: u64,
    pub max_entries: usize,
}

impl Default for ZipLimits {
    fn default() -> Self {
        // The aws provider unpacks to ~830 MB; leave generous headroom.
        Self {
            max_unpacked_bytes: 4 << 30,
            max_entries: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("not a readable zip archive: {0}")]
    Unreadable(String),
    #[error("zip entry name {0:?} is not allowed ({1})")]
    BadEntryName(String, &'static str),
    #[error("zip archive inflates past the limit of {0} bytes")]
    TooLarge(u64),
    #[error("zip archive has more than {0} entries")]
    TooManyEntries(usize),
    #[error("zip archive lists the entry {0:?} twice")]
    DuplicateEntry(String),
    #[error(
        "zip archive names an entry twice: its central directory records {recorded} entries but only {distinct} distinct names"
    )]
    RepeatedNames { recorded: u64, distinct: usize },
    #[error("i/o error while hashing: {0}")]
    Io(#[from] io::Error),
}

/// `zh:` form of a hex sha256.
pub fn zh(sha256_hex: &str) -> String {
    format!("zh:{sha256_hex}")
}

/// A writer that forwards to `inner` and hashes everything that passes through, so a
/// download or upload is hashed in the same pass that spools it to disk.
pub struct Sha256Writer<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Sha256Writer<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// Returns the inner writer, the hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.written,
        )
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hex sha256 of everything `reader` yields.
pub fn sha256_hex(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut w = Sha256Writer::new(io::sink());
    io::copy(&mut reader, &mut w)?;
    let (_, hex, n) = w.finish();
    Ok((hex, n))
}

/// Rejects names that would escape or confuse an unpack directory, as Terraform and Go's
/// dirhash would (newlines make the h1 summary ambiguous).
fn check_entry_name(name: &str) -> Result<(), HashError> {
    let bad = |why| Err(HashError::BadEntryName(name.to_owned(), why));
    if name.is_empty() {
        return bad("empty name");
    }
    if name.contains('\n') || name.contains('\r') || name.contains('\0') {
        return bad("contains a newline or NUL");
    }
    if name.starts_with('/') || name.starts_with('\\') || name.as_bytes().get(1) == Some(&b':') {
        return bad("absolute path");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return bad("contains a '..' component");
    }
    Ok(())
}

/// Counts inflated bytes against the remaining budget.
struct Budget<R> {
    inner: R,
    remaining: u64,
    limit: u64,
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.remaining = self
            .remaining
            .checked_sub(n as u64)
            .ok_or_else(|| io::Error::other(HashError::TooLarge(self.limit)))?;
        Ok(n)
    }
}

/// How many entries the archive's central directory says it has (from the end-of-central-
/// directory record, or its zip64 form), however many distinct names they carry.
fn central_directory_entries<R: Read + Seek>(reader: &mut R) -> Result<u64, HashError> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
    let unreadable = |why: &str| HashError::Unreadable(why.to_owned());
    let len = reader.seek(io::SeekFrom::End(0))?;
    // The record is 22 bytes plus a comment of at most 65,535.
    let tail_len = len.min(22 + 65_535);
    reader.seek(io::SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    reader.read_exact(&mut tail)?;
    reader.seek(io::SeekFrom::Start(0))?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)
        .ok_or_else(|| unreadable("no end of central directory record"))?;
    let entries = u64::from(u16::from_le_bytes([tail[at + 10], tail[at + 11]]));
    if entries != 0xffff {
        return Ok(entries);
    }
    // Zip64: the locator sits just before the record and points at the zip64 record.
    let locator = at
        .checked_sub(20)
        .filter(|&l| tail[l..l + 4] == ZIP64_LOCATOR)
        .ok_or_else(|| unreadable("zip64 archive without its locator"))?;
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&tail[locator + 8..locator + 16]);
    let mut record = [0u8; 40];
    reader.seek(io::SeekFrom::Start(u64::from_le_bytes(offset)))?;
    reader
        .read_exact(&mut record)
        .map_err(|_| unreadable("zip64 end of central directory record is cut short"))?;
    reader.seek(io::SeekFrom::Start(0))?;
    if record[..4] != ZIP64_EOCD {
        return Err(unreadable("bad zip64 end of central directory record"));
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&record[32..40]);
    Ok(u64::from_le_bytes(count))
}

/// Computes the `h1:` hash of a zip archive (Go's `dirhash.HashZip` with `Hash1`):
/// sha256 over the sorted lines `hex(sha256(content)) + "  " + name + "\n"`.
pub fn h1_of_zip<R: Read + Seek>(mut reader: R, limits: ZipLimits) -> Result<String, HashError> {
    let recorded = central_directory_entries(&mut reader)?;
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|e| HashError::Unreadable(e.to_string()))?;
    if archive.len() > limits.max_entries || recorded > limits.max_entries as u64 {
        return Err(HashError::TooManyEntries(limits.max_entries));
    }
    // The zip library keeps one entry per name: a name written twice would be hashed once,
    // and the other copy would still be in the archive Terraform unpacks.
    if recorded != archive.len() as u64 {
        return Err(HashError::RepeatedNames {
            recorded,
            distinct: archive.len(),
        });
    }
    let mut remaining = limits.max_unpacked_bytes;
    let mut lines: Vec<(String, String)> = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| HashError::Unreadable(format!("entry {i}: {e}")))?;
        let name = std::str::from_utf8(entry.name_raw())
            .map_err(|_| HashError::Unreadable(format!("entry {i}: name is not UTF-8")))?
            .to_owned();
        check_entry_name(&name)?;
        if entry.size() > remaining {
            return Err(HashError::TooLarge(limits.max_unpacked_bytes));
        }
        let mut budget = Budget {
            inner: entry,
            remaining,
            limit: limits.max_unpacked_bytes,
        };
        let (digest, _) = sha256_hex(&mut budget).map_err(|e| match e.into_inner() {
            Some(inner) => match inner.downcast::<HashError>() {
                Ok(h) => *h,
                Err(other) => HashError::Unreadable(format!("entry {name:?}: {other}")),
            },
            None => HashError::Unreadable(format!("entry {name:?}: read failed")),
        })?;
        remaining = budget.remaining;
        lines.push((name, digest));
    }
    lines.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for pair in lines.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(HashError::DuplicateEntry(pair[0].0.clone()));
        }
    }
    Ok(h1_of_sorted(&lines))
}

/// `dirhash.Hash1` over (name, hex sha256 of the content) pairs already sorted by name's
/// bytes: sha256 over the lines `hex  name\n`, base64, with the `h1:` prefix.
pub fn h1_of_sorted(lines: &[(String, String)]) -> String {
    let mut summary = Sha256::new();
    for (name, digest) in lines {
        summary.update(digest.as_bytes());
        summary.update(b"  ");
        summary.update(name.as_bytes());
        summary.update(b"\n");
    }
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(summary.finalize())
    )
}

/// Both hashes and the size of a package file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageHashes {
    /// Hex sha256 of the archive bytes (the `zh:` value without prefix).
    pub sha256: String,
    /// The full `h1:...` string.
    pub h1: String,
    pub size: u64,
}

impl PackageHashes {
    pub fn zh(&self) -> String {
        zh(&self.sha256)
    }
}

/// Hashes a package already on disk (import, add-package). Blocking.
pub fn hash_package_file(
    path: &std::path::Path,
    limits: ZipLimits,
) -> Result<PackageHashes, HashError> {
    hash_package_file_with(path, limits, None)
}

/// Like [`hash_package_file`], but reuses a sha256 computed while the file was written
/// (a download hashed as it streamed), so the archive is read once more only for `h1:`.
pub fn hash_package_file_with(
    path: &std::path::Path,
    limits: ZipLimits,
    known_sha256: Option<String>,
) -> Result<PackageHashes, HashError> {
    let mut file = std::fs::File::open(path)?;
    let (sha256, size) = match known_sha256 {
        Some(sha) => (sha, file.metadata()?.len()),
        None => {
            let r = sha256_hex(io::BufReader::with_capacity(1 << 20, &mut file))?;
            file.rewind()?;
            r
        }
    };
    let h1 = h1_of_zip(io::BufReader::new(file), limits)?;
    Ok(PackageHashes { sha256, h1, size })
}

/// The sha256 that a `SHA256SUMS` file lists for `filename`.
pub fn shasum_for(sums: &str, filename: &str) -> Option<String> {
    sums.lines().find_map(|line| {
        let (hash, name) = line.split_once(char::is_whitespace)?;
        let name = name.trim_start().trim_start_matches('*');
        (name == filename).then(|| hash.to_ascii_lowercase())
    })
}

/// The `zh:` Terraform records from a signed `SHA256SUMS` (getproviders'
/// `signatureAuthentication.AcceptableHashes`): one per line, or none at all when any line
/// does not look like a checksum line, since then the signed document is not taken for a
/// checksums file. A line is whitespace-separated fields, the first 64 hex digits (either
/// case) and at least one more; a blank line counts as malformed too (Terraform's loop fails
/// on it outright). Go's line scanner stops at a line of 64 KiB or more without an error,
/// keeping what it read before; so does this.
pub fn signed_sums_zh(sums: &str) -> Vec<String> {
    /// `bufio.MaxScanTokenSize`: a line this long no longer fits the scanner's buffer.
    const MAX_LINE: usize = 64 * 1024;
    let mut out = Vec::new();
    for raw in sums.split_inclusive('\n') {
        let raw = raw.strip_suffix('\n').unwrap_or(raw);
        if raw.len() >= MAX_LINE {
            break;
        }
        let mut fields = raw.strip_suffix('\r').unwrap_or(raw).split_whitespace();
        let (Some(hash), Some(_)) = (fields.next(), fields.next()) else {
            return Vec::new();
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Vec::new();
        }
        out.push(zh(&hash.to_ascii_lowercase()));
    }
    out
}

/// Checks that `SHA256SUMS` lists `shasum` (the registry's, lower-case hex) for `filename`;
/// the error says what is wrong.
pub fn check_listed(sums: &str, filename: &str, shasum: &str) -> Result<(), String> {
    match shasum_for(sums, filename) {
        None => Err(format!("SHA256SUMS has no line for {filename}")),
        Some(listed) if listed != shasum => Err(format!(
            "checksum mismatch: SHA256SUMS lists {listed} for {filename} but the registry's shasum is {shasum}"
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_signed_sums_file_gives_every_zh_or_none_when_a_line_is_malformed() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let good = format!("{a}  p_1.0.0_linux_amd64.zip\r\n{b} p_1.0.0_darwin_arm64.zip extra\n");
        let zh_a = format!("zh:{a}");
        let zh_b = format!("zh:{}", b.to_ascii_lowercase());
        assert_eq!(signed_sums_zh(&good), [zh_a.clone(), zh_b.clone()]);
        assert_eq!(signed_sums_zh(&format!("{a}\tx")), [zh_a.as_str()]);
        assert_eq!(signed_sums_zh(""), Vec::<String>::new());
        for bad in [
            format!("{good}{a}\n"),                  // one field
            format!("{good}{}  x.zip\n", &a[..63]),  // 63 digits
            format!("{good}{}g  x.zip\n", &a[..63]), // not hex
            format!("{a}  x.zip\n\n{b}  y.zip\n"),   // a blank line
            format!("{good}   \n"),                  // only spaces
        ] {
            assert_eq!(signed_sums_zh(&bad), Vec::<String>::new(), "{bad:?}");
        }
        // A line too long for Go's scanner ends the reading; what came before stays.
        let long = format!("{a}  x.zip\n{}\n{b}  y.zip\n", "z".repeat(64 * 1024));
        assert_eq!(signed_sums_zh(&long), [zh_a.as_str()]);
        let just_fits = format!("{a}  {}\n{b}  y.zip\n", "z".repeat(64 * 1024 - 67));
        assert_eq!(signed_sums_zh(&just_fits), [zh_a, zh_b]);
    }

    const SHARED_ZIP: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/terraform-provider-dummy_1.0.0_linux_amd64.zip"
    );

    /// Builds a zip in memory from (name, content) pairs, deflated.
    pub fn make_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// An independent h1: the summary text is built as a string, exactly as dirhash documents.
    fn reference_h1(entries: &[(&str, &[u8])]) -> String {
        let mut sorted: Vec<_> = entries.to_vec();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let summary: String = sorted
            .iter()
            .map(|(n, d)| format!("{:x}  {}\n", Sha256::digest(d), n))
            .collect();
        format!(
            "h1:{}",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(summary.as_bytes()))
        )
    }

    #[test]
    fn shared_vector_matches_terraform() {
        let path = std::path::Path::new(SHARED_ZIP);
        if !path.exists() {
            panic!("shared test vector missing at {SHARED_ZIP}");
        }
        let h = hash_package_file(path, ZipLimits::default()).unwrap();
        assert_eq!(h.h1, "h1:A7Q9yqckW7BlX5lzdPZ9Idfn3kxzlNlozOKDzJ3gDHc=");
        assert_eq!(
            h.zh(),
            "zh:1025a57c971aae713a02ceb7953bf9a30a6b2f4cf96da7f5c9e77cdb3b1f00cc"
        );
        assert_eq!(h.size, std::fs::metadata(path).unwrap().len());
    }

    #[test]
    fn h1_of_generated_zips_matches_reference() {
        let big = vec![7u8; 300_000];
        let cases: Vec<Vec<(&str, &[u8])>> = vec![
            vec![("terraform-provider-x_v1.0.0", b"binary")],
            vec![
                ("b", b"2"),
                ("a", b"1"),
                ("dir/c.txt", b"3"),
                ("B", b"upper sorts first"),
            ],
            vec![("empty", b""), ("big.bin", &big)],
        ];
        for entries in cases {
            let bytes = make_zip(&entries);
            let got = h1_of_zip(Cursor::new(&bytes), ZipLimits::default()).unwrap();
            assert_eq!(got, reference_h1(&entries));
        }
    }

    #[test]
    fn h1_ignores_entry_order_but_not_content() {
        let a = make_zip(&[("x", b"1"), ("y", b"2")]);
        let b = make_zip(&[("y", b"2"), ("x", b"1")]);
        let c = make_zip(&[("x", b"1"), ("y", b"3")]);
        let h = |z: &Vec<u8>| h1_of_zip(Cursor::new(z), ZipLimits::default()).unwrap();
        assert_eq!(h(&a), h(&b));
        assert_ne!(h(&a), h(&c));
    }

    #[test]
    fn hostile_entry_names_are_rejected() {
        for name in [
            "../evil",
            "a/../../evil",
            "/etc/passwd",
            "C:/x",
            "line\nbreak",
        ] {
            let z = make_zip(&[(name, b"x")]);
            let err = h1_of_zip(Cursor::new(z), ZipLimits::default()).unwrap_err();
            assert!(
                matches!(err, HashError::BadEntryName(..)),
                "{name:?}: {err}"
            );
        }
    }

    #[test]
    fn zip_bombs_and_junk_fail_cleanly() {
        let zeros = vec![0u8; 5_000_000];
        let z = make_zip(&[("a", &zeros)]);
        assert!(z.len() < 100_000, "deflate should squeeze zeros");
        let limits = ZipLimits {
            max_unpacked_bytes: 1_000_000,
            max_entries: 10,
        };
        let err = h1_of_zip(Cursor::new(&z), limits).unwrap_err();
        assert!(matches!(err, HashError::TooLarge(1_000_000)), "{err}");

        let many: Vec<(String, &[u8])> = (0..20).map(|i| (format!("f{i}"), &b""[..])).collect();
        let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        let err = h1_of_zip(Cursor::new(make_zip(&refs)), limits).unwrap_err();
        assert!(matches!(err, HashError::TooManyEntries(10)), "{err}");

        let err = h1_of_zip(Cursor::new(b"not a zip at all".to_vec()), limits).unwrap_err();
        assert!(matches!(err, HashError::Unreadable(_)), "{err}");

        let mut truncated = make_zip(&[("a", b"hello world")]);
        truncated.truncate(truncated.len() / 2);
        assert!(h1_of_zip(Cursor::new(truncated), limits).is_err());
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/zip.rs`): an end record that claims 65,535 entries
    /// in an archive without any makes the zip crate reserve room for all of them (13.6 MB for
    /// these 22 bytes) before it finds none; the archive must still be refused cleanly.
    #[test]
    fn an_end_record_claiming_entries_it_lacks_is_refused() {
        let eocd = b"PK\x05\x06\0\0\0\0\xff\xff\0\0\0\0\0\0\xff\xff\xff\x7f\0\0";
        assert_eq!(eocd.len(), 22);
        let err = h1_of_zip(Cursor::new(&eocd[..]), ZipLimits::default()).unwrap_err();
        assert!(matches!(err, HashError::Unreadable(_)), "{err}");
    }

    #[test]
    fn sha256_writer_hashes_what_passes_through() {
        let mut w = Sha256Writer::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (inner, hex, n) = w.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(n, 3);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_entry_name_written_twice_is_refused_even_when_the_zip_library_merges_it() {
        let zip = make_zip(&[("aaaa.txt", b"first"), ("bbbb.txt", b"second")]);
        // Rename the second entry to the first's name in its local header and in the central
        // directory: the same length, so every offset stays valid.
        let mut forged = zip.clone();
        let (from, to) = (b"bbbb.txt", b"aaaa.txt");
        let mut i = 0;
        while let Some(at) = forged[i..].windows(from.len()).position(|w| w == from) {
            forged[i + at..i + at + from.len()].copy_from_slice(to);
            i += at + from.len();
        }
        assert_ne!(forged, zip);
        let err = h1_of_zip(Cursor::new(forged), ZipLimits::default()).unwrap_err();
        assert!(
            matches!(
                err,
                HashError::RepeatedNames {
                    recorded: 2,
                    distinct: 1
                }
            ),
            "{err}"
        );
        assert!(h1_of_zip(Cursor::new(zip), ZipLimits::default()).is_ok());
    }

    #[test]
    fn the_central_directory_count_is_read_from_the_end_record() {
        let entries: Vec<(String, Vec<u8>)> =
            (0..7).map(|i| (format!("f{i}"), vec![i as u8])).collect();
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let zip = make_zip(&refs);
        assert_eq!(central_directory_entries(&mut Cursor::new(zip)).unwrap(), 7);
        assert!(central_directory_entries(&mut Cursor::new(b"not a zip".to_vec())).is_err());
    }
}
