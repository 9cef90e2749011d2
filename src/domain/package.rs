//! One package (provider, version, platform), where it came from, and the proof of origin
//! recorded with it.

use super::names::{Platform, ProviderAddress, Version, package_filename};

/// Where a package goes: provider, version and platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PackageId {
    pub address: ProviderAddress,
    pub version: Version,
    pub platform: Platform,
}

impl PackageId {
    pub fn filename(&self) -> String {
        package_filename(&self.address.provider_type, &self.version, &self.platform)
    }
}

impl std::fmt::Display for PackageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.address, self.version, self.platform)
    }
}

/// How a package reached the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageSource {
    Import,
    Upload,
    Job,
    PullThrough,
}

impl PackageSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Upload => "upload",
            Self::Job => "job",
            Self::PullThrough => "pull-through",
        }
    }
}

/// `SHA256SUMS`, its signature and the key that verified it: why a package from a registry
/// is trusted, kept so the registry protocol can re-serve the origin's own signature.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub shasums: String,
    /// `None` for an upstream with `allow_unsigned = true` that offered no signature.
    pub signature: Option<Vec<u8>>,
    pub signing_key_id: Option<String>,
    pub signing_key_armor: Option<String>,
    pub protocols: Vec<String>,
}
