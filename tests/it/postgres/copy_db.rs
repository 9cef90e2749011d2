//! `tfmirror copy-db`: a SQLite node's whole state into an empty PostgreSQL database; the
//! mirror then serves the same documents, and sessions, tokens and passwords keep working.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp, new_pg_database, provider_zip};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tfmirror::config::{Secret, UpstreamConfig};

/// The documents a client reads, each as raw bytes.
const DOCUMENTS: &[&str] = &[
    "/registry.terraform.io/hashicorp/null/index.json",
    "/registry.terraform.io/hashicorp/null/3.2.1.json",
    "/registry.terraform.io/example/thing/index.json",
    "/registry.terraform.io/example/thing/1.0.0.json",
    "/v1/providers/hashicorp/null/versions",
    "/v1/providers/hashicorp/null/3.2.1/download/linux/amd64",
    "/v1/providers/example/thing/1.0.0/download/linux/amd64",
];

async fn documents(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for path in DOCUMENTS {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        out.push(((*path).to_owned(), res.bytes().await.unwrap().to_vec()));
    }
    out
}

fn copy_db(data_dir: &Path, to: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfmirror"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["copy-db", "--to", to])
        .env_remove("TFM_CONFIG")
        .env_remove("TFM_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn upstream(fake: &FakeRegistry) -> UpstreamConfig {
    UpstreamConfig {
        url: Some(fake.base_url.clone()),
        timeout_seconds: 5,
        pull_through: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_node_moves_to_postgres_with_everything_it_had() {
    let fake = FakeRegistry::start().await;
    fake.publish(
        "hashicorp",
        "null",
        "3.2.1",
        &["linux_amd64", "darwin_arm64"],
    );
    let data = tempfile::tempdir().unwrap();
    let db_file = data.path().join("tfmirror.db");
    let up = upstream(&fake);
    let data_dir = data.path().to_owned();
    let sqlite = TestApp::spawn_with(Store::Local, |c| {
        c.data_dir = data_dir.clone();
        c.database.path = Some(db_file.clone());
        c.upstream
            .insert("registry.terraform.io".into(), up.clone());
        c.worker.poll_interval_ms = 50;
    })
    .await;
    assert_eq!(sqlite.state.db.backend(), "sqlite");

    // Users, a session, an API token, an upload, a job that fetched a signed package
    // (evidence), a pulled-through package, and the audit log of all that.
    let admin = sqlite.admin_token().await;
    let res = sqlite
        .upload_package(&admin, provider_zip("thing-one"), "1.0.0")
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let token: Value = sqlite
        .client
        .post(sqlite.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "ci", "role": "viewer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_token = token["token"].as_str().expect("a token secret").to_owned();
    let job: Value = sqlite
        .client
        .post(sqlite.url("/api/v1/definitions"))
        .bearer_auth(&admin)
        .body("provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_id = job["job"]["id"].as_i64().unwrap_or_else(|| panic!("{job}"));
    let (s, _) = crate::common::wait_for_job(&sqlite, job_id).await;
    assert_eq!(s.succeeded, 1, "{s:?}");
    let pulled = sqlite
        .get("/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_darwin_arm64.zip")
        .await;
    assert_eq!(pulled.status(), StatusCode::OK);
    pulled.bytes().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tfmirror::db::stats::gauges(&sqlite.state.db)
        .await
        .unwrap()
        .packages
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "the pulled-through package was not stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = documents(&sqlite).await;

    let url = new_pg_database();
    let out = copy_db(data.path(), &url);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (table, rows) in [
        ("packages", 3),
        ("jobs", 1),
        ("job_items", 1),
        ("users", 1),
        ("api_tokens", 1),
        ("version_evidence", 1),
    ] {
        let line = report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("{table} missing from the report: {report}"));
        assert!(line.contains(&format!(" {rows} rows")), "{line}");
    }
    assert!(report.contains("every count matches"), "{report}");
    assert!(
        !report.contains("postgres@"),
        "no credentials printed: {report}"
    );

    // The same data directory (blobs) on the PostgreSQL copy.
    let pg_url = url.clone();
    let data_dir = data.path().to_owned();
    let up = upstream(&fake);
    let pg = TestApp::spawn_with(Store::Local, |c| {
        c.data_dir = data_dir;
        c.database.url = Secret::new(pg_url);
        c.upstream.insert("registry.terraform.io".into(), up);
    })
    .await;
    assert_eq!(pg.state.db.backend(), "postgres");
    let after = documents(&pg).await;
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{path} is byte-identical after the move"
        );
    }
    // The session and the API token from before the move, and the password.
    for token in [&admin, &api_token] {
        let me = pg
            .client
            .get(pg.url("/api/v1/providers"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    let login = pg.login("root", "an admin password 123").await;
    assert_eq!(login.status(), StatusCode::OK);
    // New rows get new ids past the copied ones.
    let res = pg
        .upload_package(&admin, provider_zip("thing-two"), "1.0.1")
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let audit: Value = pg
        .client
        .get(pg.url("/api/v1/audit?limit=100"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "audit ids stay unique: {ids:?}");

    // A second copy into the now non-empty database is refused and changes nothing.
    let again = copy_db(data.path(), &url);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");
    let packages = tfmirror::db::stats::gauges(&pg.state.db)
        .await
        .unwrap()
        .packages;
    assert_eq!(packages, 4);
}
