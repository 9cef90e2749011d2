//! The admin API: authentication (sessions, API tokens, throttling, token tampering), roles on
//! every route of the OpenAPI document, the audit log, masked configuration, and bad input.

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tfmirror::config::{Config, UpstreamConfig};
use tfmirror::domain::Role;

const ADMIN_PASSWORD: &str = "correct horse battery staple";
const VIEWER_PASSWORD: &str = "viewer password 12345";
const JWT_SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

async fn app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
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
async fn app_upstream(fake: &FakeRegistry) -> TestApp {
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

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let res = login(app, username, password).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn call(
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

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let res = call(app, reqwest::Method::GET, path, Some(token), None).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap()
}

/// Every operation in the OpenAPI document, with sample path parameters.
fn documented_routes() -> Vec<(reqwest::Method, String, bool)> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(tfmirror::http::api::OPENAPI).expect("openapi.yaml parses");
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_mapping().unwrap() {
        let path = path
            .as_str()
            .unwrap()
            .replace("{hostname}", "registry.terraform.io")
            .replace("{namespace}", "hashicorp")
            .replace("{type}", "null")
            .replace("{version}", "1.0.0")
            .replace("{id}", "1");
        for (method, op) in ops.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method == "parameters" {
                continue;
            }
            let public = op["security"].as_sequence().is_some_and(|s| s.is_empty());
            out.push((method.to_uppercase().parse().unwrap(), path.clone(), public));
        }
    }
    out
}

#[tokio::test]
async fn every_documented_route_needs_a_token_and_mutating_ones_need_the_admin_role() {
    let app = app_with(|_| {}).await;
    let viewer = token(&app, "victor", VIEWER_PASSWORD).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let routes = documented_routes();
    assert!(routes.len() >= 25, "{} routes documented", routes.len());
    let mut mutating = 0;
    for (method, path, public) in &routes {
        if *public {
            continue;
        }
        let res = call(&app, method.clone(), path, None, None).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "unauthorized", "{method} {path}");

        let res = call(&app, method.clone(), path, Some("not-a-token"), None).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} with garbage"
        );

        if *method != reqwest::Method::GET && path != "/api/v1/auth/logout" {
            mutating += 1;
            let res = call(&app, method.clone(), path, Some(&viewer), Some(json!({}))).await;
            assert_eq!(
                res.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} as a viewer"
            );
        }
        // The route exists (the admin gets anything but the catch-all 404 or a 405).
        let res = call(&app, method.clone(), path, Some(&admin), Some(json!({}))).await;
        assert_ne!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        if res.status() == StatusCode::NOT_FOUND {
            let body: Value = res.json().await.unwrap();
            assert_ne!(
                body["message"], "no such API route",
                "{method} {path} is not implemented"
            );
        }
    }
    assert!(mutating >= 12, "{mutating} mutating routes checked");
    // Nothing a viewer tried changed anything.
    let actions = audit_actions(&app).await;
    assert!(
        !actions
            .iter()
            .any(|a| a == "user.create" || a == "token.create"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn login_me_logout_and_the_same_answer_for_unknown_users_and_wrong_passwords() {
    let app = app_with(|_| {}).await;
    let res = login(&app, "alice", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["user"].get("password_hash").is_none());
    let token = body["token"].as_str().unwrap().to_owned();

    let (status, me) = get(&app, "/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "alice");

    let wrong = login(&app, "alice", "wrong password!!").await;
    let unknown = login(&app, "mallory", "wrong password!!").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        unknown.json::<Value>().await.unwrap(),
        "no way to tell unknown users from wrong passwords"
    );

    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/auth/logout",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, "/api/v1/auth/me", &token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a token after logout is dead"
    );

    let actions = audit_actions(&app).await;
    for a in ["auth.login", "auth.login_failed", "auth.logout"] {
        assert!(
            actions.contains(&a.to_owned()),
            "{a} not audited: {actions:?}"
        );
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_user_with_retry_after() {
    let app = app_with(|c| {
        c.auth.max_failures = 3;
        c.auth.lockout_max_seconds = 60;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            login(&app, "alice", "not the password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = login(&app, "alice", ADMIN_PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "throttled");
    // The lockout passes.
    tokio::time::sleep(std::time::Duration::from_millis(1100 * retry)).await;
    assert_eq!(
        login(&app, "alice", ADMIN_PASSWORD).await.status(),
        StatusCode::OK
    );
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn expired_tampered_and_unsigned_tokens_are_refused() {
    let app = app_with(|_| {}).await;
    let good = token(&app, "alice", ADMIN_PASSWORD).await;
    assert_eq!(get(&app, "/api/v1/auth/me", &good).await.0, StatusCode::OK);
    let parts: Vec<&str> = good.split('.').collect();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();

    // Expired, correctly signed, live session.
    let mut expired = claims.clone();
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 10);
    let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes());
    let expired = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &expired, &key).unwrap();
    // Tampered: a claim changed, signature kept.
    let mut other = claims.clone();
    other["sub"] = json!("2");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(other.to_string().as_bytes()),
        parts[2]
    );
    // `alg: none`, no signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), parts[1]);
    // Algorithm switching: HS512 with the same secret.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &key,
    )
    .unwrap();
    // Another issuer's secret.
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"some other secret of enough length!!"),
    )
    .unwrap();
    for (what, t) in [
        ("expired", expired),
        ("tampered", tampered),
        ("alg none", none),
        ("HS512", hs512),
        ("foreign key", foreign),
    ] {
        assert_eq!(
            get(&app, "/api/v1/auth/me", &t).await.0,
            StatusCode::UNAUTHORIZED,
            "{what} token accepted"
        );
    }
    assert_eq!(get(&app, "/api/v1/auth/me", &good).await.0, StatusCode::OK);
}

