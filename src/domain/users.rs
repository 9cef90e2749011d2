//! Rules for account names, shared by the admin API and the CLI.

/// Letters, digits, `.`, `_`, `-` and `@`; 1 to 64 characters.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}
