//! What `tfmirror lock` reads of a Terraform configuration: the providers its
//! `required_providers` blocks name (with their version constraints) and the local modules
//! (`source = "./..."` or `"../..."`) whose own requirements count too, as `terraform init`
//! gathers them. Only the native syntax (`.tf`); values must be literal strings, and a
//! `version` must be a constraint Terraform accepts. `tfmirror lock` and `POST /v1/lock`'s
//! `configuration` (the web UI) both read files through [`read`].

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};

use crate::domain::ProviderAddress;

/// One `required_providers` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    /// The local name (`aws` in `aws = { ... }`).
    pub name: String,
    pub address: ProviderAddress,
    /// The `version` constraint as written; `None` when the entry gives none.
    pub version: Option<String>,
}

/// What a `.tf` file declares that a lock file depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileRequirements {
    pub providers: Vec<Required>,
    /// `source` of every `module` block that is a local path.
    pub local_modules: Vec<String>,
}

/// Why a file could not be read: the line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ConfigError {
    pub line: usize,
    pub message: String,
}

/// Reads the requirements of one `.tf` file.
pub fn read(text: &str) -> Result<FileRequirements, ConfigError> {
    let line_of = |span: Option<Range<usize>>| crate::textpos::line_of(text, span);
    let body: Body = hcl_edit::parser::parse_body(text).map_err(|e| ConfigError {
        line: e.location().line(),
        message: format!("not valid HCL: {}", e.message()),
    })?;
    let mut out = FileRequirements::default();
    for structure in body.iter() {
        let Structure::Block(block) = structure else {
            continue;
        };
        match block.ident.as_str() {
            "terraform" => {
                for inner in block.body.get_blocks("required_providers") {
                    for item in inner.body.iter() {
                        let Structure::Attribute(attr) = item else {
                            continue;
                        };
                        let line = line_of(attr.key.span());
                        let name = attr.key.as_str().to_owned();
                        let fail = |message: String| ConfigError { line, message };
                        let (source, version) = match &attr.value {
                            // The form before Terraform 0.13: `aws = "~> 3.0"`.
                            Expression::String(v) => (None, Some(v.as_str().to_owned())),
                            Expression::Object(object) => {
                                let mut source = None;
                                let mut version = None;
                                for (key, value) in object.iter() {
                                    let key = match key.as_ident() {
                                        Some(ident) => ident.as_str().to_owned(),
                                        None => match key.as_expr() {
                                            Some(Expression::String(s)) => s.as_str().to_owned(),
                                            _ => continue,
                                        },
                                    };
                                    let text = match value.expr() {
                                        Expression::String(s) => Some(s.as_str().to_owned()),
                                        _ => None,
                                    };
                                    match key.as_str() {
                                        "source" => {
                                            source = Some(text.ok_or_else(|| {
                                                fail(format!("{name}: source must be a string"))
                                            })?)
                                        }
                                        "version" => {
                                            version = Some(text.ok_or_else(|| {
                                                fail(format!("{name}: version must be a string"))
                                            })?)
                                        }
                                        // configuration_aliases and the like: no bearing.
                                        _ => {}
                                    }
                                }
                                (source, version)
                            }
                            _ => {
                                return Err(fail(format!(
                                    "{name}: expected {{ source = \"...\", version = \"...\" }}"
                                )));
                            }
                        };
                        if let Some(v) = &version {
                            crate::constraints::VersionConstraints::parse(v)
                                .map_err(|e| fail(format!("{name}: version: {e}")))?;
                        }
                        // Without a source, Terraform takes hashicorp/NAME.
                        let source = source.unwrap_or_else(|| format!("hashicorp/{name}"));
                        let address = ProviderAddress::parse(&source)
                            .map_err(|e| fail(format!("{name}: {e}")))?;
                        out.providers.push(Required {
                            name,
                            address,
                            version,
                        });
                    }
                }
            }
            "module" => {
                if let Some(Expression::String(source)) =
                    block.body.get_attribute("source").map(|a| &a.value)
                {
                    let source = source.as_str();
                    if source.starts_with("./") || source.starts_with("../") {
                        out.local_modules.push(source.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_providers_in_every_form_and_local_modules_are_read() {
        let text = r#"
terraform {
  required_version = ">= 1.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    random = {
      source = "registry.opentofu.org/hashicorp/random"
    }
    null = ">= 3.0"
    google = {
      "version" = "6.1.0"
      configuration_aliases = [google.west]
    }
  }
}

module "net" {
  source = "./modules/net"
}

module "remote" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.0.0"
}

module "up" {
  source = "../shared"
}
"#;
        let got = read(text).unwrap();
        let providers: Vec<(String, String, Option<String>)> = got
            .providers
            .iter()
            .map(|r| (r.name.clone(), r.address.to_string(), r.version.clone()))
            .collect();
        assert_eq!(
            providers,
            [
                (
                    "aws".into(),
                    "registry.terraform.io/hashicorp/aws".into(),
                    Some("~> 5.0".into())
                ),
                (
                    "random".into(),
                    "registry.opentofu.org/hashicorp/random".into(),
                    None
                ),
                (
                    "null".into(),
                    "registry.terraform.io/hashicorp/null".into(),
                    Some(">= 3.0".into())
                ),
                (
                    "google".into(),
                    "registry.terraform.io/hashicorp/google".into(),
                    Some("6.1.0".into())
                ),
            ]
        );
        assert_eq!(got.local_modules, ["./modules/net", "../shared"]);
    }

    #[test]
    fn what_cannot_be_read_names_its_line() {
        for (text, line, says) in [
            (
                "terraform {\n  required_providers {\n    aws = 5\n  }\n}\n",
                3,
                "aws: expected",
            ),
            (
                "terraform {\n  required_providers {\n    aws = { source = var.x }\n  }\n}\n",
                3,
                "source must be a string",
            ),
            (
                "terraform {\n  required_providers {\n\n    aws = { source = \"a/b/c/d\" }\n  }\n}\n",
                4,
                "aws:",
            ),
            ("terraform {\n", 1, "not valid HCL"),
            (
                "terraform {\n  required_providers {\n    aws = {\n      version = \"=> 5.0\"\n    }\n  }\n}\n",
                3,
                "aws: version: ",
            ),
        ] {
            let err = read(text).unwrap_err();
            assert!(err.message.contains(says), "{text}: {err}");
            assert!(err.line >= 1 && err.line <= line, "{text}: {err}");
        }
    }
}