#[tokio::test]
async fn api_tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/tokens",
        Some(&admin),
        Some(json!({ "name": "ci", "role": "viewer", "expires_in_days": 7 })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tfm_"));

    let (status, me) = get(&app, "/api/v1/auth/me", &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["kind"], "token");
    assert_eq!(me["role"], "viewer");
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/tokens",
        Some(&secret),
        Some(json!({"name": "x", "role": "admin"})),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a viewer token cannot mint tokens"
    );

    let (_, list) = get(&app, "/api/v1/tokens", &admin).await;
    assert!(
        !list.to_string().contains(&secret),
        "the secret is never listed"
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, vec![tfmirror::auth::token_hash(&secret)]);

    let id = created["id"].as_i64().unwrap();
    let res = call(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, "/api/v1/auth/me", &secret).await.0,
        StatusCode::UNAUTHORIZED
    );
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&"token.create".to_owned())
            && actions.contains(&"token.revoke".to_owned())
    );
}

#[tokio::test]
async fn passwords_are_argon2id_and_appear_nowhere_in_plain_text() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let new_password = "a brand new password 42";
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "username": "bob", "password": new_password, "role": "viewer" })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let user: Value = res.json().await.unwrap();
    assert!(user.get("password_hash").is_none());
    // Weak and duplicate.
    let weak = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "username": "carol", "password": "short", "role": "viewer" })),
    )
    .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let dup = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "username": "bob", "password": new_password, "role": "viewer" })),
    )
    .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);

    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 3);
    assert!(
        hashes.iter().all(|h| h.starts_with("$argon2id$")),
        "{hashes:?}"
    );
    // Checkpoint the WAL, then no file of the data directory holds a password.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&app.state.db)
        .await
        .unwrap();
    for entry in walk(app.dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in [ADMIN_PASSWORD, VIEWER_PASSWORD, new_password] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a password in plain text",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
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

#[tokio::test]
async fn the_config_endpoint_masks_every_secret() {
    let app = app_with(|c| {
        c.upstream.insert(
            "registry.example.com".into(),
            UpstreamConfig {
                token: tfmirror::config::Secret::new("upstream-token-value-xyz"),
                ..Default::default()
            },
        );
        c.storage.s3.secret_access_key = tfmirror::config::Secret::new("s3-secret-value-xyz");
    })
    .await;
    let viewer = token(&app, "victor", VIEWER_PASSWORD).await;
    let (status, config) = get(&app, "/api/v1/config", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let text = config.to_string();
    for secret in [
        "upstream-token-value-xyz",
        "s3-secret-value-xyz",
        JWT_SECRET,
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(config["auth"]["jwt_secret"], "********");
    assert_eq!(
        config["upstream"]["registry.example.com"]["token"],
        "********"
    );
}

#[tokio::test]
async fn users_can_be_disabled_reset_and_have_their_sessions_revoked() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let viewer = token(&app, "victor", VIEWER_PASSWORD).await;
    let (_, users) = get(&app, "/api/v1/users", &admin).await;
    let victor = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "victor")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/users/{victor}/revoke-sessions"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, "/api/v1/auth/me", &viewer).await.0,
        StatusCode::UNAUTHORIZED
    );

    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/users/{victor}/password"),
        Some(&admin),
        Some(json!({ "password": "the new viewer password" })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        login(&app, "victor", VIEWER_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let viewer = token(&app, "victor", "the new viewer password").await;

    let res = call(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/users/{victor}"),
        Some(&admin),
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        get(&app, "/api/v1/auth/me", &viewer).await.0,
        StatusCode::UNAUTHORIZED,
        "disabling ends sessions"
    );
    assert_eq!(
        login(&app, "victor", "the new viewer password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let actions = audit_actions(&app).await;
    for a in ["user.revoke_sessions", "user.password_reset", "user.update"] {
        assert!(actions.contains(&a.to_owned()), "{a}: {actions:?}");
    }
}

#[tokio::test]
async fn providers_can_be_listed_inspected_blocked_and_deleted_with_audit_rows() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let zip = crate::common::provider_zip("api");
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &zip,
    )
    .await;
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.0",
        "linux_amd64",
        &crate::common::provider_zip("old"),
    )
    .await;
    app.add(
        "registry.opentofu.org/hashicorp/random",
        "1.0.0",
        "linux_amd64",
        &crate::common::provider_zip("r"),
    )
    .await;
    // A download counts.
    assert_eq!(
        app.get(
            "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip"
        )
        .await
        .status(),
        StatusCode::OK
    );

    let (status, page) = get(&app, "/api/v1/providers?q=null", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["latest_version"], "3.2.1");
    assert_eq!(page["items"][0]["versions"], 2);
    let (_, page) = get(
        &app,
        "/api/v1/providers?hostname=registry.opentofu.org",
        &admin,
    )
    .await;
    assert_eq!(page["items"][0]["type"], "random");

    let (_, detail) = get(
        &app,
        "/api/v1/providers/registry.terraform.io/hashicorp/null",
        &admin,
    )
    .await;
    let v321 = &detail["versions"][0];
    assert_eq!(v321["version"], "3.2.1");
    let pkg = &v321["packages"][0];
    assert_eq!(pkg["sha256"], crate::common::sha256_hex(&zip));
    assert_eq!(pkg["h1"], crate::common::h1_reference(&zip));
    assert_eq!(pkg["source"], "upload");
    assert_eq!(pkg["downloads"], 1);

    let res = call(
        &app,
        reqwest::Method::PUT,
        "/api/v1/providers/registry.terraform.io/hashicorp/null/versions/3.2.1/status",
        Some(&admin),
        Some(json!({"status": "blocked"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let index: Value = app
        .get("/registry.terraform.io/hashicorp/null/index.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        index,
        json!({"versions": {"3.2.0": {}}}),
        "blocked is hidden at once"
    );

    let res = call(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/providers/registry.terraform.io/hashicorp/null/versions/3.2.0",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/null/index.json")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let res = call(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/providers/registry.opentofu.org/hashicorp/random",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (_, page) = get(&app, "/api/v1/providers", &admin).await;
    assert_eq!(page["total"], 1, "{page}");
    // The deleted archives' blobs are gone; the blocked version's is kept.
    let blobs = walk(&app.dir.path().join("blobs/sha256")).len();
    assert_eq!(blobs, 1);

    let (_, audit) = get(&app, "/api/v1/audit?action=version.status", &admin).await;
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["actor"], "user:alice");
    assert_eq!(
        audit["items"][0]["target"],
        "registry.terraform.io/hashicorp/null 3.2.1"
    );
    assert_eq!(audit["items"][0]["details"]["status"], "blocked");
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&"version.delete".to_owned())
            && actions.contains(&"provider.delete".to_owned())
    );

    let (_, stats) = get(&app, "/api/v1/stats", &admin).await;
    assert_eq!(stats["packages"], 1);
    let days = stats["downloads_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 30, "every day of the last 30, zeros included");
    assert_eq!(days[29]["day"], tfmirror::downloads::today());
    assert_eq!(days[29]["downloads"], 1);
    assert_eq!(days[0]["downloads"], 0);
}

#[tokio::test]
async fn bad_input_gets_the_right_4xx_and_changes_nothing() {
    let app = app_with(|c| c.limits.max_definitions_bytes = 4096).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &crate::common::provider_zip("x"),
    )
    .await;
    let before = audit_actions(&app).await.len();
    let raw = |method: reqwest::Method, path: &str, ctype: &str, body: Vec<u8>| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(&admin)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, reqwest::Response, StatusCode)> = vec![
        ("malformed JSON", raw(reqwest::Method::POST, "/api/v1/users", "application/json", b"{\"username\": ".to_vec()).await.unwrap(), StatusCode::BAD_REQUEST),
        ("oversized JSON", raw(reqwest::Method::POST, "/api/v1/users", "application/json", format!("{{\"username\":\"{}\"}}", "a".repeat(200_000)).into_bytes()).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE),
        ("oversized definitions", raw(reqwest::Method::POST, "/api/v1/definitions", "text/plain", vec![b'#'; 10_000]).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE),
        ("huge per_page", raw(reqwest::Method::GET, "/api/v1/providers?per_page=1000000", "text/plain", vec![]).await.unwrap(), StatusCode::BAD_REQUEST),
        ("overflowing page", raw(reqwest::Method::GET, "/api/v1/jobs?page=99999999999999999999999", "text/plain", vec![]).await.unwrap(), StatusCode::BAD_REQUEST),
        ("invalid address", raw(reqwest::Method::GET, "/api/v1/providers/bad..host/x/y", "text/plain", vec![]).await.unwrap(), StatusCode::BAD_REQUEST),
        ("invalid version", raw(reqwest::Method::PUT, "/api/v1/providers/registry.terraform.io/hashicorp/null/versions/3.2.1'--/status", "application/json", br#"{"status":"blocked"}"#.to_vec()).await.unwrap(), StatusCode::BAD_REQUEST),
        ("invalid status", raw(reqwest::Method::PUT, "/api/v1/providers/registry.terraform.io/hashicorp/null/versions/3.2.1/status", "application/json", br#"{"status":"gone"}"#.to_vec()).await.unwrap(), StatusCode::BAD_REQUEST),
        ("invalid definitions", raw(reqwest::Method::POST, "/api/v1/definitions", "text/plain", b"provider \"hashicorp/null\" {\n  versions = [\"not a version\"]\n  platforms = [\"linux_amd64\"]\n}\n".to_vec()).await.unwrap(), StatusCode::BAD_REQUEST),
    ];
    for (what, res, expected) in cases {
        assert_eq!(res.status(), expected, "{what}");
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(
            body["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{what}: {body}"
        );
        assert!(
            !body.to_string().to_lowercase().contains("sqlite"),
            "{what} leaks internals: {body}"
        );
        if what == "invalid definitions" {
            assert_eq!(body["errors"][0]["line"], 2, "{body}");
        }
    }
    // SQL metacharacters in a search are just text.
    for q in [
        "'; DROP TABLE providers; --",
        "%",
        "_",
        "\\",
        "\" OR 1=1 --",
    ] {
        let url = format!("/api/v1/providers?q={}", urlencode(q));
        let (status, page) = get(&app, &url, &admin).await;
        assert_eq!(status, StatusCode::OK, "{q}");
        assert_eq!(page["total"], 0, "{q} matched something: {page}");
    }
    let (_, page) = get(&app, "/api/v1/providers", &admin).await;
    assert_eq!(page["total"], 1, "nothing was dropped");
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(jobs, 0, "no job from bad definitions");
    assert_eq!(
        audit_actions(&app).await.len(),
        before,
        "nothing was audited: nothing changed"
    );
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn definitions_uploaded_through_the_api_run_to_completion() {
    let fake = FakeRegistry::start().await;
    fake.publish(
        "hashicorp",
        "null",
        "3.2.1",
        &["linux_amd64", "darwin_arm64"],
    );
    let app = app_upstream(&fake).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let defs = "provider \"hashicorp/null\" {\n  versions  = [\"~> 3.2\"]\n  platforms = [\"linux_amd64\", \"darwin_arm64\", \"windows_amd64\"]\n}\n";
    let post = |dry: bool| {
        app.client
            .post(app.url(&format!("/api/v1/definitions?dry_run={dry}")))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body(defs)
            .send()
    };
    let res = post(true).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let plan: Value = res.json().await.unwrap();
    assert_eq!(plan["items"][0]["version"], "3.2.1");
    assert_eq!(plan["total_packages"], 2);
    assert!(
        plan["problems"][0]
            .as_str()
            .unwrap()
            .contains("windows_amd64"),
        "{plan}"
    );
    assert_eq!(
        audit_actions(&app)
            .await
            .iter()
            .filter(|a| *a == "job.create")
            .count(),
        0
    );

    let res = post(false).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let job = created["job"]["id"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, detail) = get(&app, &format!("/api/v1/jobs/{job}"), &admin).await;
        if detail["job"]["pending"] == 0 && detail["job"]["running"] == 0 {
            assert_eq!(detail["job"]["succeeded"], 2, "{detail}");
            assert_eq!(detail["job"]["created_by"], "user:alice");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job never finished: {detail}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The event stream replays the finished job and ends.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{job}/events?access_token={admin}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = res.text().await.unwrap();
    assert!(text.starts_with("event: progress\ndata: {"), "{text}");
    assert!(text.contains("\"succeeded\":2"), "{text}");
    assert!(audit_actions(&app).await.contains(&"job.create".to_owned()));
}

#[tokio::test]
async fn a_package_upload_is_hashed_and_stored_like_an_import() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let upload = |zip: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("namespace", "example")
            .text("type", "thing")
            .text("version", "1.0.0")
            .text("platform", "linux_amd64")
            .part(
                "file",
                reqwest::multipart::Part::bytes(zip).file_name("thing.zip"),
            );
        app.client
            .post(app.url("/api/v1/packages"))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
    };
    let zip = crate::common::provider_zip("uploaded");
    let res = upload(zip.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["h1"], crate::common::h1_reference(&zip));
    assert_eq!(
        body["zh"],
        format!("zh:{}", crate::common::sha256_hex(&zip))
    );
    assert_eq!(body["source"], "upload");
    assert_eq!(
        upload(zip.clone()).await.unwrap().status(),
        StatusCode::OK,
        "idempotent"
    );
    let res = upload(crate::common::provider_zip("different"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "never replaces stored bytes"
    );
    let res = upload(b"not a zip at all".to_vec()).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let served = app
        .get("/registry.terraform.io/example/thing/terraform-provider-thing_1.0.0_linux_amd64.zip")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(served, zip, "the first upload is what is served");
    let uploads = audit_actions(&app)
        .await
        .into_iter()
        .filter(|a| a == "package.upload")
        .count();
    assert_eq!(uploads, 1);
}

/// `tfmirror create-admin`, then a real server process: its log never shows a password or a
/// token, even at debug level, even for the event stream's `?access_token=`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_refuses_weak_and_taken_names_and_logs_never_hold_secrets() {
    use crate::common::child::tfmirror;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = dir.path().join("tfmirror.hcl");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nserver {{\n  listen = \"127.0.0.1:{port}\"\n}}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let create = |password: &str| {
        tfmirror(&config)
            .args(["create-admin", "--username", "root"])
            .env("TFM_ADMIN_PASSWORD", password)
            .output()
            .unwrap()
    };
    let weak = create("short");
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12"));
    let ok = create(ADMIN_PASSWORD);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let again = create(ADMIN_PASSWORD);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let log = dir.path().join("server.log");
    let server = crate::common::child::KillOnDrop(
        tfmirror(&config)
            .arg("serve")
            .env("RUST_LOG", "debug")
            .stdout(std::fs::File::create(dir.path().join("server.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "server did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let res = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "root", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "root", "password": "a wrong password here" }))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    let res = client
        .get(format!("{base}/api/v1/jobs/1/events?access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("/api/v1/auth/login"),
        "the log has the requests:\n{text}"
    );
    for secret in [ADMIN_PASSWORD, "a wrong password here", token.as_str()] {
        assert!(!text.contains(secret), "the log holds a secret:\n{text}");
    }
}

#[tokio::test]
async fn job_cancel_and_retry_through_the_api_are_audited() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    // Every archive request fails permanently: the item fails, then can be retried.
    fake.inject(
        crate::common::fake_registry::Target::Archive {
            namespace: "hashicorp".into(),
            ptype: "null".into(),
            version: "3.2.1".into(),
            platform: "linux_amd64".into(),
        },
        crate::common::fake_registry::Fault::Status(404),
        1,
    );
    let app = app_upstream(&fake).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let res = app
        .client
        .post(app.url("/api/v1/definitions"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain; charset=utf-8")
        .body("provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let job = res.json::<Value>().await.unwrap()["job"]["id"]
        .as_i64()
        .unwrap();
    let wait_status = |want: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let (_, d) = get(app, &format!("/api/v1/jobs/{job}"), &admin).await;
                if d["job"]["status"] == want {
                    return d;
                }
                assert!(std::time::Instant::now() < deadline, "never {want}: {d}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let failed = wait_status("failed").await;
    assert!(
        failed["items"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("404"),
        "{failed}"
    );
    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/jobs/{job}/retry"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    wait_status("succeeded").await;
    let res = call(
        &app,
        reqwest::Method::POST,
        &format!("/api/v1/jobs/{job}/cancel"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/jobs/999/cancel",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/users",
        Some(&admin),
        Some(json!({ "username": "carol", "password": "carol's long password", "role": "viewer" })),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let actions = audit_actions(&app).await;
    for a in ["job.create", "job.retry", "job.cancel", "user.create"] {
        assert!(actions.contains(&a.to_owned()), "{a}: {actions:?}");
    }
}
