//! The module registry mirror against the in-process fake registry (modules.v1 with a real
//! git server over HTTPS behind it): four kinds of location pulled through and served from
//! the mirror's own archives, hostile archives and unsupported getters refused with nothing
//! stored, and a moved tag that never replaces a stored version.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;
use tfmirror::archive::{ArchiveFormat, TreeLimits, unpack};
use tfmirror::config::UpstreamConfig;
use tfmirror::db::modules::Recorded;
use tfmirror::domain::{ModuleAddress, PackageSource, Version};

use crate::common::fake_registry::{FakeRegistry, Target};
use crate::common::modules::{GitRepo, tar_gz, tar_gz_with_link};
use crate::common::{Store, TestApp};

/// A fake registry over HTTPS with a git server, and a mirror that pulls
/// `registry.terraform.io` modules through from it.
struct Setup {
    fake: FakeRegistry,
    app: TestApp,
    /// Holds the CA and the bare repositories.
    dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

async fn setup_with(tweak: impl FnOnce(&mut tfmirror::config::Config) + Send + 'static) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeRegistry::start_tls(dir.path()).await;
    let repos = dir.path().join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    fake.serve_git(&repos);
    let url = fake.base_url.clone();
    let ca = dir.path().join("tls/ca.pem");
    let app = TestApp::spawn_with(Store::Local, move |c| {
        c.upstream.insert(
            "registry.terraform.io".into(),
            UpstreamConfig {
                url: Some(url),
                timeout_seconds: 5,
                pull_through: true,
                ..Default::default()
            },
        );
        c.outbound.extra_ca_file = Some(ca);
        c.worker.enabled = false;
        tweak(c);
    })
    .await;
    Setup { fake, app, dir }
}

impl Setup {
    fn repo(&self, name: &str) -> GitRepo {
        GitRepo::create(&self.dir.path().join("repos"), name)
    }

