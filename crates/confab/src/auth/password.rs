//! Passwords: argon2id, hashed and verified on the blocking pool so a login never stalls
//! the async executor.
//!
//! Parameters: argon2id, m = 19 MiB, t = 2, p = 1 (the OWASP minimum for argon2id).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

use crate::domain::Password;

fn hasher() -> Argon2<'static> {
    // These constants are valid argon2 parameters; `Params::DEFAULT` is the fallback that
    // cannot fail, kept only so this function has no panic path.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password into a PHC string.
pub async fn hash(password: Password) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash. With no stored hash (unknown email) it checks
/// against a dummy hash, so both cases take the same time and answer the same.
pub async fn verify(password: Password, stored: Option<String>) -> anyhow::Result<bool> {
    let known = stored.is_some();
    let stored = match stored {
        Some(hash) => hash,
        None => dummy_hash().to_owned(),
    };
    let matches = tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| anyhow::anyhow!("stored password hash is not a PHC string: {e}"))?;
        Ok::<bool, anyhow::Error>(
            hasher()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok(),
        )
    })
    .await??;
    Ok(known && matches)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(b"confab-dummy-password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let password = Password::parse_new("correct horse").expect("valid");
        let stored = hash(password.clone()).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(password, Some(stored.clone()))
            .await
            .expect("verify"));
        let wrong = Password::parse_existing("wrong horse").expect("valid");
        assert!(!verify(wrong.clone(), Some(stored)).await.expect("verify"));
        assert!(!verify(wrong, None).await.expect("verify"));
    }
}
