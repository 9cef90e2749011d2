//! Checks that span keys, run once every layer is applied.

use super::{Config, ConfigError, patterns::valid_provider_pattern, url_has_credentials};

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                location: "configuration".into(),
                message: format!("{key}: {message}"),
            })
        };
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid(
                "server.listen",
                "must be HOST:PORT with an IP address, e.g. 127.0.0.1:8443",
            );
        }
        if let Some(s3) = self.storage.s3() {
            if s3.bucket.is_empty() {
                return invalid("storage.s3.bucket", "is required for S3 storage");
            }
            if s3.access_key_id.is_some() == s3.secret_access_key.is_empty() {
                return invalid(
                    "storage.s3",
                    "access_key_id and secret_access_key must be set together (or neither, for the AWS credential chain)",
                );
            }
            if s3.multipart_part_mib < 5 {
                return invalid(
                    "storage.s3.multipart_part_mib",
                    "must be at least 5 (the S3 minimum part size)",
                );
            }
            if s3.presign_ttl_seconds == 0 || s3.presign_ttl_seconds > 7 * 24 * 3600 {
                return invalid(
                    "storage.s3.presign_ttl_seconds",
                    "must be between 1 and 604800",
                );
            }
        }
        for (host, upstream) in &self.upstream {
            let key = format!("upstream \"{host}\"");
            if crate::domain::Hostname::parse(host).is_err() {
                return invalid(&key, "is not a valid registry hostname");
            }
            if let Some(url) = &upstream.url {
                let parsed = reqwest::Url::parse(url).ok();
                if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https")) {
                    return invalid(&format!("{key}.url"), "must be an http:// or https:// URL");
                }
                if url_has_credentials(url) && !upstream.token.is_empty() {
                    return invalid(
                        &key,
                        "set either credentials in url (Basic) or token (Bearer), not both: a request carries only one Authorization header",
                    );
                }
            }
            if upstream.concurrency == 0 || upstream.timeout_seconds == 0 {
                return invalid(&key, "concurrency and timeout_seconds must be at least 1");
            }
            for (list, patterns) in [("allow", &upstream.allow), ("deny", &upstream.deny)] {
                if let Some(bad) = patterns.iter().find(|p| !valid_provider_pattern(p)) {
                    return invalid(
                        &format!("{key}.{list}"),
                        &format!("{bad:?} is not NAMESPACE or NAMESPACE/TYPE (\"*\" allowed)"),
                    );
                }
            }
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.expose().len() < 32 {
            return invalid("auth.jwt_secret", "must be at least 32 bytes long");
        }
        if self.auth.session_minutes == 0 || self.auth.max_failures == 0 {
            return invalid(
                "auth",
                "session_minutes and max_failures must be at least 1",
            );
        }
        if crate::domain::Hostname::parse(&self.registry.default_origin).is_err() {
            return invalid(
                "registry.default_origin",
                "is not a valid registry hostname",
            );
        }
        if self.worker.concurrency == 0 || self.worker.max_attempts == 0 {
            return invalid("worker", "concurrency and max_attempts must be at least 1");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        Ok(())
    }
}
