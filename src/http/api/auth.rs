//! Login, logout, and who am I.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::audit_record;
use crate::auth::password;
use crate::auth::throttle::Attempt;
use crate::db::{self, users};
use crate::http::caller::Caller;
use crate::http::error::{AppError, OrInternal};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/about", web::get().to(about))
        .route("/setup", web::post().to(setup))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/me", web::get().to(me));
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

const BAD_LOGIN: &str = "invalid username or password";

/// 429 while any key of `attempt` is locked out after too many `failures`.
async fn not_throttled(
    state: &AppState,
    attempt: &Attempt,
    failures: &str,
) -> Result<(), AppError> {
    match state.throttle.wait(&state.db, attempt).await? {
        Some(wait) => {
            let secs = wait.as_secs().max(1);
            Err(AppError::Throttled {
                message: format!("too many {failures}; try again in {secs} s"),
                retry_after: secs,
            })
        }
        None => Ok(()),
    }
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let addr = crate::http::caller::client_addr(&req);
    let username = body.username.trim().to_owned();
    if username.is_empty() || username.len() > 128 || body.password.len() > password::MAX_BYTES {
        return Err(AppError::Unauthorized(BAD_LOGIN.into()));
    }
    let attempt = Attempt::new(&username, addr.as_deref());
    not_throttled(&state, &attempt, "failed logins").await?;
    let pool = &state.db;
    let found = users::credentials(pool, &username).await?;
    // Unknown users are checked against a dummy hash: same answer, similar time.
    let hash = match &found {
        Some(c) => c.password_hash.clone(),
        None => password::dummy_hash().await,
    };
    let valid = password::verify(body.password, hash).await;
    let user = match found {
        Some(c) if valid && !c.disabled => c,
        _ => {
            state.throttle.failed(&state.db, &attempt).await?;
            db::audit::record(
                pool,
                &format!("user:{username}"),
                "auth.login_failed",
                None,
                addr.as_deref(),
                &json!({}),
            )
            .await?;
            return Err(AppError::Unauthorized(BAD_LOGIN.into()));
        }
    };
    state.throttle.succeeded(&state.db, &attempt).await?;
    let profile = users::get_user(pool, user.id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("user vanished during login")))?;
    let body = start_session(&state, &profile, addr.as_deref(), "auth.login").await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// A new server-side session for `user` and its signed token, audited as `action`: the
/// body login and setup answer with.
pub(super) async fn start_session(
    state: &AppState,
    user: &users::User,
    addr: Option<&str>,
    action: &str,
) -> Result<serde_json::Value, AppError> {
    let pool = &state.db;
    let now = crate::clock::now();
    let expires_at = now + state.auth_keys.session_seconds;
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    users::create_session(pool, &session_id, user.id, now, expires_at, addr).await?;
    let token = state
        .auth_keys
        .issue(user.id, &session_id, now, expires_at)
        .or_internal("signing a session token")?;
    db::audit::record(
        pool,
        &format!("user:{}", user.username),
        action,
        None,
        addr,
        &json!({}),
    )
    .await?;
    Ok(json!({ "token": token, "expires_at": expires_at, "user": user }))
}

/// What the UI needs before anyone logs in: no secrets, nothing about the configuration
/// beyond where users reach the mirror.
async fn about(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let setup_required = users::count_admins(&state.db).await? == 0;
    Ok(HttpResponse::Ok().json(json!({
        "public_url": state.config.public_base(),
        "https": state.config.server.tls.is_some(),
        "setup_required": setup_required,
        "sso": state.oidc.as_ref().map(|o| json!({
            "name": o.config.display_name,
            "login_url": "/api/v1/auth/oidc/login",
        })),
    })))
}

#[derive(Deserialize)]
struct SetupBody {
    token: String,
    username: String,
    password: String,
}

const ADMIN_EXISTS: &str = "an admin exists already: log in, or ask an admin for an account";

const BAD_SETUP_TOKEN: &str = "this setup link is invalid, expired or already used: restart \
    `tfmirror serve` for a new one, or run `tfmirror create-admin --username NAME`";

/// Creates the first admin with the one-time token of the setup link `serve` printed.
async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SetupBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let addr = crate::http::caller::client_addr(&req);
    let attempt = Attempt::new("setup link", addr.as_deref());
    not_throttled(&state, &attempt, "invalid setup links").await?;
    // Checked again in the transaction; here, so a late link costs no password hash.
    if users::count_admins(&state.db).await? > 0 {
        return Err(AppError::Conflict(ADMIN_EXISTS.into()));
    }
    let username = body.username.trim();
    let hash = super::users::new_account_hash(username, body.password).await?;
    let token_hash = crate::auth::token_hash(body.token.trim());
    let now = crate::clock::now();
    let user = match users::create_first_admin(&state.db, &token_hash, username, &hash, now).await?
    {
        users::FirstAdmin::Created(user) => user,
        users::FirstAdmin::AdminExists => return Err(AppError::Conflict(ADMIN_EXISTS.into())),
        users::FirstAdmin::BadToken => {
            state.throttle.failed(&state.db, &attempt).await?;
            return Err(AppError::Forbidden(BAD_SETUP_TOKEN.into()));
        }
        users::FirstAdmin::NameTaken => {
            return Err(AppError::Conflict(format!(
                "an account named {username} exists already: choose another name"
            )));
        }
    };
    state.throttle.succeeded(&state.db, &attempt).await?;
    db::audit::record(
        &state.db,
        &format!("user:{}", user.username),
        "user.create",
        Some(&format!("user:{}", user.username)),
        addr.as_deref(),
        &json!({ "role": user.role, "via": "setup link" }),
    )
    .await?;
    let body = start_session(&state, &user, addr.as_deref(), "auth.login").await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

async fn logout(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    if let Some(sid) = &caller.session_id {
        users::revoke_session(&state.db, sid, crate::clock::now()).await?;
    }
    audit_record(&state, &caller, "auth.logout", None, json!({})).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    let now = crate::clock::now();
    Ok(HttpResponse::Ok().json(match caller.user_id {
        Some(id) => {
            let u = users::get_user(&state.db, id)
                .await?
                .ok_or_else(|| AppError::Unauthorized("the user no longer exists".into()))?;
            json!({ "id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled,
                    "created_at": u.created_at, "kind": "user" })
        }
        None => json!({ "id": caller.token_id, "username": caller.username,
                        "role": caller.role.as_str(), "disabled": false, "created_at": now,
                        "kind": "token" }),
    }))
}
