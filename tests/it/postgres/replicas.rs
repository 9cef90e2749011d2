//! Three replicas on one PostgreSQL database and one S3 bucket: one upstream download per
//! package across all of them, caches that agree within a second, and security state
//! (failed logins, sessions) shared.

use std::time::{Duration, Instant};

use super::cluster::Cluster;
use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::sha256_hex;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ARCHIVE: &str =
    "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";

fn archive() -> Target {
    Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "3.2.1".into(),
        platform: "linux_amd64".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_cold_requests_over_three_replicas_fetch_the_archive_once() {
    let fake = FakeRegistry::start().await;
    fake.publish_sized("hashicorp", "null", "3.2.1", &["linux_amd64"], 4 << 20);
    // The origin answers slowly, so every request arrives while the download runs.
    fake.inject(archive(), Fault::Delay(Duration::from_millis(1_500)), 1);
    let cluster = Cluster::start(3, &fake.base_url, "").await;
    let expected = sha256_hex(&fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64"));

    let requests = (0..100).map(|i| {
        let client = cluster.client.clone();
        let url = cluster.replicas[i % 3].url(ARCHIVE);
        tokio::spawn(async move {
            let res = client.get(&url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{url}");
            let declared: usize = res.headers()["content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body = res.bytes().await.unwrap();
            assert_eq!(body.len(), declared, "the whole body");
            sha256_hex(&body)
        })
    });
    for body in futures_util::future::join_all(requests).await {
        assert_eq!(
            body.unwrap(),
            expected,
            "every client gets the verified archive"
        );
    }
    assert_eq!(
        fake.hits(archive()),
        1,
        "exactly one upstream archive fetch"
    );
    let pool = cluster.pool().await;
    assert_eq!(
        tfmirror::db::stats::gauges(&pool).await.unwrap().packages,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_blocked_through_one_replica_disappears_from_the_others_within_a_second() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    fake.publish("hashicorp", "null", "3.2.2", &["linux_amd64"]);
    // A long TTL: only the notification can make the others forget.
    let cluster = Cluster::start(
        3,
        &fake.base_url,
        "cache {\n  metadata_ttl_seconds = 3600\n}\n",
    )
    .await;
    let admin = cluster.admin_token().await;
    for version in ["3.2.1", "3.2.2"] {
        let path = format!(
            "/registry.terraform.io/hashicorp/null/terraform-provider-null_{version}_linux_amd64.zip"
        );
        let res = cluster
            .client
            .get(cluster.replicas[0].url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.bytes().await.unwrap();
    }
    let index = "/registry.terraform.io/hashicorp/null/index.json";
    let versions = |doc: Value| -> Vec<String> {
        doc["versions"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    // Cached on every replica.
    for r in &cluster.replicas {
        for _ in 0..2 {
            let doc: Value = cluster
                .client
                .get(r.url(index))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(versions(doc).contains(&"3.2.1".to_owned()));
        }
    }
    let res =
        cluster
            .client
            .put(cluster.replicas[0].url(
                "/api/v1/providers/registry.terraform.io/hashicorp/null/versions/3.2.1/status",
            ))
            .bearer_auth(&admin)
            .json(&json!({"status": "blocked"}))
            .send()
            .await
            .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let blocked_at = Instant::now();
    for r in &cluster.replicas[1..] {
        loop {
            let doc: Value = cluster
                .client
                .get(r.url(index))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if !versions(doc.clone()).contains(&"3.2.1".to_owned()) {
                assert!(versions(doc).contains(&"3.2.2".to_owned()));
                break;
            }
            assert!(
                blocked_at.elapsed() < Duration::from_secs(1),
                "{} still lists the blocked version after a second",
                r.base
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let res = cluster
        .client
        .get(cluster.replicas[2].url(ARCHIVE))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the blocked archive is refused everywhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_count_across_replicas_and_sessions_live_and_die_everywhere() {
    let fake = FakeRegistry::start().await;
    let cluster = Cluster::start(
        3,
        &fake.base_url,
        "auth {\n  max_failures = 3\n  lockout_max_seconds = 60\n}\n",
    )
    .await;
    let token = cluster.admin_token().await;
    let me = |i: usize, token: String| {
        let client = cluster.client.clone();
        let url = cluster.replicas[i].url("/api/v1/auth/me");
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // A session made on replica 0 works on all three.
    for i in 0..3 {
        assert_eq!(me(i, token.clone()).await, StatusCode::OK, "replica {i}");
    }

    // One wrong password on each replica: three failures in all, and the pair is locked on
    // every replica (a fourth attempt, even with the right password, is throttled).
    let login = |i: usize, password: &'static str| {
        let client = cluster.client.clone();
        let url = cluster.replicas[i].url("/api/v1/auth/login");
        async move {
            client
                .post(url)
                .json(&json!({"username": "root", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..3 {
        assert_eq!(
            login(i, "wrong password 1").await,
            StatusCode::UNAUTHORIZED,
            "replica {i}"
        );
    }
    for i in 0..3 {
        assert_eq!(
            login(i, "an admin password 123").await,
            StatusCode::TOO_MANY_REQUESTS,
            "replica {i} counts the other replicas' failures"
        );
    }

    // Logout on replica 1 ends the session on all three at once.
    let res = cluster
        .client
        .post(cluster.replicas[1].url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    for i in 0..3 {
        assert_eq!(
            me(i, token.clone()).await,
            StatusCode::UNAUTHORIZED,
            "replica {i}"
        );
    }
}

/// The downloads counted by every replica, as the stats report them (today's total).
async fn downloads_today(cluster: &Cluster, token: &str) -> i64 {
    let stats: Value = cluster
        .client
        .get(cluster.replicas[0].url("/api/v1/stats"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["downloads_per_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["downloads"].as_i64().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_counts_from_three_replicas_add_up_exactly() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let cluster = Cluster::start(3, &fake.base_url, "").await;
    let token = cluster.admin_token().await;
    let first = cluster
        .client
        .get(cluster.replicas[0].url(ARCHIVE))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    first.bytes().await.unwrap();
    // Counts reach the database every 5 s; wait for what the first download added.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut before = downloads_today(&cluster, &token).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let settled = downloads_today(&cluster, &token).await;
    assert!(settled >= before && Instant::now() < deadline);
    before = settled;

    // 3 x 25 downloads at once, spread over the replicas.
    let requests = (0..75).map(|i| {
        let client = cluster.client.clone();
        let url = cluster.replicas[i % 3].url(ARCHIVE);
        tokio::spawn(async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            res.bytes().await.unwrap();
        })
    });
    for r in futures_util::future::join_all(requests).await {
        r.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = downloads_today(&cluster, &token).await;
        if now == before + 75 {
            break;
        }
        assert!(
            now < before + 75,
            "counted more downloads than were made: {now} after {before}"
        );
        assert!(
            Instant::now() < deadline,
            "{now} counted, {} expected",
            before + 75
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_configured_with_another_session_secret_refuses_to_start() {
    let fake = FakeRegistry::start().await;
    let cluster = Cluster::start(
        1,
        &fake.base_url,
        "auth {\n  jwt_secret = \"the-first-replicas-secret-0123456789abcdef\"\n}\n",
    )
    .await;
    let out = crate::common::child::tfmirror(&cluster.replicas[0].config)
        .env_remove("TFM_DATABASE_URL")
        .env(
            "TFM_JWT_SECRET",
            "another-secret-entirely-0123456789abcdef!!",
        )
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a disagreeing replica must not serve"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "auth.jwt_secret differs from the one the other replicas on this database use"
        ),
        "{err}"
    );
    assert!(
        !err.contains("another-secret"),
        "the secret is never printed: {err}"
    );
}
