//! The domain parsers behind the mirror and registry routes, on a fuzzed request path.
//!
//! The path is split and percent-decoded as `http::mirror::dispatch` does; then:
//! * `/{hostname}/{namespace}/{type}/{file}` through the mirror route (`ProviderAddress::new`,
//!   then `MirrorFile::parse` for the last segment, as `http::mirror` does);
//! * the registry routes (`/v1/providers/...` and `/registry/{host}/v1/providers/...`
//!   `.../{version}/download/{os}/{arch}`, and `/registry/{host}/sums/...`) through
//!   `ProviderAddress::new`, `Version::parse` and `Platform::new`;
//! * the whole path and every segment through `ProviderAddress::parse`, `Version::parse`,
//!   `Platform::parse`.
//!
//! Properties: nothing panics; whatever parses prints (Display) to a form that parses back to
//! an equal value; a parsed name never contains '/', "..", NUL or whitespace, so storage keys
//! and SQL parameters built from it are safe; an archive name the mirror accepts is exactly
//! the name `package_filename` builds from its parts.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use tfmirror::domain::{
    DEFAULT_ORIGIN, MirrorFile, Platform, ProviderAddress, ProviderType, Version,
    package_filename, parse_package_filename,
};

fn assert_safe(kind: &str, s: &str) {
    assert!(!s.is_empty(), "empty {kind}");
    assert!(!s.contains('/'), "{kind} {s:?} contains '/'");
    assert!(!s.contains(".."), "{kind} {s:?} contains '..'");
    assert!(!s.contains('\0'), "{kind} {s:?} contains NUL");
    assert!(
        !s.contains(char::is_whitespace),
        "{kind} {s:?} contains whitespace"
    );
}

fn check_address(a: &ProviderAddress) {
    assert_safe("hostname", a.hostname.as_str());
    assert_safe("namespace", a.namespace.as_str());
    assert_safe("provider type", a.provider_type.as_str());
    let shown = a.to_string();
    let again = ProviderAddress::parse(&shown).expect("Display form of an address parses");
    assert_eq!(&again, a, "{shown:?} parses to another address");
    let new = ProviderAddress::new(
        a.hostname.as_str(),
        a.namespace.as_str(),
        a.provider_type.as_str(),
    )
    .expect("its own parts parse");
    assert_eq!(&new, a);
}

fn check_version(v: &Version) {
    let shown = v.to_string();
    assert_safe("version", &shown);
    assert_eq!(
        &Version::parse(&shown).expect("Display form of a version parses"),
        v
    );
}

fn check_platform(p: &Platform) {
    assert_safe("os", &p.os);
    assert_safe("arch", &p.arch);
    let shown = p.to_string();
    assert_eq!(
        &Platform::parse(&shown).expect("Display form of a platform parses"),
        p
    );
}

fn check_package_filename(t: &ProviderType, name: &str) {
    if let Ok((v, p)) = parse_package_filename(t, name) {
        check_version(&v);
        check_platform(&p);
        assert_eq!(
            package_filename(t, &v, &p),
            name,
            "the name is not rebuilt from its parts"
        );
    }
}

/// `download/{os}/{arch}`: the parts must build a package file name that parses back.
fn registry_download(h: &str, n: &str, t: &str, version: &str, os: &str, arch: &str) {
    let (Ok(a), Ok(v), Ok(p)) = (
        ProviderAddress::new(h, n, t),
        Version::parse(version),
        Platform::new(os, arch),
    ) else {
        return;
    };
    check_address(&a);
    check_version(&v);
    check_platform(&p);
    let name = package_filename(&a.provider_type, &v, &p);
    assert_safe("package file name", &name);
    assert_eq!(
        parse_package_filename(&a.provider_type, &name).expect("round trip"),
        (v, p)
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = ProviderAddress::parse(path) {
        check_address(&a);
    }
    // As `dispatch` does: strip the leading '/', split, decode each segment (lossy UTF-8).
    let segments: Vec<Cow<'_, str>> = path
        .strip_prefix('/')
        .unwrap_or("")
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy())
        .collect();
    for s in std::iter::once(path).chain(segments.iter().map(|s| s.as_ref())) {
        if let Ok(v) = Version::parse(s) {
            check_version(&v);
        }
        if let Ok(p) = Platform::parse(s) {
            check_platform(&p);
        }
        if let Ok(a) = ProviderAddress::parse(s) {
            check_address(&a);
        }
    }
    let segs: Vec<&str> = segments.iter().map(|s| s.as_ref()).collect();
    match segs.as_slice() {
        // The network mirror protocol: /{hostname}/{namespace}/{type}/{file}.
        [h, n, t, file] => {
            let Ok(address) = ProviderAddress::new(h, n, t) else {
                return;
            };
            check_address(&address);
            check_package_filename(&address.provider_type, file);
            match MirrorFile::parse(&address.provider_type, file) {
                Ok(Some(MirrorFile::Index)) => assert_eq!(*file, "index.json"),
                Ok(Some(MirrorFile::Version(v))) => {
                    check_version(&v);
                    assert_eq!(format!("{v}.json"), *file);
                }
                Ok(Some(MirrorFile::Archive(name))) => {
                    assert_eq!(name, *file);
                    let (v, p) = parse_package_filename(&address.provider_type, &name)
                        .expect("an accepted archive name parses");
                    assert_eq!(package_filename(&address.provider_type, &v, &p), name);
                }
                Ok(None) | Err(_) => {}
            }
        }
        // The registry protocol's download document, for the default origin or any origin.
        ["v1", "providers", n, t, version, "download", os, arch] => {
            registry_download(DEFAULT_ORIGIN, n, t, version, os, arch)
        }
        [
            "registry",
            h,
            "v1",
            "providers",
            n,
            t,
            version,
            "download",
            os,
            arch,
        ] => registry_download(h, n, t, version, os, arch),
        ["registry", h, "sums" | "mirror-sums", n, t, version, _file] => {
            if let (Ok(a), Ok(v)) = (ProviderAddress::new(h, n, t), Version::parse(version)) {
                check_address(&a);
                check_version(&v);
            }
        }
        _ => {}
    }
});
