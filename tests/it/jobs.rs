//! The download pipeline through the real server and worker, against the in-process fake
//! registry (real protocol, real signatures made at test time).

use std::time::{Duration, Instant};

use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::{Store, TestApp, h1_reference, sha256_hex};
use crate::common::{load_definitions as load, wait_for_job as wait_for};
use reqwest::StatusCode;
use tfmirror::config::UpstreamConfig;
use tfmirror::db::jobs::{ItemRow, JobSummary};
use tfmirror::domain::{ItemStatus, JobStatus};

/// A server whose `registry.terraform.io` upstream is the fake, with fast retries.
async fn app_with(
    fake: &FakeRegistry,
    store: Store,
    tweak: impl FnOnce(&mut tfmirror::config::Config),
) -> TestApp {
    let url = fake.base_url.clone();
    TestApp::spawn_with(store, move |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            UpstreamConfig {
                url: Some(url),
                timeout_seconds: 2,
                ..Default::default()
            },
        );
        c.worker.backoff_base_ms = 100;
        c.worker.backoff_max_ms = 400;
        c.worker.poll_interval_ms = 50;
        c.worker.max_attempts = 4;
        tweak(c);
    })
    .await
}

/// Validates, plans and enqueues like `tfmirror load`; returns the job id.
fn one_item(items: &[ItemRow]) -> &ItemRow {
    assert_eq!(items.len(), 1, "{items:#?}");
    &items[0]
}

const NULL_DEF: &str = r#"
provider "hashicorp/null" {
  versions  = ["3.2.1"]
  platforms = ["linux_amd64"]
}
"#;

const NULL_ARCHIVE: &str =
    "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";

async fn nothing_stored(app: &TestApp) {
    let res = app
        .get("/registry.terraform.io/hashicorp/null/index.json")
        .await;
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "nothing may be listed after a failure"
    );
    assert_eq!(app.get(NULL_ARCHIVE).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn constraints_resolve_and_every_item_stores_with_correct_hashes() {
    let fake = FakeRegistry::start().await;
    for v in ["3.4.0", "3.5.0", "3.5.1", "3.6.0", "3.7.0", "3.7.1-beta1"] {
        fake.publish("hashicorp", "random", v, &["linux_amd64", "darwin_arm64"]);
    }
    let app = app_with(&fake, Store::Local, |_| {}).await;
    let job = load(
        &app,
        r#"
provider "registry.terraform.io/hashicorp/random" {
  versions  = [">= 3.5.0, < 3.7.0", "3.7.1-beta1"]
  platforms = ["linux_amd64", "windows_amd64"]
}
"#,
    )
    .await;
    let (summary, items) = wait_for(&app, job).await;
    assert_eq!(summary.succeeded, 4, "{items:#?}");
    assert_eq!(
        summary.failed, 4,
        "windows_amd64 is not offered: {items:#?}"
    );
    for item in &items {
        if item.os == "windows" {
            assert_eq!(item.status, ItemStatus::Failed);
            assert!(
                item.last_error
                    .as_deref()
                    .unwrap()
                    .contains("not offered for windows_amd64"),
                "{item:?}"
            );
        } else {
            assert_eq!(item.status, ItemStatus::Succeeded, "{item:?}");
        }
    }

    let index: serde_json::Value = app
        .get("/registry.terraform.io/hashicorp/random/index.json")
        .await
        .json()
        .await
        .unwrap();
    let mut versions: Vec<&String> = index["versions"].as_object().unwrap().keys().collect();
    versions.sort();
    assert_eq!(versions, ["3.5.0", "3.5.1", "3.6.0", "3.7.1-beta1"]);
    for v in ["3.5.0", "3.5.1", "3.6.0", "3.7.1-beta1"] {
        let zip = fake.zip_bytes("hashicorp", "random", v, "linux_amd64");
        let doc: serde_json::Value = app
            .get(&format!("/registry.terraform.io/hashicorp/random/{v}.json"))
            .await
            .json()
            .await
            .unwrap();
        let archives = doc["archives"].as_object().unwrap();
        assert_eq!(archives.len(), 1, "only the requested platform: {doc}");
        assert_eq!(archives["linux_amd64"]["hashes"][0], h1_reference(&zip));
        assert_eq!(
            archives["linux_amd64"]["hashes"][1],
            format!("zh:{}", sha256_hex(&zip))
        );
    }

    // The evidence is kept: SHA256SUMS, its signature and the key that verified it.
    let (key_id, sums, sig): (Option<String>, String, Option<Vec<u8>>) =
        on_db!(&app.state.db, p => sqlx::query_as(
        "SELECT e.signing_key_id, e.shasums, e.shasums_signature FROM version_evidence e
         JOIN provider_versions v ON v.id = e.version_id WHERE v.version = '3.6.0'",
    )
    .fetch_one(p)
    .await)
        .unwrap();
    assert_eq!(key_id.as_deref(), Some(fake.key_id().as_str()));
    assert!(sums.contains("terraform-provider-random_3.6.0_linux_amd64.zip"));
    assert!(sig.is_some_and(|s| !s.is_empty()));
    let signed_by: Option<String> =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT signing_key_id FROM packages LIMIT 1")
            .fetch_one(p)
            .await)
            .unwrap();
    assert_eq!(signed_by.as_deref(), Some(fake.key_id().as_str()));
}

