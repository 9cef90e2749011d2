//! Black-box tests of the Provider Network Mirror Protocol, run against the real server for
//! both storage backends (a temp directory, and the SeaweedFS S3 server the test script runs).

use crate::common::{Store, TestApp, h1_reference, provider_zip, sha256_hex};
use reqwest::StatusCode;
use serde_json::Value;
use tfmirror::catalog::IngestOutcome;
use tfmirror::domain::{ProviderAddress, Version};

macro_rules! for_both_backends {
    ($($name:ident),* $(,)?) => {
        mod local {
            $( #[tokio::test] async fn $name() { super::$name(super::Store::Local).await } )*
        }
        mod s3 {
            $( #[tokio::test] async fn $name() { super::$name(super::Store::S3).await } )*
        }
    };
}

for_both_backends!(
    index_and_version_documents_list_every_platform_with_both_hashes,
    archives_download_byte_for_byte_with_validators,
    head_and_range_requests,
    unknown_things_are_404_and_bad_segments_400,
    blocked_versions_disappear_everywhere,
    origins_are_kept_apart,
    large_archives_stream_intact,
    readiness_checks_database_and_storage,
);

fn added(outcome: IngestOutcome) {
    assert!(matches!(outcome, IngestOutcome::Added(_)), "{outcome:?}");
}

async fn json(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/json",
        "Terraform requires application/json"
    );
    res.json().await.unwrap()
}

async fn index_and_version_documents_list_every_platform_with_both_hashes(store: Store) {
    let app = TestApp::spawn(store).await;
    let linux = provider_zip("linux");
    let darwin = provider_zip("darwin");
    let older = provider_zip("older");
    added(
        app.add("hashicorp/random", "2.0.0", "linux_amd64", &linux)
            .await,
    );
    added(
        app.add("hashicorp/random", "2.0.0", "darwin_arm64", &darwin)
            .await,
    );
    added(
        app.add("hashicorp/random", "1.9.10", "linux_amd64", &older)
            .await,
    );

    let index = json(
        app.get("/registry.terraform.io/hashicorp/random/index.json")
            .await,
    )
    .await;
    assert_eq!(
        index,
        serde_json::json!({"versions": {"2.0.0": {}, "1.9.10": {}}})
    );

    let doc = json(
        app.get("/registry.terraform.io/hashicorp/random/2.0.0.json")
            .await,
    )
    .await;
    let archives = doc["archives"].as_object().unwrap();
    assert_eq!(archives.len(), 2);
    for (platform, zip) in [("linux_amd64", &linux), ("darwin_arm64", &darwin)] {
        let a = &archives[platform];
        assert_eq!(
            a["url"],
            format!("terraform-provider-random_2.0.0_{platform}.zip"),
            "url is relative to the version document"
        );
        let hashes: Vec<&str> = a["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap())
            .collect();
        assert_eq!(
            hashes,
            [h1_reference(zip), format!("zh:{}", sha256_hex(zip))]
        );
    }

    // Names are case-insensitive in Terraform; the mirror normalises them.
    let res = app
        .get("/Registry.Terraform.IO/HashiCorp/Random/index.json")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn archives_download_byte_for_byte_with_validators(store: Store) {
    let app = TestApp::spawn(store).await;
    let zip = provider_zip("dl");
    added(
        app.add("hashicorp/null", "3.2.1", "linux_amd64", &zip)
            .await,
    );
    let path =
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";

    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-length"].to_str().unwrap(), zip.len().to_string());
    assert_eq!(h["content-type"], "application/zip");
    assert_eq!(
        h["etag"].to_str().unwrap(),
        format!("\"{}\"", sha256_hex(&zip))
    );
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(res.bytes().await.unwrap().as_ref(), zip.as_slice());

    let res = app
        .client
        .get(app.url(path))
        .header("If-None-Match", h["etag"].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // Metadata carries a validator too.
    let res = app
        .get("/registry.terraform.io/hashicorp/null/index.json")
        .await;
    let etag = res.headers()["etag"].clone();
    let res = app
        .client
        .get(app.url("/registry.terraform.io/hashicorp/null/index.json"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

async fn head_and_range_requests(store: Store) {
    let app = TestApp::spawn(store).await;
    let zip = provider_zip("range");
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &zip)
            .await,
    );
    let url = app
        .url("/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_linux_amd64.zip");

    let res = app.client.head(&url).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "Terraform >= 1.11 sends HEAD first"
    );
    assert_eq!(
        res.headers()["content-length"].to_str().unwrap(),
        zip.len().to_string()
    );
    assert!(res.bytes().await.unwrap().is_empty());

    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-19/{}", zip.len())
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &zip[10..20]);

    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=-5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &zip[zip.len() - 5..]);

    let res = app
        .client
        .get(&url)
        .header("Range", format!("bytes={}-", zip.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        res.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{}", zip.len())
    );

    // A range for another representation is ignored: the whole archive comes back.
    let res = app
        .client
        .get(&url)
        .header("Range", "bytes=0-1")
        .header("If-Range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), zip.len());
}

async fn unknown_things_are_404_and_bad_segments_400(store: Store) {
    let app = TestApp::spawn(store).await;
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &provider_zip("x"))
            .await,
    );

    for path in [
        "/registry.terraform.io/hashicorp/absent/index.json",
        "/registry.opentofu.org/hashicorp/null/index.json",
        "/registry.terraform.io/hashicorp/null/9.9.9.json",
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_windows_amd64.zip",
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_2.0.0_linux_amd64.zip",
        "/registry.terraform.io/hashicorp/null/README.txt",
        "/nothing",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}: {body}");
    }

    for path in [
        "/registry.terraform.io/hashi_corp/null/index.json",
        "/registry..terraform.io/hashicorp/null/index.json",
        "/registry.terraform.io/hashicorp/null/v1.0.json",
        "/registry.terraform.io/hashicorp/null/terraform-provider-other_1.0.0_linux_amd64.zip",
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_Linux_amd64.zip",
        "/registry.terraform.io/hashicorp/null/..%2F..%2F..%2Fetc%2Fpasswd.zip",
        "/registry.terraform.io/hashicorp/null/%2e%2e%2f%2e%2e%2fCargo.toml.zip",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_path", "{path}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_mirror_is_read_only() {
    let app = TestApp::spawn(Store::Local).await;
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &provider_zip("a"))
            .await,
    );
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let res = app
            .client
            .request(
                method.clone(),
                app.url("/registry.terraform.io/hashicorp/null/index.json"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(
            res.headers().get("allow").map(|v| v.to_str().unwrap()),
            Some("GET, HEAD"),
            "a 405 names the methods that work (RFC 9110 15.5.6): {method}"
        );
    }
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/null/index.json")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn not_modified_keeps_the_validators_and_weak_etags_match() {
    let app = TestApp::spawn(Store::Local).await;
    let zip = provider_zip("revalidate");
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &zip)
            .await,
    );
    let archive =
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_linux_amd64.zip";
    for (path, cache_control) in [
        (
            "/registry.terraform.io/hashicorp/null/index.json",
            "no-cache",
        ),
        (
            "/registry.terraform.io/hashicorp/null/1.0.0.json",
            "no-cache",
        ),
        (archive, "public, max-age=31536000, immutable"),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["cache-control"], cache_control, "{path}");
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();

        // If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x".
        for validator in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", W/{etag}"),
        ] {
            let res = app
                .client
                .get(app.url(path))
                .header("If-None-Match", &validator)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path} {validator}");
            // A 304 carries the headers the 200 would have (RFC 9110 15.4.5).
            assert_eq!(res.headers()["etag"].to_str().unwrap(), etag, "{path}");
            assert_eq!(
                res.headers()
                    .get("cache-control")
                    .map(|v| v.to_str().unwrap()),
                Some(cache_control),
                "{path} {validator}"
            );
        }
        let res = app
            .client
            .get(app.url(path))
            .header("If-None-Match", "W/\"other\"")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }

    // If-Range stays strong: a weak validator never selects a partial answer.
    let etag = format!("\"{}\"", sha256_hex(&zip));
    let res = app
        .client
        .get(app.url(archive))
        .header("Range", "bytes=0-1")
        .header("If-Range", format!("W/{etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().len(), zip.len());
    let res = app
        .client
        .get(app.url(archive))
        .header("Range", "bytes=0-1")
        .header("If-Range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
}

#[tokio::test]
async fn traversal_attempts_never_reach_the_filesystem() {
    let app = TestApp::spawn(Store::Local).await;
    for path in [
        "/registry.terraform.io/%2e%2e/null/index.json",
        "/../../../../etc/passwd",
        "/registry.terraform.io/hashicorp/null/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let res = app.get(path).await;
        let status = res.status();
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{path}: {status}"
        );
        let body = res.text().await.unwrap();
        assert!(!body.contains("root:"), "{path} leaked a file");
        assert!(
            serde_json::from_str::<Value>(&body).is_ok(),
            "{path}: errors are JSON: {body}"
        );
    }
}

async fn blocked_versions_disappear_everywhere(store: Store) {
    let app = TestApp::spawn(store).await;
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &provider_zip("a"))
            .await,
    );
    added(
        app.add("hashicorp/null", "1.1.0", "linux_amd64", &provider_zip("b"))
            .await,
    );
    // Warm the cache so the test proves invalidation, not a cold read.
    let before = json(
        app.get("/registry.terraform.io/hashicorp/null/index.json")
            .await,
    )
    .await;
    assert_eq!(before["versions"].as_object().unwrap().len(), 2);

    let address = ProviderAddress::parse("hashicorp/null").unwrap();
    let version = Version::parse("1.1.0").unwrap();
    let pool = &app.state.db;
    assert!(
        tfmirror::db::packages::set_version_status(
            pool,
            &address,
            &version,
            tfmirror::domain::VersionStatus::Blocked
        )
        .await
        .unwrap()
    );
    app.state.catalog.invalidate(&address).await;

    let after = json(
        app.get("/registry.terraform.io/hashicorp/null/index.json")
            .await,
    )
    .await;
    assert_eq!(after, serde_json::json!({"versions": {"1.0.0": {}}}));
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/null/1.1.0.json")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(
            "/registry.terraform.io/hashicorp/null/terraform-provider-null_1.1.0_linux_amd64.zip"
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );

    // Deprecated versions stay installable.
    let v1 = Version::parse("1.0.0").unwrap();
    tfmirror::db::packages::set_version_status(
        pool,
        &address,
        &v1,
        tfmirror::domain::VersionStatus::Deprecated,
    )
    .await
    .unwrap();
    app.state.catalog.invalidate(&address).await;
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/null/1.0.0.json")
            .await
            .status(),
        StatusCode::OK
    );

    // Blocking every version makes the provider unknown (404, so clients fall back).
    tfmirror::db::packages::set_version_status(
        pool,
        &address,
        &v1,
        tfmirror::domain::VersionStatus::Blocked,
    )
    .await
    .unwrap();
    app.state.catalog.invalidate(&address).await;
    assert_eq!(
        app.get("/registry.terraform.io/hashicorp/null/index.json")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

async fn origins_are_kept_apart(store: Store) {
    let app = TestApp::spawn(store).await;
    let tf = provider_zip("terraform-build");
    let tofu = provider_zip("opentofu-build");
    added(
        app.add(
            "registry.terraform.io/hashicorp/null",
            "3.2.1",
            "linux_amd64",
            &tf,
        )
        .await,
    );
    added(
        app.add(
            "registry.opentofu.org/hashicorp/null",
            "3.2.1",
            "linux_amd64",
            &tofu,
        )
        .await,
    );
    for (host, zip) in [
        ("registry.terraform.io", &tf),
        ("registry.opentofu.org", &tofu),
    ] {
        let doc = json(app.get(&format!("/{host}/hashicorp/null/3.2.1.json")).await).await;
        assert_eq!(
            doc["archives"]["linux_amd64"]["hashes"][0],
            h1_reference(zip)
        );
        let body = app
            .get(&format!(
                "/{host}/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip"
            ))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.as_ref(), zip.as_slice(), "{host}");
    }
}

