//! The layered config loader, `config::load(Some(file), &env, &[])`, on a fuzzed file and one
//! fuzzed `TFM_*` variable.
//!
//! Input: the first byte picks the variable (an entry of `ENV_OVERRIDES`, then
//! `TFM_STORAGE_BACKEND`, then "none"); the bytes up to the first NUL are its value (a real
//! environment value cannot hold a NUL), the rest is the file. Without a NUL there is no
//! variable and everything after the first byte is the file.
//!
//! Properties: it never panics; the file is only unreadable (`ConfigError::Read`) when it is
//! not UTF-8; a config it accepts satisfies the cross-key rules; a secret set through the
//! environment never shows in the masked JSON or in `Debug` (swapping it for another value
//! of the same length changes neither).
#![no_main]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tfmirror::config::{ConfigError, ENV_OVERRIDES, load};

const BACKEND_VAR: &str = "TFM_STORAGE_BACKEND";
const SECRET_VARS: &[&str] = &[
    "TFM_JWT_SECRET",
    "TFM_S3_SECRET_ACCESS_KEY",
    "TFM_METRICS_TOKEN",
];

/// One temporary file, rewritten for every input.
fn config_path() -> &'static PathBuf {
    static PATH: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = PATH.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tfmirror.hcl");
        (dir, path)
    });
    path
}

fn variable(selector: u8) -> Option<&'static str> {
    let names: Vec<&'static str> = ENV_OVERRIDES
        .iter()
        .map(|(var, _)| *var)
        .chain([BACKEND_VAR])
        .collect();
    names.get(selector as usize % (names.len() + 1)).copied()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (value, file) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (Some(&rest[..nul]), &rest[nul + 1..]),
        None => (None, rest),
    };
    let mut env = BTreeMap::new();
    if let (Some(var), Some(value)) = (variable(selector), value) {
        let Ok(value) = std::str::from_utf8(value) else {
            return;
        };
        env.insert(var.to_owned(), value.to_owned());
    }
    let path = config_path();
    std::fs::write(path, file).expect("write the config file");

    match load(Some(path), &env, &[]) {
        Ok(config) => {
            assert!(
                std::str::from_utf8(file).is_ok(),
                "accepted a file that is not UTF-8"
            );
            assert!(config.server.listen.parse::<std::net::SocketAddr>().is_ok());
            assert!(tfmirror::domain::Hostname::parse(&config.registry.default_origin).is_ok());
            for host in config.upstream.keys() {
                assert!(
                    tfmirror::domain::Hostname::parse(host).is_ok(),
                    "upstream {host:?}"
                );
            }
            let secret = config.auth.jwt_secret.expose();
            assert!(secret.is_empty() || secret.len() >= 32);
            let masked = config.masked_json();
            let debug = format!("{config:?}");
            // A secret from the environment: the same config with another secret of the same
            // length must print identically.
            if let Some((var, value)) = env.iter().next()
                && SECRET_VARS.contains(&var.as_str())
            {
                let other = "x".repeat(value.len());
                let env2 = BTreeMap::from([(var.clone(), other)]);
                let again = load(Some(path), &env2, &[]).expect("only the secret changed");
                assert_eq!(
                    again.masked_json(),
                    masked,
                    "{var} shows in the masked JSON"
                );
                assert_eq!(format!("{again:?}"), debug, "{var} shows in Debug");
            }
        }
        Err(ConfigError::Read { .. }) => {
            assert!(
                std::str::from_utf8(file).is_err(),
                "a UTF-8 file was unreadable"
            );
        }
        Err(e @ ConfigError::Invalid { .. }) => {
            let _ = e.to_string();
        }
    }
});
