//! Fixed-window rate limits with Falcon-style status (limit, remaining, retry-after in epoch seconds).
//!
//! Written by hand rather than with `governor` because the wire needs exactly what a fixed window gives
//! (`X-Ratelimit-Remaining` and a retry time in Unix seconds) and the window must run on the injected
//! [`Clock`](crate::Clock) so tests move time instead of sleeping. [`RateLimiter`] counts per process (per
//! node); the server's shared mode keeps the same window in Redis and reads it back through
//! [`RateStatus::of_window`], so both modes answer alike.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::hash::Hash;

/// Length of a rate-limit window: the contract's limits are per minute.
pub const WINDOW_SECS: i64 = 60;

/// Past this many tracked keys, windows that have ended are dropped (at most once per second, so a flood
/// of new keys cannot make every check a full scan). Memory stays bounded by the keys active in one window;
/// callers keep that number small by keying on bounded things (an IPv6 /64, a well-formed client ID).
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

impl RateStatus {
    /// The status of a window that started at `started` (Unix seconds) and holds `count` requests. `counted`:
    /// this request is among them (a hit, allowed while within the limit); otherwise it was only looked at
    /// (a peek, allowed while the limit is not used up yet).
    pub fn of_window(limit: u32, started: i64, count: u32, counted: bool) -> RateStatus {
        RateStatus {
            limit,
            remaining: limit.saturating_sub(count),
            resets_at: started + WINDOW_SECS,
            allowed: if counted { count <= limit } else { count < limit },
        }
    }
}

struct Window {
    started: i64,
    count: u32,
}

struct Windows<K> {
    by_key: HashMap<K, Window>,
    last_prune: i64,
}

/// A per-key fixed-window counter.
pub struct RateLimiter<K> {
    limit: u32,
    windows: Mutex<Windows<K>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(limit_per_minute: u32) -> RateLimiter<K> {
        RateLimiter { limit: limit_per_minute, windows: Mutex::new(Windows { by_key: HashMap::new(), last_prune: 0 }) }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts one request for `key` and says whether it is within the limit.
    pub fn hit(&self, key: &K, now: i64) -> RateStatus {
        let mut windows = self.windows.lock();
        if windows.by_key.len() > PRUNE_ABOVE && windows.last_prune < now {
            windows.by_key.retain(|_, w| now < w.started + WINDOW_SECS);
            windows.last_prune = now;
        }
        // Look up before inserting, so the common case clones no key.
        let window = match windows.by_key.get_mut(key) {
            Some(window) => window,
            None => windows.by_key.entry(key.clone()).or_insert(Window { started: now, count: 0 }),
        };
        if now >= window.started + WINDOW_SECS {
            *window = Window { started: now, count: 0 };
        }
        window.count = window.count.saturating_add(1);
        RateStatus::of_window(self.limit, window.started, window.count, true)
    }

    /// The status of `key` without counting anything (and without tracking the key): `allowed` is false
    /// when the limit is already used up.
    pub fn peek(&self, key: &K, now: i64) -> RateStatus {
        let windows = self.windows.lock();
        match windows.by_key.get(key).filter(|w| now < w.started + WINDOW_SECS) {
            Some(w) => RateStatus::of_window(self.limit, w.started, w.count, false),
            None => RateStatus::of_window(self.limit, now, 0, false),
        }
    }
}

/// The key under which a source address is rate-limited: an IPv4 address as it is, an IPv6 address by its
/// /64 (one host usually holds a whole /64, so per-address keys would let it rotate past any limit).
/// IPv4-mapped IPv6 addresses count as IPv4.
pub fn address_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
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
    fn ended_windows_are_pruned_and_peek_tracks_nothing() {
        let rl = RateLimiter::new(5);
        for i in 0..=PRUNE_ABOVE as u32 {
            rl.hit(&i, 0);
        }
        rl.peek(&(u32::MAX - 1), WINDOW_SECS);
        rl.hit(&u32::MAX, WINDOW_SECS);
        let len = rl.windows.lock().by_key.len();
        assert_eq!(len, 1);
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a = address_key("2001:db8:1:2::1".parse().expect("ip"));
        let b = address_key("2001:db8:1:2:ffff::9".parse().expect("ip"));
        let c = address_key("2001:db8:1:3::1".parse().expect("ip"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            address_key("::ffff:10.0.0.1".parse().expect("ip")),
            "10.0.0.1".parse::<std::net::IpAddr>().expect("ip")
        );
        assert_eq!(address_key("10.0.0.1".parse().expect("ip")), "10.0.0.1".parse::<std::net::IpAddr>().expect("ip"));
    }
}