#[tokio::test]
async fn jobs_store_into_s3_too() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_with(&fake, Store::S3, |_| {}).await;
    let job = load(&app, NULL_DEF).await;
    let (summary, items) = wait_for(&app, job).await;
    assert_eq!(summary.succeeded, 1, "{items:#?}");
    let body = app.get(NULL_ARCHIVE).await.bytes().await.unwrap();
    assert_eq!(
        body.as_ref(),
        fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64")
            .as_slice()
    );
}

/// Each permanent failure ends the item at once with a message naming the problem, and
/// stores nothing.
#[tokio::test]
async fn verification_failures_fail_the_item_and_store_nothing() {
    let cases: Vec<(Target, Fault, &str)> = vec![
        (download_info(), Fault::WrongShasum, "checksum mismatch"),
        (signature_file(), Fault::BadSignature, "does not verify"),
        (
            signature_file(),
            Fault::ForeignKeySignature,
            "not among the registry's keys",
        ),
        (download_info(), Fault::Unsigned, "offered no signing key"),
        (archive(), Fault::TamperedArchive, "sha256 mismatch"),
        (download_info(), Fault::Status(404), "not offered"),
    ];
    for (target, fault, expected) in cases {
        let fake = FakeRegistry::start().await;
        fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
        fake.inject(target, fault, 100);
        let app = app_with(&fake, Store::Local, |_| {}).await;
        let job = load(&app, NULL_DEF).await;
        let (_, items) = wait_for(&app, job).await;
        let item = one_item(&items);
        assert_eq!(item.status, ItemStatus::Failed, "{expected}: {item:?}");
        assert_eq!(
            item.attempts, 1,
            "permanent failures are not retried: {item:?}"
        );
        let err = item.last_error.clone().unwrap_or_default();
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        nothing_stored(&app).await;
    }
}

#[tokio::test]
async fn https_upstreams_need_their_ca_trusted() {
    let ca_dir = tempfile::tempdir().unwrap();
    let fake = FakeRegistry::start_tls(ca_dir.path()).await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    assert!(fake.base_url.starts_with("https://"));

    // Without the CA the TLS handshake fails (and is retried, then given up).
    let app = app_with(&fake, Store::Local, |c| c.worker.max_attempts = 2).await;
    let defs = tfmirror::jobs::validate(NULL_DEF, &app.state.registry).unwrap();
    let err = tfmirror::jobs::plan(&app.state.registry, &defs)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("service discovery"), "{err}");

    // With outbound.extra_ca_file the same registry works.
    let ca = ca_dir.path().join("tls/ca.pem");
    let app = app_with(&fake, Store::Local, move |c| {
        c.outbound.extra_ca_file = Some(ca)
    })
    .await;
    let (summary, items) = wait_for(&app, load(&app, NULL_DEF).await).await;
    assert_eq!(summary.succeeded, 1, "{items:#?}");
}

