//! argon2id password hashing, always on the blocking pool (it is deliberately slow).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

pub const MIN_LENGTH: usize = 12;
/// The longest password a login accepts, in bytes; no longer one can be set.
pub const MAX_BYTES: usize = 1024;

/// Why a password is refused; the message is safe to show.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!(
            "the password must be at least {MIN_LENGTH} characters long"
        ));
    }
    if password.len() > MAX_BYTES {
        return Err(format!(
            "the password must be at most {MAX_BYTES} bytes long"
        ));
    }
    if password
        .chars()
        .all(|c| c == password.chars().next().unwrap_or(' '))
    {
        return Err("the password must not repeat one character".into());
    }
    Ok(())
}

/// The PHC string (`$argon2id$v=19$...`) for `password`.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

/// A hash of a password nobody has, verified against when the username is unknown so that
/// unknown users and wrong passwords take the same time. Made once, with the same parameters
/// as real hashes.
pub async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash(crate::auth::new_token_secret())
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

/// Whether `password` matches `phc`; false for a malformed hash.
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}
