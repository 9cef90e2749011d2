//! A client for the Provider Registry Protocol: service discovery, `versions`, download info,
//! `SHA256SUMS` and its signature, and archive downloads streamed to disk while hashing.
//! Only hosts with an `upstream` block are ever contacted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde::Deserialize;
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, UpstreamConfig};
use crate::domain::{Hostname, Platform, ProviderAddress, Version};

/// Bytes gathered before each write of a download to disk.
const WRITE_BATCH: usize = 1 << 20;

/// Largest `SHA256SUMS` or signature file accepted.
pub(super) const SMALL_FILE_LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// Worth retrying: connection problems, timeouts, 429, 5xx, short bodies.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The registry does not have it (404 or 410): a fact, not a fault.
    #[error("{0}")]
    NotFound(String),
    /// Retrying will not help: bad documents, refused hosts, other 4xx.
    #[error("{0}")]
    Permanent(String),
    /// The caller gave up (its cancellation token fired) before the download finished.
    #[error("cancelled")]
    Cancelled,
}

impl UpstreamError {
    pub fn permanent(m: impl Into<String>) -> Self {
        Self::Permanent(m.into())
    }
    pub fn transient(m: impl Into<String>) -> Self {
        Self::Transient {
            message: m.into(),
            retry_after: None,
        }
    }
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

fn from_reqwest(what: &str, e: reqwest::Error) -> UpstreamError {
    // Where it went, without the query (presigned tokens) or credentials; then every cause
    // (reqwest's own message, "error sending request", says neither).
    let place = e
        .url()
        .map(|u| {
            let mut u = u.clone();
            u.set_query(None);
            u.set_fragment(None);
            format!(" ({})", crate::config::mask_url_credentials(u.as_str()))
        })
        .unwrap_or_default();
    let e = e.without_url();
    let cause = crate::telemetry::causes(&e);
    if e.is_timeout() {
        UpstreamError::transient(format!("{what}{place}: timed out"))
    } else if e.is_connect() {
        UpstreamError::transient(format!("{what}{place}: cannot connect{cause}"))
    } else if e.is_builder() || e.is_redirect() {
        UpstreamError::permanent(format!("{what}{place}: {e}{cause}"))
    } else {
        // Body and protocol errors: a connection cut mid-body is the usual cause.
        UpstreamError::transient(format!("{what}{place}: {e}{cause}"))
    }
}

/// One version as `versions` lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamVersion {
    pub version: String,
    #[serde(default)]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<UpstreamPlatform>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamPlatform {
    pub os: String,
    pub arch: String,
}

#[derive(Debug, Deserialize)]
struct VersionsDoc {
    versions: Vec<UpstreamVersion>,
}

