//! The job queue shared by three replicas' workers: every item fetched exactly once, a
//! killed replica's item finished by another after its lease expires, nothing partial listed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::cluster::Cluster;
use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::sha256_hex;
use reqwest::StatusCode;
use serde_json::Value;

fn archive(version: &str) -> Target {
    Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: version.into(),
        platform: "linux_amd64".into(),
    }
}

/// `POST /api/v1/definitions` through replica `i`; the job id.
async fn load(cluster: &Cluster, i: usize, token: &str, text: String) -> i64 {
    let res: Value = cluster
        .client
        .post(cluster.replicas[i].url("/api/v1/definitions"))
        .bearer_auth(token)
        .body(text)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["job"]["id"].as_i64().unwrap_or_else(|| panic!("{res}"))
}

/// (status, lease owner) of every item of a job.
async fn items(pool: &tfmirror::db::Pool, job: i64) -> Vec<(String, Option<String>)> {
    on_db!(pool, p => sqlx::query_as("SELECT status, lease_owner FROM job_items WHERE job_id = $1 ORDER BY id")
        .bind(job)
        .fetch_all(p)
        .await
        .unwrap())
}

/// The process id in a lease owner (`PID-UUID`).
fn pid_of(owner: &str) -> u32 {
    owner.split('-').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_items_are_shared_by_three_workers_and_each_is_fetched_once() {
    let fake = FakeRegistry::start().await;
    let versions: Vec<String> = (0..20).map(|i| format!("1.0.{i}")).collect();
    for v in &versions {
        fake.publish("hashicorp", "null", v, &["linux_amd64"]);
        // Slow enough that one worker's four slots cannot take everything.
        fake.inject(archive(v), Fault::Delay(Duration::from_millis(400)), 1);
    }
    let cluster = Cluster::start(3, &fake.base_url, "").await;
    let token = cluster.admin_token().await;
    let list = versions
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let job = load(
        &cluster,
        0,
        &token,
        format!("provider \"hashicorp/null\" {{\n  versions  = [{list}]\n  platforms = [\"linux_amd64\"]\n}}\n"),
    )
    .await;
    let pool = cluster.pool().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let now = items(&pool, job).await;
        assert_eq!(now.len(), 20);
        if now.iter().all(|(s, _)| s != "pending" && s != "running") {
            break now;
        }
        assert!(Instant::now() < deadline, "the job did not finish: {now:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(done.iter().all(|(s, _)| s == "succeeded"), "{done:?}");
    for v in &versions {
        assert_eq!(fake.hits(archive(v)), 1, "{v} fetched exactly once");
    }
    let workers: HashSet<u32> = done
        .iter()
        .map(|(_, o)| pid_of(o.as_deref().unwrap()))
        .collect();
    let replicas: HashSet<u32> = cluster.replicas.iter().map(|r| r.pid()).collect();
    assert_eq!(workers, replicas, "every replica's worker took items");
    assert_eq!(
        tfmirror::db::stats::gauges(&pool).await.unwrap().packages,
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_item_is_finished_by_another_and_nothing_partial_is_listed() {
    let fake = FakeRegistry::start().await;
    fake.publish_sized("hashicorp", "null", "3.2.1", &["linux_amd64"], 3 << 20);
    // The first download hangs: the replica holding it is killed meanwhile.
    fake.inject(archive("3.2.1"), Fault::Delay(Duration::from_secs(60)), 1);
    let mut cluster = Cluster::start_definitions_only(3, &fake.base_url, "").await;
    let token = cluster.admin_token().await;
    let job = load(
        &cluster,
        0,
        &token,
        "provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n".into(),
    )
    .await;
    let pool = cluster.pool().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let holder = loop {
        if fake.hits(archive("3.2.1")) > 0
            && let [(status, Some(owner))] = items(&pool, job).await.as_slice()
            && status == "running"
        {
            break pid_of(owner);
        }
        assert!(Instant::now() < deadline, "no worker started the item");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let victim = cluster
        .replicas
        .iter()
        .position(|r| r.pid() == holder)
        .expect("a replica holds it");
    cluster.replicas[victim].kill();
    let survivor = (victim + 1) % 3;

    let index = cluster.replicas[survivor].url("/registry.terraform.io/hashicorp/null/index.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    let finisher = loop {
        let now = items(&pool, job).await;
        let (status, owner) = &now[0];
        if status == "succeeded" {
            break pid_of(owner.as_deref().unwrap());
        }
        // Until it is stored, no replica lists it.
        let res = cluster.client.get(&index).send().await.unwrap();
        let stored = tfmirror::db::stats::gauges(&pool).await.unwrap().packages > 0;
        assert!(
            res.status() == StatusCode::NOT_FOUND || stored,
            "listed before it was stored: {}",
            res.text().await.unwrap()
        );
        assert!(
            Instant::now() < deadline,
            "nobody finished the item: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(finisher, holder, "another replica finished it");
    assert_eq!(
        fake.hits(archive("3.2.1")),
        2,
        "the killed attempt and the one that finished"
    );
    let body = cluster
        .client
        .get(cluster.replicas[survivor].url(
            "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip",
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        sha256_hex(&body),
        sha256_hex(&fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64"))
    );
}
