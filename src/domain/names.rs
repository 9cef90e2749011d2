//! Newtypes for everything that names a provider package. They are the only way a request
//! path or an import file can reach the database or the blob store, so every storage key and
//! SQL parameter is built from validated values, never from raw input.

use std::fmt;

use serde::Serialize;

/// Why a value was refused; the message names the offending part for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct InvalidName {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

pub(super) fn invalid(kind: &'static str, value: &str, reason: &'static str) -> InvalidName {
    // Cap what we echo back so a hostile path cannot blow up logs or responses.
    let value: String = value.chars().take(80).collect();
    InvalidName {
        kind,
        value,
        reason,
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = InvalidName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

/// The provider's origin registry host (`registry.terraform.io`), optionally with a port.
/// Stored lowercase, as Terraform normalises it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hostname(String);
string_newtype!(Hostname);

impl Hostname {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        const KIND: &str = "hostname";
        if s.is_empty() || s.len() > 253 {
            return Err(invalid(KIND, s, "must be 1 to 253 characters"));
        }
        let lower = s.to_ascii_lowercase();
        let (host, port) = match lower.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (lower.as_str(), None),
        };
        if let Some(port) = port
            && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid(KIND, s, "port must be a number"));
        }
        let labels_ok = host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if !labels_ok {
            return Err(invalid(
                KIND,
                s,
                "must be dot-separated labels of letters, digits and inner hyphens",
            ));
        }
        Ok(Self(lower))
    }
}

/// A registry namespace (`hashicorp`): letters, digits and inner hyphens, up to 64 chars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);
string_newtype!(Namespace);

impl Namespace {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        parse_part("namespace", s).map(Self)
    }
}

/// A provider type (`aws`): the same alphabet as a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderType(String);
string_newtype!(ProviderType);

impl ProviderType {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        parse_part("provider type", s).map(Self)
    }
}

