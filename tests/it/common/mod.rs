//! Shared test harness: starts the real server on port 0 with a temp SQLite file and either a
//! temp blob directory or a unique prefix in the SeaweedFS bucket that `scripts/test.sh` runs.
#![allow(dead_code)]

pub mod child;
pub mod connect_proxy;
pub mod fake_registry;
pub mod modules;
pub mod proxy;
pub mod slow_link;

use std::io::Write;
use std::path::{Path, PathBuf};

use tfmirror::catalog::{Expected, IngestOutcome};
use tfmirror::config::{Config, S3Config, Secret, StorageConfig, TlsConfig};
use tfmirror::domain::{PackageId, PackageSource, Platform, ProviderAddress, Version};
use tfmirror::startup::Application;
use tfmirror::state::AppState;

/// Runs `$body` with `$p` bound to the concrete pool behind a `tfmirror::db::Pool`, for
/// tests that read the database directly (the same SQL on both backends).
#[macro_export]
macro_rules! on_db {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            tfmirror::db::Pool::Sqlite($p) => $body,
            tfmirror::db::Pool::Postgres($p) => $body,
        }
    };
}

/// A loopback port nothing listens on right now (for child processes that need a fixed one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The PostgreSQL server `scripts/test.sh` started (`TFM_TEST_PG_SERVER`). Tests that need
/// PostgreSQL fail without it, never skip.
pub fn pg_server() -> String {
    std::env::var("TFM_TEST_PG_SERVER")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("TFM_TEST_PG_SERVER: the PostgreSQL server scripts/test.sh starts")
}

/// The PostgreSQL server when this is the suite's PostgreSQL pass
/// (`TFM_TEST_BACKEND=postgres`), or `None` for the SQLite pass.
pub fn postgres_server() -> Option<String> {
    (std::env::var("TFM_TEST_BACKEND").as_deref() == Ok("postgres")).then(pg_server)
}

/// A new, empty database on the test server; its URL.
pub fn new_pg_database() -> String {
    database_on(
        &pg_server(),
        &format!("t_{}", uuid::Uuid::new_v4().simple()),
    )
}

/// In the PostgreSQL pass, the database of a data directory: one per directory (so a
/// restart on the same directory finds the same database, as it finds the same SQLite
/// file), created on first use.
pub fn database_url_for(data_dir: &Path) -> Option<String> {
    let server = postgres_server()?;
    let name = format!(
        "t_{}",
        &sha256_hex(data_dir.as_os_str().as_encoded_bytes())[..24]
    );
    Some(database_on(&server, &name))
}

/// `SERVER/NAME`, created unless it exists.
fn database_on(server: &str, name: &str) -> String {
    use sqlx::migrate::MigrateDatabase;
    let url = format!("{}/{name}", server.trim_end_matches('/'));
    let create = url.clone();
    // Called from sync code inside the tests' runtime: its own thread and runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            if !sqlx::Postgres::database_exists(&create).await.unwrap() {
                // Two tests on one directory may race; the loser finds it made.
                if let Err(e) = sqlx::Postgres::create_database(&create).await {
                    assert!(
                        sqlx::Postgres::database_exists(&create).await.unwrap(),
                        "creating {create}: {e}"
                    );
                }
            }
        })
    })
    .join()
    .unwrap();
    url
}

/// Points `config` at this pass's database for its data directory (PostgreSQL pass only).
pub fn use_test_database(config: &mut Config) {
    if config.database.url.is_empty()
        && config.database.path.is_none()
        && let Some(url) = database_url_for(&config.data_dir)
    {
        config.database.url = Secret::new(url);
    }
}

