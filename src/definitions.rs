//! Definition files: the HCL in which operators say which providers (versions and platforms)
//! and which registry modules (versions) to mirror.
//!
//! ```hcl
//! provider "registry.terraform.io/hashicorp/aws" {
//!   versions  = ["5.31.0", "~> 4.67"]
//!   platforms = ["linux_amd64", "darwin_arm64"]
//! }
//!
//! module "terraform-aws-modules/vpc/aws" {
//!   versions = ["~> 5.0"]
//! }
//! ```
//!
//! These files are edited by hand and often submitted through the API, so the parser reports
//! every problem at once, each at its line and column, instead of stopping at the first one.
//! It reads hcl-edit's syntax tree rather than deserialising, because only that tree keeps the
//! byte spans those positions come from.

use std::collections::HashMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use serde::Serialize;

use crate::constraints::VersionConstraints;
use crate::domain::{ModuleAddress, Platform, ProviderAddress};
use crate::textpos::LineIndex;

/// Everything a definition file asks to mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definitions {
    pub providers: Vec<ProviderDefinition>,
    pub modules: Vec<ModuleDefinition>,
}

/// One `module` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleDefinition {
    /// The normalised registry address (`HOST/NAMESPACE/NAME/SYSTEM`).
    pub address: ModuleAddress,
    /// Each entry selects versions on its own; the mirror takes the union.
    pub versions: Vec<VersionConstraints>,
    pub line: usize,
}

/// One `provider` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDefinition {
    /// The normalised source address, so `hashicorp/aws` and
    /// `registry.terraform.io/hashicorp/aws` are the same provider.
    pub address: ProviderAddress,
    /// Each entry selects versions on its own; the mirror takes the union.
    pub versions: Vec<VersionConstraints>,
    /// In the order written, without duplicates.
    pub platforms: Vec<Platform>,
    /// Where the block starts, so later reports (e.g. "5.30.0 is not offered") can point at it.
    pub line: usize,
}

/// One problem in a definition file, at a 1-based line and column. Serializable so the API can
/// return the whole list for an editor to underline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct DefinitionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The most problems a report lists; the rest are only counted. A file of a hundred thousand
/// bad lines gets a short answer, not one the size of the file.
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// Every problem of a definition file: the first [`MAX_LISTED_PROBLEMS`] by position, and how
/// many there were in all. Reads as the slice of listed problems.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems {
    pub listed: Vec<DefinitionError>,
    pub total: usize,
}

impl Problems {
    pub fn push(&mut self, error: DefinitionError) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(error);
        }
    }

    /// `N problem(s)`, with the number listed when some are left out.
    pub fn summary(&self) -> String {
        if self.total > self.listed.len() {
            format!(
                "{} problem(s); the first {} are listed",
                self.total,
                self.listed.len()
            )
        } else {
            format!("{} problem(s)", self.total)
        }
    }
}

impl std::ops::Deref for Problems {
    type Target = [DefinitionError];
    fn deref(&self) -> &[DefinitionError] {
        &self.listed
    }
}

/// The block types a definition file is made of.
const PROVIDER_BLOCK: &str = "provider";
const MODULE_BLOCK: &str = "module";
const VERSIONS: &str = "versions";
const PLATFORMS: &str = "platforms";

/// How deep brackets may nest in a definitions file, which needs two levels (a block and its
/// lists). hcl-edit 0.10 takes time exponential in the depth of unclosed brackets around an
/// expression that fails to parse (found by fuzzing: 150 bytes took 4 s, and each level
/// doubles it), so deeper text is refused before it reaches the parser.
pub const MAX_NESTING: usize = 8;

