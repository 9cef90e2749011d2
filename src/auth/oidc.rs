//! OpenID Connect single sign-on for the admin UI: the authorization code flow with PKCE
//! (S256), the provider found by discovery from the configured issuer, the ID token checked
//! against the provider's JWKS (signature, issuer, audience, expiry, not-before, nonce), and
//! the role from a groups claim. The HTTP half (the redirects, the cookie, the session) is
//! `http::api::oidc`.

use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::config::OidcConfig;
use crate::domain::Role;

/// What discovery (`ISSUER/.well-known/openid-configuration`) tells us.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

/// Why a login did not succeed: said to the user on the login page, and audited.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider is down or answered nonsense: nothing the user did.
    #[error("single sign-on failed: {0}")]
    Provider(String),
    /// The login was refused: a bad token, a user without a group, an expired login.
    #[error("single sign-on refused: {0}")]
    Refused(String),
}

fn provider(message: impl Into<String>) -> OidcError {
    OidcError::Provider(message.into())
}

fn refused(message: impl Into<String>) -> OidcError {
    OidcError::Refused(message.into())
}

/// Who logged in, from the verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `ISSUER#SUB`: the account's stable key (names can change).
    pub subject: String,
    pub username: String,
    pub groups: Vec<String>,
}

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// An unknown key id refetches the JWKS (the provider rotated keys), at most this often.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(60);
/// Provider documents and token answers are small; anything larger is refused unread.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Clock skew allowed for `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;
/// The most groups read from a claim (the rest are ignored).
const MAX_GROUPS: usize = 1000;
const ACCEPTED_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

#[derive(Default)]
struct Cache {
    discovery: Option<(Discovery, Instant)>,
    jwks: Option<(JwkSet, Instant)>,
}

/// The configured provider, its discovery document and keys cached.
pub struct Oidc {
    pub config: OidcConfig,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

/// A fresh random value for `state`, `nonce` or the PKCE verifier: 256 bits, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Oidc {
    pub fn new(config: OidcConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The provider's endpoints, from discovery (cached for an hour). The document must name
    /// exactly the configured issuer.
    pub async fn discovery(&self) -> Result<Discovery, OidcError> {
        let mut cache = self.cache.lock().await;
        if let Some((d, at)) = &cache.discovery
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.clone());
        }
        let issuer = self.config.issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let d: Discovery = self.get_json(&url).await?;
        if d.issuer.trim_end_matches('/') != issuer {
            return Err(provider(format!(
                "discovery at {url} names the issuer {:?}, not the configured {issuer:?}",
                d.issuer
            )));
        }
        cache.discovery = Some((d.clone(), Instant::now()));
        Ok(d)
    }

    /// Where the browser goes to log in.
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        verifier: &str,
    ) -> Result<String, OidcError> {
        let d = self.discovery().await?;
        let mut url = reqwest::Url::parse(&d.authorization_endpoint)
            .map_err(|e| provider(format!("the authorization endpoint is not a URL: {e}")))?;
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            self.config
                .scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .cloned(),
        );
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &pkce_challenge(verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Redeems the code (with the PKCE verifier), verifies the ID token and returns who it
    /// names; the groups come from the ID token, else from the userinfo endpoint.
    pub async fn complete(
        &self,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        nonce: &str,
    ) -> Result<Identity, OidcError> {
        let d = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut req = self.http.post(&d.token_endpoint);
        if self.config.client_secret.is_empty() {
            form.push(("client_id", &self.config.client_id));
        } else {
            // RFC 6749 2.3.1: both parts form-urlencoded before Basic encoding.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(
                enc(&self.config.client_id),
                Some(enc(self.config.client_secret.expose())),
            );
        }
        let res = req
            .form(&form)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| unreachable("the token endpoint", &e))?;
        let status = res.status();
        let body: Value = read_json(res).await?;
        if !status.is_success() {
            let error = body["error"].as_str().unwrap_or("unknown error");
            let detail = body["error_description"].as_str().unwrap_or_default();
            return Err(refused(bounded(&format!(
                "the provider would not redeem the login code ({status}): {error} {detail}"
            ))));
        }
        let id_token = body["id_token"]
            .as_str()
            .ok_or_else(|| provider("the token endpoint answered without an id_token"))?;
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| refused("the ID token is not a signed JWT"))?;
        let keys = self.keys(header.kid.as_deref()).await?;
        let mut claims =
            verify_id_token(id_token, &keys, &d.issuer, &self.config.client_id, nonce)?;
        if claims.get(&self.config.groups_claim).is_none()
            && let (Some(userinfo), Some(access)) =
                (&d.userinfo_endpoint, body["access_token"].as_str())
        {
            let info: Map<String, Value> = self.userinfo(userinfo, access).await?;
            if info.get("sub") != claims.get("sub") {
                return Err(refused("the userinfo answer is for another subject"));
            }
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        identity(&claims, &d.issuer, &self.config)
    }

    async fn userinfo(
        &self,
        url: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let res = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| unreachable("the userinfo endpoint", &e))?;
        if !res.status().is_success() {
            return Err(provider(format!(
                "the userinfo endpoint answered {}",
                res.status()
            )));
        }
        read_json(res).await
    }

    /// The provider's keys; refetched when a token names a key id not in the cached set
    /// (at most once a minute).
    async fn keys(&self, kid: Option<&str>) -> Result<JwkSet, OidcError> {
        let jwks_uri = self.discovery().await?.jwks_uri;
        let mut cache = self.cache.lock().await;
        if let Some((set, at)) = &cache.jwks {
            let has = kid.is_none_or(|k| set.find(k).is_some());
            if has || at.elapsed() < JWKS_MIN_REFRESH {
                return Ok(set.clone());
            }
        }
        let set: JwkSet = self.get_json(&jwks_uri).await?;
        cache.jwks = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let res = self
            .http
            .get(url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| unreachable(url, &e))?;
        if !res.status().is_success() {
            return Err(provider(format!("{url} answered {}", res.status())));
        }
        read_json(res).await
    }
}