/// Opens the database a test server with data directory `data_dir` uses.
pub async fn open_test_db(data_dir: &Path) -> tfmirror::db::Pool {
    match database_url_for(data_dir) {
        Some(url) => tfmirror::db::connect_postgres(&url, &Default::default())
            .await
            .unwrap(),
        None => tfmirror::db::connect(&data_dir.join("tfmirror.db"), &Default::default())
            .await
            .unwrap(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Local,
    S3,
}

/// The S3 endpoint the test script started; tests fail loudly without it.
pub fn s3_endpoint() -> String {
    std::env::var("TFM_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:18333".into())
}

pub fn s3_config(config: &mut Config) {
    config.storage = StorageConfig::S3(S3Config {
        bucket: std::env::var("TFM_TEST_S3_BUCKET").unwrap_or_else(|_| "providers".into()),
        endpoint: Some(s3_endpoint()),
        path_style: true,
        region: "us-east-1".into(),
        access_key_id: Some("testaccesskey".into()),
        secret_access_key: Secret::new("testsecretkey123"),
        prefix: format!("test-{}", uuid::Uuid::new_v4()),
        multipart_part_mib: 5,
        ..Default::default()
    });
}

pub fn test_config(dir: &Path, store: Store) -> Config {
    let mut config = Config {
        data_dir: dir.to_owned(),
        ..Default::default()
    };
    config.server.listen = "127.0.0.1:0".into();
    config.server.workers = 2;
    config.server.shutdown_grace_seconds = 1;
    if store == Store::S3 {
        s3_config(&mut config);
    }
    config
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    /// The one-time link `serve` prints while no admin exists.
    pub setup_link: Option<String>,
}

impl TestApp {
    pub async fn spawn(store: Store) -> Self {
        Self::spawn_with(store, |_| {}).await
    }

    pub async fn spawn_with(store: Store, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path(), store);
        tweak(&mut config);
        Self::spawn_config(config, dir).await
    }

    pub async fn spawn_config(mut config: Config, dir: tempfile::TempDir) -> Self {
        use_test_database(&mut config);
        let tls = config.server.tls.clone();
        let app = Application::build(config).await.expect("server starts");
        let port = app.port();
        let state = app.state().clone();
        let setup_link = app.setup_link();
        tokio::spawn(app.run_until_stopped());
        let mut client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        let scheme = if let Some(TlsConfig { cert_file, .. }) = &tls {
            let ca = cert_file.with_file_name("ca.pem");
            let pem = std::fs::read(ca).unwrap();
            client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
            "https"
        } else {
            "http"
        };
        let host = if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        Self {
            base: format!("{scheme}://{host}:{port}"),
            client: client.build().unwrap(),
            state,
            dir,
            setup_link,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Creates an account directly in the database (as `tfmirror create-admin` does).
    pub async fn create_user(&self, name: &str, password: &str, role: tfmirror::domain::Role) {
        let hash = tfmirror::auth::password::hash(password.into())
            .await
            .unwrap();
        tfmirror::db::users::create_user(&self.state.db, name, &hash, role, 0)
            .await
            .unwrap()
            .expect("a new user name");
    }

    /// `POST /api/v1/auth/login`.
    pub async fn login(&self, name: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "username": name, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/v1/packages` as `token`: `zip` as `example/thing` `version` for
    /// `linux_amd64`.
    pub async fn upload_package(
        &self,
        token: &str,
        zip: Vec<u8>,
        version: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(self.url("/api/v1/packages"))
            .bearer_auth(token)
            .multipart(package_form(zip, version))
            .send()
            .await
    }

    /// A new admin's session token.
    pub async fn admin_token(&self) -> String {
        let password = "an admin password 123";
        self.create_user("root", password, tfmirror::domain::Role::Admin)
            .await;
        let res = self.login("root", password).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Stores `zip` as a package through the same path the CLI importer uses.
    pub async fn add(
        &self,
        address: &str,
        version: &str,
        platform: &str,
        zip: &[u8],
    ) -> IngestOutcome {
        let id = package_id(address, version, platform);
        let path = self
            .dir
            .path()
            .join(format!("upload-{}.zip", uuid::Uuid::new_v4()));
        std::fs::write(&path, zip).unwrap();
        let outcome = self
            .state
            .catalog
            .ingest_file(
                &id,
                &path,
                &Expected::default(),
                PackageSource::Upload,
                None,
            )
            .await
            .unwrap();
        std::fs::remove_file(path).unwrap();
        outcome
    }
}

pub fn package_id(address: &str, version: &str, platform: &str) -> PackageId {
    PackageId {
        address: ProviderAddress::parse(address).unwrap(),
        version: Version::parse(version).unwrap(),
        platform: Platform::parse(platform).unwrap(),
    }
}

/// A small provider-like zip; `seed` makes distinct contents.
pub fn provider_zip(seed: &str) -> Vec<u8> {
    make_zip(&[
        (
            &format!("terraform-provider-{seed}"),
            format!("binary for {seed}").as_bytes(),
        ),
        ("LICENSE", b"MPL-2.0"),
    ])
}

pub fn make_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A zip of `n` bytes of incompressible data, stored (not deflated), for large-object paths.
pub fn big_zip(n: usize) -> Vec<u8> {
    let mut data = vec![0u8; n];
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(n > u32::MAX as usize);
    w.start_file("terraform-provider-big", opts).unwrap();
    w.write_all(&data).unwrap();
    w.finish().unwrap().into_inner()
}

/// Independent hash computations, so tests do not check the code against itself.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn h1_reference(zip_bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut lines = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        lines.push((
            f.name().to_owned(),
            format!("{:x}", sha2::Sha256::digest(&data)),
        ));
    }
    lines.sort();
    let summary: String = lines
        .iter()
        .map(|(name, hex)| format!("{hex}  {name}\n"))
        .collect();
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(summary.as_bytes()))
    )
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Points the `registry.terraform.io` upstream at `url` (a fake registry), with `tweak`
/// applied to the block.
pub fn set_upstream(
    config: &mut Config,
    url: &str,
    tweak: impl FnOnce(&mut tfmirror::config::UpstreamConfig),
) {
    let mut upstream = tfmirror::config::UpstreamConfig {
        url: Some(url.to_owned()),
        ..Default::default()
    };
    tweak(&mut upstream);
    config
        .upstream
        .insert("registry.terraform.io".into(), upstream);
}

/// The multipart body of `POST /api/v1/packages` for `example/thing` `version` on
/// `linux_amd64`.
pub fn package_form(zip: Vec<u8>, version: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("namespace", "example")
        .text("type", "thing")
        .text("version", version.to_owned())
        .text("platform", "linux_amd64")
        .part(
            "file",
            reqwest::multipart::Part::bytes(zip).file_name("thing.zip"),
        )
}

/// Validates, plans and enqueues a definitions file (as `tfmirror load` does); the job's id.
pub async fn load_definitions(app: &TestApp, text: &str) -> i64 {
    let defs = tfmirror::jobs::validate(text, &app.state.registry).expect("valid definitions");
    let plan = tfmirror::jobs::plan(&app.state.registry, &defs)
        .await
        .expect("plan");
    tfmirror::jobs::enqueue(&app.state.db, text, "test", &plan)
        .await
        .unwrap()
}

/// Waits (at most 60 s) until a job has no pending or running item; its summary and items.
pub async fn wait_for_job(
    app: &TestApp,
    job: i64,
) -> (
    tfmirror::db::jobs::JobSummary,
    Vec<tfmirror::db::jobs::ItemRow>,
) {
    let pool = &app.state.db;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let s = tfmirror::db::jobs::job_summary(pool, job)
            .await
            .unwrap()
            .unwrap();
        if s.is_finished() {
            return (s, tfmirror::db::jobs::job_items(pool, job).await.unwrap());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {job} did not finish: {s:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
