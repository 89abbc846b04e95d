//! Secrets: password hashing, session tokens and API keys. Only hashes are ever stored.

pub mod api_key;
pub mod password;
pub mod session;
