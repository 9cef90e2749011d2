//! Outbound requests honour the standard proxy variables: with `HTTP_PROXY` set, discovery,
//! version lists, download info, checksums and archives all go through the proxy, and
//! `NO_PROXY` exempts the hosts it names.

use std::process::Command;

use crate::common::child::{start_worker, tfmirror, write_config};
use crate::common::fake_registry::FakeRegistry;
use crate::common::proxy::ForwardProxy;

fn with_proxy(mut command: Command, proxy: &str, no_proxy: Option<&str>) -> Command {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    command.env("HTTP_PROXY", proxy).env("http_proxy", proxy);
    match no_proxy {
        Some(hosts) => command.env("NO_PROXY", hosts).env("no_proxy", hosts),
        None => command.env_remove("NO_PROXY").env_remove("no_proxy"),
    };
    command
}

const DEFS: &str = "provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_go_through_http_proxy_and_no_proxy_exempts_hosts() {
    let fake = FakeRegistry::start().await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let proxy = ForwardProxy::start().await;

    let dir = tempfile::tempdir().unwrap();
    let (_data, config) = write_config(
        dir.path(),
        &fake.base_url,
        "",
        "worker {\n  poll_interval_ms = 50\n}\n",
    );
    let defs = dir.path().join("providers.hcl");
    std::fs::write(&defs, DEFS).unwrap();

    let _worker = start_worker(with_proxy(tfmirror(&config), &proxy.url, None));
    let out = with_proxy(tfmirror(&config), &proxy.url, None)
        .args(["load", "--wait"])
        .arg(&defs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 succeeded"), "{stdout}");

    let seen = proxy.seen();
    for expected in [
        "/.well-known/terraform.json",
        "/v1/providers/hashicorp/null/versions",
        "/v1/providers/hashicorp/null/3.2.1/download/linux/amd64",
        "terraform-provider-null_3.2.1_SHA256SUMS",
        "terraform-provider-null_3.2.1_SHA256SUMS.sig",
        "terraform-provider-null_3.2.1_linux_amd64.zip",
    ] {
        assert!(
            seen.iter().any(|uri| uri.ends_with(expected)),
            "no request for {expected} went through the proxy: {seen:?}"
        );
    }
    assert!(
        seen.iter().all(|uri| uri.starts_with(&fake.base_url)),
        "the proxy only relays requests for the configured upstream: {seen:?}"
    );

    // NO_PROXY naming the registry's host: the plan is made without touching the proxy.
    let relayed = seen.len();
    let out = with_proxy(tfmirror(&config), &proxy.url, Some("127.0.0.1"))
        .args(["load", "--dry-run"])
        .arg(&defs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3.2.1"));
    assert_eq!(
        proxy.seen().len(),
        relayed,
        "NO_PROXY=127.0.0.1 still went through the proxy: {:?}",
        proxy.seen()
    );
}
