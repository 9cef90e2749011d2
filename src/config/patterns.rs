//! The provider patterns of an upstream's `allow` and `deny` lists.

use super::UpstreamConfig;

/// `namespace`, `namespace/type`, either part `*`: the forms of `allow` and `deny`.
pub fn valid_provider_pattern(p: &str) -> bool {
    let part = |s: &str| {
        s == "*"
            || (!s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    match p.split_once('/') {
        Some((ns, ty)) => part(ns) && part(ty),
        None => part(p),
    }
}

/// Whether `namespace/type` matches a pattern of that form.
pub fn provider_pattern_matches(p: &str, namespace: &str, provider_type: &str) -> bool {
    let eq = |pat: &str, s: &str| pat == "*" || pat.eq_ignore_ascii_case(s);
    match p.split_once('/') {
        Some((ns, ty)) => eq(ns, namespace) && eq(ty, provider_type),
        None => eq(p, namespace),
    }
}

impl UpstreamConfig {
    /// The allow and deny lists applied to one provider.
    pub fn permits(&self, namespace: &str, provider_type: &str) -> bool {
        let hit = |list: &[String]| {
            list.iter()
                .any(|p| provider_pattern_matches(p, namespace, provider_type))
        };
        !hit(&self.deny) && (self.allow.is_empty() || hit(&self.allow))
    }
}