    fn git_url(&self, name: &str) -> String {
        format!("{}/git/{name}.git", self.fake.base_url)
    }
}

const BASE: &str = "/v1/modules";

async fn versions(app: &TestApp, module: &str) -> (StatusCode, Value) {
    let res = app.get(&format!("{BASE}/{module}/versions")).await;
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The `X-Terraform-Get` of a version's download (which must answer 204).
async fn location(app: &TestApp, module: &str, version: &str) -> String {
    let res = app
        .get(&format!("{BASE}/{module}/{version}/download"))
        .await;
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "download of {module} {version}"
    );
    res.headers()["x-terraform-get"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Fetches the archive a location names and unpacks it; returns the tree's directory.
async fn fetch_tree(app: &TestApp, location: &str) -> tempfile::TempDir {
    let (url, _subdir) = location.split_once("//").unwrap_or((location, ""));
    assert!(
        url.starts_with('/') && url.ends_with(".tar.gz"),
        "{location}"
    );
    let head = app.client.head(app.url(url)).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let len: u64 = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let res = app.get(url).await;
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    assert_eq!(res.headers()["content-type"], "application/gzip");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, len);
    assert_eq!(etag, format!("\"{}\"", crate::common::sha256_hex(&bytes)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.tar.gz");
    std::fs::write(&file, &bytes).unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    unpack(
        &file,
        ArchiveFormat::TarGz,
        &tree,
        TreeLimits {
            max_bytes: 1 << 20,
            max_entries: 100,
        },
    )
    .unwrap();
    dir
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join("tree").join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn four_kinds_of_location_are_pulled_through_and_served_from_the_mirror() {
    let s = setup().await;
    let app = &s.app;

    // (a) git over HTTPS at a tag.
    let repo = s.repo("vpc");
    let commit = repo.commit_and_tag(
        &[
            ("main.tf", "variable \"cidr\" {}\n"),
            ("README.md", "vpc\n"),
        ],
        "v1.2.0",
    );
    s.fake.publish_module(
        "acme/vpc/aws",
        "1.2.0",
        &format!("git::{}?ref=v1.2.0", s.git_url("vpc")),
    );
    // (b) a relative .tar.gz URL, with GitHub's wrapper directory.
    let path = s.fake.serve_module_file(
        "dns-1.0.0.tar.gz",
        tar_gz(&[("main.tf", "# dns\n")], Some("dns-1.0.0")),
    );
    s.fake
        .publish_module("acme/dns/aws", "1.0.0", &format!("{path}//*"));
    // (c) a subdirectory of a package.
    let path = s.fake.serve_module_file(
        "mono.tar.gz",
        tar_gz(
            &[
                ("modules/net/main.tf", "# net\n"),
                ("modules/shared/locals.tf", "# shared\n"),
            ],
            None,
        ),
    );
    s.fake
        .publish_module("acme/net/aws", "2.0.0", &format!("{path}//modules/net"));
    // (d) a module that calls another registry module.
    let path = s.fake.serve_module_file(
        "stack.tar.gz",
        tar_gz(
            &[(
                "main.tf",
                "module \"dns\" {\n  source  = \"acme/dns/aws\"\n  version = \"1.0.0\"\n}\n",
            )],
            None,
        ),
    );
    s.fake.publish_module("acme/stack/aws", "0.1.0", &path);

    // Discovery announces both services.
    let res = app.get("/.well-known/terraform.json").await;
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["modules.v1"], "/v1/modules/");
    assert_eq!(doc["providers.v1"], "/v1/providers/");

    let (status, doc) = versions(app, "acme/vpc/aws").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        doc,
        serde_json::json!({"modules": [{"versions": [{"version": "1.2.0"}]}]})
    );
    let (status, _) = versions(app, "acme/missing/aws").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // (a): the mirror clones the tag and serves its own archive, without .git.
    let loc = location(app, "acme/vpc/aws", "1.2.0").await;
    assert_eq!(loc, "/v1/modules/acme/vpc/aws/1.2.0/archive.tar.gz");
    assert_eq!(
        s.fake.hits(Target::Git),
        0,
        "nothing is fetched before the archive is asked for"
    );
    let tree = fetch_tree(app, &loc).await;
    assert_eq!(read(tree.path(), "main.tf"), "variable \"cidr\" {}\n");
    assert!(!tree.path().join("tree/.git").exists());
    assert!(s.fake.hits(Target::Git) > 0);
    let a = ModuleAddress::parse("acme/vpc/aws").unwrap();
    let v = Version::parse("1.2.0").unwrap();
    let view = app.state.catalog.module_view(&a).await.unwrap();
    let stored = view.get("1.2.0").unwrap();
    assert_eq!(stored.commit_sha.as_deref(), Some(commit.as_str()));
    assert_eq!(stored.source, "pull-through");
    assert!(
        stored
            .location
            .as_deref()
            .unwrap()
            .starts_with("git::https://")
    );
    assert!(stored.h1.starts_with("h1:"));

    // (b): the wrapper directory is gone: files at the archive root.
    let loc = location(app, "acme/dns/aws", "1.0.0").await;
    assert_eq!(loc, "/v1/modules/acme/dns/aws/1.0.0/archive.tar.gz");
    let tree = fetch_tree(app, &loc).await;
    assert_eq!(read(tree.path(), "main.tf"), "# dns\n");

    // (c): the whole package is stored; the client is sent to the subdirectory (known from
    // the origin's location before anything is fetched), and siblings stay reachable.
    let loc = location(app, "acme/net/aws", "2.0.0").await;
    assert_eq!(
        loc,
        "/v1/modules/acme/net/aws/2.0.0/archive.tar.gz//modules/net"
    );
    let tree = fetch_tree(app, &loc).await;
    assert_eq!(read(tree.path(), "modules/net/main.tf"), "# net\n");
    assert_eq!(read(tree.path(), "modules/shared/locals.tf"), "# shared\n");
    assert_eq!(
        location(app, "acme/net/aws", "2.0.0").await,
        loc,
        "the stored version keeps its subdirectory"
    );

    // (d): the calling module is served as published; its registry source resolves
    // through the mirror like any other (the Terraform test shows the client side).
    let loc = location(app, "acme/stack/aws", "0.1.0").await;
    let tree = fetch_tree(app, &loc).await;
    assert!(read(tree.path(), "main.tf").contains("source  = \"acme/dns/aws\""));

    // Stored: a second download fetches nothing from the origin; the origin's own
    // hostname works under /registry too.
    let before = s.fake.hits(Target::Git);
    let loc = location(app, "acme/vpc/aws", "1.2.0").await;
    fetch_tree(app, &loc).await;
    assert_eq!(s.fake.hits(Target::Git), before);
    let res = app
        .get("/registry/registry.terraform.io/v1/modules/acme/vpc/aws/1.2.0/download")
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        res.headers()["x-terraform-get"],
        "/registry/registry.terraform.io/v1/modules/acme/vpc/aws/1.2.0/archive.tar.gz"
    );

    // A moved tag: the origin's v1.2.0 now has other content. A fresh fetch records the
    // difference; the stored version, and what clients get, stay the same.
    let moved = repo.commit_and_tag(&[("main.tf", "# moved\n")], "v1.2.0");
    assert_ne!(moved, commit);
    let fetched = app
        .state
        .modules
        .fetcher()
        .fetch(&a, &v, PackageSource::Job, None, &Default::default())
        .await
        .unwrap();
    assert!(
        matches!(fetched.recorded, Recorded::Conflict { .. }),
        "{fetched:?}"
    );
    assert_eq!(fetched.commit.as_deref(), Some(moved.as_str()));
    let view = app.state.catalog.module_view(&a).await.unwrap();
    let after = view.get("1.2.0").unwrap();
    assert_eq!(after.sha256, stored.sha256);
    assert_eq!(after.commit_sha.as_deref(), Some(commit.as_str()));
    assert_eq!(after.conflicts, 1);
    let conflicts = tfmirror::db::modules::conflicts(&app.state.db, &a, "1.2.0")
        .await
        .unwrap();
    assert_eq!(conflicts[0].commit_sha.as_deref(), Some(moved.as_str()));
    let tree = fetch_tree(app, "/v1/modules/acme/vpc/aws/1.2.0/archive.tar.gz").await;
    assert_eq!(read(tree.path(), "main.tf"), "variable \"cidr\" {}\n");
}

#[tokio::test]
async fn hostile_archives_and_unsupported_getters_are_refused_and_store_nothing() {
    let s = setup_with(|c| {
        c.limits.max_module_bytes = 1 << 20;
        c.limits.max_module_files = 50;
    })
    .await;
    let app = &s.app;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            tar_gz(&[("../evil.tf", "x")], None),
            "\"../evil.tf\" is refused",
        ),
        (
            "absolute",
            tar_gz(&[("/etc/evil.tf", "x")], None),
            "absolute path",
        ),
        (
            "link",
            tar_gz_with_link("escape", "../../../etc/passwd"),
            "leads outside the package",
        ),
        (
            "bomb",
            tar_gz(&[("zeros.tf", &"0".repeat(2 << 20))], None),
            "more than the limit of 1048576 bytes",
        ),
        (
            "many",
            {
                let names: Vec<(String, &str)> =
                    (0..60).map(|i| (format!("f{i}.tf"), "x")).collect();
                let refs: Vec<(&str, &str)> = names.iter().map(|(n, c)| (n.as_str(), *c)).collect();
                tar_gz(&refs, None)
            },
            "more than the limit of 50 entries",
        ),
    ];
    for (name, bytes, message) in &cases {
        let path = s
            .fake
            .serve_module_file(&format!("{name}.tar.gz"), bytes.clone());
        let module = format!("acme/{name}/aws");
        s.fake.publish_module(&module, "1.0.0", &path);
        let loc = location(app, &module, "1.0.0").await;
        let res = app.get(&loc).await;
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{name}");
        let body: Value = res.json().await.unwrap();
        let text = body["message"].as_str().unwrap();
        assert!(
            text.contains(&format!("module registry.terraform.io/{module} 1.0.0")),
            "{text}"
        );
        assert!(text.contains(message), "{name}: {text}");
        assert!(text.contains("nothing was stored"), "{text}");
        let a = ModuleAddress::parse(&module).unwrap();
        assert!(
            app.state
                .catalog
                .module_view(&a)
                .await
                .unwrap()
                .versions
                .is_empty()
        );
    }
    for (name, raw, message) in [
        (
            "ons3",
            "s3::https://s3.amazonaws.com/bucket/m.zip",
            "the s3:: getter is not supported",
        ),
        (
            "ongcs",
            "gcs::https://www.googleapis.com/storage/v1/b/m.zip",
            "the gcs:: getter",
        ),
        ("onhg", "hg::https://example.com/repo", "the hg:: getter"),
        ("onssh", "git::ssh://git@example.com/repo.git", "ssh://"),
    ] {
        let module = format!("acme/{name}/aws");
        s.fake.publish_module(&module, "1.0.0", raw);
        let res = app.get(&format!("{BASE}/{module}/1.0.0/download")).await;
        assert_eq!(res.status(), StatusCode::BAD_GATEWAY, "{name}");
        let body: Value = res.json().await.unwrap();
        let text = body["message"].as_str().unwrap();
        assert!(
            text.contains(&format!("registry.terraform.io/{module}")),
            "{text}"
        );
        assert!(text.contains(message), "{name}: {text}");
    }
    // The blobs directory holds nothing: refused packages leave no bytes behind.
    let report = tfmirror::integrity::verify(&app.state.db, &app.state.catalog)
        .await
        .unwrap();
    assert_eq!(report.orphaned_count + report.in_flight_count, 0);
}

