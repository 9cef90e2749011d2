//! Pull-through caching against the in-process fake registry: cold metadata and archives come
//! from the origin, verified, and are stored; concurrent cold requests share one download;
//! policy and unconfigured hosts never reach the network; failures store nothing.

use std::time::Duration;

use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::{Store, TestApp, h1_reference, sha256_hex};
use reqwest::StatusCode;
use serde_json::Value;
use tfmirror::config::{Config, UpstreamConfig};

/// A server whose `registry.terraform.io` upstream is `url`, with pull-through on.
async fn app_for(url: &str, tweak: impl FnOnce(&mut UpstreamConfig, &mut Config)) -> TestApp {
    let url = url.to_owned();
    TestApp::spawn_with(Store::Local, move |c| {
        let mut up = UpstreamConfig {
            url: Some(url),
            timeout_seconds: 2,
            pull_through: true,
            ..Default::default()
        };
        tweak(&mut up, c);
        c.upstream.insert("registry.terraform.io".into(), up);
        c.worker.enabled = false;
    })
    .await
}

const INDEX: &str = "/registry.terraform.io/hashicorp/null/index.json";
const V321: &str = "/registry.terraform.io/hashicorp/null/3.2.1.json";
const ARCHIVE: &str =
    "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";

fn archive_target() -> Target {
    Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "3.2.1".into(),
        platform: "linux_amd64".into(),
    }
}

async fn json(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.unwrap()
}

async fn source_of(app: &TestApp) -> Vec<String> {
    on_db!(&app.state.db, p => sqlx::query_scalar("SELECT source FROM packages")
        .fetch_all(p)
        .await)
    .unwrap()
}

/// The stored packages' sources once there is one: a pulled-through package's row is
/// recorded once its verified blob is stored, just after the client has its last byte.
async fn stored_sources(app: &TestApp) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let sources = source_of(app).await;
        if !sources.is_empty() {
            return sources;
        }
        assert!(std::time::Instant::now() < deadline, "never stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback URL nothing listens on.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
}

#[tokio::test]
async fn cold_metadata_and_archive_come_from_the_origin_then_from_storage() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.0", &["linux_amd64"]);
    fake.publish(
        "hashicorp",
        "null",
        "3.2.1",
        &["linux_amd64", "darwin_arm64"],
    );
    let app = app_for(&fake.base_url, |_, _| {}).await;

    let index = json(&app, INDEX).await;
    assert_eq!(
        index,
        serde_json::json!({"versions": {"3.2.0": {}, "3.2.1": {}}})
    );

    let linux = fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64");
    let darwin = fake.zip_bytes("hashicorp", "null", "3.2.1", "darwin_arm64");
    let doc = json(&app, V321).await;
    assert_eq!(
        doc["archives"]["linux_amd64"]["hashes"],
        serde_json::json!([format!("zh:{}", sha256_hex(&linux))]),
        "cold: the signed zh: from SHA256SUMS"
    );
    assert_eq!(
        doc["archives"]["darwin_arm64"]["url"],
        "terraform-provider-null_3.2.1_darwin_arm64.zip"
    );
    assert_eq!(
        doc["archives"]["darwin_arm64"]["hashes"],
        serde_json::json!([format!("zh:{}", sha256_hex(&darwin))])
    );
    assert!(source_of(&app).await.is_empty(), "metadata stores nothing");

    let res = app.get(ARCHIVE).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-length"].to_str().unwrap(),
        linux.len().to_string()
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&linux));
    assert_eq!(fake.hits(archive_target()), 1);

    // Stored and recorded as pulled through; now listed with h1: too.
    assert_eq!(stored_sources(&app).await, vec!["pull-through".to_owned()]);
    let doc = json(&app, V321).await;
    let hashes = doc["archives"]["linux_amd64"]["hashes"].as_array().unwrap();
    assert!(hashes.contains(&Value::from(h1_reference(&linux))), "{doc}");
    assert!(hashes.contains(&Value::from(format!("zh:{}", sha256_hex(&linux)))));

    // Warm: served from storage, the origin is not asked again.
    let again = app.get(ARCHIVE).await.bytes().await.unwrap();
    assert_eq!(again, body);
    assert_eq!(fake.hits(archive_target()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_cold_requests_share_one_upstream_download() {
    let fake = FakeRegistry::start().await;
    fake.publish_sized("hashicorp", "null", "3.2.1", &["linux_amd64"], 3 << 20);
    // Hold the upstream's answer back so every request arrives while it is in flight.
    fake.inject(
        archive_target(),
        Fault::Delay(Duration::from_millis(500)),
        1,
    );
    let app = app_for(&fake.base_url, |_, _| {}).await;
    let expected = sha256_hex(&fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64"));

    let requests = (0..100).map(|_| {
        let client = app.client.clone();
        let url = app.url(ARCHIVE);
        tokio::spawn(async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            sha256_hex(&res.bytes().await.unwrap())
        })
    });
    let bodies = futures_util::future::join_all(requests).await;
    for body in bodies {
        assert_eq!(
            body.unwrap(),
            expected,
            "every client gets the complete archive"
        );
    }
    assert_eq!(fake.hits(archive_target()), 1, "exactly one upstream fetch");
    assert_eq!(stored_sources(&app).await.len(), 1);
}

#[tokio::test]
async fn an_unreachable_origin_means_404_for_what_is_not_stored_and_stored_data_still_serves() {
    let app = app_for(&dead_url(), |_, _| {}).await;
    for path in [INDEX, V321, ARCHIVE] {
        let res = app.get(path).await;
        assert_eq!(
            res.status(),
            StatusCode::NOT_FOUND,
            "{path}: 404 lets the client fall back"
        );
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["code"], "not_found");
    }

    let zip = crate::common::provider_zip("stored");
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &zip,
    )
    .await;
    assert_eq!(
        json(&app, INDEX).await,
        serde_json::json!({"versions": {"3.2.1": {}}})
    );
    assert_eq!(
        json(&app, V321).await["archives"]["linux_amd64"]["hashes"][0],
        h1_reference(&zip)
    );
    assert_eq!(app.get(ARCHIVE).await.bytes().await.unwrap(), zip);
}

