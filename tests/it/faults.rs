//! Faults of the parts around the mirror: the object store going away and coming back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::{Store, TestApp, provider_zip, repo_path, sha256_hex};

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
    let again = app.get(ARCHIVE).await;
    assert_eq!(again.status(), StatusCode::OK, "no restart needed");
    assert_eq!(sha256_hex(&again.bytes().await.unwrap()), sha256_hex(&zip));
}
