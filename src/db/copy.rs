//! `tfmirror copy-db`: every row of a SQLite database into an empty PostgreSQL database, ids
//! kept, in one transaction, with the counts checked before it commits.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{DbError, Pool};

#[derive(Clone, Copy)]
enum Col {
    Int,
    Text,
    Blob,
}

use Col::{Blob, Int, Text};

/// Every table in foreign-key order, with its columns (nullable or not, as each type reads
/// `Option`). `_sqlx_migrations` is not copied: the target has its own dialect's.
const TABLES: &[(&str, &[(&str, Col)])] = &[
    (
        "providers",
        &[
            ("id", Int),
            ("hostname", Text),
            ("namespace", Text),
            ("type", Text),
            ("created_at", Text),
        ],
    ),
    (
        "provider_versions",
        &[
            ("id", Int),
            ("provider_id", Int),
            ("version", Text),
            ("status", Text),
            ("created_at", Text),
        ],
    ),
    (
        "packages",
        &[
            ("id", Int),
            ("version_id", Int),
            ("os", Text),
            ("arch", Text),
            ("filename", Text),
            ("size_bytes", Int),
            ("sha256", Text),
            ("h1", Text),
            ("storage_key", Text),
            ("source", Text),
            ("source_detail", Text),
            ("created_at", Text),
            ("signing_key_id", Text),
        ],
    ),
    (
        "version_evidence",
        &[
            ("version_id", Int),
            ("shasums", Text),
            ("shasums_signature", Blob),
            ("signing_key_id", Text),
            ("signing_key_armor", Text),
            ("protocols", Text),
            ("recorded_at", Int),
        ],
    ),
    (
        "upstream_versions_seen",
        &[
            ("hostname", Text),
            ("namespace", Text),
            ("type", Text),
            ("version", Text),
            ("first_seen", Int),
        ],
    ),
    (
        "modules",
        &[
            ("id", Int),
            ("hostname", Text),
            ("namespace", Text),
            ("name", Text),
            ("system", Text),
            ("created_at", Int),
        ],
    ),
    (
        "module_versions",
        &[
            ("id", Int),
            ("module_id", Int),
            ("version", Text),
            ("status", Text),
            ("size_bytes", Int),
            ("sha256", Text),
            ("h1", Text),
            ("files", Int),
            ("storage_key", Text),
            ("subdir", Text),
            ("source", Text),
            ("location", Text),
            ("commit_sha", Text),
            ("created_by", Text),
            ("created_at", Int),
        ],
    ),
    (
        "module_conflicts",
        &[
            ("id", Int),
            ("version_id", Int),
            ("location", Text),
            ("commit_sha", Text),
            ("sha256", Text),
            ("h1", Text),
            ("first_seen", Int),
            ("last_seen", Int),
        ],
    ),
    (
        "jobs",
        &[
            ("id", Int),
            ("source", Text),
            ("created_by", Text),
            ("cancelled", Int),
            ("created_at", Int),
            ("finished_at", Int),
        ],
    ),
    (
        "job_items",
        &[
            ("id", Int),
            ("job_id", Int),
            ("hostname", Text),
            ("namespace", Text),
            ("type", Text),
            ("version", Text),
            ("os", Text),
            ("arch", Text),
            ("status", Text),
            ("attempts", Int),
            ("last_error", Text),
            ("bytes_done", Int),
            ("bytes_total", Int),
            ("next_attempt_at", Int),
            ("heartbeat_at", Int),
            ("started_at", Int),
            ("finished_at", Int),
            ("lease_owner", Text),
            ("kind", Text),
        ],
    ),
    (
        "users",
        &[
            ("id", Int),
            ("username", Text),
            ("password_hash", Text),
            ("role", Text),
            ("disabled", Int),
            ("created_at", Int),
            ("oidc_subject", Text),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Text),
            ("user_id", Int),
            ("created_at", Int),
            ("expires_at", Int),
            ("revoked_at", Int),
            ("client_addr", Text),
        ],
    ),
    (
        "api_tokens",
        &[
            ("id", Int),
            ("name", Text),
            ("role", Text),
            ("token_hash", Text),
            ("created_by", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("last_used_at", Int),
            ("revoked_at", Int),
        ],
    ),
    (
        "audit_log",
        &[
            ("id", Int),
            ("at", Int),
            ("actor", Text),
            ("action", Text),
            ("target", Text),
            ("client_addr", Text),
            ("details", Text),
        ],
    ),
    (
        "download_counts",
        &[("package_id", Int), ("day", Text), ("downloads", Int)],
    ),
    (
        "setup_tokens",
        &[
            ("token_hash", Text),
            ("created_at", Int),
            ("expires_at", Int),
        ],
    ),
    (
        "login_failures",
        &[
            ("key", Text),
            ("failures", Int),
            ("last_failure_ms", Int),
            ("locked_until_ms", Int),
        ],
    ),
    (
        "cluster_secrets",
        &[("name", Text), ("value", Text), ("created_at", Int)],
    ),
];

