//! Checks that the fake upstream registry speaks the Provider Registry Protocol the way real
//! registries do, with signatures the production verifier accepts, and that its faults behave,
//! so tests built on it fail for the mirror's reasons and not the fake's.

use std::io::Read;
use std::time::Duration;

use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::sha256_hex;
use serde_json::Value;
use tfmirror::upstream::signature::{SignatureError, verify_detached};

const NS: &str = "hashicorp";
const TYPE: &str = "null";
const VERSION: &str = "3.2.1";
const PLATFORM: &str = "linux_amd64";

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    response.json().await.unwrap()
}

async fn get_bytes(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.bytes().await.unwrap().to_vec()
}

fn download_info_url(registry: &FakeRegistry, platform: &str) -> String {
    let (os, arch) = platform.split_once('_').unwrap();
    format!(
        "{}/v1/providers/{NS}/{TYPE}/{VERSION}/download/{os}/{arch}",
        registry.base_url
    )
}

/// What a client downloads for one platform, following the protocol from discovery on.
struct Fetched {
    info: Value,
    archive: Vec<u8>,
    sums: Vec<u8>,
    signature: Vec<u8>,
}

impl Fetched {
    fn shasum(&self) -> &str {
        self.info["shasum"].as_str().unwrap()
    }

    fn keys(&self) -> Vec<String> {
        self.info["signing_keys"]["gpg_public_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["ascii_armor"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The hash `SHA256SUMS` lists for the archive named in the download info.
    fn listed_shasum(&self) -> String {
        let filename = self.info["filename"].as_str().unwrap();
        let sums = std::str::from_utf8(&self.sums).unwrap();
        sums.lines()
            .find_map(|line| {
                let (hash, name) = line.split_once("  ")?;
                (name == filename).then(|| hash.to_owned())
            })
            .unwrap_or_else(|| panic!("{filename} not in SHA256SUMS:\n{sums}"))
    }

    fn verify(&self) -> Result<tfmirror::upstream::signature::VerifiedBy, SignatureError> {
        verify_detached(&self.sums, &self.signature, &self.keys())
    }
}

async fn fetch(client: &reqwest::Client, registry: &FakeRegistry, platform: &str) -> Fetched {
    let base = &registry.base_url;
    let discovery = get_json(client, &format!("{base}/.well-known/terraform.json")).await;
    let providers = discovery["providers.v1"].as_str().unwrap();
    let (os, arch) = platform.split_once('_').unwrap();
    let info = get_json(
        client,
        &format!("{base}{providers}{NS}/{TYPE}/{VERSION}/download/{os}/{arch}"),
    )
    .await;
    Fetched {
        archive: get_bytes(client, info["download_url"].as_str().unwrap()).await,
        sums: get_bytes(client, info["shasums_url"].as_str().unwrap()).await,
        signature: get_bytes(client, info["shasums_signature_url"].as_str().unwrap()).await,
        info,
    }
}

#[tokio::test]
async fn speaks_the_registry_protocol_with_verifiable_signatures() {
    let registry = FakeRegistry::start().await;
    registry.publish(NS, TYPE, VERSION, &["linux_amd64", "darwin_arm64"]);
    let client = client();
    let base = &registry.base_url;

    let discovery = get_json(&client, &format!("{base}/.well-known/terraform.json")).await;
    assert_eq!(discovery["providers.v1"], "/v1/providers/");

    let versions = get_json(
        &client,
        &format!("{base}/v1/providers/{NS}/{TYPE}/versions"),
    )
    .await;
    let listed = &versions["versions"].as_array().unwrap()[0];
    assert_eq!(listed["version"], VERSION);
    assert_eq!(listed["protocols"], serde_json::json!(["5.0"]));
    let platforms = listed["platforms"].as_array().unwrap();
    assert!(platforms.contains(&serde_json::json!({"os": "linux", "arch": "amd64"})));
    assert!(platforms.contains(&serde_json::json!({"os": "darwin", "arch": "arm64"})));

    let fetched = fetch(&client, &registry, PLATFORM).await;
    let info = &fetched.info;
    assert_eq!(info["os"], "linux");
    assert_eq!(info["arch"], "amd64");
    assert_eq!(
        info["filename"],
        "terraform-provider-null_3.2.1_linux_amd64.zip"
    );
    for url in ["download_url", "shasums_url", "shasums_signature_url"] {
        assert!(info[url].as_str().unwrap().starts_with(base), "{url}");
    }
    let key = &info["signing_keys"]["gpg_public_keys"][0];
    assert_eq!(key["key_id"], registry.key_id());
    assert_eq!(key["ascii_armor"], registry.armored_public_key());
    assert!(key["source_url"].is_null());

    // The three checks a Terraform client makes.
    assert_eq!(sha256_hex(&fetched.archive), fetched.shasum());
    assert_eq!(fetched.listed_shasum(), fetched.shasum());
    let verified = fetched.verify().unwrap();
    assert_eq!(verified.key_id, registry.key_id());
    assert_eq!(registry.key_id().len(), 16);

    // SHA256SUMS lists every platform, sorted by filename, in sha256sum format.
    let sums = String::from_utf8(fetched.sums.clone()).unwrap();
    let names: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        names,
        [
            "terraform-provider-null_3.2.1_darwin_arm64.zip",
            "terraform-provider-null_3.2.1_linux_amd64.zip"
        ]
    );
    assert!(sums.ends_with('\n'));

    // The archive is a zip holding an executable named like a provider binary.
    assert_eq!(
        fetched.archive,
        registry.zip_bytes(NS, TYPE, VERSION, PLATFORM)
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&fetched.archive)).unwrap();
    let mut entry = zip.by_name("terraform-provider-null_v3.2.1").unwrap();
    assert_eq!(entry.unix_mode().unwrap() & 0o777, 0o755);
    let mut contents = String::new();
    entry.read_to_string(&mut contents).unwrap();
    assert!(contents.contains("hashicorp/null 3.2.1"), "{contents}");

