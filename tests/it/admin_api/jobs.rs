//! Definitions uploads and jobs through the API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::common::fake_registry::FakeRegistry;

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