/// `what` could not be reached, and why (every cause).
fn unreachable(what: &str, e: &reqwest::Error) -> OidcError {
    provider(format!(
        "{what} cannot be reached: {e}{}",
        crate::telemetry::causes(e)
    ))
}

/// A JSON body of at most [`MAX_DOCUMENT_BYTES`].
async fn read_json<T: DeserializeOwned>(mut res: reqwest::Response) -> Result<T, OidcError> {
    let url = res.url().to_string();
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| provider(format!("reading {url}: {e}")))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(provider(format!("{url} answered more than 1 MiB")));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| provider(format!("{url} is not the JSON expected: {e}")))
}

/// At most 300 characters of a provider's words.
fn bounded(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Checks an ID token: an accepted asymmetric algorithm, a key from `keys` (by `kid`), the
/// signature, `iss`, `aud` (and `azp` when there are several audiences), `exp` and `nbf`
/// (60 s of skew), and `nonce`. Returns the claims.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<Map<String, Value>, OidcError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| refused("the ID token is not a signed JWT"))?;
    if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
        return Err(refused(format!(
            "the ID token is signed with {:?}, which is not accepted (RS*, PS*, ES256, ES384 are)",
            header.alg
        )));
    }
    let jwk = match header.kid.as_deref() {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| refused("the ID token is signed with a key the provider does not publish"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| {
        provider(format!(
            "the provider publishes a key tfmirror cannot use: {e}"
        ))
    })?;
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            refused(match e.kind() {
                K::InvalidSignature => "the ID token's signature does not verify".to_owned(),
                K::ExpiredSignature => "the ID token has expired".to_owned(),
                K::ImmatureSignature => "the ID token is not valid yet".to_owned(),
                K::InvalidIssuer => format!("the ID token was not issued by {issuer}"),
                K::InvalidAudience => "the ID token is for another client".to_owned(),
                K::InvalidAlgorithm => "the ID token's algorithm does not match its key".to_owned(),
                K::MissingRequiredClaim(c) => format!("the ID token has no {c} claim"),
                other => format!("the ID token is invalid ({other:?})"),
            })
        })?
        .claims;
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err(refused(
            "the ID token's nonce is not this login's (a replayed token?)",
        ));
    }
    if let Some(Value::Array(aud)) = claims.get("aud")
        && aud.len() > 1
        && claims.get("azp").and_then(Value::as_str) != Some(client_id)
    {
        return Err(refused("the ID token was issued to another party (azp)"));
    }
    Ok(claims)
}

