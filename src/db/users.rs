//! Admin users, their sessions, and API tokens.

use serde::Serialize;

use super::{DbError, Pool, TxLock, WriteTx, on_pool};
use crate::domain::Role;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    #[sqlx(skip)]
    pub revoked: bool,
    #[serde(skip)]
    pub revoked_at: Option<i64>,
}

const USER_COLUMNS: &str = "id, username, role, disabled != 0 AS disabled, created_at";

pub async fn count_admins(pool: &Pool) -> Result<i64, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_scalar(COUNT_ADMINS)
            .fetch_one(p).await?))
}

/// Creates a user; `Ok(None)` when the name is taken.
pub async fn create_user(
    pool: &Pool,
    username: &str,
    password_hash: &str,
    role: Role,
    now: i64,
) -> Result<Option<User>, DbError> {
    let id: Option<i64> = on_pool!(pool, p => sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .bind(now)
    .fetch_optional(p).await?);
    match id {
        Some(id) => get_user(pool, id).await,
        None => Ok(None),
    }
}

pub async fn get_user(pool: &Pool, id: i64) -> Result<Option<User>, DbError> {
    Ok(
        on_pool!(pool, p => sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(p).await?),
    )
}

pub async fn list_users(pool: &Pool) -> Result<Vec<User>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY username"
    ))
    .fetch_all(p).await?))
}

pub async fn credentials(pool: &Pool, username: &str) -> Result<Option<Credentials>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(
        "SELECT id, username, password_hash, role, disabled != 0 AS disabled
         FROM users WHERE lower(username) = lower($1)",
    )
    .bind(username)
    .fetch_optional(p).await?))
}

/// What [`update_user`] did.
#[derive(Debug)]
pub enum UserUpdate {
    Updated(User),
    NoSuchUser,
    /// The change would have left no active admin; nothing changed.
    LastAdmin,
}

/// Changes role and/or disabled flag; disabling revokes the user's sessions. The check that
/// an active admin remains runs inside the same transaction as the change, after it, so two
/// admins disabling each other at once cannot both succeed.
pub async fn update_user(
    pool: &Pool,
    id: i64,
    role: Option<Role>,
    disabled: Option<bool>,
    now: i64,
) -> Result<UserUpdate, DbError> {
    let last_admin = on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        tx.serialize_on(super::LOCK_USERS).await?;
        if let Some(role) = role {
            sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                .bind(role)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(disabled) = disabled {
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(i64::from(disabled))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if disabled {
                sqlx::query(REVOKE_SESSIONS)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let admins: i64 = sqlx::query_scalar(COUNT_ADMINS).fetch_one(&mut *tx).await?;
        if admins == 0 {
            tx.rollback().await?;
            true
        } else {
            tx.commit().await?;
            false
        }
    });
    if last_admin {
        return Ok(UserUpdate::LastAdmin);
    }
    Ok(match get_user(pool, id).await? {
        Some(user) => UserUpdate::Updated(user),
        None => UserUpdate::NoSuchUser,
    })
}

/// Sets a new password hash and ends every session of the user; false if no such user.
pub async fn set_password(
    pool: &Pool,
    id: i64,
    password_hash: &str,
    now: i64,
) -> Result<bool, DbError> {
    Ok(on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(REVOKE_SESSIONS)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        done > 0
    }))
}

const REVOKE_SESSIONS: &str =
    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL";

const COUNT_ADMINS: &str = "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0";

pub async fn revoke_sessions(pool: &Pool, user_id: i64, now: i64) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query(REVOKE_SESSIONS)
        .bind(now)
        .bind(user_id)
        .execute(p)
        .await?
        .rows_affected());
    Ok(())
}

pub async fn create_session(
    pool: &Pool,
    id: &str,
    user_id: i64,
    now: i64,
    expires_at: i64,
    client_addr: Option<&str>,
) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, expires_at, client_addr)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .bind(client_addr)
    .execute(p).await?.rows_affected());
    Ok(())
}

pub async fn revoke_session(pool: &Pool, id: &str, now: i64) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .execute(p).await?.rows_affected());
    Ok(())
}

/// The user behind a live session: not revoked, not expired, user not disabled.
pub async fn find_session_user(
    pool: &Pool,
    session_id: &str,
    user_id: i64,
    now: i64,
) -> Result<Option<User>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(
        "SELECT u.id, u.username, u.role, u.disabled != 0 AS disabled, u.created_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
           AND u.disabled = 0",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now)
    .fetch_optional(p).await?))
}

