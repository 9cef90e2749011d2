//! Users and API tokens (admins only).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::audit_record;
use crate::auth::{self, password};
use crate::db::users;
use crate::domain::{Role, valid_username};
use crate::http::caller::Caller;
use crate::http::error::{AppError, OrInternal};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list_users))
        .route("/users", web::post().to(create_user))
        .route("/users/{id}", web::patch().to(update_user))
        .route("/users/{id}/password", web::post().to(reset_password))
        .route(
            "/users/{id}/revoke-sessions",
            web::post().to(revoke_sessions),
        )
        .route("/tokens", web::get().to(list_tokens))
        .route("/tokens", web::post().to(create_token))
        .route("/tokens/{id}", web::delete().to(revoke_token));
}

/// An account's role: admin or viewer (consumer is for API tokens).
fn role(s: &str) -> Result<Role, AppError> {
    match Role::parse(s) {
        Some(r @ (Role::Admin | Role::Viewer)) => Ok(r),
        Some(Role::Consumer) => Err(AppError::BadRequest(
            "consumer is a role for API tokens (reading the mirror), not for accounts; use admin or viewer".into(),
        )),
        None => Err(AppError::BadRequest("role must be admin or viewer".into())),
    }
}

/// An API token's role: admin, viewer or consumer.
fn token_role(s: &str) -> Result<Role, AppError> {
    Role::parse(s)
        .ok_or_else(|| AppError::BadRequest("role must be admin, viewer or consumer".into()))
}

async fn list_users(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    Ok(HttpResponse::Ok().json(users::list_users(&state.db).await?))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: String,
}

/// The checks every new account passes (a valid name, a strong enough password), then the
/// password's hash.
pub(super) async fn new_account_hash(username: &str, password: String) -> Result<String, AppError> {
    if !valid_username(username) {
        return Err(AppError::BadRequest(
            "username must be 1 to 64 letters, digits, '.', '_', '-' or '@'".into(),
        ));
    }
    password::check_strength(&password).map_err(AppError::BadRequest)?;
    password::hash(password)
        .await
        .or_internal("hashing a password")
}

async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let body = body.into_inner();
    let role = role(&body.role)?;
    let hash = new_account_hash(&body.username, body.password).await?;
    let user = users::create_user(&state.db, &body.username, &hash, role, crate::clock::now())
        .await?
        .ok_or_else(|| AppError::Conflict(format!("user {} already exists", body.username)))?;
    audit_record(
        &state,
        &caller,
        "user.create",
        Some(&format!("user:{}", user.username)),
        json!({ "role": user.role }),
    )
    .await?;
    Ok(HttpResponse::Created().json(user))
}

#[derive(Deserialize)]
struct UserPatch {
    disabled: Option<bool>,
    role: Option<String>,
}

async fn update_user(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<UserPatch>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let new_role = body.role.as_deref().map(role).transpose()?;
    if caller.user_id == Some(id) && (body.disabled == Some(true) || new_role == Some(Role::Viewer))
    {
        return Err(AppError::BadRequest(
            "you cannot disable or demote yourself".into(),
        ));
    }
    let user = match users::update_user(&state.db, id, new_role, body.disabled, crate::clock::now())
        .await?
    {
        users::UserUpdate::Updated(user) => user,
        users::UserUpdate::NoSuchUser => {
            return Err(AppError::not_found(format!("there is no user {id}")));
        }
        users::UserUpdate::LastAdmin => {
            return Err(AppError::BadRequest(
                "this is the last active admin: create another admin first".into(),
            ));
        }
    };
    audit_record(
        &state,
        &caller,
        "user.update",
        Some(&format!("user:{}", user.username)),
        json!({ "disabled": body.disabled, "role": body.role }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

async fn reset_password(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<NewPassword>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let body = body.into_inner();
    password::check_strength(&body.password).map_err(AppError::BadRequest)?;
    let pool = &state.db;
    let user = users::get_user(pool, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no user {id}")))?;
    let hash = password::hash(body.password)
        .await
        .or_internal("hashing a password")?;
    users::set_password(pool, id, &hash, crate::clock::now()).await?;
    audit_record(
        &state,
        &caller,
        "user.password_reset",
        Some(&format!("user:{}", user.username)),
        json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn revoke_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let id = id.into_inner();
    let pool = &state.db;
    let user = users::get_user(pool, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no user {id}")))?;
    users::revoke_sessions(pool, id, crate::clock::now()).await?;
    audit_record(
        &state,
        &caller,
        "user.revoke_sessions",
        Some(&format!("user:{}", user.username)),
        json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_tokens(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    Ok(HttpResponse::Ok().json(users::list_api_tokens(&state.db).await?))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    role: String,
    expires_in_days: Option<i64>,
}

async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewToken>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let body = body.into_inner();
    let role = token_role(&body.role)?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "name must be 1 to 100 characters".into(),
        ));
    }
    // Names reach logs and the audit log: no line breaks or terminal escapes.
    if name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "name must not contain control characters (line breaks, tabs, escapes)".into(),
        ));
    }
    let days = body.expires_in_days.unwrap_or(90);
    if !(1..=3650).contains(&days) {
        return Err(AppError::BadRequest(
            "expires_in_days must be between 1 and 3650".into(),
        ));
    }
    let secret = auth::new_token_secret();
    let now = crate::clock::now();
    let token = users::create_api_token(
        &state.db,
        name,
        role,
        &auth::token_hash(&secret),
        &caller.actor,
        now,
        now + days * 86_400,
    )
    .await?;
    audit_record(
        &state,
        &caller,
        "token.create",
        Some(&format!("token:{name}")),
        json!({ "role": role.as_str(), "expires_in_days": days }),
    )
    .await?;
    let mut body = serde_json::to_value(&token).or_internal("rendering a token")?;
    body["token"] = json!(secret);
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let id = id.into_inner();
    if !users::revoke_api_token(&state.db, id, crate::clock::now()).await? {
        return Err(AppError::not_found(format!("there is no live token {id}")));
    }
    audit_record(
        &state,
        &caller,
        "token.revoke",
        Some(&format!("token {id}")),
        json!({}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
