//! Checks that span keys, run once every layer is applied, and bounds on values that would
//! break the service (a zero limit refuses everything; a huge duration overflows or panics
//! deep inside a library).

use super::{Config, patterns::valid_provider_pattern, url_has_credentials};

/// A value a check refused: the key's path (segments as written, so an upstream's hostname
/// is one segment) and why. The loader adds where the key was set.
#[derive(Debug)]
pub(super) struct Refusal {
    pub path: Vec<String>,
    pub message: String,
}

/// The key as a person writes it: `server.listen`, `upstream "registry.example.com".url`.
pub(super) fn key_name(path: &[String]) -> String {
    match path {
        [block, label, rest @ ..] if block == "upstream" => {
            let mut name = format!("upstream {label:?}");
            for segment in rest {
                name.push('.');
                name.push_str(segment);
            }
            name
        }
        _ => path.join("."),
    }
}

/// A year in seconds: the longest time-to-live that makes sense (the in-memory caches panic
/// past 1000 years, and far smaller values are already mistakes).
const YEAR_SECONDS: u64 = 365 * 24 * 3600;
/// More threads or concurrent downloads than any machine this runs on can use.
const MAX_PARALLEL: usize = 1024;

fn refuse(path: &[&str], message: impl Into<String>) -> Result<(), Refusal> {
    Err(Refusal {
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        message: message.into(),
    })
}

/// `value` must be within `min..=max`; the message says which bound and why it matters.
fn within<T: PartialOrd + std::fmt::Display>(
    path: &[&str],
    value: T,
    min: T,
    max: T,
    why: &str,
) -> Result<(), Refusal> {
    if value < min || value > max {
        return refuse(
            path,
            format!("must be between {min} and {max}{why}, not {value}"),
        );
    }
    Ok(())
}

/// `value` must be at least 1.
fn positive(path: &[&str], value: u64, why: &str) -> Result<(), Refusal> {
    if value == 0 {
        return refuse(path, format!("must be at least 1{why}"));
    }
    Ok(())
}

/// A log filter must parse and give every directive a level: `chatty` alone parses (as "all
/// levels of the target `chatty`") but silences everything else.
fn check_log_level(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    if level.trim().is_empty() {
        return Err("must not be empty: use a level (trace, debug, info, warn, error, off) or directives like tfmirror=debug,info".into());
    }
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let named = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
        if !LEVELS.contains(&named.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{directive:?} names no level: use one of trace, debug, info, warn, error, off, or TARGET=LEVEL (e.g. tfmirror=debug,info)"
            ));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map(drop)
        .map_err(|e| format!("is not a valid log filter: {e}"))
}

