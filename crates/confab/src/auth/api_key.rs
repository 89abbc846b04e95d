//! API keys: `cfb_<prefix>_<secret>`. The prefix is public and indexed for lookup; the
//! whole key is stored only as SHA-256 and compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

const MARKER: &str = "cfb_";

/// A freshly generated key: shown once, then only `prefix` and `hash` are kept.
pub struct GeneratedKey {
    pub key: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GeneratedKey({MARKER}{}_<redacted>)", self.prefix)
    }
}

pub fn generate() -> GeneratedKey {
    let mut prefix = [0u8; 6];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut prefix);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    // Hex keeps the prefix free of `_`, so the key splits unambiguously.
    let prefix: String = prefix.iter().map(|b| format!("{b:02x}")).collect();
    let key = format!("{MARKER}{prefix}_{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash_key(&key);
    GeneratedKey { key, prefix, hash }
}

pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// The lookup prefix of a presented key, if it has our shape.
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(MARKER)?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == 12 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some(prefix)
}

/// Whether `presented` is the key whose hash is `stored`, in constant time.
pub fn matches(presented: &str, stored: &[u8]) -> bool {
    hash_key(presented).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match() {
        let generated = generate();
        assert!(generated.key.starts_with("cfb_"));
        assert_eq!(prefix_of(&generated.key), Some(generated.prefix.as_str()));
        assert!(matches(&generated.key, &generated.hash));
        assert!(!matches(&format!("{}x", generated.key), &generated.hash));
        assert!(!format!("{generated:?}").contains(&generated.key[17..]));
    }

    #[test]
    fn garbage_has_no_prefix() {
        for bad in [
            "",
            "cfb_",
            "cfb_abc_def",
            "xyz_0123456789ab_s",
            "cfb_0123456789ab_",
        ] {
            assert_eq!(prefix_of(bad), None, "{bad:?}");
        }
    }
}
