//! Providers (list, detail, block, delete), package uploads and bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

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
    let jobs: i64 = on_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(p)
        .await)
    .unwrap();
    assert_eq!(jobs, 0, "no job from bad definitions");
    assert_eq!(
        audit_actions(&app).await.len(),
        before,
        "nothing was audited: nothing changed"
    );
}

#[tokio::test]
async fn a_package_upload_is_hashed_and_stored_like_an_import() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let upload = |zip: Vec<u8>| app.upload_package(&admin, zip, "1.0.0");
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

/// Upstream health is judged on the last minutes, and only on what says the origin is in
/// trouble: a 404 (the origin answering "no such provider") is not a failure, a 503 is.
#[tokio::test]
async fn upstream_health_counts_recent_trouble_not_answers() {
    use crate::common::fake_registry::{Fault, Target};
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let app = app_upstream(&fake).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let registry = &app.state.registry;
    let null = tfmirror::domain::ProviderAddress::new("registry.terraform.io", "hashicorp", "null")
        .unwrap();
    let nothing =
        tfmirror::domain::ProviderAddress::new("registry.terraform.io", "nobody", "nothing")
            .unwrap();
    registry.versions(&null).await.expect("the versions");
    assert!(registry.versions(&nothing).await.is_err(), "a 404");
    let (_, stats) = get(&app, "/api/v1/stats", &admin).await;
    let up = &stats["upstream"][0];
    assert_eq!(up["hostname"], "registry.terraform.io");
    assert_eq!(up["window_minutes"], 15);
    assert_eq!(up["recent_failures"], 0, "a 404 is an answer: {up}");
    assert_eq!(up["last_failure_at"], Value::Null);
    let requests = up["recent_requests"].as_u64().unwrap();
    assert!(requests >= 3, "discovery and two version lists: {up}");

    fake.inject(Target::versions("hashicorp", "null"), Fault::Status(503), 1);
    assert!(registry.versions(&null).await.is_err());
    let (_, stats) = get(&app, "/api/v1/stats", &admin).await;
    let up = &stats["upstream"][0];
    assert_eq!(up["recent_failures"], 1, "{up}");
    assert_eq!(up["recent_requests"].as_u64().unwrap(), requests + 1);
    assert!(up["last_failure_at"].as_i64().unwrap() >= tfmirror::clock::now() - 60);
}

/// The walk's defect: "service discovery: cannot connect: error sending request", with
/// neither the address nor the cause. The message names both (and no credentials).
#[tokio::test]
async fn an_unreachable_upstream_is_named_with_its_address_and_the_cause() {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_with(move |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            UpstreamConfig {
                url: Some(format!("http://deploy:hunter2@127.0.0.1:{port}/")),
                ..Default::default()
            },
        );
    })
    .await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let res = app
        .client
        .post(app.url("/api/v1/definitions?dry_run=true"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n")
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("\"code\":\"upstream_unavailable\""), "{body}");
    assert!(
        body.contains(&format!("127.0.0.1:{port}/.well-known/terraform.json")),
        "the address: {body}"
    );
    assert!(body.contains("cannot connect"), "{body}");
    assert!(
        body.to_lowercase().contains("connection refused"),
        "the cause: {body}"
    );
    assert!(!body.contains("hunter2"), "no credentials: {body}");
}

/// The walk's defect: with no upstream for an origin, the Load page marked a valid line red.
/// The file is fine and the configuration is not, so the answer is a plain error saying what
/// to add, not a problem at a line of the file.
#[tokio::test]
async fn an_origin_without_an_upstream_is_a_configuration_problem_not_a_file_error() {
    let app = app_with(|_| {}).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let post = |body: &'static str| {
        app.client
            .post(app.url("/api/v1/definitions?dry_run=true"))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    let res = post("provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "bad_request", "{body}");
    assert!(body.get("errors").is_none(), "no line is blamed: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("no upstream is configured for registry.terraform.io")
            && message.contains("upstream \"registry.terraform.io\" {}"),
        "{message}"
    );
    // A file with a real mistake is still reported at its line, first.
    let res = post("provider \"hashicorp/null\" {\n  colour = \"blue\"\n}\n")
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_definitions", "{body}");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["line"] == 2 && e["message"].as_str().unwrap().contains("colour")),
        "{body}"
    );
}
