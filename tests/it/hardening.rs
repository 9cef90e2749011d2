//! Regression tests for the defects an outside probe found (each failed before its fix): what
//! an anonymous client can make the server hold, show or spend.

use reqwest::StatusCode;

use crate::common::{Store, TestApp};

async fn scrape(app: &TestApp) -> String {
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// Methods a client made up become `OTHER`: the series `/metrics` holds do not grow with the
/// number of distinct methods sent.
#[tokio::test]
async fn made_up_methods_cannot_grow_the_metrics() {
    let app = TestApp::spawn(Store::Local).await;
    let send = |i: usize| {
        let method = format!("X{}{i}", "Q".repeat(300));
        let req = app.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            app.url("/registry.terraform.io/hashicorp/null/index.json"),
        );
        async move { req.send().await.unwrap().status() }
    };
    for i in 0..10 {
        assert_eq!(send(i).await, StatusCode::METHOD_NOT_ALLOWED);
    }
    scrape(&app).await; // the scrape's own series
    let before = scrape(&app).await;
    for i in 10..210 {
        send(i).await;
    }
    let after = scrape(&app).await;
    assert!(!after.contains("QQQQ"), "a client's method became a label");
    assert!(after.contains("method=\"OTHER\""), "{after}");
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        series(&before),
        series(&after),
        "200 more made-up methods added series"
    );
}

/// A token is read only from the `Authorization` header: a query-string token (which proxies
/// log) authenticates nothing, on the event stream or anywhere else, deletes included.
#[tokio::test]
async fn tokens_in_query_strings_are_not_credentials() {
    let app = TestApp::spawn(Store::Local).await;
    let hash = tfmirror::auth::password::hash("an admin password 123".into())
        .await
        .unwrap();
    tfmirror::db::users::create_user(
        &app.state.db,
        "root",
        &hash,
        tfmirror::domain::Role::Admin,
        0,
    )
    .await
    .unwrap()
    .unwrap();
    let login: serde_json::Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "root", "password": "an admin password 123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/jobs/1/events"),
        (reqwest::Method::DELETE, "/api/v1/tokens/1/events"),
        (reqwest::Method::GET, "/api/v1/stats"),
    ] {
        let res = app
            .client
            .request(
                method.clone(),
                app.url(&format!("{path}?access_token={token}")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}