#[tokio::test]
async fn the_last_good_version_list_is_served_when_the_origin_goes_down() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |up, _| up.metadata_ttl_seconds = 1).await;
    let fresh = json(&app, INDEX).await;
    fake.inject(Target::Any, Fault::Status(503), 1000);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = fake.hits(Target::Any);
    assert_eq!(
        json(&app, INDEX).await,
        fresh,
        "stale list while the origin fails"
    );
    assert!(
        fake.hits(Target::Any) > before,
        "the origin was asked again after the TTL"
    );
}

#[tokio::test]
async fn denied_and_not_allowed_providers_never_reach_the_origin() {
    let fake = FakeRegistry::start().await;
    fake.publish("evilcorp", "miner", "1.0.0", &["linux_amd64"]);
    fake.publish("acme", "thing", "1.0.0", &["linux_amd64"]);
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |up, _| {
        up.allow = vec!["hashicorp".into(), "evilcorp".into()];
        up.deny = vec!["evilcorp/*".into()];
    })
    .await;
    for path in [
        "/registry.terraform.io/evilcorp/miner/index.json",
        "/registry.terraform.io/evilcorp/miner/1.0.0.json",
        "/registry.terraform.io/evilcorp/miner/terraform-provider-miner_1.0.0_linux_amd64.zip",
        "/registry.terraform.io/acme/thing/index.json",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        fake.hits(Target::Any),
        0,
        "nothing denied reached the origin"
    );
    // The allowed namespace does.
    assert_eq!(app.get(INDEX).await.status(), StatusCode::OK);
    assert!(fake.hits(Target::Any) > 0);
}

#[tokio::test]
async fn a_hostname_without_an_upstream_block_never_leaves_the_process() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |_, _| {}).await;
    for host in ["registry.opentofu.org", "169.254.169.254", "localhost"] {
        let path = format!("/{host}/hashicorp/null/index.json");
        let res = app.get(&path).await;
        assert!(
            res.status() == StatusCode::NOT_FOUND || res.status() == StatusCode::BAD_REQUEST,
            "{path}: {}",
            res.status()
        );
    }
    assert_eq!(fake.hits(Target::Any), 0);
    let seen: i64 = on_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM upstream_versions_seen")
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(seen, 0, "no upstream was consulted");
}

#[tokio::test]
async fn a_package_failing_verification_during_pull_through_is_never_stored_or_listed() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |_, _| {}).await;
    let genuine = fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64");

    // Tampered bytes: detected only at the end. The client never gets a complete body.
    fake.inject(archive_target(), Fault::TamperedArchive, 1);
    let res = app.get(ARCHIVE).await;
    // Either the connection is cut (an error) or the body stops short: never the whole thing.
    if let Ok(body) = res.bytes().await {
        assert_ne!(
            body.len(),
            genuine.len(),
            "a complete copy of a tampered archive was delivered"
        );
    }
    // A bad signature: refused before any byte.
    fake.inject(
        Target::Signature {
            namespace: "hashicorp".into(),
            ptype: "null".into(),
            version: "3.2.1".into(),
        },
        Fault::BadSignature,
        1,
    );
    // The verified checksums of the first attempt are cached; a fresh server must re-verify.
    let app2 = app_for(&fake.base_url, |_, _| {}).await;
    let res = app2.get(ARCHIVE).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let err: Value = res.json().await.unwrap();
    assert!(
        err["message"].as_str().unwrap().contains("does not verify"),
        "{err}"
    );
    for a in [&app, &app2] {
        assert!(source_of(a).await.is_empty(), "nothing stored");
        let doc = json(a, V321).await;
        let hashes = doc["archives"]["linux_amd64"]["hashes"].as_array().unwrap();
        assert!(
            hashes
                .iter()
                .all(|h| h.as_str().unwrap().starts_with("zh:")),
            "nothing stored is listed: {doc}"
        );
    }
    // With the faults spent, the genuine archive comes through.
    let body = app.get(ARCHIVE).await.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&genuine));
}