#[tokio::test]
async fn the_upstream_token_goes_only_to_the_registry_host() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    // The API is addressed as `localhost`; the download URLs the registry hands out name
    // 127.0.0.1, another host (as a CDN would be): the token must not follow them there.
    let api = fake.base_url.replace("127.0.0.1", "localhost");
    let app = app_with(&fake, Store::Local, move |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            UpstreamConfig {
                url: Some(api),
                token: tfmirror::config::Secret::new("s3cr3t-registry-token"),
                ..Default::default()
            },
        );
    })
    .await;
    let (summary, items) = wait_for(&app, load(&app, NULL_DEF).await).await;
    assert_eq!(summary.succeeded, 1, "{items:#?}");
    let seen = fake.authorizations();
    let api_requests: Vec<_> = seen
        .iter()
        .filter(|(p, _)| !p.starts_with("/files/"))
        .collect();
    let file_requests: Vec<_> = seen
        .iter()
        .filter(|(p, _)| p.starts_with("/files/"))
        .collect();
    assert!(
        api_requests.len() >= 3,
        "discovery, versions, download info: {seen:?}"
    );
    assert!(
        file_requests.len() >= 3,
        "archive, SHA256SUMS, signature: {seen:?}"
    );
    for (path, auth) in api_requests {
        assert_eq!(
            auth.as_deref(),
            Some("Bearer s3cr3t-registry-token"),
            "{path}"
        );
    }
    for (path, auth) in file_requests {
        assert_eq!(auth, &None, "{path} must not receive the token");
    }
}