/// The `download/{os}/{arch}` document.
#[derive(Debug, Clone, Deserialize)]
pub struct DownloadInfo {
    #[serde(default)]
    pub protocols: Vec<String>,
    pub filename: String,
    pub download_url: String,
    pub shasums_url: String,
    pub shasums_signature_url: String,
    pub shasum: String,
    #[serde(default)]
    pub signing_keys: SigningKeys,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SigningKeys {
    #[serde(default)]
    pub gpg_public_keys: Vec<GpgKey>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GpgKey {
    #[serde(default)]
    pub key_id: String,
    pub ascii_armor: String,
}

pub(super) struct Upstream {
    pub(super) config: UpstreamConfig,
    api_base: reqwest::Url,
    providers_base: OnceCell<reqwest::Url>,
    pub(super) modules_base: OnceCell<reqwest::Url>,
    pub(super) downloads: Arc<Semaphore>,
    /// Requests sent, and those that failed (connection errors and non-2xx answers).
    fetches: std::sync::atomic::AtomicU64,
    failures: std::sync::atomic::AtomicU64,
    /// The last minutes, for health: failures are no answer, a 5xx or a 429.
    recent: super::health::RecentHealth,
}

/// Request counts of one upstream: since the process started, and over the last
/// [`super::health::WINDOW_MINUTES`] minutes (what its health is judged on).
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpstreamStats {
    pub hostname: String,
    pub pull_through: bool,
    pub fetches: u64,
    pub failures: u64,
    pub recent_requests: u64,
    pub recent_failures: u64,
    pub window_minutes: u64,
    pub last_failure_at: Option<i64>,
}

/// The HTTP client settings every outbound request shares: the user agent, a connect
/// timeout, at most 5 redirects, the system CAs plus `outbound.extra_ca_file`, and the
/// standard proxy variables.
pub fn outbound_client(config: &Config) -> anyhow::Result<reqwest::ClientBuilder> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("tfmirror/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5));
    if let Some(path) = &config.outbound.extra_ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!("reading outbound.extra_ca_file {}: {e}", path.display())
        })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

pub struct RegistryClient {
    pub(super) http: reqwest::Client,
    upstreams: HashMap<Hostname, Upstream>,
    /// `offline = true`: there are no upstreams, and errors say why.
    offline: bool,
}

impl RegistryClient {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let mut builder = outbound_client(config)?;
        let read_timeout = config
            .upstream
            .values()
            .map(|u| u.timeout_seconds)
            .max()
            .unwrap_or(30);
        builder = builder.read_timeout(Duration::from_secs(read_timeout));
        let mut upstreams = HashMap::new();
        for (host, cfg) in &config.upstream {
            let hostname = Hostname::parse(host)?;
            let base = cfg.api_base(hostname.as_str());
            upstreams.insert(
                hostname,
                Upstream {
                    config: cfg.clone(),
                    api_base: reqwest::Url::parse(&base)?,
                    providers_base: OnceCell::new(),
                    modules_base: OnceCell::new(),
                    downloads: Arc::new(Semaphore::new(cfg.concurrency)),
                    fetches: Default::default(),
                    failures: Default::default(),
                    recent: Default::default(),
                },
            );
        }
        Ok(Self {
            http: builder.build()?,
            upstreams,
            offline: config.offline,
        })
    }