/// The user behind verified claims: subject, a valid tfmirror user name (the configured
/// claim, else `email`, else `sub`) and the groups.
pub fn identity(
    claims: &Map<String, Value>,
    issuer: &str,
    config: &OidcConfig,
) -> Result<Identity, OidcError> {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or_else(|| refused("the ID token has no usable sub claim"))?;
    let username = [config.username_claim.as_str(), "email", "sub"]
        .iter()
        .filter_map(|c| claims.get(*c).and_then(Value::as_str))
        .find(|name| crate::domain::valid_username(name))
        .ok_or_else(|| {
            refused(format!(
                "none of the {}, email and sub claims is a usable user name (1 to 64 letters, digits, '.', '_', '-' or '@')",
                config.username_claim
            ))
        })?;
    Ok(Identity {
        subject: format!("{}#{sub}", issuer.trim_end_matches('/')),
        username: username.to_owned(),
        groups: groups(claims.get(&config.groups_claim)),
    })
}

/// A groups claim: an array of strings, or one string.
fn groups(claim: Option<&Value>) -> Vec<String> {
    match claim {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .take(MAX_GROUPS)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Admin for a member of an admin group, viewer for a member of a viewer group, else no role.
pub fn role_for(groups: &[String], config: &OidcConfig) -> Option<Role> {
    let member = |wanted: &[String]| groups.iter().any(|g| wanted.contains(g));
    if member(&config.admin_groups) {
        Some(Role::Admin)
    } else if member(&config.viewer_groups) {
        Some(Role::Viewer)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const ISSUER: &str = "https://login.example.test";
    const CLIENT: &str = "tfmirror";
    const NONCE: &str = "n-0S6_WzA2Mj";

    /// An ES256 key pair: the signing key and the JWKS publishing it as `kid`.
    fn key(kid: &str) -> (EncodingKey, JwkSet) {
        let pair = rcgen::KeyPair::generate().unwrap();
        let raw = pair.public_key_raw();
        assert_eq!(raw.len(), 65, "an uncompressed P-256 point");
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks: JwkSet = serde_json::from_value(json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": b64(&raw[1..33]), "y": b64(&raw[33..]),
        }]}))
        .unwrap();
        (EncodingKey::from_ec_der(&pair.serialize_der()), jwks)
    }

    fn claims(tweak: impl FnOnce(&mut Map<String, Value>)) -> Map<String, Value> {
        let now = crate::clock::now();
        let mut c = json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "iat": now, "exp": now + 300,
            "nonce": NONCE, "preferred_username": "alice", "groups": ["tfm-admins"],
        })
        .as_object()
        .unwrap()
        .clone();
        tweak(&mut c);
        c
    }

    fn sign(key: &EncodingKey, kid: &str, claims: &Map<String, Value>) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn refusal(r: Result<Map<String, Value>, OidcError>) -> String {
        match r {
            Err(OidcError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_id_token_verifies_and_names_its_user_and_groups() {
        let (k, jwks) = key("k1");
        let token = sign(&k, "k1", &claims(|_| {}));
        let c = verify_id_token(&token, &jwks, ISSUER, CLIENT, NONCE).unwrap();
        let config = OidcConfig {
            admin_groups: vec!["tfm-admins".into()],
            ..OidcConfig::default()
        };
        let who = identity(&c, ISSUER, &config).unwrap();
        assert_eq!(who.username, "alice");
        assert_eq!(who.subject, "https://login.example.test#248289761001");
        assert_eq!(role_for(&who.groups, &config), Some(Role::Admin));
    }

    #[test]
    fn tampered_expired_foreign_and_replayed_tokens_are_refused() {
        let (k, jwks) = key("k1");
        let good = sign(&k, "k1", &claims(|_| {}));

        // The payload changed after signing (a group added).
        let parts: Vec<&str> = good.split('.').collect();
        let mut payload = claims(|c| {
            c.insert("groups".into(), json!(["tfm-admins", "root"]));
        });
        payload.insert("preferred_username".into(), json!("mallory"));
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&payload).unwrap()),
            parts[2]
        );
        assert!(
            refusal(verify_id_token(&forged, &jwks, ISSUER, CLIENT, NONCE)).contains("signature")
        );

        // Signed by someone else's key with the same kid.
        let (other, _) = key("k1");
        let foreign = sign(&other, "k1", &claims(|_| {}));
        assert!(
            refusal(verify_id_token(&foreign, &jwks, ISSUER, CLIENT, NONCE)).contains("signature")
        );

        let now = crate::clock::now();
        let expired = sign(
            &k,
            "k1",
            &claims(|c| {
                c.insert("exp".into(), json!(now - 120));
                c.insert("iat".into(), json!(now - 600));
            }),
        );
        assert!(
            refusal(verify_id_token(&expired, &jwks, ISSUER, CLIENT, NONCE)).contains("expired")
        );
        // Within the 60 s of skew it is still fine.
        let just = sign(
            &k,
            "k1",
            &claims(|c| {
                c.insert("exp".into(), json!(now - 30));
            }),
        );
        assert!(verify_id_token(&just, &jwks, ISSUER, CLIENT, NONCE).is_ok());

        let early = sign(
            &k,
            "k1",
            &claims(|c| {
                c.insert("nbf".into(), json!(now + 600));
            }),
        );
        assert!(
            refusal(verify_id_token(&early, &jwks, ISSUER, CLIENT, NONCE))
                .contains("not valid yet")
        );

        let wrong_iss = sign(
            &k,
            "k1",
            &claims(|c| {
                c.insert("iss".into(), json!("https://evil.example.test"));
            }),
        );
        assert!(
            refusal(verify_id_token(&wrong_iss, &jwks, ISSUER, CLIENT, NONCE))
                .contains("not issued by")
        );

        let wrong_aud = sign(
            &k,
            "k1",
            &claims(|c| {
                c.insert("aud".into(), json!("another-app"));
            }),
        );
        assert!(
            refusal(verify_id_token(&wrong_aud, &jwks, ISSUER, CLIENT, NONCE))
                .contains("another client")
        );

        let shared = sign(
            &k,
            "k1",
            &claims(|c| {
                c.insert("aud".into(), json!([CLIENT, "another-app"]));
                c.insert("azp".into(), json!("another-app"));
            }),
        );
        assert!(refusal(verify_id_token(&shared, &jwks, ISSUER, CLIENT, NONCE)).contains("azp"));

        assert!(
            refusal(verify_id_token(
                &good,
                &jwks,
                ISSUER,
                CLIENT,
                "another-nonce"
            ))
            .contains("nonce")
        );

        let unknown_kid = sign(&k, "k2", &claims(|_| {}));
        assert!(
            refusal(verify_id_token(&unknown_kid, &jwks, ISSUER, CLIENT, NONCE))
                .contains("does not publish")
        );

        // alg "none" and symmetric algorithms are never accepted.
        let none = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(br#"{"alg":"none","kid":"k1"}"#),
            parts[1]
        );
        assert!(verify_id_token(&none, &jwks, ISSUER, CLIENT, NONCE).is_err());
        let mut hs = Header::new(Algorithm::HS256);
        hs.kid = Some("k1".into());
        let symmetric =
            jsonwebtoken::encode(&hs, &claims(|_| {}), &EncodingKey::from_secret(b"x")).unwrap();
        assert!(
            refusal(verify_id_token(&symmetric, &jwks, ISSUER, CLIENT, NONCE))
                .contains("not accepted")
        );

        let no_sub = sign(
            &k,
            "k1",
            &claims(|c| {
                c.remove("sub");
            }),
        );
        assert!(refusal(verify_id_token(&no_sub, &jwks, ISSUER, CLIENT, NONCE)).contains("sub"));
    }

    #[test]
    fn groups_map_to_roles_admin_first_and_names_fall_back() {
        let config = OidcConfig {
            admin_groups: vec!["ops".into()],
            viewer_groups: vec!["dev".into()],
            ..OidcConfig::default()
        };
        let g = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(role_for(&g(&["dev", "ops"]), &config), Some(Role::Admin));
        assert_eq!(role_for(&g(&["dev"]), &config), Some(Role::Viewer));
        assert_eq!(role_for(&g(&["sales"]), &config), None);
        assert_eq!(role_for(&[], &config), None);

        let c = claims(|c| {
            c.insert("preferred_username".into(), json!("Alice Smith"));
            c.insert("email".into(), json!("alice@example.test"));
            c.insert("groups".into(), json!("dev"));
        });
        let who = identity(&c, ISSUER, &config).unwrap();
        assert_eq!(
            who.username, "alice@example.test",
            "a name with a space is not usable"
        );
        assert_eq!(who.groups, ["dev"], "one string is one group");
    }

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 43);
    }
}
