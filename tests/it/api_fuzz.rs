//! schemathesis drives the admin API from its OpenAPI document, as an admin and as a viewer:
//! no 5xx, no status code or body the document does not allow, no answer slower than 5 s.
//! Bounded (a fixed seed, 25 s a role) so it fits the test command; a longer run with a
//! random seed: `TFM_API_FUZZ_SECONDS=600 cargo nextest run -E 'test(/schemathesis/)'`.

use std::process::Command;

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp, provider_zip, repo_path};

fn schemathesis() -> std::path::PathBuf {
    let st = repo_path(".tools/venv/bin/st");
    assert!(
        st.exists(),
        "schemathesis is missing: scripts/install-test-tools.sh installs it into .tools/venv"
    );
    st
}

async fn session(app: &TestApp, name: &str, password: &str) -> String {
    let res = app.login(name, password).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    res.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_or_undocumented_answer() {
    let st = schemathesis();
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let url = fake.base_url.clone();
    let app = TestApp::spawn_with(Store::Local, move |c| {
        crate::common::set_upstream(c, &url, |_| {});
        c.worker.enabled = false;
    })
    .await;
    // Something to find: a provider with a package.
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &provider_zip("fuzz"),
    )
    .await;
    app.create_user(
        "root",
        "an admin password 123",
        tfmirror::domain::Role::Admin,
    )
    .await;
    app.create_user(
        "watcher",
        "a viewer password 123",
        tfmirror::domain::Role::Viewer,
    )
    .await;
    let seconds: u64 = std::env::var("TFM_API_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    // Both sessions first: fuzzing the login route soon throttles this address.
    let sessions = [
        (
            "admin",
            session(&app, "root", "an admin password 123").await,
        ),
        (
            "viewer",
            session(&app, "watcher", "a viewer password 123").await,
        ),
    ];
    for (role, token) in sessions {
        let base = app.base.clone();
        let st = st.clone();
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new(st);
            cmd.arg("run")
                .arg(format!("{base}/api/v1/openapi.yaml"))
                .args(["--url", &base])
                .args(["-H", &format!("Authorization: Bearer {token}")])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                ])
                .args(["--max-time", &seconds.to_string()])
                .args(["--max-response-time", "5"])
                // One worker: with two, hypothesis describing a strategy's lambda for the
                // first time (`ast.parse` of a schemathesis module on a worker thread) hit
                // CPython 3.11's "SystemError: AST constructor recursion depth mismatch".
                .args(["--workers", "1"])
                // The session must outlive the run: no logout, no revoking its own sessions.
                .args(["--exclude-path", "/api/v1/auth/logout"])
                .args(["--exclude-path-regex", "revoke-sessions|/password$"])
                .args(["--no-color"])
                .env("SCHEMATHESIS_HOOKS", "")
                .env_remove("HTTP_PROXY")
                .env_remove("HTTPS_PROXY");
            if std::env::var("TFM_API_FUZZ_SECONDS").is_err() {
                cmd.args(["--seed", "20261201"]);
            }
            cmd.output().unwrap()
        })
        .await
        .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "schemathesis as {role} failed:\n{text}"
        );
        assert!(
            text.contains(" passed"),
            "schemathesis as {role} ran nothing:\n{text}"
        );
    }
}
