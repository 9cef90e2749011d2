//! Single sign-on: two browser navigations. `GET /auth/oidc/login` signs the login in
//! progress (state, nonce, PKCE verifier, where to return) into a short-lived HttpOnly
//! cookie and redirects to the provider; `GET /auth/oidc/callback` checks the state against
//! that cookie, lets `auth::oidc` redeem the code and verify the ID token, maps the groups to
//! a role, creates or updates the user and hands the session to the UI's `/ui/sso` page in
//! the URL fragment (which no server or proxy logs). Every refusal goes back to the login
//! page with `sso_error`, and is audited.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::LoginState;
use crate::auth::oidc::{self, OidcError};
use crate::db::{self, users};
use crate::http::error::AppError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/oidc/login", web::get().to(login))
        .route("/auth/oidc/callback", web::get().to(callback));
}

const COOKIE: &str = "tfm_oidc";
const COOKIE_PATH: &str = "/api/v1/auth/oidc/";
/// How long a login may take at the provider.
const LOGIN_SECONDS: i64 = 600;

#[derive(Deserialize)]
struct LoginQuery {
    redirect: Option<String>,
}

/// A `/ui/` path to return to; anything else (another host, `//`, a backslash) is `/ui/`.
fn safe_redirect(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with("/ui/")
                && !p.contains("//")
                && !p.contains('\\')
                && p.len() <= 1024
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/ui/".to_owned(),
    }
}

/// Where the provider sends the browser back: under `server.public_url`, else the address
/// this request came to (the provider accepts only the redirect URIs registered with it).
fn callback_url(req: &HttpRequest, state: &AppState) -> String {
    if let Some(base) = state.config.public_base() {
        return format!("{base}api/v1/auth/oidc/callback");
    }
    let scheme = if state.config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| state.config.server.listen.clone());
    format!("{scheme}://{host}/api/v1/auth/oidc/callback")
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish()
}

/// Back to the login page, saying why.
fn to_login(message: &str) -> HttpResponse {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sso_error", message)
        .finish();
    with_cookie(redirect(&format!("/ui/login?{query}")), &removal_cookie())
}

/// The signed login in progress: HttpOnly, sent only to the two SSO routes, and on the
/// provider's top-level redirect back (`SameSite=Lax`).
fn login_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={LOGIN_SECONDS}; HttpOnly; SameSite=Lax{secure}"
    )
}

fn removal_cookie() -> String {
    format!("{COOKIE}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax")
}

fn with_cookie(mut res: HttpResponse, cookie: &str) -> HttpResponse {
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(cookie) {
        res.headers_mut()
            .append(actix_web::http::header::SET_COOKIE, v);
    }
    res
}

/// The value of our cookie in the request's `Cookie` headers.
fn request_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn provider(state: &AppState) -> Result<&oidc::Oidc, AppError> {
    state
        .oidc
        .as_deref()
        .ok_or_else(|| AppError::not_found("single sign-on is not configured (auth.oidc)"))
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let oidc = provider(&state)?;
    let login = LoginState::new(
        oidc::random_token(),
        oidc::random_token(),
        oidc::random_token(),
        safe_redirect(query.redirect.as_deref()),
        crate::clock::now() + LOGIN_SECONDS,
    );
    let url = match oidc
        .authorization_url(
            &callback_url(&req, &state),
            &login.state,
            &login.nonce,
            &login.verifier,
        )
        .await
    {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on could not start");
            return Ok(to_login(&e.to_string()));
        }
    };
    let signed = state
        .auth_keys
        .sign_login_state(&login)
        .map_err(AppError::internal)?;
    let secure = state.config.server.tls.is_some()
        || state
            .config
            .public_base()
            .is_some_and(|b| b.starts_with("https://"));
    Ok(with_cookie(redirect(&url), &login_cookie(&signed, secure)))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let oidc = provider(&state)?;
    let addr = crate::http::caller::client_addr(&req);
    match finish(&req, &state, oidc, &query).await {
        Ok(to) => Ok(with_cookie(redirect(&to), &removal_cookie())),
        Err((who, e)) => {
            let message = e.to_string();
            match &e {
                OidcError::Provider(_) => tracing::warn!(error = %message, "single sign-on failed"),
                OidcError::Refused(_) => tracing::warn!(error = %message, "single sign-on refused"),
            }
            db::audit::record(
                &state.db,
                &format!("sso:{}", who.as_deref().unwrap_or("unknown")),
                "auth.login_failed",
                None,
                addr.as_deref(),
                &json!({ "reason": message }),
            )
            .await?;
            Ok(to_login(&message))
        }
    }
}

