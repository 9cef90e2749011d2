//! The first start, as a newcomer runs it: a fresh data directory and no configuration at
//! all. The public registries are the upstreams, so the first `index.json` request pulls the
//! provider through (verified) from `https://registry.terraform.io`, here a fake reached
//! through an `HTTPS_PROXY` tunnel with a certificate for the public names; `--offline`
//! makes the same request never leave the process. `serve` tells the newcomer the next
//! steps in order, and the setup link it prints creates the first admin.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::child::KillOnDrop;
use crate::common::connect_proxy::ConnectProxy;
use crate::common::fake_registry::FakeRegistry;

const PUBLIC: [&str; 2] = ["registry.terraform.io", "registry.opentofu.org"];

/// `tfmirror --data-dir DATA serve --listen 127.0.0.1:0 ARGS`, with no configuration file,
/// every proxy variable but `HTTPS_PROXY` removed, and the fake's CA trusted.
struct Server {
    _child: KillOnDrop,
    base: String,
    stdout: Arc<Mutex<String>>,
    log: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, proxy: &str, ca: &Path, args: &[&str]) -> Self {
        let log = dir.join("serve.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_tfmirror"));
        command
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("TFM_CONFIG")
            .env("RUST_LOG", "info")
            .env("TFM_EXTRA_CA_FILE", ca)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
            "NO_PROXY",
            "no_proxy",
        ] {
            command.env_remove(var);
        }
        command.env("HTTPS_PROXY", proxy).env("https_proxy", proxy);
        let mut child = command.spawn().expect("spawn tfmirror serve");
        let out = child.stdout.take().unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let collected = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let mut all = collected.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let child = KillOnDrop(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            let text = stdout.lock().unwrap().clone();
            if let Some(base) = text
                .lines()
                .find_map(|l| l.strip_prefix("tfmirror is running at "))
            {
                break base.trim().replace("localhost", "127.0.0.1");
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start:\n{text}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            _child: child,
            base,
            stdout,
            log,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

async fn fake_public_registry(dir: &Path) -> (FakeRegistry, ConnectProxy, std::path::PathBuf) {
    let fake = FakeRegistry::start_tls_for(&dir.join("fake"), &PUBLIC).await;
    fake.publish("hashicorp", "null", "3.2.1", &["linux_amd64"]);
    let port: u16 = fake.base_url.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = ConnectProxy::start(SocketAddr::from(([127, 0, 0, 1], port))).await;
    (fake, proxy, dir.join("fake/tls/ca.pem"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_data_dir_with_no_config_pulls_through_from_the_public_registries() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, proxy, ca) = fake_public_registry(dir.path()).await;
    let server = Server::start(dir.path(), &proxy.url, &ca, &[]);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let log = server.log();
    for host in PUBLIC {
        assert!(
            log.contains(&format!("{host} (https://{host}/, pull-through)")),
            "the start-up log names the active upstreams:\n{log}"
        );
    }

    // The mirror protocol, for both public origins: versions, then a package, verified.
    for host in PUBLIC {
        let res = client
            .get(format!("{}{host}/hashicorp/null/index.json", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{host}: {}", server.log());
        let index: Value = res.json().await.unwrap();
        assert_eq!(index, json!({ "versions": { "3.2.1": {} } }), "{host}");
    }
    let doc: Value = client
        .get(format!(
            "{}registry.terraform.io/hashicorp/null/3.2.1.json",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let archive = &doc["archives"]["linux_amd64"];
    let url = archive["url"].as_str().expect("an archive URL").to_owned();
    let url = reqwest::Url::parse(&format!(
        "{}registry.terraform.io/hashicorp/null/",
        server.base
    ))
    .unwrap()
    .join(&url)
    .unwrap();
    let res = client.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.bytes().await.unwrap();
    let expected = fake.zip_bytes("hashicorp", "null", "3.2.1", "linux_amd64");
    assert_eq!(
        hex::encode(Sha256::digest(&body)),
        hex::encode(Sha256::digest(&expected)),
        "the archive served is the registry's"
    );

    // Everything went to the public names, through the proxy.
    let seen = proxy.seen();
    for host in PUBLIC {
        assert!(
            seen.contains(&format!("{host}:443")),
            "{host} was asked for: {seen:?}"
        );
    }

    // The next steps, in order: the UI, the first admin, the client block (here: why plain
    // HTTP will not do).
    let out = server.stdout();
    let ui = out.find("1. The admin UI: ").expect(&out);
    let admin = out.find("2. Create the first admin").expect(&out);
    let client_step = out
        .find("3. Terraform and OpenTofu refuse mirrors over plain HTTP")
        .expect(&out);
    assert!(ui < admin && admin < client_step, "{out}");
    let link = out
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/ui/setup#token="))
        .expect(&out);
    let token = link.split_once("#token=").unwrap().1;
    assert!(
        !server.log().contains(token),
        "the setup token is printed, never logged"
    );
    let res = client
        .post(format!("{}api/v1/setup", server.base))
        .json(&json!({ "token": token, "username": "admin", "password": "a long first password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "the printed link works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_the_same_request_never_leaves_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, proxy, ca) = fake_public_registry(dir.path()).await;
    let server = Server::start(dir.path(), &proxy.url, &ca, &["--offline"]);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for host in PUBLIC {
        let res = client
            .get(format!("{}{host}/hashicorp/null/index.json", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{host}");
    }
    // A definitions file naming a public origin is refused, saying why.
    let out = Command::new(env!("CARGO_BIN_EXE_tfmirror"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--offline", "load", "--dry-run"])
        .arg({
            let defs = dir.path().join("defs.hcl");
            std::fs::write(
                &defs,
                "provider \"hashicorp/null\" {\n  versions  = [\"3.2.1\"]\n  platforms = [\"linux_amd64\"]\n}\n",
            )
            .unwrap();
            defs
        })
        .env_remove("TFM_CONFIG")
        .env("HTTPS_PROXY", &proxy.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the mirror is offline"), "{stderr}");
    assert!(
        server
            .log()
            .contains("offline: no outbound request is made"),
        "{}",
        server.log()
    );
    assert_eq!(proxy.seen(), Vec::<String>::new(), "nothing went out");
}
