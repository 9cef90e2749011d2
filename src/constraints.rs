//! Terraform version constraints (`>= 3.5.0, < 3.7.0`, `~> 4.67`, `5.31.0`).
//!
//! Operators copy these strings from their `required_providers` blocks, so a constraint must
//! select exactly the versions Terraform itself would pick. The rules follow
//! `github.com/apparentlymart/go-versions` (Ruby-style, comma means AND), which Terraform uses:
//! partial versions are padded with zeros, `~>` bumps the second-to-last number written, and
//! prereleases are only chosen when an exact constraint names them.
//!
//! One deliberate difference: an exact (`=` or bare) version must be written in full, because a
//! mirror definition that says `5.31` almost certainly meant a range, not `5.31.0`.

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

use crate::domain::Version;

/// Why a constraint string was refused; the message quotes the whole input and the bad part,
/// so it can be shown to the operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    #[error("empty version constraint")]
    Empty,
    #[error("invalid version constraint {constraint:?}: {reason}")]
    Invalid { constraint: String, reason: String },
}

/// The comparison one constraint applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    /// `~>`: at least the given version, below the next bump of its second-to-last number.
    Pessimistic,
}

impl Operator {
    fn symbol(self) -> &'static str {
        match self {
            Operator::Equal => "=",
            Operator::NotEqual => "!=",
            Operator::Greater => ">",
            Operator::GreaterOrEqual => ">=",
            Operator::Less => "<",
            Operator::LessOrEqual => "<=",
            Operator::Pessimistic => "~>",
        }
    }
}

/// One `OPERATOR VERSION` term of a comma-separated constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Constraint {
    operator: Operator,
    /// The boundary with omitted numbers filled in as zeros.
    version: Version,
    /// How many of major, minor and patch were written (1 to 3). `~>` needs it to know which
    /// number to bump, and printing it back must keep it so the meaning does not change.
    precision: usize,
}

impl Constraint {
    /// Whether `v` satisfies this term, ignoring the prerelease rule (which needs all terms).
    fn allows(&self, v: &semver::Version) -> bool {
        // Precedence ignores build metadata, as semantic versioning requires.
        let order = v.cmp_precedence(self.version.semver());
        match self.operator {
            Operator::Equal => order == Ordering::Equal,
            Operator::NotEqual => order != Ordering::Equal,
            Operator::Greater => order == Ordering::Greater,
            Operator::GreaterOrEqual => order != Ordering::Less,
            Operator::Less => order == Ordering::Less,
            Operator::LessOrEqual => order != Ordering::Greater,
            Operator::Pessimistic => {
                order != Ordering::Less
                    && v.cmp_precedence(&self.pessimistic_limit()) == Ordering::Less
            }
        }
    }

    /// The first version `~>` excludes: `~> 1.2.3` stops before 1.3.0, `~> 1.2` and `~> 1`
    /// before 2.0.0. Saturating, so an absurd `~> 18446744073709551615` cannot panic.
    fn pessimistic_limit(&self) -> semver::Version {
        let v = self.version.semver();
        if self.precision == 3 {
            semver::Version::new(v.major, v.minor.saturating_add(1), 0)
        } else {
            semver::Version::new(v.major.saturating_add(1), 0, 0)
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator != Operator::Equal {
            write!(f, "{} ", self.operator.symbol())?;
        }
        let v = self.version.semver();
        if self.operator == Operator::Pessimistic {
            // Keep the written precision: `~> 4.67` and `~> 4.67.0` mean different things.
            let numbers = [v.major, v.minor, v.patch];
            let shown: Vec<String> = numbers
                .iter()
                .take(self.precision)
                .map(u64::to_string)
                .collect();
            f.write_str(&shown.join("."))?;
            if !v.pre.is_empty() {
                write!(f, "-{}", v.pre)?;
            }
            if !v.build.is_empty() {
                write!(f, "+{}", v.build)?;
            }
            Ok(())
        } else {
            write!(f, "{v}")
        }
    }
}

/// A parsed constraint string: every term must hold (comma means AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConstraints {
    /// The input, trimmed, so reports can quote what the operator wrote.
    written: String,
    constraints: Vec<Constraint>,
}