pub async fn create_api_token(
    pool: &Pool,
    name: &str,
    role: Role,
    token_hash: &str,
    created_by: &str,
    now: i64,
    expires_at: i64,
) -> Result<ApiToken, DbError> {
    let id: i64 = on_pool!(pool, p => sqlx::query_scalar(
        "INSERT INTO api_tokens (name, role, token_hash, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(name)
    .bind(role)
    .bind(token_hash)
    .bind(created_by)
    .bind(now)
    .bind(expires_at)
    .fetch_one(p).await?);
    Ok(list_api_tokens(pool)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .expect("the token just inserted"))
}

pub async fn list_api_tokens(pool: &Pool) -> Result<Vec<ApiToken>, DbError> {
    let mut tokens: Vec<ApiToken> = on_pool!(pool, p => sqlx::query_as(
        "SELECT id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens ORDER BY id DESC",
    )
    .fetch_all(p).await?);
    for t in &mut tokens {
        t.revoked = t.revoked_at.is_some();
    }
    Ok(tokens)
}

/// Revokes a token; false if there is no such live token.
pub async fn revoke_api_token(pool: &Pool, id: i64, now: i64) -> Result<bool, DbError> {
    let done = on_pool!(pool, p => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(p).await?.rows_affected());
    Ok(done > 0)
}

/// A live (not revoked, not expired) token by the hash of its secret.
pub async fn find_api_token(
    pool: &Pool,
    token_hash: &str,
    now: i64,
) -> Result<Option<ApiToken>, DbError> {
    Ok(on_pool!(pool, p => sqlx::query_as(
        "SELECT id, name, role, created_by, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(p).await?))
}

/// Records use, at most once a minute per token (no write per request).
pub async fn touch_api_token(pool: &Pool, id: i64, now: i64) -> Result<(), DbError> {
    on_pool!(pool, p => sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1
         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(id)
    .bind(now - 60)
    .execute(p).await?.rows_affected());
    Ok(())
}

/// Records a one-time setup token (its sha256) valid until `expires_at`, and drops the
/// expired ones.
pub async fn create_setup_token(
    pool: &Pool,
    token_hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), DbError> {
    on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        sqlx::query("DELETE FROM setup_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    });
    Ok(())
}

pub enum FirstAdmin {
    Created(User),
    /// An active admin exists: setup is over.
    AdminExists,
    /// No such token, or it expired, or it was used.
    BadToken,
    /// The name belongs to an existing (viewer or disabled) account.
    NameTaken,
}

/// Creates the first admin with a setup token, in one transaction: only while no active
/// admin exists, only with an unexpired token, and every token is spent by it.
pub async fn create_first_admin(
    pool: &Pool,
    token_hash: &str,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<FirstAdmin, DbError> {
    let id = on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        tx.serialize_on(super::LOCK_USERS).await?;
        let admins: i64 = sqlx::query_scalar(COUNT_ADMINS).fetch_one(&mut *tx).await?;
        if admins > 0 {
            return Ok(FirstAdmin::AdminExists);
        }
        let valid: Option<i64> = sqlx::query_scalar(
            "SELECT expires_at FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if valid.is_none() {
            return Ok(FirstAdmin::BadToken);
        }
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, role, created_at)
             VALUES ($1, $2, 'admin', $3) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(username)
        .bind(password_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(FirstAdmin::NameTaken);
        };
        sqlx::query("DELETE FROM setup_tokens")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        id
    });
    Ok(match get_user(pool, id).await? {
        Some(user) => FirstAdmin::Created(user),
        None => FirstAdmin::NameTaken,
    })
}

pub enum SsoUser {
    /// Created, or found and given the role the groups say.
    Ready(User),
    /// An admin disabled this account.
    Disabled,
    /// The name belongs to another account (local, or another subject).
    NameTaken,
}

/// The account of a single sign-on subject: created at the first login, its role set from
/// the groups at every login (the provider is the source of truth).
pub async fn upsert_sso_user(
    pool: &Pool,
    subject: &str,
    username: &str,
    role: Role,
    now: i64,
) -> Result<SsoUser, DbError> {
    let id = on_pool!(pool, p => {
        let mut tx = p.write_tx().await?;
        let found: Option<(i64, bool)> =
            sqlx::query_as("SELECT id, disabled != 0 FROM users WHERE oidc_subject = $1")
                .bind(subject)
                .fetch_optional(&mut *tx)
                .await?;
        let id = match found {
            Some((_, true)) => return Ok(SsoUser::Disabled),
            Some((id, false)) => {
                sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                    .bind(role)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => {
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO users (username, password_hash, role, created_at, oidc_subject)
                     VALUES ($1, '!', $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id",
                )
                .bind(username)
                .bind(role)
                .bind(now)
                .bind(subject)
                .fetch_optional(&mut *tx)
                .await?;
                match id {
                    Some(id) => id,
                    None => return Ok(SsoUser::NameTaken),
                }
            }
        };
        tx.commit().await?;
        id
    });
    Ok(match get_user(pool, id).await? {
        Some(user) => SsoUser::Ready(user),
        None => SsoUser::NameTaken,
    })
}
