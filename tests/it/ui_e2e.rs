//! The admin UI end to end in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `web/e2e/ui.e2e.mjs`) against the real server and the in-process
//! fake upstream: the first admin made through the setup link, a definitions file with an
//! error flagged at its line, fixed, previewed, enqueued, the job watched to success, the
//! provider locked on the Lock file page (two platforms, downloaded; an unsatisfiable
//! constraint shows the server's message), the provider found, a version blocked and gone from the mirror's `index.json`, an in-house
//! module uploaded twice, found, a version blocked and gone from its `/versions`, the "Use this
//! mirror" page over plain HTTP (a warning, no block) and on a second server with an https
//! `public_url` (the block with it), log out; then single sign-on against a real OpenID
//! provider (npm `oidc-provider`): an admin and a viewer by their groups, a user in no
//! allowed group refused with a clear page, a tampered and an expired ID token refused. Screenshots of every page at 1280 and 390 px go
//! to `web/e2e/screenshots/` (git-ignored). `scripts/test.sh` installs Chromium and the npm
//! packages and builds the UI first.

use std::process::Command;
use std::time::Duration;

use crate::common::fake_registry::{FakeRegistry, Fault, Target};
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
    // A job that goes wrong, for the counters after a retry and a cancel: one package is
    // tampered with (it fails verification at every attempt), the other's download hangs
    // (running until cancelled).
    fake.publish(
        "hashicorp",
        "random",
        "3.6.0",
        &["linux_amd64", "darwin_arm64"],
    );
    fake.inject(
        Target::archive("hashicorp", "random", "3.6.0", "linux_amd64"),
        Fault::TamperedArchive,
        1000,
    );
    fake.inject(
        Target::archive("hashicorp", "random", "3.6.0", "darwin_arm64"),
        Fault::Delay(Duration::from_secs(120)),
        1000,
    );
    // A real OpenID provider (npm oidc-provider, web/e2e/oidc-provider.mjs) on a port picked
    // first, so that the server's configuration can name its issuer before it starts.
    let op_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{op_port}");
    let client_secret = tfmirror::auth::oidc::random_token();
    let app = TestApp::spawn_with(Store::Local, |c| {
        crate::common::set_upstream(c, &fake.base_url, |_| {});
        c.worker.poll_interval_ms = 50;
        c.auth.oidc = Some(tfmirror::config::OidcConfig {
            issuer: issuer.clone(),
            client_id: "tfmirror".into(),
            client_secret: tfmirror::config::Secret::new(client_secret.clone()),
            scopes: ["openid", "profile", "email", "groups"]
                .map(String::from)
                .to_vec(),
            admin_groups: vec!["tfm-admins".into()],
            viewer_groups: vec!["tfm-viewers".into()],
            display_name: "Test SSO".into(),
            ..Default::default()
        });
    })
    .await;
    let _provider = start_openid_provider(
        &web,
        op_port,
        &client_secret,
        &format!("{}/api/v1/auth/oidc/callback", app.base),
    );
    // No admin yet: the browser creates "operator" through the setup link the server made
    // (its host made the one the browser uses, so the session is for this origin).
    let password = "browser test password";
    let setup_url = app
        .setup_link
        .clone()
        .expect("a fresh server has a setup link")
        .replace("http://localhost:", "http://127.0.0.1:");
    // A second server on the same database, over HTTPS and with a public address (as behind
    // a load balancer): its "Use this mirror" page must hand out that address.
    let public_url = "https://mirror.example.test/";
    let data_dir = app.state.config.data_dir.clone();
    let behind_proxy = TestApp::spawn_with(Store::Local, |c| {
        let tls = tfmirror::tls::ensure_self_signed(&data_dir, &[]).expect("a certificate");
        c.server.tls = Some(tfmirror::config::TlsConfig {
            cert_file: tls.cert,
            key_file: tls.key,
        });
        c.data_dir = data_dir;
        c.worker.enabled = false;
        c.server.public_url = Some(public_url.into());
    })
    .await;
    assert!(
        behind_proxy.base.starts_with("https://"),
        "{}",
        behind_proxy.base
    );

    let screenshots = web.join("e2e/screenshots");
    let base = app.base.clone();
    let behind_proxy_base = behind_proxy.base.clone();
    let control_url = issuer.clone();
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
            .env("TFM_OIDC_CONTROL_URL", control_url)
            .env("TFM_FAILING_PROVIDER", "hashicorp/random 3.6.0")
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
    let status: String = on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT v.status FROM provider_versions v JOIN providers p ON p.id = v.provider_id
         WHERE p.namespace = 'hashicorp' AND p.type = 'null' AND v.version = '3.2.1'",
    )
    .fetch_one(p)
    .await)
    .unwrap();
    assert_eq!(status, "blocked");
    let actions: Vec<String> =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'user:operator'")
            .fetch_all(p)
            .await)
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
    // Single sign-on made accounts for the two users in an allowed group, with their roles,
    // keyed by the provider's subject; the one in no group got none, and was audited.
    let sso: Vec<(String, String, Option<String>)> =
        on_db!(&app.state.db, p => sqlx::query_as("SELECT username, role, oidc_subject FROM users ORDER BY username")
            .fetch_all(p)
            .await)
            .unwrap();
    let of = |name: &str| sso.iter().find(|(u, _, _)| u == name).cloned();
    assert_eq!(
        of("alice").map(|(_, r, s)| (r, s)),
        Some(("admin".into(), Some(format!("{issuer}#alice"))))
    );
    assert_eq!(of("bob").map(|(_, r, _)| r), Some("viewer".into()));
    assert_eq!(of("eve"), None, "{sso:?}");
    let refused: Vec<String> = on_db!(&app.state.db, p => sqlx::query_scalar(
        "SELECT details FROM audit_log WHERE action = 'auth.login_failed' AND actor LIKE 'sso:%'",
    )
    .fetch_all(p)
    .await)
    .unwrap();
    for reason in ["none of the groups", "signature", "expired"] {
        assert!(
            refused.iter().any(|r| r.contains(reason)),
            "a refusal for {reason:?} is audited: {refused:?}"
        );
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

/// `node e2e/oidc-provider.mjs` on `port` with one confidential client, killed when dropped;
/// returns once it listens.
fn start_openid_provider(
    web: &std::path::Path,
    port: u16,
    client_secret: &str,
    redirect_uri: &str,
) -> crate::common::child::KillOnDrop {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("node")
        .arg("e2e/oidc-provider.mjs")
        .current_dir(web)
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_CLIENT_ID", "tfmirror")
        .env("OIDC_CLIENT_SECRET", client_secret)
        .env("OIDC_REDIRECT_URI", redirect_uri)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("node runs the OpenID provider");
    let stdout = child.stdout.take().unwrap();
    let child = crate::common::child::KillOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("oidc-provider listening on ") => return child,
            Ok(_) => continue,
            Err(_) => panic!("the OpenID provider did not start within 30 s"),
        }
    }
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
