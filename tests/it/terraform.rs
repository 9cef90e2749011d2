//! End to end with the real Terraform CLI: import a `terraform providers mirror` directory
//! holding the real null provider 2.1.2 and the shared dummy package, serve it over HTTPS with a
//! generated CA, and run `terraform init` and `terraform apply` through a `network_mirror`.
//! Runs Terraform 1.0.3 (installed by scripts/install-test-tools.sh) and, when the machine has
//! one, the `terraform` on the PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Store, TestApp, h1_reference};
use serde_json::json;

const DUMMY_H1: &str = "h1:A7Q9yqckW7BlX5lzdPZ9Idfn3kxzlNlozOKDzJ3gDHc=";

pub(crate) fn tool(name: &str) -> PathBuf {
    let p = crate::common::repo_path(&format!(".tools/bin/{name}"));
    assert!(
        p.exists(),
        "{} is missing: run scripts/install-test-tools.sh (the README's test command does)",
        p.display()
    );
    p
}

/// Terraform binaries to test with: the pinned 1.0.3 and, if present, a newer one on PATH.
pub(crate) fn terraforms() -> Vec<(String, PathBuf)> {
    let mut out = vec![("1.0.3".to_owned(), tool("terraform-1.0.3"))];
    if let Ok(o) = Command::new("terraform")
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        && o.status.success()
    {
        let v = String::from_utf8_lossy(&o.stdout);
        let v = v
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("Terraform v")
            .to_owned();
        if v != "1.0.3" && !v.is_empty() {
            out.push((v, PathBuf::from("terraform")));
        }
    }
    out
}

pub(crate) struct Workspace {
    dir: tempfile::TempDir,
    bundle: PathBuf,
    mirror_url: String,
}

impl Workspace {
    /// A workspace installing through `network_mirror { url = mirror_url }`.
    pub(crate) fn new(bundle: &Path, mirror_url: &str, main_tf: &str) -> Self {
        Self::with_cli_config(
            bundle,
            mirror_url,
            main_tf,
            &format!(
                "provider_installation {{\n  network_mirror {{\n    url = \"{mirror_url}\"\n  }}\n}}\n"
            ),
        )
    }

    /// A workspace whose `registry.terraform.io` is the mirror's registry protocol (a `host`
    /// override), installing directly from it.
    pub(crate) fn via_registry(bundle: &Path, providers_url: &str, main_tf: &str) -> Self {
        Self::with_cli_config(
            bundle,
            providers_url,
            main_tf,
            &format!(
                "host \"registry.terraform.io\" {{\n  services = {{\n    \"providers.v1\" = \"{providers_url}\"\n  }}\n}}\n"
            ),
        )
    }

    fn with_cli_config(bundle: &Path, mirror_url: &str, main_tf: &str, cli_config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        std::fs::write(dir.path().join("work/main.tf"), main_tf).unwrap();
        std::fs::write(dir.path().join("terraformrc"), cli_config).unwrap();
        Self {
            dir,
            bundle: bundle.to_owned(),
            mirror_url: mirror_url.to_owned(),
        }
    }

    pub(crate) fn run(&self, terraform: &Path, args: &[&str]) -> (bool, String) {
        let out = Command::new(terraform)
            .args(args)
            .arg("-no-color")
            .current_dir(self.dir.path().join("work"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("terraformrc"))
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("SSL_CERT_FILE", &self.bundle)
            .output()
            .expect("terraform runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.status.success(),
            format!("[{} via {}]\n{text}", terraform.display(), self.mirror_url),
        )
    }

    /// Writes `.terraform.lock.hcl` into the working directory before Terraform runs.
    pub(crate) fn write_lock_file(&self, text: &str) {
        std::fs::write(self.dir.path().join("work/.terraform.lock.hcl"), text).unwrap();
    }

    /// The lock file Terraform wrote (empty when none); every one read is also the oracle
    /// of `tfmirror::lockfile`: read and written again, it must come out byte for byte.
    pub(crate) fn lock_file(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("work/.terraform.lock.hcl"))
            .unwrap_or_default();
        if !text.is_empty() {
            let read = tfmirror::lockfile::parse(&text)
                .unwrap_or_else(|e| panic!("Terraform's lock file does not read: {e}\n{text}"));
            assert_eq!(
                tfmirror::lockfile::render(&read),
                text,
                "the mirror writes Terraform's lock file differently"
            );
        }
        text
    }
}

pub(crate) const NULL_TF: &str = r#"
terraform {
  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "2.1.2"
    }
  }
}