    assert_eq!(registry.hits(Target::Discovery), 2);
    assert_eq!(registry.hits(Target::versions(NS, TYPE)), 1);
    assert_eq!(
        registry.hits(Target::archive(NS, TYPE, VERSION, PLATFORM)),
        1
    );
    assert_eq!(registry.hits(Target::signature(NS, TYPE, VERSION)), 1);
    assert_eq!(registry.hits(Target::Any), 7);
}

#[tokio::test]
async fn unknown_providers_versions_and_platforms_are_404() {
    let registry = FakeRegistry::start().await;
    registry.publish(NS, TYPE, VERSION, &[PLATFORM]);
    let client = client();
    let base = &registry.base_url;
    for url in [
        format!("{base}/v1/providers/{NS}/nothing/versions"),
        format!("{base}/v1/providers/{NS}/{TYPE}/9.9.9/download/linux/amd64"),
        download_info_url(&registry, "windows_386"),
        format!("{base}/files/{NS}/{TYPE}/{VERSION}/terraform-provider-null_3.2.1_windows_386.zip"),
        format!("{base}/nowhere"),
    ] {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 404, "{url}");
    }
    assert_eq!(registry.hits(Target::Any), 5);
}

#[tokio::test]
async fn identical_packages_are_byte_identical_and_published_zips_are_served_as_is() {
    let a = FakeRegistry::start().await;
    let b = FakeRegistry::start().await;
    a.publish(NS, TYPE, VERSION, &[PLATFORM]);
    b.publish(NS, TYPE, VERSION, &[PLATFORM]);
    assert_eq!(
        a.zip_bytes(NS, TYPE, VERSION, PLATFORM),
        b.zip_bytes(NS, TYPE, VERSION, PLATFORM)
    );
    assert_ne!(a.key_id(), b.key_id());

    // A zip published for one more platform joins the same signed SHA256SUMS.
    let own = crate::common::provider_zip("custom");
    a.publish_zip(NS, TYPE, VERSION, "darwin_amd64", own.clone());
    let fetched = fetch(&client(), &a, "darwin_amd64").await;
    assert_eq!(fetched.archive, own);
    assert_eq!(fetched.listed_shasum(), sha256_hex(&own));
    assert_eq!(
        std::str::from_utf8(&fetched.sums).unwrap().lines().count(),
        2
    );
    fetched.verify().unwrap();
}

#[tokio::test]
async fn sized_archives_are_stored_incompressible_and_distinct_per_platform() {
    let registry = FakeRegistry::start().await;
    let size = 1 << 20;
    registry.publish_sized(NS, TYPE, VERSION, &["linux_amd64", "linux_arm64"], size);
    let amd = registry.zip_bytes(NS, TYPE, VERSION, "linux_amd64");
    let arm = registry.zip_bytes(NS, TYPE, VERSION, "linux_arm64");
    assert!(amd.len() > size && amd.len() < size + 1024, "{}", amd.len());
    assert_ne!(amd, arm);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&amd)).unwrap();
    let entry = zip.by_index(0).unwrap();
    assert_eq!(entry.compression(), zip::CompressionMethod::Stored);
    assert_eq!(entry.size(), size as u64);
    drop(entry);

    let fetched = fetch(&client(), &registry, "linux_amd64").await;
    assert_eq!(sha256_hex(&fetched.archive), fetched.shasum());
    fetched.verify().unwrap();
}