/// Terraform's rule for namespace and type names (`addrs.ParseProviderPart`), lowercased.
fn parse_part(kind: &'static str, s: &str) -> Result<String, InvalidName> {
    if s.is_empty() || s.len() > 64 {
        return Err(invalid(kind, s, "must be 1 to 64 characters"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(invalid(kind, s, "must not start or end with a hyphen"));
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(invalid(
            kind,
            s,
            "may contain only letters, digits and hyphens",
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// A provider version: strict semantic versioning, as the registries publish them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(semver::Version);

impl Version {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s.len() > 128 {
            return Err(invalid("version", s, "too long"));
        }
        semver::Version::parse(s)
            .map(Self)
            .map_err(|_| invalid("version", s, "must be a semantic version like 1.2.3"))
    }

    pub fn semver(&self) -> &semver::Version {
        &self.0
    }

    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}
impl std::str::FromStr for Version {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A target platform, `linux_amd64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let (os, arch) = s
            .split_once('_')
            .ok_or_else(|| invalid("platform", s, "must look like os_arch"))?;
        Self::new(os, arch).map_err(|_| invalid("platform", s, "must look like os_arch"))
    }

    pub fn new(os: &str, arch: &str) -> Result<Self, InvalidName> {
        let ok = |p: &str| {
            !p.is_empty()
                && p.len() <= 32
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !ok(os) {
            return Err(invalid("os", os, "must be lowercase letters and digits"));
        }
        if !ok(arch) {
            return Err(invalid(
                "arch",
                arch,
                "must be lowercase letters and digits",
            ));
        }
        Ok(Self {
            os: os.to_owned(),
            arch: arch.to_owned(),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.os, self.arch)
    }
}
impl std::str::FromStr for Platform {
    type Err = InvalidName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// `registry.terraform.io/hashicorp/aws`: a provider at its origin registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderAddress {
    pub hostname: Hostname,
    pub namespace: Namespace,
    pub provider_type: ProviderType,
}

impl ProviderAddress {
    pub fn new(hostname: &str, namespace: &str, provider_type: &str) -> Result<Self, InvalidName> {
        Ok(Self {
            hostname: Hostname::parse(hostname)?,
            namespace: Namespace::parse(namespace)?,
            provider_type: ProviderType::parse(provider_type)?,
        })
    }

    /// Parses `HOST/NAMESPACE/TYPE` or `NAMESPACE/TYPE` (origin `registry.terraform.io`),
    /// the source-address forms Terraform accepts.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [h, n, t] => Self::new(h, n, t),
            [n, t] => Self::new(DEFAULT_ORIGIN, n, t),
            _ => Err(invalid(
                "provider address",
                s,
                "must be HOSTNAME/NAMESPACE/TYPE or NAMESPACE/TYPE",
            )),
        }
    }
}

impl fmt::Display for ProviderAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.hostname, self.namespace, self.provider_type
        )
    }
}

/// The public Terraform registry, the origin of unqualified source addresses.
pub const DEFAULT_ORIGIN: &str = "registry.terraform.io";

/// The archive name every registry and mirror uses:
/// `terraform-provider-{type}_{version}_{os}_{arch}.zip`.
pub fn package_filename(
    provider_type: &ProviderType,
    version: &Version,
    platform: &Platform,
) -> String {
    format!(
        "terraform-provider-{}_{}_{}_{}.zip",
        provider_type, version, platform.os, platform.arch
    )
}

/// What the last segment of a network-mirror path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorFile {
    Index,
    Version(Version),
    /// A package archive of the provider, by its file name.
    Archive(String),
}

impl MirrorFile {
    /// `index.json`, `VERSION.json` or a package archive of `provider_type`; `Ok(None)` for
    /// any other name, `Err` for one of those shapes with an invalid version or platform.
    pub fn parse(provider_type: &ProviderType, file: &str) -> Result<Option<Self>, InvalidName> {
        if file == "index.json" {
            return Ok(Some(Self::Index));
        }
        if let Some(v) = file.strip_suffix(".json") {
            return Ok(Some(Self::Version(Version::parse(v)?)));
        }
        if file.ends_with(".zip") {
            parse_package_filename(provider_type, file)?;
            return Ok(Some(Self::Archive(file.to_owned())));
        }
        Ok(None)
    }
}

/// Splits an archive file name back into version and platform, checking it names `provider_type`.
pub fn parse_package_filename(
    provider_type: &ProviderType,
    filename: &str,
) -> Result<(Version, Platform), InvalidName> {
    let bad = || {
        invalid(
            "package file name",
            filename,
            "must be terraform-provider-TYPE_VERSION_OS_ARCH.zip",
        )
    };
    let rest = filename
        .strip_prefix("terraform-provider-")
        .and_then(|r| r.strip_suffix(".zip"))
        .and_then(|r| r.strip_prefix(provider_type.as_str()))
        .and_then(|r| r.strip_prefix('_'))
        .ok_or_else(bad)?;
    // VERSION may itself contain '_'? Semver does not allow it, so the last two '_' split platform.
    let mut it = rest.rsplitn(3, '_');
    let (arch, os, version) = match (it.next(), it.next(), it.next()) {
        (Some(a), Some(o), Some(v)) => (a, o, v),
        _ => return Err(bad()),
    };
    let version = Version::parse(version)?;
    let platform = Platform::new(os, arch)?;
    Ok((version, platform))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_normalised_and_checked() {
        assert_eq!(
            Hostname::parse("Registry.Terraform.IO").unwrap().as_str(),
            "registry.terraform.io"
        );
        assert_eq!(
            Hostname::parse("localhost:8443").unwrap().as_str(),
            "localhost:8443"
        );
        for bad in [
            "",
            "..",
            "a..b",
            "-a.com",
            "a-.com",
            "a.com:",
            "a.com:x",
            "a/b",
            "a b",
            "%2e%2e",
            "a.com:123456",
        ] {
            assert!(Hostname::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn namespace_and_type_follow_terraform_rules() {
        assert_eq!(Namespace::parse("HashiCorp").unwrap().as_str(), "hashicorp");
        assert!(ProviderType::parse("aws").is_ok());
        assert!(ProviderType::parse("google-beta").is_ok());
        for bad in ["", "-x", "x-", "a_b", "..", "a.b", "a/b", &"x".repeat(65)] {
            assert!(Namespace::parse(bad).is_err(), "{bad:?} should be refused");
            assert!(
                ProviderType::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn versions_are_semver_and_sort_numerically() {
        let mut v: Vec<Version> = ["1.10.0", "1.2.0", "1.2.0-beta1", "0.9.9"]
            .iter()
            .map(|s| Version::parse(s).unwrap())
            .collect();
        v.sort();
        let s: Vec<String> = v.iter().map(|v| v.to_string()).collect();
        assert_eq!(s, ["0.9.9", "1.2.0-beta1", "1.2.0", "1.10.0"]);
        for bad in ["", "1", "1.2", "v1.2.3", "1.2.3/../x", "../1.2.3"] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn platforms_are_os_arch() {
        let p = Platform::parse("linux_amd64").unwrap();
        assert_eq!((p.os.as_str(), p.arch.as_str()), ("linux", "amd64"));
        for bad in [
            "linux",
            "linux_",
            "_amd64",
            "Linux_amd64",
            "linux_amd64_x",
            "linux/amd64",
            "../x_y",
        ] {
            assert!(Platform::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn package_filenames_round_trip() {
        let t = ProviderType::parse("google-beta").unwrap();
        let v = Version::parse("4.0.0-rc1").unwrap();
        let p = Platform::parse("darwin_arm64").unwrap();
        let name = package_filename(&t, &v, &p);
        assert_eq!(
            name,
            "terraform-provider-google-beta_4.0.0-rc1_darwin_arm64.zip"
        );
        assert_eq!(parse_package_filename(&t, &name).unwrap(), (v, p));
        let other = ProviderType::parse("google").unwrap();
        assert!(parse_package_filename(&other, &name).is_err());
        assert!(
            parse_package_filename(&t, "terraform-provider-google-beta_1.0.0_linux.zip").is_err()
        );
    }

    #[test]
    fn source_addresses_default_to_the_public_registry() {
        let a = ProviderAddress::parse("hashicorp/null").unwrap();
        assert_eq!(a.to_string(), "registry.terraform.io/hashicorp/null");
        let b = ProviderAddress::parse("registry.opentofu.org/hashicorp/null").unwrap();
        assert_ne!(a, b);
        assert!(ProviderAddress::parse("a/b/c/d").is_err());
    }
}
