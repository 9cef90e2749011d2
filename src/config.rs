//! One typed configuration, layered: defaults, then an HCL file, then `TFM_*` environment
//! variables, then command-line flags. Every layer is checked against the same schema, and a
//! bad key or value is reported with where it came from (file:line:column, or the variable).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A value that must never be printed or logged: `Debug` and `Serialize` mask it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"********\""
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "********" })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, local blobs and generated TLS material live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub cache: CacheConfig,
    pub log: LogConfig,
    /// Settings for every outbound request to upstream registries.
    pub outbound: OutboundConfig,
    /// The origin registries tfmirror may contact, by hostname. No other host is ever
    /// contacted: a definitions file naming an unconfigured origin is refused.
    pub upstream: BTreeMap<String, UpstreamConfig>,
    pub worker: WorkerConfig,
    /// The Provider Registry Protocol (`providers.v1`) served over the stored packages.
    pub registry: RegistryConfig,
    /// Admin API authentication.
    pub auth: AuthConfig,
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `GET /metrics` (Prometheus text format).
    pub enabled: bool,
    /// When set, scrapes must send `Authorization: Bearer TOKEN`.
    pub token: Secret,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            token: Secret::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 secret for session tokens (at least 32 bytes). When empty, one is generated once
    /// and kept in `DATA_DIR/jwt-secret` (mode 0600).
    pub jwt_secret: Secret,
    /// How long a login lasts, in minutes.
    pub session_minutes: u64,
    /// Failed logins (per username, and per client address) before further attempts are
    /// delayed; each further failure doubles the delay, up to `lockout_max_seconds`.
    pub max_failures: u32,
    pub lockout_max_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: Secret::default(),
            session_minutes: 60,
            max_failures: 5,
            lockout_max_seconds: 900,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// The origin served under `/v1/providers/`; every configured origin is also served under
    /// `/registry/HOSTNAME/v1/providers/`.
    pub default_origin: String,
    /// ASCII-armored OpenPGP secret key the mirror signs the `SHA256SUMS` of imported and
    /// uploaded packages with. When unset, one is generated on first start as
    /// `DATA_DIR/signing-key.asc` (mode 0600).
    pub signing_key_file: Option<PathBuf>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            default_origin: "registry.terraform.io".into(),
            signing_key_file: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            cache: CacheConfig::default(),
            log: LogConfig::default(),
            outbound: OutboundConfig::default(),
            upstream: BTreeMap::new(),
            worker: WorkerConfig::default(),
            registry: RegistryConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Extra PEM CA certificates to trust besides the system store (a corporate proxy or a
    /// private registry with an internal CA).
    pub extra_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Where service discovery starts (`URL/.well-known/terraform.json`). Defaults to
    /// `https://HOSTNAME`; set it to go through a proxy registry (or, in tests, a fake).
    pub url: Option<String>,
    /// Bearer token for private registries. Sent only to the registry's own API host.
    pub token: Secret,
    /// Timeout for metadata requests, and the longest a download may stall, in seconds.
    pub timeout_seconds: u64,
    /// How many downloads from this upstream may run at once.
    pub concurrency: usize,
    /// Accept packages the registry does not sign. Off by default; every such package is
    /// logged and recorded as unsigned.
    pub allow_unsigned: bool,
    /// When not empty, archives and checksum files may only be fetched from these hosts
    /// (the registry's download URLs often point at a CDN).
    pub download_hosts: Vec<String>,
    /// Fetch on demand: a mirror request for a provider, version or package not stored is
    /// answered from this upstream (verified, then stored). Off by default.
    pub pull_through: bool,
    /// When not empty, only these providers are fetched from this upstream, as `namespace`
    /// or `namespace/type` (`*` allowed as either part).
    pub allow: Vec<String>,
    /// Providers never fetched from this upstream, in the same forms; wins over `allow`.
    pub deny: Vec<String>,
    /// Versions the mirror first saw less than this many hours ago are not offered through
    /// pull-through yet (a quarantine for brand-new releases). 0 turns it off.
    pub min_release_age_hours: u64,
    /// How long upstream version lists and verified checksums stay in memory, in seconds.
    /// Past it they are fetched again; when the upstream is down they are served stale.
    pub metadata_ttl_seconds: u64,
    /// The longest a client's metadata request waits for this origin, in milliseconds
    /// (clients give up after 10 s); past it the last good version list, or a 404, is served.
    pub metadata_deadline_ms: u64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            url: None,
            token: Secret::default(),
            timeout_seconds: 30,
            concurrency: 4,
            allow_unsigned: false,
            download_hosts: Vec::new(),
            pull_through: false,
            allow: Vec::new(),
            deny: Vec::new(),
            min_release_age_hours: 0,
            metadata_ttl_seconds: 300,
            metadata_deadline_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Run the download worker inside `serve` (it can also run alone as `tfmirror worker`).
    pub enabled: bool,
    /// Items processed at once, across all upstreams.
    pub concurrency: usize,
    /// Attempts per item before it fails; only transient errors are retried.
    pub max_attempts: u32,
    /// First retry delay in milliseconds; doubles per attempt, with jitter, up to `backoff_max_ms`.
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// A running item whose heartbeat is older than this is considered abandoned and redone.
    pub stale_after_seconds: u64,
    /// How often the worker looks for due items when nothing wakes it, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 4,
            max_attempts: 5,
            backoff_base_ms: 2_000,
            backoff_max_ms: 300_000,
            stale_after_seconds: 120,
            poll_interval_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on, `HOST:PORT`.
    pub listen: String,
    /// Host names (besides localhost and 127.0.0.1) for the generated self-signed certificate.
    pub hostnames: Vec<String>,
    /// Serve HTTPS with these PEM files. Without it the server speaks plain HTTP (for use
    /// behind a TLS-terminating proxy), unless `--self-signed-tls` is given.
    pub tls: Option<TlsConfig>,
    /// Number of HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".into(),
            hostnames: Vec::new(),
            tls: None,
            workers: 0,
            shutdown_grace_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// SQLite file; defaults to `DATA_DIR/tfmirror.db`.
    pub path: Option<PathBuf>,
    pub max_connections: u32,
    /// How long a writer waits for a lock before giving up, in milliseconds.
    pub busy_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_connections: 8,
            busy_timeout_ms: 5_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Local,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `local` (a directory) or `s3` (any S3-compatible object store).
    pub backend: Backend,
    /// Directory for the local backend; defaults to `DATA_DIR/blobs`.
    pub path: Option<PathBuf>,
    pub s3: S3Config,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Endpoint for MinIO, SeaweedFS and friends; empty for AWS.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most non-AWS servers.
    pub path_style: bool,
    /// Key prefix inside the bucket, so one bucket can be shared.
    pub prefix: String,
    /// Static credentials; when unset the standard AWS chain (env, profile, IMDS, IRSA) is used.
    pub access_key_id: Option<String>,
    pub secret_access_key: Secret,
    /// Answer archive downloads with a 302 to a presigned URL instead of proxying bytes.
    pub redirect_downloads: bool,
    /// Lifetime of presigned URLs, in seconds.
    pub presign_ttl_seconds: u64,
    /// Objects larger than this many MiB are uploaded in parts of this size.
    pub multipart_part_mib: u64,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: None,
            path_style: false,
            prefix: String::new(),
            access_key_id: None,
            secret_access_key: Secret::default(),
            redirect_downloads: false,
            presign_ttl_seconds: 300,
            multipart_part_mib: 16,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest archive accepted, in bytes.
    pub max_archive_bytes: u64,
    /// Largest total unpacked size of an archive, in bytes (zip-bomb guard).
    pub max_unpacked_bytes: u64,
    pub max_zip_entries: usize,
    /// Largest definitions file the admin API accepts, in bytes.
    pub max_definitions_bytes: usize,
    /// Largest JSON body the admin API accepts, in bytes.
    pub max_json_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_archive_bytes: 2 << 30,
            max_unpacked_bytes: 4 << 30,
            max_zip_entries: 10_000,
            max_definitions_bytes: 1 << 20,
            max_json_bytes: 64 << 10,
        }
    }
}

