//! Builds the application once: database, storage, catalog, then the HTTP server bound to
//! its listener. `Application::build` binds before returning, so tests can ask for port 0
//! and read the real port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use sha2::Digest;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::jobs::worker::{Worker, WorkerHandle};
use crate::metrics::Metrics;
use crate::pull::PullThrough;
use crate::state::AppState;
use crate::upstream::RegistryClient;
use crate::{db, storage, tls};

pub struct Application {
    port: u16,
    https: bool,
    /// The secret of the setup link, while no admin exists.
    setup_token: Option<String>,
    server: Server,
    state: AppState,
    worker: Option<WorkerHandle>,
}

/// What every command that touches packages needs: the database, the process's metrics and
/// the catalog over the blob store.
pub struct Services {
    pub db: db::Pool,
    pub metrics: Arc<Metrics>,
    pub catalog: Arc<Catalog>,
}

/// Opens the database (migrating it) and the blob store: everything but the HTTP server.
pub async fn open_services(config: &Config) -> anyhow::Result<Services> {
    // The data directory holds the database and the secrets: private when we create it.
    crate::fsutil::create_private_dir(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let pool = db::open(config)
        .await
        .with_context(|| format!("opening database {}", database_name(config)))?;
    db::migrate(&pool)
        .await
        .context("applying database migrations")?;
    let store = storage::from_config(config)
        .await
        .context("opening blob storage")?;
    let metrics = Arc::new(Metrics::default());
    let catalog = Arc::new(Catalog::new(config, pool.clone(), store, metrics.clone()));
    Ok(Services {
        db: pool,
        metrics,
        catalog,
    })
}

/// The database for messages: the SQLite file, or the PostgreSQL server and database
/// without credentials.
pub fn database_name(config: &Config) -> String {
    if config.database.is_postgres() {
        match url::Url::parse(config.database.url.expose()) {
            Ok(u) => format!(
                "postgres://{}:{}{}",
                u.host_str().unwrap_or(""),
                u.port().unwrap_or(5432),
                u.path()
            ),
            Err(_) => "(the PostgreSQL URL does not parse)".into(),
        }
    } else {
        config.database_path().display().to_string()
    }
}

/// The mirror's signing key and the session keys. On SQLite they are files in the data
/// directory (or configured). On PostgreSQL every replica must use the same ones: generated
/// keys are kept in the database (the first replica to start stores its own, or the data
/// directory's from before the move), and configured ones are compared by fingerprint, so
/// replicas configured differently refuse to start rather than reject each other's sessions.
pub(crate) async fn shared_keys(
    config: &Config,
    pool: &db::Pool,
) -> anyhow::Result<(crate::signing::MirrorKey, crate::auth::Keys)> {
    use crate::auth::Keys;
    use crate::signing::MirrorKey;
    if !config.database.is_postgres() {
        return Ok((
            MirrorKey::load_or_generate(config).context("loading the mirror's signing key")?,
            Keys::load_or_generate(config).context("loading the session signing secret")?,
        ));
    }
    let signing_key = if config.registry.signing_key_file.is_some() {
        let key =
            MirrorKey::load_or_generate(config).context("loading the mirror's signing key")?;
        agree(pool, "registry.signing_key_file", &key.key_id).await?;
        key
    } else {
        let armor = match db::secrets::get(pool, "signing_key").await? {
            Some(a) => a,
            None => {
                let mine = MirrorKey::local_or_new_armor(config)?;
                db::secrets::insert_or_get(pool, "signing_key", &mine).await?
            }
        };
        MirrorKey::from_armor(&armor)?
    };
    let secret = if config.auth.jwt_secret.is_empty() {
        let mine = Keys::local_secret(config)
            .and_then(|s| String::from_utf8(s).ok())
            .unwrap_or_else(Keys::new_secret);
        db::secrets::insert_or_get(pool, "jwt_secret", &mine).await?
    } else {
        let secret = config.auth.jwt_secret.expose();
        agree(
            pool,
            "auth.jwt_secret",
            &hex::encode(sha2::Sha256::digest(secret)),
        )
        .await?;
        secret.to_owned()
    };
    Ok((signing_key, Keys::from_secret(config, secret.as_bytes())))
}

/// Records the fingerprint of a configured secret, or checks it against the one the first
/// replica recorded.
async fn agree(pool: &db::Pool, what: &str, fingerprint: &str) -> anyhow::Result<()> {
    let name = format!("{what} fingerprint");
    let stored = db::secrets::insert_or_get(pool, &name, fingerprint).await?;
    if stored != fingerprint {
        anyhow::bail!(
            "{what} differs from the one the other replicas on this database use: give every \
             replica the same {what}"
        );
    }
    Ok(())
}

/// On PostgreSQL: hears what the other replicas change and acts on it here: a provider's
/// cached documents are dropped, new work wakes the worker, and after a lost connection
/// (notifications may have been missed) every cached document is dropped. The metadata
/// TTL stays the backstop.
fn spawn_change_listener(state: &AppState, worker: Option<Arc<Worker>>) {
    use crate::db::notify::{Change, Listener};
    if !matches!(state.db, db::Pool::Postgres(_)) {
        return;
    }
    let pool = state.db.clone();
    let catalog = state.catalog.clone();
    tokio::spawn(async move {
        let mut connected_before = false;
        loop {
            let mut listener = match Listener::connect(&pool).await {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for other replicas' changes; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if connected_before {
                // Changes made while the connection was down were never heard.
                tracing::info!("listening for other replicas' changes again; caches dropped");
                catalog.invalidate_all();
                if let Some(w) = &worker {
                    w.wake();
                }
            }
            connected_before = true;
            loop {
                match listener.recv().await {
                    Ok(Change::Jobs) => {
                        if let Some(w) = &worker {
                            w.wake();
                        }
                    }
                    Ok(Change::Provider(address)) => catalog.invalidate_local(&address).await,
                    Ok(Change::Module(address)) => {
                        catalog.invalidate_module_local(&address).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the other replicas' changes; reconnecting");
                        break;
                    }
                }
            }
        }
    });
}

/// Says at start which origins may be contacted, or that none will be.
fn log_upstreams(config: &Config) {
    if config.offline {
        if config.offline_ignored.is_empty() {
            tracing::info!("offline: no outbound request is made; no upstream is contacted");
        } else {
            tracing::warn!(
                ignored = %config.offline_ignored.join(", "),
                "offline: no outbound request is made; these upstream blocks are ignored"
            );
        }
        return;
    }
    let active: Vec<String> = config
        .upstream
        .iter()
        .map(|(host, up)| {
            let url = crate::config::mask_url_credentials(&up.api_base(host));
            let mode = if up.pull_through {
                "pull-through"
            } else {
                "definitions only"
            };
            let unsigned = if up.allow_unsigned {
                ", unsigned allowed"
            } else {
                ""
            };
            format!("{host} ({url}, {mode}{unsigned})")
        })
        .collect();
    if active.is_empty() {
        tracing::info!("no upstream is configured: serving stored packages only");
    } else {
        tracing::info!(upstreams = %active.join("; "), "active upstreams");
    }
}

/// The verified-fetch pipeline that the worker and pull-through share.
pub fn fetcher(
    config: &Config,
    catalog: &Arc<Catalog>,
    registry: &Arc<RegistryClient>,
) -> Arc<Fetcher> {
    Arc::new(Fetcher::new(
        catalog.clone(),
        registry.clone(),
        config.limits.max_archive_bytes,
        config.metadata_ttl(),
    ))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let Services {
            db,
            metrics,
            catalog,
        } = open_services(&config).await?;
        let registry =
            Arc::new(RegistryClient::new(&config).context("configuring upstream registries")?);
        let config = Arc::new(config);
        let fetcher = fetcher(&config, &catalog, &registry);
        let pull = Arc::new(PullThrough::new(
            config.clone(),
            db.clone(),
            fetcher.clone(),
        ));
        pull.clear_spool()
            .context("clearing the pull-through spool directory")?;
        let module_fetcher = Arc::new(crate::module_fetch::ModuleFetcher::new(
            &config,
            catalog.clone(),
            registry.clone(),
        ));
        module_fetcher
            .clear_tmp()
            .context("clearing the module work directory")?;
        let modules = Arc::new(crate::pull::modules::ModulePull::new(
            config.clone(),
            module_fetcher,
        ));
        let (signing_key, auth_keys) = shared_keys(&config, &db).await?;
        let (signing_key, auth_keys) = (Arc::new(signing_key), Arc::new(auth_keys));
        let throttle = Arc::new(crate::auth::throttle::Throttle::new(&config.auth));
        let oidc = match &config.auth.oidc {
            Some(o) => {
                // The provider's endpoints answer directly: no redirects followed.
                let http = crate::upstream::outbound_client(&config)?
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .context("configuring the OpenID Connect client")?;
                tracing::info!(issuer = %o.issuer, "single sign-on through OpenID Connect");
                Some(Arc::new(crate::auth::oidc::Oidc::new(o.clone(), http)))
            }
            None => None,
        };
        let state = AppState {
            config,
            db,
            metrics,
            catalog,
            registry,
            pull,
            modules,
            signing_key,
            auth_keys,
            throttle,
            downloads: Default::default(),
            oidc,
        };
        let config = &state.config;
        let listener = TcpListener::bind(&config.server.listen)
            .with_context(|| format!("binding {}", config.server.listen))?;
        let port = listener.local_addr()?.port();

        let data = web::Data::new(state.clone());
        let json_limit = config.limits.max_json_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::http::body_deadline::body_deadline,
                ))
                .wrap(actix_web::middleware::from_fn(
                    crate::http::observe::observe,
                ))
                .app_data(data.clone())
                .configure(|cfg| crate::http::configure(cfg, json_limit))
        })
        .shutdown_timeout(config.server.shutdown_grace_seconds)
        // Signals are ours: the worker must stop claiming as soon as one arrives.
        .disable_signals()
        .client_request_timeout(Duration::from_secs(30));
        if config.server.workers > 0 {
            server = server.workers(config.server.workers);
        }
        let https = config.server.tls.is_some();
        let server = match &config.server.tls {
            Some(t) => server
                .listen_rustls_0_23(listener, tls::server_config(&t.cert_file, &t.key_file)?)?,
            None => server.listen(listener)?,
        }
        .run();
        // Download counts reach the database every few seconds, not on every request.
        let flusher = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                if let Err(e) = flusher.downloads.flush(&flusher.db).await {
                    tracing::warn!(error = %e, "could not record download counts");
                }
            }
        });
        log_upstreams(config);
        // While no admin exists, a one-time link creates the first (printed by `serve` on
        // standard output, never logged).
        let setup_token = if db::users::count_admins(&state.db).await? == 0 {
            let secret = crate::auth::new_setup_secret();
            let now = crate::clock::now();
            db::users::create_setup_token(
                &state.db,
                &crate::auth::token_hash(&secret),
                now,
                now + crate::auth::SETUP_LINK_MINUTES * 60,
            )
            .await
            .context("recording the setup link")?;
            tracing::warn!(
                "no admin user exists: open the setup link printed on standard output, or run \
                 `tfmirror create-admin --username NAME`"
            );
            Some(secret)
        } else {
            None
        };
        // Blobs a crash left without a row, once they are surely not an ingest in progress.
        let collector = state.clone();
        tokio::spawn(async move {
            match crate::integrity::collect_orphans(&collector.db, &collector.catalog).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(blobs = n, "deleted blobs no package references"),
                Err(e) => tracing::warn!(error = %e, "could not collect unreferenced blobs"),
            }
        });
        // The worker starts once, here, never inside the per-thread app factory.
        let worker = config.worker.enabled.then(|| {
            Worker::new(
                config,
                state.db.clone(),
                fetcher,
                state.modules.fetcher().clone(),
            )
            .spawn()
        });
        spawn_change_listener(&state, worker.as_ref().map(WorkerHandle::waker));
        Ok(Self {
            port,
            https,
            setup_token,
            server,
            state,
            worker,
        })
    }

    /// Wakes the worker (a job was enqueued in this process).
    pub fn wake_worker(&self) {
        if let Some(w) = &self.worker {
            w.wake();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Where users reach the mirror: `server.public_url`, else this listener (`localhost`
    /// for a loopback or unspecified address), with a trailing slash.
    pub fn base_url(&self) -> String {
        if let Some(base) = self.state.config.public_base() {
            return base;
        }
        let scheme = if self.https { "https" } else { "http" };
        let host = match self
            .state
            .config
            .server
            .listen
            .parse::<std::net::SocketAddr>()
        {
            Ok(a) if a.ip().is_unspecified() || a.ip().is_loopback() => "localhost".to_owned(),
            Ok(std::net::SocketAddr::V6(a)) => format!("[{}]", a.ip()),
            Ok(a) => a.ip().to_string(),
            Err(_) => "localhost".to_owned(),
        };
        format!("{scheme}://{host}:{}/", self.port)
    }

    /// The one-time link that creates the first admin, while none exists.
    pub fn setup_link(&self) -> Option<String> {
        self.setup_token
            .as_ref()
            .map(|t| format!("{}ui/setup#token={t}", self.base_url()))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or SIGINT (or until the server stops). On a signal: the worker
    /// stops claiming items at once and aborts the running ones (they stay `running`, and the
    /// next start redoes them); the server stops accepting connections and lets in-flight
    /// requests (archive downloads included) finish within `server.shutdown_grace_seconds`.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            state,
            worker,
            ..
        } = self;
        let handle = server.handle();
        let mut serving = tokio::spawn(server);
        let mut worker = worker;
        let result = tokio::select! {
            r = &mut serving => r,
            _ = shutdown_signal() => {
                tracing::info!(
                    grace_seconds = state.config.server.shutdown_grace_seconds,
                    "shutting down: no new connections or job items; in-flight requests may finish"
                );
                if let Some(w) = worker.take() {
                    w.shutdown().await;
                }
                handle.stop(true).await;
                serving.await
            }
        };
        if let Some(w) = worker {
            w.shutdown().await;
        }
        if let Err(e) = state.downloads.flush(&state.db).await {
            tracing::warn!(error = %e, "could not record download counts");
        }
        tracing::info!("stopped");
        result.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
