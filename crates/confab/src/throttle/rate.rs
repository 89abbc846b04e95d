//! A keyed rate limiter: a token bucket per key, kept as one instant per key (the
//! generic cell rate algorithm), with a bounded number of keys.
//!
//! A [`Quota`] lets a key spend `burst` requests at once and earns one back every
//! `interval`. The state of a key is its *theoretical arrival time* (`tat`): the instant
//! at which its bucket is full again. A request at `now` is allowed while
//! `tat - (burst - 1) * interval <= now`, and moves `tat` one `interval` on. A key whose
//! `tat` has passed is indistinguishable from a key never seen, so it can be forgotten:
//! that is how memory stays bounded.
//!
//! Time is passed in, so the arithmetic is tested without sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How much a key may do: `burst` at once, one more every `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    burst: u32,
    interval: Duration,
}

impl Quota {
    /// `count` requests per `window` (all at once, then refilling evenly); `None` (no
    /// limit) when `count` is 0.
    pub fn per_window(count: u32, window: Duration) -> Option<Quota> {
        (count > 0 && !window.is_zero()).then(|| Quota {
            burst: count,
            interval: (window / count).max(Duration::from_nanos(1)),
        })
    }

    /// `rate` requests per second sustained, with bursts of up to `burst`; `None` (no
    /// limit) when `rate` is 0.
    pub fn per_second(rate: u32, burst: u32) -> Option<Quota> {
        (rate > 0).then(|| Quota {
            burst: burst.max(1),
            interval: (Duration::from_secs(1) / rate).max(Duration::from_nanos(1)),
        })
    }

    /// How far ahead of `now` a key's `tat` may be and still allow a request.
    fn tolerance(&self) -> Duration {
        self.interval
            .checked_mul(self.burst.saturating_sub(1))
            .unwrap_or(Duration::MAX)
    }
}

/// Limits each key to a [`Quota`]; remembers at most `max_keys` keys.
pub struct RateLimiter<K> {
    quota: Option<Quota>,
    max_keys: usize,
    tats: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// The default bound on remembered keys: about 100,000 (a few MiB).
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// A limiter with `quota` (`None`: everything is allowed and nothing remembered).
    pub fn new(quota: Option<Quota>) -> Self {
        Self::with_max_keys(quota, Self::DEFAULT_MAX_KEYS)
    }

