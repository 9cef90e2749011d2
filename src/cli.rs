//! Subcommands.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::catalog::{Expected, PackageId, PackageSource};
use crate::config::{self, Config, TlsConfig};
use crate::domain::{Platform, ProviderAddress, Version};
use crate::import::ImportReport;
use crate::startup::{Application, open_catalog};

#[derive(Debug, Parser)]
#[command(
    name = "tfmirror",
    version,
    about = "A caching, verifying provider mirror for Terraform and OpenTofu"
)]
pub struct Cli {
    /// HCL configuration file.
    #[arg(long, short, global = true, env = "TFM_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite file, local blobs, generated TLS material).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the mirror server.
    Serve {
        /// Address to listen on, HOST:PORT.
        #[arg(long)]
        listen: Option<String>,
        /// Create (once) a local CA and a certificate for this server, and serve HTTPS with it.
        #[arg(long)]
        self_signed_tls: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the configuration and print the effective settings, secrets masked.
    CheckConfig,
    /// Import a directory written by `terraform providers mirror`.
    Import { dir: PathBuf },
    /// Store one provider package archive.
    AddPackage {
        #[arg(long, default_value = crate::domain::DEFAULT_ORIGIN)]
        hostname: String,
        #[arg(long)]
        namespace: String,
        #[arg(long = "type")]
        provider_type: String,
        #[arg(long)]
        version: String,
        /// OS_ARCH, e.g. linux_amd64.
        #[arg(long)]
        platform: String,
        file: PathBuf,
    },
}

impl Cli {
    /// Loads the layered config, with this command line as the last layer.
    pub fn load_config(&self) -> Result<Config, config::ConfigError> {
        let mut flags: Vec<(&str, Value)> = Vec::new();
        if let Some(d) = &self.data_dir {
            flags.push(("data_dir", Value::from(d.display().to_string())));
        }
        if let Command::Serve {
            listen: Some(l), ..
        } = &self.command
        {
            flags.push(("server.listen", Value::from(l.clone())));
        }
        config::load(self.config.as_deref(), &config::process_env(), &flags)
    }
}

/// Runs a subcommand; returns the process exit code.
pub async fn run(cli: Cli, mut config: Config) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve {
            self_signed_tls, ..
        } => {
            if self_signed_tls && config.server.tls.is_none() {
                let generated =
                    crate::tls::ensure_self_signed(&config.data_dir, &config.server.hostnames)?;
                config.server.tls = Some(TlsConfig {
                    cert_file: generated.cert.clone(),
                    key_file: generated.key.clone(),
                });
                print_client_setup(&config, &generated.ca_cert)?;
            }
            let app = Application::build(config).await?;
            tracing::info!(
                port = app.port(),
                https = app.is_https(),
                "tfmirror is serving the network mirror protocol"
            );
            app.run_until_stopped().await?;
            Ok(0)
        }
        Command::Migrate => {
            open_catalog(&config).await?;
            println!(
                "database {} is up to date",
                config.database_path().display()
            );
            Ok(0)
        }
        Command::CheckConfig => {
            println!("configuration is valid; effective settings (secrets masked):");
            println!("{}", config.masked_json());
            Ok(0)
        }
        Command::Import { dir } => {
            let catalog = open_catalog(&config).await?;
            let report = crate::import::import_dir(&catalog, &dir).await?;
            print!("{}", report.render());
            Ok(if report.rejected.is_empty() { 0 } else { 1 })
        }
        Command::AddPackage {
            hostname,
            namespace,
            provider_type,
            version,
            platform,
            file,
        } => {
            let id = PackageId {
                address: ProviderAddress::new(&hostname, &namespace, &provider_type)?,
                version: Version::parse(&version)?,
                platform: Platform::parse(&platform)?,
            };
            let catalog = open_catalog(&config).await?;
            let detail = file.display().to_string();
            let outcome = catalog
                .ingest_file(
                    &id,
                    &file,
                    &Expected::default(),
                    PackageSource::Upload,
                    Some(&detail),
                )
                .await?;
            let mut report = ImportReport::default();
            report.record(id.to_string(), outcome);
            print!("{}", report.render());
            Ok(if report.rejected.is_empty() { 0 } else { 1 })
        }
    }
}

/// Prints what a Terraform user needs to trust and use this server.
fn print_client_setup(config: &Config, ca_cert: &Path) -> anyhow::Result<()> {
    let bundle = ca_cert.with_file_name("ca-bundle.pem");
    let mut pem = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    pem.push_str(&std::fs::read_to_string(ca_cert).context("reading generated CA")?);
    std::fs::write(&bundle, pem)?;
    let bundle = std::fs::canonicalize(&bundle)?;
    let addr: std::net::SocketAddr = config.server.listen.parse()?;
    let host = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        "localhost".to_owned()
    } else {
        addr.ip().to_string()
    };
    println!(
        "\nServing HTTPS with a local CA. Point Terraform or OpenTofu at this mirror:\n\n\
         # ~/.terraformrc (or ~/.tofurc)\n\
         provider_installation {{\n  network_mirror {{\n    url = \"https://{host}:{port}/\"\n  }}\n}}\n\n\
         # and trust the local CA in the shell that runs terraform:\n\
         export SSL_CERT_FILE={bundle}\n",
        port = addr.port(),
        bundle = bundle.display()
    );
    Ok(())
}
