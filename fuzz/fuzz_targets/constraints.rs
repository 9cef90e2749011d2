//! Terraform version constraints: `constraints::VersionConstraints::parse`, `matches`,
//! `exact` and `resolve`.
//!
//! Input: UTF-8 text; the first line is the constraint, every further line a candidate
//! version.
//!
//! Properties: nothing panics; a constraint that parses prints (Display) to a form that
//! parses again, prints the same and selects the same candidates; `exact()` names a version
//! the constraint matches; each candidate `X` is matched by `= X` and `>= X`/`~> X` (unless a
//! prerelease), never by `!= X`, `> X` or `< X`; `resolve` returns exactly the candidates the
//! constraint matches, sorted and without duplicates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfmirror::constraints::{VersionConstraints, resolve};
use tfmirror::domain::Version;

fn parse(s: &str) -> VersionConstraints {
    VersionConstraints::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let spec = lines.next().unwrap_or("");
    let candidates: Vec<Version> = lines.filter_map(|l| Version::parse(l).ok()).collect();

    for v in &candidates {
        let exact = parse(&format!("= {v}"));
        assert!(exact.matches(v), "= {v} does not match {v}");
        assert_eq!(exact.exact().as_ref(), Some(v));
        assert!(
            parse(&v.to_string()).matches(v),
            "{v} does not match itself"
        );
        assert!(!parse(&format!("!= {v}")).matches(v));
        assert!(!parse(&format!("> {v}")).matches(v));
        assert!(!parse(&format!("< {v}")).matches(v));
        let core = format!(
            "{}.{}.{}",
            v.semver().major,
            v.semver().minor,
            v.semver().patch
        );
        if !v.is_prerelease() {
            assert!(parse(&format!(">= {v}")).matches(v), ">= {v}");
            assert!(parse(&format!("<= {v}")).matches(v), "<= {v}");
            for written in [&core[..], &core[..core.rfind('.').unwrap()]] {
                assert!(
                    parse(&format!("~> {written}")).matches(v),
                    "~> {written} vs {v}"
                );
            }
        }
    }

    let Ok(constraints) = VersionConstraints::parse(spec) else {
        return;
    };
    assert_eq!(constraints.as_written(), spec.trim());
    let shown = constraints.to_string();
    let again = VersionConstraints::parse(&shown)
        .unwrap_or_else(|e| panic!("{spec:?} prints as {shown:?}, which does not parse: {e}"));
    assert_eq!(again.to_string(), shown, "Display is not stable");
    assert_eq!(again.exact(), constraints.exact());
    if let Some(v) = constraints.exact() {
        assert!(
            constraints.matches(&v),
            "{spec:?} pins {v} but does not match it"
        );
    }
    for v in &candidates {
        assert_eq!(
            again.matches(v),
            constraints.matches(v),
            "{spec:?} and its Display form {shown:?} disagree on {v}"
        );
    }
    let resolution = resolve(std::slice::from_ref(&constraints), &candidates);
    let mut expected: Vec<Version> = candidates
        .iter()
        .filter(|v| constraints.matches(v))
        .cloned()
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(resolution.versions, expected);
    assert_eq!(resolution.unmatched.is_empty(), !expected.is_empty());
});
