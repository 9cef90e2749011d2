//! `tfconfig::read`: the `required_providers` and local modules of a `.tf` file, which
//! `POST /v1/lock` reads from whoever may read the mirror.
//!
//! Input: UTF-8 text, read as a `.tf` file.
//!
//! Properties: nothing panics; an error names a line inside the text (at least 1, at most the
//! number of lines); what is read is canonical: every address parses back to itself, every
//! `version` is a constraint Terraform accepts, every local module is a relative path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfmirror::constraints::VersionConstraints;
use tfmirror::domain::ProviderAddress;
use tfmirror::tfconfig::read;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines as an editor counts them: a trailing newline opens one more (empty) line.
    let lines = text.split('\n').count();
    match read(text) {
        Ok(found) => {
            for r in &found.providers {
                let again = ProviderAddress::parse(&r.address.to_string())
                    .unwrap_or_else(|e| panic!("{} does not parse back: {e}", r.address));
                assert_eq!(again, r.address);
                if let Some(v) = &r.version {
                    VersionConstraints::parse(v)
                        .unwrap_or_else(|e| panic!("{}: accepted version {v:?}: {e}", r.name));
                }
            }
            for m in &found.local_modules {
                assert!(m.starts_with("./") || m.starts_with("../"), "{m:?}");
            }
        }
        Err(e) => assert!(
            e.line >= 1 && e.line <= lines,
            "line {} of a {lines}-line text: {e}",
            e.line
        ),
    }
});