/// The byte offset of the first `(`, `[` or `{` nested deeper than `max`, counting every
/// bracket in the text, in strings and comments too (so this errs on the side of refusing).
pub fn first_bracket_deeper_than(text: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, byte) in text.bytes().enumerate() {
        match byte {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(offset);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Where hcl-edit's syntax error really is, as 1-based line and column in characters.
/// hcl-edit clamps an error at the end of the input to the last byte, then reports it one
/// column past that byte, on the same line even when that byte is the final newline; the
/// position is therefore recomputed from the byte offset.
pub fn syntax_error_position(text: &str, offset: usize, reported_column: usize) -> (usize, usize) {
    let lines = LineIndex::new(text);
    let (line, column) = lines.line_col(text, offset);
    if offset + 1 == text.len() && reported_column > column {
        lines.line_col(text, text.len())
    } else {
        (line, column)
    }
}

/// Parses a definition file, returning every problem found (sorted by position) when there is
/// any, so an operator can fix the file in one pass.
pub fn parse_definitions(text: &str) -> Result<Definitions, Problems> {
    if let Some(offset) = first_bracket_deeper_than(text, MAX_NESTING) {
        let (line, column) = LineIndex::new(text).line_col(text, offset);
        let mut problems = Problems::default();
        problems.push(DefinitionError {
            line,
            column,
            message: format!(
                "brackets nest more than {MAX_NESTING} levels deep here; a definitions file needs two (a provider block and its lists)"
            ),
        });
        return Err(problems);
    }
    let body = match hcl_edit::parser::parse_body(text) {
        Ok(body) => body,
        Err(e) => {
            // The parser stops at the first syntax error; nothing after it can be checked.
            let location = e.location();
            let (line, column) = syntax_error_position(text, location.offset(), location.column());
            let mut problems = Problems::default();
            problems.push(DefinitionError {
                line,
                column,
                message: format!("HCL syntax error: {}", e.message()),
            });
            return Err(problems);
        }
    };
    let mut checker = Checker {
        text,
        lines: LineIndex::new(text),
        errors: Problems::default(),
    };
    let (providers, modules) = checker.file(&body);
    if checker.errors.total == 0 {
        Ok(Definitions { providers, modules })
    } else {
        let mut errors = checker.errors;
        errors.listed.sort_by_key(|e| (e.line, e.column));
        Err(errors)
    }
}

/// Walks the syntax tree, collecting errors instead of returning at the first one.
struct Checker<'a> {
    text: &'a str,
    lines: LineIndex,
    errors: Problems,
}

impl Checker<'_> {
    fn error(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let (line, column) = self.line_col(span);
        self.errors.push(DefinitionError {
            line,
            column,
            message: message.into(),
        });
    }

    /// 1-based line and column (in characters) where `span` starts. Spans are always present
    /// on a freshly parsed tree; a missing one falls back to the start of the file.
    fn line_col(&self, span: Option<Range<usize>>) -> (usize, usize) {
        self.lines.line_col(self.text, span.map_or(0, |r| r.start))
    }

    fn file(&mut self, body: &Body) -> (Vec<ProviderDefinition>, Vec<ModuleDefinition>) {
        let mut providers = Vec::new();
        let mut modules = Vec::new();
        // Normalised address -> line of the block that defined it first.
        let mut seen: HashMap<ProviderAddress, usize> = HashMap::new();
        let mut seen_modules: HashMap<ModuleAddress, usize> = HashMap::new();
        let mut blocks = 0;
        for structure in body.iter() {
            match structure {
                Structure::Block(block) if block.ident.as_str() == PROVIDER_BLOCK => {
                    blocks += 1;
                    if let Some(provider) = self.provider(block, &mut seen) {
                        providers.push(provider);
                    }
                }
                Structure::Block(block) if block.ident.as_str() == MODULE_BLOCK => {
                    blocks += 1;
                    if let Some(module) = self.module(block, &mut seen_modules) {
                        modules.push(module);
                    }
                }
                Structure::Block(block) => self.error(
                    block.ident.span(),
                    format!(
                        "unknown block type {:?}; a definition file contains only \"provider\" and \"module\" blocks",
                        block.ident.as_str()
                    ),
                ),
                Structure::Attribute(attr) => self.error(
                    attr.span(),
                    format!(
                        "unexpected attribute {:?} at the top level; a definition file contains only \"provider\" and \"module\" blocks",
                        attr.key.as_str()
                    ),
                ),
            }
        }
        if blocks == 0 {
            self.error(
                None,
                "the file defines no providers or modules; add a block like provider \"hashicorp/aws\" { versions = [\"~> 5.0\"] platforms = [\"linux_amd64\"] } or module \"terraform-aws-modules/vpc/aws\" { versions = [\"~> 5.0\"] }",
            );
        }
        (providers, modules)
    }

    /// Checks one module block; returns its definition only when it has no problems.
    fn module(
        &mut self,
        block: &Block,
        seen: &mut HashMap<ModuleAddress, usize>,
    ) -> Option<ModuleDefinition> {
        let errors_before = self.errors.len();
        let (line, _) = self.line_col(block.span());
        let address = match block.labels.as_slice() {
            [label] => match ModuleAddress::parse(label.as_str()) {
                Ok(address) => match seen.get(&address) {
                    Some(first_line) => {
                        self.error(
                            label.span(),
                            format!("module {address} is already defined on line {first_line}"),
                        );
                        None
                    }
                    None => {
                        seen.insert(address.clone(), line);
                        Some(address)
                    }
                },
                Err(e) => {
                    self.error(label.span(), e.to_string());
                    None
                }
            },
            labels => {
                let span = labels
                    .get(1)
                    .map_or_else(|| block.ident.span(), BlockLabel::span);
                self.error(
                    span,
                    format!(
                        "a module block needs exactly one label, its registry address (module \"terraform-aws-modules/vpc/aws\" {{ ... }}); found {}",
                        if labels.is_empty() { "none".to_owned() } else { labels.len().to_string() }
                    ),
                );
                None
            }
        };
        let mut versions_attr = None;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) if attr.key.as_str() == VERSIONS => {
                    versions_attr = Some(attr);
                }
                Structure::Attribute(attr) => self.error(
                    attr.span(),
                    format!(
                        "unknown attribute {:?} in a module block; only \"versions\" is allowed (modules have no platforms)",
                        attr.key.as_str()
                    ),
                ),
                Structure::Block(inner) => self.error(
                    inner.ident.span(),
                    format!(
                        "unexpected block {:?} in a module block; only the attribute \"versions\" is allowed",
                        inner.ident.as_str()
                    ),
                ),
            }
        }
        let versions = match versions_attr {
            Some(attr) => self.versions(attr),
            None => {
                let label = match block.labels.as_slice() {
                    [label] => format!("module {:?}", label.as_str()),
                    _ => "module block".to_owned(),
                };
                self.error(
                    block.span(),
                    format!("{label} is missing \"versions\", e.g. versions = [\"~> 5.0\"]"),
                );
                Vec::new()
            }
        };
        if self.errors.len() != errors_before {
            return None;
        }
        Some(ModuleDefinition {
            address: address?,
            versions,
            line,
        })
    }

    /// Checks one provider block; returns its definition only when it has no problems.
    fn provider(
        &mut self,
        block: &Block,
        seen: &mut HashMap<ProviderAddress, usize>,
    ) -> Option<ProviderDefinition> {
        let errors_before = self.errors.len();
        let (line, _) = self.line_col(block.span());
        let address = self.provider_address(block, line, seen);
        let attrs = self.provider_attributes(&block.body);

        let versions = match attrs.versions {
            Some(attr) => self.versions(attr),
            None => {
                self.missing(block, VERSIONS, "[\"~> 5.0\"]");
                Vec::new()
            }
        };
        let platforms = match attrs.platforms {
            Some(attr) => self.platforms(attr),
            None => {
                self.missing(block, PLATFORMS, "[\"linux_amd64\"]");
                Vec::new()
            }
        };
        if self.errors.len() != errors_before {
            return None;
        }
        Some(ProviderDefinition {
            address: address?,
            versions,
            platforms,
            line,
        })
    }

    fn missing(&mut self, block: &Block, key: &str, example: &str) {
        let label = match block.labels.as_slice() {
            [label] => format!("provider {:?}", label.as_str()),
            _ => "provider block".to_owned(),
        };
        self.error(
            block.span(),
            format!("{label} is missing {key:?}, e.g. {key} = {example}"),
        );
    }

    /// The block's single label as a provider address, checked against earlier blocks.
    fn provider_address(
        &mut self,
        block: &Block,
        line: usize,
        seen: &mut HashMap<ProviderAddress, usize>,
    ) -> Option<ProviderAddress> {
        let label = match block.labels.as_slice() {
            [label] => label,
            labels => {
                let found = match labels {
                    [] => "none".to_owned(),
                    _ => labels.len().to_string(),
                };
                let span = labels
                    .get(1)
                    .map_or_else(|| block.ident.span(), BlockLabel::span);
                self.error(
                    span,
                    format!(
                        "a provider block needs exactly one label, its source address (provider \"hashicorp/aws\" {{ ... }}); found {found}"
                    ),
                );
                return None;
            }
        };
        let address = match ProviderAddress::parse(label.as_str()) {
            Ok(address) => address,
            Err(e) => {
                self.error(label.span(), e.to_string());
                return None;
            }
        };
        if let Some(first_line) = seen.get(&address) {
            self.error(
                label.span(),
                format!("provider {address} is already defined on line {first_line}"),
            );
            return None;
        }
        seen.insert(address.clone(), line);
        Some(address)
    }

    /// Picks `versions` and `platforms` out of a provider body, reporting anything else.
    fn provider_attributes<'b>(&mut self, body: &'b Body) -> ProviderAttributes<'b> {
        let mut found = ProviderAttributes::default();
        for structure in body.iter() {
            let attr = match structure {
                Structure::Attribute(attr) => attr,
                Structure::Block(block) => {
                    self.error(
                        block.ident.span(),
                        format!(
                            "unexpected block {:?} in a provider block; only the attributes \"versions\" and \"platforms\" are allowed",
                            block.ident.as_str()
                        ),
                    );
                    continue;
                }
            };
            let slot = match attr.key.as_str() {
                VERSIONS => &mut found.versions,
                PLATFORMS => &mut found.platforms,
                other => {
                    self.error(
                        attr.span(),
                        format!(
                            "unknown attribute {other:?} in a provider block; only \"versions\" and \"platforms\" are allowed"
                        ),
                    );
                    continue;
                }
            };
            // hcl-edit already refuses a repeated attribute key as a syntax error.
            *slot = Some(attr);
        }
        found
    }

    fn versions(&mut self, attr: &Attribute) -> Vec<VersionConstraints> {
        let mut versions = Vec::new();
        for (value, span) in self.string_list(attr) {
            match VersionConstraints::parse(value) {
                Ok(constraints) => versions.push(constraints),
                Err(e) => self.error(span, e.to_string()),
            }
        }
        versions
    }

    fn platforms(&mut self, attr: &Attribute) -> Vec<Platform> {
        let mut platforms = Vec::new();
        // Platform -> line where it was first listed.
        let mut seen: HashMap<Platform, usize> = HashMap::new();
        for (value, span) in self.string_list(attr) {
            let (line, _) = self.line_col(span.clone());
            match Platform::parse(value) {
                Ok(platform) => match seen.get(&platform) {
                    Some(first_line) => self.error(
                        span,
                        format!("platform {platform} is listed twice (first on line {first_line})"),
                    ),
                    None => {
                        seen.insert(platform.clone(), line);
                        platforms.push(platform);
                    }
                },
                Err(e) => self.error(span, e.to_string()),
            }
        }
        platforms
    }

    /// The plain string elements of a list attribute, each with its span. Anything else
    /// (interpolation, numbers, objects, an empty list) is reported at the offending value;
    /// definitions are data, so no expression is evaluated.
    fn string_list<'e>(&mut self, attr: &'e Attribute) -> Vec<(&'e str, Option<Range<usize>>)> {
        let key = attr.key.as_str();
        let Expression::Array(array) = &attr.value else {
            self.error(
                attr.value.span(),
                format!(
                    "{key:?} must be a list of strings, like {key} = [\"...\"]; found {}",
                    describe(&attr.value)
                ),
            );
            return Vec::new();
        };
        if array.is_empty() {
            self.error(
                attr.value.span(),
                format!("{key:?} must not be empty; list at least one value"),
            );
            return Vec::new();
        }
        let mut strings = Vec::new();
        for element in array.iter() {
            match element {
                Expression::String(s) => strings.push((s.as_str(), s.span())),
                other => self.error(
                    other.span(),
                    format!(
                        "each entry of {key:?} must be a plain string; found {}",
                        describe(other)
                    ),
                ),
            }
        }
        strings
    }
}