impl Config {
    pub(super) fn validate(&self) -> Result<(), Refusal> {
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            return refuse(
                &["server", "listen"],
                "must be HOST:PORT with an IP address, e.g. 127.0.0.1:8443",
            );
        }
        if let Some(url) = &self.server.public_url {
            let fine = url::Url::parse(url)
                .ok()
                .filter(plain_http_url)
                .is_some_and(|u| u.username().is_empty() && u.password().is_none());
            if !fine {
                return refuse(
                    &["server", "public_url"],
                    "must be an http:// or https:// URL without credentials, query or fragment, e.g. https://mirror.example.com/",
                );
            }
        }
        if let Some(oidc) = &self.auth.oidc {
            let at = |key: &'static str| vec!["auth", "oidc", key];
            let Some(issuer) = url::Url::parse(&oidc.issuer).ok().filter(plain_http_url) else {
                return refuse(
                    &at("issuer"),
                    "must be the provider's issuer URL, e.g. https://login.example.com/realms/main",
                );
            };
            if issuer.scheme() == "http" && !is_loopback(&issuer) {
                return refuse(
                    &at("issuer"),
                    "must be https:// (plain http is accepted on loopback only, for testing)",
                );
            }
            if oidc.client_id.trim().is_empty() {
                return refuse(
                    &at("client_id"),
                    "must be set (the client registered at the provider)",
                );
            }
            if oidc.admin_groups.is_empty() && oidc.viewer_groups.is_empty() {
                return refuse(
                    &at("admin_groups"),
                    "set admin_groups and/or viewer_groups: with neither, nobody could log in",
                );
            }
            for (key, value) in [
                ("groups_claim", &oidc.groups_claim),
                ("username_claim", &oidc.username_claim),
                ("display_name", &oidc.display_name),
            ] {
                if value.trim().is_empty() || value.len() > 100 {
                    return refuse(&at(key), "must be 1 to 100 characters");
                }
            }
        }
        within(
            &["server", "workers"],
            self.server.workers,
            0,
            MAX_PARALLEL,
            " (0: one per core)",
        )?;
        within(
            &["server", "body_grace_seconds"],
            self.server.body_grace_seconds,
            1,
            3_600,
            "",
        )?;
        within(
            &["server", "min_body_bytes_per_second"],
            self.server.min_body_bytes_per_second,
            1,
            1 << 30,
            "",
        )?;
        within(
            &["database", "max_connections"],
            self.database.max_connections,
            1,
            MAX_PARALLEL as u32,
            "",
        )?;
        // SQLite takes the busy timeout as a C int of milliseconds; 0 makes every write that
        // meets another fail at once.
        within(
            &["database", "busy_timeout_ms"],
            self.database.busy_timeout_ms,
            1,
            i32::MAX as u64,
            "",
        )?;
        within(
            &["database", "acquire_timeout_ms"],
            self.database.acquire_timeout_ms,
            100,
            60_000,
            "",
        )?;
        within(
            &["database", "statement_timeout_ms"],
            self.database.statement_timeout_ms,
            100,
            3_600_000,
            "",
        )?;
        if self.database.is_postgres() {
            let url = self.database.url.expose();
            if !super::is_postgres_url(url) {
                return refuse(
                    &["database", "url"],
                    "must be a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE)",
                );
            }
            if self.database.path.is_some() {
                return refuse(
                    &["database"],
                    "url (PostgreSQL) and path (SQLite) cannot both be set",
                );
            }
        }
        if let Some(s3) = self.storage.s3() {
            if s3.bucket.is_empty() {
                return refuse(&["storage", "s3", "bucket"], "is required for S3 storage");
            }
            if s3.access_key_id.is_some() == s3.secret_access_key.is_empty() {
                return refuse(
                    &["storage", "s3"],
                    "access_key_id and secret_access_key must be set together (or neither, for the AWS credential chain)",
                );
            }
            within(
                &["storage", "s3", "multipart_part_mib"],
                s3.multipart_part_mib,
                5,
                5 * 1024,
                " (the S3 part sizes)",
            )?;
            within(
                &["storage", "s3", "presign_ttl_seconds"],
                s3.presign_ttl_seconds,
                1,
                7 * 24 * 3600,
                " (S3 presigned URLs last a week at most)",
            )?;
            within(
                &["storage", "s3", "timeout_seconds"],
                s3.timeout_seconds,
                1,
                3600,
                "",
            )?;
        }
        self.check_limits()?;
        for (host, upstream) in &self.upstream {
            let at = |key: &'static str| -> Vec<&str> {
                if key.is_empty() {
                    vec!["upstream", host.as_str()]
                } else {
                    vec!["upstream", host.as_str(), key]
                }
            };
            if crate::domain::Hostname::parse(host).is_err() {
                return refuse(&at(""), "is not a valid registry hostname");
            }
            if let Some(url) = &upstream.url {
                let parsed = url::Url::parse(url).ok();
                if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https")) {
                    return refuse(&at("url"), "must be an http:// or https:// URL");
                }
                if url_has_credentials(url) && !upstream.token.is_empty() {
                    return refuse(
                        &at(""),
                        "set either credentials in url (Basic) or token (Bearer), not both: a request carries only one Authorization header",
                    );
                }
            }
            within(
                &at("concurrency"),
                upstream.concurrency,
                1,
                MAX_PARALLEL,
                "",
            )?;
            positive(&at("timeout_seconds"), upstream.timeout_seconds, "")?;
            within(
                &at("metadata_ttl_seconds"),
                upstream.metadata_ttl_seconds,
                0,
                YEAR_SECONDS,
                "",
            )?;
            positive(
                &at("metadata_deadline_ms"),
                upstream.metadata_deadline_ms,
                " (0 would give up on the origin before asking it)",
            )?;
            within(
                &at("min_release_age_hours"),
                upstream.min_release_age_hours,
                0,
                10 * 365 * 24,
                " (ten years)",
            )?;
            for (list, patterns) in [("allow", &upstream.allow), ("deny", &upstream.deny)] {
                if let Some(bad) = patterns.iter().find(|p| !valid_provider_pattern(p)) {
                    return refuse(
                        &at(list),
                        format!("{bad:?} is not NAMESPACE or NAMESPACE/TYPE (\"*\" allowed)"),
                    );
                }
            }
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.expose().len() < 32 {
            return refuse(&["auth", "jwt_secret"], "must be at least 32 bytes long");
        }
        within(
            &["auth", "session_minutes"],
            self.auth.session_minutes,
            1,
            YEAR_SECONDS / 60,
            " (a year)",
        )?;
        positive(
            &["auth", "max_failures"],
            u64::from(self.auth.max_failures),
            "",
        )?;
        // 0 would leave login throttling nothing to count with.
        within(
            &["auth", "lockout_max_seconds"],
            self.auth.lockout_max_seconds,
            1,
            YEAR_SECONDS,
            "",
        )?;
        within(
            &["auth", "failure_window_seconds"],
            self.auth.failure_window_seconds,
            1,
            YEAR_SECONDS,
            "",
        )?;
        // Long enough for a slow `terraform init` to reach its last archive; short enough
        // that a leaked link soon stops working.
        within(
            &["auth", "signed_url_seconds"],
            self.auth.signed_url_seconds,
            60,
            7 * 86_400,
            " (a week)",
        )?;
        if crate::domain::Hostname::parse(&self.registry.default_origin).is_err() {
            return refuse(
                &["registry", "default_origin"],
                "is not a valid registry hostname",
            );
        }
        within(
            &["worker", "concurrency"],
            self.worker.concurrency,
            1,
            MAX_PARALLEL,
            "",
        )?;
        positive(
            &["worker", "max_attempts"],
            u64::from(self.worker.max_attempts),
            "",
        )?;
        // A running item's heartbeat beats every second: below a few beats, items still
        // running would be taken for abandoned and done twice.
        within(
            &["worker", "stale_after_seconds"],
            self.worker.stale_after_seconds,
            5,
            YEAR_SECONDS,
            "",
        )?;
        if self.cache.metadata_ttl_seconds > 0 && self.cache.metadata_capacity == 0 {
            return refuse(
                &["cache", "metadata_capacity"],
                "must be at least 1 while cache.metadata_ttl_seconds is set (metadata_ttl_seconds = 0 turns the cache off)",
            );
        }
        // The cache weighs entries in bytes in a 32-bit weight: 4 GiB at most.
        within(
            &["cache", "metadata_capacity_mb"],
            self.cache.metadata_capacity_mb,
            u64::from(self.cache.metadata_ttl_seconds > 0),
            4096,
            " MiB (metadata_ttl_seconds = 0 turns the cache off)",
        )?;
        within(
            &["cache", "metadata_ttl_seconds"],
            self.cache.metadata_ttl_seconds,
            0,
            YEAR_SECONDS,
            "",
        )?;
        check_log_level(&self.log.level).or_else(|m| refuse(&["log", "level"], m))?;
        Ok(())
    }

    /// A limit of 0 refuses every archive, file or request body.
    fn check_limits(&self) -> Result<(), Refusal> {
        let l = &self.limits;
        for (key, value) in [
            ("max_archive_bytes", l.max_archive_bytes),
            ("max_unpacked_bytes", l.max_unpacked_bytes),
            ("max_zip_entries", l.max_zip_entries as u64),
            ("max_definitions_bytes", l.max_definitions_bytes as u64),
            ("max_json_bytes", l.max_json_bytes as u64),
            ("max_module_bytes", l.max_module_bytes),
            ("max_module_files", l.max_module_files as u64),
            ("module_fetch_seconds", l.module_fetch_seconds),
        ] {
            positive(&["limits", key], value, " (0 would refuse everything)")?;
        }
        Ok(())
    }
}

/// An http:// or https:// URL with a host and no query or fragment: an address to show
/// users or to start discovery at.
fn plain_http_url(u: &url::Url) -> bool {
    matches!(u.scheme(), "http" | "https")
        && u.host().is_some()
        && u.query().is_none()
        && u.fragment().is_none()
}

/// Whether a URL's host is a loopback address or `localhost`.
fn is_loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