    /// Request counts per configured upstream, by hostname.
    pub fn stats(&self) -> Vec<UpstreamStats> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut out: Vec<UpstreamStats> = self
            .upstreams
            .iter()
            .map(|(host, up)| {
                let recent = up.recent.recent(crate::clock::now());
                UpstreamStats {
                    hostname: host.to_string(),
                    pull_through: up.config.pull_through,
                    fetches: up.fetches.load(Relaxed),
                    failures: up.failures.load(Relaxed),
                    recent_requests: recent.requests,
                    recent_failures: recent.failures,
                    window_minutes: super::health::WINDOW_MINUTES,
                    last_failure_at: recent.last_failure_at,
                }
            })
            .collect();
        out.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        out
    }

    pub fn is_configured(&self, host: &Hostname) -> bool {
        self.upstreams.contains_key(host)
    }

    /// Why `host` is not contacted, and what to do about it.
    pub fn not_configured(&self, host: &Hostname) -> String {
        if self.offline {
            format!(
                "the mirror is offline (`offline = true`): {host} is never contacted; \
                 import or upload its packages instead"
            )
        } else {
            format!(
                "no upstream is configured for {host}: add `upstream \"{host}\" {{}}` to the tfmirror configuration"
            )
        }
    }

    pub fn allows_unsigned(&self, host: &Hostname) -> bool {
        self.upstreams
            .get(host)
            .is_some_and(|u| u.config.allow_unsigned)
    }

    pub(super) fn upstream(&self, host: &Hostname) -> Result<&Upstream, UpstreamError> {
        self.upstreams
            .get(host)
            .ok_or_else(|| UpstreamError::permanent(self.not_configured(host)))
    }

    /// Sends a GET with the upstream's token when the URL is on its API host, and maps the
    /// status to transient or permanent errors.
    pub(super) async fn get(
        &self,
        up: &Upstream,
        url: &reqwest::Url,
        what: &str,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let mut req = self.http.get(url.clone());
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        if !up.config.token.is_empty()
            && url.host_str() == up.api_base.host_str()
            && url.port_or_known_default() == up.api_base.port_or_known_default()
        {
            req = req.bearer_auth(up.config.token.expose());
        }
        up.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fail = || {
            up.failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        };
        let res = req.send().await.map_err(|e| {
            fail();
            up.recent.record(crate::clock::now(), true);
            from_reqwest(what, e)
        })?;
        let status = res.status();
        // For health, an answer is an answer (a 404 is the origin working); no answer, a
        // server error or throttling is not.
        up.recent.record(
            crate::clock::now(),
            status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
        );
        if status.is_success() {
            return Ok(res);
        }
        fail();
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let message = format!("{what}: upstream answered {status}");
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            Err(UpstreamError::NotFound(message))
        } else if status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
        {
            Err(UpstreamError::Transient {
                message,
                retry_after,
            })
        } else {
            Err(UpstreamError::Permanent(message))
        }
    }

    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        up: &Upstream,
        url: &reqwest::Url,
        what: &str,
    ) -> Result<T, UpstreamError> {
        let timeout = Duration::from_secs(up.config.timeout_seconds);
        let res = self.get(up, url, what, Some(timeout)).await?;
        let body = read_limited(res, SMALL_FILE_LIMIT * 16, what).await?;
        serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::permanent(format!("{what}: invalid JSON: {e}")))
    }

    /// `providers.v1` base URL from service discovery, fetched once per upstream.
    async fn providers_base(&self, up: &Upstream) -> Result<reqwest::Url, UpstreamError> {
        self.service_base(up, &up.providers_base, "providers.v1")
            .await
    }

    /// A service's base URL from the upstream's service discovery, kept in `cell`.
    pub(super) async fn service_base(
        &self,
        up: &Upstream,
        cell: &OnceCell<reqwest::Url>,
        service: &str,
    ) -> Result<reqwest::Url, UpstreamError> {
        cell.get_or_try_init(|| async {
            let url = up
                .api_base
                .join(".well-known/terraform.json")
                .map_err(|e| UpstreamError::permanent(e.to_string()))?;
            let doc: HashMap<String, serde_json::Value> =
                self.get_json(up, &url, "service discovery").await?;
            let base = doc.get(service).and_then(|v| v.as_str()).ok_or_else(|| {
                UpstreamError::permanent(format!(
                    "service discovery: the registry does not offer {service}"
                ))
            })?;
            let base = if base.ends_with('/') {
                base.to_owned()
            } else {
                format!("{base}/")
            };
            url.join(&base).map_err(|e| {
                UpstreamError::permanent(format!("service discovery: bad {service} URL: {e}"))
            })
        })
        .await
        .cloned()
    }

    /// Every version the upstream offers for a provider, with its platforms.
    pub async fn versions(
        &self,
        address: &ProviderAddress,
    ) -> Result<Vec<UpstreamVersion>, UpstreamError> {
        let up = self.upstream(&address.hostname)?;
        let base = self.providers_base(up).await?;
        let url = base
            .join(&format!(
                "{}/{}/versions",
                address.namespace, address.provider_type
            ))
            .map_err(|e| UpstreamError::permanent(e.to_string()))?;
        let doc: VersionsDoc = self
            .get_json(up, &url, &format!("versions of {address}"))
            .await?;
        Ok(doc.versions)
    }

    pub async fn download_info(
        &self,
        address: &ProviderAddress,
        version: &Version,
        platform: &Platform,
    ) -> Result<DownloadInfo, UpstreamError> {
        let up = self.upstream(&address.hostname)?;
        let base = self.providers_base(up).await?;
        let url = base
            .join(&format!(
                "{}/{}/{}/download/{}/{}",
                address.namespace, address.provider_type, version, platform.os, platform.arch
            ))
            .map_err(|e| UpstreamError::permanent(e.to_string()))?;
        let what = format!("download info for {address} {version} {platform}");
        match self.get_json(up, &url, &what).await {
            Err(UpstreamError::NotFound(_)) => Err(UpstreamError::NotFound(format!(
                "{address} {version} is not offered for {platform} by the upstream"
            ))),
            other => other,
        }
    }

    /// Resolves a URL from a download document and checks it may be fetched.
    fn file_url(
        &self,
        up: &Upstream,
        base: &reqwest::Url,
        raw: &str,
    ) -> Result<reqwest::Url, UpstreamError> {
        let url = base.join(raw).map_err(|e| {
            UpstreamError::permanent(format!("bad URL {raw:?} in download info: {e}"))
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(UpstreamError::permanent(format!(
                "refusing non-HTTP URL {url}"
            )));
        }
        allowed_host(up, &url)?;
        Ok(url)
    }

    /// Fetches `SHA256SUMS` or its signature (small, size-limited).
    pub async fn fetch_small(
        &self,
        address: &ProviderAddress,
        raw_url: &str,
        what: &str,
    ) -> Result<Vec<u8>, UpstreamError> {
        let up = self.upstream(&address.hostname)?;
        let base = self.providers_base(up).await?;
        let url = self.file_url(up, &base, raw_url)?;
        let res = self
            .get(
                up,
                &url,
                what,
                Some(Duration::from_secs(up.config.timeout_seconds)),
            )
            .await?;
        read_limited(res, SMALL_FILE_LIMIT, what).await
    }

    /// Streams an archive into `dest` while hashing it, telling `observer` the size once the
    /// upstream answered and each time more bytes are in the file (readable by others, for
    /// callers that stream the file while it grows). Returns (hex sha256, size). Stops with
    /// [`UpstreamError::Cancelled`] as soon as `cancel` fires. Holds one of the upstream's
    /// download slots.
    pub async fn download_to(
        &self,
        address: &ProviderAddress,
        raw_url: &str,
        dest: &Path,
        max_bytes: u64,
        observer: Arc<dyn DownloadObserver>,
        cancel: &CancellationToken,
    ) -> Result<(String, u64), UpstreamError> {
        let up = self.upstream(&address.hostname)?;
        let base = self.providers_base(up).await?;
        let url = self.file_url(up, &base, raw_url)?;
        self.stream_to(up, &url, dest, max_bytes, observer, cancel)
            .await
    }

    /// Streams `url` into `dest` while hashing it (see [`RegistryClient::download_to`]).
    pub(super) async fn stream_to(
        &self,
        up: &Upstream,
        url: &reqwest::Url,
        dest: &Path,
        max_bytes: u64,
        observer: Arc<dyn DownloadObserver>,
        cancel: &CancellationToken,
    ) -> Result<(String, u64), UpstreamError> {
        let _slot = up
            .downloads
            .acquire()
            .await
            .map_err(|_| UpstreamError::transient("shutting down"))?;
        let res = self.get(up, url, "archive download", None).await?;
        let total = res.content_length();
        if total.is_some_and(|t| t > max_bytes) {
            return Err(UpstreamError::permanent(format!(
                "archive is {} bytes, over the limit of {max_bytes}",
                total.unwrap_or_default()
            )));
        }
        let io = |e: std::io::Error| {
            UpstreamError::transient(format!("writing {}: {e}", dest.display()))
        };
        let file = tokio::fs::File::create(dest)
            .await
            .map_err(io)?
            .into_std()
            .await;
        observer.started(total);
        let mut spool = Spool::start(file, Some(observer));
        let mut done: u64 = 0;
        let mut body = res.bytes_stream();
        loop {
            let next = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(UpstreamError::Cancelled),
                next = body.next() => next,
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| from_reqwest("archive download", e))?;
            done += chunk.len() as u64;
            if done > max_bytes {
                return Err(UpstreamError::permanent(format!(
                    "archive exceeds the limit of {max_bytes} bytes"
                )));
            }
            if !spool.push(chunk).await {
                // The writer stopped early: its error is reported below.
                break;
            }
        }
        let sha256 = spool.finish().await.map_err(io)?;
        if let Some(t) = total
            && done != t
        {
            return Err(UpstreamError::transient(format!(
                "archive download: body ended after {done} of {t} bytes"
            )));
        }
        Ok((sha256, done))
    }
}

