//! An in-process fake upstream registry that speaks the real Provider Registry Protocol
//! (`providers.v1`): service discovery, version lists, download info with absolute URLs, and the
//! archive, `SHA256SUMS` and detached `SHA256SUMS.sig` files. Packages are built and signed at
//! test time with a fresh ECDSA P-256 key (HashiCorp uses RSA 4096, but RSA key generation is
//! too slow for every test). Faults can be injected per request kind to exercise the mirror's
//! retries, timeouts and verification.
//!
//! Everything lives in memory; the server runs on the test's tokio runtime on `127.0.0.1:0` and
//! stops when the `FakeRegistry` is dropped.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::StreamExt;
use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The request kinds of the protocol, to aim faults at and count hits of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `GET /.well-known/terraform.json`
    Discovery,
    /// `GET /v1/providers/{namespace}/{ptype}/versions`
    Versions { namespace: String, ptype: String },
    /// `GET /v1/providers/{namespace}/{ptype}/{version}/download/{os}/{arch}`;
    /// `platform` is `os_arch`.
    DownloadInfo {
        namespace: String,
        ptype: String,
        version: String,
        platform: String,
    },
    /// The zip named in the download info.
    Archive {
        namespace: String,
        ptype: String,
        version: String,
        platform: String,
    },
    /// `terraform-provider-TYPE_VERSION_SHA256SUMS`
    Shasums {
        namespace: String,
        ptype: String,
        version: String,
    },
    /// `terraform-provider-TYPE_VERSION_SHA256SUMS.sig`
    Signature {
        namespace: String,
        ptype: String,
        version: String,
    },
    /// `GET /v1/modules/{ns}/{name}/{system}/{version}/download`; `module` is `ns/name/system`.
    ModuleDownload { module: String, version: String },
    /// `GET /module-files/{file}`: a module archive the registry serves itself.
    ModuleFile { file: String },
    /// Any request to the git server under `/git/`.
    Git,
    /// Every request, including ones for paths the registry does not know.
    Any,
}

impl Target {
    pub fn versions(namespace: &str, ptype: &str) -> Self {
        Target::Versions {
            namespace: namespace.into(),
            ptype: ptype.into(),
        }
    }

    pub fn download_info(namespace: &str, ptype: &str, version: &str, platform: &str) -> Self {
        Target::DownloadInfo {
            namespace: namespace.into(),
            ptype: ptype.into(),
            version: version.into(),
            platform: platform.into(),
        }
    }

    pub fn archive(namespace: &str, ptype: &str, version: &str, platform: &str) -> Self {
        Target::Archive {
            namespace: namespace.into(),
            ptype: ptype.into(),
            version: version.into(),
            platform: platform.into(),
        }
    }

    pub fn shasums(namespace: &str, ptype: &str, version: &str) -> Self {
        Target::Shasums {
            namespace: namespace.into(),
            ptype: ptype.into(),
            version: version.into(),
        }
    }

    pub fn signature(namespace: &str, ptype: &str, version: &str) -> Self {
        Target::Signature {
            namespace: namespace.into(),
            ptype: ptype.into(),
            version: version.into(),
        }
    }

    /// Whether a request of kind `request` (never `Any`) is aimed at by `self`.
    fn matches(&self, request: &Target) -> bool {
        *self == Target::Any || self == request
    }
}

/// A misbehaviour of the upstream. Faults that only make sense for one kind of request (noted
/// on each) are only consumed by requests of that kind, so `inject(Target::Any, Fault::Truncate, 1)`
/// truncates the next archive download whatever comes before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (e.g. 500, 404, 503) and a registry-style error body.
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// Sleep this long, then answer normally (to trigger client timeouts).
    Delay(Duration),
    /// Archive only: declare the full `Content-Length`, send half the bytes, drop the connection.
    Truncate,
    /// Archive only: declare the full `Content-Length`, send half the bytes, then send nothing
    /// more for this long while keeping the connection open (an origin stalling mid-body).
    Stall(Duration),
    /// Download info only: report a `shasum` that is not the archive's.
    WrongShasum,
    /// Archive only: serve different bytes of the same length than `SHA256SUMS` lists.
    TamperedArchive,
    /// Signature only: serve a signature by the registry's key over different bytes.
    BadSignature,
    /// Signature only: serve a signature made by a different, freshly generated key.
    ForeignKeySignature,
    /// Download info only: offer no signing keys (`gpg_public_keys: []`).
    Unsigned,
}

