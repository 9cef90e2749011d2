//! `upstream::location::parse` on any UTF-8 text, as a registry's `X-Terraform-Get`.
//!
//! Properties: it never panics; what it accepts is fetched over http(s) from a named host
//! without credentials, with a subdirectory that stays inside the package.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfmirror::upstream::location::{Location, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(location) = parse(text) else {
        return;
    };
    let url = match &location {
        Location::Archive { url, .. } | Location::Git { url, .. } | Location::Indirect { url, .. } => url,
    };
    assert!(matches!(url.scheme(), "https" | "http"), "{url}");
    assert!(url.host_str().is_some_and(|h| !h.is_empty()), "{url}");
    assert!(url.username().is_empty() && url.password().is_none(), "{url}");
    let subdir = location.subdir();
    assert!(!subdir.split('/').any(|p| p == ".." || p.is_empty()) || subdir.is_empty(), "{subdir:?}");
    assert!(!subdir.starts_with('/'), "{subdir:?}");
    if let Location::Git { reference: Some(r), .. } = &location {
        assert!(!r.starts_with('-') && !r.is_empty(), "{r:?}");
    }
});
