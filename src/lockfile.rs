//! `.terraform.lock.hcl`, Terraform's dependency lock file: written byte for byte as
//! `terraform init` and `terraform providers lock` write it (`internal/depsfile` in
//! Terraform), and read back so that a lock file's selections can be kept.
//!
//! The layout: two comment lines, then per provider (sorted by hostname, namespace, type) a
//! blank line and a `provider "HOST/NS/TYPE"` block with `version`, `constraints` (when there
//! are any, in [`crate::constraints::lock_file_string`]'s form; `=` aligned as `hclwrite`
//! aligns consecutive one-line attributes) and `hashes` (a sorted set, one per line, each
//! with a trailing comma; omitted when empty).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;

use crate::constraints::{ConstraintError, VersionConstraints};
use crate::domain::{ProviderAddress, Version};

/// The two lines every lock file starts with.
const HEADER: &str = "# This file is maintained automatically by \"terraform init\".\n\
                      # Manual edits may be lost in future updates.\n";

/// What a lock file records of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLock {
    pub address: ProviderAddress,
    pub version: Version,
    /// Terraform's canonical constraint string; empty when the configuration has none.
    pub constraints: String,
    /// `h1:` and `zh:` hashes; a set, written sorted.
    pub hashes: BTreeSet<String>,
}

/// Why a lock file could not be read: the line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LockFileError {
    pub line: usize,
    pub message: String,
}

/// The lock file for these providers, exactly as Terraform writes it.
pub fn render(locks: &[ProviderLock]) -> String {
    let mut sorted: Vec<&ProviderLock> = locks.iter().collect();
    sorted.sort_by(|a, b| {
        (
            a.address.hostname.as_str(),
            a.address.namespace.as_str(),
            a.address.provider_type.as_str(),
        )
            .cmp(&(
                b.address.hostname.as_str(),
                b.address.namespace.as_str(),
                b.address.provider_type.as_str(),
            ))
    });
    let mut out = String::from(HEADER);
    for lock in sorted {
        let _ = write!(out, "\nprovider {} {{\n", quoted(&lock.address.to_string()));
        let version = quoted(&lock.version.to_string());
        if lock.constraints.is_empty() {
            let _ = writeln!(out, "  version = {version}");
        } else {
            let _ = writeln!(out, "  version     = {version}");
            let _ = writeln!(out, "  constraints = {}", quoted(&lock.constraints));
        }
        if !lock.hashes.is_empty() {
            out.push_str("  hashes = [\n");
            for hash in &lock.hashes {
                let _ = writeln!(out, "    {},", quoted(hash));
            }
            out.push_str("  ]\n");
        }
        out.push_str("}\n");
    }
    out
}

