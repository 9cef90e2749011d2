//! The admin UI end to end in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `web/e2e/ui.e2e.mjs`) against the real server and the in-process
//! fake upstream: the first admin made through the setup link, a definitions file with an
//! error flagged at its line, fixed, previewed, enqueued, the job watched to success, the
//! provider found, a version blocked and gone from the mirror's `index.json`, the "Use this
//! mirror" page over plain HTTP (a warning, no block) and on a second server with an https
//! `public_url` (the block with it), log out. Screenshots of every page at 1280 and 390 px go
//! to `web/e2e/screenshots/` (git-ignored). `scripts/test.sh` installs Chromium and the npm
//! packages and builds the UI first.

use std::process::Command;
use std::time::Duration;

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_loads_watches_finds_and_blocks_a_provider_in_the_browser() {
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

    let fake = FakeRegistry::start().await;
    for v in ["3.2.0", "3.2.1"] {
        fake.publish("hashicorp", "null", v, &["linux_amd64", "darwin_arm64"]);
    }
    let app = TestApp::spawn_with(Store::Local, |c| {
        crate::common::set_upstream(c, &fake.base_url, |_| {});
        c.worker.poll_interval_ms = 50;
    })
    .await;
    // No admin yet: the browser creates "operator" through the setup link the server made
    // (its host made the one the browser uses, so the session is for this origin).
    let password = "browser test password";
    let setup_url = app
        .setup_link
        .clone()
        .expect("a fresh server has a setup link")
        .replace("http://localhost:", "http://127.0.0.1:");
    // A second server on the same database, as behind a TLS-terminating proxy at a public
    // address: its "Use this mirror" page must hand out that address.
    let public_url = "https://mirror.example.test/";
    let data_dir = app.state.config.data_dir.clone();
    let behind_proxy = TestApp::spawn_with(Store::Local, |c| {
        c.data_dir = data_dir;
        c.worker.enabled = false;
        c.server.public_url = Some(public_url.into());
    })
    .await;

    let screenshots = web.join("e2e/screenshots");
    let base = app.base.clone();
    let behind_proxy_base = behind_proxy.base.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("e2e/ui.e2e.mjs")
            .current_dir(&web)
            .env("TFM_BASE_URL", base)
            .env("TFM_USER", "operator")
            .env("TFM_PASSWORD", password)
            .env("TFM_SETUP_URL", setup_url)
            .env("TFM_PUBLIC_BASE_URL", behind_proxy_base)
            .env("TFM_PUBLIC_URL", public_url)
            .env("TFM_CHROMIUM", chromium)
            .env("TFM_SCREENSHOTS", &screenshots)
            .output()
            .expect("node runs")
    });
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser test finishes within 5 minutes")
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "browser scenario failed:\n{log}");
    println!("{log}");

    // What the browser did reached the server.
    let status: String = sqlx::query_scalar(
        "SELECT v.status FROM provider_versions v JOIN providers p ON p.id = v.provider_id
         WHERE p.namespace = 'hashicorp' AND p.type = 'null' AND v.version = '3.2.1'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(status, "blocked");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'user:operator'")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    for a in [
        "user.create",
        "auth.login",
        "job.create",
        "version.status",
        "auth.logout",
    ] {
        assert!(actions.contains(&a.to_owned()), "{a} missing: {actions:?}");
    }
    let res = app
        .get("/registry.terraform.io/hashicorp/null/index.json")
        .await;
    assert_eq!(
        res.status(),
        reqwest::StatusCode::NOT_FOUND,
        "the blocked version is gone"
    );
}

#[tokio::test]
async fn the_ui_is_served_with_spa_fallback_caching_and_security_headers() {
    let app = TestApp::spawn(Store::Local).await;
    let res = app.get("/").await;
    assert_eq!(res.status(), reqwest::StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/ui/");

    let index = app.get("/ui/").await;
    assert_eq!(
        index.status(),
        reqwest::StatusCode::OK,
        "web/dist must be built"
    );
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-eval"));
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let html = index.text().await.unwrap();
    assert!(
        html.contains("<div id=\"app\">") || html.contains("id=\"app\""),
        "{html}"
    );

    // A deep link (with dots that look like an extension) gets the app.
    let deep = app
        .get("/ui/providers/registry.terraform.io/hashicorp/aws")
        .await;
    assert_eq!(deep.status(), reqwest::StatusCode::OK);
    assert_eq!(deep.text().await.unwrap(), html);

    // Hashed assets are immutable; a missing one is a 404, not the app.
    let asset = html
        .split('"')
        .find(|s| s.starts_with("/ui/assets/") && s.ends_with(".js"))
        .expect("index.html references a hashed script")
        .to_owned();
    let res = app.get(&asset).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(
        app.get("/ui/assets/nope-123.js").await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
}
