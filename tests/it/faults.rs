//! Faults of the parts around the mirror: the object store going away and coming back, and
//! the object store slowing down or going silent, and the disk of the local store filling up.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::slow_link::{Pace, SlowLink};
use crate::common::{Store, TestApp, big_zip, provider_zip, repo_path, s3_endpoint, sha256_hex};

/// A SeaweedFS of this test's own (so stopping it harms no other test), on ports free now.
struct Seaweed {
    dir: tempfile::TempDir,
    port: u16,
    pid: Option<u32>,
}

fn free_base_port() -> u16 {
    // The server takes PORT, PORT+555, PORT+1000 and PORT+1007.
    for _ in 0..50 {
        let port = 20_000 + fastrand::u16(0..8_000);
        let free = [0u16, 555, 1000, 1007]
            .iter()
            .all(|d| std::net::TcpListener::bind(("127.0.0.1", port + d)).is_ok());
        if free {
            return port;
        }
    }
    panic!("no free ports for a SeaweedFS");
}

impl Seaweed {
    fn start() -> Self {
        let mut s = Self {
            dir: tempfile::tempdir().unwrap(),
            port: free_base_port(),
            pid: None,
        };
        s.run();
        s
    }

    /// Starts (or restarts, on the same data) the server and waits until it serves.
    fn run(&mut self) {
        let out = std::process::Command::new(repo_path("scripts/s3-server.sh"))
            .arg(self.dir.path())
            .env("TFM_TEST_S3_PORT", self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "SeaweedFS did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.pid = Some(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap());
    }

    fn stop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
            for _ in 0..100 {
                let alive = std::process::Command::new("kill")
                    .args(["-0", &pid.to_string()])
                    .status()
                    .is_ok_and(|s| s.success());
                if !alive {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}

const ARCHIVE: &str =
    "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_object_store_down_metadata_serves_archives_say_retry_and_all_recovers() {
    let mut s3 = tokio::task::spawn_blocking(Seaweed::start).await.unwrap();
    let endpoint = s3.endpoint();
    let app = TestApp::spawn_with(Store::S3, move |c| {
        c.storage.s3_mut().unwrap().endpoint = Some(endpoint);
    })
    .await;
    let zip = provider_zip("faults");
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &zip,
    )
    .await;
    assert_eq!(app.get(ARCHIVE).await.status(), StatusCode::OK);

    let mut s3 = tokio::task::spawn_blocking(move || {
        s3.stop();
        s3
    })
    .await
    .unwrap();
    let index = app
        .get("/registry.terraform.io/hashicorp/null/index.json")
        .await;
    assert_eq!(
        index.status(),
        StatusCode::OK,
        "metadata needs no object store"
    );
    let archive = app.get(ARCHIVE).await;
    assert_eq!(archive.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(archive.headers().contains_key("retry-after"));
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    let _s3 = tokio::task::spawn_blocking(move || {
        s3.run();
        s3
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.get("/readyz").await.status() != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "never ready again after the store returned"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Readiness asks for the bucket; a restarted SeaweedFS answers for it a moment before its
    // volume server serves objects again (CI once saw a 503 here). A client retries after a
    // 503 with Retry-After, as this loop does: what must hold is that the archive comes back
    // whole, within the deadline, from the same process (no restart).
    let again = loop {
        let answer = app.get(ARCHIVE).await;
        if answer.status() == StatusCode::OK {
            break answer;
        }
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "while the store settles only a 503 is acceptable: {body}"
        );
        assert!(
            Instant::now() < deadline,
            "the archive never came back without a restart: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(sha256_hex(&again.bytes().await.unwrap()), sha256_hex(&zip));
}

/// A 2 MiB tmpfs mounted on a fresh directory (the test runs as root, as CI does), unmounted
/// when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a 2 MiB tmpfs failed: this test needs root (CI runs as root)"
        );
        Self { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the server's task may still hold a file open while the test ends.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The local store's disk fills up: an upload that does not fit is refused with 507 and a
/// message that says the store is full, nothing of it is listed or left behind in the store,
/// what was stored before still downloads whole, and once space is freed the same upload
/// succeeds without a restart.
#[tokio::test]
async fn a_full_disk_refuses_new_packages_clearly_and_keeps_the_stored_ones() {
    let disk = SmallDisk::mount();
    let store_path = disk.dir.path().join("packages");
    let path_for_config = store_path.clone();
    let app = TestApp::spawn_with(Store::Local, move |c| {
        if let tfmirror::config::StorageConfig::Local(local) = &mut c.storage {
            local.path = Some(path_for_config);
        } else {
            panic!("a local store");
        }
    })
    .await;
    let admin = app.admin_token().await;
    let small = provider_zip("fits");
    assert_eq!(
        app.upload_package(&admin, small.clone(), "1.0.0")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    // Fill the disk so that a 1 MiB archive no longer fits.
    let filler = disk.dir.path().join("filler");
    std::fs::write(&filler, vec![0u8; 1536 * 1024]).unwrap();

    let big = big_zip(1024 * 1024);
    let res = app
        .upload_package(&admin, big.clone(), "2.0.0")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["code"], "insufficient_storage", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("package store is full"),
        "{err}"
    );
    let index: serde_json::Value = app
        .get("/registry.terraform.io/example/thing/index.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        index,
        serde_json::json!({"versions": {"1.0.0": {}}}),
        "the refused package is not listed"
    );
    let leftovers: Vec<_> = std::fs::read_dir(store_path.join(".tmp"))
        .unwrap()
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-written files left: {leftovers:?}"
    );
    let stored = app
        .get("/registry.terraform.io/example/thing/terraform-provider-thing_1.0.0_linux_amd64.zip")
        .await;
    assert_eq!(stored.status(), StatusCode::OK);
    assert_eq!(
        sha256_hex(&stored.bytes().await.unwrap()),
        sha256_hex(&small)
    );

    std::fs::remove_file(&filler).unwrap();
    assert_eq!(
        app.upload_package(&admin, big.clone(), "2.0.0")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED,
        "space freed: no restart needed"
    );
    let fetched = app
        .get("/registry.terraform.io/example/thing/terraform-provider-thing_2.0.0_linux_amd64.zip")
        .await;
    assert_eq!(
        sha256_hex(&fetched.bytes().await.unwrap()),
        sha256_hex(&big)
    );
    drop(app);
}

/// The object store slows down, then stops answering: a slow store still serves and takes
/// packages (only slower); a silent one costs clients a bounded wait and a 503 with
/// `Retry-After`, not a hung connection, an archive whose store goes silent mid-body ends
/// instead of hanging, an upload during the silence is refused and not listed, metadata
/// never waits for the store, and everything recovers when it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_object_store_slow_or_silent_clients_get_answers_not_hung_connections() {
    let seaweed = s3_endpoint();
    let link = SlowLink::start(seaweed.trim_start_matches("http://")).await;
    let endpoint = link.url.clone();
    let app = TestApp::spawn_with(Store::S3, move |c| {
        let s3 = c.storage.s3_mut().unwrap();
        s3.endpoint = Some(endpoint);
        s3.timeout_seconds = 2;
    })
    .await;
    // A patient client: anything that hangs fails the test here instead of stalling it.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let get = |path: &str| client.get(app.url(path)).send();
    let admin = app.admin_token().await;
    let big = big_zip(24 * 1024 * 1024);
    let upload = |zip: Vec<u8>, version: &'static str| app.upload_package(&admin, zip, version);
    assert_eq!(
        upload(big.clone(), "1.0.0").await.unwrap().status(),
        StatusCode::CREATED
    );
    const THING: &str = "/registry.terraform.io/example/thing/";
    let archive = |v: &str| format!("{THING}terraform-provider-thing_{v}_linux_amd64.zip");

    link.set(Pace::Delay(Duration::from_millis(40)));
    let small = provider_zip("slow store");
    assert_eq!(
        upload(small.clone(), "2.0.0").await.unwrap().status(),
        StatusCode::CREATED,
        "a slow store still takes packages"
    );
    let res = get(&archive("2.0.0")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sha256_hex(&res.bytes().await.unwrap()), sha256_hex(&small));

    // The store goes silent in the middle of a large archive.
    link.set(Pace::Normal);
    let mut res = get(&archive("1.0.0")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut received = res.chunk().await.unwrap().unwrap().len();
    link.set(Pace::Stall);
    let ended = loop {
        match res.chunk().await {
            Ok(Some(chunk)) => received += chunk.len(),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(
        ended.is_some() && received < big.len(),
        "a body cut short must end in an error, not look complete ({received} of {} bytes)",
        big.len()
    );
    assert!(
        !ended.unwrap().is_timeout(),
        "the mirror ended it, not the client"
    );

    let res = get(&archive("2.0.0")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        get("/readyz").await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    let index = app.url(&format!("{THING}index.json"));
    let listed = serde_json::json!({"versions": {"1.0.0": {}, "2.0.0": {}}});
    assert_eq!(
        json_of(&client, &index).await,
        listed,
        "metadata needs no object store"
    );
    let refused = upload(provider_zip("silent store"), "3.0.0").await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        json_of(&client, &index).await,
        listed,
        "a refused upload is not listed"
    );

    link.set(Pace::Normal);
    let deadline = Instant::now() + Duration::from_secs(60);
    while get("/readyz").await.unwrap().status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let res = get(&archive("1.0.0")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(sha256_hex(&res.bytes().await.unwrap()), sha256_hex(&big));
    assert_eq!(
        upload(provider_zip("silent store"), "3.0.0")
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED,
        "no restart needed"
    );
}

async fn json_of(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}
