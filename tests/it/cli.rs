//! The command-line tools as an operator uses them: import, add-package, check-config, migrate.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{Store, TestApp, h1_reference, provider_zip};
use reqwest::StatusCode;
use serde_json::json;

/// `tfmirror --data-dir DIR ARGS` (in the PostgreSQL pass, on that directory's database).
pub(crate) fn tfmirror(data_dir: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tfmirror"));
    c.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("TFM_CONFIG")
        .env_remove("TFM_DATABASE_URL")
        .env("RUST_LOG", "warn");
    if let Some(url) = crate::common::database_url_for(data_dir) {
        c.env("TFM_DATABASE_URL", url);
    }
    c.output().expect("tfmirror runs")
}

/// `tfmirror --data-dir DIR ARGS` on the SQLite file in DIR, in either pass.
fn tfmirror_sqlite(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tfmirror"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("TFM_CONFIG")
        .env_remove("TFM_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("tfmirror runs")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `HOST/NS/TYPE/{index.json, VERSION.json, zips}` as `terraform providers mirror` does.
/// Each package is (version, platform, zip bytes, h1 to record).
fn write_mirror_dir(root: &Path, address: &str, packages: &[(&str, &str, &[u8], String)]) {
    let dir = root.join(address);
    std::fs::create_dir_all(&dir).unwrap();
    let ty = address.rsplit('/').next().unwrap();
    let mut versions = serde_json::Map::new();
    let mut docs: std::collections::BTreeMap<&str, serde_json::Map<String, serde_json::Value>> =
        Default::default();
    for (version, platform, zip, h1) in packages {
        let file = format!("terraform-provider-{ty}_{version}_{platform}.zip");
        std::fs::write(dir.join(&file), zip).unwrap();
        versions.insert(version.to_string(), json!({}));
        docs.entry(version)
            .or_default()
            .insert(platform.to_string(), json!({"url": file, "hashes": [h1]}));
    }
    std::fs::write(
        dir.join("index.json"),
        json!({"versions": versions}).to_string(),
    )
    .unwrap();
    for (version, archives) in docs {
        std::fs::write(
            dir.join(format!("{version}.json")),
            json!({"archives": archives}).to_string(),
        )
        .unwrap();
    }
}

#[tokio::test]
async fn import_checks_every_archive_reports_and_is_idempotent() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let good = provider_zip("good");
    let tampered_original = provider_zip("original");
    // Same entry names, altered content: what a swapped binary looks like.
    let tampered = crate::common::make_zip(&[
        ("terraform-provider-original", b"binary for evil!"),
        ("LICENSE", b"MPL-2.0"),
    ]);
    let dummy = std::fs::read(crate::common::repo_path(
        "tests/data/terraform-provider-dummy_1.0.0_linux_amd64.zip",
    ))
    .unwrap();
    write_mirror_dir(
        src.path(),
        "registry.terraform.io/hashicorp/null",
        &[
            ("1.0.0", "linux_amd64", &good, h1_reference(&good)),
            (
                "1.0.0",
                "darwin_amd64",
                &tampered,
                h1_reference(&tampered_original),
            ),
        ],
    );
    write_mirror_dir(
        src.path(),
        "registry.terraform.io/example/dummy",
        &[(
            "1.0.0",
            "linux_amd64",
            &dummy,
            "h1:A7Q9yqckW7BlX5lzdPZ9Idfn3kxzlNlozOKDzJ3gDHc=".into(),
        )],
    );
    let dir = src.path().to_str().unwrap();

    let first = tfmirror(data.path(), &["import", dir]);
    let out = stdout(&first);
    assert_eq!(
        first.status.code(),
        Some(1),
        "a rejected package makes the exit code non-zero\n{out}"
    );
    assert!(out.contains("2 added, 0 skipped, 1 rejected"), "{out}");
    assert!(
        out.contains("REJECTED registry.terraform.io/hashicorp/null 1.0.0 darwin_amd64"),
        "{out}"
    );

    let second = tfmirror(data.path(), &["import", dir]);
    assert!(
        stdout(&second).contains("0 added, 2 skipped, 1 rejected"),
        "{}",
        stdout(&second)
    );

    // The server on the same data dir serves exactly what was accepted.
    let app = TestApp::spawn_with(Store::Local, |c| c.data_dir = data.path().to_owned()).await;
    let doc: serde_json::Value = app
        .get("/registry.terraform.io/hashicorp/null/1.0.0.json")
        .await
        .json()
        .await
        .unwrap();
    let archives = doc["archives"].as_object().unwrap();
    assert_eq!(archives.keys().collect::<Vec<_>>(), ["linux_amd64"]);
    let doc: serde_json::Value = app
        .get("/registry.terraform.io/example/dummy/1.0.0.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["archives"]["linux_amd64"]["hashes"][0],
        "h1:A7Q9yqckW7BlX5lzdPZ9Idfn3kxzlNlozOKDzJ3gDHc="
    );
    assert_eq!(
        doc["archives"]["linux_amd64"]["hashes"][1],
        "zh:1025a57c971aae713a02ceb7953bf9a30a6b2f4cf96da7f5c9e77cdb3b1f00cc"
    );
}

#[tokio::test]
async fn import_reports_bad_layouts_without_storing_them() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let zip = provider_zip("z");
    write_mirror_dir(
        src.path(),
        "registry.terraform.io/bad_ns/null",
        &[("1.0.0", "linux_amd64", &zip, h1_reference(&zip))],
    );
    let dir = src.path().join("registry.terraform.io/hashicorp/x");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1.0.0.json"),
        r#"{"archives":{"linux_amd64":{"url":"../../../../etc/passwd","hashes":["h1:x"]}}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("2.0.0.json"), "{not json").unwrap();
    std::fs::write(
        dir.join("3.0.0.json"),
        r#"{"archives":{"linux_amd64":{"url":"terraform-provider-x_3.0.0_linux_amd64.zip"}}}"#,
    )
    .unwrap();
    std::fs::write(dir.join("terraform-provider-x_3.0.0_linux_amd64.zip"), &zip).unwrap();

    let out = tfmirror(data.path(), &["import", src.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("0 added, 0 skipped, 4 rejected"), "{text}");
    assert!(text.contains("invalid namespace \"bad_ns\""), "{text}");
    assert!(text.contains("is not the expected file name"), "{text}");
    assert!(text.contains("unreadable"), "{text}");
    assert!(text.contains("records no hash"), "{text}");

    let missing = tfmirror(data.path(), &["import", "/nonexistent/dir"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("is not a directory"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test]
async fn import_follows_no_symlinks_and_reports_each() {
    use std::os::unix::fs::symlink;
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let zip = provider_zip("inside");
    let linked_zip = provider_zip("outside");
    write_mirror_dir(
        src.path(),
        "registry.terraform.io/hashicorp/null",
        &[("1.0.0", "linux_amd64", &zip, h1_reference(&zip))],
    );
    write_mirror_dir(
        outside.path(),
        "registry.terraform.io/hashicorp/null",
        &[
            (
                "2.0.0",
                "linux_amd64",
                &linked_zip,
                h1_reference(&linked_zip),
            ),
            (
                "3.0.0",
                "linux_amd64",
                &linked_zip,
                h1_reference(&linked_zip),
            ),
        ],
    );
    write_mirror_dir(
        outside.path(),
        "registry.terraform.io/hashicorp/other",
        &[(
            "1.0.0",
            "linux_amd64",
            &linked_zip,
            h1_reference(&linked_zip),
        )],
    );
    let inside = src.path().join("registry.terraform.io/hashicorp/null");
    let elsewhere = outside.path().join("registry.terraform.io/hashicorp/null");
    // A symlinked provider directory, a symlinked archive and a symlinked VERSION.json.
    symlink(
        outside.path().join("registry.terraform.io/hashicorp/other"),
        src.path().join("registry.terraform.io/hashicorp/other"),
    )
    .unwrap();
    std::fs::copy(elsewhere.join("2.0.0.json"), inside.join("2.0.0.json")).unwrap();
    symlink(
        elsewhere.join("terraform-provider-null_2.0.0_linux_amd64.zip"),
        inside.join("terraform-provider-null_2.0.0_linux_amd64.zip"),
    )
    .unwrap();
    symlink(elsewhere.join("3.0.0.json"), inside.join("3.0.0.json")).unwrap();
    std::fs::copy(
        elsewhere.join("terraform-provider-null_3.0.0_linux_amd64.zip"),
        inside.join("terraform-provider-null_3.0.0_linux_amd64.zip"),
    )
    .unwrap();

    let out = tfmirror(data.path(), &["import", src.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("added    registry.terraform.io/hashicorp/null 1.0.0 linux_amd64"),
        "{text}"
    );
    let links: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("REJECTED") && l.contains("is a symbolic link"))
        .collect();
    assert_eq!(links.len(), 3, "each symlink is reported:\n{text}");
    for name in [
        "hashicorp/other",
        "terraform-provider-null_2.0.0_linux_amd64.zip",
        "3.0.0.json",
    ] {
        assert!(links.iter().any(|l| l.contains(name)), "{name}:\n{text}");
    }
    assert!(text.contains("1 added, "), "{text}");
}

#[tokio::test]
async fn import_refuses_an_oversized_version_document() {
    let data = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let zip = provider_zip("big-doc");
    write_mirror_dir(
        src.path(),
        "registry.terraform.io/hashicorp/null",
        &[("1.0.0", "linux_amd64", &zip, h1_reference(&zip))],
    );
    // Valid JSON, padded past the 16 MiB limit.
    let doc = src
        .path()
        .join("registry.terraform.io/hashicorp/null/1.0.0.json");
    let mut text = std::fs::read_to_string(&doc).unwrap();
    text.push_str(&" ".repeat(17 << 20));
    std::fs::write(&doc, text).unwrap();

    let out = tfmirror(data.path(), &["import", src.path().to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The archive it would have listed is left unimported.
    assert!(text.contains("0 added, 1 skipped, 1 rejected"), "{text}");
    assert!(
        text.contains("1.0.0.json") && text.contains("over the limit of 16 MiB"),
        "{text}"
    );
}

#[test]
fn add_package_refuses_devices_and_files_over_the_limit() {
    let data = tempfile::tempdir().unwrap();
    let add = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_tfmirror"))
            .arg("--data-dir")
            .arg(data.path())
            .args([
                "add-package",
                "--namespace=hashicorp",
                "--type=null",
                "--platform=linux_amd64",
                "--version=1.0.0",
            ])
            .arg(file)
            .env_remove("TFM_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // An endless device: refused at once, not read forever.
    let mut child = add(Path::new("/dev/zero"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("add-package /dev/zero did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is not a regular file"),
        "{}",
        stdout(&out)
    );

    let out = add(data.path()).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is not a regular file"),
        "{}",
        stdout(&out)
    );

    // A (sparse) file over limits.max_archive_bytes (2 GiB by default) is refused unread.
    let huge = data.path().join("huge.zip");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((2 << 30) + 1)
        .unwrap();
    let out = add(&huge).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("over the limit"), "{}", stdout(&out));
}

#[tokio::test]
async fn add_package_never_replaces_a_stored_archive() {
    let data = tempfile::tempdir().unwrap();
    let first = data.path().join("first.zip");
    let second = data.path().join("second.zip");
    let original = provider_zip("first");
    std::fs::write(&first, &original).unwrap();
    std::fs::write(&second, provider_zip("second")).unwrap();
    let args = |f: &Path| {
        vec![
            "add-package".to_owned(),
            "--namespace=hashicorp".into(),
            "--type=null".into(),
            "--version=1.0.0".into(),
            "--platform=linux_amd64".into(),
            f.to_str().unwrap().to_owned(),
        ]
    };
    let run = |f: &Path| {
        let a = args(f);
        tfmirror(
            data.path(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let out = run(&first);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("1 added"));
    let out = run(&first);
    assert!(
        stdout(&out).contains("0 added, 1 skipped"),
        "idempotent: {}",
        stdout(&out)
    );
    let out = run(&second);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("a different archive is already stored"),
        "{}",
        stdout(&out)
    );

    let app = TestApp::spawn_with(Store::Local, |c| c.data_dir = data.path().to_owned()).await;
    let body = app
        .get("/registry.terraform.io/hashicorp/null/terraform-provider-null_1.0.0_linux_amd64.zip")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        body.as_ref(),
        original.as_slice(),
        "the first archive is intact"
    );
}

#[test]
fn add_package_rejects_bad_input_clearly() {
    let data = tempfile::tempdir().unwrap();
    let junk = data.path().join("junk.zip");
    std::fs::write(&junk, b"this is not a zip").unwrap();
    let junk = junk.to_str().unwrap();
    let base = [
        "add-package",
        "--namespace=hashicorp",
        "--type=null",
        "--platform=linux_amd64",
    ];

    let out = tfmirror(
        data.path(),
        &[&base[..], &["--version=1.0.0", junk]].concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("not a readable zip archive"),
        "{}",
        stdout(&out)
    );

    let out = tfmirror(data.path(), &[&base[..], &["--version=v1", junk]].concat());
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("invalid version \"v1\""),
        "{}",
        stderr(&out)
    );

    let evil = crate::common::make_zip(&[("../../escape", b"x")]);
    let evil_path = data.path().join("evil.zip");
    std::fs::write(&evil_path, evil).unwrap();
    let out = tfmirror(
        data.path(),
        &[&base[..], &["--version=1.0.0", evil_path.to_str().unwrap()]].concat(),
    );
    assert!(stdout(&out).contains("'..' component"), "{}", stdout(&out));
}

#[test]
fn check_config_names_the_bad_line_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.hcl");
    std::fs::write(
        &bad,
        "server {\n  listen = \"127.0.0.1:1\"\n  lisen = \"typo\"\n}\n",
    )
    .unwrap();
    let out = tfmirror(
        dir.path(),
        &["--config", bad.to_str().unwrap(), "check-config"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.hcl:3:3"), "{err}");
    assert!(err.contains("lisen"), "{err}");

    let good = dir.path().join("good.hcl");
    std::fs::write(
        &good,
        "storage {\n  s3 {\n    bucket = \"b\"\n    access_key_id = \"AKIAEXAMPLE\"\n    secret_access_key = \"do-not-print-me\"\n  }\n}\nupstream \"registry.example.com\" {\n  url = \"https://deploy:url-pass-do-not-print@registry.example.com/\"\n}\n",
    )
    .unwrap();
    let out = tfmirror(
        dir.path(),
        &["--config", good.to_str().unwrap(), "check-config"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\"bucket\": \"b\""), "{text}");
    assert!(!text.contains("do-not-print-me"), "{text}");
    assert!(!text.contains("url-pass-do-not-print"), "{text}");
    assert!(
        text.contains("https://deploy:********@registry.example.com/"),
        "{text}"
    );

    // The shipped example must always be valid.
    let example = crate::common::repo_path("config.example.hcl");
    let out = tfmirror(
        dir.path(),
        &["--config", example.to_str().unwrap(), "check-config"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "config.example.hcl: {}",
        stderr(&out)
    );
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = tfmirror(dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    if crate::common::postgres_server().is_some() {
        // Named without its credentials.
        assert!(
            stdout(&out).contains("database postgres://127.0.0.1:"),
            "{}",
            stdout(&out)
        );
        assert!(!dir.path().join("tfmirror.db").exists());
    } else {
        assert!(dir.path().join("tfmirror.db").exists());
    }
    let again = tfmirror(dir.path(), &["migrate"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_database_and_the_data_directory_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = tfmirror_sqlite(&data, &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mode(&data), 0o700, "the data directory tfmirror created");
    let mut db_files = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("tfmirror.db") {
            assert_eq!(mode(&path), 0o600, "{name} is for the owner only");
            db_files.push(name);
        }
    }
    // The -wal and -shm files may be gone once the last connection closes; while the
    // server runs they are checked by secrets_generated_at_start_are_private.
    assert!(db_files.contains(&"tfmirror.db".to_owned()), "{db_files:?}");
}

#[test]
fn secrets_generated_at_start_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_tfmirror"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--self-signed-tls", "--listen", "127.0.0.1:0"])
        .env_remove("TFM_CONFIG")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _child = crate::common::child::KillOnDrop(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("tfmirror is serving")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("tls")), 0o700);
    for secret in [
        "tfmirror.db",
        "tfmirror.db-wal",
        "tfmirror.db-shm",
        "signing-key.asc",
        "jwt-secret",
        "tls/ca.key",
        "tls/server.key",
    ] {
        assert_eq!(mode(&data.join(secret)), 0o600, "{secret}");
    }
}

#[tokio::test]
async fn leftovers_of_an_interrupted_write_are_never_served() {
    let data = tempfile::tempdir().unwrap();
    let tmp = data.path().join("blobs/.tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("half-written"), b"PK\x03\x04 truncated").unwrap();
    let app = TestApp::spawn_with(Store::Local, |c| c.data_dir = data.path().to_owned()).await;
    assert!(
        !tmp.join("half-written").exists(),
        "temp files from a crash are cleared at start"
    );
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn add_module_stores_an_in_house_module_that_the_mirror_then_serves() {
    let data = tempfile::tempdir().unwrap();
    let package = data.path().join("network.tar.gz");
    std::fs::write(
        &package,
        crate::common::modules::tar_gz(&[("main.tf", "# network\n")], Some("network-1.0.0")),
    )
    .unwrap();
    let hostile = data.path().join("hostile.tar.gz");
    std::fs::write(
        &hostile,
        crate::common::modules::tar_gz(&[("../../etc/cron.d/x", "x")], None),
    )
    .unwrap();
    let run = |file: &Path, version: &str| {
        tfmirror(
            data.path(),
            &[
                "add-module",
                "--namespace=platform",
                "--name=network",
                "--system=aws",
                &format!("--version={version}"),
                file.to_str().unwrap(),
            ],
        )
    };
    let out = run(&package, "1.0.0");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out)
            .contains("stored module registry.terraform.io/platform/network/aws 1.0.0: 1 files"),
        "{}",
        stdout(&out)
    );
    let out = run(&package, "1.0.0");
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("already stored"), "{}", stdout(&out));
    let out = run(&hostile, "1.0.1");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("\"../../etc/cron.d/x\" is refused"),
        "{}",
        stderr(&out)
    );
    let out = run(&data.path().join("missing.tar.gz"), "1.0.2");
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("missing.tar.gz"), "{}", stderr(&out));

    let app = TestApp::spawn_with(Store::Local, |c| c.data_dir = data.path().to_owned()).await;
    let res = app.get("/v1/modules/platform/network/aws/versions").await;
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"modules": [{"versions": [{"version": "1.0.0"}]}]})
    );
    let res = app
        .get("/v1/modules/platform/network/aws/1.0.1/download")
        .await;
    assert_eq!(
        res.status(),
        reqwest::StatusCode::NOT_FOUND,
        "the refused one was not stored"
    );
}
