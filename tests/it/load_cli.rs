//! `tfmirror load` and `tfmirror jobs` as an operator runs them.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::fake_registry::FakeRegistry;

struct Env {
    dir: tempfile::TempDir,
    config: PathBuf,
}

fn env_for(fake: &FakeRegistry) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tfmirror.hcl");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nupstream \"registry.terraform.io\" {{\n  url = \"{}\"\n}}\n",
            dir.path().join("data").display(),
            fake.base_url
        ),
    )
    .unwrap();
    Env { dir, config }
}

/// Runs the CLI off the async executor, so the in-process fake registry keeps answering.
async fn run(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tfmirror"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("TFM_CONFIG")
        .env("RUST_LOG", "warn");
    let out: Output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_definitions_report_every_problem_and_enqueue_nothing() {
    let fake = FakeRegistry::start().await;
    let env = env_for(&fake);
    let defs = env.dir.path().join("bad.hcl");
    std::fs::write(
        &defs,
        r#"provider "hashicorp/null" {
  versions  = [">= banana"]
  platforms = ["linux_amd64"]
}

provider "registry.opentofu.org/hashicorp/null" {
  versions  = ["1.0.0"]
  platforms = ["linux-amd64"]
  colour    = "blue"
}
"#,
    )
    .unwrap();
    let (code, _, err) = run(&env.config, &["load", defs.to_str().unwrap()]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bad.hcl:2:"),
        "constraint error at its line: {err}"
    );
    assert!(
        err.contains("bad.hcl:8:"),
        "platform error at its line: {err}"
    );
    assert!(
        err.contains("bad.hcl:9:"),
        "unknown attribute at its line: {err}"
    );
    assert!(err.contains("nothing was enqueued"), "{err}");

    // An origin without an upstream block is refused before anything is contacted.
    let defs2 = env.dir.path().join("tofu.hcl");
    std::fs::write(&defs2, "provider \"registry.opentofu.org/hashicorp/null\" {\n  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n").unwrap();
    let (code, _, err) = run(&env.config, &["load", defs2.to_str().unwrap()]).await;
    assert_eq!(code, Some(2));
    assert!(
        err.contains("tofu.hcl:1:1: no upstream is configured for registry.opentofu.org"),
        "{err}"
    );

    let (_, jobs, _) = run(&env.config, &["jobs"]).await;
    assert_eq!(jobs.lines().count(), 1, "only the header, no job: {jobs}");
    assert_eq!(
        fake.hits(crate::common::fake_registry::Target::Any),
        0,
        "no upstream request for an invalid file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_shows_the_plan_and_load_enqueues_it() {
    let fake = FakeRegistry::start().await;
    for v in ["1.0.0", "1.1.0", "2.0.0"] {
        fake.publish("hashicorp", "null", v, &["linux_amd64", "darwin_arm64"]);
    }
    let env = env_for(&fake);
    let defs = env.dir.path().join("providers.hcl");
    std::fs::write(
        &defs,
        "provider \"hashicorp/null\" {\n  versions  = [\"~> 1.0\", \"9.9.9\"]\n  platforms = [\"linux_amd64\", \"windows_amd64\"]\n}\n",
    )
    .unwrap();
    let (code, out, err) = run(&env.config, &["load", "--dry-run", defs.to_str().unwrap()]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("registry.terraform.io/hashicorp/null"),
        "{out}"
    );
    assert!(
        out.contains("1.0.0") && out.contains("1.1.0") && !out.contains("2.0.0"),
        "{out}"
    );
    assert!(out.contains("not offered: windows_amd64"), "{out}");
    assert!(
        out.contains("9.9.9") && out.contains("matches no version"),
        "{out}"
    );
    assert!(out.contains("2 package(s) to fetch"), "{out}");
    assert!(out.contains("nothing was enqueued"), "{out}");

    let (code, out, err) = run(&env.config, &["load", defs.to_str().unwrap()]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("enqueued job 1"), "{out}");
    let (_, show, _) = run(&env.config, &["jobs", "show", "1"]).await;
    assert!(show.contains("job 1: pending (4 items"), "{show}");
    assert!(
        show.contains("failed    registry.terraform.io/hashicorp/null 1.0.0 windows_amd64"),
        "{show}"
    );
    assert!(
        show.contains("pending   registry.terraform.io/hashicorp/null 1.1.0 linux_amd64"),
        "{show}"
    );

    let (code, out, _) = run(&env.config, &["jobs", "cancel", "1"]).await;
    assert_eq!(code, Some(0));
    assert!(out.contains("job 1 cancelled"));
    let (_, list, _) = run(&env.config, &["jobs"]).await;
    assert!(
        list.lines()
            .nth(1)
            .unwrap_or_default()
            .contains("cancelled"),
        "{list}"
    );
}
