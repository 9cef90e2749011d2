//! `archive::unpack` on any bytes as a tar.gz, a tar and a zip, with small `TreeLimits`, then
//! `archive::repack` of what it accepted.
//!
//! Properties: nothing panics; an accepted archive unpacked to at most the limits' bytes and
//! entries, everything it wrote lies inside the destination (every path, followed through
//! links, stays below it); the repacked archive unpacks again to a tree with the same `h1:`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tfmirror::archive::{ArchiveFormat, TreeLimits, repack, tree_h1, unpack};

const LIMITS: TreeLimits = TreeLimits {
    max_bytes: 1 << 20,
    max_entries: 64,
};

fn inside(root: &Path, dir: &Path, count: &mut usize, bytes: &mut u64) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        *count += 1;
        if let Ok(real) = std::fs::canonicalize(&path) {
            assert!(real.starts_with(root), "{} leads to {}", path.display(), real.display());
        }
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            inside(root, &path, count, bytes);
        } else if kind.is_file() {
            *bytes += entry.metadata().unwrap().len();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("input");
    std::fs::write(&file, data).unwrap();
    for (i, format) in [ArchiveFormat::TarGz, ArchiveFormat::Tar, ArchiveFormat::Zip]
        .into_iter()
        .enumerate()
    {
        let dest = work.path().join(format!("tree{i}"));
        std::fs::create_dir(&dest).unwrap();
        let Ok(stats) = unpack(&file, format, &dest, LIMITS) else {
            continue;
        };
        let root = std::fs::canonicalize(&dest).unwrap();
        let (mut count, mut bytes) = (0, 0);
        inside(&root, &dest, &mut count, &mut bytes);
        assert!(count <= LIMITS.max_entries, "{count} entries");
        assert!(bytes <= LIMITS.max_bytes && stats.bytes == bytes, "{bytes} bytes");
        let out = work.path().join(format!("repacked{i}.tar.gz"));
        let Ok(packed) = repack(&dest, &out, LIMITS) else {
            continue;
        };
        assert_eq!(packed.h1, tree_h1(&dest, LIMITS).unwrap());
        let again = work.path().join(format!("again{i}"));
        std::fs::create_dir(&again).unwrap();
        unpack(&out, ArchiveFormat::TarGz, &again, LIMITS).expect("a repacked archive unpacks");
        assert_eq!(tree_h1(&again, LIMITS).unwrap(), packed.h1);
    }
});
