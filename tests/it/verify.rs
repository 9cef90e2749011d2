//! `tfmirror verify` and `POST /api/v1/verify`: every stored blob re-hashed against its
//! recorded sha256, orphans listed, on the local store and on a real S3 server.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Store, TestApp, provider_zip};

async fn stored_three(app: &TestApp) {
    for (version, seed) in [("1.0.0", "v1"), ("1.1.0", "v11"), ("2.0.0", "v2")] {
        app.add(
            "registry.terraform.io/hashicorp/null",
            version,
            "linux_amd64",
            &provider_zip(seed),
        )
        .await;
    }
}

fn blob_of(app: &TestApp, version: &str) -> std::path::PathBuf {
    let zip = provider_zip(match version {
        "1.0.0" => "v1",
        "1.1.0" => "v11",
        _ => "v2",
    });
    let sha = crate::common::sha256_hex(&zip);
    app.dir
        .path()
        .join(format!("blobs/sha256/{}/{sha}.zip", &sha[..2]))
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let res = app
        .client
        .post(app.url("/api/v1/verify"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_clean_store_verifies_and_damage_is_reported_by_kind() {
    let app = TestApp::spawn(Store::Local).await;
    let token = app.admin_token().await;
    stored_three(&app).await;
    let clean = verify(&app, &token).await;
    assert_eq!(clean["checked"], 3, "{clean}");
    assert_eq!(clean["ok"], 3, "{clean}");

    std::fs::write(blob_of(&app, "1.1.0"), b"flipped bits").unwrap();
    std::fs::remove_file(blob_of(&app, "2.0.0")).unwrap();
    let orphan = app
        .dir
        .path()
        .join(format!("blobs/sha256/ab/{}.zip", "ab".repeat(32)));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"left behind").unwrap();
    // Written an hour ago: no ingest can still be recording it.
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    // A blob written just now without a row may be an ingest in progress: not an orphan yet.
    let young = app
        .dir
        .path()
        .join(format!("blobs/sha256/ef/{}.zip", "ef".repeat(32)));
    std::fs::create_dir_all(young.parent().unwrap()).unwrap();
    std::fs::write(&young, b"being recorded").unwrap();

    let report = verify(&app, &token).await;
    assert_eq!(report["ok"], 1, "{report}");
    assert_eq!(report["corrupt_count"], 1, "{report}");
    assert!(
        report["corrupt"][0]["package"]
            .as_str()
            .unwrap()
            .contains("hashicorp/null 1.1.0 linux_amd64"),
        "{report}"
    );
    assert_eq!(report["missing_count"], 1, "{report}");
    assert!(
        report["missing"][0]["package"]
            .as_str()
            .unwrap()
            .contains("2.0.0")
    );
    assert_eq!(report["orphaned_count"], 1, "{report}");
    assert!(
        report["orphaned"][0]["key"]
            .as_str()
            .unwrap()
            .contains(&"ab".repeat(32))
    );

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for kind in ["missing", "corrupt", "orphaned"] {
        assert!(
            metrics.contains(&format!("tfmirror_verify_problems{{kind=\"{kind}\"}} 1")),
            "{metrics}"
        );
    }

    // The same from the command line, which exits 1 and names each problem.
    let config = app.dir.path().join("verify.hcl");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\n", app.dir.path().display()),
    )
    .unwrap();
    let out = crate::common::child::tfmirror(&config)
        .arg("verify")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CORRUPT") && text.contains("MISSING") && text.contains("ORPHANED"),
        "{text}"
    );
    assert!(
        text.contains(
            "3 package(s) checked: 1 ok, 1 missing, 1 corrupt; 1 orphaned blob(s), 1 in flight"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn verification_lists_unreferenced_blobs_in_s3_too() {
    let app = TestApp::spawn(Store::S3).await;
    let token = app.admin_token().await;
    stored_three(&app).await;
    assert_eq!(verify(&app, &token).await["ok"], 3);
    let file = app.dir.path().join("orphan.zip");
    std::fs::write(&file, b"nobody lists me").unwrap();
    let key = tfmirror::storage::BlobKey::for_sha256(&"cd".repeat(32)).unwrap();
    app.state
        .catalog
        .store()
        .put_file(&key, &file, 15)
        .await
        .unwrap();
    let report = verify(&app, &token).await;
    assert_eq!(report["ok"], 3, "{report}");
    assert_eq!(
        report["in_flight_count"], 1,
        "S3 lists the unreferenced blob (young, so not yet an orphan): {report}"
    );
    assert_eq!(report["orphaned_count"], 0, "{report}");
}

fn write_old(path: &std::path::Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
}

/// What the server does at start-up: blobs no row references, older than the grace period,
/// are deleted a shard at a time (more in one shard than one database lookup takes), and
/// nothing a package references or an ingest may still record is touched.
#[tokio::test]
async fn orphan_collection_deletes_only_old_unreferenced_blobs_in_every_shard() {
    let app = TestApp::spawn(Store::Local).await;
    stored_three(&app).await;
    let blobs = app.dir.path().join("blobs");
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        let path = blob_of(&app, version);
        let bytes = std::fs::read(&path).unwrap();
        write_old(&path, &bytes);
    }
    let mut orphans = Vec::new();
    // 520 in shard `ab` (beyond one lookup's 500 keys), and one in each of three others.
    for i in 0..520u32 {
        let sha = format!("ab{:062x}", i);
        orphans.push(blobs.join(format!("sha256/ab/{sha}.zip")));
    }
    for shard in ["00", "7f", "ff"] {
        orphans.push(blobs.join(format!("sha256/{shard}/{}.zip", shard.repeat(32))));
    }
    for path in &orphans {
        write_old(path, b"left behind by a crash");
    }
    let young = blobs.join(format!("sha256/ef/{}.zip", "ef".repeat(32)));
    std::fs::create_dir_all(young.parent().unwrap()).unwrap();
    std::fs::write(&young, b"being recorded").unwrap();

    // The server's own start-up collection may still be running (a loaded machine, a slow
    // database) and take some of them: every orphan must be gone, whichever run took it.
    let removed = tfmirror::integrity::collect_orphans(&app.state.db, &app.state.catalog)
        .await
        .unwrap();
    assert!(removed <= orphans.len(), "{removed} removed");
    for path in &orphans {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert!(
        young.exists(),
        "a blob an ingest may still record was deleted"
    );
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        assert!(
            blob_of(&app, version).exists(),
            "{version}'s archive was deleted"
        );
    }
    let token = app.admin_token().await;
    let report = verify(&app, &token).await;
    assert_eq!(report["ok"], 3, "{report}");
    assert_eq!(report["orphaned_count"], 0, "{report}");
}