async fn large_archives_stream_intact(store: Store) {
    // 12 MiB: several read chunks locally, a multipart upload (5 MiB parts) on S3.
    let app = TestApp::spawn(store).await;
    let zip = crate::common::big_zip(12 << 20);
    added(app.add("hashicorp/big", "1.0.0", "linux_amd64", &zip).await);
    let url = "/registry.terraform.io/hashicorp/big/terraform-provider-big_1.0.0_linux_amd64.zip";
    let res = app.get(url).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), zip.len());
    assert_eq!(sha256_hex(&body), sha256_hex(&zip));

    let start = 7 << 20;
    let res = app
        .client
        .get(app.url(url))
        .header("Range", format!("bytes={start}-{}", start + 999_999))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        &zip[start..start + 1_000_000]
    );
}

async fn readiness_checks_database_and_storage(store: Store) {
    let app = TestApp::spawn(store).await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_s3_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::common::test_config(dir.path(), Store::S3);
    // Nothing listens on port 9 of loopback.
    config.storage.s3_mut().unwrap().endpoint = Some("http://127.0.0.1:9".into());
    let app = TestApp::spawn_config(config, dir).await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = res.text().await.unwrap();
    assert!(
        !body.contains("testsecretkey123"),
        "secrets never leak into responses"
    );
}

