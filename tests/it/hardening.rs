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
