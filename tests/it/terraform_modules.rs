//! Real Terraform installing registry modules through the mirror: a CLI `host` override sends
//! both `modules.v1` and `providers.v1` of `registry.terraform.io` to the mirror, which holds
//! nothing at first and pulls everything through from the fake registry (a git repository
//! over HTTPS, a relative archive, a subdirectory, and a module that calls another registry
//! module). Then the origin stops, and `init` in a fresh directory still succeeds from
//! storage, and `apply` runs the modules.

use std::path::{Path, PathBuf};

use crate::common::fake_registry::{FakeRegistry, Target};
use crate::common::modules::{GitRepo, tar_gz};
use crate::common::{Store, TestApp};
use crate::terraform::{stored_zip, terraforms, tool};

const MAIN_TF: &str = r#"
terraform {
  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "2.1.2"
    }
  }
}

module "vpc" {
  source  = "acme/vpc/aws"
  version = "1.2.0"
  name    = "from-git"
}

module "net" {
  source  = "acme/net/aws"
  version = "~> 2.0"
}

module "stack" {
  source  = "acme/stack/aws"
  version = "0.1.0"
}

output "vpc" {
  value = module.vpc.id
}

output "net" {
  value = module.net.label
}

output "zone" {
  value = module.stack.zone
}
"#;

const VPC_TF: &str = r#"
variable "name" {}

resource "null_resource" "vpc" {
  triggers = {
    name = var.name
  }
}

output "id" {
  value = "vpc-${var.name}"
}
"#;

fn cli_config(base: &str) -> String {
    format!(
        "host \"registry.terraform.io\" {{\n  services = {{\n    \"modules.v1\" = \"{base}/v1/modules/\",\n    \"providers.v1\" = \"{base}/v1/providers/\"\n  }}\n}}\n"
    )
}

