//! One typed configuration: the schema (this file, a doc comment on every key), the layered
//! loader (`load`: defaults, then an HCL file, then `TFM_*` environment variables, then
//! command-line flags, every bad key or value reported with where it came from), the checks
//! that span keys (`validate`), and the provider patterns of `allow`/`deny` (`patterns`).

mod load;
mod patterns;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::domain::IpRange;

pub use load::{ConfigError, ENV_OVERRIDES, load, process_env};
pub use patterns::{provider_pattern_matches, valid_provider_pattern};

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
    /// contacted: a definitions file naming an unconfigured origin is refused. With no
    /// `upstream` block at all, the public registries (`registry.terraform.io` and
    /// `registry.opentofu.org`) are the upstreams, with pull-through on and every package
    /// verified; one block replaces both.
    pub upstream: BTreeMap<String, UpstreamConfig>,
    /// Air-gapped operation: no outbound request at all. No upstream is contacted (the
    /// public defaults are not added, `upstream` blocks are ignored with a warning); the
    /// mirror serves what was imported, uploaded or fetched before.
    pub offline: bool,
    /// The `upstream` blocks `offline` set aside, for the start-up warning.
    #[serde(skip)]
    pub offline_ignored: Vec<String>,
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
    /// Failed logins for one username from one client address before further attempts are
    /// delayed; each further failure doubles the delay, up to `lockout_max_seconds`. A
    /// username (from any address) and an address (for any username) get four times as many.
    pub max_failures: u32,
    pub lockout_max_seconds: u64,
    /// A count of failures starts again after this many seconds without one.
    pub failure_window_seconds: u64,
    /// Who may read the mirror and registry protocols: `anyone` (the default) or `token`.
    pub read_access: ReadAccess,
    /// With `read_access = "token"`: how long a signed archive or checksum URL handed out in
    /// a document stays valid, at least (at most twice as long).
    pub signed_url_seconds: u64,
    /// Single sign-on to the admin UI through an OpenID Connect provider. Local accounts
    /// keep working beside it (break-glass).
    pub oidc: Option<OidcConfig>,
}

/// OpenID Connect login: the authorization code flow with PKCE, the provider found by
/// discovery from `issuer`, the ID token checked (signature from the provider's JWKS,
/// issuer, audience, expiry, nonce), the role from a groups claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The issuer URL; discovery reads `ISSUER/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// For confidential clients (sent as HTTP Basic to the token endpoint). Empty: a public
    /// client, protected by PKCE alone.
    pub client_secret: Secret,
    /// Scopes asked for; `openid` is always included.
    pub scopes: Vec<String>,
    /// The claim listing the user's groups (an array of strings, or one string), read from
    /// the ID token, else from the userinfo endpoint.
    pub groups_claim: String,
    /// Members of any of these groups are admins.
    pub admin_groups: Vec<String>,
    /// Members of any of these groups (and of no admin group) are viewers. Everyone else is
    /// refused.
    pub viewer_groups: Vec<String>,
    /// The claim the tfmirror user name comes from (falls back to `email`, then `sub`).
    pub username_claim: String,
    /// The login button says "Log in with DISPLAY_NAME".
    pub display_name: String,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            client_id: String::new(),
            client_secret: Secret::default(),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            groups_claim: "groups".into(),
            admin_groups: Vec::new(),
            viewer_groups: Vec::new(),
            username_claim: "preferred_username".into(),
            display_name: "single sign-on".into(),
        }
    }
}

/// Who may read the mirror and registry protocols (`/.well-known/terraform.json` stays open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadAccess {
    /// Every client on the network.
    #[default]
    Anyone,
    /// Clients with an API token of any role (`consumer` is the read-only one for
    /// Terraform's `credentials` block). Terraform sends no token for archive and checksum
    /// downloads, so the documents link to them by short-lived signed URLs.
    Token,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: Secret::default(),
            session_minutes: 60,
            max_failures: 5,
            lockout_max_seconds: 900,
            failure_window_seconds: 900,
            read_access: ReadAccess::Anyone,
            signed_url_seconds: 3600,
            oidc: None,
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
            offline: false,
            offline_ignored: Vec::new(),
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

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Where service discovery starts (`URL/.well-known/terraform.json`). Defaults to
    /// `https://HOSTNAME`; set it to go through a proxy registry (or, in tests, a fake).
    /// `https://USER:PASSWORD@HOST/` sends Basic credentials; they are masked wherever the
    /// configuration is shown.
    #[serde(serialize_with = "serialize_masked_url")]
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
    /// Serve this registry's modules too (`modules.v1`): fetched by definitions' `module`
    /// blocks and, with `pull_through`, on demand. Their archives and git repositories are
    /// fetched only from `download_hosts` when it is set.
    pub modules: bool,
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

