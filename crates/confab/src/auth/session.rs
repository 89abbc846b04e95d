//! Session tokens: 256 random bits in the cookie, only their SHA-256 in the database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "neptun-session";

/// A fresh session token: (the cookie value, the hash to store).
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The `Set-Cookie` value that stores a session.
pub fn set_cookie(token: &str, max_age_seconds: i64, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// The session token from a `Cookie` header, if any.
pub fn token_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_hashed() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in unpadded base64url");
        assert_eq!(hash_a, hash_token(&a));
        assert_eq!(hash_a.len(), 32);
    }

    #[test]
    fn finds_the_cookie_among_others() {
        assert_eq!(
            token_from_cookie_header("a=1; neptun-session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(token_from_cookie_header("neptun-session="), None);
        assert_eq!(token_from_cookie_header("other=1"), None);
    }

    #[test]
    fn cookie_flags() {
        let cookie = set_cookie("t", 60, true);
        assert_eq!(
            cookie,
            "neptun-session=t; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert!(!set_cookie("t", 60, false).contains("Secure"));
    }
}
