//! Air-gap bundles between two real mirrors: the first fetches providers from a fake origin
//! (real signatures) and stores an in-house module and an uploaded package; `tfmirror
//! export` writes the bundle; the second mirror, with no upstream at all, refuses a bundle
//! under a wrong key, a tampered package, a tampered manifest, an origin signature that no
//! longer verifies and a truncated file (each naming the entry, each leaving nothing listed
//! or stored), then imports the real one: every document it serves is byte for byte the
//! first's, real Terraform installs from it through the network mirror and through the
//! registry protocol (checking the origin's signature itself), and a second import changes
//! nothing.

use std::path::{Path, PathBuf};

use crate::cli::{stderr, stdout, tfmirror};
use crate::common::TestApp;
use crate::terraform::{NULL_TF, Workspace, https_app, null_upstream, stored_zip, terraforms};

const NULL: &str = "/registry.terraform.io/hashicorp/null";

/// Every document a client reads, from the mirror and registry protocols, for the
/// providers and the module the test stores; archive bytes too. URLs of the mirror itself
/// are written as `BASE`.
async fn served(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut get = async |path: String| {
        let res = app.get(&path).await;
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("x-terraform-get")
            .map(|v| v.to_str().unwrap().replace(&app.base, "BASE"));
        let body = res.bytes().await.unwrap().to_vec();
        let body = String::from_utf8(body.clone())
            .map(|t| t.replace(&app.base, "BASE").into_bytes())
            .unwrap_or(body);
        let mut shown = format!("{status} {path}").into_bytes();
        if let Some(l) = location {
            shown.extend(format!(" -> {l}").bytes());
        }
        out.push((String::from_utf8(shown).unwrap(), body.clone()));
        body
    };
    for provider in [NULL, "/registry.terraform.io/example/thing"] {
        let index: serde_json::Value =
            serde_json::from_slice(&get(format!("{provider}/index.json")).await).unwrap();
        for version in index["versions"].as_object().unwrap().keys() {
            let doc: serde_json::Value =
                serde_json::from_slice(&get(format!("{provider}/{version}.json")).await).unwrap();
            for archive in doc["archives"].as_object().unwrap().values() {
                let url = archive["url"].as_str().unwrap();
                get(format!("{provider}/{url}")).await;
            }
        }
    }
    // The registry protocol of the provider fetched from its origin: the origin's own
    // SHA256SUMS, signature and key. (The uploaded package's are signed by each mirror's own
    // key, so they differ by design.)
    let versions: serde_json::Value =
        serde_json::from_slice(&get("/v1/providers/hashicorp/null/versions".into()).await).unwrap();
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        1,
        "{versions}"
    );
    for platform in ["linux/amd64", "darwin/arm64"] {
        let doc: serde_json::Value = serde_json::from_slice(
            &get(format!(
                "/v1/providers/hashicorp/null/2.1.2/download/{platform}"
            ))
            .await,
        )
        .unwrap();
        for key in ["shasums_url", "shasums_signature_url", "download_url"] {
            let url = doc[key].as_str().unwrap().replace("BASE", "");
            get(url).await;
        }
    }
    get("/v1/modules/example/net/aws/versions".into()).await;
    get("/v1/modules/example/net/aws/1.0.0/download".into()).await;
    get("/v1/modules/example/net/aws/1.0.0/archive.tar.gz".into()).await;
    out
}

/// How many rows and blobs the mirror holds.
async fn holdings(app: &TestApp) -> (i64, i64, usize) {
    let packages: i64 =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM packages")
        .fetch_one(p)
        .await)
        .unwrap();
    let modules: i64 =
        on_db!(&app.state.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM module_versions")
        .fetch_one(p)
        .await)
        .unwrap();
    let mut blobs = 0;
    for shard in 0..=255u8 {
        blobs += app
            .state
            .catalog
            .store()
            .list_shard(shard)
            .await
            .unwrap()
            .len();
    }
    (packages, modules, blobs)
}