#[tokio::test]
async fn s3_redirect_downloads_hand_out_presigned_urls() {
    let app = TestApp::spawn_with(Store::S3, |c| {
        c.storage.s3_mut().unwrap().redirect_downloads = true
    })
    .await;
    let zip = provider_zip("presigned");
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &zip)
            .await,
    );
    let res = app
        .get("/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_linux_amd64.zip")
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&crate::common::s3_endpoint()),
        "{location}"
    );
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let body = reqwest::get(&location).await.unwrap();
    assert_eq!(body.status(), StatusCode::OK);
    assert_eq!(body.bytes().await.unwrap().as_ref(), zip.as_slice());

    // Tampering with the signature is refused by the object store.
    let tampered = location.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert_eq!(
        reqwest::get(&tampered).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_version_row_without_packages_is_never_listed() {
    let app = TestApp::spawn(Store::Local).await;
    added(
        app.add("hashicorp/null", "1.0.0", "linux_amd64", &provider_zip("a"))
            .await,
    );
    on_db!(&app.state.db, p => sqlx::query(
        "INSERT INTO provider_versions (provider_id, version) SELECT id, '5.0.0' FROM providers",
    )
    .execute(p)
    .await.map(drop))
    .unwrap();
    app.state
        .catalog
        .invalidate(&ProviderAddress::parse("hashicorp/null").unwrap())
        .await;
    let doc = json(
        app.get("/registry.terraform.io/hashicorp/null/index.json")
            .await,
    )
    .await;
    assert_eq!(doc, serde_json::json!({"versions": {"1.0.0": {}}}));
}

#[tokio::test]
async fn https_with_the_generated_ca() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::common::test_config(dir.path(), Store::Local);
    let generated =
        tfmirror::tls::ensure_self_signed(dir.path(), &["mirror.internal".into()]).unwrap();
    config.server.tls = Some(tfmirror::config::TlsConfig {
        cert_file: generated.cert.clone(),
        key_file: generated.key.clone(),
    });
    let app = TestApp::spawn_config(config, dir).await;
    assert!(app.base.starts_with("https://localhost:"));
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);

    // The key is private to the owner; the CA is reused across restarts.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&generated.key)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "server key must not be group/world readable"
    );
    let ca_before = std::fs::read(&generated.ca_cert).unwrap();
    tfmirror::tls::ensure_self_signed(app.dir.path(), &["other.internal".into()]).unwrap();
    assert_eq!(std::fs::read(&generated.ca_cert).unwrap(), ca_before);
}