#[tokio::test]
async fn definitions_module_blocks_become_jobs_the_worker_fetches() {
    let s = setup_with(|c| {
        c.worker.enabled = true;
        c.worker.poll_interval_ms = 50;
    })
    .await;
    let app = &s.app;
    let repo = s.repo("vpc");
    for tag in ["v1.0.0", "v1.1.0", "v2.0.0"] {
        repo.commit_and_tag(&[("main.tf", &format!("# {tag}\n"))], tag);
        s.fake.publish_module(
            "acme/vpc/aws",
            tag.trim_start_matches('v'),
            &format!("git::{}?ref={tag}", s.git_url("vpc")),
        );
    }
    let defs = "module \"acme/vpc/aws\" {\n  versions = [\"~> 1.0\"]\n}\n";
    // An origin without an upstream, or with modules off, is refused with its line.
    let err = tfmirror::jobs::validate(
        "module \"other.example/acme/vpc/aws\" {\n  versions = [\"1.0.0\"]\n}\n",
        &app.state.registry,
    )
    .unwrap_err();
    assert_eq!(err.problems()[0].line, 1);
    assert!(
        err.problems()[0]
            .message
            .contains("no upstream is configured for other.example")
    );

    let job = crate::common::load_definitions(app, defs).await;
    let (summary, items) = crate::common::wait_for_job(app, job).await;
    assert_eq!(summary.succeeded, 2, "{items:#?}");
    assert!(items.iter().all(|i| i.kind == "module"));
    let a = ModuleAddress::parse("acme/vpc/aws").unwrap();
    let view = app.state.catalog.module_view(&a).await.unwrap();
    let stored: Vec<&str> = view.versions.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(
        stored,
        ["1.1.0", "1.0.0"],
        "~> 1.0 selects 1.0.0 and 1.1.0, not 2.0.0"
    );
    assert!(view.versions.iter().all(|v| v.source == "job"));

    // The API shows module items as modules.
    let admin = app.admin_token().await;
    let detail: Value = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{job}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["items"][0]["kind"], "module");
    assert_eq!(
        detail["items"][0]["provider"],
        "registry.terraform.io/acme/vpc/aws"
    );
    assert_eq!(detail["items"][0]["platform"], Value::Null);

    // The same versions again: already stored, skipped. Then v1.1.0 moves: the job's item
    // fails naming the change, and the stored 1.1.0 stays.
    let (summary, _) =
        crate::common::wait_for_job(app, crate::common::load_definitions(app, defs).await).await;
    assert_eq!(summary.skipped, 2);
    let before = view.get("1.1.0").unwrap().sha256.clone();
    let moved = repo.commit_and_tag(&[("main.tf", "# moved\n")], "v1.1.0");
    let (summary, items) =
        crate::common::wait_for_job(app, crate::common::load_definitions(app, defs).await).await;
    assert_eq!((summary.skipped, summary.failed), (1, 1), "{items:#?}");
    let failed = items
        .iter()
        .find(|i| i.status == tfmirror::domain::ItemStatus::Failed)
        .unwrap();
    let message = failed.last_error.as_deref().unwrap();
    assert!(message.contains("changed at its origin"), "{message}");
    assert!(message.contains(&moved), "{message}");
    assert!(message.contains("stays"), "{message}");
    let view = app.state.catalog.module_view(&a).await.unwrap();
    assert_eq!(view.get("1.1.0").unwrap().sha256, before);
    assert_eq!(view.get("1.1.0").unwrap().conflicts, 1);
}

