//! PostgreSQL goes away for a while: readiness turns false, requests that need the database
//! get a 503 with `Retry-After` within the client's patience (never a hang), cached metadata
//! is still served, and everything recovers without a restart.

use std::process::Command;
use std::time::{Duration, Instant};

use super::cluster::Cluster;
use crate::common::fake_registry::FakeRegistry;
use crate::common::repo_path;
use reqwest::StatusCode;

/// A PostgreSQL server of this test's own (so it can be stopped): its PID.
fn start_pg(dir: &std::path::Path, port: u16) -> u32 {
    let out = Command::new(repo_path("scripts/pg-server.sh"))
        .arg(dir)
        .arg(port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn stop_pg(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(Instant::now() < deadline, "PostgreSQL did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A port below the ephemeral range (which `free_port` and every client socket draw from) and
/// above the ports the object-store fault test restarts its SeaweedFS on (20,000 to 29,007),
/// so nothing else can take it while this test's PostgreSQL is stopped; free right now.
fn restartable_port() -> u16 {
    let start = 30_000 + (std::process::id() % 2_000) as u16;
    (start..start + 500)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below the ephemeral range")
}

struct PgGuard(Option<u32>);

impl Drop for PgGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            stop_pg(pid);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_with_retry_after_and_recovers_without_a_restart() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    fake.publish("hashicorp", "random", "3.6.0", &["linux_amd64"]);
    let pg_dir = tempfile::tempdir().unwrap();
    let port = restartable_port();
    let mut pg = PgGuard(Some(start_pg(pg_dir.path(), port)));
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let cluster = Cluster::start_on(
        2,
        &fake.base_url,
        "cache {\n  metadata_ttl_seconds = 3600\n}\n",
        &url,
        true,
    )
    .await;
    let token = cluster.admin_token().await;
    let index = "/registry.terraform.io/hashicorp/null/index.json";
    let archive =
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";
    let r = &cluster.replicas[1];
    let res = cluster.client.get(r.url(archive)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.bytes().await.unwrap();
    // Stored just after the last byte, which drops the cached documents once more: wait for
    // it before they are cached for the outage.
    let pool = cluster.pool().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tfmirror::db::stats::gauges(&pool).await.unwrap().packages == 0 {
        assert!(
            Instant::now() < deadline,
            "the pulled-through package was not stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pool.close().await;
    let cached = cluster
        .client
        .get(r.url(index))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    stop_pg(pg.0.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = cluster.client.get(r.url("/readyz")).send().await.unwrap();
        if res.status() == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "readiness never turned false: {}",
            r.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Cached metadata still serves.
    let res = cluster.client.get(r.url(index)).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "cached metadata: {}",
        r.log_text()
    );
    assert_eq!(res.bytes().await.unwrap(), cached);
    // What needs the database: a 503 with Retry-After, well inside a client's 10 s.
    for (path, auth) in [
        ("/api/v1/auth/me", true),
        ("/registry.terraform.io/hashicorp/random/index.json", false),
    ] {
        let started = Instant::now();
        let mut req = cluster.client.get(r.url(path));
        if auth {
            req = req.bearer_auth(&token);
        }
        let res = req.send().await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            r.log_text()
        );
        assert!(res.headers().contains_key("retry-after"), "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path} took {:?}, past a client's 10 s",
            started.elapsed()
        );
    }

    // Back: everything works again, without a restart.
    pg.0 = Some(start_pg(pg_dir.path(), port));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = cluster
            .client
            .get(r.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        let me = cluster
            .client
            .get(r.url("/api/v1/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        if ready == StatusCode::OK && me == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered: ready {ready}, me {me}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = cluster
        .client
        .get(r.url("/registry.terraform.io/hashicorp/random/index.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