impl UpstreamConfig {
    /// Where service discovery starts for `host`: `url`, else `https://HOST/`, with a
    /// trailing slash.
    pub fn api_base(&self, host: &str) -> String {
        match &self.url {
            Some(u) if u.ends_with('/') => u.clone(),
            Some(u) => format!("{u}/"),
            None => format!("https://{host}/"),
        }
    }
}

/// `url` with the password (or a lone user name, often a token) replaced by `********`; a
/// URL that does not parse is masked whole, since nothing can say which part is secret.
pub fn mask_url_credentials(url: &str) -> String {
    const MASK: &str = "********";
    let Ok(mut parsed) = url::Url::parse(url) else {
        return MASK.into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username(MASK);
    }
    parsed.to_string()
}

/// Whether a URL carries user info (Basic credentials).
pub fn url_has_credentials(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
}

fn serialize_masked_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_some(&mask_url_credentials(u)),
        None => s.serialize_none(),
    }
}

/// Like the derived form, with the URL's credentials masked.
impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = serde_json::to_value(self).map_err(|_| fmt::Error)?;
        write!(f, "UpstreamConfig {value}")
    }
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
            modules: true,
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
            stale_after_seconds: 30,
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
    /// The address users reach the mirror at, e.g. `https://mirror.example.com/` behind a
    /// TLS-terminating proxy: shown on the "Use this mirror" page, in the setup link and in
    /// the start-up instructions. Unset: the address the browser used (and, in the start-up
    /// instructions, the listen address).
    pub public_url: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` / `Forwarded`
    /// headers name the real client. Empty (the default): those headers are ignored and the
    /// socket's peer is the client, so nobody can pick their own address.
    pub trusted_proxies: Vec<IpRange>,
    /// A request body may take this long to start arriving, in seconds, and must then
    /// average `min_body_bytes_per_second`; slower bodies are answered 408.
    pub body_grace_seconds: u64,
    pub min_body_bytes_per_second: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".into(),
            hostnames: Vec::new(),
            tls: None,
            public_url: None,
            workers: 0,
            shutdown_grace_seconds: 30,
            trusted_proxies: Vec::new(),
            body_grace_seconds: 10,
            min_body_bytes_per_second: 16 * 1024,
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
    /// PostgreSQL (`postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=require`), for several
    /// replicas; unset means the SQLite file at `path`.
    pub url: Secret,
    /// SQLite file; defaults to `DATA_DIR/tfmirror.db`.
    pub path: Option<PathBuf>,
    pub max_connections: u32,
    /// SQLite: how long a writer waits for a lock before giving up, in milliseconds.
    pub busy_timeout_ms: u64,
    /// PostgreSQL: how long a request waits for a connection before it is answered 503.
    pub acquire_timeout_ms: u64,
    /// PostgreSQL: the longest any statement may run.
    pub statement_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::default(),
            path: None,
            max_connections: 8,
            busy_timeout_ms: 5_000,
            acquire_timeout_ms: 3_000,
            statement_timeout_ms: 5_000,
        }
    }
}

impl DatabaseConfig {
    pub fn is_postgres(&self) -> bool {
        !self.url.is_empty()
    }
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Where package archives live: exactly one of `local { ... }` (the default) or `s3 { ... }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "StorageBlocks")]
pub enum StorageConfig {
    Local(LocalStorageConfig),
    S3(S3Config),
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self::Local(LocalStorageConfig::default())
    }
}

impl StorageConfig {
    /// The S3 settings, when the archives live in S3.
    pub fn s3(&self) -> Option<&S3Config> {
        match self {
            Self::S3(s3) => Some(s3),
            Self::Local(_) => None,
        }
    }

    pub fn s3_mut(&mut self) -> Option<&mut S3Config> {
        match self {
            Self::S3(s3) => Some(s3),
            Self::Local(_) => None,
        }
    }
}

/// The `storage` block as written: at most one of its two blocks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageBlocks {
    local: Option<LocalStorageConfig>,
    s3: Option<S3Config>,
}