    pub fn with_max_keys(quota: Option<Quota>, max_keys: usize) -> Self {
        RateLimiter {
            quota,
            max_keys: max_keys.max(1),
            tats: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.quota.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Instant>> {
        self.tats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spends one request of `key` at `now`: `Ok` if allowed, else how long until the
    /// next one would be.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        let mut tats = self.lock();
        let tat = tats
            .get(key)
            .copied()
            .filter(|tat| *tat > now)
            .unwrap_or(now);
        let allowed_from = tat.checked_sub(quota.tolerance()).unwrap_or(now);
        if allowed_from > now {
            return Err(allowed_from.duration_since(now));
        }
        // An instant too far ahead to represent: the key is effectively blocked.
        let Some(next) = tat.checked_add(quota.interval) else {
            return Err(quota.interval);
        };
        if !tats.contains_key(key) && tats.len() >= self.max_keys {
            Self::make_room(&mut tats, now, self.max_keys);
        }
        tats.insert(key.clone(), next);
        Ok(())
    }

    /// Forgets `key`'s spending (e.g. after a successful login).
    pub fn reset(&self, key: &K) {
        if self.quota.is_some() {
            self.lock().remove(key);
        }
    }

    /// Keys currently remembered.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    /// Drops every key whose bucket is full again; if that is not enough, the key
    /// closest to being full (the one a new key hurts least to replace).
    fn make_room(tats: &mut HashMap<K, Instant>, now: Instant, max_keys: usize) {
        tats.retain(|_, tat| *tat > now);
        if tats.len() >= max_keys {
            let soonest = tats
                .iter()
                .min_by_key(|(_, tat)| **tat)
                .map(|(key, _)| key.clone());
            if let Some(key) = soonest {
                tats.remove(&key);
            }
        }
    }
}

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    let seconds = if wait.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_burst_then_one_per_interval() {
        // 3 per minute: 3 at once, then one every 20 s.
        let limiter = RateLimiter::new(Quota::per_window(3, 60 * SECOND));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check(&"a", start), Ok(()));
        }
        assert_eq!(limiter.check(&"a", start), Err(20 * SECOND));
        assert_eq!(limiter.check(&"a", start + 5 * SECOND), Err(15 * SECOND));
        assert_eq!(limiter.check(&"a", start + 20 * SECOND), Ok(()));
        assert_eq!(limiter.check(&"a", start + 20 * SECOND), Err(20 * SECOND));
        // A refused request costs nothing: after a full window the burst is back.
        let later = start + 80 * SECOND;
        for _ in 0..3 {
            assert_eq!(limiter.check(&"a", later), Ok(()));
        }
        assert!(limiter.check(&"a", later).is_err());
    }

    #[test]
    fn keys_are_independent_and_reset_clears_one() {
        let limiter = RateLimiter::new(Quota::per_window(1, 60 * SECOND));
        let now = Instant::now();
        assert!(limiter.check(&"a", now).is_ok());
        assert!(limiter.check(&"a", now).is_err());
        assert!(limiter.check(&"b", now).is_ok());
        limiter.reset(&"a");
        assert!(limiter.check(&"a", now).is_ok());
        assert!(limiter.check(&"b", now).is_err());
    }

    #[test]
    fn per_second_with_burst() {
        let limiter = RateLimiter::new(Quota::per_second(10, 5));
        let now = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check(&1, now).is_ok());
        }
        assert_eq!(limiter.check(&1, now), Err(Duration::from_millis(100)));
        assert!(limiter.check(&1, now + Duration::from_millis(100)).is_ok());
    }

    #[test]
    fn zero_disables() {
        assert_eq!(Quota::per_window(0, SECOND), None);
        assert_eq!(Quota::per_second(0, 10), None);
        let limiter = RateLimiter::new(None);
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(limiter.check(&"a", now).is_ok());
        }
        assert_eq!(limiter.tracked(), 0);
        assert!(!limiter.enabled());
    }

    #[test]
    fn memory_is_bounded_by_max_keys() {
        let limiter = RateLimiter::with_max_keys(Quota::per_window(2, 60 * SECOND), 100);
        let start = Instant::now();
        for key in 0..1000 {
            assert!(limiter.check(&key, start).is_ok());
            assert!(limiter.tracked() <= 100);
        }
        // Once their buckets refilled, old keys make room without evicting live ones.
        let later = start + 120 * SECOND;
        assert!(limiter.check(&5000, later).is_ok());
        assert_eq!(limiter.tracked(), 1, "expired keys were pruned");
    }

    #[test]
    fn eviction_under_pressure_prefers_the_key_closest_to_full() {
        let limiter = RateLimiter::with_max_keys(Quota::per_window(2, 60 * SECOND), 2);
        let start = Instant::now();
        // "busy" spent its whole burst; "light" spent one request.
        assert!(limiter.check(&"busy", start).is_ok());
        assert!(limiter.check(&"busy", start).is_ok());
        assert!(limiter.check(&"light", start).is_ok());
        assert!(limiter.check(&"new", start).is_ok());
        assert_eq!(limiter.tracked(), 2);
        assert!(
            limiter.check(&"busy", start).is_err(),
            "busy is still limited"
        );
    }

    #[test]
    fn huge_quotas_do_not_overflow() {
        let limiter = RateLimiter::new(Quota::per_window(u32::MAX, Duration::from_secs(86_400)));
        let now = Instant::now();
        for _ in 0..10 {
            assert!(limiter.check(&"a", now).is_ok());
        }
        let limiter = RateLimiter::new(Quota::per_second(1, u32::MAX));
        assert!(limiter.check(&"a", now).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(SECOND), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(180 * SECOND), 180);
    }
}