/// A download being hashed and written to disk on the blocking pool while the async side
/// keeps reading the socket. At most `SPOOL_CHUNKS` chunks wait in between, so memory stays
/// constant whatever the archive's size.
pub struct Spool {
    tx: Option<tokio::sync::mpsc::Sender<bytes::Bytes>>,
    task: tokio::task::JoinHandle<std::io::Result<String>>,
}

const SPOOL_CHUNKS: usize = 16;

/// Told how a download is going: its size once the upstream answered, then (from the writer
/// thread) how many bytes are in the file so far.
pub trait DownloadObserver: Send + Sync + 'static {
    fn started(&self, _total: Option<u64>) {}
    fn written(&self, _bytes: u64) {}
}

/// Nobody is watching.
pub struct Unobserved;
impl DownloadObserver for Unobserved {}

impl Spool {
    pub fn start(file: std::fs::File, on_written: Option<Arc<dyn DownloadObserver>>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(SPOOL_CHUNKS);
        let task = tokio::task::spawn_blocking(move || {
            use sha2::Digest;
            use std::io::Write;
            let mut hasher = sha2::Sha256::new();
            let mut out = std::io::BufWriter::with_capacity(WRITE_BATCH, file);
            let mut written = 0u64;
            let mut told = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                out.write_all(&chunk)?;
                written += chunk.len() as u64;
                // Readers of the growing file see the bytes when the writer has caught up with
                // the socket, and at least every write batch when it has not.
                if let Some(tell) = &on_written
                    && (rx.is_empty() || written - told >= WRITE_BATCH as u64)
                {
                    out.flush()?;
                    tell.written(written);
                    told = written;
                }
            }
            // Durability is the blob store's job (it syncs before it publishes a package);
            // a spool file is only ever a temp file.
            out.flush()?;
            if let Some(tell) = &on_written {
                tell.written(written);
            }
            Ok(hex::encode(hasher.finalize()))
        });
        Self { tx: Some(tx), task }
    }

    /// Queues a chunk; false when the writer has stopped (its error comes from `finish`).
    pub async fn push(&mut self, chunk: bytes::Bytes) -> bool {
        match &self.tx {
            Some(tx) => tx.send(chunk).await.is_ok(),
            None => false,
        }
    }

    /// Waits for every queued chunk to be written and returns the hex sha256 of everything
    /// written.
    pub async fn finish(mut self) -> std::io::Result<String> {
        self.tx.take();
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

/// `download_hosts`, when set, names every host archives may come from.
pub(super) fn allowed_host(up: &Upstream, url: &reqwest::Url) -> Result<(), UpstreamError> {
    let host = url.host_str().unwrap_or_default();
    if !up.config.download_hosts.is_empty() && !up.config.download_hosts.iter().any(|h| h == host) {
        return Err(UpstreamError::permanent(format!(
            "download host {host} is not in this upstream's download_hosts"
        )));
    }
    Ok(())
}

pub(super) async fn read_limited(
    res: reqwest::Response,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, UpstreamError> {
    let expected = res.content_length();
    if expected.is_some_and(|n| n > limit) {
        return Err(UpstreamError::permanent(format!(
            "{what}: response is larger than {limit} bytes"
        )));
    }
    let mut out = Vec::new();
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| from_reqwest(what, e))?;
        out.extend_from_slice(&chunk);
        if out.len() as u64 > limit {
            return Err(UpstreamError::permanent(format!(
                "{what}: response is larger than {limit} bytes"
            )));
        }
    }
    if let Some(n) = expected
        && n != out.len() as u64
    {
        return Err(UpstreamError::transient(format!(
            "{what}: body ended after {} of {n} bytes",
            out.len()
        )));
    }
    Ok(out)
}

pub use crate::hashes::shasum_for;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shasums_lines_are_found_by_exact_name() {
        let sums = "aaa  terraform-provider-x_1.0.0_linux_amd64.zip\nbbb  terraform-provider-x_1.0.0_linux_arm64.zip\nCCC *terraform-provider-x_1.0.0_darwin_arm64.zip\n";
        assert_eq!(
            shasum_for(sums, "terraform-provider-x_1.0.0_linux_arm64.zip").as_deref(),
            Some("bbb")
        );
        assert_eq!(
            shasum_for(sums, "terraform-provider-x_1.0.0_darwin_arm64.zip").as_deref(),
            Some("ccc")
        );
        assert_eq!(
            shasum_for(sums, "terraform-provider-x_1.0.0_linux.zip"),
            None
        );
        assert_eq!(shasum_for(sums, "amd64.zip"), None);
    }
}
