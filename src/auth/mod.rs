//! Admin authentication: argon2id password hashes, HS256 session tokens bound to a
//! server-side session row, hashed API tokens and login throttling. The HTTP half (who is
//! calling, from the request's bearer token) is `http::caller`.

pub mod oidc;
pub mod password;
pub mod signed_url;
pub mod throttle;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;

pub const ISSUER: &str = "tfmirror";
pub const AUDIENCE: &str = "tfmirror-admin";
/// API tokens start with this, so they are recognisable (and scannable in leaked logs).
pub const TOKEN_PREFIX: &str = "tfm_";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// A single sign-on in progress, kept in a signed cookie in the browser that started it
/// (so the callback is bound to that browser, and any replica can finish it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginState {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// The `/ui/` path to return to.
    pub redirect: String,
    pub exp: i64,
    #[serde(default)]
    aud: String,
    #[serde(default)]
    iss: String,
}

impl LoginState {
    pub fn new(state: String, nonce: String, verifier: String, redirect: String, exp: i64) -> Self {
        Self {
            state,
            nonce,
            verifier,
            redirect,
            exp,
            aud: LOGIN_STATE_AUDIENCE.into(),
            iss: ISSUER.into(),
        }
    }
}

const LOGIN_STATE_AUDIENCE: &str = "tfmirror-oidc-login";

/// What a valid session token says: whose session, and which row.
#[derive(Debug, Clone)]
pub struct SessionClaims {
    pub user_id: i64,
    pub session_id: String,
}

/// Signing and checking session tokens.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub session_seconds: i64,
    /// Signs the archive and checksum URLs of the documents when reading needs a token.
    pub urls: signed_url::UrlSigner,
}

impl Keys {
    /// From `auth.jwt_secret`, or the secret generated once in the data directory.
    pub fn load_or_generate(config: &Config) -> anyhow::Result<Self> {
        let secret: Vec<u8> = if !config.auth.jwt_secret.is_empty() {
            config.auth.jwt_secret.expose().as_bytes().to_vec()
        } else {
            let path = config.data_dir.join("jwt-secret");
            match Self::local_secret(config) {
                Some(s) => s,
                None => {
                    let s = Self::new_secret().into_bytes();
                    crate::fsutil::write_private(&path, &s)?;
                    s
                }
            }
        };
        Ok(Self::from_secret(config, &secret))
    }

    /// The secret generated earlier in the data directory, if any.
    pub fn local_secret(config: &Config) -> Option<Vec<u8>> {
        std::fs::read(config.data_dir.join("jwt-secret"))
            .ok()
            .filter(|s| s.len() >= 32)
    }

    /// 48 random bytes, hex.
    pub fn new_secret() -> String {
        let mut s = [0u8; 48];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
        hex::encode(s)
    }

    /// The keys derived from a session secret.
    pub fn from_secret(config: &Config, secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            session_seconds: (config.auth.session_minutes * 60) as i64,
            urls: signed_url::UrlSigner::new(secret, config.auth.signed_url_seconds),
        }
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

    /// Signs a single sign-on in progress for its cookie.
    pub fn sign_login_state(&self, state: &LoginState) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            state,
            &self.encoding,
        )?)
    }

    /// The single sign-on a cookie carries, when its signature, audience and expiry hold.
    pub fn check_login_state(&self, token: &str) -> Option<LoginState> {
        let mut validation = self.validation.clone();
        validation.set_audience(&[LOGIN_STATE_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jsonwebtoken::decode::<LoginState>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
    }

    /// Signature, algorithm (HS256 only: no `none`, no switching), expiry, issuer, audience.
    /// The session row it names must still be checked against the database.
    pub fn check(&self, token: &str) -> Option<SessionClaims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        Some(SessionClaims {
            user_id: claims.sub.parse().ok()?,
            session_id: claims.sid,
        })
    }
}

/// The sha256 under which an API token is stored.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// How long the setup link `serve` prints stays valid.
pub const SETUP_LINK_MINUTES: i64 = 60;

/// 256 random bits, in hex.
fn random_hex() -> String {
    let mut s = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut s);
    hex::encode(s)
}

/// A fresh one-time setup token (stored hashed, like API tokens).
pub fn new_setup_secret() -> String {
    random_hex()
}

/// A fresh API token secret.
pub fn new_token_secret() -> String {
    format!("{TOKEN_PREFIX}{}", random_hex())
}
