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
    let token = app.admin_token().await;
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

/// What the admin API answers belongs to one caller: every answer says `no-store`, so no
/// proxy or browser cache keeps users, tokens or configuration.
#[tokio::test]
async fn admin_api_answers_are_never_cached() {
    let app = TestApp::spawn(Store::Local).await;
    app.create_user(
        "root",
        "an admin password 123",
        tfmirror::domain::Role::Admin,
    )
    .await;
    let login = app.login("root", "an admin password 123").await;
    assert_eq!(
        login.headers()["cache-control"],
        "no-store",
        "the login answer holds a token"
    );
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/api/v1/users",
        "/api/v1/config",
        "/api/v1/auth/me",
        "/api/v1/tokens",
        "/api/v1/stats",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
}
