//! The layered loader: defaults, then an HCL file, then `TFM_*` environment variables, then
//! command-line flags. A bad key or value is reported with where it came from
//! (file:line:column, or the variable or flag that set it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Config;
use crate::definitions;
use crate::textpos::line_col;

/// The environment variables that override config keys, in one table so they are documented
/// and checked in one place.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("TFM_DATA_DIR", "data_dir"),
    ("TFM_LISTEN", "server.listen"),
    ("TFM_PUBLIC_URL", "server.public_url"),
    ("TFM_OFFLINE", "offline"),
    ("TFM_TLS_CERT_FILE", "server.tls.cert_file"),
    ("TFM_TLS_KEY_FILE", "server.tls.key_file"),
    ("TFM_DATABASE_PATH", "database.path"),
    ("TFM_DATABASE_URL", "database.url"),
    ("TFM_STORAGE_PATH", "storage.local.path"),
    ("TFM_S3_BUCKET", "storage.s3.bucket"),
    ("TFM_S3_REGION", "storage.s3.region"),
    ("TFM_S3_ENDPOINT", "storage.s3.endpoint"),
    ("TFM_S3_PATH_STYLE", "storage.s3.path_style"),
    ("TFM_S3_PREFIX", "storage.s3.prefix"),
    ("TFM_S3_ACCESS_KEY_ID", "storage.s3.access_key_id"),
    ("TFM_S3_SECRET_ACCESS_KEY", "storage.s3.secret_access_key"),
    ("TFM_S3_REDIRECT_DOWNLOADS", "storage.s3.redirect_downloads"),
    ("TFM_EXTRA_CA_FILE", "outbound.extra_ca_file"),
    ("TFM_WORKER_ENABLED", "worker.enabled"),
    ("TFM_WORKER_CONCURRENCY", "worker.concurrency"),
    ("TFM_LOG_LEVEL", "log.level"),
    ("TFM_LOG_FORMAT", "log.format"),
    ("TFM_REGISTRY_DEFAULT_ORIGIN", "registry.default_origin"),
    ("TFM_JWT_SECRET", "auth.jwt_secret"),
    ("TFM_SESSION_MINUTES", "auth.session_minutes"),
    ("TFM_READ_ACCESS", "auth.read_access"),
    ("TFM_OIDC_ISSUER", "auth.oidc.issuer"),
    ("TFM_OIDC_CLIENT_ID", "auth.oidc.client_id"),
    ("TFM_OIDC_CLIENT_SECRET", "auth.oidc.client_secret"),
    ("TFM_METRICS_TOKEN", "metrics.token"),
    ("TFM_REGISTRY_SIGNING_KEY_FILE", "registry.signing_key_file"),
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
}

/// Where a value came from, for error messages.
#[derive(Debug, Default)]
struct Sources {
    file: Option<(PathBuf, String)>,
    /// dotted key path -> name of the env var or flag that set it
    overrides: BTreeMap<String, String>,
}

/// Loads the config: defaults, then `file` (if any), then `env`, then `flags`
/// (dotted key path -> value, from the command line).
pub fn load(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    flags: &[(&str, Value)],
) -> Result<Config, ConfigError> {
    let mut sources = Sources::default();
    let mut value = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let value = parse_hcl(path, &text)?;
            sources.file = Some((path.to_owned(), text));
            value
        }
        None => Value::Object(Default::default()),
    };
    for (var, key) in ENV_OVERRIDES {
        if let Some(raw) = env.get(*var) {
            set_path(&mut value, key, env_value(raw));
            sources
                .overrides
                .insert((*key).to_owned(), format!("environment variable {var}"));
        }
    }
    if let Some(backend) = env.get(BACKEND_VAR) {
        choose_backend(&mut value, backend).map_err(|message| ConfigError::Invalid {
            location: format!("environment variable {BACKEND_VAR}"),
            message,
        })?;
    }
    for (key, v) in flags {
        set_path(&mut value, key, v.clone());
        sources
            .overrides
            .insert((*key).to_owned(), format!("flag for {key}"));
    }
    let mut config: Config = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = segments(e.path());
        let message = e.inner().to_string();
        ConfigError::Invalid {
            location: sources.describe(&path, &message),
            message: format!("{}: {message}", key_name(&path)),
        }
    })?;
    config.validate().map_err(|refusal| ConfigError::Invalid {
        location: sources.describe(&refusal.path, &refusal.message),
        message: format!("{}: {}", key_name(&refusal.path), refusal.message),
    })?;
    config.apply_upstream_defaults();
    Ok(config)
}