impl VersionConstraints {
    /// Parses one constraint string, e.g. `>= 3.5.0, < 3.7.0`, `~> 4.67` or `5.31.0`.
    pub fn parse(s: &str) -> Result<Self, ConstraintError> {
        let written = s.trim();
        if written.is_empty() {
            return Err(ConstraintError::Empty);
        }
        let invalid = |reason: String| ConstraintError::Invalid {
            // Cap what we echo back, as domain.rs does, so hostile input cannot flood a report.
            constraint: written.chars().take(80).collect(),
            reason,
        };
        let mut constraints = Vec::new();
        for term in written.split(',') {
            let term = term.trim();
            if term.is_empty() {
                return Err(invalid(
                    "empty term; commas must separate constraints".into(),
                ));
            }
            constraints.push(parse_term(term).map_err(invalid)?);
        }
        Ok(Self {
            written: written.to_owned(),
            constraints,
        })
    }

    /// The constraint as the operator wrote it (trimmed), for messages that quote it back.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// Whether Terraform would accept `v` under this constraint. A prerelease only matches
    /// when an exact term names it, so `>= 1.0.0` never drags in `1.1.0-rc1`.
    pub fn matches(&self, v: &Version) -> bool {
        let sv = v.semver();
        let prerelease_ok = !v.is_prerelease()
            || self.constraints.iter().any(|c| {
                c.operator == Operator::Equal
                    && sv.cmp_precedence(c.version.semver()) == Ordering::Equal
            });
        prerelease_ok && self.constraints.iter().all(|c| c.allows(sv))
    }

    /// The version when the constraint pins exactly one (`5.31.0` or `= 5.31.0`), so a caller
    /// can say "version X is not offered by the upstream" instead of "nothing matched".
    pub fn exact(&self) -> Option<Version> {
        match self.constraints.as_slice() {
            [only] if only.operator == Operator::Equal => Some(only.version.clone()),
            _ => None,
        }
    }
}

