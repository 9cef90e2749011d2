//! `.terraform.lock.hcl`: `lockfile::parse` and `lockfile::render`.
//!
//! Input: UTF-8 text, read as a lock file (an uploaded one is untrusted).
//!
//! Properties: nothing panics; a file that parses renders to a file that parses back to the
//! same locks and renders to the same bytes (what the mirror writes, it reads unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfmirror::lockfile::{parse, render};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(locks) = parse(text) else {
        return;
    };
    let written = render(&locks);
    let again = parse(&written).unwrap_or_else(|e| panic!("{written:?} should parse: {e}"));
    let mut sorted = locks.clone();
    sorted.sort_by_key(|l| l.address.to_string());
    let mut again_sorted = again.clone();
    again_sorted.sort_by_key(|l| l.address.to_string());
    assert_eq!(sorted, again_sorted, "{written}");
    assert_eq!(render(&again), written);
});