impl Fault {
    fn applies_to(&self, request: &Target) -> bool {
        match self {
            Fault::Status(_) | Fault::TooManyRequests { .. } | Fault::Delay(_) => true,
            Fault::Truncate | Fault::Stall(_) | Fault::TamperedArchive => {
                matches!(request, Target::Archive { .. })
            }
            Fault::WrongShasum | Fault::Unsigned => matches!(request, Target::DownloadInfo { .. }),
            Fault::BadSignature | Fault::ForeignKeySignature => {
                matches!(request, Target::Signature { .. })
            }
        }
    }
}

/// A running fake registry. Dropping it stops the server.
pub struct FakeRegistry {
    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`, without a trailing slash.
    pub base_url: String,
    shared: Arc<Shared>,
    server: ServerHandle,
}

/// What the request handlers see.
struct Shared {
    base_url: String,
    key: SignedSecretKey,
    key_id: String,
    armored_public_key: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `(namespace, type)` -> version -> release.
    providers: BTreeMap<(String, String), BTreeMap<String, Release>>,
    faults: Vec<Injected>,
    /// Requests per kind (never `Any`); counted, not listed, so benchmarks stay small.
    hits: HashMap<Target, usize>,
    /// All requests, including those for paths that are not part of the protocol.
    total_hits: usize,
    /// Every request's path and `Authorization` header, in arrival order.
    authorizations: Vec<(String, Option<String>)>,
    /// `ns/name/system` -> version -> the `X-Terraform-Get` its download answers.
    modules: BTreeMap<String, BTreeMap<String, String>>,
    /// `/module-files/{file}` -> archive bytes.
    module_files: HashMap<String, Bytes>,
    /// Bare repositories served over git's smart HTTP protocol under `/git/`.
    git_root: Option<std::path::PathBuf>,
}

#[derive(Default)]
struct Release {
    /// platform (`os_arch`) -> archive; sorted, so `SHA256SUMS` comes out sorted by filename.
    archives: BTreeMap<String, Archive>,
    shasums: Bytes,
    signature: Bytes,
}

struct Archive {
    bytes: Bytes,
    sha256: String,
}

struct Injected {
    target: Target,
    fault: Fault,
    remaining: usize,
}

impl FakeRegistry {
    /// Starts a plain-HTTP registry.
    pub async fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts an HTTPS registry with the project's self-signed certificate machinery; the CA is
    /// at `dir/tls/ca.pem`.
    pub async fn start_tls(dir: &Path) -> Self {
        Self::start_tls_for(dir, &[]).await
    }

    /// An HTTPS registry whose certificate also names `hostnames` (reached through a proxy
    /// that tunnels those names here).
    pub async fn start_tls_for(dir: &Path, hostnames: &[&str]) -> Self {
        let names: Vec<String> = hostnames.iter().map(|h| (*h).to_owned()).collect();
        let paths =
            tfmirror::tls::ensure_self_signed(dir, &names).expect("self-signed certificate");
        let config =
            tfmirror::tls::server_config(&paths.cert, &paths.key).expect("rustls server config");
        Self::start_with(Some(config))
    }

    fn start_with(tls: Option<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let base_url = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };

        let key = generate_key("Fake Registry <fake-registry@example.com>");
        let shared = Arc::new(Shared {
            base_url: base_url.clone(),
            key_id: hex::encode_upper(key.primary_key.legacy_key_id()),
            armored_public_key: key
                .to_public_key()
                .to_armored_string(ArmorOptions::default())
                .expect("armor public key"),
            key,
            state: Mutex::new(State::default()),
        });

        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            let seen = data.clone();
            App::new()
                .app_data(data.clone())
                // Remember which credentials each request carried.
                .wrap_fn(move |req, srv| {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    seen.lock()
                        .authorizations
                        .push((req.path().to_owned(), auth));
                    actix_web::dev::Service::call(srv, req)
                })
                .route("/.well-known/terraform.json", web::get().to(discovery))
                .route(
                    "/v1/providers/{ns}/{ptype}/versions",
                    web::get().to(versions),
                )
                .route(
                    "/v1/providers/{ns}/{ptype}/{version}/download/{os}/{arch}",
                    web::get().to(download_info),
                )
                .route("/files/{ns}/{ptype}/{version}/{file}", web::get().to(file))
                .route(
                    "/v1/modules/{ns}/{name}/{system}/versions",
                    web::get().to(module_versions),
                )
                .route(
                    "/v1/modules/{ns}/{name}/{system}/{version}/download",
                    web::get().to(module_download),
                )
                .route("/module-files/{file}", web::get().to(module_file))
                .route("/module-files/{file}", web::head().to(module_file))
                .route("/git/{tail:.*}", web::route().to(git_backend))
                .default_service(web::to(unknown_path))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1);
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config),
            None => server.listen(listener),
        }
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);

        FakeRegistry {
            base_url,
            shared,
            server: handle,
        }
    }

    /// The signing key's id, 16 upper-case hex digits, as listed in `key_id`.
    pub fn key_id(&self) -> String {
        self.shared.key_id.clone()
    }

    pub fn armored_public_key(&self) -> String {
        self.shared.armored_public_key.clone()
    }

    /// Publishes `namespace/ptype/version` for `platforms` (`"linux_amd64"`), each with a small
    /// deterministic zip naming the package, and re-signs the version's `SHA256SUMS`.
    pub fn publish(&self, namespace: &str, ptype: &str, version: &str, platforms: &[&str]) {
        let archives = platforms
            .iter()
            .map(|p| (*p, small_zip(namespace, ptype, version, p)))
            .collect();
        self.publish_archives(namespace, ptype, version, archives);
    }

    /// Like `publish`, with one incompressible, stored (not deflated) archive of `size` bytes of
    /// payload per platform, distinct per platform, for big-download tests and benchmarks.
    pub fn publish_sized(
        &self,
        namespace: &str,
        ptype: &str,
        version: &str,
        platforms: &[&str],
        size: usize,
    ) {
        let archives = platforms
            .iter()
            .map(|p| (*p, sized_zip(namespace, ptype, version, p, size)))
            .collect();
        self.publish_archives(namespace, ptype, version, archives);
    }

    /// Publishes existing zip bytes (e.g. a real provider) for one platform.
    pub fn publish_zip(
        &self,
        namespace: &str,
        ptype: &str,
        version: &str,
        platform: &str,
        zip: Vec<u8>,
    ) {
        self.publish_archives(namespace, ptype, version, vec![(platform, zip)]);
    }

    fn publish_archives(
        &self,
        namespace: &str,
        ptype: &str,
        version: &str,
        archives: Vec<(&str, Vec<u8>)>,
    ) {
        let mut state = self.shared.lock();
        let release = state
            .providers
            .entry((namespace.to_owned(), ptype.to_owned()))
            .or_default()
            .entry(version.to_owned())
            .or_default();
        for (platform, zip) in archives {
            assert!(
                split_platform(platform).is_some(),
                "platform {platform:?} is not os_arch"
            );
            let sha256 = hex::encode(Sha256::digest(&zip));
            release.archives.insert(
                platform.to_owned(),
                Archive {
                    bytes: Bytes::from(zip),
                    sha256,
                },
            );
        }
        let sums: String = release
            .archives
            .iter()
            .map(|(platform, archive)| {
                format!(
                    "{}  {}\n",
                    archive.sha256,
                    archive_filename(ptype, version, platform)
                )
            })
            .collect();
        release.signature = sign(&self.shared.key, sums.as_bytes()).into();
        release.shasums = sums.into();
    }

    /// The archive bytes as published. Panics when not published.
    pub fn zip_bytes(
        &self,
        namespace: &str,
        ptype: &str,
        version: &str,
        platform: &str,
    ) -> Vec<u8> {
        let state = self.shared.lock();
        state
            .release(namespace, ptype, version)
            .and_then(|r| r.archives.get(platform))
            .unwrap_or_else(|| panic!("{namespace}/{ptype} {version} {platform} is not published"))
            .bytes
            .to_vec()
    }

    /// Makes the next `times` requests matching `target` (and of a kind `fault` applies to)
    /// misbehave. Faults are used in the order they were injected, one per request.
    pub fn inject(&self, target: Target, fault: Fault, times: usize) {
        if times > 0 {
            self.shared.lock().faults.push(Injected {
                target,
                fault,
                remaining: times,
            });
        }
    }

    /// How many requests matched `target` so far (`Target::Any`: all requests).
    /// The `Authorization` header of every request so far, with its path.
    pub fn authorizations(&self) -> Vec<(String, Option<String>)> {
        self.shared.lock().authorizations.clone()
    }

    /// Publishes a module version whose download answers `location` as its `X-Terraform-Get`
    /// (`module` is `ns/name/system`).
    pub fn publish_module(&self, module: &str, version: &str, location: &str) {
        self.shared
            .lock()
            .modules
            .entry(module.to_owned())
            .or_default()
            .insert(version.to_owned(), location.to_owned());
    }

    /// Serves `bytes` at `/module-files/{file}`; returns that path.
    pub fn serve_module_file(&self, file: &str, bytes: Vec<u8>) -> String {
        self.shared
            .lock()
            .module_files
            .insert(file.to_owned(), Bytes::from(bytes));
        format!("/module-files/{file}")
    }

    /// Serves the bare repositories under `root` at `BASE/git/NAME.git` (git's smart HTTP,
    /// through `git http-backend`).
    pub fn serve_git(&self, root: &Path) {
        self.shared.lock().git_root = Some(root.to_owned());
    }

    pub fn hits(&self, target: Target) -> usize {
        let state = self.shared.lock();
        match target {
            Target::Any => state.total_hits,
            target => state.hits.get(&target).copied().unwrap_or(0),
        }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        // `stop` sends the command right away; the returned future only waits for completion.
        drop(self.server.stop(false));
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take the other tests' registry down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the request and takes the fault it should suffer, if any.
    fn arrive(&self, request: Target) -> Option<Fault> {
        let mut state = self.lock();
        let position = state.faults.iter().position(|injected| {
            injected.target.matches(&request) && injected.fault.applies_to(&request)
        });
        state.total_hits += 1;
        *state.hits.entry(request).or_default() += 1;
        let position = position?;
        let injected = &mut state.faults[position];
        let fault = injected.fault.clone();
        injected.remaining -= 1;
        if injected.remaining == 0 {
            state.faults.remove(position);
        }
        Some(fault)
    }

    fn files_url(&self, namespace: &str, ptype: &str, version: &str, file: &str) -> String {
        format!(
            "{}/files/{namespace}/{ptype}/{version}/{file}",
            self.base_url
        )
    }
}

impl State {
    fn release(&self, namespace: &str, ptype: &str, version: &str) -> Option<&Release> {
        self.providers
            .get(&(namespace.to_owned(), ptype.to_owned()))?
            .get(version)
    }
}

fn archive_filename(ptype: &str, version: &str, platform: &str) -> String {
    format!("terraform-provider-{ptype}_{version}_{platform}.zip")
}

fn shasums_filename(ptype: &str, version: &str) -> String {
    format!("terraform-provider-{ptype}_{version}_SHA256SUMS")
}

fn split_platform(platform: &str) -> Option<(&str, &str)> {
    platform
        .split_once('_')
        .filter(|(os, arch)| !os.is_empty() && !arch.is_empty())
}

/// An Ed25519 (legacy EdDSA, as GnuPG makes) key whose primary key signs.
fn generate_key(user_id: &str) -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        // ECDSA P-256: quick to generate, and verifiable by Terraform 1.0's
        // golang.org/x/crypto/openpgp, which knows no EdDSA.
        .key_type(KeyType::ECDSA(pgp::crypto::ecc_curve::ECCCurve::P256))
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(user_id.into());
    params
        .build()
        .expect("key parameters")
        .generate(rand::thread_rng())
        .expect("generate key")
}

/// A binary detached signature, as HashiCorp serves.
fn sign(key: &SignedSecretKey, data: &[u8]) -> Vec<u8> {
    DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        &key.primary_key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        data,
    )
    .and_then(|sig| sig.to_bytes())
    .expect("sign")
}

fn zip_options(method: zip::CompressionMethod) -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default())
}

fn small_zip(namespace: &str, ptype: &str, version: &str, platform: &str) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        format!("terraform-provider-{ptype}_v{version}"),
        zip_options(zip::CompressionMethod::Deflated),
    )
    .unwrap();
    writeln!(
        w,
        "fake provider {namespace}/{ptype} {version} for {platform}"
    )
    .unwrap();
    w.finish().unwrap().into_inner()
}

fn sized_zip(namespace: &str, ptype: &str, version: &str, platform: &str, size: usize) -> Vec<u8> {
    // xorshift64, seeded by the package so platforms differ; 8 bytes per step for speed.
    let seed = Sha256::digest(format!("{namespace}/{ptype}/{version}/{platform}"));
    let mut x = u64::from_le_bytes(seed[..8].try_into().unwrap()) | 1;
    let mut data = vec![0u8; size];
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(size + 1024)));
    let opts = zip_options(zip::CompressionMethod::Stored).large_file(size > u32::MAX as usize);
    w.start_file(format!("terraform-provider-{ptype}_v{version}"), opts)
        .unwrap();
    w.write_all(&data).unwrap();
    w.finish().unwrap().into_inner()
}

// ---- handlers ----

fn json_response(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn not_found() -> HttpResponse {
    json_response(StatusCode::NOT_FOUND, json!({"errors": ["Not Found"]}))
}

/// Applies the faults every kind of request can suffer. `Some` is the whole answer; `None`
/// means carry on (after a `Delay`, or for a fault the handler applies itself).
async fn generic_fault(fault: &Option<Fault>) -> Option<HttpResponse> {
    match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(*code).expect("valid injected status");
            Some(json_response(
                status,
                json!({"errors": [format!("injected fault: status {code}")]}),
            ))
        }
        Some(Fault::TooManyRequests { retry_after_secs }) => Some(
            HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after_secs.to_string()))
                .content_type("application/json")
                .body(json!({"errors": ["Too Many Requests"]}).to_string()),
        ),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(*delay).await;
            None
        }
        _ => None,
    }
}

async fn discovery(shared: web::Data<Shared>) -> HttpResponse {
    let fault = shared.arrive(Target::Discovery);
    if let Some(response) = generic_fault(&fault).await {
        return response;
    }
    json_response(
        StatusCode::OK,
        json!({"providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/"}),
    )
}

async fn versions(shared: web::Data<Shared>, path: web::Path<(String, String)>) -> HttpResponse {
    let (namespace, ptype) = path.into_inner();
    let fault = shared.arrive(Target::versions(&namespace, &ptype));
    if let Some(response) = generic_fault(&fault).await {
        return response;
    }
    let state = shared.lock();
    let Some(releases) = state.providers.get(&(namespace, ptype)) else {
        return not_found();
    };
    let versions: Vec<_> = releases
        .iter()
        .map(|(version, release)| {
            let platforms: Vec<_> = release
                .archives
                .keys()
                .filter_map(|p| split_platform(p))
                .map(|(os, arch)| json!({"os": os, "arch": arch}))
                .collect();
            json!({"version": version, "protocols": ["5.0"], "platforms": platforms})
        })
        .collect();
    json_response(StatusCode::OK, json!({ "versions": versions }))
}

async fn download_info(
    shared: web::Data<Shared>,
    path: web::Path<(String, String, String, String, String)>,
) -> HttpResponse {
    let (namespace, ptype, version, os, arch) = path.into_inner();
    let platform = format!("{os}_{arch}");
    let fault = shared.arrive(Target::download_info(
        &namespace, &ptype, &version, &platform,
    ));
    if let Some(response) = generic_fault(&fault).await {
        return response;
    }
    let state = shared.lock();
    let Some(archive) = state
        .release(&namespace, &ptype, &version)
        .and_then(|r| r.archives.get(&platform))
    else {
        return not_found();
    };
    let shasum = if fault == Some(Fault::WrongShasum) {
        hex::encode(Sha256::digest([&archive.bytes[..], b"wrong"].concat()))
    } else {
        archive.sha256.clone()
    };
    let keys = if fault == Some(Fault::Unsigned) {
        vec![]
    } else {
        vec![json!({
            "key_id": shared.key_id,
            "ascii_armor": shared.armored_public_key,
            "trust_signature": "",
            "source": "Fake",
            "source_url": null,
        })]
    };
    let filename = archive_filename(&ptype, &version, &platform);
    let sums = shasums_filename(&ptype, &version);
    json_response(
        StatusCode::OK,
        json!({
            "protocols": ["5.0"],
            "os": os,
            "arch": arch,
            "filename": filename,
            "download_url": shared.files_url(&namespace, &ptype, &version, &filename),
            "shasums_url": shared.files_url(&namespace, &ptype, &version, &sums),
            "shasums_signature_url":
                shared.files_url(&namespace, &ptype, &version, &format!("{sums}.sig")),
            "shasum": shasum,
            "signing_keys": {"gpg_public_keys": keys},
        }),
    )
}

/// Serves the archive, `SHA256SUMS` and `SHA256SUMS.sig` of a release.
async fn file(
    shared: web::Data<Shared>,
    path: web::Path<(String, String, String, String)>,
) -> HttpResponse {
    let (namespace, ptype, version, file) = path.into_inner();
    let rest = file.strip_prefix(&format!("terraform-provider-{ptype}_{version}_"));
    let request = match rest {
        Some("SHA256SUMS") => Target::shasums(&namespace, &ptype, &version),
        Some("SHA256SUMS.sig") => Target::signature(&namespace, &ptype, &version),
        Some(name) if name.ends_with(".zip") => {
            Target::archive(&namespace, &ptype, &version, &name[..name.len() - 4])
        }
        _ => {
            shared.lock().total_hits += 1;
            return not_found();
        }
    };
    let fault = shared.arrive(request.clone());
    if let Some(response) = generic_fault(&fault).await {
        return response;
    }

    let state = shared.lock();
    let Some(release) = state.release(&namespace, &ptype, &version) else {
        return not_found();
    };
    match request {
        Target::Shasums { .. } => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(release.shasums.clone()),
        Target::Signature { .. } => {
            let signature = match fault {
                Some(Fault::BadSignature) => {
                    let other = [&release.shasums[..], b"# tampered\n"].concat();
                    Bytes::from(sign(&shared.key, &other))
                }
                Some(Fault::ForeignKeySignature) => {
                    let foreign = generate_key("Someone Else <someone-else@example.com>");
                    Bytes::from(sign(&foreign, &release.shasums))
                }
                _ => release.signature.clone(),
            };
            HttpResponse::Ok()
                .content_type("application/pgp-signature")
                .body(signature)
        }
        Target::Archive { platform, .. } => {
            let Some(archive) = release.archives.get(&platform) else {
                return not_found();
            };
            let bytes = archive.bytes.clone();
            drop(state);
            serve_archive(bytes, fault)
        }
        _ => unreachable!("file requests are shasums, signatures or archives"),
    }
}

fn serve_archive(bytes: Bytes, fault: Option<Fault>) -> HttpResponse {
    match fault {
        Some(Fault::TamperedArchive) => {
            let mut tampered = bytes.to_vec();
            let middle = tampered.len() / 2;
            tampered[middle] ^= 0xFF;
            HttpResponse::Ok()
                .content_type("application/zip")
                .body(tampered)
        }
        Some(Fault::Truncate) => {
            let full = bytes.len() as u64;
            let half = bytes.slice(..bytes.len() / 2);
            // Let the half be flushed before failing the body, which makes actix drop the
            // connection instead of completing the response.
            let body = futures_util::stream::iter([Ok::<_, std::io::Error>(half)]).chain(
                futures_util::stream::once(async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err(std::io::Error::other("injected fault: truncated archive"))
                }),
            );
            HttpResponse::Ok()
                .content_type("application/zip")
                .no_chunking(full)
                .streaming(body)
        }
        Some(Fault::Stall(pause)) => {
            let full = bytes.len() as u64;
            let half = bytes.slice(..bytes.len() / 2);
            let rest = bytes.slice(bytes.len() / 2..);
            let body = futures_util::stream::iter([Ok::<_, std::io::Error>(half)]).chain(
                futures_util::stream::once(async move {
                    tokio::time::sleep(pause).await;
                    Ok(rest)
                }),
            );
            HttpResponse::Ok()
                .content_type("application/zip")
                .no_chunking(full)
                .streaming(body)
        }
        _ => HttpResponse::Ok()
            .content_type("application/zip")
            .body(bytes),
    }
}

async fn unknown_path(shared: web::Data<Shared>) -> HttpResponse {
    shared.lock().total_hits += 1;
    not_found()
}

async fn module_versions(
    shared: web::Data<Shared>,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    let (ns, name, system) = path.into_inner();
    let state = shared.lock();
    let Some(versions) = state.modules.get(&format!("{ns}/{name}/{system}")) else {
        return not_found();
    };
    let versions: Vec<_> = versions.keys().map(|v| json!({"version": v})).collect();
    json_response(
        StatusCode::OK,
        json!({"modules": [{"source": format!("{ns}/{name}/{system}"), "versions": versions}]}),
    )
}

async fn module_download(
    shared: web::Data<Shared>,
    path: web::Path<(String, String, String, String)>,
) -> HttpResponse {
    let (ns, name, system, version) = path.into_inner();
    let module = format!("{ns}/{name}/{system}");
    let fault = shared.arrive(Target::ModuleDownload {
        module: module.clone(),
        version: version.clone(),
    });
    if let Some(response) = generic_fault(&fault).await {
        return response;
    }
    let state = shared.lock();
    match state.modules.get(&module).and_then(|v| v.get(&version)) {
        Some(location) => HttpResponse::NoContent()
            .insert_header(("X-Terraform-Get", location.clone()))
            .finish(),
        None => not_found(),
    }
}

async fn module_file(shared: web::Data<Shared>, path: web::Path<String>) -> HttpResponse {
    let file = path.into_inner();
    let fault = shared.arrive(Target::ModuleFile { file: file.clone() });
    if let Some(response) = generic_fault(&fault).await {
        return response;
    }
    match shared.lock().module_files.get(&file) {
        Some(bytes) => HttpResponse::Ok()
            .content_type("application/gzip")
            .body(bytes.clone()),
        None => not_found(),
    }
}

/// Relays a request to `git http-backend` (a CGI program) and its answer back.
async fn git_backend(
    shared: web::Data<Shared>,
    req: actix_web::HttpRequest,
    body: Bytes,
) -> HttpResponse {
    shared.arrive(Target::Git);
    let Some(root) = shared.lock().git_root.clone() else {
        return not_found();
    };
    let path_info = req.path().trim_start_matches("/git").to_owned();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", &path_info)
        .env("REQUEST_METHOD", req.method().as_str())
        .env("QUERY_STRING", req.query_string())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("git http-backend");
    let mut stdin = child.stdin.take().unwrap();
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stdin.write_all(&body).await;
    });
    let out = child
        .wait_with_output()
        .await
        .expect("git http-backend output");
    let _ = writer.await;
    // CGI output: headers, a blank line, the body.
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, 2))
        });
    let Some((at, sep)) = split else {
        return HttpResponse::InternalServerError()
            .body(String::from_utf8_lossy(&out.stderr).into_owned());
    };
    let head = String::from_utf8_lossy(&out.stdout[..at]).into_owned();
    let mut res = HttpResponse::Ok();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
            res.status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        } else {
            res.insert_header((name.to_owned(), value.to_owned()));
        }
    }
    res.body(out.stdout[at + sep..].to_vec())
}
