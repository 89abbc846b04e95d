//! Throttled `last_used_at` writes of API keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// When each API key's `last_used_at` was last written by this node, so busy keys cost
/// one write a minute rather than one per request.
#[derive(Default)]
pub struct KeyTouches {
    last: Mutex<HashMap<Uuid, Instant>>,
}

impl KeyTouches {
    /// `last_used_at` is written at most this often per key (per node).
    pub const INTERVAL: Duration = Duration::from_secs(60);
    /// Above this many remembered keys, entries older than the interval are forgotten.
    const PRUNE_ABOVE: usize = 10_000;

    /// Whether `key_id`'s use at `now` is due a write; if so, remembers `now`.
    pub fn due(&self, key_id: Uuid, now: Instant) -> bool {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(at) = last.get(&key_id) {
            if now.saturating_duration_since(*at) < Self::INTERVAL {
                return false;
            }
        }
        if last.len() >= Self::PRUNE_ABOVE {
            last.retain(|_, at| now.saturating_duration_since(*at) < Self::INTERVAL);
        }
        last.insert(key_id, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_touched_at_most_once_per_interval() {
        let touches = KeyTouches::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let start = Instant::now();
        assert!(touches.due(a, start), "first use is written");
        assert!(!touches.due(a, start + Duration::from_secs(1)));
        assert!(!touches.due(a, start + Duration::from_secs(59)));
        assert!(touches.due(b, start), "keys are throttled separately");
        assert!(touches.due(a, start + KeyTouches::INTERVAL));
        assert!(!touches.due(a, start + KeyTouches::INTERVAL + Duration::from_secs(1)));
    }

    #[test]
    fn an_earlier_instant_does_not_reopen_the_window() {
        let touches = KeyTouches::default();
        let key = Uuid::new_v4();
        let start = Instant::now() + Duration::from_secs(10);
        assert!(touches.due(key, start));
        assert!(!touches.due(key, start - Duration::from_secs(5)));
    }
}
