//! Names of registry modules (`terraform-aws-modules/vpc/aws` at its origin registry), by
//! Terraform's rules (`internal/registry/regsrc`): the namespace and the name are letters,
//! digits, hyphens and underscores, starting and ending with a letter or digit, up to 64
//! characters; the target system is lowercase letters and digits. Registries match them
//! case-insensitively, so they are kept lowercase.

use std::fmt;

use serde::Serialize;

use super::names::{DEFAULT_ORIGIN, Hostname, InvalidName, invalid};

fn parse_module_part(kind: &'static str, s: &str) -> Result<String, InvalidName> {
    if s.is_empty() || s.len() > 64 {
        return Err(invalid(kind, s, "must be 1 to 64 characters"));
    }
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if !edge_ok(s.as_bytes().first()) || !edge_ok(s.as_bytes().last()) {
        return Err(invalid(
            kind,
            s,
            "must start and end with a letter or digit",
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            kind,
            s,
            "may contain only letters, digits, hyphens and underscores",
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// A module's name (`vpc`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleName(String);

impl ModuleName {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        parse_module_part("module name", s).map(Self)
    }
}

/// The module's target system (`aws`): the provider it is written for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleSystem(String);

impl ModuleSystem {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        if s.is_empty() || s.len() > 64 {
            return Err(invalid(
                "module target system",
                s,
                "must be 1 to 64 characters",
            ));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(
                "module target system",
                s,
                "may contain only letters and digits",
            ));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }
}

/// A module namespace (`terraform-aws-modules`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleNamespace(String);

impl ModuleNamespace {
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        parse_module_part("module namespace", s).map(Self)
    }
}

macro_rules! module_newtype {
    ($($name:ident),*) => {$(
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
    )*};
}
module_newtype!(ModuleName, ModuleSystem, ModuleNamespace);

/// `registry.terraform.io/terraform-aws-modules/vpc/aws`: a module at its origin registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleAddress {
    pub hostname: Hostname,
    pub namespace: ModuleNamespace,
    pub name: ModuleName,
    pub system: ModuleSystem,
}

impl ModuleAddress {
    pub fn new(
        hostname: &str,
        namespace: &str,
        name: &str,
        system: &str,
    ) -> Result<Self, InvalidName> {
        Ok(Self {
            hostname: Hostname::parse(hostname)?,
            namespace: ModuleNamespace::parse(namespace)?,
            name: ModuleName::parse(name)?,
            system: ModuleSystem::parse(system)?,
        })
    }

    /// Parses `HOST/NAMESPACE/NAME/SYSTEM` or `NAMESPACE/NAME/SYSTEM` (origin
    /// `registry.terraform.io`), the registry source forms Terraform accepts.
    pub fn parse(s: &str) -> Result<Self, InvalidName> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [h, n, m, t] => Self::new(h, n, m, t),
            [n, m, t] => Self::new(DEFAULT_ORIGIN, n, m, t),
            _ => Err(invalid(
                "module address",
                s,
                "must be HOSTNAME/NAMESPACE/NAME/SYSTEM or NAMESPACE/NAME/SYSTEM",
            )),
        }
    }

    /// `NAMESPACE/NAME/SYSTEM`, the path of the module under a `modules.v1` base.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.name, self.system)
    }
}

impl fmt::Display for ModuleAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hostname, self.path())
    }
}

impl Serialize for ModuleAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_addresses_follow_terraforms_rules() {
        let a = ModuleAddress::parse("terraform-aws-modules/VPC/aws").unwrap();
        assert_eq!(
            a.to_string(),
            "registry.terraform.io/terraform-aws-modules/vpc/aws"
        );
        let a = ModuleAddress::parse("example.com:8443/my_org/net_base/aws").unwrap();
        assert_eq!(a.hostname.as_str(), "example.com:8443");
        assert_eq!(a.path(), "my_org/net_base/aws");
        for bad in [
            "a/b",
            "a/b/c/d/e",
            "ns/-vpc/aws",
            "ns/vpc_/aws",
            "ns/vpc/aws-x",
            "ns/v.pc/aws",
            "../vpc/aws",
            "ns/vpc/",
        ] {
            let err = ModuleAddress::parse(bad).unwrap_err();
            assert!(!err.reason.is_empty(), "{bad}");
        }
        let long = "a".repeat(65);
        assert!(ModuleAddress::parse(&format!("ns/{long}/aws")).is_err());
    }
}
