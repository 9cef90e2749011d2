//! `auth.read_access = "token"`: the mirror and registry protocols need an API token (any
//! role; `consumer` is the read-only one), archives and checksums are reached by short-lived
//! signed URLs that the documents hand out, and a consumer token opens nothing of the admin
//! API. The real-Terraform side is in terraform.rs.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Store, TestApp, provider_zip, sha256_hex};

const BASE: &str = "/registry.terraform.io/hashicorp/null";
const ARCHIVE: &str = "terraform-provider-null_3.2.1_linux_amd64.zip";

/// A server with read access control and one package; the package, a consumer token and an
/// admin's session token.
async fn app() -> (TestApp, Vec<u8>, String, String) {
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.auth.read_access = tfmirror::config::ReadAccess::Token;
    })
    .await;
    let zip = provider_zip("private");
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &zip,
    )
    .await;
    let admin = app.admin_token().await;
    let res = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "ci", "role": "consumer", "expires_in_days": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    (app, zip, token, admin)
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn refused(res: reqwest::Response, status: StatusCode, says: &str) {
    assert_eq!(res.status(), status, "{}", res.url());
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains(says),
        "{body} should say {says:?}"
    );
}

#[tokio::test]
async fn the_mirror_protocol_needs_a_token_and_archives_a_signed_url() {
    let (app, zip, token, _) = app().await;
    // Without a token: 401, saying what to configure; discovery stays open.
    for path in [
        format!("{BASE}/index.json"),
        format!("{BASE}/3.2.1.json"),
        format!("{BASE}/{ARCHIVE}"),
    ] {
        let res = get(&app, &path, None).await;
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        refused(res, StatusCode::UNAUTHORIZED, "credentials").await;
    }
    assert_eq!(
        get(&app, "/.well-known/terraform.json", None)
            .await
            .status(),
        StatusCode::OK
    );
    let res = get(&app, &format!("{BASE}/index.json"), Some("tfm_not-a-token")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // With the consumer token: the documents, whose archive URL is signed.
    let index = get(&app, &format!("{BASE}/index.json"), Some(&token)).await;
    assert_eq!(index.status(), StatusCode::OK);
    let doc: Value = get(&app, &format!("{BASE}/3.2.1.json"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let url = doc["archives"]["linux_amd64"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with(&format!("{ARCHIVE}?expires=")), "{url}");
    assert!(url.contains("&signature="), "{url}");

    // The signed URL works without a token (as Terraform downloads it), and is private.
    let res = get(&app, &format!("{BASE}/{url}"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private"),
        "{:?}",
        res.headers()
    );
    assert_eq!(sha256_hex(&res.bytes().await.unwrap()), sha256_hex(&zip));

    // Altered: another file's path, another expiry, a flipped signature digit.
    let query = url.split_once('?').unwrap().1.to_owned();
    let other = format!("{BASE}/terraform-provider-null_3.2.1_darwin_arm64.zip?{query}");
    refused(
        get(&app, &other, None).await,
        StatusCode::FORBIDDEN,
        "not valid",
    )
    .await;
    let (expires, signature) = query.split_once('&').unwrap();
    let later: i64 = expires
        .trim_start_matches("expires=")
        .parse::<i64>()
        .unwrap()
        + 3600;
    let extended = format!("{BASE}/{ARCHIVE}?expires={later}&{signature}");
    refused(
        get(&app, &extended, None).await,
        StatusCode::FORBIDDEN,
        "not valid",
    )
    .await;
    let mut flipped = url.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    refused(
        get(&app, &format!("{BASE}/{flipped}"), None).await,
        StatusCode::FORBIDDEN,
        "not valid",
    )
    .await;

    // Expired: what the server itself signed two windows of an hour ago.
    let long_ago = tfmirror::clock::now() - 3 * 3600;
    let old = app
        .state
        .auth_keys
        .urls
        .sign(&format!("{BASE}/{ARCHIVE}"), long_ago);
    refused(
        get(&app, &old, None).await,
        StatusCode::FORBIDDEN,
        "expired",
    )
    .await;
}

#[tokio::test]
async fn the_registry_protocol_needs_a_token_and_signs_its_download_links() {
    let (app, zip, token, _) = app().await;
    let versions = "/v1/providers/hashicorp/null/versions";
    let download = "/v1/providers/hashicorp/null/3.2.1/download/linux/amd64";
    refused(
        get(&app, versions, None).await,
        StatusCode::UNAUTHORIZED,
        "credentials",
    )
    .await;
    refused(
        get(&app, download, None).await,
        StatusCode::UNAUTHORIZED,
        "credentials",
    )
    .await;
    assert_eq!(
        get(&app, versions, Some(&token)).await.status(),
        StatusCode::OK
    );
    let doc: Value = get(&app, download, Some(&token))
        .await
        .json()
        .await
        .unwrap();
    for key in ["download_url", "shasums_url", "shasums_signature_url"] {
        let url = doc[key].as_str().unwrap();
        assert!(
            url.contains("?expires=") && url.contains("&signature="),
            "{key}: {url}"
        );
        let res = get(&app, url, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{key}: {url}");
        let body = res.bytes().await.unwrap();
        if key == "download_url" {
            assert_eq!(sha256_hex(&body), sha256_hex(&zip));
        }
        let bare = url.split_once('?').unwrap().0;
        refused(
            get(&app, bare, None).await,
            StatusCode::UNAUTHORIZED,
            "credentials",
        )
        .await;
    }
}

#[tokio::test]
async fn a_consumer_token_reads_the_mirror_only_and_accounts_cannot_be_consumers() {
    let (app, _, token, admin) = app().await;
    for path in ["/api/v1/providers", "/api/v1/auth/me", "/api/v1/jobs"] {
        refused(
            get(&app, path, Some(&token)).await,
            StatusCode::FORBIDDEN,
            "consumer token",
        )
        .await;
    }
    let res = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .json(
            &json!({ "username": "robot", "password": "a long password 123", "role": "consumer" }),
        )
        .send()
        .await
        .unwrap();
    refused(res, StatusCode::BAD_REQUEST, "role for API tokens").await;
}

/// Off by default: anyone reads, as before, and documents carry plain relative URLs.
#[tokio::test]
async fn without_read_access_control_anyone_reads_and_urls_stay_plain() {
    let app = TestApp::spawn_with(Store::Local, |_| {}).await;
    app.add(
        "registry.terraform.io/hashicorp/null",
        "3.2.1",
        "linux_amd64",
        &provider_zip("public"),
    )
    .await;
    let doc: Value = get(&app, &format!("{BASE}/3.2.1.json"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["archives"]["linux_amd64"]["url"], ARCHIVE);
    let res = get(&app, &format!("{BASE}/{ARCHIVE}"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
}

#[tokio::test]
async fn modules_need_a_token_and_their_archives_a_signed_location() {
    let (app, _, token, admin) = app().await;
    let package = crate::common::modules::tar_gz(&[("sub/main.tf", "# private\n")], None);
    let form = reqwest::multipart::Form::new()
        .text("namespace", "platform")
        .text("name", "network")
        .text("system", "aws")
        .text("version", "1.0.0")
        .part(
            "file",
            reqwest::multipart::Part::bytes(package).file_name("m.tar.gz"),
        );
    let res = app
        .client
        .post(app.url("/api/v1/modules"))
        .bearer_auth(&admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let base = "/v1/modules/platform/network/aws";
    for path in [format!("{base}/versions"), format!("{base}/1.0.0/download")] {
        assert_eq!(
            app.get(&path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    let with_token = |path: &str| app.client.get(app.url(path)).bearer_auth(&token).send();
    assert_eq!(
        with_token(&format!("{base}/versions"))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let res = with_token(&format!("{base}/1.0.0/download")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let location = res.headers()["x-terraform-get"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.contains("signature="), "{location}");
    // Terraform fetches the archive without its token (go-getter sends none): the signed
    // location opens it, the bare path does not, a forged signature is refused.
    let (path, query) = location.split_once('?').unwrap();
    assert!(
        !path.contains("//"),
        "an uploaded package is served from its root"
    );
    assert_eq!(app.get(path).await.status(), StatusCode::UNAUTHORIZED);
    let res = app.get(&location).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("private"),
        "no shared cache keeps a private module"
    );
    let forged = format!("{path}?{}", query.replace("signature=", "signature=0"));
    assert_eq!(app.get(&forged).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_lock_file_route_reads_like_the_mirror_and_takes_a_viewers_session() {
    let (app, _zip, consumer, admin) = app().await;
    app.create_user(
        "vera",
        "a viewer password 123",
        tfmirror::domain::Role::Viewer,
    )
    .await;
    let res = app.login("vera", "a viewer password 123").await;
    let viewer = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let lock = |token: Option<&str>| {
        let mut req = app.client.post(app.url("/v1/lock")).json(&json!({
            "configuration": [{"name": "versions.tf", "text":
                "terraform {\n  required_providers {\n    null = { source = \"hashicorp/null\" }\n  }\n}\n"}],
            "platforms": ["linux_amd64"],
        }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    refused(
        lock(None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "requires a token",
    )
    .await;
    // The web UI sends the session of whoever is signed in: a viewer may read.
    for token in [&viewer, &admin, &consumer] {
        let res = lock(Some(token)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();
        assert!(text.contains("version = \"3.2.1\""), "{text}");
    }
}
