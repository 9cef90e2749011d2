//! The Provider Registry Protocol as served by the mirror, checked document by document:
//! discovery, versions, download info, the origin's re-served checksums and signature, and
//! the mirror's own signing key for packages without one.

use std::os::unix::fs::PermissionsExt;

use crate::common::fake_registry::FakeRegistry;
use crate::common::{Store, TestApp, sha256_hex};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tfmirror::upstream::signature::verify_detached;

async fn get_json(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

/// Fetches a URL from a registry document, resolved against the document's server as
/// Terraform resolves it.
async fn fetch(app: &TestApp, url: &str) -> Vec<u8> {
    let url = reqwest::Url::parse(&app.base).unwrap().join(url).unwrap();
    let res = app.client.get(url.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn discovery_announces_providers_v1_and_modules_v1() {
    let app = TestApp::spawn(Store::Local).await;
    assert_eq!(
        get_json(&app, "/.well-known/terraform.json").await,
        json!({"providers.v1": "/v1/providers/", "modules.v1": "/v1/modules/"})
    );
    let res = app.get("/v1/providers/hashicorp/nothing/versions").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.get("/v1/modules/acme/nothing/aws/versions").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_pulled_package_is_served_with_the_origins_signed_checksums() {
    let fake = FakeRegistry::start().await;
    fake.publish(
        "hashicorp",
        "null",
        "3.2.1",
        &["linux_amd64", "darwin_arm64"],
    );
    let app = TestApp::spawn_with(Store::Local, |c| {
        crate::common::set_upstream(c, &fake.base_url, |up| {
            up.pull_through = true;
        });
        c.worker.enabled = false;
    })
    .await;

    let versions = get_json(&app, "/v1/providers/hashicorp/null/versions").await;
    assert_eq!(versions["versions"][0]["version"], "3.2.1");
    assert_eq!(
        versions["versions"][0]["platforms"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The same document under the per-origin base path.
    assert_eq!(
        get_json(
            &app,
            "/registry/registry.terraform.io/v1/providers/hashicorp/null/versions"
        )
        .await,
        versions
    );

    let zip = fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64");
    for round in ["cold (pull-through)", "stored"] {
        let doc = get_json(
            &app,
            "/v1/providers/hashicorp/null/3.2.1/download/linux/amd64",
        )
        .await;
        assert_eq!(
            doc["filename"],
            "terraform-provider-null_3.2.1_linux_amd64.zip"
        );
        assert_eq!(doc["shasum"], sha256_hex(&zip), "{round}");
        let key = &doc["signing_keys"]["gpg_public_keys"][0];
        assert_eq!(key["key_id"], fake.key_id(), "{round}: the origin's key");
        let sums = fetch(&app, doc["shasums_url"].as_str().unwrap()).await;
        let sig = fetch(&app, doc["shasums_signature_url"].as_str().unwrap()).await;
        let text = String::from_utf8(sums.clone()).unwrap();
        assert!(
            text.contains("terraform-provider-null_3.2.1_darwin_arm64.zip"),
            "{text}"
        );
        let armor = key["ascii_armor"].as_str().unwrap().to_owned();
        let by = verify_detached(&sums, &sig, &[armor]).expect("the origin's signature verifies");
        assert_eq!(by.key_id, fake.key_id());
        let archive = fetch(&app, doc["download_url"].as_str().unwrap()).await;
        assert_eq!(sha256_hex(&archive), sha256_hex(&zip), "{round}");
    }
    let source: String =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT source FROM packages")
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(source, "pull-through");
}

#[tokio::test]
async fn imported_packages_are_signed_with_the_mirrors_own_key_which_persists() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_owned();
    let app = TestApp::spawn_with(Store::Local, |c| c.data_dir = data_dir.clone()).await;
    let zip = crate::common::provider_zip("imported");
    app.add(
        "registry.terraform.io/example/thing",
        "1.0.0",
        "linux_amd64",
        &zip,
    )
    .await;

    let key_file = data.path().join("signing-key.asc");
    if crate::common::postgres_server().is_some() {
        // Several replicas share it: it lives in the database, not in one replica's files.
        assert!(!key_file.exists());
    } else {
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the secret key is private");
        assert!(
            std::fs::read_to_string(&key_file)
                .unwrap()
                .contains("PGP PRIVATE KEY BLOCK")
        );
    }

    let doc = get_json(
        &app,
        "/v1/providers/example/thing/1.0.0/download/linux/amd64",
    )
    .await;
    let key = doc["signing_keys"]["gpg_public_keys"][0].clone();
    assert!(
        !key["ascii_armor"].as_str().unwrap().contains("PRIVATE"),
        "only the public key is published"
    );
    let sums = fetch(&app, doc["shasums_url"].as_str().unwrap()).await;
    assert_eq!(
        String::from_utf8(sums.clone()).unwrap(),
        format!(
            "{}  terraform-provider-thing_1.0.0_linux_amd64.zip\n",
            sha256_hex(&zip)
        )
    );
    let sig = fetch(&app, doc["shasums_signature_url"].as_str().unwrap()).await;
    let by = verify_detached(&sums, &sig, &[key["ascii_armor"].as_str().unwrap().into()])
        .expect("the mirror's signature verifies");
    assert_eq!(by.key_id, key["key_id"].as_str().unwrap());
    // Tampered checksums do not verify.
    let mut forged = sums.clone();
    forged[0] ^= 1;
    assert!(
        verify_detached(
            &forged,
            &sig,
            &[key["ascii_armor"].as_str().unwrap().into()]
        )
        .is_err()
    );

    // The same key after a restart on the same data directory.
    let data_dir = data.path().to_owned();
    let again = TestApp::spawn_with(Store::Local, |c| c.data_dir = data_dir).await;
    let doc2 = get_json(
        &again,
        "/v1/providers/example/thing/1.0.0/download/linux/amd64",
    )
    .await;
    assert_eq!(
        doc2["signing_keys"]["gpg_public_keys"][0]["key_id"],
        key["key_id"]
    );
}

#[tokio::test]
async fn bad_registry_paths_are_clear_errors() {
    let app = TestApp::spawn(Store::Local).await;
    for (path, status) in [
        (
            "/v1/providers/hashicorp/null/not-a-version/download/linux/amd64",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/providers/hashi..corp/null/versions",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/providers/hashicorp/null/1.0.0/download/linux/amd64",
            StatusCode::NOT_FOUND,
        ),
        (
            "/registry/registry.terraform.io/sums/hashicorp/null/1.0.0/other",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let body: Value = res.json().await.unwrap();
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
}
