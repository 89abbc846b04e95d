//! Serialised message lists, reused while the chat is unchanged.
//!
//! An entry is keyed by chat id and stamped with the chat's version. A reader asks the
//! database for the current version (one indexed row, which is also the ownership check)
//! and uses the entry only when the versions match. Every change to a chat bumps its
//! version in the same transaction, so a match means the bytes are exactly what a fresh
//! read would produce. Correctness never depends on invalidation messages, so this holds
//! with several server processes on one database.

use axum::body::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::ChatVersion;

pub struct ResponseCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
    max_entry_bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<i64, Entry>,
    bytes: usize,
    clock: u64,
}

struct Entry {
    version: i64,
    body: Bytes,
    last_used: u64,
}

impl ResponseCache {
    /// A cache holding at most `max_bytes` of bodies (0 disables it), none of them over
    /// `max_entry_bytes` or an eighth of the whole.
    pub fn new(max_bytes: usize, max_entry_bytes: usize) -> Self {
        ResponseCache {
            inner: Mutex::default(),
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps stay consistent at every await-free step; recover from poisoning.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The body stored for exactly this chat version.
    pub fn get(&self, key: ChatVersion) -> Option<Bytes> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let entry = inner.entries.get_mut(&key.id)?;
        if entry.version != key.version {
            return None;
        }
        entry.last_used = clock;
        Some(entry.body.clone())
    }

    /// Stores the body read at `key.version`, unless a newer one is already there or
    /// the body is over [`ResponseCache::entry_limit`].
    pub fn put(&self, key: ChatVersion, body: Bytes) {
        if !self.enabled() || body.len() > self.max_entry_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        if let Some(existing) = inner.entries.get(&key.id) {
            if existing.version > key.version {
                return;
            }
        }
        let added = body.len();
        if let Some(old) = inner.entries.insert(
            key.id,
            Entry {
                version: key.version,
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
                .map(|(id, _)| *id)
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

    fn key(id: i64, version: i64) -> ChatVersion {
        ChatVersion { id, version }
    }

    #[test]
    fn serves_only_the_exact_version() {
        let cache = ResponseCache::new(1 << 20, 1 << 20);
        cache.put(key(1, 3), Bytes::from_static(b"v3"));
        assert_eq!(cache.get(key(1, 3)).as_deref(), Some(&b"v3"[..]));
        assert_eq!(cache.get(key(1, 4)), None);
        assert_eq!(cache.get(key(2, 3)), None);
        // A slow reader of an older version never replaces a newer entry.
        cache.put(key(1, 5), Bytes::from_static(b"v5"));
        cache.put(key(1, 4), Bytes::from_static(b"v4"));
        assert_eq!(cache.get(key(1, 5)).as_deref(), Some(&b"v5"[..]));
        assert_eq!(cache.get(key(1, 4)), None);
    }

    #[test]
    fn stays_within_its_size_evicting_the_least_recently_used() {
        let cache = ResponseCache::new(800, 800);
        for id in 0..8 {
            cache.put(key(id, 1), Bytes::from(vec![b'x'; 100]));
        }
        assert!(cache.get(key(0, 1)).is_some()); // 0 is now the most recently used
        cache.put(key(8, 1), Bytes::from(vec![b'y'; 100]));
        assert!(cache.size() <= 800);
        assert!(cache.get(key(0, 1)).is_some());
        assert!(
            cache.get(key(1, 1)).is_none(),
            "the least recently used went first"
        );
        assert!(cache.get(key(8, 1)).is_some());
    }

    #[test]
    fn bodies_over_the_entry_limit_are_not_kept() {
        let cache = ResponseCache::new(1 << 20, 100);
        cache.put(key(1, 1), Bytes::from(vec![b'x'; 101]));
        assert_eq!(cache.get(key(1, 1)), None);
        cache.put(key(1, 1), Bytes::from(vec![b'x'; 100]));
        assert!(cache.get(key(1, 1)).is_some());
        assert_eq!(ResponseCache::new(800, 1 << 20).entry_limit(), 100);
    }

    #[test]
    fn a_disabled_cache_holds_nothing() {
        let cache = ResponseCache::new(0, 1024);
        cache.put(key(1, 1), Bytes::from_static(b"x"));
        assert_eq!(cache.get(key(1, 1)), None);
        assert_eq!(cache.size(), 0);
    }
}
