//! Complete lock files (`POST /v1/lock`): the oracle is real Terraform. For the same
//! providers, constraints and platforms, the mirror's file must be byte for byte what
//! `terraform providers lock -platform=...` writes through the mirror's registry protocol,
//! and `terraform init -lockfile=readonly` through the network mirror must accept it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::common::fake_registry::FakeRegistry;
use crate::terraform::{Workspace, null_upstream, terraforms};

const PLATFORMS: [&str; 3] = ["linux_amd64", "darwin_arm64", "windows_amd64"];

const TWO_PROVIDERS_TF: &str = r#"
terraform {
  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "~> 2.1"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.0.0, < 4.0.0"
    }
  }
}
"#;

/// What `TWO_PROVIDERS_TF` requires, as a `/v1/lock` body for `platforms`.
fn two_providers_request(platforms: &[&str]) -> Value {
    json!({
        "providers": [
            {"source": "hashicorp/null", "constraints": ["~> 2.1"]},
            {"source": "hashicorp/random", "constraints": [">= 3.0.0, < 4.0.0"]},
        ],
        "platforms": platforms,
    })
}

async fn lock(app: &TestApp, body: Value) -> (StatusCode, String) {
    let res = app
        .client
        .post(app.url("/v1/lock"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// The origin offers null 2.1.2 (the real provider for linux_amd64, and two more platforms)
/// and random 3.0.0 and 3.1.0 on four platforms; nothing is stored.
async fn two_providers(data: &std::path::Path) -> (FakeRegistry, TestApp, std::path::PathBuf) {
    let (fake, _null_zip, app, bundle) = null_upstream(data, true).await;
    for platform in ["darwin_arm64", "windows_amd64"] {
        fake.publish("hashicorp", "null", "2.1.2", &[platform]);
    }
    for version in ["3.0.0", "3.1.0"] {
        fake.publish(
            "hashicorp",
            "random",
            version,
            &[
                "linux_amd64",
                "darwin_arm64",
                "windows_amd64",
                "freebsd_amd64",
            ],
        );
    }
    (fake, app, bundle)
}

#[tokio::test]
async fn the_mirrors_lock_file_is_the_one_terraform_writes_and_init_accepts_it() {
    let data = tempfile::tempdir().unwrap();
    let (_fake, app, bundle) = two_providers(data.path()).await;
    let (status, mirror_lock) = lock(&app, two_providers_request(&PLATFORMS)).await;
    assert_eq!(status, StatusCode::OK, "{mirror_lock}");
    // Every asked platform was pulled through during the request, and is stored now.
    let view = app
        .state
        .catalog
        .provider_view(&tfmirror::domain::ProviderAddress::parse("hashicorp/random").unwrap())
        .await
        .unwrap();
    assert_eq!(view.versions["3.1.0"].archives.len(), 3);
    assert!(
        mirror_lock.contains("version     = \"3.1.0\""),
        "{mirror_lock}"
    );
    assert!(
        mirror_lock.contains("constraints = \"~> 2.1\""),
        "{mirror_lock}"
    );
    // h1: for three platforms of each, zh: for every platform the origin signed (random: 4).
    assert_eq!(mirror_lock.matches("\"h1:").count(), 6, "{mirror_lock}");
    assert_eq!(mirror_lock.matches("\"zh:").count(), 7, "{mirror_lock}");

    let providers_url = format!("{}/v1/providers/", app.base);
    let mirror_url = format!("{}/", app.base);
    for (version, terraform) in terraforms() {
        let via_registry = Workspace::via_registry(&bundle, &providers_url, TWO_PROVIDERS_TF);
        let through_mirror = Workspace::new(&bundle, &mirror_url, TWO_PROVIDERS_TF);
        let expected = mirror_lock.clone();
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["providers", "lock"];
            let flags: Vec<String> = PLATFORMS.iter().map(|p| format!("-platform={p}")).collect();
            args.extend(flags.iter().map(String::as_str));
            let (ok, log) = via_registry.run(&terraform, &args);
            assert!(ok, "terraform {version} providers lock failed:\n{log}");
            assert_eq!(
                via_registry.lock_file(),
                expected,
                "terraform {version} writes another lock file than the mirror"
            );

            through_mirror.write_lock_file(&expected);
            let (ok, log) =
                through_mirror.run(&terraform, &["init", "-input=false", "-lockfile=readonly"]);
            assert!(
                ok,
                "terraform {version} init -lockfile=readonly refused the mirror's lock file:\n{log}"
            );
            assert_eq!(
                through_mirror.lock_file(),
                expected,
                "init changed the lock file"
            );
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_locked_version_is_kept_and_what_cannot_be_met_is_named() {
    let data = tempfile::tempdir().unwrap();
    let (fake, app, _bundle) = two_providers(data.path()).await;
    let random =
        |constraints: &str| json!({"source": "hashicorp/random", "constraints": [constraints]});

    // An existing lock's version is kept while it meets the constraints, with its hashes.
    let existing = "# This file is maintained automatically by \"terraform init\".\n\
                    # Manual edits may be lost in future updates.\n\n\
                    provider \"registry.terraform.io/hashicorp/random\" {\n  \
                    version     = \"3.0.0\"\n  constraints = \">= 3.0.0\"\n  hashes = [\n    \
                    \"h1:recorded-before=\",\n  ]\n}\n";
    let (status, text) = lock(
        &app,
        json!({"providers": [random(">= 3.0.0")], "platforms": ["linux_amd64"], "lock_file": existing}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("version     = \"3.0.0\""), "{text}");
    assert!(text.contains("h1:recorded-before="), "{text}");
    // Asked to upgrade, the newest allowed version.
    let (status, text) = lock(
        &app,
        json!({"providers": [random(">= 3.0.0")], "platforms": ["linux_amd64"], "lock_file": existing, "upgrade": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("version     = \"3.1.0\""), "{text}");
    assert!(!text.contains("h1:recorded-before="), "{text}");
    // A lock the constraints no longer allow is an error, not a silent upgrade.
    let (status, text) = lock(
        &app,
        json!({"providers": [random("~> 3.1.0")], "lock_file": existing}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(
        text.contains("selects 3.0.0, which does not meet"),
        "{text}"
    );

    // No version meets the constraint.
    let (status, text) = lock(&app, json!({"providers": [random(">= 9.0.0")]})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(
        text.contains("registry.terraform.io/hashicorp/random: no version meets \\\">= 9.0.0\\\"")
            && text.contains("3.1.0, 3.0.0"),
        "{text}"
    );

    // A platform the origin lacks: named, and nothing shorter is returned.
    let (status, text) = lock(
        &app,
        json!({"providers": [random(">= 3.0.0")], "platforms": ["linux_amd64", "solaris_sparc"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(
        text.contains("hashicorp/random 3.1.0 has no package for solaris_sparc")
            && text.contains("darwin_arm64, freebsd_amd64, linux_amd64, windows_amd64"),
        "{text}"
    );

    // Bad input: a clear 400 naming the part.
    for (body, says) in [
        (json!({"providers": []}), "at least one provider"),
        (
            json!({"providers": [{"source": "a/b/c/d"}]}),
            "provider \\\"a/b/c/d\\\"",
        ),
        (json!({"providers": [random("=> 1.0")]}), "did you mean"),
        (
            json!({"providers": [random("1.0.0")], "platforms": ["linux"]}),
            "platform \\\"linux\\\"",
        ),
        (
            json!({"providers": [random("1.0.0")], "lock_file": "provider {"}),
            "lock_file: line 1",
        ),
        (
            json!({"providers": [random("1.0.0")], "configuration": [{"name": "a.tf", "text": ""}]}),
            "either providers or configuration",
        ),
        (
            json!({"configuration": [{"name": "a.tf", "text": "variable \"x\" {}\n"}]}),
            "no required_providers entry",
        ),
        (
            json!({"configuration": [{"name": "versions.tf", "text": "terraform {\n  required_providers {\n    random = { version = \"=> 1.0\" }\n  }\n}\n"}]}),
            "versions.tf: line 3: random: version: ",
        ),
    ] {
        let (status, text) = lock(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    // A body over `limits.max_json_bytes` is too large, as on the admin API.
    let limit = app.state.config.limits.max_json_bytes;
    let (status, text) = lock(&app, json!({"providers": [random(&"9".repeat(limit))]})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    assert!(text.contains("\"too_large\""), "{text}");
    drop(fake);
}

#[tokio::test]
async fn a_provider_of_a_second_origin_is_locked_from_that_origin() {
    let tofu = FakeRegistry::start().await;
    tofu.publish(
        "hashicorp",
        "random",
        "3.2.0",
        &["linux_amd64", "darwin_arm64"],
    );
    let app = TestApp::spawn_with(crate::common::Store::Local, |c| {
        c.upstream.insert(
            "registry.opentofu.org".into(),
            tfmirror::config::UpstreamConfig {
                url: Some(tofu.base_url.clone()),
                pull_through: true,
                ..Default::default()
            },
        );
    })
    .await;
    let (status, text) = lock(
        &app,
        json!({"providers": [{"source": "registry.opentofu.org/hashicorp/random", "constraints": ["~> 3.2"]}],
               "platforms": ["linux_amd64"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("provider \"registry.opentofu.org/hashicorp/random\" {\n  version     = \"3.2.0\"\n  constraints = \"~> 3.2\""),
        "{text}"
    );
    let zip = tofu.zip_bytes("hashicorp", "random", "3.2.0", "darwin_arm64");
    assert!(
        text.contains(&format!("zh:{}", crate::common::sha256_hex(&zip))),
        "the darwin zh: signed by the second origin is listed:\n{text}"
    );
    assert_eq!(text.matches("\"h1:").count(), 1, "{text}");
}

#[tokio::test]
async fn tfmirror_lock_reads_a_configuration_and_its_local_modules_and_writes_the_file() {
    let data = tempfile::tempdir().unwrap();
    let (_fake, app, bundle) = two_providers(data.path()).await;
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("modules/rand")).unwrap();
    let main_tf = "terraform {\n  required_providers {\n    null = {\n      source  = \"hashicorp/null\"\n      version = \"~> 2.1\"\n    }\n  }\n}\n\nmodule \"rand\" {\n  source = \"./modules/rand\"\n}\n";
    let rand_tf = "terraform {\n  required_providers {\n    random = {\n      source  = \"hashicorp/random\"\n      version = \">= 3.0.0, < 4.0.0\"\n    }\n  }\n}\n";
    std::fs::write(work.path().join("main.tf"), main_tf).unwrap();
    std::fs::write(work.path().join("modules/rand/versions.tf"), rand_tf).unwrap();
    let (bundle, client, dir, base) = (
        bundle.clone(),
        data.path().join("client"),
        work.path().to_owned(),
        app.base.clone(),
    );
    let run = move |args: &'static [&'static str]| {
        let (bundle, client, dir, base) =
            (bundle.clone(), client.clone(), dir.clone(), base.clone());
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_tfmirror"))
                .env_remove("TFM_CONFIG")
                .env("SSL_CERT_FILE", &bundle)
                .arg("--data-dir")
                .arg(&client)
                .arg("lock")
                .arg(&dir)
                .arg("--mirror")
                .arg(&base)
                .args(args)
                .output()
                .unwrap();
            (
                out.status.code(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        })
    };
    const PLATFORMS_2: &[&str] = &["--platform", "linux_amd64", "--platform", "darwin_arm64"];
    let (code, log) = run(PLATFORMS_2).await.unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("registry.terraform.io/hashicorp/random 3.1.0: 2 h1:, 4 zh:"),
        "{log}"
    );
    // Which provider the mirror is working on, one after the other.
    let (first, second) = (
        log.find("[1/2] registry.terraform.io/hashicorp/"),
        log.find("[2/2] registry.terraform.io/hashicorp/"),
    );
    assert!(first.is_some() && first < second, "{log}");
    let written = std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).unwrap();
    let (status, expected) = lock(
        &app,
        two_providers_request(&["linux_amd64", "darwin_arm64"]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(written, expected);
    // The same files sent as `configuration` (what the web UI sends) are read the same way.
    let (status, from_files) = lock(
        &app,
        json!({
            "configuration": [
                {"name": "main.tf", "text": main_tf},
                {"name": "modules/rand/versions.tf", "text": rand_tf},
            ],
            "platforms": ["linux_amd64", "darwin_arm64"],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{from_files}");
    assert_eq!(from_files, written);

    // Run again: the lock file is kept as it is.
    let (code, log) = run(PLATFORMS_2).await.unwrap();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(
        std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).unwrap(),
        written
    );

    // A mistake in a module is named with its file and line, and the lock file stays.
    std::fs::write(
        work.path().join("modules/rand/versions.tf"),
        "terraform {\n  required_providers {\n    random = 5\n  }\n}\n",
    )
    .unwrap();
    let (code, log) = run(PLATFORMS_2).await.unwrap();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("modules/rand/versions.tf: line 3: random: expected"),
        "{log}"
    );
    let (status, text) = lock(
        &app,
        json!({"configuration": [
            {"name": "main.tf", "text": main_tf},
            {"name": "modules/rand/versions.tf", "text": "terraform {\n  required_providers {\n    random = 5\n  }\n}\n"},
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("modules/rand/versions.tf: line 3: random: expected"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join(".terraform.lock.hcl")).unwrap(),
        written
    );
}

#[tokio::test]
async fn one_request_pulls_through_at_most_the_configured_number_of_packages() {
    let fake = FakeRegistry::start().await;
    fake.publish(
        "hashicorp",
        "random",
        "3.1.0",
        &["linux_amd64", "darwin_arm64", "windows_amd64"],
    );
    let url = fake.base_url.clone();
    let app = TestApp::spawn_with(crate::common::Store::Local, |c| {
        crate::common::set_upstream(c, &url, |u| u.pull_through = true);
        c.limits.max_lock_pulls = 2;
    })
    .await;
    let body = json!({
        "providers": [{"source": "hashicorp/random", "constraints": ["3.1.0"]}],
        "platforms": ["linux_amd64", "darwin_arm64", "windows_amd64"],
    });
    let (status, text) = lock(&app, body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(
        text.contains("hashicorp/random 3.1.0 windows_amd64: this request needs more than 2 packages the mirror does not store yet")
            && text.contains("the 2 fetched so far stay stored"),
        "{text}"
    );
    // What was fetched stays: the same request again needs one more, and succeeds.
    let (status, text) = lock(&app, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text.matches("\"h1:").count(), 3, "{text}");
}
