//! The first admin: while none exists, `serve` makes a one-time setup link (random, valid
//! for a limited time, single use) that the UI's setup page spends to create the account and
//! log in. Every other attempt is refused and changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Store, TestApp};

const PASSWORD: &str = "first admin password";

fn token_of(link: &str) -> String {
    link.split_once("#token=")
        .map(|(_, t)| t.to_owned())
        .unwrap_or_else(|| panic!("no #token= fragment in {link}"))
}

async fn setup(app: &TestApp, token: &str, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/setup"))
        .json(&json!({ "token": token, "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn users(app: &TestApp) -> i64 {
    on_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(p)
        .await)
    .unwrap()
}

async fn about(app: &TestApp) -> Value {
    let res = app.get("/api/v1/about").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once_and_logs_them_in() {
    let app = TestApp::spawn(Store::Local).await;
    let link = app.setup_link.clone().expect("no admin: a setup link");
    assert!(
        link.starts_with(&format!(
            "{}/ui/setup#token=",
            app.base.replace("127.0.0.1", "localhost")
        )),
        "{link}"
    );
    let token = token_of(&link);
    assert!(token.len() >= 64, "256 random bits: {token}");
    assert_eq!(
        about(&app).await,
        json!({ "public_url": null, "https": false, "setup_required": true, "sso": null })
    );

    // Wrong tokens, bad names and weak passwords create nothing.
    let res = setup(&app, &"0".repeat(64), "root", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("invalid, expired or already used"),
        "{body}"
    );
    let res = setup(&app, &token, "", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = setup(&app, &token, "root", "short").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("characters"),
        "{body}"
    );
    assert_eq!(users(&app).await, 0);

    // The real one: an admin, logged in.
    let res = setup(&app, &token, "root", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "root");
    assert_eq!(body["user"]["role"], "admin");
    let me: Value = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(body["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "root");
    assert_eq!(me["role"], "admin");
    assert_eq!(app.login("root", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(about(&app).await["setup_required"], false);

    // Single use: the same link (or any other) does nothing now.
    let res = setup(&app, &token, "mallory", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(users(&app).await, 1);
    let left: i64 =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM setup_tokens")
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(left, 0, "using a link spends every link");
    let actions: Vec<String> =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = 'user:root' ORDER BY id")
            .fetch_all(p)
            .await)
            .unwrap();
    assert!(
        actions.starts_with(&["user.create".to_owned(), "auth.login".to_owned()]),
        "{actions:?}"
    );
}

#[tokio::test]
async fn an_expired_setup_link_is_refused_and_a_restart_with_an_admin_makes_none() {
    let app = TestApp::spawn(Store::Local).await;
    let now = tfmirror::clock::now();
    let expired = "e".repeat(64);
    tfmirror::db::users::create_setup_token(
        &app.state.db,
        &tfmirror::auth::token_hash(&expired),
        now - 7200,
        now - 1,
    )
    .await
    .unwrap();
    let res = setup(&app, &expired, "root", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(users(&app).await, 0);

    // With an admin, the next start prints no link.
    app.create_user("root", PASSWORD, tfmirror::domain::Role::Admin)
        .await;
    let data_dir = app.state.config.data_dir.clone();
    let again = TestApp::spawn_with(Store::Local, |c| c.data_dir = data_dir).await;
    assert_eq!(again.setup_link, None);
    assert_eq!(about(&again).await["setup_required"], false);
}

#[tokio::test]
async fn about_names_the_public_url_with_one_trailing_slash() {
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.server.public_url = Some("https://mirror.example.test".into())
    })
    .await;
    assert_eq!(
        about(&app).await["public_url"],
        "https://mirror.example.test/"
    );
    let link = app.setup_link.clone().unwrap();
    assert!(
        link.starts_with("https://mirror.example.test/ui/setup#token="),
        "the setup link uses the public URL: {link}"
    );
}