/// A deserialisation error's path as segments: a map key stays whole, so the hostname in
/// `upstream "registry.example.com"` is one segment, not three.
fn segments(path: &serde_path_to_error::Path) -> Vec<String> {
    use serde_path_to_error::Segment;
    path.iter()
        .map(|segment| match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".to_owned(),
        })
        .collect()
}

/// The key as a person writes it (`.` for the top level).
fn key_name(path: &[String]) -> String {
    if path.is_empty() {
        ".".to_owned()
    } else {
        super::validate::key_name(path)
    }
}

/// Chooses the storage backend without writing a block: `local` or `s3`.
pub const BACKEND_VAR: &str = "TFM_STORAGE_BACKEND";

/// `TFM_STORAGE_BACKEND=s3` keeps (or creates) the `s3` block and drops `local`; `local` the
/// reverse, so the variable wins over the file like every other variable.
fn choose_backend(root: &mut Value, backend: &str) -> Result<(), String> {
    let (keep, drop) = match backend {
        "local" => ("local", "s3"),
        "s3" => ("s3", "local"),
        other => {
            return Err(format!(
                "storage backend must be \"local\" or \"s3\", not {other:?}"
            ));
        }
    };
    if !root.is_object() {
        *root = Value::Object(Default::default());
    }
    let Value::Object(top) = root else {
        unreachable!()
    };
    let storage = top
        .entry("storage")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(blocks) = storage {
        blocks.remove(drop);
        blocks
            .entry(keep)
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

/// Env values are strings; booleans and numbers are recognised so typed keys accept them.
fn env_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => raw
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.to_owned())),
    }
}

fn set_path(root: &mut Value, dotted: &str, v: Value) {
    let mut cur = root;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Default::default());
        }
        let Value::Object(map) = cur else {
            unreachable!()
        };
        if i == parts.len() - 1 {
            map.insert((*part).to_owned(), v);
            return;
        }
        cur = map
            .entry((*part).to_owned())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

/// How deep brackets may nest in a config file, which needs three levels.
const MAX_NESTING: usize = 8;

fn parse_hcl(path: &Path, text: &str) -> Result<Value, ConfigError> {
    // The parser takes time exponential in the depth of unclosed brackets (see
    // `definitions::MAX_NESTING`), so deeper text is refused before it is parsed.
    if let Some(offset) = definitions::first_bracket_deeper_than(text, MAX_NESTING) {
        let (line, col) = line_col(text, offset);
        return Err(ConfigError::Invalid {
            location: format!("{}:{line}:{col}", path.display()),
            message: format!("brackets nest more than {MAX_NESTING} levels deep"),
        });
    }
    // hcl-edit reports syntax errors with line and column (recomputed in characters).
    if let Err(e) = hcl_edit::parser::parse_body(text) {
        let loc = e.location();
        let (line, col) = definitions::syntax_error_position(text, loc.offset(), loc.column());
        return Err(ConfigError::Invalid {
            location: format!("{}:{line}:{col}", path.display()),
            message: format!("HCL syntax error: {}", e.message()),
        });
    }
    let body: hcl::Value = hcl::from_str(text).map_err(|e| ConfigError::Invalid {
        location: path.display().to_string(),
        message: e.to_string(),
    })?;
    serde_json::to_value(body).map_err(|e| ConfigError::Invalid {
        location: path.display().to_string(),
        message: e.to_string(),
    })
}

impl Sources {
    /// Names where the key at `path` was set: the env var or flag, else file:line:col.
    fn describe(&self, path: &[String], message: &str) -> String {
        if let Some(src) = self.overrides.get(&path.join(".")) {
            return src.clone();
        }
        let Some((file, text)) = &self.file else {
            return "configuration".into();
        };
        let mut segments = path.to_vec();
        // For "unknown field `x`" the failing key may not be in the path yet.
        if let Some(unknown) = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
            && segments.last().map(String::as_str) != Some(unknown)
        {
            segments.push(unknown.to_owned());
        }
        match locate(text, &segments) {
            Some(offset) => {
                let (line, col) = line_col(text, offset);
                format!("{}:{line}:{col}", file.display())
            }
            None => file.display().to_string(),
        }
    }
}