/// The entries of a bundle file: name, offset of the body, size.
fn entries(bundle: &Path) -> Vec<(String, u64, u64)> {
    let mut archive = tar::Archive::new(std::fs::File::open(bundle).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.raw_file_position(),
                e.size(),
            )
        })
        .collect()
}

/// A copy of `bundle` with its manifest replaced by `manifest`, signed by `key`.
fn resigned(bundle: &Path, manifest: &[u8], key: &tfmirror::signing::MirrorKey, out: &Path) {
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    let mut add = |name: &str, body: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, body).unwrap();
    };
    add("manifest.json", manifest);
    add("manifest.json.sig", &key.sign(manifest).unwrap());
    let mut archive = tar::Archive::new(std::fs::File::open(bundle).unwrap());
    let rest: Vec<(String, Vec<u8>)> = archive
        .entries()
        .unwrap()
        .skip(2)
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            (name, body)
        })
        .collect();
    for (name, body) in rest {
        add(&name, &body);
    }
    builder.finish().unwrap();
}

fn import(data: &Path, bundle: &Path, key: &Path) -> std::process::Output {
    tfmirror(
        data,
        &[
            "import-bundle",
            bundle.to_str().unwrap(),
            "--trusted-key",
            key.to_str().unwrap(),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_carries_a_mirror_to_a_disconnected_one_and_anything_altered_is_refused() {
    // The connected mirror: null 2.1.2 for two platforms from its origin (a job), an
    // in-house module and an uploaded package.
    let data_a = tempfile::tempdir().unwrap();
    let (fake, null_zip, a, _) = null_upstream(data_a.path(), false).await;
    fake.publish_zip(
        "hashicorp",
        "null",
        "2.1.2",
        "darwin_arm64",
        stored_zip("terraform-provider-null_v2.1.2_x4", b"a darwin build"),
    );
    let defs = "provider \"hashicorp/null\" {\n  versions  = [\"~> 2.1.0\"]\n  platforms = [\"linux_amd64\", \"darwin_arm64\"]\n}\n";
    let job = crate::common::load_definitions(&a, defs).await;
    let (s, _) = crate::common::wait_for_job(&a, job).await;
    assert_eq!(s.succeeded, 2, "{s:?}");
    let module = data_a.path().join("net.tar.gz");
    std::fs::write(
        &module,
        crate::common::modules::tar_gz(&[("main.tf", "# the network\n")], None),
    )
    .unwrap();
    let out = tfmirror(
        data_a.path(),
        &[
            "add-module",
            "--namespace=example",
            "--name=net",
            "--system=aws",
            "--version=1.0.0",
            module.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    a.add(
        "example/thing",
        "1.0.0",
        "linux_amd64",
        &crate::common::provider_zip("in-house"),
    )
    .await;

    // Export, and the key the disconnected side trusts.
    let work = tempfile::tempdir().unwrap();
    let bundle = work.path().join("mirror.bundle");
    let out = tfmirror(
        data_a.path(),
        &["export", bundle.to_str().unwrap(), "--all"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 provider packages (2 versions), 1 module versions"),
        "{}",
        stdout(&out)
    );
    assert!(!work.path().join("mirror.partial").exists());
    let key = work.path().join("a.asc");
    let out = tfmirror(data_a.path(), &["signing-key"]);
    assert_eq!(stdout(&out), a.state.signing_key.armored_public);
    std::fs::write(&key, stdout(&out)).unwrap();
    let names: Vec<String> = entries(&bundle).into_iter().map(|e| e.0).collect();
    assert_eq!(names[..2], ["manifest.json", "manifest.json.sig"]);
    assert_eq!(names.len(), 6, "{names:?}");

    // The disconnected mirror: no upstream, no outbound request.
    let data_b = tempfile::tempdir().unwrap();
    let (b, _) = https_app(data_b.path(), |c| {
        c.offline = true;
        c.upstream.clear();
    })
    .await;
    let empty = holdings(&b).await;
    assert_eq!(empty, (0, 0, 0));
    let refused = |out: &std::process::Output, entry: &str, why: &str| {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        let err = stderr(out);
        assert!(
            err.contains(&format!("bundle refused at {entry}")) && err.contains(why),
            "expected {entry}: {why} in:\n{err}"
        );
        assert!(
            err.contains("nothing from this bundle was imported"),
            "{err}"
        );
    };

    // 1. A key it does not trust: its own.
    let foreign = work.path().join("b.asc");
    std::fs::write(&foreign, &b.state.signing_key.armored_public).unwrap();
    refused(
        &import(data_b.path(), &bundle, &foreign),
        "manifest.json.sig",
        &format!(
            "it is signed by key {}, the trusted keys are {}",
            a.state.signing_key.key_id, b.state.signing_key.key_id
        ),
    );

    // 2. A package changed by one byte.
    let manifest: serde_json::Value = {
        let all = std::fs::read(&bundle).unwrap();
        let (_, at, size) = entries(&bundle)[0].clone();
        serde_json::from_slice(&all[at as usize..(at + size) as usize]).unwrap()
    };
    let linux = manifest["providers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["packages"].as_array().unwrap())
        .find(|p| p["platform"] == "linux_amd64" && p["source"] == "job")
        .unwrap()["entry"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, at, size) = entries(&bundle).into_iter().find(|e| e.0 == linux).unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[(at + size / 2) as usize] ^= 0x55;
    let tampered = work.path().join("tampered-package.bundle");
    std::fs::write(&tampered, &bytes).unwrap();
    refused(&import(data_b.path(), &tampered, &key), &linux, "");

    // 3. The manifest changed without its signature: a sha256 of another package.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let (_, at, size) = entries(&bundle)[0].clone();
    let text = String::from_utf8(bytes[at as usize..(at + size) as usize].to_vec()).unwrap();
    let sha = &linux["packages/".len()..linux.len() - 4];
    let changed = text.replacen(sha, &"0".repeat(64), 1);
    assert_ne!(changed, text);
    bytes[at as usize..(at + size) as usize].copy_from_slice(changed.as_bytes());
    let tampered = work.path().join("tampered-manifest.bundle");
    std::fs::write(&tampered, &bytes).unwrap();
    refused(
        &import(data_b.path(), &tampered, &key),
        "manifest.json.sig",
        "not signed by a trusted key",
    );

    // 4. Re-signed by the exporting mirror itself, but the origin's SHA256SUMS altered: the
    // origin's signature is checked on its own.
    let mut forged = manifest.clone();
    let evidence = forged["providers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v["source"] == "registry.terraform.io/hashicorp/null")
        .unwrap()["evidence"]
        .as_object_mut()
        .unwrap();
    let sums = evidence["shasums"].as_str().unwrap().to_owned();
    evidence.insert(
        "shasums".into(),
        format!(
            "{sums}{} terraform-provider-null_2.1.2_evil.zip\n",
            "1".repeat(64)
        )
        .into(),
    );
    let tampered = work.path().join("forged-origin.bundle");
    resigned(
        &bundle,
        &serde_json::to_vec_pretty(&forged).unwrap(),
        &a.state.signing_key,
        &tampered,
    );
    refused(
        &import(data_b.path(), &tampered, &key),
        "manifest.json",
        "the origin's signature over SHA256SUMS does not verify",
    );

    // 5. Cut short in the last entry.
    let bytes = std::fs::read(&bundle).unwrap();
    let truncated = work.path().join("truncated.bundle");
    std::fs::write(&truncated, &bytes[..bytes.len() - 2048]).unwrap();
    refused(
        &import(data_b.path(), &truncated, &key),
        names.last().unwrap(),
        "the file is truncated",
    );

    // 6. A byte of tar's zero padding after an entry changed: nothing of the content, but
    // the file is not what was written.
    let (name, at, size) = entries(&bundle)
        .into_iter()
        .skip(2)
        .find(|e| e.2 % 512 != 0)
        .unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes[(at + size) as usize] = b'x';
    let padded = work.path().join("padding.bundle");
    std::fs::write(&padded, &bytes).unwrap();
    refused(
        &import(data_b.path(), &padded, &key),
        &name,
        "the padding after it is not zeros",
    );

    // Nothing of any refused bundle is listed or stored.
    assert_eq!(holdings(&b).await, empty);
    assert_eq!(b.get(&format!("{NULL}/index.json")).await.status(), 404);

    // The real bundle, exported and imported through the admin API this time (the server's
    // own caches learn of it at once): every entry verified and stored.
    let token_a = a.admin_token().await;
    let res = a
        .client
        .post(a.url("/api/v1/bundles/export"))
        .bearer_auth(&token_a)
        .json(&serde_json::json!({ "all": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-tar");
    let via_api = work.path().join("api.bundle");
    std::fs::write(&via_api, res.bytes().await.unwrap()).unwrap();
    let api_names: Vec<String> = entries(&via_api).into_iter().map(|e| e.0).collect();
    assert_eq!(api_names, names, "the API exports what the CLI does");
    let token_b = b.admin_token().await;
    let upload = |file: &Path, key: String| {
        let form = reqwest::multipart::Form::new()
            .text("trusted_key", key)
            .part(
                "file",
                reqwest::multipart::Part::bytes(std::fs::read(file).unwrap())
                    .file_name("mirror.bundle"),
            );
        b.client
            .post(b.url("/api/v1/bundles/import"))
            .bearer_auth(&token_b)
            .multipart(form)
            .send()
    };
    let res = upload(&tampered, a.state.signing_key.armored_public.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["entry"], "manifest.json", "{body}");
    let res = upload(&via_api, a.state.signing_key.armored_public.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let report: serde_json::Value = res.json().await.unwrap();
    assert_eq!(report["signed_by"], a.state.signing_key.key_id.as_str());
    assert_eq!(report["packages_added"], 3, "{report}");
    assert_eq!(report["modules_added"], 1, "{report}");
    let checks: Vec<String> = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["verified"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        checks
            .iter()
            .any(|c| c == "listed in the origin's signed SHA256SUMS")
            && checks.iter().any(|c| c.ends_with("(tree h1)")),
        "{report}"
    );
    let imported = holdings(&b).await;
    assert_eq!(imported, (3, 1, 4));
    let (docs_a, docs_b) = (served(&a).await, served(&b).await);
    assert_eq!(docs_a.len(), docs_b.len());
    for ((what_a, body_a), (what_b, body_b)) in docs_a.iter().zip(&docs_b) {
        assert_eq!(what_a, what_b);
        assert!(
            what_b.starts_with("200 ") || what_b.starts_with("204 "),
            "{what_b}"
        );
        assert!(
            body_a == body_b,
            "{what_b} differs:\n{}\n---\n{}",
            String::from_utf8_lossy(body_a),
            String::from_utf8_lossy(body_b)
        );
    }
    let sig_of_origin = docs_b
        .iter()
        .find(|(w, _)| w.ends_with("SHA256SUMS.sig"))
        .unwrap();
    assert!(
        !sig_of_origin.1.is_empty(),
        "the origin's signature is served"
    );

    // Again, the CLI's bundle through the CLI: nothing changes.
    let out = import(data_b.path(), &bundle, &key);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(
        report.contains(&format!("bundle signed by {}", a.state.signing_key.key_id))
            && report.contains("already stored")
            && report.contains(
                "providers: 0 packages added, 3 already stored; modules: 0 versions added, 1 already stored"
            ),
        "{report}"
    );
    assert_eq!(holdings(&b).await, imported);

    // Real Terraform installs from the disconnected mirror, through the network mirror and
    // through the registry protocol, where it checks the origin's signature itself.
    let null_h1 = crate::common::h1_reference(&null_zip);
    let zh_darwin = format!(
        "zh:{}",
        crate::common::sha256_hex(&stored_zip(
            "terraform-provider-null_v2.1.2_x4",
            b"a darwin build"
        ))
    );
    let bundle_b = data_b.path().join("bundle.pem");
    for (version, terraform) in terraforms() {
        let mirror = Workspace::new(&bundle_b, &format!("{}/", b.base), NULL_TF);
        let registry =
            Workspace::via_registry(&bundle_b, &format!("{}/v1/providers/", b.base), NULL_TF);
        let (h1, zh) = (null_h1.clone(), zh_darwin.clone());
        let terraform: PathBuf = terraform;
        tokio::task::spawn_blocking(move || {
            let (ok, log) = mirror.run(&terraform, &["init", "-input=false"]);
            assert!(
                ok,
                "terraform {version} init through the network mirror:\n{log}"
            );
            assert!(mirror.lock_file().contains(&h1), "{}", mirror.lock_file());
            let (ok, log) = registry.run(&terraform, &["init", "-input=false"]);
            assert!(
                ok,
                "terraform {version} init through the registry protocol:\n{log}"
            );
            assert!(
                registry.lock_file().contains(&zh),
                "{}",
                registry.lock_file()
            );
        })
        .await
        .unwrap();
    }
    drop(fake);
}

#[tokio::test]
async fn export_takes_what_definitions_select_and_import_never_replaces_a_stored_package() {
    let a = TestApp::spawn(crate::common::Store::Local).await;
    let zip = crate::common::provider_zip("thing linux");
    for (address, version, platform, seed) in [
        ("example/thing", "1.0.0", "linux_amd64", "thing linux"),
        ("example/thing", "1.0.0", "darwin_arm64", "thing darwin"),
        ("example/thing", "1.1.0", "linux_amd64", "thing 1.1"),
        ("example/other", "2.0.0", "linux_amd64", "other"),
    ] {
        a.add(
            address,
            version,
            platform,
            &crate::common::provider_zip(seed),
        )
        .await;
    }
    let work = tempfile::tempdir().unwrap();
    let defs = work.path().join("defs.hcl");
    std::fs::write(
        &defs,
        "provider \"example/thing\" {\n  versions  = [\"~> 1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n\nprovider \"example/absent\" {\n  versions  = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n",
    )
    .unwrap();
    let bundle = work.path().join("some.bundle");
    let out = tfmirror(
        a.dir.path(),
        &[
            "export",
            bundle.to_str().unwrap(),
            "--definitions",
            defs.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 provider packages (1 versions), 0 module versions"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(
            "warning: nothing stored matches provider registry.terraform.io/example/absent (line 6)"
        ),
        "{}",
        stderr(&out)
    );
    let listed = entries(&bundle);
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(
        listed[2].0,
        format!("packages/{}.zip", crate::common::sha256_hex(&zip))
    );
    // Neither flag, or both: the command says what it needs.
    let out = tfmirror(a.dir.path(), &["export", bundle.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // A mirror that stores other bytes for that package keeps them.
    let b = TestApp::spawn(crate::common::Store::Local).await;
    b.add(
        "example/thing",
        "1.0.0",
        "linux_amd64",
        &crate::common::provider_zip("another build"),
    )
    .await;
    let before = b
        .get("/registry.terraform.io/example/thing/1.0.0.json")
        .await;
    let before = before.bytes().await.unwrap();
    let key = work.path().join("a.asc");
    std::fs::write(&key, &a.state.signing_key.armored_public).unwrap();
    let out = import(b.dir.path(), &bundle, &key);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("bundle refused at {}", listed[2].0))
            && stderr(&out).contains("this mirror stores other bytes for it"),
        "{}",
        stderr(&out)
    );
    let after = b
        .get("/registry.terraform.io/example/thing/1.0.0.json")
        .await;
    assert_eq!(after.bytes().await.unwrap(), before);
    assert_eq!(holdings(&b).await, (1, 0, 1));

    // A mirror whose archive limit the package exceeds refuses it before reading its bytes.
    let small = TestApp::spawn(crate::common::Store::Local).await;
    let config = work.path().join("small.hcl");
    std::fs::write(&config, "limits {\n  max_archive_bytes = 64\n}\n").unwrap();
    let out = tfmirror(
        small.dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "import-bundle",
            bundle.to_str().unwrap(),
            "--trusted-key",
            key.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("bundle refused at {}", listed[2].0))
            && stderr(&out).contains("over this mirror's limits.max_archive_bytes (64)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(holdings(&small).await, (0, 0, 0));
}