/// An HCL string literal (what `hclwrite` escapes: quotes, backslashes, control characters
/// and the template openers `${` and `%{`).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Reads the provider locks of a lock file (blocks other than `provider`, such as the
/// `module` placeholder Terraform ignores, are skipped). Every value must be as Terraform
/// writes it: a fully qualified address, a version and constraints in canonical form.
pub fn parse(text: &str) -> Result<Vec<ProviderLock>, LockFileError> {
    let line_of = |span: Option<Range<usize>>| crate::textpos::line_of(text, span);
    let body: Body = hcl_edit::parser::parse_body(text).map_err(|e| LockFileError {
        line: e.location().line(),
        message: format!("not valid HCL: {}", e.message()),
    })?;
    let mut locks: Vec<ProviderLock> = Vec::new();
    for block in body.get_blocks("provider") {
        let line = line_of(block.ident.span());
        let fail = |message: String| LockFileError { line, message };
        let [label] = block.labels.as_slice() else {
            return Err(fail(
                "a provider block needs exactly one label, its address".into(),
            ));
        };
        let address = ProviderAddress::parse(label.as_str())
            .map_err(|e| fail(format!("provider {:?}: {e}", label.as_str())))?;
        if address.to_string() != label.as_str() {
            return Err(fail(format!(
                "provider {:?} must be written as {:?}",
                label.as_str(),
                address.to_string()
            )));
        }
        if locks.iter().any(|l| l.address == address) {
            return Err(fail(format!("provider {address} is locked twice")));
        }
        let string = |name: &str| -> Result<Option<String>, LockFileError> {
            match block.body.get_attribute(name).map(|a| &a.value) {
                None => Ok(None),
                Some(Expression::String(s)) => Ok(Some(s.as_str().to_owned())),
                Some(other) => Err(LockFileError {
                    line: line_of(other.span()),
                    message: format!("{address}: {name} must be a string"),
                }),
            }
        };
        let raw_version =
            string("version")?.ok_or_else(|| fail(format!("{address}: no version")))?;
        let version = Version::parse(&raw_version)
            .map_err(|e| fail(format!("{address}: version {raw_version:?}: {e}")))?;
        let constraints = match string("constraints")? {
            None => String::new(),
            Some(raw) => {
                let parsed = VersionConstraints::parse(&raw).map_err(|e| match e {
                    ConstraintError::Empty => fail(format!("{address}: empty constraints")),
                    other => fail(format!("{address}: {other}")),
                })?;
                let canonical = crate::constraints::lock_file_string(&[parsed]);
                if canonical != raw {
                    return Err(fail(format!(
                        "{address}: constraints {raw:?} must be written as {canonical:?}"
                    )));
                }
                raw
            }
        };
        let mut hashes = BTreeSet::new();
        if let Some(attr) = block.body.get_attribute("hashes") {
            let Expression::Array(items) = &attr.value else {
                return Err(fail(format!("{address}: hashes must be a list of strings")));
            };
            for item in items.iter() {
                let Expression::String(s) = item else {
                    return Err(LockFileError {
                        line: line_of(item.span()),
                        message: format!("{address}: hashes must be a list of strings"),
                    });
                };
                let hash = s.as_str();
                if !(hash.starts_with("h1:") || hash.starts_with("zh:")) {
                    return Err(LockFileError {
                        line: line_of(item.span()),
                        message: format!(
                            "{address}: {hash:?} is not a hash this mirror knows (h1: or zh:)"
                        ),
                    });
                }
                hashes.insert(hash.to_owned());
            }
        }
        locks.push(ProviderLock {
            address,
            version,
            constraints,
            hashes,
        });
    }
    Ok(locks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(address: &str, version: &str, constraints: &str, hashes: &[&str]) -> ProviderLock {
        ProviderLock {
            address: ProviderAddress::parse(address).unwrap(),
            version: Version::parse(version).unwrap(),
            constraints: constraints.into(),
            hashes: hashes.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    /// The layout of a file `terraform providers lock` wrote (Terraform 1.0), hashes shortened.
    const WRITTEN: &str = r#"# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/hashicorp/random" {
  version = "3.1.0"
  hashes = [
    "h1:aaa=",
  ]
}

provider "registry.terraform.io/hashicorp/aws" {
  version     = "3.74.0"
  constraints = "~> 3.0"
  hashes = [
    "h1:bbb=",
    "h1:ccc=",
    "zh:0123",
    "zh:4567",
  ]
}

provider "registry.terraform.io/hashicorp/null" {
  version = "3.1.0"
}
"#;

    #[test]
    fn providers_are_written_sorted_with_sorted_hashes_in_terraforms_layout() {
        let locks = [
            lock("hashicorp/null", "3.1.0", "", &[]),
            lock(
                "hashicorp/aws",
                "3.74.0",
                "~> 3.0",
                &["zh:4567", "h1:ccc=", "zh:0123", "h1:bbb="],
            ),
            lock(
                "registry.opentofu.org/hashicorp/random",
                "3.1.0",
                "",
                &["h1:aaa="],
            ),
        ];
        assert_eq!(render(&locks), WRITTEN);
    }

    #[test]
    fn a_written_file_reads_back_as_it_was() {
        let read = parse(WRITTEN).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(render(&read), WRITTEN);
        let aws = read
            .iter()
            .find(|l| l.address.provider_type.as_str() == "aws")
            .unwrap();
        assert_eq!(aws.version.to_string(), "3.74.0");
        assert_eq!(aws.constraints, "~> 3.0");
        assert_eq!(aws.hashes.len(), 4);
        assert!(parse(HEADER).unwrap().is_empty());
    }

    #[test]
    fn what_terraform_would_refuse_is_refused_with_its_line() {
        let cases = [
            (
                "provider \"hashicorp/null\" {\n  version = \"3.1.0\"\n}\n",
                1,
                "must be written as \"registry.terraform.io/hashicorp/null\"",
            ),
            (
                "\n\nprovider \"registry.terraform.io/hashicorp/null\" {\n}\n",
                3,
                "no version",
            ),
            (
                "provider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.1\"\n}\n",
                1,
                "version \"3.1\"",
            ),
            (
                "provider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.1.0\"\n  constraints = \">=3.0\"\n}\n",
                1,
                "must be written as \">= 3.0.0\"",
            ),
            (
                "provider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.1.0\"\n  hashes = [\n    \"md5:abc\",\n  ]\n}\n",
                4,
                "not a hash",
            ),
            (
                "provider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.1.0\"\n}\nprovider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.2.0\"\n}\n",
                4,
                "locked twice",
            ),
            (
                "provider \"registry.terraform.io/hashicorp/null\" {\n  version = 3\n}\n",
                2,
                "must be a string",
            ),
            (
                "provider \"registry.terraform.io/hashicorp/null\" {\n  version = \"3.1.0\"\n",
                2,
                "not valid HCL",
            ),
        ];
        for (text, line, message) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn strings_are_escaped_as_hclwrite_escapes_them() {
        assert_eq!(quoted("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quoted("${x} %{y} $z"), r#""$${x} %%{y} $z""#);
        assert_eq!(quoted("\n\u{1}"), r#""\n\u0001""#);
    }
}