/// Tables whose `id` is an identity column on PostgreSQL: moved past the copied ids.
const IDENTITY: &[&str] = &[
    "providers",
    "provider_versions",
    "packages",
    "modules",
    "module_versions",
    "module_conflicts",
    "jobs",
    "job_items",
    "users",
    "api_tokens",
    "audit_log",
];

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("copy-db reads a SQLite database: this configuration names PostgreSQL")]
    SourceNotSqlite,
    #[error("copy-db writes to PostgreSQL: --to must be a postgres:// URL")]
    TargetNotPostgres,
    #[error("the target database is not empty: table {0} has rows; copy into a new database")]
    TargetNotEmpty(String),
    #[error(
        "table {table}: {source_rows} rows read but {target_rows} in the target; nothing was committed"
    )]
    CountMismatch {
        table: String,
        source_rows: i64,
        target_rows: i64,
    },
    #[error("table {table}: {error}")]
    Table { table: String, error: DbError },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Copies every row of `from` (SQLite) into `to` (PostgreSQL, migrated and empty), plus the
/// shared secrets given in `secrets` (name, value) so sessions and signatures stay valid.
/// Returns the rows copied per table.
pub async fn sqlite_to_postgres(
    from: &Pool,
    to: &Pool,
    secrets: &[(&str, String)],
) -> Result<Vec<(&'static str, i64)>, CopyError> {
    let Pool::Sqlite(src) = from else {
        return Err(CopyError::SourceNotSqlite);
    };
    let Pool::Postgres(dst) = to else {
        return Err(CopyError::TargetNotPostgres);
    };
    for (table, _) in TABLES {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(dst)
            .await
            .map_err(DbError::from)?;
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty((*table).to_owned()));
        }
    }
    let mut tx = dst.begin().await.map_err(DbError::from)?;
    // One read transaction: a consistent snapshot even while a server still writes.
    let mut snapshot = src.begin().await.map_err(DbError::from)?;
    let mut report = Vec::new();
    for (table, cols) in TABLES {
        let in_table = |error: sqlx::Error| CopyError::Table {
            table: (*table).to_owned(),
            error: error.into(),
        };
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let list = names.join(", ");
        let params: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({list}) VALUES ({})",
            params.join(", ")
        );
        let select = format!("SELECT {list} FROM {table} ORDER BY rowid");
        // Streamed: constant memory however long the audit log.
        let mut rows = sqlx::query(&select).fetch(&mut *snapshot);
        let mut copied = 0i64;
        while let Some(row) = rows.try_next().await.map_err(in_table)? {
            let mut q = sqlx::query(&insert);
            for (i, (_, col)) in cols.iter().enumerate() {
                q = match col {
                    Int => q.bind(row.try_get::<Option<i64>, _>(i).map_err(in_table)?),
                    Text => q.bind(row.try_get::<Option<String>, _>(i).map_err(in_table)?),
                    Blob => q.bind(row.try_get::<Option<Vec<u8>>, _>(i).map_err(in_table)?),
                };
            }
            q.execute(&mut *tx).await.map_err(in_table)?;
            copied += 1;
        }
        report.push((*table, copied));
    }
    for table in IDENTITY {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                           GREATEST(COALESCE(MAX(id), 0), 1), COALESCE(MAX(id), 0) > 0)
             FROM {table}"
        ))
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
    }
    // Every table holds what was read, checked inside the transaction.
    for (table, copied) in &report {
        let source_rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *snapshot)
            .await
            .map_err(DbError::from)?;
        let target_rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *tx)
            .await
            .map_err(DbError::from)?;
        if source_rows != *copied || target_rows != *copied {
            return Err(CopyError::CountMismatch {
                table: (*table).to_owned(),
                source_rows,
                target_rows,
            });
        }
    }
    for (name, value) in secrets {
        sqlx::query(
            "INSERT INTO cluster_secrets (name, value, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .bind(crate::clock::now())
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
    }
    tx.commit().await.map_err(DbError::from)?;
    Ok(report)
}
