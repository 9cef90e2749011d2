//! Several `tfmirror serve` processes on one PostgreSQL database and one SeaweedFS bucket
//! prefix, with the fake registry as their upstream: what a Deployment with three replicas
//! behind one Service is.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::child::{KillOnDrop, tfmirror};
use crate::common::{free_port, new_pg_database, s3_endpoint};

pub struct Replica {
    pub child: Option<KillOnDrop>,
    /// `serve --self-signed-tls`: HTTPS with a CA of the replica's own (`ca_file`).
    pub tls: bool,
    pub base: String,
    pub log: PathBuf,
    pub config: PathBuf,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").0.id()
    }

    /// The CA a TLS replica generated (for `SSL_CERT_FILE`).
    pub fn ca_file(&self) -> PathBuf {
        self.config.parent().unwrap().join("data/tls/ca.pem")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: no shutdown, no lease given back.
    pub fn kill(&mut self) {
        self.child.take();
    }
}

pub struct Cluster {
    pub replicas: Vec<Replica>,
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// `n` replicas on a new database, `upstream_url` as `registry.terraform.io` (pull-through
    /// on), `extra` HCL appended to every replica's configuration.
    pub async fn start(n: usize, upstream_url: &str, extra: &str) -> Self {
        Self::start_on(n, upstream_url, extra, &new_pg_database(), true).await
    }

    /// `start` with replica 0 on HTTPS (`serve --self-signed-tls`), for real Terraform.
    pub async fn start_first_on_tls(n: usize, upstream_url: &str, extra: &str) -> Self {
        let mut cluster = Self::configure(n, upstream_url, extra, &new_pg_database(), true);
        cluster.replicas[0].tls = true;
        cluster.replicas[0].base = cluster.replicas[0]
            .base
            .replace("http://127.0.0.1", "https://localhost");
        for i in 0..n {
            cluster.restart(i).await;
        }
        cluster
    }

    /// The same without pull-through: only definitions files fetch packages.
    pub async fn start_definitions_only(n: usize, upstream_url: &str, extra: &str) -> Self {
        Self::start_on(n, upstream_url, extra, &new_pg_database(), false).await
    }

    pub async fn start_on(
        n: usize,
        upstream_url: &str,
        extra: &str,
        database_url: &str,
        pull_through: bool,
    ) -> Self {
        let mut cluster = Self::configure(n, upstream_url, extra, database_url, pull_through);
        for i in 0..n {
            cluster.restart(i).await;
        }
        cluster
    }

    fn configure(
        n: usize,
        upstream_url: &str,
        extra: &str,
        database_url: &str,
        pull_through: bool,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("cluster-{}", uuid::Uuid::new_v4().simple());
        let mut replicas = Vec::new();
        for i in 0..n {
            let rdir = dir.path().join(format!("replica-{i}"));
            std::fs::create_dir_all(&rdir).unwrap();
            let port = free_port();
            let config = rdir.join("tfmirror.hcl");
            std::fs::write(
                &config,
                format!(
                    r#"server {{
  listen = "127.0.0.1:{port}"
  shutdown_grace_seconds = 2
}}
database {{
  url = "{database_url}"
}}
storage {{
  s3 {{
    bucket = "providers"
    endpoint = "{s3}"
    path_style = true
    region = "us-east-1"
    access_key_id = "testaccesskey"
    secret_access_key = "testsecretkey123"
    prefix = "{prefix}"
  }}
}}
upstream "registry.terraform.io" {{
  url = "{upstream_url}"
  pull_through = {pull_through}
  timeout_seconds = 30
}}
worker {{
  poll_interval_ms = 100
  backoff_base_ms = 100
  stale_after_seconds = 5
}}
{extra}
"#,
                    s3 = s3_endpoint(),
                ),
            )
            .unwrap();
            replicas.push(Replica {
                child: None,
                tls: false,
                base: format!("http://127.0.0.1:{port}"),
                log: rdir.join("serve.log"),
                config,
            });
        }
        Self {
            replicas,
            database_url: database_url.to_owned(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                // Only a TLS replica's own generated CA signs its certificate; the tests
                // talk to loopback.
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap(),
            _dir: dir,
        }
    }

    /// Starts replica `i` (again) and waits until it answers.
    pub async fn restart(&mut self, i: usize) {
        let r = &mut self.replicas[i];
        let mut cmd = tfmirror(&r.config);
        // The database is in the config; the data dir is the replica's own.
        cmd.env_remove("TFM_DATABASE_URL")
            .arg("--data-dir")
            .arg(r.config.parent().unwrap().join("data"))
            .arg("serve")
            .args(if r.tls {
                &["--self-signed-tls"][..]
            } else {
                &[]
            })
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&r.log)
                    .unwrap(),
            );
        r.child = Some(KillOnDrop(cmd.spawn().unwrap()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = self.client.get(r.url("/readyz")).send().await
                && res.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "replica {i} did not start: {}",
                r.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn pool(&self) -> tfmirror::db::Pool {
        tfmirror::db::connect_postgres(&self.database_url, &Default::default())
            .await
            .unwrap()
    }

    /// An admin account and a session for it, made through replica 0.
    pub async fn admin_token(&self) -> String {
        let hash = tfmirror::auth::password::hash("an admin password 123".into())
            .await
            .unwrap();
        tfmirror::db::users::create_user(
            &self.pool().await,
            "root",
            &hash,
            tfmirror::domain::Role::Admin,
            0,
        )
        .await
        .unwrap()
        .expect("a new user");
        let res = self
            .client
            .post(self.replicas[0].url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "root", "password": "an admin password 123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.json::<serde_json::Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