/// Byte offset of the deepest attribute or block along `path` in the HCL text.
fn locate(text: &str, path: &[String]) -> Option<usize> {
    use hcl_edit::Span;
    use hcl_edit::structure::{BlockLabel, Structure};
    let body = hcl_edit::parser::parse_body(text).ok()?;
    let mut best = None;
    let mut current = &body;
    let mut rest = path;
    'outer: while let Some(seg) = rest.first() {
        for structure in current.iter() {
            match structure {
                Structure::Attribute(attr) if attr.key.as_str() == seg.as_str() => {
                    return attr.span().map(|r| r.start).or(best);
                }
                Structure::Block(block) if block.ident.as_str() == seg.as_str() => {
                    let labels: Vec<&str> = block
                        .labels
                        .iter()
                        .map(|l| match l {
                            BlockLabel::Ident(i) => i.as_str(),
                            BlockLabel::String(s) => s.as_str(),
                        })
                        .collect();
                    let after = &rest[1..];
                    if after.len() < labels.len()
                        || labels.iter().zip(after).any(|(l, s)| *l != s.as_str())
                    {
                        continue;
                    }
                    best = block.span().map(|r| r.start).or(best);
                    rest = &after[labels.len()..];
                    current = &block.body;
                    continue 'outer;
                }
                _ => {}
            }
        }
        break;
    }
    best
}

