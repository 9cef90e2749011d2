//! Admin authentication: argon2id password hashes, HS256 session tokens bound to a
//! server-side session row, hashed API tokens, login throttling, and the `Caller` extractor
//! every admin route takes.

pub mod password;
pub mod throttle;

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::{self, users};
use crate::error::AppError;
use crate::state::AppState;

pub const ISSUER: &str = "tfmirror";
pub const AUDIENCE: &str = "tfmirror-admin";
/// API tokens start with this, so they are recognisable (and scannable in leaked logs).
pub const TOKEN_PREFIX: &str = "tfm_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }
}

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

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Signing and checking session tokens.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub session_seconds: i64,
}

impl Keys {
    /// From `auth.jwt_secret`, or the secret generated once in the data directory.
    pub fn load_or_generate(config: &Config) -> anyhow::Result<Self> {
        let secret: Vec<u8> = if !config.auth.jwt_secret.is_empty() {
            config.auth.jwt_secret.expose().as_bytes().to_vec()
        } else {
            let path = config.data_dir.join("jwt-secret");
            match std::fs::read(&path) {
                Ok(s) if s.len() >= 32 => s,
                _ => {
                    let mut s = [0u8; 48];
                    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
                    let s = hex::encode(s).into_bytes();
                    crate::fsutil::write_private(&path, &s)?;
                    s
                }
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            session_seconds: (config.auth.session_minutes * 60) as i64,
        })
    }

    pub fn issue(
        &self,
        user_id: i64,
        session_id: &str,
        now: i64,
        exp: i64,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Signature, algorithm (HS256 only: no `none`, no switching), expiry, issuer, audience.
    fn check(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// The sha256 under which an API token is stored.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh API token secret.
pub fn new_token_secret() -> String {
    let mut s = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
    format!("{TOKEN_PREFIX}{}", hex::encode(s))
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
        .ok_or_else(|| AppError::Internal("no application state".into()))?
        .clone();
    let unauthenticated = || AppError::Unauthorized("missing, invalid or expired token".into());
    let token = bearer(&req).ok_or_else(unauthenticated)?;
    let pool = state.catalog.pool();
    let now = db::jobs::now();
    let client_addr = client_addr(&req);
    if token.starts_with(TOKEN_PREFIX) {
        let t = users::find_api_token(pool, &token_hash(&token), now)
            .await?
            .ok_or_else(unauthenticated)?;
        users::touch_api_token(pool, t.id, now).await?;
        return Ok(Caller {
            actor: format!("token:{}", t.name),
            role: Role::parse(&t.role).ok_or_else(unauthenticated)?,
            user_id: None,
            username: t.name,
            session_id: None,
            token_id: Some(t.id),
            client_addr,
        });
    }
    let claims = state.auth_keys.check(&token).ok_or_else(unauthenticated)?;
    let user_id: i64 = claims.sub.parse().map_err(|_| unauthenticated())?;
    let user = users::find_session_user(pool, &claims.sid, user_id, now)
        .await?
        .ok_or_else(unauthenticated)?;
    Ok(Caller {
        actor: format!("user:{}", user.username),
        role: Role::parse(&user.role).ok_or_else(unauthenticated)?,
        user_id: Some(user.id),
        username: user.username,
        session_id: Some(claims.sid),
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
