//! Subcommands.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::Value;

use std::sync::Arc;

use crate::catalog::Expected;
use crate::config::{self, Config, TlsConfig};
use crate::db;
use crate::domain::{PackageId, PackageSource, Platform, ProviderAddress, Role, Version};
use crate::import::ImportReport;
use crate::jobs::worker::Worker;
use crate::startup::{Application, open_services};
use crate::upstream::RegistryClient;

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
    /// Make no outbound request at all (air-gapped installs): no upstream is contacted.
    #[arg(long, global = true)]
    pub offline: bool,
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
        /// The URL users reach the mirror at (`server.public_url`), e.g. behind a proxy.
        #[arg(long)]
        public_url: Option<String>,
        /// Create (once) a local CA and a certificate for this server, and serve HTTPS with it.
        #[arg(long)]
        self_signed_tls: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Copy this node's SQLite database (packages, evidence, jobs, users, tokens, sessions,
    /// audit log, and the generated session secret and signing key) into an empty
    /// PostgreSQL database, checking every table's count: the move to several replicas.
    CopyDb {
        /// The PostgreSQL database to fill (`postgres://USER:PASSWORD@HOST:PORT/DB`).
        #[arg(long, env = "TFM_COPY_DB_TO", hide_env_values = true)]
        to: String,
    },
    /// Validate the configuration and print the effective settings, secrets masked.
    CheckConfig,
    /// Import a directory written by `terraform providers mirror`.
    Import { dir: PathBuf },
    /// Validate a provider definitions file, resolve it against the upstreams and enqueue a job.
    Load {
        file: PathBuf,
        /// Show the resolved plan without enqueueing anything.
        #[arg(long)]
        dry_run: bool,
        /// Wait for the job to finish, showing progress (a worker must be running:
        /// `tfmirror serve` or `tfmirror worker`).
        #[arg(long)]
        wait: bool,
    },
    /// List download jobs, or act on one.
    Jobs {
        #[command(subcommand)]
        action: Option<JobsAction>,
    },
    /// Run only the download worker (no HTTP server).
    Worker,
    /// Re-hash every stored package against its recorded sha256 and list blobs no package
    /// references; exit 1 when anything is missing, corrupt or orphaned. Changes nothing.
    Verify,
    /// Create an admin user. The password is read from TFM_ADMIN_PASSWORD, or from the first
    /// line of standard input (never from the command line, where `ps` would show it).
    CreateAdmin {
        #[arg(long)]
        username: String,
    },
    /// Write a complete `.terraform.lock.hcl` for a configuration from a mirror: every
    /// provider the `required_providers` of DIR and of its local modules name, the `h1:` of
    /// every platform asked for and the signed `zh:` of every platform, without downloading
    /// any archive here. An existing lock file's versions are kept unless `--upgrade`.
    /// With read access control, the token is read from TFM_TOKEN.
    Lock {
        /// The configuration's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The mirror's base URL, e.g. https://mirror.example.com:8443.
        #[arg(long)]
        mirror: String,
        /// OS_ARCH to record an `h1:` for (repeat it); default: every platform the mirror
        /// or the origin has for the selected version.
        #[arg(long = "platform")]
        platforms: Vec<String>,
        /// Select the newest allowed versions even where the lock file has one.
        #[arg(long)]
        upgrade: bool,
    },
    /// Write an air-gap bundle: the packages (with their origin's signed `SHA256SUMS`) and
    /// module versions this mirror stores, and a manifest signed with this mirror's key, as
    /// one tar file for `tfmirror import-bundle` on a disconnected mirror.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["all", "definitions"])))]
    Export {
        /// The bundle file to write (written aside and renamed when complete).
        out: PathBuf,
        /// Every stored package and module version that is not blocked.
        #[arg(long)]
        all: bool,
        /// Only what this definitions file lists (provider and module blocks).
        #[arg(long)]
        definitions: Option<PathBuf>,
    },
    /// Verify an air-gap bundle against a trusted key and store what it holds: the
    /// manifest's signature, every origin signature, every entry's hashes. A bundle that
    /// fails any check is refused whole, naming the entry; importing twice changes nothing.
    ImportBundle {
        file: PathBuf,
        /// The exporting mirror's ASCII-armored public key (`tfmirror signing-key` there);
        /// repeat for several.
        #[arg(long = "trusted-key", required = true)]
        trusted_keys: Vec<PathBuf>,
    },
    /// Print this mirror's public signing key (ASCII-armored): what `import-bundle
    /// --trusted-key` on a disconnected mirror needs, and what clients see for uploads.
    SigningKey,
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
    /// Store one in-house module version (a .tar.gz, .tar or .zip), repacked with its files
    /// at the root; the mirror then serves it as NAMESPACE/NAME/SYSTEM.
    AddModule {
        #[arg(long, default_value = crate::domain::DEFAULT_ORIGIN)]
        hostname: String,
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        name: String,
        /// The target system (the provider it is written for), e.g. aws.
        #[arg(long)]
        system: String,
        #[arg(long)]
        version: String,
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Recent jobs with their progress.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// One job's items: status, attempts, bytes, errors.
    Show { id: i64 },
    /// Cancel a job's pending and running items.
    Cancel { id: i64 },
    /// Queue a job's failed items again.
    Retry { id: i64 },
}