impl LimitsConfig {
    pub fn zip(&self) -> crate::hashes::ZipLimits {
        crate::hashes::ZipLimits {
            max_unpacked_bytes: self.max_unpacked_bytes,
            max_entries: self.max_zip_entries,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// How long rendered metadata may be served before it is re-read from the database.
    /// Changes made by this process invalidate it at once; this bounds how long a change made
    /// by another process (`tfmirror import` while the server runs) takes to show.
    /// 0 turns the cache off (every request reads the database).
    pub metadata_ttl_seconds: u64,
    /// How many providers' rendered metadata to keep in memory.
    pub metadata_capacity: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            metadata_ttl_seconds: 10,
            metadata_capacity: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `tfmirror=debug,info`; `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// The environment variables that override config keys, in one table so they are documented
/// and checked in one place.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("TFM_DATA_DIR", "data_dir"),
    ("TFM_LISTEN", "server.listen"),
    ("TFM_TLS_CERT_FILE", "server.tls.cert_file"),
    ("TFM_TLS_KEY_FILE", "server.tls.key_file"),
    ("TFM_DATABASE_PATH", "database.path"),
    ("TFM_STORAGE_BACKEND", "storage.backend"),
    ("TFM_STORAGE_PATH", "storage.path"),
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
    for (key, v) in flags {
        set_path(&mut value, key, v.clone());
        sources
            .overrides
            .insert((*key).to_owned(), format!("flag for {key}"));
    }
    let config: Config = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        ConfigError::Invalid {
            location: sources.describe(&path, &message),
            message: format!("{path}: {message}"),
        }
    })?;
    config.validate()?;
    Ok(config)
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

fn parse_hcl(path: &Path, text: &str) -> Result<Value, ConfigError> {
    // hcl-edit reports syntax errors with line and column.
    if let Err(e) = hcl_edit::parser::parse_body(text) {
        let loc = e.location();
        return Err(ConfigError::Invalid {
            location: format!("{}:{}:{}", path.display(), loc.line(), loc.column()),
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
    fn describe(&self, path: &str, message: &str) -> String {
        if let Some(src) = self.overrides.get(path) {
            return src.clone();
        }
        let Some((file, text)) = &self.file else {
            return "configuration".into();
        };
        let mut segments: Vec<String> = if path == "." || path.is_empty() {
            Vec::new()
        } else {
            path.split('.').map(str::to_owned).collect()
        };
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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// `namespace`, `namespace/type`, either part `*`: the forms of `allow` and `deny`.
pub fn valid_provider_pattern(p: &str) -> bool {
    let part = |s: &str| {
        s == "*"
            || (!s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    match p.split_once('/') {
        Some((ns, ty)) => part(ns) && part(ty),
        None => part(p),
    }
}

/// Whether `namespace/type` matches a pattern of that form.
pub fn provider_pattern_matches(p: &str, namespace: &str, provider_type: &str) -> bool {
    let eq = |pat: &str, s: &str| pat == "*" || pat.eq_ignore_ascii_case(s);
    match p.split_once('/') {
        Some((ns, ty)) => eq(ns, namespace) && eq(ty, provider_type),
        None => eq(p, namespace),
    }
}

impl UpstreamConfig {
    /// The allow and deny lists applied to one provider.
    pub fn permits(&self, namespace: &str, provider_type: &str) -> bool {
        let hit = |list: &[String]| {
            list.iter()
                .any(|p| provider_pattern_matches(p, namespace, provider_type))
        };
        !hit(&self.deny) && (self.allow.is_empty() || hit(&self.allow))
    }
}

impl Config {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                location: "configuration".into(),
                message: format!("{key}: {message}"),
            })
        };
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid(
                "server.listen",
                "must be HOST:PORT with an IP address, e.g. 127.0.0.1:8443",
            );
        }
        if self.storage.backend == Backend::S3 && self.storage.s3.bucket.is_empty() {
            return invalid(
                "storage.s3.bucket",
                "is required when storage.backend = \"s3\"",
            );
        }
        if self.storage.backend == Backend::S3
            && self.storage.s3.access_key_id.is_some()
                == self.storage.s3.secret_access_key.is_empty()
        {
            return invalid(
                "storage.s3",
                "access_key_id and secret_access_key must be set together (or neither, for the AWS credential chain)",
            );
        }
        if self.storage.s3.multipart_part_mib < 5 {
            return invalid(
                "storage.s3.multipart_part_mib",
                "must be at least 5 (the S3 minimum part size)",
            );
        }
        if self.storage.s3.presign_ttl_seconds == 0
            || self.storage.s3.presign_ttl_seconds > 7 * 24 * 3600
        {
            return invalid(
                "storage.s3.presign_ttl_seconds",
                "must be between 1 and 604800",
            );
        }
        for (host, upstream) in &self.upstream {
            let key = format!("upstream \"{host}\"");
            if crate::domain::Hostname::parse(host).is_err() {
                return invalid(&key, "is not a valid registry hostname");
            }
            if let Some(url) = &upstream.url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return invalid(&format!("{key}.url"), "must be an http:// or https:// URL");
            }
            if upstream.concurrency == 0 || upstream.timeout_seconds == 0 {
                return invalid(&key, "concurrency and timeout_seconds must be at least 1");
            }
            for (list, patterns) in [("allow", &upstream.allow), ("deny", &upstream.deny)] {
                if let Some(bad) = patterns.iter().find(|p| !valid_provider_pattern(p)) {
                    return invalid(
                        &format!("{key}.{list}"),
                        &format!("{bad:?} is not NAMESPACE or NAMESPACE/TYPE (\"*\" allowed)"),
                    );
                }
            }
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.expose().len() < 32 {
            return invalid("auth.jwt_secret", "must be at least 32 bytes long");
        }
        if self.auth.session_minutes == 0 || self.auth.max_failures == 0 {
            return invalid(
                "auth",
                "session_minutes and max_failures must be at least 1",
            );
        }
        if crate::domain::Hostname::parse(&self.registry.default_origin).is_err() {
            return invalid(
                "registry.default_origin",
                "is not a valid registry hostname",
            );
        }
        if self.worker.concurrency == 0 || self.worker.max_attempts == 0 {
            return invalid("worker", "concurrency and max_attempts must be at least 1");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        Ok(())
    }

    pub fn database_path(&self) -> PathBuf {
        self.database
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tfmirror.db"))
    }

    pub fn local_storage_path(&self) -> PathBuf {
        self.storage
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("blobs"))
    }

    /// The effective configuration as HCL-like JSON with secrets masked, for `check-config`.
    pub fn masked_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
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
        assert_eq!(c.storage.backend, Backend::Local);
        assert_eq!(c.database_path(), PathBuf::from("./data/tfmirror.db"));
        assert_eq!(c.local_storage_path(), PathBuf::from("./data/blobs"));
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let text = r#"
data_dir = "/srv/tfm"
server {
  listen = "127.0.0.1:9000"
}
storage {
  backend = "s3"
  s3 {
    bucket = "from-file"
    path_style = true
  }
}
"#;
        let c = load_text(text, &[]).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.storage.s3.bucket, "from-file");
        assert!(c.storage.s3.path_style);

        let c = load_text(
            text,
            &[
                ("TFM_S3_BUCKET", "from-env"),
                ("TFM_LISTEN", "127.0.0.1:9001"),
            ],
        )
        .unwrap();
        assert_eq!(c.storage.s3.bucket, "from-env");
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
        let text = "data_dir = \"x\"\n\nstorage {\n  backend = \"s3\"\n  s3 {\n    bukket = \"b\"\n  }\n}\n";
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

        let msg = err_text(load_text("storage {\n backend = \"ftp\"\n}\n", &[]));
        assert!(msg.contains(":2:2"), "{msg}");
        assert!(msg.contains("storage.backend"), "{msg}");
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

    #[test]
    fn semantic_checks_run_after_layering() {
        let msg = err_text(load_text("storage {\n backend = \"s3\"\n}\n", &[]));
        assert!(msg.contains("storage.s3.bucket"), "{msg}");
        let msg = err_text(load_text("server {\n listen = \"nowhere\"\n}\n", &[]));
        assert!(msg.contains("server.listen"), "{msg}");
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        let c = load_text(
            "storage {\n backend = \"s3\"\n s3 {\n bucket = \"b\"\n access_key_id = \"AKIA\"\n secret_access_key = \"hunter2-very-secret\"\n }\n}\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.storage.s3.secret_access_key.expose(),
            "hunter2-very-secret"
        );
        let printed = c.masked_json();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("********"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