#[tokio::test]
async fn the_origins_version_list_is_served_stale_when_it_is_down_and_modules_can_be_off() {
    let s = setup_with(|c| {
        if let Some(up) = c.upstream.get_mut("registry.terraform.io") {
            up.metadata_ttl_seconds = 1;
        }
        let mut off = c.upstream["registry.terraform.io"].clone();
        off.modules = false;
        c.upstream.insert("modules-off.example".into(), off);
    })
    .await;
    let app = &s.app;
    let path = s
        .fake
        .serve_module_file("m.tar.gz", tar_gz(&[("main.tf", "#\n")], None));
    for v in ["1.0.0", "2.0.0"] {
        s.fake.publish_module("acme/cached/aws", v, &path);
    }
    let listed = serde_json::json!({"modules": [{"versions": [{"version": "2.0.0"}, {"version": "1.0.0"}]}]});
    assert_eq!(
        versions(app, "acme/cached/aws").await,
        (StatusCode::OK, listed.clone())
    );
    // The origin goes away; past the TTL the last good list is still the answer.
    drop(s.fake);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        versions(app, "acme/cached/aws").await,
        (StatusCode::OK, listed)
    );
    // An origin whose upstream block says `modules = false` is never asked.
    let res = app
        .get("/registry/modules-off.example/v1/modules/acme/cached/aws/versions")
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let err = tfmirror::jobs::validate(
        "module \"modules-off.example/acme/cached/aws\" {\n  versions = [\"1.0.0\"]\n}\n",
        &app.state.registry,
    )
    .unwrap_err();
    assert!(
        err.problems()[0].message.contains("`modules = false`"),
        "{:?}",
        err.problems()
    );
}
