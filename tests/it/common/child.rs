//! Running the `tfmirror` binary as a child process, for tests that need a real process:
//! killing it, or giving it its own environment.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `tfmirror --config CONFIG`, with no inherited `TFM_CONFIG`. In the PostgreSQL pass the
/// process gets the database of the config's `data_dir` (`TFM_DATABASE_URL`).
pub fn tfmirror(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tfmirror"));
    c.arg("--config")
        .arg(config)
        .env_remove("TFM_CONFIG")
        .env_remove("TFM_DATABASE_URL")
        .env("RUST_LOG", "info");
    if let Some(url) = data_dir_of(config).and_then(|d| super::database_url_for(&d)) {
        c.env("TFM_DATABASE_URL", url);
    }
    c
}

/// The `data_dir = "..."` line of a test's config file.
fn data_dir_of(config: &Path) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(config).ok()?;
    text.lines().find_map(|l| {
        let rest = l
            .trim()
            .strip_prefix("data_dir")?
            .trim()
            .strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').into())
    })
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tfmirror worker` as a child process, killed when dropped.
pub fn start_worker(mut command: Command) -> KillOnDrop {
    KillOnDrop(
        command
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tfmirror worker"),
    )
}

/// Writes `DIR/tfmirror.hcl` with its data under `DIR/data`, `registry.terraform.io` pointed
/// at `upstream_url`, and `extra` HCL appended. Returns (data dir, config file).
pub fn write_config(
    dir: &Path,
    upstream_url: &str,
    upstream_extra: &str,
    extra: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("data");
    let config = dir.join("tfmirror.hcl");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\nupstream \"registry.terraform.io\" {{\n  url = \"{upstream_url}\"\n{upstream_extra}}}\n{extra}",
            data.display()
        ),
    )
    .expect("write config");
    (data, config)
}
