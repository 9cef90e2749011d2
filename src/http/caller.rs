//! Who is calling: the bearer token of a request (session JWT or API token) checked against
//! the database, as the `Caller` extractor every admin route takes.

use std::future::Future;
use std::pin::Pin;

use std::net::IpAddr;

use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::{TOKEN_PREFIX, token_hash};
use crate::db::users;
use crate::domain::{IpRange, Role};
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

/// The client's address: the socket's peer, or, when that peer is one of
/// `server.trusted_proxies`, the nearest address in `Forwarded` / `X-Forwarded-For` that is
/// not a trusted proxy. Nothing else a client sends can choose its address.
pub fn client_addr(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.server.trusted_proxies.as_slice())
        .unwrap_or_default();
    if !trusted.iter().any(|r| r.contains(peer)) {
        return Some(peer.to_string());
    }
    Some(nearest_untrusted(peer, trusted, &forwarded_chain(req)).to_string())
}

/// Forwarding entries are read from the right (the nearest hop) and at most this many.
const MAX_HOPS: usize = 32;

/// The `for=` addresses of `Forwarded` (RFC 7239) when present, else `X-Forwarded-For`, in
/// header order (the client first); entries that are no address (`unknown`, `_hidden`) are
/// `None`.
fn forwarded_chain(req: &HttpRequest) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|e| e.trim().to_owned())
            .collect()
    };
    let forwarded: Vec<String> = values("forwarded")
        .into_iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| v.trim().to_owned())
            })
        })
        .collect();
    let entries = if forwarded.is_empty() {
        values("x-forwarded-for")
    } else {
        forwarded
    };
    let skip = entries.len().saturating_sub(MAX_HOPS);
    entries[skip..].iter().map(|e| parse_hop(e)).collect()
}

/// `192.0.2.1`, `192.0.2.1:8080`, `"[2001:db8::1]:443"`, `2001:db8::1`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let e = entry.trim().trim_matches('"');
    if let Ok(ip) = e.parse() {
        return Some(ip);
    }
    if let Some(rest) = e.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    e.rsplit_once(':')?.0.parse().ok()
}

/// Walks from the nearest hop to the client past trusted proxies; an entry that is no
/// address ends the walk at the last hop known.
fn nearest_untrusted(peer: IpAddr, trusted: &[IpRange], chain: &[Option<IpAddr>]) -> IpAddr {
    let mut last = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if trusted.iter().any(|r| r.contains(*ip)) => last = *ip,
            Some(ip) => return *ip,
            None => return last,
        }
    }
    last
}

/// The `Authorization: Bearer` token: the only place a token is read from. Query strings
/// end up in proxy logs, so none is accepted there (the UI's event stream sends the header).
fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
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
        // Terraform sends its token on every JSON request when reading needs one: record use
        // at most once a minute without even asking the database for the write lock.
        if t.last_used_at.is_none_or(|used| used < now - 60) {
            users::touch_api_token(pool, t.id, now).await?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_nearest_hop_that_is_not_a_trusted_proxy() {
        let trusted = [
            IpRange::parse("10.0.0.0/8").unwrap(),
            IpRange::parse("127.0.0.1").unwrap(),
        ];
        let chain = |s: &[&str]| s.iter().map(|e| parse_hop(e)).collect::<Vec<_>>();
        let peer = ip("127.0.0.1");
        // A client-supplied first entry cannot win over what the proxies appended.
        assert_eq!(
            nearest_untrusted(
                peer,
                &trusted,
                &chain(&["6.6.6.6", "198.51.100.7", "10.1.2.3"])
            ),
            ip("198.51.100.7")
        );
        assert_eq!(nearest_untrusted(peer, &trusted, &chain(&[])), peer);
        assert_eq!(
            nearest_untrusted(peer, &trusted, &chain(&["unknown", "10.1.2.3"])),
            ip("10.1.2.3"),
            "an opaque entry stops at the last known hop"
        );
        assert_eq!(parse_hop("\"[2001:db8::1]:443\""), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("192.0.2.1:8080"), Some(ip("192.0.2.1")));
        assert_eq!(parse_hop("_hidden"), None);
    }
}
