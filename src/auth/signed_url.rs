//! Short-lived signed URLs for what Terraform downloads without credentials. Terraform and
//! OpenTofu send a `credentials` token on the JSON requests of the mirror and registry
//! protocols, never on archive or `SHA256SUMS` downloads, so when reading needs a token the
//! documents hand out those URLs with `?expires=UNIX&signature=HEX`: an HMAC-SHA256 over the
//! path and the expiry, keyed by a key derived from the session secret.
//!
//! Expiries are rounded up to whole windows of `ttl`, so a document rendered now is the same
//! for a while (cacheable, one ETag) and every URL in it stays valid for at least `ttl`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The query parameters of a signed URL.
pub const EXPIRES: &str = "expires";
pub const SIGNATURE: &str = "signature";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignedUrlError {
    #[error("this download link has expired; run `terraform init` again to get a fresh one")]
    Expired,
    #[error("this download link is not valid: its signature does not match its path")]
    Invalid,
}

pub struct UrlSigner {
    key: [u8; 32],
    ttl: i64,
}

impl UrlSigner {
    /// `secret` is the session secret; the key is derived from it for this use only.
    pub fn new(secret: &[u8], ttl_seconds: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"tfmirror signed URL key v1\0");
        h.update(secret);
        Self {
            key: h.finalize().into(),
            ttl: i64::try_from(ttl_seconds.max(1)).unwrap_or(i64::MAX / 4),
        }
    }

    /// When a URL signed at `now` expires: the end of the window after the current one, so
    /// at least `ttl` and less than `2 * ttl` from now.
    pub fn expiry(&self, now: i64) -> i64 {
        (now.div_euclid(self.ttl) + 2) * self.ttl
    }

    fn mac(&self, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The query string (without `?`) that makes `path` readable until [`Self::expiry`].
    pub fn query(&self, path: &str, now: i64) -> String {
        let expires = self.expiry(now);
        let signature = hex::encode(self.mac(path, expires).finalize().into_bytes());
        format!("{EXPIRES}={expires}&{SIGNATURE}={signature}")
    }

    /// `path?query`.
    pub fn sign(&self, path: &str, now: i64) -> String {
        format!("{path}?{}", self.query(path, now))
    }

    /// Checks the `expires` and `signature` parameters of a request for `path` (compared in
    /// constant time). The signature is checked before the expiry, so a forged link never
    /// learns more than "not valid".
    pub fn verify(
        &self,
        path: &str,
        expires: &str,
        signature: &str,
        now: i64,
    ) -> Result<(), SignedUrlError> {
        let expires_at: i64 = expires.parse().map_err(|_| SignedUrlError::Invalid)?;
        let signature = hex::decode(signature).map_err(|_| SignedUrlError::Invalid)?;
        self.mac(path, expires_at)
            .verify_slice(&signature)
            .map_err(|_| SignedUrlError::Invalid)?;
        if expires_at <= now {
            return Err(SignedUrlError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str =
        "/registry.terraform.io/hashicorp/null/terraform-provider-null_3.2.1_linux_amd64.zip";

    fn params(query: &str) -> (String, String) {
        let mut expires = String::new();
        let mut signature = String::new();
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            match k {
                EXPIRES => expires = v.to_owned(),
                SIGNATURE => signature = v.to_owned(),
                other => panic!("unexpected parameter {other}"),
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_signed_path_verifies_until_it_expires_and_only_for_that_path() {
        let signer = UrlSigner::new(b"a session secret", 3600);
        let now = 1_800_000_123;
        let (expires, signature) = params(&signer.query(PATH, now));
        assert_eq!(signer.verify(PATH, &expires, &signature, now), Ok(()));
        let expires_at: i64 = expires.parse().unwrap();
        assert!(
            expires_at >= now + 3600 && expires_at < now + 7200,
            "{expires_at}"
        );
        assert_eq!(
            signer.verify(PATH, &expires, &signature, expires_at - 1),
            Ok(())
        );
        assert_eq!(
            signer.verify(PATH, &expires, &signature, expires_at),
            Err(SignedUrlError::Expired)
        );
        let other = PATH.replace("linux_amd64", "darwin_arm64");
        assert_eq!(
            signer.verify(&other, &expires, &signature, now),
            Err(SignedUrlError::Invalid)
        );
        // A later expiry with the old signature: refused, not extended.
        let later = (expires_at + 3600).to_string();
        assert_eq!(
            signer.verify(PATH, &later, &signature, now),
            Err(SignedUrlError::Invalid)
        );
        let mut flipped = signature.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(
            signer.verify(PATH, &expires, &flipped, now),
            Err(SignedUrlError::Invalid)
        );
        for (e, s) in [
            ("", ""),
            ("x", &signature),
            (&expires, "zz"),
            (&expires, ""),
        ] {
            assert_eq!(
                signer.verify(PATH, e, s, now),
                Err(SignedUrlError::Invalid),
                "{e:?} {s:?}"
            );
        }
    }

    #[test]
    fn another_secret_makes_other_signatures_and_a_window_keeps_the_same_url() {
        let a = UrlSigner::new(b"secret a", 600);
        let b = UrlSigner::new(b"secret b", 600);
        let now = 1_800_000_000;
        let (expires, signature) = params(&a.query(PATH, now));
        assert_eq!(
            b.verify(PATH, &expires, &signature, now),
            Err(SignedUrlError::Invalid)
        );
        // Within one window the URL does not change, so a rendered document stays the same.
        let window_start = now - now.rem_euclid(600);
        assert_eq!(a.sign(PATH, window_start), a.sign(PATH, window_start + 599));
        assert_ne!(a.sign(PATH, window_start), a.sign(PATH, window_start + 600));
    }
}