resource "null_resource" "hello" {
  triggers = {
    greeting = "installed from tfmirror"
  }
}
"#;

const DUMMY_TF: &str = r#"
terraform {
  required_providers {
    dummy = {
      source  = "example/dummy"
      version = "1.0.0"
    }
  }
}
"#;

/// A server on `data` over HTTPS with a generated CA, and a CA bundle for Terraform
/// (`SSL_CERT_FILE`): the system CAs plus the generated one.
pub(crate) async fn https_app(
    data: &Path,
    tweak: impl FnOnce(&mut tfmirror::config::Config),
) -> (TestApp, PathBuf) {
    let tls = tfmirror::tls::ensure_self_signed(data, &[]).unwrap();
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.data_dir = data.to_owned();
        c.server.tls = Some(tfmirror::config::TlsConfig {
            cert_file: tls.cert.clone(),
            key_file: tls.key.clone(),
        });
        tweak(c);
    })
    .await;
    let bundle = data.join("bundle.pem");
    let mut pem = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    pem.push_str(&std::fs::read_to_string(&tls.ca_cert).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    (app, bundle)
}

#[tokio::test]
async fn terraform_installs_through_the_mirror_and_refuses_tampered_archives() {
    // A `terraform providers mirror` directory with the real null provider and the shared dummy.
    let src = tempfile::tempdir().unwrap();
    let null_bin = std::fs::read(tool("terraform-provider-null_v2.1.2_x4")).unwrap();
    let null_zip = stored_zip("terraform-provider-null_v2.1.2_x4", &null_bin);
    let null_h1 = h1_reference(&null_zip);
    let dummy_zip = std::fs::read(crate::common::repo_path(
        "tests/data/terraform-provider-dummy_1.0.0_linux_amd64.zip",
    ))
    .unwrap();
    for (addr, version, zip, h1) in [
        (
            "registry.terraform.io/hashicorp/null",
            "2.1.2",
            &null_zip,
            null_h1.as_str(),
        ),
        (
            "registry.terraform.io/example/dummy",
            "1.0.0",
            &dummy_zip,
            DUMMY_H1,
        ),
    ] {
        let dir = src.path().join(addr);
        std::fs::create_dir_all(&dir).unwrap();
        let ty = addr.rsplit('/').next().unwrap();
        let file = format!("terraform-provider-{ty}_{version}_linux_amd64.zip");
        std::fs::write(dir.join(&file), zip).unwrap();
        std::fs::write(
            dir.join("index.json"),
            json!({"versions": {version: {}}}).to_string(),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{version}.json")),
            json!({"archives": {"linux_amd64": {"url": file, "hashes": [h1]}}}).to_string(),
        )
        .unwrap();
    }

    // Import with the real CLI, then serve over HTTPS with a generated CA.
    let data = tempfile::tempdir().unwrap();
    let mut import = Command::new(env!("CARGO_BIN_EXE_tfmirror"));
    import
        .arg("--data-dir")
        .arg(data.path())
        .arg("import")
        .arg(src.path());
    if let Some(url) = crate::common::database_url_for(data.path()) {
        import.env("TFM_DATABASE_URL", url);
    }
    let out = import.output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("2 added, 0 skipped, 0 rejected"),
        "{report}"
    );

    let (app, bundle) = https_app(data.path(), |_| {}).await;
    let mirror_url = format!("{}/", app.base);

    // Terraform refuses plain-HTTP mirrors: the HTTPS set-up above is not optional.
    for (version, terraform) in terraforms() {
        let terraform = terraform.as_path();
        // terraform blocks; run it off the async executor so the server keeps serving.
        let ws_null = Workspace::new(&bundle, &mirror_url, NULL_TF);
        let ws_dummy = Workspace::new(&bundle, &mirror_url, DUMMY_TF);
        let (ws_null, ws_dummy, null_h1, tf) = tokio::task::spawn_blocking({
            let null_h1 = null_h1.clone();
            let tf = terraform.to_owned();
            move || {
                let (ok, log) = ws_null.run(&tf, &["init", "-input=false"]);
                assert!(ok, "terraform {version} init failed:\n{log}");
                let lock = ws_null.lock_file();
                assert!(
                    lock.contains("registry.terraform.io/hashicorp/null"),
                    "{lock}"
                );
                assert!(
                    lock.contains(&null_h1),
                    "lock file must hold the mirror's h1 {null_h1}:\n{lock}"
                );

                let (ok, log) = ws_null.run(&tf, &["apply", "-auto-approve", "-input=false"]);
                assert!(ok, "terraform {version} apply failed:\n{log}");
                assert!(log.contains("Apply complete! Resources: 1 added"), "{log}");

                let (ok, log) = ws_dummy.run(&tf, &["init", "-input=false"]);
                assert!(ok, "terraform {version} init (dummy) failed:\n{log}");
                assert!(
                    ws_dummy.lock_file().contains(DUMMY_H1),
                    "{}",
                    ws_dummy.lock_file()
                );
                (ws_null, ws_dummy, null_h1, tf)
            }
        })
        .await
        .unwrap();
        drop((ws_null, ws_dummy, null_h1, tf));
    }

    // Tamper with the stored null archive behind the mirror's back (disk corruption, an
    // attacker with storage access): Terraform must refuse what the mirror now serves.
    let key_dir = data.path().join("blobs/sha256");
    let stored = walk_files(&key_dir)
        .into_iter()
        .find(|p| std::fs::metadata(p).unwrap().len() == null_zip.len() as u64)
        .expect("stored null archive");
    // A well-formed archive of the same size whose binary differs in one byte: only the
    // hash check can catch it.
    let mut evil_bin = null_bin.clone();
    let middle = evil_bin.len() / 2;
    evil_bin[middle] ^= 0x5a;
    let evil = stored_zip("terraform-provider-null_v2.1.2_x4", &evil_bin);
    assert_eq!(evil.len(), null_zip.len());
    std::fs::write(&stored, evil).unwrap();
    for (version, terraform) in terraforms() {
        let ws = Workspace::new(&bundle, &mirror_url, NULL_TF);
        let (ok, log) =
            tokio::task::spawn_blocking(move || ws.run(&terraform, &["init", "-input=false"]))
                .await
                .unwrap();
        assert!(
            !ok,
            "terraform {version} must refuse a tampered archive:\n{log}"
        );
        assert!(
            log.contains("doesn't match"),
            "terraform {version} should name the checksum failure:\n{log}"
        );
    }
}

