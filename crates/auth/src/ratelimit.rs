//! Fixed-window rate limits with Falcon-style status (limit, remaining, retry-after in epoch seconds).
//!
//! Written by hand rather than with `governor` because the wire needs exactly what a fixed window gives
//! (`X-Ratelimit-Remaining` and a retry time in Unix seconds) and the window must run on the injected
//! [`Clock`](crate::Clock) so tests move time instead of sleeping. Limits are per process (per node).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Length of a rate-limit window: the contract's limits are per minute.
pub const WINDOW_SECS: i64 = 60;

/// Past this many tracked keys, windows that have ended are dropped, so memory stays bounded by the number
/// of keys active within one window.
const PRUNE_ABOVE: usize = 10_000;

/// The state of one key's window after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window resets.
    pub resets_at: i64,
    /// False when this request is over the limit.
    pub allowed: bool,
}

struct Window {
    started: i64,
    count: u32,
}

/// A per-key fixed-window counter.
pub struct RateLimiter<K> {
    limit: u32,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(limit_per_minute: u32) -> RateLimiter<K> {
        RateLimiter { limit: limit_per_minute, windows: Mutex::new(HashMap::new()) }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one request for `key` and says whether it is within the limit.
    pub fn hit(&self, key: &K, now: i64) -> RateStatus {
        self.with_window(key, now, |w| w.count = w.count.saturating_add(1))
    }

    /// The status of `key` without counting anything: `allowed` is false when the limit is already used up.
    pub fn peek(&self, key: &K, now: i64) -> RateStatus {
        self.with_window(key, now, |_| ())
    }

    fn with_window(&self, key: &K, now: i64, update: impl FnOnce(&mut Window)) -> RateStatus {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| now < w.started + WINDOW_SECS);
        }
        let window = windows.entry(key.clone()).or_insert(Window { started: now, count: 0 });
        if now >= window.started + WINDOW_SECS {
            *window = Window { started: now, count: 0 };
        }
        let before = window.count;
        update(window);
        let counted = window.count != before;
        // A hit is allowed when it stays within the limit; a peek when there is room for one more.
        let allowed = if counted { window.count <= self.limit } else { window.count < self.limit };
        RateStatus {
            limit: self.limit,
            remaining: self.limit.saturating_sub(window.count),
            resets_at: window.started + WINDOW_SECS,
            allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_up_to_the_limit_then_refuses_until_the_window_ends() {
        let rl = RateLimiter::new(3);
        let now = 1000;
        let s: Vec<_> = (0..4).map(|_| rl.hit(&"ip", now)).collect();
        assert_eq!(s.iter().map(|s| s.allowed).collect::<Vec<_>>(), [true, true, true, false]);
        assert_eq!(s.iter().map(|s| s.remaining).collect::<Vec<_>>(), [2, 1, 0, 0]);
        assert_eq!(s[3].resets_at, now + WINDOW_SECS);
        assert!(!rl.hit(&"ip", now + WINDOW_SECS - 1).allowed);
        let fresh = rl.hit(&"ip", now + WINDOW_SECS);
        assert!(fresh.allowed);
        assert_eq!(fresh.remaining, 2);
    }

    #[test]
    fn keys_are_independent_and_peek_counts_nothing() {
        let rl = RateLimiter::new(1);
        assert!(rl.peek(&"a", 0).allowed);
        assert!(rl.hit(&"a", 0).allowed);
        assert!(!rl.peek(&"a", 0).allowed);
        assert!(rl.peek(&"b", 0).allowed);
        assert_eq!(rl.peek(&"b", 0).remaining, 1);
    }

    #[test]
    fn ended_windows_are_pruned() {
        let rl = RateLimiter::new(5);
        for i in 0..=PRUNE_ABOVE as u32 {
            rl.hit(&i, 0);
        }
        rl.hit(&u32::MAX, WINDOW_SECS);
        let len = rl.windows.lock().expect("lock").len();
        assert_eq!(len, 1);
    }
}