fn run(terraform: &Path, dir: &Path, bundle: &Path, args: &[&str]) -> (bool, String) {
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let out = std::process::Command::new(terraform)
        .args(args)
        .arg("-no-color")
        .current_dir(dir.join("work"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.join("home"))
        .env("TF_CLI_CONFIG_FILE", dir.join("terraformrc"))
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("SSL_CERT_FILE", bundle)
        .output()
        .expect("terraform runs");
    (
        out.status.success(),
        format!(
            "[{}]\n{}{}",
            terraform.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn workspace(root: &Path, name: &str, base: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("work")).unwrap();
    std::fs::write(dir.join("work/main.tf"), MAIN_TF).unwrap();
    std::fs::write(dir.join("terraformrc"), cli_config(base)).unwrap();
    dir
}

#[tokio::test]
async fn terraform_installs_registry_modules_through_the_mirror_and_again_without_the_origin() {
    let root = tempfile::tempdir().unwrap();
    let fake_dir = root.path().join("fake");
    let fake = FakeRegistry::start_tls(&fake_dir).await;
    let null_bin = std::fs::read(tool("terraform-provider-null_v2.1.2_x4")).unwrap();
    let null_zip = stored_zip("terraform-provider-null_v2.1.2_x4", &null_bin);
    fake.publish_zip("hashicorp", "null", "2.1.2", "linux_amd64", null_zip);

    let repos = fake_dir.join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    fake.serve_git(&repos);
    GitRepo::create(&repos, "vpc").commit_and_tag(&[("main.tf", VPC_TF)], "v1.2.0");
    fake.publish_module(
        "acme/vpc/aws",
        "1.2.0",
        &format!("git::{}/git/vpc.git?ref=v1.2.0", fake.base_url),
    );
    let dns = fake.serve_module_file(
        "dns.tar.gz",
        tar_gz(
            &[(
                "main.tf",
                "output \"zone\" {\n  value = \"example.internal\"\n}\n",
            )],
            Some("dns-1.0.0"),
        ),
    );
    fake.publish_module("acme/dns/aws", "1.0.0", &format!("{dns}//*"));
    let mono = fake.serve_module_file(
        "mono.tar.gz",
        tar_gz(
            &[
                (
                    "modules/net/main.tf",
                    "module \"shared\" {\n  source = \"../shared\"\n}\n\noutput \"label\" {\n  value = module.shared.label\n}\n",
                ),
                ("modules/shared/main.tf", "output \"label\" {\n  value = \"net-2.0.1\"\n}\n"),
            ],
            None,
        ),
    );
    fake.publish_module("acme/net/aws", "2.0.1", &format!("{mono}//modules/net"));
    fake.publish_module("acme/net/aws", "3.0.0", &format!("{mono}//modules/net"));
    let stack = fake.serve_module_file(
        "stack.tar.gz",
        tar_gz(
            &[(
                "main.tf",
                "module \"dns\" {\n  source  = \"acme/dns/aws\"\n  version = \"1.0.0\"\n}\n\noutput \"zone\" {\n  value = module.dns.zone\n}\n",
            )],
            None,
        ),
    );
    fake.publish_module("acme/stack/aws", "0.1.0", &stack);

    // The mirror over HTTPS, trusting the fake's CA for its own outbound requests.
    let data = root.path().join("mirror");
    std::fs::create_dir_all(&data).unwrap();
    let tls = tfmirror::tls::ensure_self_signed(&data, &[]).unwrap();
    let upstream_url = fake.base_url.clone();
    let fake_ca = fake_dir.join("tls/ca.pem");
    let app = TestApp::spawn_with(Store::Local, |c| {
        c.data_dir = data.clone();
        c.server.tls = Some(tfmirror::config::TlsConfig {
            cert_file: tls.cert.clone(),
            key_file: tls.key.clone(),
        });
        c.upstream.insert(
            "registry.terraform.io".into(),
            tfmirror::config::UpstreamConfig {
                url: Some(upstream_url),
                pull_through: true,
                ..Default::default()
            },
        );
        c.outbound.extra_ca_file = Some(fake_ca);
    })
    .await;
    let bundle = data.join("bundle.pem");
    let mut pem = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    pem.push_str(&std::fs::read_to_string(&tls.ca_cert).unwrap());
    std::fs::write(&bundle, pem).unwrap();

    let tfs = terraforms();
    let base = app.base.clone();
    // 1. Nothing stored: every module and the provider come through the mirror.
    for (i, (version, terraform)) in tfs.iter().enumerate() {
        let dir = workspace(root.path(), &format!("online-{i}"), &base);
        let (terraform, bundle, version) = (terraform.clone(), bundle.clone(), version.clone());
        tokio::task::spawn_blocking(move || {
            let (ok, log) = run(&terraform, &dir, &bundle, &["init", "-input=false"]);
            assert!(
                ok,
                "terraform {version} init through the mirror failed:\n{log}"
            );
            let modules =
                std::fs::read_to_string(dir.join("work/.terraform/modules/modules.json")).unwrap();
            for key in ["\"vpc\"", "\"net\"", "\"stack.dns\""] {
                assert!(modules.contains(key), "{key} not installed:\n{modules}");
            }
            assert!(
                modules.contains("2.0.1"),
                "~> 2.0 selects 2.0.1, not 3.0.0:\n{modules}"
            );
        })
        .await
        .unwrap();
    }
    assert!(
        fake.hits(Target::Git) > 0,
        "the git module came from the git server"
    );

    // 2. The origin is gone: a fresh directory installs from storage, and apply runs.
    drop(fake);
    for (i, (version, terraform)) in tfs.iter().enumerate() {
        let dir = workspace(root.path(), &format!("offline-{i}"), &base);
        let (terraform, bundle, version) = (terraform.clone(), bundle.clone(), version.clone());
        tokio::task::spawn_blocking(move || {
            let (ok, log) = run(&terraform, &dir, &bundle, &["init", "-input=false"]);
            assert!(
                ok,
                "terraform {version} init without the origin failed:\n{log}"
            );
            let (ok, log) = run(
                &terraform,
                &dir,
                &bundle,
                &["apply", "-auto-approve", "-input=false"],
            );
            assert!(ok, "terraform {version} apply failed:\n{log}");
            for expected in [
                "vpc = \"vpc-from-git\"",
                "net = \"net-2.0.1\"",
                "zone = \"example.internal\"",
            ] {
                assert!(log.contains(expected), "{expected} missing:\n{log}");
            }
        })
        .await
        .unwrap();
    }
}