/// One executable entry, stored uncompressed, so a same-length change keeps the archive size.
pub(crate) fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o755);
    w.start_file(name, opts).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The real null provider 2.1.2 (linux_amd64) published by a fake upstream registry, and an
/// HTTPS server on `data` whose `registry.terraform.io` upstream is that fake.
pub(crate) async fn null_upstream(
    data: &Path,
    pull_through: bool,
) -> (
    crate::common::fake_registry::FakeRegistry,
    Vec<u8>,
    TestApp,
    PathBuf,
) {
    let null_bin = std::fs::read(tool("terraform-provider-null_v2.1.2_x4")).unwrap();
    let null_zip = stored_zip("terraform-provider-null_v2.1.2_x4", &null_bin);
    let fake = crate::common::fake_registry::FakeRegistry::start().await;
    fake.publish_zip(
        "hashicorp",
        "null",
        "2.1.2",
        "linux_amd64",
        null_zip.clone(),
    );
    let upstream_url = fake.base_url.clone();
    let (app, bundle) = https_app(data, |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            tfmirror::config::UpstreamConfig {
                url: Some(upstream_url),
                pull_through,
                ..Default::default()
            },
        );
        c.worker.poll_interval_ms = 50;
    })
    .await;
    (fake, null_zip, app, bundle)
}

#[tokio::test]
async fn terraform_installs_a_provider_that_arrived_through_a_job() {
    let data = tempfile::tempdir().unwrap();
    let (_fake, null_zip, app, bundle) = null_upstream(data.path(), false).await;
    let defs = "provider \"hashicorp/null\" {\n  versions  = [\"~> 2.1.0\"]\n  platforms = [\"linux_amd64\"]\n}\n";
    let parsed = tfmirror::jobs::validate(defs, &app.state.registry).unwrap();
    let plan = tfmirror::jobs::plan(&app.state.registry, &parsed)
        .await
        .unwrap();
    let job = tfmirror::jobs::enqueue(&app.state.db, defs, "test", &plan)
        .await
        .unwrap();
    let (s, _) = crate::common::wait_for_job(&app, job).await;
    assert_eq!(s.succeeded, 1, "{s:?}");
    let source: String =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT source FROM packages")
        .fetch_one(p)
        .await)
        .unwrap();
    assert_eq!(
        source, "job",
        "the package came from the job, not an import"
    );

    let mirror_url = format!("{}/", app.base);
    let null_h1 = h1_reference(&null_zip);
    for (version, terraform) in terraforms() {
        let ws = Workspace::new(&bundle, &mirror_url, NULL_TF);
        let h1 = null_h1.clone();
        tokio::task::spawn_blocking(move || {
            let (ok, log) = ws.run(&terraform, &["init", "-input=false"]);
            assert!(ok, "terraform {version} init failed:\n{log}");
            assert!(ws.lock_file().contains(&h1), "{}", ws.lock_file());
        })
        .await
        .unwrap();
    }
}