impl Cli {
    /// Loads the layered config, with this command line as the last layer.
    pub fn load_config(&self) -> Result<Config, config::ConfigError> {
        let mut flags: Vec<(&str, Value)> = Vec::new();
        if let Some(d) = &self.data_dir {
            flags.push(("data_dir", Value::from(d.display().to_string())));
        }
        if self.offline {
            flags.push(("offline", Value::Bool(true)));
        }
        if let Command::Serve {
            listen, public_url, ..
        } = &self.command
        {
            if let Some(l) = listen {
                flags.push(("server.listen", Value::from(l.clone())));
            }
            if let Some(u) = public_url {
                flags.push(("server.public_url", Value::from(u.clone())));
            }
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
            let mut ca_bundle = None;
            if self_signed_tls && config.server.tls.is_none() {
                let generated =
                    crate::tls::ensure_self_signed(&config.data_dir, &config.server.hostnames)?;
                config.server.tls = Some(TlsConfig {
                    cert_file: generated.cert.clone(),
                    key_file: generated.key.clone(),
                });
                ca_bundle = Some(write_ca_bundle(&generated.ca_cert)?);
            }
            let app = Application::build(config).await?;
            tracing::info!(
                port = app.port(),
                https = app.is_https(),
                "tfmirror is serving the network mirror protocol"
            );
            print!("{}", next_steps(&app, ca_bundle.as_deref()));
            app.run_until_stopped().await?;
            Ok(0)
        }
        Command::CopyDb { to } => copy_db(&config, &to).await,
        Command::Migrate => {
            open_services(&config).await?;
            println!(
                "database {} is up to date",
                crate::startup::database_name(&config)
            );
            Ok(0)
        }
        Command::CheckConfig => {
            println!("configuration is valid; effective settings (secrets masked):");
            println!("{}", config.masked_json());
            Ok(0)
        }
        Command::Import { dir } => {
            let services = open_services(&config).await?;
            let report = crate::import::import_dir(&services.catalog, &dir).await?;
            print!("{}", report.render());
            Ok(if report.rejected.is_empty() { 0 } else { 1 })
        }
        Command::Load {
            file,
            dry_run,
            wait,
        } => load(&config, &file, dry_run, wait).await,
        Command::Jobs { action } => {
            let services = open_services(&config).await?;
            jobs_command(
                &services.db,
                action.unwrap_or(JobsAction::List { limit: 20 }),
            )
            .await
        }
        Command::CreateAdmin { username } => create_admin(&config, &username).await,
        Command::Export {
            out, definitions, ..
        } => export_bundle(&config, &out, definitions.as_deref()).await,
        Command::ImportBundle { file, trusted_keys } => {
            import_bundle(&config, &file, &trusted_keys).await
        }
        Command::SigningKey => {
            let services = open_services(&config).await?;
            let (key, _) = crate::startup::shared_keys(&config, &services.db).await?;
            print!("{}", key.armored_public);
            Ok(0)
        }
        Command::Verify => {
            let services = open_services(&config).await?;
            let report = crate::integrity::verify(&services.db, &services.catalog).await?;
            print!("{}", report.render());
            Ok(if report.is_clean() { 0 } else { 1 })
        }
        Command::Worker => {
            let services = open_services(&config).await?;
            let registry = Arc::new(RegistryClient::new(&config)?);
            let fetcher = crate::startup::fetcher(&config, &services.catalog, &registry);
            let modules = Arc::new(crate::module_fetch::ModuleFetcher::new(
                &config,
                services.catalog.clone(),
                registry.clone(),
            ));
            let handle = Worker::new(&config, services.db.clone(), fetcher, modules).spawn();
            crate::startup::shutdown_signal().await;
            tracing::info!("stopping the worker");
            handle.shutdown().await;
            Ok(0)
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
            let services = open_services(&config).await?;
            let detail = file.display().to_string();
            let outcome = services
                .catalog
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
        Command::Lock {
            dir,
            mirror,
            platforms,
            upgrade,
        } => lock_configuration(&dir, &mirror, &platforms, upgrade).await,
        Command::AddModule {
            hostname,
            namespace,
            name,
            system,
            version,
            file,
        } => {
            let address = crate::domain::ModuleAddress::new(&hostname, &namespace, &name, &system)?;
            let version = Version::parse(&version)?;
            if !std::fs::metadata(&file)
                .with_context(|| format!("reading {}", file.display()))?
                .is_file()
            {
                anyhow::bail!("{} is not a regular file", file.display());
            }
            let services = open_services(&config).await?;
            let registry = Arc::new(RegistryClient::new(&config)?);
            let fetcher = crate::module_fetch::ModuleFetcher::new(
                &config,
                services.catalog.clone(),
                registry,
            );
            let by = format!("cli {}", file.display());
            match fetcher.ingest_upload(&address, &version, &file, &by).await {
                Ok(crate::db::modules::Recorded::Added) => {
                    let stored = crate::db::modules::find_version(&services.db, &address, &version)
                        .await?
                        .context("the stored version vanished")?;
                    println!(
                        "stored module {address} {version}: {} files, {} bytes, {}, sha256 {}",
                        stored.files, stored.size, stored.h1, stored.sha256
                    );
                    Ok(0)
                }
                Ok(crate::db::modules::Recorded::AlreadyPresent) => {
                    println!("module {address} {version} is already stored with this content");
                    Ok(0)
                }
                Ok(crate::db::modules::Recorded::Conflict { stored_h1, .. }) => {
                    eprintln!(
                        "refused: module {address} {version} is stored with other content ({stored_h1}); a stored version never changes"
                    );
                    Ok(1)
                }
                Err(e @ crate::module_fetch::ModuleError::Refused { .. }) => {
                    eprintln!("refused: {e}");
                    Ok(1)
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

async fn load(config: &Config, file: &Path, dry_run: bool, wait: bool) -> anyhow::Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let registry = RegistryClient::new(config)?;
    let defs = match crate::jobs::validate(&text, &registry) {
        Ok(d) => d,
        Err(invalid) => {
            let errors = invalid.problems();
            for e in errors.iter() {
                eprintln!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message);
            }
            eprintln!("{}; nothing was enqueued", errors.summary());
            return Ok(2);
        }
    };
    let plan = crate::jobs::plan(&registry, &defs).await?;
    print!("{}", plan.render());
    if dry_run {
        println!("dry run: nothing was enqueued");
        return Ok(0);
    }
    let services = open_services(config).await?;
    let pool = &services.db;
    let job = crate::jobs::enqueue(pool, &text, "cli", &plan).await?;
    println!("enqueued job {job}");
    if !wait {
        return Ok(0);
    }
    loop {
        let Some(s) = db::jobs::job_summary(pool, job).await? else {
            anyhow::bail!("job {job} disappeared");
        };
        let done = s.succeeded + s.skipped + s.failed + s.cancelled_items;
        let width = 30usize;
        let filled = if s.total > 0 {
            (done as usize * width) / s.total as usize
        } else {
            width
        };
        eprint!(
            "\r[{}{}] {done}/{} items, {} MiB, {} failed   ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            s.total,
            s.bytes_done >> 20,
            s.failed
        );
        if s.is_finished() {
            eprintln!();
            print_job(pool, job).await?;
            return Ok(if s.failed + s.cancelled_items > 0 {
                1
            } else {
                0
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

/// `tfmirror copy-db --to URL`.
async fn copy_db(config: &Config, to: &str) -> anyhow::Result<i32> {
    if config.database.is_postgres() {
        anyhow::bail!(crate::db::copy::CopyError::SourceNotSqlite);
    }
    if !crate::config::is_postgres_url(to) {
        anyhow::bail!(crate::db::copy::CopyError::TargetNotPostgres);
    }
    let services = open_services(config).await?;
    let mut target_config = config.clone();
    target_config.database.url = crate::config::Secret::new(to);
    target_config.database.path = None;
    let target = db::open(&target_config).await.with_context(|| {
        format!(
            "connecting to {}",
            crate::startup::database_name(&target_config)
        )
    })?;
    db::migrate(&target)
        .await
        .context("creating the schema in the target database")?;
    // The generated secrets travel too: sessions stay valid and the mirror keeps its key.
    let mut secrets = Vec::new();
    if config.auth.jwt_secret.is_empty()
        && let Some(s) =
            crate::auth::Keys::local_secret(config).and_then(|s| String::from_utf8(s).ok())
    {
        secrets.push(("jwt_secret", s));
    }
    let key_file = config.data_dir.join("signing-key.asc");
    if config.registry.signing_key_file.is_none() && key_file.exists() {
        secrets.push((
            "signing_key",
            std::fs::read_to_string(&key_file)
                .with_context(|| format!("reading {}", key_file.display()))?,
        ));
    }
    let report = db::copy::sqlite_to_postgres(&services.db, &target, &secrets).await?;
    println!(
        "copied {} into {}:",
        crate::startup::database_name(config),
        crate::startup::database_name(&target_config)
    );
    for (table, rows) in report {
        println!("  {table:<24} {rows:>9} rows");
    }
    println!("every count matches; point the replicas at it with database.url (TFM_DATABASE_URL)");
    Ok(0)
}

async fn jobs_command(pool: &db::Pool, action: JobsAction) -> anyhow::Result<i32> {
    match action {
        JobsAction::List { limit } => {
            println!(
                "{:>6}  {:<10} {:>7} {:>9} {:>7} {:>6} {:>9}  created",
                "job", "status", "items", "succeeded", "skipped", "failed", "cancelled"
            );
            for j in db::jobs::list_jobs(pool, limit).await? {
                println!(
                    "{:>6}  {:<10} {:>7} {:>9} {:>7} {:>6} {:>9}  {} by {}",
                    j.id,
                    j.status,
                    j.total,
                    j.succeeded,
                    j.skipped,
                    j.failed,
                    j.cancelled_items,
                    j.created_at,
                    j.created_by
                );
            }
            Ok(0)
        }
        JobsAction::Show { id } => print_job(pool, id).await,
        JobsAction::Cancel { id } => {
            if !db::jobs::cancel_job(pool, id).await? {
                eprintln!("no job {id}");
                return Ok(1);
            }
            println!("job {id} cancelled");
            Ok(0)
        }
        JobsAction::Retry { id } => {
            let n = db::jobs::retry_failed(pool, id).await?;
            println!("job {id}: {n} item(s) queued again");
            Ok(0)
        }
    }
}

async fn print_job(pool: &db::Pool, id: i64) -> anyhow::Result<i32> {
    let Some(s) = db::jobs::job_summary(pool, id).await? else {
        eprintln!("no job {id}");
        return Ok(1);
    };
    println!(
        "job {id}: {} ({} items: {} succeeded, {} skipped, {} failed, {} cancelled, {} pending, {} running)",
        s.status,
        s.total,
        s.succeeded,
        s.skipped,
        s.failed,
        s.cancelled_items,
        s.pending,
        s.running
    );
    for i in db::jobs::job_items(pool, id).await? {
        let bytes = match i.bytes_total {
            Some(t) if t > 0 => format!("{}/{} KiB", i.bytes_done >> 10, t >> 10),
            _ => format!("{} KiB", i.bytes_done >> 10),
        };
        println!(
            "  {:<9} {}/{}/{} {} {}_{}  attempts={} {}{}",
            i.status,
            i.hostname,
            i.namespace,
            i.provider_type,
            i.version,
            i.os,
            i.arch,
            i.attempts,
            bytes,
            i.last_error
                .map(|e| format!("  error: {e}"))
                .unwrap_or_default()
        );
    }
    Ok(0)
}

/// Prints what a Terraform user needs to trust and use this server.
/// The system CA bundle plus the generated CA, for `SSL_CERT_FILE`.
fn write_ca_bundle(ca_cert: &Path) -> anyhow::Result<PathBuf> {
    let bundle = ca_cert.with_file_name("ca-bundle.pem");
    let mut pem = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    pem.push_str(&std::fs::read_to_string(ca_cert).context("reading generated CA")?);
    std::fs::write(&bundle, pem)?;
    Ok(std::fs::canonicalize(&bundle)?)
}

/// What a newcomer does next, in order: the UI, the first admin, the client configuration.
/// Printed on standard output (the setup link is a secret: it never goes to the log).
pub fn next_steps(app: &Application, ca_bundle: Option<&Path>) -> String {
    let base = app.base_url();
    let mut out = format!("\ntfmirror is running at {base}\n\n1. The admin UI: {base}ui/\n");
    match app.setup_link() {
        Some(link) => out.push_str(&format!(
            "2. Create the first admin: open\n     {link}\n   (valid for {} minutes, once), or run `tfmirror create-admin --username NAME`.\n",
            crate::auth::SETUP_LINK_MINUTES
        )),
        None => out.push_str("2. Log in with an admin account (`tfmirror create-admin` makes more).\n"),
    }
    if base.starts_with("https://") {
        out.push_str(&format!(
            "3. Point Terraform or OpenTofu at the mirror in ~/.terraformrc (or ~/.tofurc):\n\n\
             provider_installation {{\n  network_mirror {{\n    url = \"{base}\"\n  }}\n}}\n"
        ));
        if let Some(bundle) = ca_bundle {
            out.push_str(&format!(
                "\n   and trust the local CA in the shell that runs terraform:\n   export SSL_CERT_FILE={}\n",
                bundle.display()
            ));
        }
    } else {
        out.push_str(
            "3. Terraform and OpenTofu refuse mirrors over plain HTTP. Serve HTTPS (`server.tls`, \
             or `tfmirror serve --self-signed-tls`), or behind a TLS-terminating proxy set \
             `server.public_url` (`--public-url`, TFM_PUBLIC_URL) to its https:// address; the \
             UI's \"Use this mirror\" page then shows the `.terraformrc` block.\n",
        );
    }
    out
}

async fn create_admin(config: &Config, username: &str) -> anyhow::Result<i32> {
    use crate::auth::password;
    if !crate::domain::valid_username(username) {
        eprintln!("error: username must be 1 to 64 letters, digits, '.', '_', '-' or '@'");
        return Ok(2);
    }
    let secret = match std::env::var("TFM_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            eprintln!(
                "password for {username} (at least {} characters):",
                password::MIN_LENGTH
            );
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    if let Err(why) = password::check_strength(&secret) {
        eprintln!("error: {why}");
        return Ok(2);
    }
    let services = open_services(config).await?;
    let hash = password::hash(secret).await?;
    match crate::db::users::create_user(
        &services.db,
        username,
        &hash,
        Role::Admin,
        crate::clock::now(),
    )
    .await?
    {
        Some(user) => {
            crate::db::audit::record(
                &services.db,
                "cli",
                "user.create",
                Some(&format!("user:{}", user.username)),
                None,
                &serde_json::json!({ "role": "admin" }),
            )
            .await?;
            println!("created admin user {}", user.username);
            Ok(0)
        }
        None => {
            eprintln!("error: user {username} already exists");
            Ok(1)
        }
    }
}

/// How many module directories `tfmirror lock` follows: a bound, not a limit anyone meets.
const MAX_MODULE_DIRS: usize = 1000;

/// Every provider a configuration and its local modules require, with every constraint.
fn gather_requirements(dir: &Path) -> anyhow::Result<Vec<(ProviderAddress, Vec<String>)>> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("reading {}", dir.display()))?;
    let mut queue = vec![root];
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut out: Vec<(ProviderAddress, Vec<String>)> = Vec::new();
    while let Some(dir) = queue.pop() {
        if seen.contains(&dir) {
            continue;
        }
        if seen.len() >= MAX_MODULE_DIRS {
            anyhow::bail!("more than {MAX_MODULE_DIRS} local module directories");
        }
        seen.push(dir.clone());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tf") && p.is_file())
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let found = crate::tfconfig::read(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            for r in found.providers {
                let slot = match out.iter_mut().position(|(a, _)| *a == r.address) {
                    Some(i) => &mut out[i].1,
                    None => {
                        out.push((r.address.clone(), Vec::new()));
                        &mut out.last_mut().expect("just pushed").1
                    }
                };
                slot.extend(r.version);
            }
            for source in found.local_modules {
                let module = dir.join(&source);
                let module = module
                    .canonicalize()
                    .with_context(|| format!("{}: module {source}", file.display()))?;
                queue.push(module);
            }
        }
    }
    Ok(out)
}

/// `tfmirror lock`: asks the mirror for the lock file and writes it beside the configuration.
async fn lock_configuration(
    dir: &Path,
    mirror: &str,
    platforms: &[String],
    upgrade: bool,
) -> anyhow::Result<i32> {
    let providers = gather_requirements(dir)?;
    if providers.is_empty() {
        eprintln!(
            "error: no required_providers in {} or its local modules",
            dir.display()
        );
        return Ok(1);
    }
    let lock_path = dir.join(".terraform.lock.hcl");
    let existing = match std::fs::read_to_string(&lock_path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", lock_path.display())),
    };
    let url = format!("{}/v1/lock", mirror.trim_end_matches('/'));
    // Platforms the mirror does not store yet are fetched from their origin first: a large
    // provider on several platforms takes minutes.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3600))
        .build()?;
    let token = std::env::var("TFM_TOKEN").ok();
    let shown = if platforms.is_empty() {
        "every platform".to_owned()
    } else {
        platforms.join(", ")
    };
    eprintln!(
        "locking {} provider(s) for {shown} through {mirror}",
        providers.len()
    );
    let started = std::time::Instant::now();
    let tty = {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal()
    };
    let mut locks = Vec::with_capacity(providers.len());
    // One request per provider, so the display can say which one the mirror is working on
    // (the file is the same: Terraform's order is by address, whatever the requests').
    for (i, (address, constraints)) in providers.iter().enumerate() {
        let step = format!("[{}/{}] {address}", i + 1, providers.len());
        let body = serde_json::json!({
            "providers": [{"source": address.to_string(), "constraints": constraints}],
            "platforms": platforms,
            "lock_file": existing,
            "upgrade": upgrade,
        });
        let mut request = client.post(&url).json(&body);
        if let Some(token) = &token {
            request = request.bearer_auth(token.trim());
        }
        let asked = std::time::Instant::now();
        let ticker = {
            let step = step.clone();
            if !tty {
                eprintln!("{step}");
            }
            tokio::spawn(async move {
                if !tty {
                    return;
                }
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    eprint!(
                        "\r{step}: waiting for the mirror (it fetches what it does not store yet): {} s ",
                        asked.elapsed().as_secs()
                    );
                }
            })
        };
        let response = request.send().await;
        ticker.abort();
        let response = response.with_context(|| format!("POST {url}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("POST {url}"))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or(text);
            eprintln!("\nerror: the mirror answered {status}: {message}");
            eprintln!("{} is unchanged", lock_path.display());
            return Ok(1);
        }
        let got = crate::lockfile::parse(&text)
            .map_err(|e| anyhow::anyhow!("the mirror's lock file does not read: {e}"))?;
        for lock in &got {
            let h1 = lock.hashes.iter().filter(|h| h.starts_with("h1:")).count();
            let zh = lock.hashes.len() - h1;
            if tty {
                // The waiting line goes before the result takes its place.
                eprint!("\r\x1b[K");
            }
            println!(
                "{} {}: {h1} h1:, {zh} zh: ({:.1} s)",
                lock.address,
                lock.version,
                asked.elapsed().as_secs_f64()
            );
        }
        locks.extend(got);
    }
    let text = crate::lockfile::render(&locks);
    let tmp = dir.join(".terraform.lock.hcl.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &lock_path)
        .with_context(|| format!("writing {}", lock_path.display()))?;
    println!(
        "wrote {} in {:.1} s",
        lock_path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Progress of a bundle on standard error: a line redrawn in place on a terminal, a line
/// per tenth otherwise.
struct BundleProgress {
    verb: &'static str,
    tty: bool,
    last_tenth: std::sync::atomic::AtomicU64,
}

impl BundleProgress {
    fn new(verb: &'static str) -> Self {
        use std::io::IsTerminal;
        Self {
            verb,
            tty: std::io::stderr().is_terminal(),
            last_tenth: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl crate::bundle::Progress for BundleProgress {
    fn advance(&self, done: usize, entries: usize, bytes_done: u64, bytes: u64) {
        let line = format!(
            "{} {done}/{entries} entries, {} / {} MiB",
            self.verb,
            bytes_done >> 20,
            bytes >> 20
        );
        if self.tty {
            eprint!("\r{line}   ");
            if done == entries {
                eprintln!();
            }
        } else {
            let tenth = (bytes_done * 10).checked_div(bytes).unwrap_or(10);
            let last = self
                .last_tenth
                .swap(tenth, std::sync::atomic::Ordering::Relaxed);
            if tenth != last || done == entries {
                eprintln!("{line}");
            }
        }
    }
}

/// Exports everything, or what `definitions` lists (clap requires one of `--all` and
/// `--definitions`).
async fn export_bundle(
    config: &Config,
    out: &Path,
    definitions: Option<&Path>,
) -> anyhow::Result<i32> {
    use crate::bundle::Selection;
    let selection = match definitions {
        None => Selection::All,
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            match crate::definitions::parse_definitions(&text) {
                Ok(d) => Selection::Definitions(d),
                Err(problems) => {
                    for e in &problems.listed {
                        eprintln!("{}:{}:{}: {}", file.display(), e.line, e.column, e.message);
                    }
                    eprintln!("{}; nothing was exported", problems.summary());
                    return Ok(2);
                }
            }
        }
    };
    let services = open_services(config).await?;
    let (key, _) = crate::startup::shared_keys(config, &services.db).await?;
    let plan = crate::bundle::plan(&services.db, &selection, &key.key_id).await?;
    for what in &plan.unmatched {
        eprintln!("warning: nothing stored matches {what}");
    }
    if plan.entries.is_empty() {
        eprintln!("error: nothing to export: no stored package or module version matches");
        return Ok(1);
    }
    let partial = out.with_extension("partial");
    let file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let progress = BundleProgress::new("exported");
    let written = crate::bundle::write(
        services.catalog.store().as_ref(),
        &key,
        &plan,
        &mut writer,
        &progress,
    )
    .await;
    let written = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context(format!("writing {}", out.display())));
        }
    };
    writer.into_inner().sync_all().await?;
    std::fs::rename(&partial, out).with_context(|| format!("writing {}", out.display()))?;
    let packages = plan.packages();
    println!(
        "wrote {}: {packages} provider packages ({} versions), {} module versions, {written} bytes, signed by {}",
        out.display(),
        plan.manifest.providers.len(),
        plan.manifest.modules.len(),
        key.key_id
    );
    Ok(0)
}

async fn import_bundle(config: &Config, file: &Path, trusted: &[PathBuf]) -> anyhow::Result<i32> {
    let mut keys = Vec::new();
    for path in trusted {
        keys.push(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the trusted key {}", path.display()))?,
        );
    }
    let reader = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("opening {}", file.display()))?;
    let services = open_services(config).await?;
    let tmp = config.data_dir.join("tmp/bundles");
    let importer = crate::bundle::Importer {
        catalog: &services.catalog,
        tmp_dir: &tmp,
        trusted_keys: &keys,
    };
    let progress = BundleProgress::new("verified");
    match importer
        .import(
            tokio::io::BufReader::with_capacity(1 << 20, reader),
            &progress,
        )
        .await
    {
        Ok(report) => {
            print!("{}", report.render());
            Ok(0)
        }
        Err(crate::bundle::BundleError::Refused { entry, why }) => {
            eprintln!(
                "\nerror: {}: bundle refused at {entry}: {why}",
                file.display()
            );
            eprintln!("nothing from this bundle was imported");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