#[tokio::test]
async fn unsigned_packages_need_allow_unsigned() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    fake.inject(download_info(), Fault::Unsigned, 100);
    let url = fake.base_url.clone();
    let app = app_with(&fake, Store::Local, move |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            UpstreamConfig {
                url: Some(url),
                allow_unsigned: true,
                ..Default::default()
            },
        );
    })
    .await;
    let job = load(&app, NULL_DEF).await;
    let (summary, items) = wait_for(&app, job).await;
    assert_eq!(summary.succeeded, 1, "{items:#?}");
    let key: Option<String> =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT signing_key_id FROM packages")
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(key, None, "recorded as unsigned");
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff() {
    let cases: Vec<(Target, Fault, usize)> = vec![
        (archive(), Fault::Status(500), 2),
        (archive(), Fault::Truncate, 1),
        // The origin stalls mid-body for longer than the upstream's 2 s timeout.
        (archive(), Fault::Stall(Duration::from_secs(20)), 1),
        (download_info(), Fault::Status(503), 2),
        (download_info(), Fault::Delay(Duration::from_secs(4)), 1),
        (shasums_file(), Fault::Status(502), 1),
    ];
    for (target, fault, times) in cases {
        let label = format!("{fault:?}");
        let fake = FakeRegistry::start().await;
        fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
        fake.inject(target.clone(), fault, times);
        let app = app_with(&fake, Store::Local, |_| {}).await;
        let job = load(&app, NULL_DEF).await;
        let (summary, items) = wait_for(&app, job).await;
        let item = one_item(&items);
        assert_eq!(summary.succeeded, 1, "{label}: {item:?}");
        assert_eq!(
            item.attempts as usize,
            times + 1,
            "{label}: one attempt per fault plus the good one"
        );
        assert_eq!(fake.hits(target), times + 1, "{label}");
        let body = app.get(NULL_ARCHIVE).await.bytes().await.unwrap();
        assert_eq!(
            sha256_hex(&body),
            sha256_hex(&fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64"))
        );
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    fake.inject(
        archive(),
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
        1,
    );
    let app = app_with(&fake, Store::Local, |_| {}).await;
    let started = Instant::now();
    let job = load(&app, NULL_DEF).await;
    let (summary, items) = wait_for(&app, job).await;
    assert_eq!(summary.succeeded, 1, "{items:#?}");
    assert_eq!(one_item(&items).attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the retry waited for Retry-After"
    );
}

#[tokio::test]
async fn attempts_are_bounded() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    fake.inject(archive(), Fault::Status(500), 3);
    let app = app_with(&fake, Store::Local, |c| c.worker.max_attempts = 3).await;
    let job = load(&app, NULL_DEF).await;
    let (summary, items) = wait_for(&app, job).await;
    let item = one_item(&items);
    assert_eq!((summary.failed, summary.cancelled_items), (1, 0));
    assert_eq!(summary.finished_at, item.finished_at);
    assert!(summary.finished_at.is_some());
    assert_eq!(item.attempts, 3);
    assert!(
        item.last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{item:?}"
    );
    assert_eq!(fake.hits(archive()), 3);
    nothing_stored(&app).await;

    // The upstream recovered: retrying the job's failed items completes it.
    assert_eq!(
        tfmirror::db::jobs::retry_failed(&app.state.db, job)
            .await
            .unwrap(),
        1
    );
    let (summary, items) = wait_for(&app, job).await;
    assert_eq!(summary.succeeded, 1, "{items:#?}");
    assert_eq!(app.get(NULL_ARCHIVE).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cancelled_jobs_stop_and_store_nothing() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    fake.inject(download_info(), Fault::Delay(Duration::from_secs(30)), 100);
    let app = app_with(&fake, Store::Local, |_| {}).await;
    let job = load(&app, NULL_DEF).await;
    let pool = &app.state.db;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tfmirror::db::jobs::job_summary(pool, job)
        .await
        .unwrap()
        .unwrap()
        .running
        == 0
    {
        assert!(Instant::now() < deadline, "the item never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tfmirror::db::jobs::cancel_job(pool, job).await.unwrap());
    let s = tfmirror::db::jobs::job_summary(pool, job)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.status, JobStatus::Cancelled);
    assert_eq!(
        (s.failed, s.cancelled_items, s.total),
        (0, 1, 1),
        "a cancelled item is counted as cancelled, not failed"
    );
    assert!(s.finished_at.is_some(), "a finished job has a finish time");
    // Past the client timeout the abandoned attempt ends; the item must stay cancelled.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let items = tfmirror::db::jobs::job_items(pool, job).await.unwrap();
    assert_eq!(one_item(&items).status, ItemStatus::Cancelled);
    nothing_stored(&app).await;
}

/// The walk's defect: a job retried and then cancelled showed "9 of 8 items done". Every
/// item is in exactly one count, whatever the order of retries and cancels.
#[tokio::test]
async fn counts_add_up_after_a_retry_and_a_cancel() {
    let fake = FakeRegistry::start().await;
    fake.publish(
        "hashicorp",
        "null",
        "3.2.1",
        &["linux_amd64", "darwin_arm64"],
    );
    fake.inject(archive(), Fault::TamperedArchive, 1000);
    fake.inject(
        Target::archive("hashicorp", "null", "3.2.1", "darwin_arm64"),
        Fault::Delay(Duration::from_secs(30)),
        1000,
    );
    let app = app_with(&fake, Store::Local, |_| {}).await;
    let defs = NULL_DEF.replace("[\"linux_amd64\"]", "[\"linux_amd64\", \"darwin_arm64\"]");
    let job = load(&app, &defs).await;
    let pool = &app.state.db;
    let summary = || async {
        tfmirror::db::jobs::job_summary(pool, job)
            .await
            .unwrap()
            .unwrap()
    };
    let adds_up = |s: &JobSummary| {
        assert_eq!(
            s.pending + s.running + s.succeeded + s.skipped + s.failed + s.cancelled_items,
            s.total,
            "{s:?}"
        );
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = summary().await;
        adds_up(&s);
        if s.failed == 1 && s.running == 1 {
            assert_eq!(s.finished_at, None, "still running: no finish time");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never failed one and ran the other: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        tfmirror::db::jobs::retry_failed(pool, job).await.unwrap(),
        1
    );
    adds_up(&summary().await);
    assert!(tfmirror::db::jobs::cancel_job(pool, job).await.unwrap());
    let s = summary().await;
    adds_up(&s);
    assert_eq!(s.total, 2);
    assert_eq!(s.status, JobStatus::Cancelled);
    assert!(s.cancelled_items >= 1, "{s:?}");
    assert_eq!(s.failed + s.cancelled_items, 2, "{s:?}");
    assert!(s.finished_at.is_some(), "{s:?}");
    nothing_stored(&app).await;
}

#[tokio::test]
async fn stored_packages_are_skipped_without_downloading() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_with(&fake, Store::Local, |_| {}).await;
    let (first, _) = wait_for(&app, load(&app, NULL_DEF).await).await;
    assert_eq!(first.succeeded, 1);
    let (second, items) = wait_for(&app, load(&app, NULL_DEF).await).await;
    assert_eq!(second.skipped, 1, "{items:#?}");
    assert_eq!(fake.hits(archive()), 1, "the archive was downloaded once");
}

fn download_info() -> Target {
    Target::DownloadInfo {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "3.2.1".into(),
        platform: "linux_amd64".into(),
    }
}

fn archive() -> Target {
    Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "3.2.1".into(),
        platform: "linux_amd64".into(),
    }
}

fn shasums_file() -> Target {
    Target::Shasums {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "3.2.1".into(),
    }
}

fn signature_file() -> Target {
    Target::Signature {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "3.2.1".into(),
    }
}