/// The whole callback; the error carries who it was about, when known, for the audit log.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    oidc: &oidc::Oidc,
    query: &CallbackQuery,
) -> Result<String, (Option<String>, OidcError)> {
    let refuse = |m: &str| (None, OidcError::Refused(m.to_owned()));
    if let Some(error) = &query.error {
        let detail = query.error_description.as_deref().unwrap_or_default();
        let mut message = format!("the provider answered {error} {detail}");
        message.truncate(300);
        return Err(refuse(message.trim()));
    }
    let login = request_cookie(req)
        .and_then(|c| state.auth_keys.check_login_state(&c))
        .ok_or_else(|| {
            refuse("this login expired or was started in another browser: log in again")
        })?;
    let (Some(code), Some(got_state)) = (&query.code, &query.state) else {
        return Err(refuse("the provider sent no code"));
    };
    if got_state != &login.state {
        return Err(refuse(
            "the provider's answer is not for this login (state mismatch): log in again",
        ));
    }
    let who = oidc
        .complete(
            code,
            &login.verifier,
            &callback_url(req, state),
            &login.nonce,
        )
        .await
        .map_err(|e| (None, e))?;
    let named = |e: OidcError| (Some(who.username.clone()), e);
    let config = &oidc.config;
    let Some(role) = oidc::role_for(&who.groups, config) else {
        let list = |g: &[String]| {
            if g.is_empty() {
                "none".to_owned()
            } else {
                g.join(", ")
            }
        };
        return Err(named(OidcError::Refused(format!(
            "{} is in none of the groups allowed to use tfmirror (admin: {}; viewer: {}); ask your administrator for access",
            who.username,
            list(&config.admin_groups),
            list(&config.viewer_groups)
        ))));
    };
    let now = crate::clock::now();
    let user = match users::upsert_sso_user(&state.db, &who.subject, &who.username, role, now)
        .await
        .map_err(|e| named(OidcError::Provider(format!("recording the account: {e}"))))?
    {
        users::SsoUser::Ready(user) => user,
        users::SsoUser::Disabled => {
            return Err(named(OidcError::Refused(format!(
                "the account {} is disabled in tfmirror",
                who.username
            ))));
        }
        users::SsoUser::NameTaken => {
            return Err(named(OidcError::Refused(format!(
                "the name {} belongs to another tfmirror account (a local one?); an admin must rename or remove it",
                who.username
            ))));
        }
    };
    let addr = crate::http::caller::client_addr(req);
    let session = super::auth::start_session(state, &user, addr.as_deref(), "auth.login")
        .await
        .map_err(|e| named(OidcError::Provider(format!("starting the session: {e}"))))?;
    let fragment: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", session["token"].as_str().unwrap_or_default())
        .append_pair("expires_at", &session["expires_at"].to_string())
        .append_pair("redirect", &login.redirect)
        .finish();
    Ok(format!("/ui/sso#{fragment}"))
}

#[cfg(test)]
mod tests {
    use super::safe_redirect;

    #[test]
    fn only_ui_paths_are_returned_to() {
        assert_eq!(
            safe_redirect(Some("/ui/providers?q=aws")),
            "/ui/providers?q=aws"
        );
        for bad in [
            None,
            Some("https://evil.example/"),
            Some("//evil.example/ui/"),
            Some("/ui//evil.example"),
            Some("/ui/\\evil"),
            Some("/api/v1/users"),
            Some("/ui/\nSet-Cookie: x"),
        ] {
            assert_eq!(safe_redirect(bad), "/ui/", "{bad:?}");
        }
    }
}
