//! Who is calling: the bearer token of a request (session JWT or API token) checked against
//! the database, as the `Caller` extractor every admin route takes.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::{TOKEN_PREFIX, token_hash};
use crate::db::users;
use crate::domain::Role;
use crate::http::error::AppError;
use crate::state::AppState;

/// Who is calling an admin route, checked against the database on every request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `user:NAME` or `token:NAME`, as the audit log records it.
    pub actor: String,
    pub role: Role,
    pub user_id: Option<i64>,
    pub username: String,
    pub session_id: Option<String>,
    pub token_id: Option<i64>,
    pub client_addr: Option<String>,
}

impl Caller {
    /// Mutating routes: 403 for viewers.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "this action needs the admin role".into(),
            ))
        }
    }
}

/// The client's address as the socket saw it (forwarding headers are not trusted).
pub fn client_addr(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

fn bearer(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    // EventSource cannot send headers: the job event stream takes `?access_token=`.
    if req.path().ends_with("/events") {
        return web::Query::<std::collections::HashMap<String, String>>::from_query(
            req.query_string(),
        )
        .ok()
        .and_then(|q| q.get("access_token").cloned());
    }
    None
}

/// Checks the request's bearer token (session JWT or API token) against the database.
pub async fn authenticate(req: HttpRequest) -> Result<Caller, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no application state")))?
        .clone();
    let unauthenticated = || AppError::Unauthorized("missing, invalid or expired token".into());
    let token = bearer(&req).ok_or_else(unauthenticated)?;
    let pool = &state.db;
    let now = crate::clock::now();
    let client_addr = client_addr(&req);
    if token.starts_with(TOKEN_PREFIX) {
        let t = users::find_api_token(pool, &token_hash(&token), now)
            .await?
            .ok_or_else(unauthenticated)?;
        users::touch_api_token(pool, t.id, now).await?;
        return Ok(Caller {
            actor: format!("token:{}", t.name),
            role: t.role,
            user_id: None,
            username: t.name,
            session_id: None,
            token_id: Some(t.id),
            client_addr,
        });
    }
    let claims = state.auth_keys.check(&token).ok_or_else(unauthenticated)?;
    let user = users::find_session_user(pool, &claims.session_id, claims.user_id, now)
        .await?
        .ok_or_else(unauthenticated)?;
    Ok(Caller {
        actor: format!("user:{}", user.username),
        role: user.role,
        user_id: Some(user.id),
        username: user.username,
        session_id: Some(claims.session_id),
        token_id: None,
        client_addr,
    })
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        // The API scope's middleware has authenticated the request already.
        if let Some(caller) = req.extensions().get::<Caller>().cloned() {
            return Box::pin(std::future::ready(Ok(caller)));
        }
        Box::pin(authenticate(req.clone()))
    }
}