#[tokio::test]
async fn status_faults_last_exactly_times_requests() {
    let registry = FakeRegistry::start().await;
    registry.publish(NS, TYPE, VERSION, &[PLATFORM]);
    let versions_url = format!("{}/v1/providers/{NS}/{TYPE}/versions", registry.base_url);
    registry.inject(Target::versions(NS, TYPE), Fault::Status(500), 2);
    let client = client();

    // Another target is not affected.
    let discovery = format!("{}/.well-known/terraform.json", registry.base_url);
    assert_eq!(client.get(&discovery).send().await.unwrap().status(), 200);

    for _ in 0..2 {
        assert_eq!(
            client.get(&versions_url).send().await.unwrap().status(),
            500
        );
    }
    assert_eq!(
        client.get(&versions_url).send().await.unwrap().status(),
        200
    );
    assert_eq!(registry.hits(Target::versions(NS, TYPE)), 3);

    // `Any` aims at whatever comes next.
    registry.inject(Target::Any, Fault::Status(503), 1);
    assert_eq!(client.get(&discovery).send().await.unwrap().status(), 503);
    assert_eq!(client.get(&discovery).send().await.unwrap().status(), 200);
    assert_eq!(registry.hits(Target::Any), 6);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let registry = FakeRegistry::start().await;
    registry.publish(NS, TYPE, VERSION, &[PLATFORM]);
    registry.inject(
        Target::download_info(NS, TYPE, VERSION, PLATFORM),
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
        1,
    );
    let url = download_info_url(&registry, PLATFORM);
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn delay_triggers_a_client_timeout() {
    let registry = FakeRegistry::start().await;
    registry.inject(Target::Discovery, Fault::Delay(Duration::from_secs(3)), 1);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!("{}/.well-known/terraform.json", registry.base_url);
    let err = impatient.get(&url).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(impatient.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn truncated_archive_declares_full_length_and_breaks_the_body() {
    let registry = FakeRegistry::start().await;
    registry.publish_sized(NS, TYPE, VERSION, &[PLATFORM], 256 * 1024);
    let full = registry.zip_bytes(NS, TYPE, VERSION, PLATFORM).len() as u64;
    // Aimed at `Any`: the download-info request before the archive must not consume it.
    registry.inject(Target::Any, Fault::Truncate, 1);
    let client = client();
    let info = get_json(&client, &download_info_url(&registry, PLATFORM)).await;

    let response = client
        .get(info["download_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(full));
    let mut response = response;
    let mut received = 0u64;
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len() as u64,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(outcome.is_err(), "body completed with {received} of {full}");
    assert!(received < full, "{received} of {full}");

    // The fault is used up.
    let archive = get_bytes(&client, info["download_url"].as_str().unwrap()).await;
    assert_eq!(archive.len() as u64, full);
}

#[tokio::test]
async fn wrong_shasum_and_tampered_archive_fail_the_hash_checks() {
    let registry = FakeRegistry::start().await;
    registry.publish(NS, TYPE, VERSION, &[PLATFORM]);
    let client = client();

    registry.inject(Target::Any, Fault::WrongShasum, 1);
    let fetched = fetch(&client, &registry, PLATFORM).await;
    assert_ne!(sha256_hex(&fetched.archive), fetched.shasum());
    assert_ne!(fetched.listed_shasum(), fetched.shasum());
    fetched.verify().unwrap();

    registry.inject(
        Target::archive(NS, TYPE, VERSION, PLATFORM),
        Fault::TamperedArchive,
        1,
    );
    let fetched = fetch(&client, &registry, PLATFORM).await;
    assert_eq!(fetched.listed_shasum(), fetched.shasum());
    assert_ne!(sha256_hex(&fetched.archive), fetched.shasum());
    assert_eq!(
        fetched.archive.len(),
        registry.zip_bytes(NS, TYPE, VERSION, PLATFORM).len()
    );
}

#[tokio::test]
async fn signature_faults_fail_verification() {
    let registry = FakeRegistry::start().await;
    registry.publish(NS, TYPE, VERSION, &[PLATFORM]);
    let client = client();
    let signature = Target::signature(NS, TYPE, VERSION);

    registry.inject(signature.clone(), Fault::BadSignature, 1);
    let err = fetch(&client, &registry, PLATFORM)
        .await
        .verify()
        .unwrap_err();
    assert_eq!(
        err,
        SignatureError::DoesNotVerify {
            key_id: registry.key_id()
        }
    );

    registry.inject(signature.clone(), Fault::ForeignKeySignature, 1);
    let err = fetch(&client, &registry, PLATFORM)
        .await
        .verify()
        .unwrap_err();
    match &err {
        SignatureError::UnknownKey { key_id, offered } => {
            assert_ne!(*key_id, registry.key_id());
            assert_eq!(*offered, vec![registry.key_id()]);
        }
        other => panic!("expected an unknown key, got {other}"),
    }

    registry.inject(Target::Any, Fault::Unsigned, 1);
    let fetched = fetch(&client, &registry, PLATFORM).await;
    assert!(fetched.keys().is_empty());
    assert_eq!(fetched.verify().unwrap_err(), SignatureError::NoKeys);

    // Faults used up: everything verifies again.
    fetch(&client, &registry, PLATFORM).await.verify().unwrap();
    assert_eq!(registry.hits(signature), 4);
}

#[tokio::test]
async fn serves_https_with_the_project_ca() {
    let dir = tempfile::tempdir().unwrap();
    let registry = FakeRegistry::start_tls(dir.path()).await;
    registry.publish(NS, TYPE, VERSION, &[PLATFORM]);
    assert!(registry.base_url.starts_with("https://localhost:"));

    let ca = std::fs::read(dir.path().join("tls/ca.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let fetched = fetch(&client, &registry, PLATFORM).await;
    assert!(
        fetched.info["download_url"]
            .as_str()
            .unwrap()
            .starts_with("https://localhost:")
    );
    assert_eq!(sha256_hex(&fetched.archive), fetched.shasum());
    fetched.verify().unwrap();
}
