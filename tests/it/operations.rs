//! Operations: Prometheus metrics after real traffic, request ids and JSON logs, and graceful
//! shutdown on SIGTERM (an in-flight archive download completes; a running job resumes after
//! the restart).

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::child::{KillOnDrop, tfmirror};
use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::free_port;
use crate::common::{Store, TestApp, sha256_hex};
use reqwest::StatusCode;

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_show_requests_bytes_cache_upstream_jobs_and_storage() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "random", "3.6.0", &["linux_amd64"]);
    let app = TestApp::spawn_with(Store::Local, |c| {
        crate::common::set_upstream(c, &fake.base_url, |up| {
            up.pull_through = true;
            up.allow = vec!["hashicorp/random".into()];
        });
        c.metrics.token = tfmirror::config::Secret::new("scrape-token-123");
    })
    .await;
    let zip = crate::common::big_zip(1 << 20);
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &zip,
    )
    .await;
    for _ in 0..3 {
        let res = app
            .get("/registry.terraform.io/hashicorp/null/index.json")
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let archive = app
        .get("/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(archive.len(), zip.len());
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/none/index.json")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // One pull-through version list from the upstream.
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/random/index.json")
            .await
            .status(),
        StatusCode::OK
    );

    assert_eq!(
        app.get("/metrics").await.status(),
        StatusCode::UNAUTHORIZED,
        "the token is required"
    );
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    let get =
        |series: &str| metric(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        get(r#"tfmirror_http_requests_total{route="mirror_index",method="GET",status="200"}"#),
        4.0
    );
    assert_eq!(
        get(r#"tfmirror_http_requests_total{route="mirror_index",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tfmirror_http_requests_total{route="mirror_archive",method="GET",status="200"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tfmirror_http_request_duration_seconds_count{route="mirror_index",method="GET"}"#),
        5.0
    );
    assert_eq!(
        get(
            r#"tfmirror_http_request_duration_seconds_bucket{route="mirror_index",method="GET",le="+Inf"}"#
        ),
        5.0
    );
    assert_eq!(get("tfmirror_bytes_served_total"), zip.len() as f64);
    assert!(get("tfmirror_metadata_cache_hits_total") >= 2.0, "{text}");
    assert!(get("tfmirror_metadata_cache_misses_total") >= 1.0, "{text}");
    assert!(get(r#"tfmirror_upstream_requests_total{upstream="registry.terraform.io"}"#) >= 1.0);
    assert_eq!(
        get(r#"tfmirror_upstream_failures_total{upstream="registry.terraform.io"}"#),
        0.0
    );
    assert_eq!(get(r#"tfmirror_job_items{state="pending"}"#), 0.0);
    assert_eq!(get("tfmirror_packages"), 1.0);
    assert_eq!(get("tfmirror_storage_bytes"), zip.len() as f64);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn(Store::Local).await;
    let a = app.get("/healthz").await;
    let b = app.get("/registry.terraform.io/x/y/index.json").await;
    let ida = a.headers()["x-request-id"].to_str().unwrap().to_owned();
    let idb = b.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!ida.is_empty() && ida != idb);
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc.123");
    let sanitized = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(sanitized.headers()["x-request-id"], "bad id with spaces");
}

/// `tfmirror serve` as a child process on a free loopback port; its stderr goes to `log`.
struct Server {
    child: KillOnDrop,
    base: String,
}

fn write_config(dir: &Path, port: u16, extra: &str) -> PathBuf {
    let config = dir.join("tfmirror.hcl");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nserver {{\n  listen = \"127.0.0.1:{port}\"\n  shutdown_grace_seconds = 20\n}}\n{extra}",
            dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

async fn start(config: &Path, port: u16, log: &Path, json_logs: bool) -> Server {
    let mut cmd = tfmirror(config);
    cmd.arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if json_logs {
        cmd.env("TFM_LOG_FORMAT", "json");
    }
    let child = KillOnDrop(cmd.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "server did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}

fn sigterm(child: &Child) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM failed");
}

/// Waits (bounded) for the process to exit; its exit status.
async fn exited(server: &mut Server, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = server.child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_download_finish_and_logs_are_json() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let zip = crate::common::big_zip(24 << 20);
    let file = dir.path().join("big.zip");
    std::fs::write(&file, &zip).unwrap();
    let out = tfmirror(&config)
        .args([
            "add-package",
            "--namespace",
            "hashicorp",
            "--type",
            "big",
            "--version",
            "1.0.0",
            "--platform",
            "linux_amd64",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = dir.path().join("server.log");
    let mut server = start(&config, port, &log, true).await;
    let mut res = reqwest::get(format!(
        "{}/registry.terraform.io/hashicorp/big/terraform-provider-big_1.0.0_linux_amd64.zip",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut body = res.chunk().await.unwrap().unwrap().to_vec();
    assert!(body.len() < zip.len(), "the download is still in flight");

    sigterm(&server.child.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        reqwest::get(format!("{}/healthz", server.base))
            .await
            .is_err(),
        "no new connections after SIGTERM"
    );
    while let Some(chunk) = res.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    assert_eq!(body.len(), zip.len(), "the in-flight download completed");
    assert_eq!(sha256_hex(&body), sha256_hex(&zip));
    let status = exited(&mut server, Duration::from_secs(20)).await;
    assert!(status.success(), "clean exit: {status:?}");

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l.to_string().contains(&request_id)
            && l["fields"]["message"] == "request"
            && l["fields"]["status"] == 200),
        "one line for the download with its request id:\n{text}"
    );
    assert!(text.contains("shutting down"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_job_stops_the_worker_and_the_job_resumes_after_restart() {
    let fake = FakeRegistry::start().await;
    fake.publish_sized("hashicorp", "slow", "1.0.0", &["linux_amd64"], 2 << 20);
    let archive = Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "slow".into(),
        version: "1.0.0".into(),
        platform: "linux_amd64".into(),
    };
    // The first download hangs: SIGTERM arrives while the worker waits for it.
    fake.inject(archive.clone(), Fault::Delay(Duration::from_secs(60)), 1);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        dir.path(),
        port,
        &format!(
            "upstream \"registry.terraform.io\" {{\n  url = \"{}\"\n  timeout_seconds = 120\n}}\nworker {{\n  poll_interval_ms = 50\n}}\n",
            fake.base_url
        ),
    );
    let defs = dir.path().join("providers.hcl");
    std::fs::write(&defs, "provider \"hashicorp/slow\" {\n  versions  = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n").unwrap();
    let out = tfmirror(&config).arg("load").arg(&defs).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = dir.path().join("server.log");
    let mut server = start(&config, port, &log, false).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.hits(archive.clone()) == 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never started the download"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&server.child.0);
    let status = exited(&mut server, Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "{status:?}: {}",
        std::fs::read_to_string(&log).unwrap()
    );

    let pool = crate::common::open_test_db(&dir.path().join("data")).await;
    let (item_status,): (String,) =
        on_db!(&pool, p => sqlx::query_as("SELECT status FROM job_items")
        .fetch_one(p)
        .await)
        .unwrap();
    assert!(
        item_status == "running" || item_status == "pending",
        "left resumable: {item_status}"
    );
    let packages: i64 = on_db!(&pool, p => sqlx::query_scalar("SELECT COUNT(*) FROM packages")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(packages, 0, "nothing half-stored");

    let log2 = dir.path().join("server2.log");
    let _server = start(&config, port, &log2, false).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s,): (String,) = on_db!(&pool, p => sqlx::query_as("SELECT status FROM job_items")
            .fetch_one(p)
            .await)
        .unwrap();
        if s == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "the job did not resume: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let packages: i64 = on_db!(&pool, p => sqlx::query_scalar("SELECT COUNT(*) FROM packages")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(packages, 1);
    assert_eq!(
        fake.hits(archive),
        2,
        "one interrupted download, one that finished"
    );
}

/// The log without its ANSI escapes, so levels can be read whatever the colouring.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Sends raw bytes on a fresh connection and returns the status line of the answer.
fn raw_request(base: &str, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_log_below_error_faults_at_error_and_files_get_no_colour() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let file = dir.path().join("p.zip");
    std::fs::write(&file, crate::common::provider_zip("log")).unwrap();
    let out = tfmirror(&config)
        .args([
            "add-package",
            "--namespace",
            "hashicorp",
            "--type",
            "null",
            "--version",
            "1.0.0",
            "--platform",
            "linux_amd64",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = dir.path().join("server.log");
    let server = start(&config, port, &log, false).await;
    // Malformed requests: a path with spaces, a control character, a broken header line.
    for bytes in [
        &b"GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /\x01bad HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ] {
        let status = raw_request(&server.base, bytes);
        assert!(status.contains(" 400 "), "{status}");
    }
    // Malformed bodies and bad names.
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .header("content-type", "application/json")
        .body("{bad")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = reqwest::get(format!(
        "{}/registry.terraform.io/hashi_corp/null/index.json",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // A fault of ours: the stored archive is gone from storage.
    std::fs::remove_dir_all(dir.path().join("data/blobs")).unwrap();
    let res = reqwest::get(format!(
        "{}/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_linux_amd64.zip",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // Lines reach the file from the log's own thread: the fault's may land a moment after
    // its response (on a loaded machine, after the kill below took the process). Bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("request failed")
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);

    let raw = std::fs::read_to_string(&log).unwrap();
    assert!(
        !raw.contains('\u{1b}'),
        "a log written to a file has no colour codes:\n{raw}"
    );
    let text = strip_ansi(&raw);
    let errors: Vec<&str> = text.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert_eq!(
        errors.len(),
        1,
        "only the fault is logged at ERROR, client mistakes are not:\n{text}"
    );
    assert!(errors[0].contains("request failed"), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.contains(" WARN ") && l.contains("request parse error"))
            .count()
            == 3,
        "each malformed request is still logged, as a warning:\n{text}"
    );
}
