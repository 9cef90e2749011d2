//! All SQL lives under this module, so a second database backend touches nothing else.

pub mod audit;
pub mod jobs;
pub mod packages;
pub mod providers;
pub mod stats;
mod types;
pub mod users;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::config::DatabaseConfig;

pub type Pool = sqlx::SqlitePool;

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
}

/// Starts a transaction that writes. SQLite's default (deferred) transaction reads first and
/// asks for the write lock only at its first write, which fails at once, busy timeout or
/// not, when another writer committed in between; taking the lock up front makes concurrent
/// writers wait their turn instead.
pub async fn write_tx(pool: &Pool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, DbError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
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
    Ok(SqlitePoolOptions::new()
        .max_connections(cfg.max_connections)
        .connect_with(opts)
        .await?)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Applies pending migrations; safe to run on every start, and from several processes
/// starting at once (a server and a worker on a fresh database): they take turns through an
/// advisory lock on a file beside the database.
pub async fn migrate(pool: &Pool) -> Result<(), DbError> {
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
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Readiness probe.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}
