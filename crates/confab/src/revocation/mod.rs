//! Revoked credentials end live WebSockets.
//!
//! Every WebSocket registers the credential it was opened with (an API key, or a session)
//! in this node's [`LiveCredentials`]. When the credential stops being valid, its
//! connections are told to close (with 4001 `credential revoked`):
//!
//! * a logout on this node tells them at once;
//! * the [`watcher`] polls the database for keys revoked (`confab key revoke` writes the
//!   database directly, from another process) and sessions revoked or expired, on every
//!   node, and tells this node's connections.
//!
//! The registry is a map from credential to its connections, so a revocation costs one
//! lookup whatever the number of sockets. A credential revoked in the last
//! [`REMEMBER_REVOKED`] is remembered, so a connection that authenticated just before
//! the revocation and registers just after it is closed at once too.

pub mod watcher;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

/// How long a revoked credential is remembered for connections still registering.
pub const REMEMBER_REVOKED: Duration = Duration::from_secs(60);

/// What a connection was opened with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    ApiKey(Uuid),
    /// The SHA-256 of a session token (never the token itself).
    Session(Vec<u8>),
}

/// This node's live connections by credential.
#[derive(Default)]
pub struct LiveCredentials {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    live: HashMap<Credential, HashMap<u64, oneshot::Sender<()>>>,
    next_id: u64,
    /// Credentials revoked recently, with when this node learnt it.
    revoked: HashMap<Credential, Instant>,
}

fn lock(inner: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    // Every update leaves the maps consistent, so a panic elsewhere cannot poison them.
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A connection's registration: `revoked` resolves when its credential is revoked; the
/// registration ends when this is dropped.
pub struct Registration {
    pub revoked: oneshot::Receiver<()>,
    _guard: RegistrationGuard,
}

struct RegistrationGuard {
    inner: Arc<Mutex<Registry>>,
    credential: Credential,
    id: u64,
}

impl Drop for RegistrationGuard {
    fn drop(&mut self) {
        let mut registry = lock(&self.inner);
        if let Some(connections) = registry.live.get_mut(&self.credential) {
            connections.remove(&self.id);
            if connections.is_empty() {
                registry.live.remove(&self.credential);
            }
        }
    }
}

impl LiveCredentials {
    /// Registers a connection opened with `credential`. If the credential was revoked
    /// recently, `revoked` has already resolved.
    pub fn register(&self, credential: Credential) -> Registration {
        let (tell, revoked) = oneshot::channel();
        let mut registry = lock(&self.inner);
        let id = registry.next_id;
        registry.next_id += 1;
        if registry.revoked.contains_key(&credential) {
            let _ = tell.send(());
        } else {
            registry
                .live
                .entry(credential.clone())
                .or_default()
                .insert(id, tell);
        }
        drop(registry);
        Registration {
            revoked,
            _guard: RegistrationGuard {
                inner: self.inner.clone(),
                credential,
                id,
            },
        }
    }

    /// Tells every connection opened with `credential` to close, and remembers it for
    /// [`REMEMBER_REVOKED`] (only for revocations the database confirms: remembering
    /// whatever a request names would let anyone fill the memory). Returns how many
    /// connections were told.
    pub fn revoke(&self, credential: Credential, now: Instant) -> usize {
        let mut registry = lock(&self.inner);
        let told = close(&mut registry, &credential);
        registry.revoked.insert(credential, now);
        told
    }

    /// Tells every connection opened with `credential` to close, without remembering it
    /// (a logout on this node; the watcher confirms it). Returns how many were told.
    pub fn close(&self, credential: &Credential) -> usize {
        close(&mut lock(&self.inner), credential)
    }

    /// Forgets credentials revoked longer than [`REMEMBER_REVOKED`] before `now`.
    pub fn forget_old(&self, now: Instant) {
        lock(&self.inner)
            .revoked
            .retain(|_, at| now.saturating_duration_since(*at) < REMEMBER_REVOKED);
    }

    /// Whether any connection is registered on this node (in constant time).
    pub fn any(&self) -> bool {
        !lock(&self.inner).live.is_empty()
    }

    /// Live connections registered on this node.
    #[cfg(test)]
    pub fn connections(&self) -> usize {
        lock(&self.inner).live.values().map(HashMap::len).sum()
    }
}

fn close(registry: &mut Registry, credential: &Credential) -> usize {
    registry.live.remove(credential).map_or(0, |connections| {
        let count = connections.len();
        for tell in connections.into_values() {
            let _ = tell.send(());
        }
        count
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoking_tells_only_that_credentials_connections() {
        let live = LiveCredentials::default();
        let key = Credential::ApiKey(Uuid::new_v4());
        let session = Credential::Session(vec![7; 32]);
        let mut a = live.register(key.clone());
        let mut b = live.register(key.clone());
        let mut c = live.register(session.clone());
        assert_eq!(live.connections(), 3);

        assert_eq!(live.revoke(key.clone(), Instant::now()), 2);
        assert_eq!(a.revoked.try_recv(), Ok(()));
        assert_eq!(b.revoked.try_recv(), Ok(()));
        assert!(c.revoked.try_recv().is_err(), "other credentials stay open");
        assert_eq!(live.revoke(key, Instant::now()), 0, "idempotent");
        drop((a, b));
        assert_eq!(live.connections(), 1);
        assert_eq!(live.close(&session), 1);
        assert_eq!(c.revoked.try_recv(), Ok(()));
        let mut again = live.register(session);
        assert!(
            again.revoked.try_recv().is_err(),
            "a plain close is not remembered"
        );
        drop((c, again));
        assert_eq!(live.connections(), 0);
        assert!(!live.any());
        assert!(lock(&live.inner).live.is_empty(), "nothing lingers");
    }

    #[test]
    fn a_recently_revoked_credential_is_refused_at_registration_until_forgotten() {
        let live = LiveCredentials::default();
        let key = Credential::ApiKey(Uuid::new_v4());
        let start = Instant::now();
        live.revoke(key.clone(), start);
        let mut late = live.register(key.clone());
        assert_eq!(late.revoked.try_recv(), Ok(()));
        assert_eq!(live.connections(), 0);

        live.forget_old(start + REMEMBER_REVOKED / 2);
        assert!(live.register(key.clone()).revoked.try_recv().is_ok());
        live.forget_old(start + REMEMBER_REVOKED);
        assert!(live.register(key).revoked.try_recv().is_err());
    }
}
