//! Crash trials: the server is SIGKILLed at 20 random moments while its worker runs a job
//! and clients pull packages through, then started again. After every kill nothing partial
//! is listed and `tfmirror verify` finds nothing missing or corrupt; in the end the job
//! finishes and every package serves its listed hashes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::child::{KillOnDrop, tfmirror, write_config};
use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::free_port;
use crate::common::sha256_hex;

const TRIALS: usize = 20;

async fn start(config: &std::path::Path, log: &std::path::Path, base: &str) -> KillOnDrop {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = tfmirror(config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = KillOnDrop(child);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status() == StatusCode::OK
        {
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verify(config: &std::path::Path) -> String {
    let out = tfmirror(config).arg("verify").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "verify found damage:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Every archive `{version}.json` lists downloads whole and hashes to its `zh:`.
async fn listed_archives_are_whole(client: &reqwest::Client, base: &str, ptype: &str) -> usize {
    let index = client
        .get(format!(
            "{base}/registry.terraform.io/hashicorp/{ptype}/index.json"
        ))
        .send()
        .await
        .unwrap();
    if index.status() == StatusCode::NOT_FOUND {
        return 0;
    }
    let index: Value = index.json().await.unwrap();
    let mut whole = 0;
    for version in index["versions"].as_object().unwrap().keys() {
        let doc: Value = client
            .get(format!(
                "{base}/registry.terraform.io/hashicorp/{ptype}/{version}.json"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for archive in doc["archives"].as_object().unwrap().values() {
            let hashes: Vec<&str> = archive["hashes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            // Only stored packages carry h1:; the others are offered for pull-through.
            if !hashes.iter().any(|h| h.starts_with("h1:")) {
                continue;
            }
            let zh = hashes.iter().find(|h| h.starts_with("zh:")).unwrap();
            let url = format!(
                "{base}/registry.terraform.io/hashicorp/{ptype}/{}",
                archive["url"].as_str().unwrap()
            );
            let bytes = client.get(url).send().await.unwrap().bytes().await.unwrap();
            assert_eq!(
                format!("zh:{}", sha256_hex(&bytes)),
                *zh,
                "a listed package is not whole"
            );
            whole += 1;
        }
    }
    whole
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_at_random_moments_loses_nothing_and_lists_nothing_partial() {
    let seed = std::env::var("TFM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_201u64);
    let mut rng = fastrand::Rng::with_seed(seed);
    let fake = FakeRegistry::start().await;
    let platforms = ["linux_amd64", "darwin_arm64"];
    // Every trial has work of its own: a job for one version of `big`, and clients pulling
    // one version of `pulled` through. The origin answers each archive after a pause, so the
    // kill lands while downloads, hashing and storing are under way.
    for t in 0..TRIALS {
        for ptype in ["big", "pulled"] {
            let version = format!("1.{t}.0");
            fake.publish_sized("hashicorp", ptype, &version, &platforms, 1 << 20);
            for p in platforms {
                let pause = Duration::from_millis(rng.u64(50..400));
                fake.inject(
                    Target::archive("hashicorp", ptype, &version, p),
                    Fault::Delay(pause),
                    1,
                );
            }
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_data, config) = write_config(
        dir.path(),
        &fake.base_url,
        "  pull_through = true\n",
        &format!(
            "server {{\n  listen = \"127.0.0.1:{port}\"\n  shutdown_grace_seconds = 1\n}}\nworker {{\n  poll_interval_ms = 50\n  backoff_base_ms = 100\n  stale_after_seconds = 5\n}}\n"
        ),
    );
    let log = dir.path().join("server.log");
    let client = reqwest::Client::new();

    for trial in 0..TRIALS {
        let defs = dir.path().join(format!("big-{trial}.hcl"));
        std::fs::write(
            &defs,
            format!(
                "provider \"hashicorp/big\" {{\n  versions  = [\"1.{trial}.0\"]\n  platforms = [\"linux_amd64\", \"darwin_arm64\"]\n}}\n"
            ),
        )
        .unwrap();
        let out = tfmirror(&config).arg("load").arg(&defs).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let mut server = start(&config, &log, &base).await;
        let pulls: Vec<_> = platforms
            .iter()
            .map(|p| {
                let url = format!(
                    "{base}/registry.terraform.io/hashicorp/pulled/terraform-provider-pulled_1.{trial}.0_{p}.zip"
                );
                let client = client.clone();
                tokio::spawn(async move {
                    if let Ok(r) = client.get(url).send().await {
                        let _ = r.bytes().await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.u64(20..500))).await;
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        for p in pulls {
            let _ = p.await;
        }
        let report = tokio::task::spawn_blocking({
            let config = config.clone();
            move || verify(&config)
        })
        .await
        .unwrap();
        assert!(
            report.contains("0 missing, 0 corrupt"),
            "trial {trial} (seed {seed}): {report}"
        );
        eprintln!("trial {trial}: {}", report.trim());
    }

    // Once more, to the end: every job finishes and everything listed is whole.
    let _server = start(&config, &log, &base).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    for job in 1..=TRIALS {
        loop {
            let out = tfmirror(&config)
                .args(["jobs", "show", &job.to_string()])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains(&format!("job {job}: succeeded")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} never finished:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for trial in 0..TRIALS {
        for p in platforms {
            let url = format!(
                "{base}/registry.terraform.io/hashicorp/pulled/terraform-provider-pulled_1.{trial}.0_{p}.zip"
            );
            assert_eq!(
                client.get(url).send().await.unwrap().status(),
                StatusCode::OK
            );
        }
    }
    assert_eq!(
        listed_archives_are_whole(&client, &base, "big").await,
        2 * TRIALS
    );
    // A pulled-through archive's last byte is released once it is verified; storing and
    // recording it follow, so the last download may be listed a moment later.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = listed_archives_are_whole(&client, &base, "pulled").await;
        if listed == 2 * TRIALS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{listed} of {} pulled archives listed",
            2 * TRIALS
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = tokio::task::spawn_blocking(move || verify(&config))
        .await
        .unwrap();
    let all = 4 * TRIALS;
    assert!(
        report.contains(&format!("{all} package(s) checked: {all} ok")),
        "{report}"
    );
}
