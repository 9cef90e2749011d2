//! Who may read the mirror and registry protocols (`auth.read_access`). With `token`, a
//! request needs an API token of any role (Terraform sends the one of its `credentials`
//! block on every JSON request) or, for what Terraform downloads without credentials
//! (archives, `SHA256SUMS` and its signature), a valid signed URL that a document handed out.

use std::borrow::Cow;

use actix_web::HttpRequest;
use serde_json::Value;

use crate::auth::signed_url::{EXPIRES, SIGNATURE};
use crate::catalog::Rendered;
use crate::config::ReadAccess;
use crate::http::error::AppError;
use crate::state::AppState;

/// What a client without a token is told.
const NEEDS_TOKEN: &str = "this mirror requires a token: add a `credentials \"HOST\" { token = \"...\" }` block for this mirror's host to the Terraform or OpenTofu CLI configuration, with an API token of the consumer role (or set TF_TOKEN_HOST)";

/// Whether reading needs a token.
pub fn required(state: &AppState) -> bool {
    state.config.auth.read_access == ReadAccess::Token
}

/// Lets a read through: always when anyone may read; otherwise with a signed URL valid for
/// this path (403 when it is expired or forged: a token would not help), or with any valid
/// token (401 without one).
pub async fn allow_read(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    if !required(state) {
        return Ok(());
    }
    if let Some((expires, signature)) = signed_params(req.query_string()) {
        return state
            .auth_keys
            .urls
            .verify(req.path(), &expires, &signature, crate::clock::now())
            .map_err(|e| AppError::Forbidden(e.to_string()));
    }
    match crate::http::caller::authenticate(req.clone()).await {
        Ok(_) => Ok(()),
        Err(AppError::Unauthorized(_)) => Err(AppError::Unauthorized(NEEDS_TOKEN.into())),
        Err(e) => Err(e),
    }
}

/// The `expires` and `signature` parameters, when the query has both.
fn signed_params(query: &str) -> Option<(String, String)> {
    let mut expires = None;
    let mut signature = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            EXPIRES => expires = Some(v.into_owned()),
            SIGNATURE => signature = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((expires?, signature?))
}

/// `path` signed when reading needs a token, else `path` itself.
pub fn link(state: &AppState, path: String) -> String {
    if required(state) {
        state.auth_keys.urls.sign(&path, crate::clock::now())
    } else {
        path
    }
}

/// A `{version}.json` whose archive URLs are signed when reading needs a token. The URLs in
/// the document are relative to the document's own path (`req`), as the client resolves them.
pub fn version_doc<'a>(
    req: &HttpRequest,
    state: &AppState,
    doc: &'a Rendered,
) -> Cow<'a, Rendered> {
    if !required(state) {
        return Cow::Borrowed(doc);
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&doc.body) else {
        return Cow::Borrowed(doc);
    };
    let path = req.path();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let now = crate::clock::now();
    if let Some(archives) = value.get_mut("archives").and_then(Value::as_object_mut) {
        for archive in archives.values_mut() {
            let Some(url) = archive.get("url").and_then(Value::as_str) else {
                continue;
            };
            // Only the mirror's own relative names; anything else is left as it is.
            if url.contains(['/', '?', ':']) {
                continue;
            }
            let query = state.auth_keys.urls.query(&format!("{dir}{url}"), now);
            let signed = format!("{url}?{query}");
            archive["url"] = Value::String(signed);
        }
    }
    Cow::Owned(Rendered::new(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_parameters_need_both_and_ignore_the_rest() {
        assert_eq!(
            signed_params("expires=12&signature=ab&x=1"),
            Some(("12".into(), "ab".into()))
        );
        assert_eq!(signed_params("expires=12"), None);
        assert_eq!(signed_params(""), None);
        assert_eq!(
            signed_params("signature=a%62&expires=1"),
            Some(("1".into(), "ab".into()))
        );
    }
}
