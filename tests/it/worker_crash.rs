//! Killing the worker process in the middle of a download, then starting it again, completes
//! the job with exactly one, complete copy of the package.

use std::time::{Duration, Instant};

use crate::common::child::{start_worker, tfmirror, write_config};
use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::{Store, TestApp, sha256_hex};

async fn item_status(pool: &tfmirror::db::Pool) -> (String, i64) {
    crate::on_db!(pool, p => sqlx::query_as("SELECT status, attempts FROM job_items")
        .fetch_one(p)
        .await
        .unwrap())
}

// Multi-threaded: the fake registry must keep answering while this thread waits on children.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_resumes_without_duplicates_or_partial_files() {
    let fake = FakeRegistry::start().await;
    fake.publish_sized("hashicorp", "big", "1.0.0", &["linux_amd64"], 6 << 20);
    let archive = Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "big".into(),
        version: "1.0.0".into(),
        platform: "linux_amd64".into(),
    };
    // The first archive request hangs: the worker is killed while it waits for the bytes.
    fake.inject(archive.clone(), Fault::Delay(Duration::from_secs(60)), 1);

    let dir = tempfile::tempdir().unwrap();
    let (data, config) = write_config(
        dir.path(),
        &fake.base_url,
        "  timeout_seconds = 120\n",
        "worker {\n  poll_interval_ms = 50\n  backoff_base_ms = 100\n  stale_after_seconds = 5\n}\n",
    );
    let defs = dir.path().join("providers.hcl");
    std::fs::write(
        &defs,
        "provider \"hashicorp/big\" {\n  versions  = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n",
    )
    .unwrap();

    let out = tfmirror(&config).arg("load").arg(&defs).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("enqueued job 1"));

    let first = start_worker(tfmirror(&config));
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.hits(archive.clone()) == 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never asked for the archive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A partial download from an earlier crash, left where the worker spools.
    let spool = data.join("tmp/downloads");
    std::fs::create_dir_all(&spool).unwrap();
    std::fs::write(spool.join("item-1-leftover.zip"), b"PK\x03\x04 half").unwrap();
    drop(first); // SIGKILL, mid-download

    let pool = crate::common::open_test_db(&data).await;
    assert_eq!(
        item_status(&pool).await.0,
        "running",
        "the kill left the item running"
    );

    let _second = start_worker(tfmirror(&config));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = item_status(&pool).await;
        if status == "succeeded" {
            break;
        }
        assert!(
            status == "running" || status == "pending",
            "unexpected {status}"
        );
        assert!(
            Instant::now() < deadline,
            "the restarted worker did not finish the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !spool.join("item-1-leftover.zip").exists(),
        "partial temp files are removed at start"
    );
    let packages: i64 = on_db!(&pool, p => sqlx::query_scalar("SELECT COUNT(*) FROM packages")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(packages, 1, "exactly one package row");

    let expected = fake.zip_bytes("hashicorp", "big", "1.0.0", "linux_amd64");
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.data_dir = data.clone();
        c.worker.enabled = false;
    })
    .await;
    let body = app
        .get("/registry.terraform.io/hashicorp/big/terraform-provider-big_1.0.0_linux_amd64.zip")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), expected.len());
    assert_eq!(sha256_hex(&body), sha256_hex(&expected));
}
