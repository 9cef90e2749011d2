//! The admin API: authentication (sessions, API tokens, throttling, token tampering), roles on
//! every route of the OpenAPI document, the audit log, masked configuration, and bad input.

mod auth;
mod jobs;
mod modules;
mod providers;
mod setup;
mod sso;
mod users;

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tfmirror::config::{Config, UpstreamConfig};
use tfmirror::domain::Role;

pub(super) const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub(super) const VIEWER_PASSWORD: &str = "viewer password 12345";
pub(super) const JWT_SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

pub(super) async fn app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.auth.jwt_secret = tfmirror::config::Secret::new(JWT_SECRET);
        c.worker.poll_interval_ms = 50;
        tweak(c);
    })
    .await;
    for (name, password, role) in [
        ("alice", ADMIN_PASSWORD, Role::Admin),
        ("victor", VIEWER_PASSWORD, Role::Viewer),
    ] {
        let hash = tfmirror::auth::password::hash(password.into())
            .await
            .unwrap();
        tfmirror::db::users::create_user(&app.state.db, name, &hash, role, 0)
            .await
            .unwrap()
            .unwrap();
    }
    app
}

/// `app_with` whose `registry.terraform.io` upstream is the fake.
pub(super) async fn app_upstream(fake: &FakeRegistry) -> TestApp {
    let url = fake.base_url.clone();
    app_with(move |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            UpstreamConfig {
                url: Some(url),
                ..Default::default()
            },
        );
    })
    .await
}

pub(super) async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

pub(super) async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let res = login(app, username, password).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(super) async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

pub(super) async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let res = call(app, reqwest::Method::GET, path, Some(token), None).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(super) async fn audit_actions(app: &TestApp) -> Vec<String> {
    on_db!(&app.state.db, p => sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(p)
        .await)
    .unwrap()
}

pub(super) fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Every file below `dir`.
pub(super) fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