/// The process environment, as the loader wants it.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("TFM_"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StorageConfig;

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tfmirror.hcl");
        std::fs::write(&path, text).unwrap();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(Some(&path), &env, &[])
    }

    fn err_text(r: Result<Config, ConfigError>) -> String {
        r.expect_err("config should be refused").to_string()
    }

    #[test]
    fn defaults_need_no_file() {
        let c = load(None, &BTreeMap::new(), &[]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        let StorageConfig::Local(local) = &c.storage else {
            panic!("local storage is the default")
        };
        assert_eq!(c.database_path(), PathBuf::from("./data/tfmirror.db"));
        assert_eq!(c.local_storage_path(local), PathBuf::from("./data/blobs"));
    }

    #[test]
    fn with_no_upstream_block_the_public_registries_pull_through_verified() {
        let c = load(None, &BTreeMap::new(), &[]).unwrap();
        assert_eq!(
            c.upstream.keys().map(String::as_str).collect::<Vec<_>>(),
            ["registry.opentofu.org", "registry.terraform.io"]
        );
        for up in c.upstream.values() {
            assert!(up.pull_through, "pull-through is on for the defaults");
            assert!(!up.allow_unsigned, "every default package is verified");
            assert_eq!(up.url, None, "discovery starts at https://HOSTNAME");
        }
        assert!(!c.offline);

        // One block replaces both defaults.
        let c = load_text(
            "upstream \"registry.example.com\" {\n  url = \"https://registry.example.com\"\n}\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.upstream.keys().collect::<Vec<_>>(),
            ["registry.example.com"]
        );
        assert!(!c.upstream["registry.example.com"].pull_through);
    }

    #[test]
    fn offline_contacts_no_upstream_from_the_file_the_environment_or_a_flag() {
        let block = "upstream \"registry.terraform.io\" {\n  pull_through = true\n}\n";
        let c = load_text(&format!("offline = true\n{block}"), &[]).unwrap();
        assert!(c.offline);
        assert!(c.upstream.is_empty(), "{:?}", c.upstream.keys());
        assert_eq!(c.offline_ignored, ["registry.terraform.io"]);

        let env: BTreeMap<String, String> = [("TFM_OFFLINE".to_owned(), "true".to_owned())].into();
        let c = load(None, &env, &[]).unwrap();
        assert!(c.offline && c.upstream.is_empty() && c.offline_ignored.is_empty());

        let c = load(None, &BTreeMap::new(), &[("offline", Value::Bool(true))]).unwrap();
        assert!(c.offline && c.upstream.is_empty());
    }

    #[test]
    fn public_url_must_be_a_plain_http_or_https_address() {
        let env = |v: &str| -> BTreeMap<String, String> {
            [("TFM_PUBLIC_URL".to_owned(), v.to_owned())].into()
        };
        let c = load(None, &env("https://mirror.example.com"), &[]).unwrap();
        assert_eq!(
            c.public_base().as_deref(),
            Some("https://mirror.example.com/")
        );
        let c = load(None, &env("https://mirror.example.com/tf//"), &[]).unwrap();
        assert_eq!(
            c.public_base().as_deref(),
            Some("https://mirror.example.com/tf/")
        );
        assert_eq!(
            load(None, &BTreeMap::new(), &[]).unwrap().public_base(),
            None
        );
        for bad in [
            "mirror.example.com",
            "ftp://mirror.example.com/",
            "https://user:pw@mirror.example.com/",
            "https://mirror.example.com/?x=1",
            "https://mirror.example.com/#top",
        ] {
            let e = load(None, &env(bad), &[]).expect_err(bad).to_string();
            assert!(
                e.starts_with("environment variable TFM_PUBLIC_URL: server.public_url: must be"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let text = r#"
data_dir = "/srv/tfm"
server {
  listen = "127.0.0.1:9000"
}
storage {
  s3 {
    bucket = "from-file"
    path_style = true
  }
}
"#;
        let c = load_text(text, &[]).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        let s3 = c.storage.s3().expect("an s3 block selects S3");
        assert_eq!(s3.bucket, "from-file");
        assert!(s3.path_style);

        let c = load_text(
            text,
            &[
                ("TFM_S3_BUCKET", "from-env"),
                ("TFM_LISTEN", "127.0.0.1:9001"),
            ],
        )
        .unwrap();
        assert_eq!(c.storage.s3().unwrap().bucket, "from-env");
        assert_eq!(c.server.listen, "127.0.0.1:9001");
        assert_eq!(
            c.data_dir,
            PathBuf::from("/srv/tfm"),
            "untouched keys keep the file's value"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.hcl");
        std::fs::write(&path, text).unwrap();
        let env = [("TFM_LISTEN".to_string(), "127.0.0.1:9001".to_string())].into();
        let c = load(
            Some(&path),
            &env,
            &[("server.listen", Value::from("127.0.0.1:9002"))],
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9002", "flags beat env");
    }

    #[test]
    fn unknown_keys_are_refused_with_file_line_and_key() {
        let text = "data_dir = \"x\"\n\nstorage {\n\n  s3 {\n    bukket = \"b\"\n  }\n}\n";
        let msg = err_text(load_text(text, &[]));
        assert!(msg.contains("tfmirror.hcl:6:5"), "{msg}");
        assert!(msg.contains("bukket"), "{msg}");

        let msg = err_text(load_text("colour = \"blue\"\n", &[]));
        assert!(msg.contains("tfmirror.hcl:1:1"), "{msg}");
        assert!(msg.contains("colour"), "{msg}");
    }

    #[test]
    fn bad_values_name_the_key_and_line() {
        let text = "server {\n  workers = \"many\"\n}\n";
        let msg = err_text(load_text(text, &[]));
        assert!(msg.contains("tfmirror.hcl:2:3"), "{msg}");
        assert!(msg.contains("server.workers"), "{msg}");

        let msg = err_text(load_text("storage {\n ftp {\n }\n}\n", &[]));
        assert!(msg.contains(":2:2"), "{msg}");
        assert!(msg.contains("ftp"), "{msg}");
    }

    #[test]
    fn bad_env_values_name_the_variable() {
        let msg = err_text(load_text("", &[("TFM_S3_PATH_STYLE", "sometimes")]));
        assert!(msg.contains("TFM_S3_PATH_STYLE"), "{msg}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let msg = err_text(load_text("server {\n  listen = \n}\n", &[]));
        assert!(msg.contains("tfmirror.hcl:"), "{msg}");
        assert!(msg.contains("syntax"), "{msg}");
    }

    /// The definitions fuzz target found hcl-edit's parser taking time exponential in the
    /// depth of unclosed brackets; this loader uses the same parser, so it refuses such text
    /// before parsing too (before the fix this test did not finish).
    #[test]
    fn deeply_nested_brackets_are_refused_before_parsing() {
        let text = format!("server {{\n  listen = {}e!\n", "b[c+d/ ".repeat(30));
        let msg = err_text(load_text(&text, &[]));
        // The ninth bracket: "server {" is the first, then seven `[` on line 2.
        assert!(msg.contains("tfmirror.hcl:2:62"), "{msg}");
        assert!(msg.contains("more than 8 levels"), "{msg}");
    }

    #[test]
    fn semantic_checks_run_after_layering() {
        let msg = err_text(load_text("storage {\n s3 {\n }\n}\n", &[]));
        assert!(msg.contains("storage.s3.bucket"), "{msg}");
        let msg = err_text(load_text("server {\n listen = \"nowhere\"\n}\n", &[]));
        assert!(msg.contains("server.listen"), "{msg}");
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        let c = load_text(
            "storage {\n s3 {\n bucket = \"b\"\n access_key_id = \"AKIA\"\n secret_access_key = \"hunter2-very-secret\"\n }\n}\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.storage.s3().unwrap().secret_access_key.expose(),
            "hunter2-very-secret"
        );
        let printed = c.masked_json();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("********"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn storage_is_one_block_and_the_backend_variable_picks_it() {
        let msg = err_text(load_text(
            "storage {\n local {\n }\n s3 {\n bucket = \"b\"\n }\n}\n",
            &[],
        ));
        assert!(msg.contains("not both"), "{msg}");
        let msg = err_text(load_text("storage {\n backend = \"s3\"\n}\n", &[]));
        assert!(msg.contains("backend"), "the old key is refused: {msg}");

        let c = load_text(
            "storage {\n local {\n path = \"/srv/blobs\"\n }\n}\n",
            &[("TFM_STORAGE_BACKEND", "s3"), ("TFM_S3_BUCKET", "b")],
        )
        .unwrap();
        assert_eq!(c.storage.s3().unwrap().bucket, "b", "the variable wins");
        let c = load_text(
            "",
            &[("TFM_STORAGE_BACKEND", "local"), ("TFM_S3_BUCKET", "b")],
        )
        .unwrap();
        assert!(c.storage.s3().is_none());
        let msg = err_text(load_text("", &[("TFM_STORAGE_BACKEND", "ftp")]));
        assert!(msg.contains("TFM_STORAGE_BACKEND"), "{msg}");
    }

    #[test]
    fn upstream_url_credentials_are_masked_and_never_combined_with_a_token() {
        let c = load_text(
            "upstream \"registry.example.com\" {\n  url = \"https://deploy:s3cr3t-pass@registry.example.com/\"\n}\nupstream \"other.example.com\" {\n  url = \"https://tok3n-only@other.example.com/\"\n}\n",
            &[],
        )
        .unwrap();
        let shown = format!("{} {:?}", c.masked_json(), c);
        assert!(
            !shown.contains("s3cr3t-pass") && !shown.contains("tok3n-only"),
            "{shown}"
        );
        assert!(
            shown.contains("https://deploy:********@registry.example.com/"),
            "{shown}"
        );
        assert_eq!(
            c.upstream["registry.example.com"].url.as_deref(),
            Some("https://deploy:s3cr3t-pass@registry.example.com/"),
            "the client still has the real URL"
        );

        let msg = err_text(load_text(
            "upstream \"registry.example.com\" {\n  url = \"https://u:p@registry.example.com/\"\n  token = \"t\"\n}\n",
            &[],
        ));
        assert!(
            msg.contains("registry.example.com") && msg.contains("not both"),
            "{msg}"
        );
        let msg = err_text(load_text(
            "upstream \"registry.example.com\" {\n  url = \"https://exa mple\"\n}\n",
            &[],
        ));
        assert!(msg.contains("must be an http:// or https:// URL"), "{msg}");
    }

    /// Each (HCL, key the refusal must name): values that would break the service.
    const BREAKING: &[(&str, &str)] = &[
        (
            "limits {\n  max_json_bytes = 0\n}\n",
            "limits.max_json_bytes",
        ),
        (
            "limits {\n  max_archive_bytes = 0\n}\n",
            "limits.max_archive_bytes",
        ),
        (
            "limits {\n  max_definitions_bytes = 0\n}\n",
            "limits.max_definitions_bytes",
        ),
        (
            "limits {\n  max_unpacked_bytes = 0\n}\n",
            "limits.max_unpacked_bytes",
        ),
        (
            "limits {\n  max_zip_entries = 0\n}\n",
            "limits.max_zip_entries",
        ),
        ("log {\n  level = \"chatty\"\n}\n", "log.level"),
        ("log {\n  level = \"info,tfmirror=loud\"\n}\n", "log.level"),
        ("log {\n  level = \"\"\n}\n", "log.level"),
        (
            "cache {\n  metadata_capacity = 0\n}\n",
            "cache.metadata_capacity",
        ),
        (
            "cache {\n  metadata_capacity_mb = 0\n}\n",
            "cache.metadata_capacity_mb",
        ),
        (
            "cache {\n  metadata_capacity_mb = 4097\n}\n",
            "cache.metadata_capacity_mb",
        ),
        (
            "cache {\n  metadata_ttl_seconds = 99999999999999\n}\n",
            "cache.metadata_ttl_seconds",
        ),
        ("server {\n  workers = 100000\n}\n", "server.workers"),
        (
            "database {\n  busy_timeout_ms = 0\n}\n",
            "database.busy_timeout_ms",
        ),
        (
            "database {\n  busy_timeout_ms = 3000000000\n}\n",
            "database.busy_timeout_ms",
        ),
        (
            "auth {\n  session_minutes = 99999999999999999\n}\n",
            "auth.session_minutes",
        ),
        (
            "auth {\n  lockout_max_seconds = 0\n}\n",
            "auth.lockout_max_seconds",
        ),
        (
            "auth {\n  failure_window_seconds = 0\n}\n",
            "auth.failure_window_seconds",
        ),
        (
            "worker {\n  stale_after_seconds = 0\n}\n",
            "worker.stale_after_seconds",
        ),
        (
            "worker {\n  stale_after_seconds = 2\n}\n",
            "worker.stale_after_seconds",
        ),
        (
            "worker {\n  concurrency = 100000000\n}\n",
            "worker.concurrency",
        ),
        (
            "storage {\n  s3 {\n    bucket = \"b\"\n    multipart_part_mib = 6000\n  }\n}\n",
            "storage.s3.multipart_part_mib",
        ),
        (
            "storage {\n  s3 {\n    bucket = \"b\"\n    timeout_seconds = 0\n  }\n}\n",
            "storage.s3.timeout_seconds",
        ),
        (
            "upstream \"registry.terraform.io\" {\n  metadata_deadline_ms = 0\n}\n",
            "upstream \"registry.terraform.io\".metadata_deadline_ms",
        ),
        (
            "upstream \"registry.terraform.io\" {\n  concurrency = 100000000\n}\n",
            "upstream \"registry.terraform.io\".concurrency",
        ),
        (
            "upstream \"registry.terraform.io\" {\n  metadata_ttl_seconds = 99999999999999\n}\n",
            "upstream \"registry.terraform.io\".metadata_ttl_seconds",
        ),
        (
            "upstream \"registry.terraform.io\" {\n  min_release_age_hours = 99999999999999999\n}\n",
            "upstream \"registry.terraform.io\".min_release_age_hours",
        ),
    ];

    #[test]
    fn values_that_break_the_service_are_refused_naming_the_key_and_line() {
        for (text, key) in BREAKING {
            let msg = err_text(load_text(text, &[]));
            assert!(msg.contains(&format!("{key}: ")), "{key}: {msg}");
            // The key is the last one set.
            let line = text
                .lines()
                .collect::<Vec<_>>()
                .iter()
                .rposition(|l| l.contains('='))
                .unwrap()
                + 1;
            assert!(
                msg.contains(&format!("tfmirror.hcl:{line}:")),
                "{key} is set on line {line}: {msg}"
            );
        }
    }

    #[test]
    fn sensible_values_next_to_the_limits_are_accepted() {
        for text in [
            "log {\n  level = \"info\"\n}\n",
            "log {\n  level = \"WARN\"\n}\n",
            "log {\n  level = \"off\"\n}\n",
            "log {\n  level = \"tfmirror=debug,actix_web=warn,info\"\n}\n",
            "cache {\n  metadata_capacity = 0\n  metadata_ttl_seconds = 0\n}\n",
            "cache {\n  metadata_capacity_mb = 0\n  metadata_ttl_seconds = 0\n}\n",
            "cache {\n  metadata_capacity_mb = 4096\n}\n",
            "server {\n  workers = 1024\n}\n",
            "server {\n  shutdown_grace_seconds = 0\n}\n",
            "limits {\n  max_json_bytes = 1\n}\n",
            "worker {\n  backoff_base_ms = 0\n  poll_interval_ms = 0\n  stale_after_seconds = 5\n}\n",
            "server {\n  shutdown_grace_seconds = 99999999999999\n}\n",
            "storage {\n  s3 {\n    bucket = \"b\"\n    multipart_part_mib = 5120\n  }\n}\n",
        ] {
            load_text(text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn validation_errors_name_the_variable_or_flag_that_set_the_key() {
        let msg = err_text(load_text("", &[("TFM_SESSION_MINUTES", "0")]));
        assert!(
            msg.starts_with("environment variable TFM_SESSION_MINUTES: auth.session_minutes"),
            "{msg}"
        );
        let msg = err_text(load_text(
            "server {\n  listen = \"127.0.0.1:1\"\n}\n",
            &[("TFM_LISTEN", "nowhere")],
        ));
        assert!(
            msg.starts_with("environment variable TFM_LISTEN: "),
            "{msg}"
        );
        let msg = err_text(load_text("", &[("TFM_WORKER_CONCURRENCY", "0")]));
        assert!(
            msg.starts_with("environment variable TFM_WORKER_CONCURRENCY: "),
            "{msg}"
        );
        let msg = err_text(load_text("", &[("TFM_LOG_LEVEL", "chatty")]));
        assert!(
            msg.starts_with("environment variable TFM_LOG_LEVEL: "),
            "{msg}"
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.hcl");
        std::fs::write(&path, "").unwrap();
        let msg = load(
            Some(&path),
            &BTreeMap::new(),
            &[("server.listen", Value::from("nowhere"))],
        )
        .unwrap_err()
        .to_string();
        assert!(msg.starts_with("flag for server.listen: "), "{msg}");

        let msg = err_text(load_text("\nserver {\n  listen = \"nowhere\"\n}\n", &[]));
        assert!(msg.contains("tfmirror.hcl:3:3: server.listen"), "{msg}");
    }

    #[test]
    fn errors_inside_upstream_blocks_with_dotted_labels_have_a_position() {
        let block = |body: &str| {
            format!(
                "data_dir = \"x\"\nupstream \"other.example\" {{\n}}\nupstream \"registry.example.com\" {{\n  url = \"https://registry.example.com\"\n{body}}}\n"
            )
        };
        // A type error while deserialising.
        let msg = err_text(load_text(&block("  concurrency = \"many\"\n"), &[]));
        assert!(msg.contains("tfmirror.hcl:6:3"), "{msg}");
        assert!(
            msg.contains("upstream \"registry.example.com\".concurrency"),
            "{msg}"
        );
        // An unknown key.
        let msg = err_text(load_text(&block("  urll = \"x\"\n"), &[]));
        assert!(msg.contains("tfmirror.hcl:6:3"), "{msg}");
        // A value refused by the checks.
        let msg = err_text(load_text(&block("  concurrency = 0\n"), &[]));
        assert!(msg.contains("tfmirror.hcl:6:3"), "{msg}");
        let msg = err_text(load_text(&block("  allow = [\"a/b/c\"]\n"), &[]));
        assert!(msg.contains("tfmirror.hcl:6:3"), "{msg}");
        // A check on the block as a whole points at the block.
        let msg = err_text(load_text(
            "upstream \"registry.example.com\" {\n  url = \"https://u:p@registry.example.com/\"\n  token = \"t\"\n}\n",
            &[],
        ));
        assert!(msg.contains("tfmirror.hcl:1:1"), "{msg}");
    }
}
