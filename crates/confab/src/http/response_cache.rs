//! Serialised lists, reused while what they show is unchanged: a chat's messages (keyed
//! by chat id, stamped with the chat's version), a user's chat lists (keyed by user and
//! query, stamped with the user's [`ChatsFingerprint`]) and pages of a tenant's chat list
//! (keyed by [`TenantListKey`], stamped with the page's [`ChatsPageStamp`]).
//!
//! A reader asks the database for the current stamp (one indexed read) and uses the
//! entry only when the stamps match. Every change to a chat bumps its version in the
//! same transaction, and the stamp is read in one snapshot with the rows it stamps, so a
//! match means the bytes are exactly what a fresh read would produce. Correctness never
//! depends on invalidation messages, so this holds with several server processes on one
//! database.

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::store::{ChatsFingerprint, ChatsPageStamp};

/// A page of a tenant's chat list: the tenant, whether it is the trash, the query string.
pub type TenantListKey = (uuid::Uuid, bool, String);

/// A serialised JSON body (a whole list, read or cached) as the answer.
pub fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// What an entry is valid for.
pub trait Stamp: PartialEq {
    /// Whether an entry stamped `self` should stay when one stamped `other` is offered:
    /// a later read may finish first.
    fn supersedes(&self, other: &Self) -> bool;
}

/// A chat's version: only grows.
impl Stamp for i64 {
    fn supersedes(&self, other: &Self) -> bool {
        self > other
    }
}

/// Fingerprints have no order (a deletion lowers the count): the last read stored wins.
impl Stamp for ChatsFingerprint {
    fn supersedes(&self, _: &Self) -> bool {
        false
    }
}

/// A page's stamp has no order either.
impl Stamp for ChatsPageStamp {
    fn supersedes(&self, _: &Self) -> bool {
        false
    }
}

pub struct ResponseCache<K, S> {
    inner: Mutex<Inner<K, S>>,
    max_bytes: usize,
    max_entry_bytes: usize,
}

struct Inner<K, S> {
    entries: HashMap<K, Entry<S>>,
    bytes: usize,
    clock: u64,
}

struct Entry<S> {
    stamp: S,
    body: Bytes,
    last_used: u64,
}

impl<K: Hash + Eq + Clone, S: Stamp> ResponseCache<K, S> {
    /// A cache holding at most `max_bytes` of bodies (0 disables it), none of them over
    /// `max_entry_bytes` or an eighth of the whole.
    pub fn new(max_bytes: usize, max_entry_bytes: usize) -> Self {
        ResponseCache {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
                clock: 0,
            }),
            max_bytes,
            max_entry_bytes: max_entry_bytes.min(max_bytes / 8),
        }
    }

    /// The largest body worth storing; longer lists are streamed instead.
    pub fn entry_limit(&self) -> usize {
        self.max_entry_bytes
    }

    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, S>> {
        // The maps stay consistent at every await-free step; recover from poisoning.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The body stored for `key` at exactly `stamp`.
    pub fn get(&self, key: &K, stamp: &S) -> Option<Bytes> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let entry = inner.entries.get_mut(key)?;
        if entry.stamp != *stamp {
            return None;
        }
        entry.last_used = clock;
        Some(entry.body.clone())
    }

    /// Stores the body read at `stamp`, unless the one already there supersedes it or
    /// the body is over [`ResponseCache::entry_limit`].
    pub fn put(&self, key: K, stamp: S, body: Bytes) {
        if !self.enabled() || body.len() > self.max_entry_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        if let Some(existing) = inner.entries.get(&key) {
            if existing.stamp.supersedes(&stamp) {
                return;
            }
        }
        let added = body.len();
        if let Some(old) = inner.entries.insert(
            key,
            Entry {
                stamp,
                body,
                last_used: clock,
            },
        ) {
            inner.bytes -= old.body.len();
        }
        inner.bytes += added;
        while inner.bytes > self.max_bytes {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(evicted) = inner.entries.remove(&oldest) {
                inner.bytes -= evicted.body.len();
            }
        }
    }

    /// Bytes held now.
    pub fn size(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Messages = ResponseCache<i64, i64>;

    #[test]
    fn serves_only_the_exact_version() {
        let cache = Messages::new(1 << 20, 1 << 20);
        cache.put(1, 3, Bytes::from_static(b"v3"));
        assert_eq!(cache.get(&1, &3).as_deref(), Some(&b"v3"[..]));
        assert_eq!(cache.get(&1, &4), None);
        assert_eq!(cache.get(&2, &3), None);
        // A slow reader of an older version never replaces a newer entry.
        cache.put(1, 5, Bytes::from_static(b"v5"));
        cache.put(1, 4, Bytes::from_static(b"v4"));
        assert_eq!(cache.get(&1, &5).as_deref(), Some(&b"v5"[..]));
        assert_eq!(cache.get(&1, &4), None);
    }

    #[test]
    fn stays_within_its_size_evicting_the_least_recently_used() {
        let cache = Messages::new(800, 800);
        for id in 0..8 {
            cache.put(id, 1, Bytes::from(vec![b'x'; 100]));
        }
        assert!(cache.get(&0, &1).is_some()); // 0 is now the most recently used
        cache.put(8, 1, Bytes::from(vec![b'y'; 100]));
        assert!(cache.size() <= 800);
        assert!(cache.get(&0, &1).is_some());
        assert!(
            cache.get(&1, &1).is_none(),
            "the least recently used went first"
        );
        assert!(cache.get(&8, &1).is_some());
    }

    #[test]
    fn bodies_over_the_entry_limit_are_not_kept() {
        let cache = Messages::new(1 << 20, 100);
        cache.put(1, 1, Bytes::from(vec![b'x'; 101]));
        assert_eq!(cache.get(&1, &1), None);
        cache.put(1, 1, Bytes::from(vec![b'x'; 100]));
        assert!(cache.get(&1, &1).is_some());
        assert_eq!(Messages::new(800, 1 << 20).entry_limit(), 100);
    }

    #[test]
    fn a_disabled_cache_holds_nothing() {
        let cache = Messages::new(0, 1024);
        cache.put(1, 1, Bytes::from_static(b"x"));
        assert_eq!(cache.get(&1, &1), None);
        assert_eq!(cache.size(), 0);
    }

    #[test]
    fn a_chat_list_is_stamped_by_the_last_read_stored() {
        let cache = ResponseCache::<(i64, String), ChatsFingerprint>::new(1 << 20, 1 << 20);
        let stamp = |count, versions, newest| ChatsFingerprint {
            count,
            versions,
            newest,
        };
        let key = (7, "limit=20".to_owned());
        cache.put(key.clone(), stamp(3, 9, 12), Bytes::from_static(b"three"));
        assert!(cache.get(&key, &stamp(3, 9, 12)).is_some());
        // A deletion lowers every part, and its list still replaces the older one.
        cache.put(key.clone(), stamp(2, 5, 11), Bytes::from_static(b"two"));
        assert_eq!(cache.get(&key, &stamp(3, 9, 12)), None);
        assert_eq!(
            cache.get(&key, &stamp(2, 5, 11)).as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(
            cache.get(&(8, "limit=20".to_owned()), &stamp(2, 5, 11)),
            None
        );
    }
}
