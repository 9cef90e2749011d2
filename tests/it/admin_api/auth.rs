//! Sessions, API tokens, throttling, tampered tokens, roles on every documented route, and
//! secrets that never reach a file or a log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

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
    let stored: Vec<String> =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(p)
        .await)
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

    let hashes: Vec<String> =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_all(p)
        .await)
        .unwrap();
    assert_eq!(hashes.len(), 3);
    assert!(
        hashes.iter().all(|h| h.starts_with("$argon2id$")),
        "{hashes:?}"
    );
    // Checkpoint the WAL (SQLite), then no file of the data directory holds a password.
    if let tfmirror::db::Pool::Sqlite(p) = &app.state.db {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(p)
            .await
            .unwrap();
    }
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

/// `tfmirror create-admin`, then a real server process: its log never shows a password or a
/// token, even at debug level, even for a token put in a query string (which is refused).
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
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a token in the URL is not a credential"
    );
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

async fn login_from(
    app: &TestApp,
    forwarded_for: &str,
    username: &str,
    password: &str,
) -> StatusCode {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Behind a trusted proxy every client has its own address: an attacker guessing alice's
/// password from one address locks out only that address's guesses, not alice logging in from
/// hers, and not bob.
#[tokio::test]
async fn behind_a_trusted_proxy_one_client_cannot_lock_others_out() {
    let app = app_with(|c| {
        c.auth.max_failures = 3;
        c.server.trusted_proxies = vec![tfmirror::domain::IpRange::parse("127.0.0.1").unwrap()];
    })
    .await;
    let attacker = "203.0.113.66";
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, attacker, "alice", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, attacker, "alice", "guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "198.51.100.20", "alice", ADMIN_PASSWORD).await,
        StatusCode::OK,
        "alice, from her own address, is not locked out"
    );
    assert_eq!(
        login_from(&app, "198.51.100.21", "victor", VIEWER_PASSWORD).await,
        StatusCode::OK
    );
    // The address a failure is recorded under is the client's, not the proxy's.
    let (_, audit) = get(
        &app,
        "/api/v1/audit?action=auth.login_failed",
        &token(&app, "alice", ADMIN_PASSWORD).await,
    )
    .await;
    assert!(audit.to_string().contains(attacker), "{audit}");
}

/// Without trusted proxies (the default) forwarding headers are ignored: a client cannot
/// dodge its throttle by inventing a new address for every guess.
#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_ignored() {
    let app = app_with(|c| c.auth.max_failures = 3).await;
    for i in 0..3 {
        login_from(&app, &format!("192.0.2.{i}"), "alice", "guess").await;
    }
    assert_eq!(
        login_from(&app, "192.0.2.200", "alice", ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Failures are counted within a window: after a quiet period the count starts again, so a
/// user who mistyped a few times yesterday is not locked out at the first typo today.
#[tokio::test]
async fn failure_counts_decay_after_a_quiet_window() {
    let app = app_with(|c| {
        c.auth.max_failures = 2;
        c.auth.failure_window_seconds = 1;
    })
    .await;
    for _ in 0..2 {
        login(&app, "alice", "typo").await;
    }
    assert_eq!(
        login(&app, "alice", "typo").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(
        login(&app, "alice", "typo").await.status(),
        StatusCode::UNAUTHORIZED,
        "the first failure after the window is counted afresh"
    );
    assert_eq!(
        login(&app, "alice", ADMIN_PASSWORD).await.status(),
        StatusCode::OK,
        "and does not lock"
    );
}