/// The constraints of every `required_providers` entry for one provider, in the one form
/// Terraform writes to `.terraform.lock.hcl` (`getproviders.VersionConstraintsString`):
/// omitted numbers as zeros, duplicates dropped, ordered by boundary and then by operator
/// (`>`, `>=`, exact, `~>` of three numbers, `~>` of two, `<=`, `<`, `!=`), `~>` written with
/// two numbers unless three were, an exact version without `=`. Empty for no constraints.
pub fn lock_file_string(specs: &[VersionConstraints]) -> String {
    // (rank, boundary, text): the rank orders operators at the same boundary.
    let mut terms: Vec<(u8, &Version, String)> = Vec::new();
    for c in specs.iter().flat_map(|s| s.constraints.iter()) {
        let v = c.version.semver();
        let (rank, text) = match c.operator {
            Operator::Greater => (1, format!("> {v}")),
            Operator::GreaterOrEqual => (2, format!(">= {v}")),
            Operator::Equal => (3, v.to_string()),
            Operator::Pessimistic if c.precision == 3 => (4, format!("~> {v}")),
            Operator::Pessimistic => {
                let mut text = format!("~> {}.{}", v.major, v.minor);
                if !v.pre.is_empty() {
                    text.push_str(&format!("-{}", v.pre));
                }
                if !v.build.is_empty() {
                    text.push_str(&format!("+{}", v.build));
                }
                (5, text)
            }
            Operator::LessOrEqual => (6, format!("<= {v}")),
            Operator::Less => (7, format!("< {v}")),
            Operator::NotEqual => (8, format!("!= {v}")),
        };
        if !terms.iter().any(|(r, _, t)| *r == rank && *t == text) {
            terms.push((rank, &c.version, text));
        }
    }
    terms.sort_by(|a, b| {
        let (va, vb) = (a.1.semver(), b.1.semver());
        va.cmp_precedence(vb)
            .then_with(|| va.build.cmp(&vb.build))
            .then(a.0.cmp(&b.0))
    });
    terms
        .into_iter()
        .map(|(_, _, text)| text)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for VersionConstraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.constraints.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for VersionConstraints {
    type Err = ConstraintError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for VersionConstraints {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses one `OPERATOR VERSION` term; the error is the reason, without the surrounding input.
fn parse_term(term: &str) -> Result<Constraint, String> {
    // The operator is the leading run of punctuation, so `=>` or `^` is reported as an
    // operator mistake rather than as a bad version.
    let op_len = term
        .find(|c: char| !c.is_ascii_punctuation())
        .unwrap_or(term.len());
    let (op, rest) = term.split_at(op_len);
    let operator = match op {
        "" | "=" => Operator::Equal,
        "!=" => Operator::NotEqual,
        ">" => Operator::Greater,
        ">=" => Operator::GreaterOrEqual,
        "<" => Operator::Less,
        "<=" => Operator::LessOrEqual,
        "~>" => Operator::Pessimistic,
        "=>" => return Err(r#"unknown operator "=>" (did you mean ">="?)"#.into()),
        "=<" => return Err(r#"unknown operator "=<" (did you mean "<="?)"#.into()),
        "==" => return Err(r#"unknown operator "==" (did you mean "="?)"#.into()),
        other => return Err(format!("unknown operator {other:?}")),
    };
    let rest = rest.trim_start();
    let (text, after) = match rest.split_once(char::is_whitespace) {
        Some((text, after)) => (text, after.trim_start()),
        None => (rest, ""),
    };
    if text.is_empty() {
        return Err(format!("operator {op:?} must be followed by a version"));
    }
    if !after.is_empty() {
        return Err(format!("expected a comma between {text:?} and {after:?}"));
    }
    let (version, precision) = parse_boundary(text, operator == Operator::Equal)?;
    Ok(Constraint {
        operator,
        version,
        precision,
    })
}

/// Parses a possibly partial version (`4`, `4.67`, `4.67.1`, `1.0.0-beta2`), returning it
/// zero-padded with the count of numbers written.
fn parse_boundary(text: &str, exact: bool) -> Result<(Version, usize), String> {
    let not_a_version = || format!("{text:?} is not a version");
    if text
        .strip_prefix(['v', 'V'])
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Err(format!(
            "{text:?} is not a version; leave out the \"v\" prefix"
        ));
    }
    let core_end = text.find(['-', '+']).unwrap_or(text.len());
    let (core, suffix) = text.split_at(core_end);
    let numbers: Vec<&str> = core.split('.').collect();
    let is_wildcard = |n: &&str| matches!(*n, "*" | "x" | "X");
    // Only a numeric version with a wildcard slot (`1.2.x`) is a wildcard mistake; `x.y` is
    // just not a version.
    if numbers.iter().any(is_wildcard)
        && numbers
            .iter()
            .all(|n| is_wildcard(n) || is_version_number(n))
    {
        return Err(format!(
            "{text:?} uses a wildcard; leave out the numbers that may vary instead (\"~> 1.2\")"
        ));
    }
    if !numbers.iter().all(|n| is_version_number(n)) {
        return Err(not_a_version());
    }
    if numbers.len() > 3 {
        return Err(format!(
            "{text:?} has more than three numbers (major.minor.patch)"
        ));
    }
    if exact && numbers.len() < 3 {
        return Err(format!(
            "exact version {text:?} must be complete (major.minor.patch); \
             use \"~> {text}\" or \">= {text}\" for a range"
        ));
    }
    let mut full = numbers.join(".");
    for _ in numbers.len()..3 {
        full.push_str(".0");
    }
    full.push_str(suffix);
    let version = Version::parse(&full).map_err(|_| not_a_version())?;
    Ok((version, numbers.len()))
}

/// A semver numeric part: digits without a leading zero, small enough for `u64`.
fn is_version_number(n: &str) -> bool {
    !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && (n == "0" || !n.starts_with('0'))
        && n.parse::<u64>().is_ok()
}

/// What a set of constraints selects from the versions an upstream offers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Every available version some constraint matches, ascending, without duplicates.
    pub versions: Vec<Version>,
    /// Each constraint (as written) that matched nothing, e.g. an exact version the upstream
    /// does not have, so the operator learns about typos instead of silently mirroring less.
    pub unmatched: Vec<String>,
}

/// Picks the versions to mirror: the union of what each constraint selects from `available`.
pub fn resolve(specs: &[VersionConstraints], available: &[Version]) -> Resolution {
    let mut versions = Vec::new();
    let mut unmatched = Vec::new();
    for spec in specs {
        let before = versions.len();
        versions.extend(available.iter().filter(|v| spec.matches(v)).cloned());
        if versions.len() == before {
            unmatched.push(spec.as_written().to_owned());
        }
    }
    versions.sort();
    versions.dedup();
    Resolution {
        versions,
        unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn c(s: &str) -> VersionConstraints {
        VersionConstraints::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    /// Asserts which of `candidates` the constraint matches.
    fn assert_selects(constraint: &str, candidates: &[&str], expected: &[&str]) {
        let spec = c(constraint);
        let got: Vec<&str> = candidates
            .iter()
            .copied()
            .filter(|s| spec.matches(&v(s)))
            .collect();
        assert_eq!(got, expected, "constraint {constraint:?}");
    }

    fn parse_error(s: &str) -> String {
        match VersionConstraints::parse(s) {
            Ok(c) => panic!("{s:?} should be refused, parsed as {c}"),
            Err(e) => e.to_string(),
        }
    }

    const SOME: &[&str] = &["0.9.0", "1.0.0", "1.0.1", "1.1.0", "1.2.0", "2.0.0"];

    #[test]
    fn each_operator_compares_as_terraform_does() {
        assert_selects("1.0.1", SOME, &["1.0.1"]);
        assert_selects("= 1.0.1", SOME, &["1.0.1"]);
        assert_selects(
            "!= 1.0.1",
            SOME,
            &["0.9.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0"],
        );
        assert_selects("> 1.1.0", SOME, &["1.2.0", "2.0.0"]);
        assert_selects(">= 1.1.0", SOME, &["1.1.0", "1.2.0", "2.0.0"]);
        assert_selects("< 1.0.1", SOME, &["0.9.0", "1.0.0"]);
        assert_selects("<= 1.0.1", SOME, &["0.9.0", "1.0.0", "1.0.1"]);
    }

    #[test]
    fn whitespace_around_operators_is_optional() {
        assert_selects(">=1.1.0", SOME, &["1.1.0", "1.2.0", "2.0.0"]);
        assert_selects("  >=   1.1.0  ", SOME, &["1.1.0", "1.2.0", "2.0.0"]);
        assert_selects("~>1.0", SOME, &["1.0.0", "1.0.1", "1.1.0", "1.2.0"]);
        assert_selects(">=1.0.0,<1.1.0", SOME, &["1.0.0", "1.0.1"]);
        assert_eq!(c("  ~>4.67 ").as_written(), "~>4.67");
    }

    #[test]
    fn partial_versions_are_padded_with_zeros() {
        assert_selects(">= 1.1", SOME, &["1.1.0", "1.2.0", "2.0.0"]);
        assert_selects("> 1", SOME, &["1.0.1", "1.1.0", "1.2.0", "2.0.0"]);
        assert_selects("< 1.1", SOME, &["0.9.0", "1.0.0", "1.0.1"]);
        assert_selects("!= 1", SOME, &["0.9.0", "1.0.1", "1.1.0", "1.2.0", "2.0.0"]);
        assert_eq!(c(">= 3.5").to_string(), ">= 3.5.0");
    }

    #[test]
    fn pessimistic_bumps_the_second_to_last_number_written() {
        let candidates = &["4.66.9", "4.67.0", "4.67.1", "4.68.0", "4.99.0", "5.0.0"];
        assert_selects(
            "~> 4.67",
            candidates,
            &["4.67.0", "4.67.1", "4.68.0", "4.99.0"],
        );
        assert_selects("~> 4.67.1", candidates, &["4.67.1"]);
        assert_selects("~> 4.67.0", candidates, &["4.67.0", "4.67.1"]);
        assert_selects(
            "~> 4",
            candidates,
            &["4.66.9", "4.67.0", "4.67.1", "4.68.0", "4.99.0"],
        );
        assert_selects("~> 0.9", SOME, &["0.9.0"]);
    }

    #[test]
    fn prereleases_match_only_when_named_exactly() {
        let candidates = &["1.0.0", "1.1.0-rc1", "1.1.0", "2.0.0-beta1"];
        assert_selects(">= 1.0.0", candidates, &["1.0.0", "1.1.0"]);
        assert_selects("~> 1.0", candidates, &["1.0.0", "1.1.0"]);
        assert_selects("!= 1.0.0", candidates, &["1.1.0"]);
        assert_selects("1.1.0-rc1", candidates, &["1.1.0-rc1"]);
        assert_selects("= 2.0.0-beta1", candidates, &["2.0.0-beta1"]);
        assert_selects(">= 1.0.0, 1.1.0-rc1", candidates, &["1.1.0-rc1"]);
        assert_selects(">= 1.1.0-rc1", candidates, &["1.1.0"]);
        // Named exactly but excluded by another term: still no match.
        assert_selects("1.1.0-rc1, >= 1.1.0", candidates, &[]);
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert!(c("1.0.0").matches(&v("1.0.0+linux")));
        assert!(c("1.0.0+abc").matches(&v("1.0.0")));
        assert!(!c("> 1.0.0").matches(&v("1.0.0+zzz")));
        assert!(c(">= 1.0.0+abc").matches(&v("1.0.0")));
    }

    #[test]
    fn commas_and_every_term() {
        assert_selects(">= 1.0.0, < 1.2.0", SOME, &["1.0.0", "1.0.1", "1.1.0"]);
        assert_selects(">= 1.0.0, < 1.2.0, != 1.0.1", SOME, &["1.0.0", "1.1.0"]);
        assert_selects("~> 1.0, > 1.0.1", SOME, &["1.1.0", "1.2.0"]);
        assert_selects(">= 2.0.0, < 1.0.0", SOME, &[]);
        let candidates = &["3.4.3", "3.5.0", "3.5.1", "3.6.2", "3.7.0"];
        assert_selects(
            ">= 3.5.0, < 3.7.0",
            candidates,
            &["3.5.0", "3.5.1", "3.6.2"],
        );
    }

    #[test]
    fn display_prints_a_normalised_form() {
        assert_eq!(c("5.31.0").to_string(), "5.31.0");
        assert_eq!(c("=5.31.0").to_string(), "5.31.0");
        assert_eq!(c(">=3.5,<3.7").to_string(), ">= 3.5.0, < 3.7.0");
        assert_eq!(c("~>4.67").to_string(), "~> 4.67");
        assert_eq!(c("~> 4").to_string(), "~> 4");
        assert_eq!(c("~> 4.67.1").to_string(), "~> 4.67.1");
        assert_eq!(c("!=1.0.0-beta2").to_string(), "!= 1.0.0-beta2");
        assert_eq!(c("~> 1.2-beta").to_string(), "~> 1.2-beta");
        // What Display prints parses back to the same meaning.
        for s in [
            "~>4.67",
            ">=3.5,<3.7",
            "~> 1.2-beta",
            "1.0.0-beta2",
            "~> 4.67.1",
        ] {
            let once = c(s);
            assert_eq!(c(&once.to_string()).to_string(), once.to_string());
        }
        assert_eq!(serde_json::to_string(&c(">=3.5")).unwrap(), "\">= 3.5.0\"");
    }

    #[test]
    fn exact_is_some_only_for_a_single_pinned_version() {
        assert_eq!(c("5.31.0").exact(), Some(v("5.31.0")));
        assert_eq!(c("= 1.0.0-beta2").exact(), Some(v("1.0.0-beta2")));
        assert_eq!(c(">= 5.31.0").exact(), None);
        assert_eq!(c("~> 5.31.0").exact(), None);
        assert_eq!(c("5.31.0, 5.31.0").exact(), None);
        assert_eq!(c("5.31.0, < 6.0.0").exact(), None);
    }

    #[test]
    fn parse_errors_name_the_bad_part() {
        assert_eq!(
            parse_error(">= x.y"),
            r#"invalid version constraint ">= x.y": "x.y" is not a version"#
        );
        assert_eq!(parse_error(""), "empty version constraint");
        assert_eq!(parse_error("   "), "empty version constraint");
        let cases = [
            ("=> 1.0.0", r#"unknown operator "=>""#),
            ("=< 1.0.0", r#"did you mean "<=""#),
            ("^1.0.0", r#"unknown operator "^""#),
            ("~ 1.0", r#"unknown operator "~""#),
            (">=", r#"operator ">=" must be followed by a version"#),
            (">= 1.0, ", "empty term"),
            (">= 1.0,,< 2.0", "empty term"),
            (
                ">= 1.0 < 2.0",
                r#"expected a comma between "1.0" and "< 2.0""#,
            ),
            ("v1.2.3", r#"leave out the "v" prefix"#),
            ("~> 1.2.*", "wildcard"),
            ("1.x", "wildcard"),
            ("1.2.3.4", "more than three numbers"),
            ("5.31", r#"exact version "5.31" must be complete"#),
            ("= 5", "must be complete"),
            ("1.02.0", r#""1.02.0" is not a version"#),
            ("1.0.0-", r#""1.0.0-" is not a version"#),
            ("1.0.0-bad!", r#""1.0.0-bad!" is not a version"#),
            (">= 1.0, latest", r#""latest" is not a version"#),
            ("99999999999999999999.0.0", "is not a version"),
        ];
        for (input, expected) in cases {
            let msg = parse_error(input);
            assert!(
                msg.contains(expected),
                "{input:?}: {msg:?} should contain {expected:?}"
            );
            assert!(
                msg.starts_with("invalid version constraint "),
                "{input:?}: {msg:?} should quote the constraint"
            );
        }
        // In a list of terms, the whole input is quoted and the reason names the bad term.
        assert_eq!(
            parse_error(">= 1.0.0, => 2.0.0"),
            r#"invalid version constraint ">= 1.0.0, => 2.0.0": unknown operator "=>" (did you mean ">="?)"#
        );
    }

    #[test]
    fn resolve_unions_dedupes_and_reports_unmatched() {
        let available: Vec<Version> = [
            "4.66.0",
            "4.67.0",
            "4.67.3",
            "5.0.0",
            "5.31.0",
            "5.32.0-beta1",
        ]
        .iter()
        .map(|s| v(s))
        .collect();
        let specs = [
            c("5.31.0"),
            c("~> 4.67"),
            c(">= 4.67.3, < 5.1.0"),
            c("5.30.0"),
            c(" ~> 9.0 "),
        ];
        let r = resolve(&specs, &available);
        let got: Vec<String> = r.versions.iter().map(Version::to_string).collect();
        assert_eq!(got, ["4.67.0", "4.67.3", "5.0.0", "5.31.0"]);
        assert_eq!(r.unmatched, ["5.30.0", "~> 9.0"]);

        let r = resolve(&[c("5.32.0-beta1")], &available);
        assert_eq!(r.versions, [v("5.32.0-beta1")]);
        assert!(r.unmatched.is_empty());

        let r = resolve(&[], &available);
        assert_eq!(r, Resolution::default());

        let r = resolve(&[c(">= 1.0.0")], &[]);
        assert!(r.versions.is_empty());
        assert_eq!(r.unmatched, [">= 1.0.0"]);
    }

    #[test]
    fn lock_files_get_terraforms_canonical_constraint_string() {
        let cases: &[(&[&str], &str)] = &[
            (&[], ""),
            (&["~> 3.0"], "~> 3.0"),
            (&["~> 3"], "~> 3.0"),
            (&["~> 3.1.2"], "~> 3.1.2"),
            (&["=1.2.3"], "1.2.3"),
            (&[">=1.0, <2"], ">= 1.0.0, < 2.0.0"),
            // Several modules' requirements: merged, duplicates dropped, by boundary.
            (
                &["< 4.0.0", ">= 3.1.0", "~> 3.0"],
                "~> 3.0, >= 3.1.0, < 4.0.0",
            ),
            (
                &[">= 2.0", ">= 2.0.0", "~> 2.0", "~> 2"],
                ">= 2.0.0, ~> 2.0",
            ),
            (
                &["!= 1.5.0, > 1.0.0, <= 1.9.0"],
                "> 1.0.0, != 1.5.0, <= 1.9.0",
            ),
            (&["2.0.0-beta1"], "2.0.0-beta1"),
        ];
        for (written, want) in cases {
            let specs: Vec<VersionConstraints> = written.iter().map(|s| c(s)).collect();
            assert_eq!(lock_file_string(&specs), *want, "{written:?}");
        }
    }
}