/// An origin that stops sending in the middle of an archive (for 20 s, ten times the
/// upstream's 2 s timeout) must not hold the client or the flight: the client's request ends
/// without a complete body well before the origin would have finished, nothing is stored or
/// listed, and the next request downloads the archive whole.
#[tokio::test]
async fn an_origin_stalling_mid_body_fails_the_download_cleanly_and_the_next_one_succeeds() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |_, _| {}).await;
    let genuine = fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64");
    fake.inject(archive_target(), Fault::Stall(Duration::from_secs(20)), 1);

    // A client that gives up after 12 s: if the mirror waited for the stalled origin, this
    // request would fail by the client's own timeout, which the assertion below tells apart.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(12))
        .build()
        .unwrap();
    let outcome = async {
        let res = client.get(app.url(ARCHIVE)).send().await?;
        res.bytes().await
    }
    .await;
    match outcome {
        Ok(body) => assert_ne!(
            body.len(),
            genuine.len(),
            "a complete body was delivered although the origin never sent it"
        ),
        Err(e) => assert!(
            !e.is_timeout(),
            "the mirror held the client while the origin stalled: {e}"
        ),
    }
    assert!(source_of(&app).await.is_empty(), "nothing stored");
    let doc = json(&app, V321).await;
    let hashes = doc["archives"]["linux_amd64"]["hashes"].as_array().unwrap();
    assert!(
        hashes
            .iter()
            .all(|h| h.as_str().unwrap().starts_with("zh:")),
        "nothing stored is listed: {doc}"
    );

    let res = app.get(ARCHIVE).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a fresh flight after the stalled one"
    );
    assert_eq!(
        sha256_hex(&res.bytes().await.unwrap()),
        sha256_hex(&genuine)
    );
    assert_eq!(stored_sources(&app).await, vec!["pull-through".to_owned()]);
}

#[tokio::test]
async fn blocked_versions_and_brand_new_releases_are_not_offered() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.0", &["linux_amd64"]);
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |_, _| {}).await;
    let addr = tfmirror::domain::ProviderAddress::parse("hashicorp/null").unwrap();
    // Block 3.2.1 (a stored version row is what carries the status).
    let zip = crate::common::provider_zip("blocked");
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &zip,
    )
    .await;
    tfmirror::db::packages::set_version_status(
        &app.state.db,
        &addr,
        &tfmirror::domain::Version::parse("3.2.1").unwrap(),
        tfmirror::domain::VersionStatus::Blocked,
    )
    .await
    .unwrap();
    app.state.catalog.invalidate(&addr).await;
    assert_eq!(
        json(&app, INDEX).await,
        serde_json::json!({"versions": {"3.2.0": {}}})
    );
    assert_eq!(app.get(V321).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(ARCHIVE).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        fake.hits(archive_target()),
        0,
        "a blocked version is never fetched"
    );

    // A quarantine of one hour: versions first seen now are not offered.
    let quarantined = app_for(&fake.base_url, |up, _| up.min_release_age_hours = 1).await;
    assert_eq!(quarantined.get(INDEX).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_hanging_origin_cannot_hold_a_metadata_request_past_the_deadline() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_for(&fake.base_url, |up, _| {
        up.metadata_deadline_ms = 300;
        up.metadata_ttl_seconds = 1;
        up.timeout_seconds = 30;
    })
    .await;
    let versions = Target::Versions {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
    };
    // Cold and hanging: a 404 in time, so the client falls back instead of timing out.
    fake.inject(versions.clone(), Fault::Delay(Duration::from_secs(20)), 1);
    let started = std::time::Instant::now();
    assert_eq!(app.get(INDEX).await.status(), StatusCode::NOT_FOUND);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Known, then hanging: the last good list, in time.
    let fresh = json(&app, INDEX).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fake.inject(versions, Fault::Delay(Duration::from_secs(20)), 1);
    let started = std::time::Instant::now();
    assert_eq!(json(&app, INDEX).await, fresh);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
