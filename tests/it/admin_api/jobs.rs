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
        .get(app.url(&format!("/api/v1/jobs/{job}/events")))
        .bearer_auth(&admin)
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

/// A megabyte of bad lines (the probe's 96,000 `x1 = 1`) gets the first 100 problems and the
/// count, and two such uploads at once do not hold up the server's other requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_huge_bad_definitions_file_gets_a_short_answer_and_does_not_stall_the_server() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let text: String = (0..96_000).map(|i| format!("x{i} = 1\n")).collect();
    assert!(text.len() <= 1 << 20);
    let upload = || {
        app.client
            .post(app.url("/api/v1/definitions?dry_run=true"))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body(text.clone())
            .send()
    };
    let health = async {
        // Wait until both uploads are in flight, then ask for health while they run.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let res = tokio::time::timeout(std::time::Duration::from_secs(5), app.get("/healthz"))
            .await
            .expect("/healthz answers while definitions are validated");
        res.status()
    };
    let (a, b, health) = tokio::join!(upload(), upload(), health);
    assert_eq!(health, StatusCode::OK);
    for res in [a.unwrap(), b.unwrap()] {
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body = res.bytes().await.unwrap();
        assert!(body.len() < 64 * 1024, "{} bytes of errors", body.len());
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "invalid_definitions");
        assert_eq!(body["total_errors"], 96_001, "{body}");
        assert_eq!(body["errors"].as_array().unwrap().len(), 100);
        assert_eq!(body["errors"][0]["line"], 1);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("96001 problem(s); the first 100 are listed"),
            "{body}"
        );
    }
}

/// While a job does not move, the event stream still sends a comment every 15 s, so a proxy
/// with an idle timeout does not cut it.
#[tokio::test]
async fn an_idle_event_stream_sends_keepalive_comments() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let url = fake.base_url.clone();
    // No worker: the job stays pending.
    let app = app_with(move |c| {
        c.worker.enabled = false;
        crate::common::set_upstream(c, &url, |_| {});
    })
    .await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let defs = "provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n";
    let res = app
        .client
        .post(app.url("/api/v1/definitions"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body(defs)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let job = res.json::<Value>().await.unwrap()["job"]["id"]
        .as_i64()
        .unwrap();
    let mut res = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{job}/events")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(25);
    while !seen.contains("\n: keepalive\n\n") {
        assert!(
            std::time::Instant::now() < deadline,
            "no keepalive in 25 s: {seen}"
        );
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(25), res.chunk())
            .await
            .expect("the stream sends something")
            .unwrap()
            .expect("the stream stays open while the job is pending");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.starts_with("event: progress\n"), "{seen}");
}
