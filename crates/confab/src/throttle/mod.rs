//! Abuse limits, in memory on each node: login and sign-up throttling per client and
//! per account, a request rate per API key, a write rate per user, and WebSocket
//! connection caps. The pure
//! parts (the rate arithmetic, client keys, slot counting) live in the submodules; the
//! HTTP layer decides where each check happens.

pub mod client;
pub mod rate;
pub mod slots;

use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

pub use client::{client_address, ClientKey};
pub use rate::{retry_after_seconds, Quota, RateLimiter};
pub use slots::{Full, SlotGuard, WsSlots};

use crate::config::AbuseLimits;
use crate::domain::Email;

/// An account as the failure throttle counts it: the SHA-256 of its tenant and its
/// normalized email (one address is a separate account in each tenant), so every
/// remembered key has the same small size.
pub type AccountKey = [u8; 32];

pub fn account_key(tenant_id: Uuid, email: &Email) -> AccountKey {
    let mut digest = Sha256::new();
    digest.update(tenant_id.as_bytes());
    digest.update(email.normalized().as_bytes());
    digest.finalize().into()
}

/// Every throttle of a node.
pub struct Throttles {
    /// Login and sign-up attempts per client address.
    pub auth_by_client: RateLimiter<ClientKey>,
    /// Share-link reads per client address.
    pub shared_by_client: RateLimiter<ClientKey>,
    /// Failed logins and refused sign-ups per account.
    pub auth_by_account: RateLimiter<AccountKey>,
    /// `/api/v1` requests per API key.
    pub by_api_key: RateLimiter<Uuid>,
    /// User API writes per signed-in user.
    pub writes_by_user: RateLimiter<i64>,
    /// Live WebSocket connections per chat and per key.
    pub ws: WsSlots,
}

impl Throttles {
    pub fn new(limits: &AbuseLimits) -> Self {
        Throttles {
            auth_by_client: RateLimiter::new(Quota::per_window(
                limits.auth_ip_attempts,
                Duration::from_secs(limits.auth_ip_window_seconds),
            )),
            shared_by_client: RateLimiter::new(Quota::per_window(
                limits.shared_ip_reads_per_minute,
                Duration::from_secs(60),
            )),
            auth_by_account: RateLimiter::new(Quota::per_window(
                limits.auth_account_failures,
                Duration::from_secs(limits.auth_account_window_seconds),
            )),
            by_api_key: RateLimiter::new(Quota::per_second(
                limits.api_key_rate_per_second,
                limits.api_key_burst,
            )),
            writes_by_user: RateLimiter::new(Quota::per_second(
                limits.user_write_rate_per_second,
                limits.user_write_burst,
            )),
            ws: WsSlots::new(limits.ws_max_per_chat, limits.ws_max_per_key),
        }
    }
}