/// The second platform published next to the real linux_amd64 null provider: never installed
/// here, but its signed `zh:` must reach the lock file through the registry protocol.
fn darwin_null_zip() -> Vec<u8> {
    stored_zip(
        "terraform-provider-null_v2.1.2_x4",
        b"not a real darwin binary",
    )
}

#[tokio::test]
async fn terraform_pulls_through_on_demand_and_installs_through_the_registry_protocol() {
    use crate::common::fake_registry::Target;

    let data = tempfile::tempdir().unwrap();
    let (fake, null_zip, app, bundle) = null_upstream(data.path(), true).await;
    let darwin_zip = darwin_null_zip();
    fake.publish_zip(
        "hashicorp",
        "null",
        "2.1.2",
        "darwin_arm64",
        darwin_zip.clone(),
    );
    // Imported, so without a registry signature: served with the mirror's own.
    let dummy_zip = std::fs::read(crate::common::repo_path(
        "tests/data/terraform-provider-dummy_1.0.0_linux_amd64.zip",
    ))
    .unwrap();
    app.add(
        "registry.terraform.io/example/dummy",
        "1.0.0",
        "linux_amd64",
        &dummy_zip,
    )
    .await;
    let stored = |pool: tfmirror::db::Pool| async move {
        on_db!(&pool, p => sqlx::query_scalar::<_, String>("SELECT source FROM packages ORDER BY id")
            .fetch_all(p)
            .await)
            .unwrap()
    };
    assert_eq!(stored(app.state.db.clone()).await, vec!["upload"]);

    let mirror_url = format!("{}/", app.base);
    let providers_url = format!("{}/v1/providers/", app.base);
    let null_h1 = h1_reference(&null_zip);
    let zh = |zip: &[u8]| format!("zh:{}", crate::common::sha256_hex(zip));
    let (zh_linux, zh_darwin, zh_dummy) = (zh(&null_zip), zh(&darwin_zip), zh(&dummy_zip));
    let archive = Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "2.1.2".into(),
        platform: "linux_amd64".into(),
    };

    for (i, (version, terraform)) in terraforms().into_iter().enumerate() {
        // 1. Network mirror, nothing stored: the mirror pulls the package through.
        let ws = Workspace::new(&bundle, &mirror_url, NULL_TF);
        let h1 = null_h1.clone();
        let v = version.clone();
        let tf = terraform.clone();
        tokio::task::spawn_blocking(move || {
            let (ok, log) = ws.run(&tf, &["init", "-input=false"]);
            assert!(ok, "terraform {v} init through pull-through failed:\n{log}");
            assert!(ws.lock_file().contains(&h1), "{}", ws.lock_file());
        })
        .await
        .unwrap();
        if i == 0 {
            assert_eq!(
                stored(app.state.db.clone()).await,
                vec!["upload", "pull-through"],
                "the first init stored the package"
            );
        }
        assert_eq!(
            fake.hits(archive.clone()),
            1,
            "later installs come from storage"
        );

        // 2. Registry protocol through a host override: the origin's signature is checked by
        // Terraform itself, and the lock file records the signed zh: of every platform.
        let ws = Workspace::via_registry(&bundle, &providers_url, NULL_TF);
        let ws_dummy = Workspace::via_registry(&bundle, &providers_url, DUMMY_TF);
        let (zl, zd, zy) = (zh_linux.clone(), zh_darwin.clone(), zh_dummy.clone());
        tokio::task::spawn_blocking(move || {
            let (ok, log) = ws.run(&terraform, &["init", "-input=false"]);
            assert!(
                ok,
                "terraform {version} init through the registry protocol failed:\n{log}"
            );
            let lock = ws.lock_file();
            assert!(lock.contains(&zl), "linux zh: missing:\n{lock}");
            assert!(
                lock.contains(&zd),
                "darwin zh: missing (every platform):\n{lock}"
            );

            let (ok, log) = ws_dummy.run(&terraform, &["init", "-input=false"]);
            assert!(
                ok,
                "terraform {version} init of a mirror-signed package failed:\n{log}"
            );
            assert!(
                ws_dummy.lock_file().contains(&zy),
                "{}",
                ws_dummy.lock_file()
            );
        })
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn terraform_installs_a_provider_loaded_through_the_admin_api() {
    let data = tempfile::tempdir().unwrap();
    let (_fake, null_zip, app, bundle) = null_upstream(data.path(), false).await;
    let password = "operator password 123";
    let hash = tfmirror::auth::password::hash(password.into())
        .await
        .unwrap();
    tfmirror::db::users::create_user(
        &app.state.db,
        "ops",
        &hash,
        tfmirror::domain::Role::Admin,
        0,
    )
    .await
    .unwrap();
    let login: serde_json::Value = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": "ops", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let res = app
        .client
        .post(app.url("/api/v1/definitions"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("provider \"hashicorp/null\" {\n  versions  = [\"2.1.2\"]\n  platforms = [\"linux_amd64\"]\n}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let job = res.json::<serde_json::Value>().await.unwrap()["job"]["id"]
        .as_i64()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let detail: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/jobs/{job}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if detail["job"]["status"] == "succeeded" {
            break;
        }
        assert_ne!(detail["job"]["status"], "failed", "{detail}");
        assert!(
            std::time::Instant::now() < deadline,
            "job did not finish: {detail}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let mirror_url = format!("{}/", app.base);
    let h1 = h1_reference(&null_zip);
    let (version, terraform) = terraforms().remove(0);
    let ws = Workspace::new(&bundle, &mirror_url, NULL_TF);
    tokio::task::spawn_blocking(move || {
        let (ok, log) = ws.run(&terraform, &["init", "-input=false"]);
        assert!(ok, "terraform {version} init failed:\n{log}");
        assert!(ws.lock_file().contains(&h1), "{}", ws.lock_file());
    })
    .await
    .unwrap();
}

/// `auth.read_access = "token"` with the real CLI: with a `credentials` block holding a
/// consumer token, `terraform init` installs through the network mirror (Terraform sends the
/// token on the JSON requests and downloads the archive by the signed URL the document
/// lists, without credentials); without one, it fails and says the host wants credentials.
#[tokio::test]
async fn with_read_access_control_terraform_needs_its_credentials_block() {
    let data = tempfile::tempdir().unwrap();
    let (app, bundle) = https_app(data.path(), |c| {
        c.auth.read_access = tfmirror::config::ReadAccess::Token;
    })
    .await;
    let null_bin = std::fs::read(tool("terraform-provider-null_v2.1.2_x4")).unwrap();
    let null_zip = stored_zip("terraform-provider-null_v2.1.2_x4", &null_bin);
    let h1 = h1_reference(&null_zip);
    app.add(
        "registry.terraform.io/hashicorp/null",
        "2.1.2",
        "linux_amd64",
        &null_zip,
    )
    .await;
    let admin = app.admin_token().await;
    let created: serde_json::Value = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({ "name": "terraform ci", "role": "consumer", "expires_in_days": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let consumer = created["token"].as_str().expect("a token").to_owned();

    let mirror_url = format!("{}/", app.base);
    let host = app.base.trim_start_matches("https://").to_owned();
    let network_mirror = format!(
        "provider_installation {{\n  network_mirror {{\n    url = \"{mirror_url}\"\n  }}\n}}\n"
    );
    let with_token = Workspace::with_cli_config(
        &bundle,
        &mirror_url,
        NULL_TF,
        &format!("{network_mirror}credentials \"{host}\" {{\n  token = \"{consumer}\"\n}}\n"),
    );
    let without = Workspace::with_cli_config(&bundle, &mirror_url, NULL_TF, &network_mirror);
    let (version, terraform) = terraforms().remove(0);
    tokio::task::spawn_blocking(move || {
        let (ok, log) = with_token.run(&terraform, &["init", "-input=false"]);
        assert!(
            ok,
            "terraform {version} init with credentials failed:\n{log}"
        );
        assert!(
            with_token.lock_file().contains(&h1),
            "{}",
            with_token.lock_file()
        );

        let (ok, log) = without.run(&terraform, &["init", "-input=false"]);
        assert!(
            !ok,
            "terraform {version} init without credentials succeeded:\n{log}"
        );
        // Terraform 1.0.3 words any 401 as "host ... rejected the given authentication
        // credentials", with or without a credentials block (and wraps the line).
        let words = log.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("rejected the given authentication credentials"),
            "the failure should say credentials are needed:\n{log}"
        );
    })
    .await
    .unwrap();
}
