//! Air-gap bundles through the admin UI, in headless Chromium (`web/e2e/bundles.e2e.mjs`,
//! driven by `playwright-core`) between two real servers: A holds two uploaded provider
//! packages and an uploaded module; B is offline with no upstream and holds nothing. In the
//! browser an admin exports everything from A (the download saved to a file), copies A's
//! signing key and downloads it as `.asc`, imports the bundle on B against that key (the
//! table shows every package and the module as "added"), then a copy with one byte of a
//! package flipped (refused, naming that entry, nothing imported); a viewer on A sees the key
//! and no export or import. Then B must serve what A serves, byte for byte. Screenshots at
//! 1280 and 390 px go to `web/e2e/screenshots/` (git-ignored).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Store, TestApp};
use tfmirror::domain::Role;

const ADMIN: &str = "operator";
const PASSWORD: &str = "bundle browser password";
const VIEWER: &str = "watcher";
const VIEWER_PASSWORD: &str = "viewer browser password";
const PROVIDER: &str = "/registry.terraform.io/example/thing";

/// The documents and the archives a client of the mirror reads for the uploaded provider,
/// and the module's version list and archive.
async fn served(app: &TestApp) -> Vec<(String, reqwest::StatusCode, Vec<u8>)> {
    let mut out = Vec::new();
    for path in [
        format!("{PROVIDER}/index.json"),
        format!("{PROVIDER}/1.0.0.json"),
        format!("{PROVIDER}/terraform-provider-thing_1.0.0_linux_amd64.zip"),
        format!("{PROVIDER}/terraform-provider-thing_1.0.0_darwin_arm64.zip"),
        "/v1/modules/example/net/aws/versions".into(),
        "/v1/modules/example/net/aws/1.0.0/archive.tar.gz".into(),
    ] {
        let res = app.get(&path).await;
        let status = res.status();
        out.push((path, status, res.bytes().await.unwrap().to_vec()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_carries_a_mirror_to_an_offline_one_in_the_browser_and_a_tampered_bundle_is_refused()
 {
    let web = crate::common::repo_path("web");
    assert!(
        web.join("dist/index.html").exists() && web.join("node_modules/playwright-core").exists(),
        "the UI is not built: run `cd web && npm ci && npm run build` (scripts/test.sh does)"
    );
    let chromium = std::env::var("TFM_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (scripts/test.sh does)"
    );

    // Both servers speak to no one but the test.
    let isolated = |c: &mut tfmirror::config::Config| {
        c.offline = true;
        c.upstream.clear();
    };
    let a = TestApp::spawn_with(Store::Local, isolated).await;
    let b = TestApp::spawn_with(Store::Local, isolated).await;
    for platform in ["linux_amd64", "darwin_arm64"] {
        a.add(
            "example/thing",
            "1.0.0",
            platform,
            &crate::common::provider_zip(&format!("bundles {platform}")),
        )
        .await;
    }
    let token = a.admin_token().await;
    let form = reqwest::multipart::Form::new()
        .text("namespace", "example")
        .text("name", "net")
        .text("system", "aws")
        .text("version", "1.0.0")
        .part(
            "file",
            reqwest::multipart::Part::bytes(crate::common::modules::tar_gz(
                &[("main.tf", "# the network\n")],
                None,
            ))
            .file_name("net.tar.gz"),
        );
    let res = a
        .client
        .post(a.url("/api/v1/modules"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    for app in [&a, &b] {
        app.create_user(ADMIN, PASSWORD, Role::Admin).await;
    }
    a.create_user(VIEWER, VIEWER_PASSWORD, Role::Viewer).await;
    let before = served(&b).await;
    assert!(
        before
            .iter()
            .all(|(_, status, _)| *status == reqwest::StatusCode::NOT_FOUND),
        "B starts empty: {:?}",
        before.iter().map(|(p, s, _)| (p, s)).collect::<Vec<_>>()
    );

    let work = tempfile::tempdir().unwrap();
    let log_path = work.path().join("browser.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new("node")
        .arg("e2e/bundles.e2e.mjs")
        .current_dir(&web)
        .env("TFM_A_URL", &a.base)
        .env("TFM_B_URL", &b.base)
        .env("TFM_USER", ADMIN)
        .env("TFM_PASSWORD", PASSWORD)
        .env("TFM_VIEWER", VIEWER)
        .env("TFM_VIEWER_PASSWORD", VIEWER_PASSWORD)
        .env(
            "TFM_EXPECT_ITEMS",
            "registry.terraform.io/example/thing 1.0.0 linux_amd64\n\
             registry.terraform.io/example/thing 1.0.0 darwin_arm64\n\
             registry.terraform.io/example/net/aws 1.0.0",
        )
        .env("TFM_WORK_DIR", work.path())
        .env("TFM_CHROMIUM", &chromium)
        .env("TFM_SCREENSHOTS", web.join("e2e/screenshots"))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("node runs");
    // Bounded: past the deadline the browser scenario is stopped by its PID.
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser scenario did not finish within 4 minutes:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "browser scenario failed:\n{output}");
    println!("{output}");

    // What the browser saved is a bundle: the manifest and its signature first.
    let bundle = std::fs::read(work.path().join("a.bundle")).expect("the saved download");
    let names: Vec<String> = tar::Archive::new(&bundle[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names[..2],
        ["manifest.json", "manifest.json.sig"],
        "{names:?}"
    );
    assert_eq!(names.len(), 5, "two packages and a module: {names:?}");
    let key = std::fs::read_to_string(work.path().join("a.asc")).expect("the saved key");
    assert_eq!(key.trim(), a.state.signing_key.armored_public.trim());

    // B serves what A serves, byte for byte (the refused bundle changed nothing).
    let (from_a, from_b) = (served(&a).await, served(&b).await);
    for ((path, status_a, body_a), (_, status_b, body_b)) in from_a.iter().zip(&from_b) {
        assert_eq!(status_a, &reqwest::StatusCode::OK, "A: {path}");
        assert_eq!(status_b, status_a, "B: {path}");
        assert!(
            body_a == body_b,
            "B serves other bytes for {path}:\nA: {}\nB: {}",
            String::from_utf8_lossy(body_a),
            String::from_utf8_lossy(body_b)
        );
    }
    let imports: Vec<String> = on_db!(&b.state.db, p => sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'bundle.%'",
    )
    .fetch_all(p)
    .await)
    .unwrap();
    assert_eq!(
        imports,
        ["bundle.import"],
        "one import, the refused one not"
    );
}
