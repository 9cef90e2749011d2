//! All SQL lives under this module, so a second database backend touches nothing else.

pub mod audit;
pub mod bundles;
pub mod copy;
pub mod flights;
pub mod jobs;
pub mod modules;
pub mod notify;
pub mod packages;
pub mod providers;
pub mod secrets;
pub mod stats;
pub mod throttle;
mod types;
pub mod users;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseConfig;

/// The metadata database: SQLite (one node, the embedded default) or PostgreSQL (any number
/// of replicas). Every function of this module takes it and runs the same SQL text on either,
/// through [`on_pool!`]; per-dialect SQL exists only where the dialects differ.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool: the body is compiled once per backend,
/// so every query, bind and decode is checked against both.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The database's clock in unix seconds, as SQL: leases compare heartbeats against it, so
/// the clocks of several replicas never matter.
pub(crate) trait Dialect {
    const NOW: &'static str;
}
impl Dialect for sqlx::SqlitePool {
    const NOW: &'static str = "unixepoch()";
}
impl Dialect for sqlx::PgPool {
    const NOW: &'static str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)";
}

/// `Dialect::NOW` of the pool behind a reference (for use inside [`on_pool!`]).
pub(crate) fn now_sql<P: Dialect>(_: &P) -> &'static str {
    P::NOW
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    /// Unique-constraint violations mean "someone stored it first"; callers re-read.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// A query that must return a row found none.
    pub fn is_not_found(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::RowNotFound))
    }

    /// The database refused a value as data (SQLSTATE class 22: on PostgreSQL a NUL
    /// character in text, an out-of-range number): the request's fault, not the server's.
    pub fn is_bad_value(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e))
            if e.code().is_some_and(|c| c.starts_with("22")))
    }

    /// The database did not answer: no connection within the acquire timeout, the
    /// connection broke, or the server is shutting down. Worth a 503 and a retry, not a 500.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            DbError::Sqlx(sqlx::Error::Database(e)) => {
                // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
                // 08* connection exceptions.
                e.code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08"))
            }
            _ => false,
        }
    }
}

/// A transaction that writes, on either backend.
pub(crate) trait WriteTx {
    type Db: sqlx::Database;
    fn write_tx(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, DbError>> + Send;
}

/// SQLite's default (deferred) transaction reads first and asks for the write lock only at
/// its first write, which fails at once, busy timeout or not, when another writer committed
/// in between; taking the lock up front makes concurrent writers wait their turn instead.
impl WriteTx for sqlx::SqlitePool {
    type Db = sqlx::Sqlite;
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, DbError> {
        Ok(self.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// PostgreSQL runs writers concurrently (read committed); the few checks that must see
/// every concurrent writer (the last active admin) take [`serialize`]'s lock.
impl WriteTx for sqlx::PgPool {
    type Db = sqlx::Postgres;
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, DbError> {
        Ok(self.begin().await?)
    }
}

/// The lock that makes checks over all users (the last active admin) see every concurrent
/// writer.
pub(crate) const LOCK_USERS: i64 = 0x7466_6d00_0001;

/// Transaction-scoped named locks: an advisory lock on PostgreSQL; nothing on SQLite, whose
/// write transactions already run one at a time.
pub(crate) trait TxLock {
    fn serialize_on(
        &mut self,
        key: i64,
    ) -> impl std::future::Future<Output = Result<(), DbError>> + Send;
}

impl TxLock for sqlx::Transaction<'static, sqlx::Sqlite> {
    async fn serialize_on(&mut self, _key: i64) -> Result<(), DbError> {
        Ok(())
    }
}

impl TxLock for sqlx::Transaction<'static, sqlx::Postgres> {
    async fn serialize_on(&mut self, key: i64) -> Result<(), DbError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut **self)
            .await?;
        Ok(())
    }
}

/// Opens the database the configuration names: PostgreSQL when `database.url` is set,
/// otherwise the SQLite file.
pub async fn open(config: &crate::config::Config) -> Result<Pool, DbError> {
    if config.database.url.is_empty() {
        connect(&config.database_path(), &config.database).await
    } else {
        connect_postgres(config.database.url.expose(), &config.database).await
    }
}

/// Connects to PostgreSQL. Connections wait at most `acquire_timeout_ms` for the server and
/// every statement at most `statement_timeout_ms`, so a request that needs an unreachable
/// database fails in seconds, never hangs.
pub async fn connect_postgres(url: &str, cfg: &DatabaseConfig) -> Result<Pool, DbError> {
    let opts = PgConnectOptions::from_str(url)?
        .application_name("tfmirror")
        .options([(
            "statement_timeout",
            cfg.statement_timeout_ms.to_string().as_str(),
        )]);
    let pool = PgPoolOptions::new()
        .max_connections(cfg.max_connections)
        .acquire_timeout(Duration::from_millis(cfg.acquire_timeout_ms))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(opts);
    // Fail at start when the server cannot be reached at all (a wrong URL or password),
    // rather than at the first request.
    pool.acquire().await?;
    Ok(Pool::Postgres(pool))
}

/// Opens (creating if needed) the SQLite file with WAL, foreign keys and a busy timeout.
/// A new database, its directory and its `-wal`/`-shm` files are for the owner only: they
/// hold password hashes and API token hashes.
pub async fn connect(path: &Path, cfg: &DatabaseConfig) -> Result<Pool, DbError> {
    let io = |e| DbError::Sqlx(sqlx::Error::Io(e));
    if path.as_os_str() != ":memory:" {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            crate::fsutil::create_private_dir(parent).map_err(io)?;
        }
        crate::fsutil::create_private_file(path).map_err(io)?;
    }
    let opts = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_millis(cfg.busy_timeout_ms));
    Ok(Pool::Sqlite(
        SqlitePoolOptions::new()
            .max_connections(cfg.max_connections)
            .connect_with(opts)
            .await?,
    ))
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Applies pending migrations; safe to run on every start, and from several processes
/// starting at once (replicas on one PostgreSQL, or a server and a worker on a fresh SQLite
/// file): they take turns through sqlx's advisory lock on PostgreSQL and through a file lock
/// beside the SQLite database.
pub async fn migrate(pool: &Pool) -> Result<(), DbError> {
    let pool = match pool {
        Pool::Postgres(pg) => {
            POSTGRES_MIGRATOR.run(pg).await?;
            return Ok(());
        }
        Pool::Sqlite(pool) => pool,
    };
    let db_file = pool.connect_options().get_filename().to_owned();
    let _lock = if db_file.as_os_str() == ":memory:" {
        None
    } else {
        let mut path = db_file.into_os_string();
        path.push(".migrate-lock");
        let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(path)?;
            f.lock()?;
            Ok(f)
        })
        .await
        .map_err(|e| DbError::Sqlx(sqlx::Error::Io(std::io::Error::other(e))))?
        .map_err(|e| DbError::Sqlx(sqlx::Error::Io(e)))?;
        Some(lock)
    };
    SQLITE_MIGRATOR.run(pool).await?;
    Ok(())
}

/// Readiness probe.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query("SELECT 1").execute(p).await.map(drop))?;
    Ok(())
}

/// A name for what one process holds in the database (job leases, pull-through leads):
/// `PID-UUID`, unique per start, with the process id for operators.
pub fn owner_id() -> String {
    format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())
}

impl Pool {
    /// `postgres` or `sqlite`, for logs and `/metrics`.
    pub fn backend(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}