/// The `versions` and `platforms` attributes of one provider block, if present.
#[derive(Default)]
struct ProviderAttributes<'b> {
    versions: Option<&'b Attribute>,
    platforms: Option<&'b Attribute>,
}

/// Names the kind of a value for "found ..." messages.
fn describe(expr: &Expression) -> &'static str {
    match expr {
        Expression::Null(_) => "null",
        Expression::Bool(_) => "a bool",
        Expression::Number(_) => "a number",
        Expression::String(_) => "a single string (wrap it in [ ])",
        Expression::Array(_) => "a list",
        Expression::Object(_) => "an object",
        Expression::StringTemplate(_) => "a string with interpolation (not supported)",
        Expression::HeredocTemplate(_) => "a heredoc (not supported)",
        Expression::Variable(_) | Expression::Traversal(_) => "a reference (not supported)",
        Expression::FuncCall(_) => "a function call (not supported)",
        _ => "an expression (not supported)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"provider "registry.terraform.io/hashicorp/aws" {
  versions  = ["5.31.0", "~> 4.67"]          # exact versions and/or Terraform-style constraints
  platforms = ["linux_amd64", "darwin_arm64"]
}

# hostname defaults to registry.terraform.io
provider "hashicorp/random" {
  versions  = [">= 3.5.0, < 3.7.0"]
  platforms = ["linux_amd64", "linux_arm64", "darwin_arm64", "windows_amd64"]
}
"#;

    fn errors(text: &str) -> Vec<String> {
        match parse_definitions(text) {
            Ok(d) => panic!("should be refused, parsed as {d:?}"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// Asserts the file has exactly one problem, at `line:column`, mentioning `expected`.
    fn assert_single_error(text: &str, position: &str, expected: &str) {
        let errors = errors(text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with(&format!("{position}: ")),
            "{:?} should be at {position}",
            errors[0]
        );
        assert!(
            errors[0].contains(expected),
            "{:?} should mention {expected:?}",
            errors[0]
        );
    }

    /// A valid provider block around `body_line`, for testing one attribute at a time.
    fn block_with(body: &str) -> String {
        format!("provider \"hashicorp/aws\" {{\n{body}\n}}\n")
    }

    #[test]
    fn module_blocks_take_versions_only_with_positions() {
        let d = parse_definitions(
            "module \"terraform-aws-modules/vpc/aws\" {\n  versions = [\"~> 5.0\", \"4.0.1\"]\n}\n\nmodule \"example.com:8443/my_org/net_base/aws\" {\n  versions = [\"1.0.0\"]\n}\n",
        )
        .unwrap();
        assert!(d.providers.is_empty());
        assert_eq!(d.modules.len(), 2);
        assert_eq!(
            d.modules[0].address.to_string(),
            "registry.terraform.io/terraform-aws-modules/vpc/aws"
        );
        assert_eq!(d.modules[1].line, 5);
        assert_single_error(
            "module \"a/b/c\" {\n  versions  = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n",
            "3:3",
            "modules have no platforms",
        );
        assert_single_error(
            "module \"a/b\" {\n  versions = [\"1.0.0\"]\n}\n",
            "1:8",
            "module address",
        );
        assert_single_error("module \"a/b/c\" {\n}\n", "1:1", "is missing \"versions\"");
        assert_single_error(
            "module \"a/b/c\" {\n  versions = [\"1.0.0\"]\n}\nmodule \"registry.terraform.io/a/b/c\" {\n  versions = [\"2.0.0\"]\n}\n",
            "4:8",
            "already defined on line 1",
        );
        assert_single_error(
            "module \"a/b/c\" {\n  versions = [\"~> x\"]\n}\n",
            "2:15",
            "",
        );
    }

    #[test]
    fn the_documented_example_parses() {
        let d = parse_definitions(EXAMPLE).unwrap();
        assert_eq!(d.providers.len(), 2);

        let aws = &d.providers[0];
        assert_eq!(
            aws.address.to_string(),
            "registry.terraform.io/hashicorp/aws"
        );
        assert_eq!(aws.line, 1);
        let versions: Vec<String> = aws.versions.iter().map(ToString::to_string).collect();
        assert_eq!(versions, ["5.31.0", "~> 4.67"]);
        assert_eq!(
            aws.versions[0].exact(),
            Some(crate::domain::Version::parse("5.31.0").unwrap())
        );
        let platforms: Vec<String> = aws.platforms.iter().map(ToString::to_string).collect();
        assert_eq!(platforms, ["linux_amd64", "darwin_arm64"]);

        let random = &d.providers[1];
        assert_eq!(
            random.address,
            ProviderAddress::parse("registry.terraform.io/hashicorp/random").unwrap()
        );
        assert_eq!(
            random.line, 7,
            "the comment before the block is not part of it"
        );
        assert_eq!(random.versions.len(), 1);
        assert_eq!(random.versions[0].as_written(), ">= 3.5.0, < 3.7.0");
        let platforms: Vec<String> = random.platforms.iter().map(ToString::to_string).collect();
        assert_eq!(
            platforms,
            [
                "linux_amd64",
                "linux_arm64",
                "darwin_arm64",
                "windows_amd64"
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let text = r#"mirror_all = true

provider "hashicorp/aws" {
  versions  = ["5.31.0", ">= x.y"]
  platforms = ["linux_amd64", "Linux_arm64"]
  colour    = "blue"
}

provider "registry.terraform.io/hashicorp/aws" {
  versions  = ["5.0.0"]
  platforms = ["linux_amd64"]
}

provider "hashicorp/random" {
  versions = "3.6.0"
}

terraform {}
"#;
        let errors = errors(text);
        let expected = [
            ("1:1", "unexpected attribute \"mirror_all\""),
            (
                "4:26",
                r#"invalid version constraint ">= x.y": "x.y" is not a version"#,
            ),
            ("5:31", r#"invalid platform "Linux_arm64""#),
            ("6:3", "unknown attribute \"colour\""),
            (
                "9:10",
                "provider registry.terraform.io/hashicorp/aws is already defined on line 3",
            ),
            (
                "14:1",
                r#"provider "hashicorp/random" is missing "platforms""#,
            ),
            ("15:14", r#""versions" must be a list of strings"#),
            ("18:1", "unknown block type \"terraform\""),
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, (position, message)) in errors.iter().zip(expected) {
            assert!(
                error.starts_with(&format!("{position}: ")) && error.contains(message),
                "{error:?} should be {position}: ...{message}..."
            );
        }
    }

    #[test]
    fn errors_serialize_for_the_api() {
        let errors = parse_definitions("").unwrap_err();
        let json = serde_json::to_value(&errors.listed).unwrap();
        assert_eq!(json[0]["line"], 1);
        assert_eq!(json[0]["column"], 1);
        assert!(
            json[0]["message"]
                .as_str()
                .unwrap()
                .contains("defines no providers")
        );
    }

    #[test]
    fn a_file_without_providers_is_refused() {
        assert_single_error("", "1:1", "defines no providers");
        assert_single_error("# nothing yet\n\n", "1:1", "defines no providers");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        assert_single_error(
            "provider \"hashicorp/aws\" {\n  versions = [\"1.0.0\"\n}\n",
            "3:1",
            "HCL syntax error",
        );
        let errors = errors("provider \"hashicorp/aws\" {\n  versions = \n}\n");
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].contains("HCL syntax error"), "{errors:?}");
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/definitions.rs`): an unclosed block at the end of
    /// the file was reported one column past the end of its last non-empty line ("1:18" for
    /// a 16-character line) instead of at the end of the file.
    #[test]
    fn syntax_errors_at_the_end_of_the_file_point_at_its_end() {
        assert_single_error("provider \"a/b\" {\n", "2:1", "HCL syntax error");
        assert_single_error("provider \"a/b\" {\n\n", "3:1", "HCL syntax error");
        assert_single_error("provider \"a/b\" {", "1:17", "HCL syntax error");
        // The fuzzer's own input, shortened: a NUL in a comment.
        assert_single_error("a {  # \0\n", "2:1", "HCL syntax error");
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/definitions.rs`, a timeout): unclosed brackets
    /// around a failing expression make hcl-edit's parser take time exponential in their
    /// depth; 20 levels (147 bytes) took 4 s, 30 would take over an hour, so before the fix
    /// this test never finished (nextest stops it, see .config/nextest.toml).
    #[test]
    fn deeply_nested_brackets_are_refused_before_parsing() {
        let text = format!("a = {}e!\0", "b[c+d/ ".repeat(30));
        // The ninth `[`: "a = " and eight seven-byte repetitions, then "b".
        assert_single_error(&text, "1:62", "brackets nest more than 8 levels deep");
        for (open, column) in [("(", 53), ("{b=", 69), ("[", 53), ("\"${", 71)] {
            let text = format!("a = {}e!", format!("{open}c+d/ ").repeat(MAX_NESTING + 1));
            assert_single_error(&text, &format!("1:{column}"), "more than 8 levels");
        }
        // Eight levels still reach the parser, and fail fast.
        let text = format!("a = {}e!\0", "b[c+d/ ".repeat(MAX_NESTING));
        let errors = errors(&text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("HCL syntax error"), "{errors:?}");
        assert_eq!(first_bracket_deeper_than("[[]] ((x)) {[(", 2), Some(13));
        assert_eq!(first_bracket_deeper_than("]]]] [[", 2), None);
    }

    /// Positions are in characters, as an editor shows them, also after multi-byte
    /// characters (the recomputation from the byte offset must keep that).
    #[test]
    fn syntax_error_columns_count_characters() {
        // The second `]` is the 13th character and the 15th byte.
        assert_single_error("a = [\"\u{e9}\u{e9}\", ]]\n", "1:13", "HCL syntax error");
    }

    #[test]
    fn unknown_top_level_blocks_and_attributes_are_refused() {
        let text = format!(
            "terraform {{}}\n{}",
            block_with(
                r#"versions = ["1.0.0"]
platforms = ["linux_amd64"]"#
            )
        );
        assert_single_error(&text, "1:1", "unknown block type \"terraform\"");
        let text = format!(
            "{}  hostname = \"x\"\n",
            block_with(
                r#"versions = ["1.0.0"]
platforms = ["linux_amd64"]"#
            )
        );
        assert_single_error(
            &text,
            "5:3",
            "unexpected attribute \"hostname\" at the top level",
        );
    }

    #[test]
    fn a_provider_block_needs_exactly_one_label() {
        let body = "{\n  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n";
        assert_single_error(&format!("provider {body}"), "1:1", "found none");
        assert_single_error(
            &format!("provider \"hashicorp/aws\" \"extra\" {body}"),
            "1:26",
            "exactly one label",
        );
    }

    #[test]
    fn bad_source_addresses_are_refused() {
        let body = "{\n  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}\n";
        assert_single_error(
            &format!("provider \"aws\" {body}"),
            "1:10",
            r#"invalid provider address "aws""#,
        );
        assert_single_error(
            &format!("provider \"hashicorp/a_b\" {body}"),
            "1:10",
            r#"invalid provider type "a_b""#,
        );
        assert_single_error(
            &format!("provider \"bad..host/hashicorp/aws\" {body}"),
            "1:10",
            "invalid hostname",
        );
    }

    #[test]
    fn duplicate_providers_point_at_the_second_and_name_the_first() {
        let block = |label: &str| {
            format!(
                "provider \"{label}\" {{\n  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n}}\n"
            )
        };
        let text = format!(
            "{}{}",
            block("HashiCorp/AWS"),
            block("registry.terraform.io/hashicorp/aws")
        );
        assert_single_error(
            &text,
            "5:10",
            "provider registry.terraform.io/hashicorp/aws is already defined on line 1",
        );
        // Another host is another provider.
        let text = format!(
            "{}{}",
            block("hashicorp/aws"),
            block("registry.opentofu.org/hashicorp/aws")
        );
        assert_eq!(parse_definitions(&text).unwrap().providers.len(), 2);
    }

    #[test]
    fn unknown_attributes_and_blocks_inside_a_provider_are_refused() {
        let text = block_with(
            "  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n  version = \"1.0.0\"",
        );
        assert_single_error(&text, "4:3", "unknown attribute \"version\"");
        let text =
            block_with("  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n  extra {}");
        assert_single_error(&text, "4:3", "unexpected block \"extra\"");
        let text = block_with(
            "  versions = [\"1.0.0\"]\n  platforms = [\"linux_amd64\"]\n  versions = [\"2.0.0\"]",
        );
        assert_single_error(&text, "4:3", "redefined attribute");
    }

    #[test]
    fn versions_and_platforms_are_required_and_not_empty() {
        assert_single_error(
            &block_with("  platforms = [\"linux_amd64\"]"),
            "1:1",
            r#"provider "hashicorp/aws" is missing "versions""#,
        );
        assert_single_error(
            &block_with("  versions = [\"1.0.0\"]"),
            "1:1",
            r#"provider "hashicorp/aws" is missing "platforms""#,
        );
        assert_single_error(
            &block_with("  versions = []\n  platforms = [\"linux_amd64\"]"),
            "2:14",
            r#""versions" must not be empty"#,
        );
        assert_single_error(
            &block_with("  versions = [\"1.0.0\"]\n  platforms = [ ]"),
            "3:15",
            r#""platforms" must not be empty"#,
        );
        let errors = errors(&block_with(""));
        assert_eq!(errors.len(), 2, "{errors:#?}");
    }

    #[test]
    fn values_must_be_lists_of_plain_strings() {
        let cases = [
            ("versions = \"1.0.0\"", "2:14", "found a single string"),
            ("versions = 1", "2:14", "found a number"),
            ("versions = { v = \"1.0.0\" }", "2:14", "found an object"),
            ("versions = var.versions", "2:14", "found a reference"),
            (
                "versions = [\"1.0.0\", 2]",
                "2:24",
                "each entry of \"versions\" must be a plain string; found a number",
            ),
            (
                "versions = [\"${v}\"]",
                "2:15",
                "found a string with interpolation",
            ),
            ("versions = [[\"1.0.0\"]]", "2:15", "found a list"),
        ];
        for (attr, position, expected) in cases {
            let text = block_with(&format!("  {attr}\n  platforms = [\"linux_amd64\"]"));
            assert_single_error(&text, position, expected);
        }
        let text = block_with("  versions = [\"1.0.0\"]\n  platforms = [true, null]");
        let errors = errors(&text);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("3:16: ") && errors[0].contains("a bool"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("3:22: ") && errors[1].contains("null"),
            "{errors:?}"
        );
    }

    #[test]
    fn bad_version_constraints_use_the_constraint_message() {
        let text = block_with(
            "  versions = [\"5.31.0\", \"=> 5.0\", \"5.31\"]\n  platforms = [\"linux_amd64\"]",
        );
        let errors = errors(&text);
        assert_eq!(
            errors,
            [
                r#"2:25: invalid version constraint "=> 5.0": unknown operator "=>" (did you mean ">="?)"#,
                r#"2:35: invalid version constraint "5.31": exact version "5.31" must be complete (major.minor.patch); use "~> 5.31" or ">= 5.31" for a range"#,
            ]
        );
        assert_single_error(
            &block_with("  versions = [\"\"]\n  platforms = [\"linux_amd64\"]"),
            "2:15",
            "empty version constraint",
        );
    }

    #[test]
    fn bad_and_duplicate_platforms_are_refused() {
        for bad in ["linux", "linux/amd64", "Linux_amd64", "linux_amd64_v2"] {
            let text = block_with(&format!(
                "  versions = [\"1.0.0\"]\n  platforms = [\"{bad}\"]"
            ));
            assert_single_error(&text, "3:16", "must look like os_arch");
        }
        let text = block_with(
            "  versions = [\"1.0.0\"]\n  platforms = [\n    \"linux_amd64\",\n    \"darwin_arm64\",\n    \"linux_amd64\",\n  ]",
        );
        assert_single_error(
            &text,
            "6:5",
            "platform linux_amd64 is listed twice (first on line 4)",
        );
    }

    #[test]
    fn positions_match_a_naive_count_for_every_offset() {
        let text = "a\n\nü = 1\r\n  x\n";
        let index = LineIndex::new(text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            let before = &text[..offset];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap().chars().count() + 1;
            assert_eq!(
                index.line_col(text, offset),
                (line, column),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn a_file_of_many_bad_lines_lists_the_first_hundred_and_counts_all() {
        let text: String = (0..5_000).map(|i| format!("x{i} = 1\n")).collect();
        let problems = parse_definitions(&text).unwrap_err();
        assert_eq!(problems.total, 5_000 + 1, "every bad line and no provider");
        assert_eq!(problems.listed.len(), MAX_LISTED_PROBLEMS);
        assert_eq!((problems[0].line, problems[0].column), (1, 1));
        assert_eq!(problems[99].line, 100);
        assert!(problems.summary().contains("the first 100 are listed"));
    }
}