impl TryFrom<StorageBlocks> for StorageConfig {
    type Error = &'static str;
    fn try_from(b: StorageBlocks) -> Result<Self, Self::Error> {
        match (b.local, b.s3) {
            (Some(_), Some(_)) => Err("set either a `local { }` or an `s3 { }` block, not both"),
            (_, Some(s3)) => Ok(Self::S3(s3)),
            (local, None) => Ok(Self::Local(local.unwrap_or_default())),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LocalStorageConfig {
    /// Directory of the blobs; defaults to `DATA_DIR/blobs`.
    pub path: Option<PathBuf>,
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
    /// How long one request to the object store may take before the mirror gives up and
    /// answers 503 (retry later): a request's answer, or the next bytes of an archive being
    /// streamed. An upload of a part gets this plus one second per MiB of the part.
    pub timeout_seconds: u64,
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
            timeout_seconds: 30,
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
    /// With several replicas: how long an archive request waits for the package another
    /// replica is pulling through before it is answered 503 with `Retry-After`.
    pub follower_wait_seconds: u64,
    /// Largest total of a module package's files, in bytes (downloaded, uploaded or
    /// cloned); also the largest module archive accepted.
    pub max_module_bytes: u64,
    /// Most files, directories and links in a module package.
    pub max_module_files: usize,
    /// Longest a module's git clone or archive download may take, in seconds.
    pub module_fetch_seconds: u64,
    /// Largest air-gap bundle the admin API accepts for import, in bytes (the CLI's
    /// `import-bundle` reads a file of any size).
    pub max_bundle_bytes: u64,
    /// The most packages one `POST /v1/lock` request may pull through from the origins
    /// (each is downloaded and verified while the request waits).
    pub max_lock_pulls: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_archive_bytes: 2 << 30,
            max_unpacked_bytes: 4 << 30,
            max_zip_entries: 10_000,
            max_definitions_bytes: 1 << 20,
            max_json_bytes: 64 << 10,
            follower_wait_seconds: 60,
            max_module_bytes: 512 << 20,
            max_module_files: 20_000,
            module_fetch_seconds: 300,
            max_bundle_bytes: 64 << 30,
            max_lock_pulls: 64,
        }
    }
}

impl Config {
    /// The longest a client's metadata request waits for the origin `host` (its upstream's
    /// `metadata_deadline_ms`; 5 s for a host without one).
    pub fn metadata_deadline(&self, host: &str) -> std::time::Duration {
        let ms = self
            .upstream
            .get(host)
            .map_or(5_000, |u| u.metadata_deadline_ms);
        std::time::Duration::from_millis(ms.max(1))
    }

    /// The shortest metadata TTL of any upstream: how long version lists and checksums stay fresh.
    pub fn metadata_ttl(&self) -> std::time::Duration {
        let ttl = self
            .upstream
            .values()
            .map(|u| u.metadata_ttl_seconds)
            .min()
            .unwrap_or(300)
            .max(1);
        std::time::Duration::from_secs(ttl)
    }
}

impl LimitsConfig {
    pub fn module_tree(&self) -> crate::archive::TreeLimits {
        crate::archive::TreeLimits {
            max_bytes: self.max_module_bytes,
            max_entries: self.max_module_files,
        }
    }

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
    /// How many providers' rendered metadata to keep in memory (and, separately, how many
    /// modules' version lists).
    pub metadata_capacity: u64,
    /// The most memory, in MiB, that rendered metadata may take (providers and modules each):
    /// a provider with thousands of versions weighs what its documents weigh, so memory is
    /// bounded by this setting, never by the size of the catalogue.
    pub metadata_capacity_mb: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            metadata_ttl_seconds: 10,
            metadata_capacity: 10_000,
            metadata_capacity_mb: 64,
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

/// The public registries used when no `upstream` block is configured.
pub const PUBLIC_REGISTRIES: [&str; 2] = ["registry.opentofu.org", "registry.terraform.io"];

impl Config {
    /// What the loader does once the layers are merged: with `offline`, no upstream at all;
    /// with no `upstream` block, the public registries with pull-through on.
    pub fn apply_upstream_defaults(&mut self) {
        if self.offline {
            self.offline_ignored = std::mem::take(&mut self.upstream).into_keys().collect();
        } else if self.upstream.is_empty() {
            for host in PUBLIC_REGISTRIES {
                self.upstream.insert(
                    host.to_owned(),
                    UpstreamConfig {
                        pull_through: true,
                        ..UpstreamConfig::default()
                    },
                );
            }
        }
    }

    /// `server.public_url` with exactly one trailing slash, when set.
    pub fn public_base(&self) -> Option<String> {
        self.server
            .public_url
            .as_deref()
            .map(|u| format!("{}/", u.trim_end_matches('/')))
    }

    pub fn database_path(&self) -> PathBuf {
        self.database
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("tfmirror.db"))
    }

    /// The blob directory of the local backend.
    pub fn local_storage_path(&self, local: &LocalStorageConfig) -> PathBuf {
        local
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("blobs"))
    }

    /// The effective configuration as HCL-like JSON with secrets masked, for `check-config`.
    pub fn masked_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
