//! Shallow clones of module repositories with the git CLI (as Terraform's go-getter does):
//! one ref at depth 1 over HTTPS, no other protocol, no redirects to other hosts, no prompts,
//! no system or user configuration, no hooks or submodules, bounded in time. Returns the
//! commit the ref resolved to.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use url::Url;

use super::UpstreamError;

/// How git reaches the servers.
#[derive(Debug, Clone, Default)]
pub struct GitOptions {
    /// A CA bundle git trusts (the system's plus `outbound.extra_ca_file`), when one is
    /// needed beyond the system's.
    pub ca_bundle: Option<PathBuf>,
    pub timeout: Duration,
}

/// The system CA bundle plus `extra` in one file under `dir`, for git (whose `sslCAInfo`
/// replaces the system's bundle rather than adding to it).
pub fn ca_bundle(dir: &Path, extra: &Path) -> std::io::Result<PathBuf> {
    let mut pem = Vec::new();
    for system in [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ] {
        if let Ok(bytes) = std::fs::read(system) {
            pem.extend(bytes);
            pem.push(b'\n');
            break;
        }
    }
    pem.extend(std::fs::read(extra)?);
    let path = dir.join("git-ca-bundle.pem");
    std::fs::write(&path, pem)?;
    Ok(path)
}

fn git(dir: &Path, opts: &GitOptions) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("GIT_ALLOW_PROTOCOL", "https:http")
        .env("GIT_LFS_SKIP_SMUDGE", "1")
        .args([
            "-c",
            "protocol.allow=never",
            "-c",
            "protocol.https.allow=always",
            "-c",
            "protocol.http.allow=always",
            "-c",
            "http.followRedirects=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "advice.detachedHead=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in [
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    if let Some(ca) = &opts.ca_bundle {
        cmd.env("GIT_SSL_CAINFO", ca);
    }
    cmd
}

async fn run(mut cmd: Command, what: &str, timeout: Duration) -> Result<String, UpstreamError> {
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| UpstreamError::transient(format!("{what}: git took longer than {timeout:?}")))?
        .map_err(|e| UpstreamError::permanent(format!("{what}: cannot run git: {e}")))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message: String = stderr.trim().chars().take(600).collect();
    // A missing ref or repository is permanent; a network failure is worth retrying.
    let permanent = [
        "couldn't find remote ref",
        "not found",
        "Repository not found",
        "invalid",
        "not our ref",
    ]
    .iter()
    .any(|m| message.contains(m));
    let message = format!("{what}: {message}");
    Err(if permanent {
        UpstreamError::permanent(message)
    } else {
        UpstreamError::transient(message)
    })
}

/// Fetches `reference` (or the default branch) of `repo` at depth 1 into the empty
/// directory `dest` and checks it out. Returns the commit.
pub async fn shallow_clone(
    repo: &Url,
    reference: Option<&str>,
    dest: &Path,
    opts: &GitOptions,
) -> Result<String, UpstreamError> {
    if !matches!(repo.scheme(), "https" | "http") {
        return Err(UpstreamError::permanent(format!(
            "git over {}:// is not supported",
            repo.scheme()
        )));
    }
    let what = format!(
        "git fetch of {}{}",
        repo,
        reference.map(|r| format!(" at {r}")).unwrap_or_default()
    );
    let timeout = opts.timeout;
    let mut init = git(dest, opts);
    init.args(["init", "-q", "."]);
    run(init, &what, timeout).await?;
    let mut fetch = git(dest, opts);
    fetch.args([
        "fetch",
        "-q",
        "--depth",
        "1",
        "--no-tags",
        "--no-recurse-submodules",
        "--",
        repo.as_str(),
    ]);
    fetch.arg(reference.unwrap_or("HEAD"));
    run(fetch, &what, timeout).await?;
    let mut checkout = git(dest, opts);
    checkout.args([
        "-c",
        "core.symlinks=true",
        "checkout",
        "-q",
        "--detach",
        "FETCH_HEAD",
    ]);
    run(checkout, &what, timeout).await?;
    let mut rev = git(dest, opts);
    rev.args(["rev-parse", "FETCH_HEAD"]);
    let commit = run(rev, &what, timeout).await?;
    if commit.len() < 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(UpstreamError::permanent(format!(
            "{what}: git named no commit ({commit:?})"
        )));
    }
    Ok(commit)
}
