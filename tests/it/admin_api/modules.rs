//! Modules in the admin API: an in-house version uploaded (wrapper directory taken away),
//! listed and searched, shown with its hashes, blocked (gone from `/versions` and its
//! download) and unblocked, refused when hostile or when it would change a stored version,
//! deleted; viewers read but never change; every change audited.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ADMIN_PASSWORD, VIEWER_PASSWORD, app_with, audit_actions, call, get, token};
use crate::common::TestApp;
use crate::common::modules::tar_gz;

fn form(bytes: Vec<u8>, name: &str, version: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("namespace", "platform")
        .text("name", name.to_owned())
        .text("system", "aws")
        .text("version", version.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("module.tar.gz"),
        )
}

async fn upload(app: &TestApp, token: &str, form: reqwest::multipart::Form) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/api/v1/modules"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `PUT` a module version's status as `token`.
async fn set_status(app: &TestApp, path: &str, token: &str, status: &str) -> reqwest::Response {
    call(
        app,
        reqwest::Method::PUT,
        path,
        Some(token),
        Some(json!({ "status": status })),
    )
    .await
}

#[tokio::test]
async fn modules_are_uploaded_listed_blocked_and_deleted() {
    let app =
        app_with(|c| c.metrics.token = tfmirror::config::Secret::new("scrape-token-123")).await;
    let admin = token(&app, "alice", ADMIN_PASSWORD).await;
    let viewer = token(&app, "victor", VIEWER_PASSWORD).await;
    let package = tar_gz(
        &[
            ("main.tf", "output \"x\" {\n  value = 1\n}\n"),
            ("README.md", "net\n"),
        ],
        Some("network-1.0.0"),
    );

    let (status, body) = upload(&app, &viewer, form(package.clone(), "network", "1.0.0")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = upload(&app, &admin, form(package.clone(), "network", "1.0.0")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["module"], "registry.terraform.io/platform/network/aws");
    assert_eq!(body["source_address"], "platform/network/aws");
    assert_eq!(body["source"], "upload");
    assert_eq!(body["files"], 2);
    assert!(body["h1"].as_str().unwrap().starts_with("h1:"));
    // The same package again changes nothing; other content for the version is refused.
    let (status, _) = upload(&app, &admin, form(package.clone(), "network", "1.0.0")).await;
    assert_eq!(status, StatusCode::OK);
    let other = tar_gz(&[("main.tf", "# other\n")], None);
    let (status, body) = upload(&app, &admin, form(other.clone(), "network", "1.0.0")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("never changes"),
        "{body}"
    );
    let (status, _) = upload(&app, &admin, form(other, "network", "1.1.0")).await;
    assert_eq!(status, StatusCode::CREATED);
    // Hostile or not an archive: a 400 naming why, nothing stored.
    let (status, body) = upload(
        &app,
        &admin,
        form(tar_gz(&[("../x.tf", "x")], None), "evil", "1.0.0"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("\"../x.tf\" is refused"),
        "{body}"
    );
    let (status, body) = upload(&app, &admin, form(b"hello".to_vec(), "evil", "1.0.0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("not a .tar.gz"),
        "{body}"
    );

    // Listed, searched, paged; shown with both versions.
    let (status, page) = get(&app, "/api/v1/modules?q=netw", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["name"], "network");
    assert_eq!(page["items"][0]["versions"], 2);
    assert_eq!(page["items"][0]["latest_version"], "1.1.0");
    let (_, page) = get(&app, "/api/v1/modules?q=nothing", &viewer).await;
    assert_eq!(page["total"], 0);
    let detail_path = "/api/v1/modules/registry.terraform.io/platform/network/aws";
    let (status, detail) = get(&app, detail_path, &viewer).await;
    assert_eq!(status, StatusCode::OK);
    let versions: Vec<&str> = detail["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    assert_eq!(detail["versions"][1]["source"], "upload");
    assert_eq!(detail["versions"][1]["created_by"], "user:alice");

    // Served through the registry protocol, with its files at the archive root.
    let doc: Value = app
        .get("/v1/modules/platform/network/aws/versions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc,
        json!({"modules": [{"versions": [{"version": "1.1.0"}, {"version": "1.0.0"}]}]})
    );

    // Downloaded once in full (and once by range, which is not a download): in /metrics.
    let archive = "/v1/modules/platform/network/aws/1.1.0/archive.tar.gz";
    assert_eq!(app.get(archive).await.status(), StatusCode::OK);
    let res = app
        .client
        .get(app.url(archive))
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().len(), 10);
    let text = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-123")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "tfmirror_module_versions 2",
        "tfmirror_module_downloads_total 1",
        "tfmirror_http_requests_total{route=\"module_archive\",method=\"GET\",status=\"200\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }

    // Blocked: gone from /versions, its download and its archive; viewers cannot.
    let status_path = format!("{detail_path}/versions/1.0.0/status");
    let res = set_status(&app, &status_path, &viewer, "blocked").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = set_status(&app, &status_path, &admin, "blocked").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "blocked");
    let doc: Value = app
        .get("/v1/modules/platform/network/aws/versions")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc,
        json!({"modules": [{"versions": [{"version": "1.1.0"}]}]})
    );
    let res = app
        .get("/v1/modules/platform/network/aws/1.0.0/download")
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .get("/v1/modules/platform/network/aws/1.0.0/archive.tar.gz")
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = set_status(&app, &status_path, &admin, "active").await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .get("/v1/modules/platform/network/aws/1.0.0/download")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = set_status(&app, &status_path, &admin, "gone").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Deleted: one version, then the module; its archives go with it.
    let res = call(
        &app,
        reqwest::Method::DELETE,
        &format!("{detail_path}/versions/1.1.0"),
        Some(&viewer),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = call(
        &app,
        reqwest::Method::DELETE,
        &format!("{detail_path}/versions/1.1.0"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = call(
        &app,
        reqwest::Method::DELETE,
        detail_path,
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, detail_path, &viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app.get("/v1/modules/platform/network/aws/versions").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let report = tfmirror::integrity::verify(&app.state.db, &app.state.catalog)
        .await
        .unwrap();
    assert_eq!(report.checked, 0);
    assert_eq!(report.orphaned_count + report.in_flight_count, 0);

    let actions = audit_actions(&app).await;
    for action in [
        "module.upload",
        "module_version.status",
        "module_version.delete",
        "module.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not audited: {actions:?}"
        );
    }
}
