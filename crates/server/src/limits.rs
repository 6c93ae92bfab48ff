//! The node's rate limiters: per node (talon-auth's [`RateLimiter`]), or shared by every node on one Redis
//! (`talon serve --rate-limit-url`), with the per-node limiter as the fallback whenever Redis does not answer.
//!
//! The shared window is the per-node one kept in Redis: a fixed 60-second window per key, started by the
//! key's first request (not at a minute boundary). The issue proposed a sliding window or GCRA; the same
//! fixed window was chosen because a node switches to its own limiter whenever Redis fails, and the wire
//! promises must not change meaning when it does: `X-Ratelimit-Remaining` is the requests left in this
//! window, `X-Ratelimit-Retryafter` (and `Retry-After`) the second the window ends, after which the whole
//! budget is back. A sliding window has no such second, and GCRA's "remaining" is a burst allowance that
//! refills continuously; clients (the SDK's pacing among them) would plan by different numbers in each mode.
//!
//! One check is one round trip: a Lua script (sent as `EVALSHA`, loaded on `NOSCRIPT` by `redis::Script`)
//! reads the key's window, starts a new one when it has ended, counts the request when it is a hit, and
//! returns the window's start and count. Its start is only known inside Redis, so it is stored beside the
//! count (not in the key's name) and the key expires by itself when a window starts (`EXPIRE`): nothing
//! ever deletes keys. Keys are `<prefix><limiter>:<key>` with `talon:rl:` as the default prefix; the keys
//! are addresses (an IPv6 address by its /64), client IDs of the right shape (else one shared bucket) and
//! customer IDs, never anything secret.
//!
//! Time is the node's [`Clock`](talon_auth::Clock) (so tests move a `ManualClock`), not Redis's `TIME`:
//! the nodes sharing a Redis need synchronised clocks (NTP), or a node whose clock runs ahead ends windows
//! early for all.
//!
//! When Redis is unreachable, a command fails or takes more than [`COMMAND_TIMEOUT`], that check and every
//! check of the next [`RETRY_AFTER`] are answered by the per-node limiter (never by no limit) without
//! waiting for Redis; then one background attempt reconnects, and checks go back to Redis once it answers.
//! The per-node counters count only the checks that fell back (counting every check twice would cost the
//! shared path a lock and a map update for a fallback that is rare), so a node falling back starts from
//! its own count, not the cluster's: for that minute the cluster allows at most N times a limit again.
//! Each change of state is logged once (a warning when Redis goes away, info when it is back), and every
//! check answered per node counts in `talon_rate_limit_fallbacks_total`.

use std::fmt::Write as _;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::IntCounter;
use redis::aio::MultiplexedConnection;
use talon_auth::ratelimit::WINDOW_SECS;
use talon_auth::{CustomerId, RateLimiter, RateStatus};

use crate::config::SharedLimits;

/// Longest wait for Redis's answer to one check: past it the check is answered per node. A check is a few
/// microseconds of Lua; anything slower means Redis or the network is in trouble.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(100);

/// Longest wait for a new connection to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// After a failure, how long checks stay per node before Redis is tried again: so that while Redis is
/// down no request waits for a timeout.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The window of `KEYS[1]` (a hash: `s` its start, `c` its count) at `ARGV[1]` (the node's clock, Unix
/// seconds), with windows of `ARGV[2]` seconds; `ARGV[3]` is `1` to count this request, `0` only to look.
/// Returns `{start, count}`, which the node turns into a status exactly as its own limiter does.
const WINDOW_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local length = tonumber(ARGV[2])
local window = redis.call('HMGET', KEYS[1], 's', 'c')
local started = tonumber(window[1])
local count = tonumber(window[2]) or 0
if started == nil or now >= started + length then
  started = now
  count = 0
end
if ARGV[3] == '1' then
  if count == 0 then
    redis.call('HSET', KEYS[1], 's', started, 'c', 1)
    redis.call('EXPIRE', KEYS[1], length)
    count = 1
  else
    count = redis.call('HINCRBY', KEYS[1], 'c', 1)
  end
end
return {started, count}
";

/// How a limiter's key is written into a Redis key.
pub trait LimitKey {
    fn write_key(&self, out: &mut String);
}

impl LimitKey for IpAddr {
    fn write_key(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = write!(out, "{self}");
    }
}

impl LimitKey for String {
    fn write_key(&self, out: &mut String) {
        out.push_str(self);
    }
}

impl LimitKey for CustomerId {
    fn write_key(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

/// An address and a client ID: `|` cannot occur in either (IPv6 addresses have colons).
impl LimitKey for (IpAddr, String) {
    fn write_key(&self, out: &mut String) {
        self.0.write_key(out);
        out.push('|');
        self.1.write_key(out);
    }
}

/// One limiter: its name (part of its Redis keys), its per-node counters, and the shared Redis if any.
pub struct Limiter<K> {
    name: &'static str,
    local: RateLimiter<K>,
    shared: Option<Arc<Shared>>,
}

impl<K: Hash + Eq + Clone + LimitKey> Limiter<K> {
    /// `name` must be unique among the node's limiters: it keeps their keys apart in Redis.
    pub fn new(name: &'static str, limit_per_minute: u32, shared: Option<&Arc<Shared>>) -> Limiter<K> {
        Limiter { name, local: RateLimiter::new(limit_per_minute), shared: shared.cloned() }
    }

    pub fn limit(&self) -> u32 {
        self.local.limit()
    }

    /// Counts one request for `key` and says whether it is within the limit.
    pub async fn hit(&self, key: &K, now: i64) -> RateStatus {
        self.check(key, now, true).await
    }

    /// The status of `key` without counting anything: `allowed` is false when the limit is used up.
    pub async fn peek(&self, key: &K, now: i64) -> RateStatus {
        self.check(key, now, false).await
    }

    async fn check(&self, key: &K, now: i64, counted: bool) -> RateStatus {
        // Per node there is nothing to await: the future is ready at its first poll.
        if let Some(shared) = &self.shared {
            if let Some((started, count)) = shared.window(self.name, key, now, counted).await {
                return RateStatus::of_window(self.local.limit(), started, count, counted);
            }
        }
        if counted {
            self.local.hit(key, now)
        } else {
            self.local.peek(key, now)
        }
    }
}

/// The connection to the shared Redis and what the node knows of its state.
pub struct Shared {
    client: redis::Client,
    /// The URL without its password, for the logs.
    shown_url: String,
    key_prefix: String,
    script: redis::Script,
    link: Mutex<Link>,
    fallbacks: IntCounter,
}

struct Link {
    /// The live connection and its generation (so that a failure seen on an old connection does not
    /// drop a newer one). `None` while Redis is taken to be down.
    conn: Option<(MultiplexedConnection, u64)>,
    generation: u64,
    /// While down: no attempt to reconnect before this instant.
    retry_at: Instant,
    /// A reconnection is under way (one at a time).
    connecting: bool,
    /// Whether Redis answered at the last change of state, as logged; `None` before the first attempt.
    up: Option<bool>,
}

impl Shared {
    /// Connects to the Redis of `config`, once and within [`CONNECT_TIMEOUT`], so that a node starting with
    /// Redis up shares its limits from the first request; when Redis does not answer, the node starts on
    /// per-node limits and tries again later. `fallbacks` counts the checks answered per node.
    pub async fn connect(config: &SharedLimits, fallbacks: IntCounter) -> Option<Arc<Shared>> {
        let shown_url = talon_store::redact_url(config.url());
        let client = match redis::Client::open(config.url()) {
            Ok(client) => client,
            // `SharedLimits::new` checked the URL: this is not expected, and is said loudly.
            Err(e) => {
                tracing::error!(redis = %shown_url, error = %e, "rate-limit URL refused; rate limits are per node");
                return None;
            }
        };
        let shared = Arc::new(Shared {
            client,
            shown_url,
            key_prefix: config.key_prefix().to_owned(),
            script: redis::Script::new(WINDOW_SCRIPT),
            link: Mutex::new(Link { conn: None, generation: 0, retry_at: Instant::now(), connecting: true, up: None }),
            fallbacks,
        });
        shared.reconnect().await;
        Some(shared)
    }

    /// Whether checks go to Redis now (false while they are answered per node).
    pub fn is_up(&self) -> bool {
        self.link.lock().conn.is_some()
    }

    /// The window of `name`'s `key` in Redis, counting this request when `counted`; `None` when Redis did
    /// not answer (the check is then the per-node limiter's, and counted as a fallback).
    async fn window(self: &Arc<Self>, name: &str, key: &impl LimitKey, now: i64, counted: bool) -> Option<(i64, u32)> {
        let Some((mut conn, generation)) = self.connection() else {
            self.fallbacks.inc();
            return None;
        };
        let mut redis_key = String::with_capacity(self.key_prefix.len() + name.len() + 80);
        redis_key.push_str(&self.key_prefix);
        redis_key.push_str(name);
        redis_key.push(':');
        key.write_key(&mut redis_key);
        let mut invocation = self.script.key(redis_key);
        invocation.arg(now).arg(WINDOW_SECS).arg(u8::from(counted));
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, invocation.invoke_async::<(i64, i64)>(&mut conn)).await;
        match answer {
            Ok(Ok((started, count))) => Some((started, u32::try_from(count.max(0)).unwrap_or(u32::MAX))),
            Ok(Err(e)) => {
                self.failed(generation, &e.to_string());
                self.fallbacks.inc();
                None
            }
            Err(_) => {
                self.failed(generation, "no answer within the command timeout");
                self.fallbacks.inc();
                None
            }
        }
    }

    /// The live connection; without one, starts a reconnection in the background when it is time to try
    /// again (the request that finds Redis down does not wait for it).
    fn connection(self: &Arc<Self>) -> Option<(MultiplexedConnection, u64)> {
        let mut link = self.link.lock();
        if let Some((conn, generation)) = &link.conn {
            return Some((conn.clone(), *generation));
        }
        if !link.connecting && Instant::now() >= link.retry_at {
            link.connecting = true;
            let shared = self.clone();
            tokio::spawn(async move { shared.reconnect().await });
        }
        None
    }

    async fn reconnect(&self) {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(CONNECT_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT);
        let attempt =
            tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_multiplexed_async_connection_with_config(&config))
                .await;
        let mut link = self.link.lock();
        link.connecting = false;
        match attempt {
            Ok(Ok(conn)) => {
                link.generation += 1;
                link.conn = Some((conn, link.generation));
                if link.up != Some(true) {
                    tracing::info!(redis = %self.shown_url, "rate limits are shared through Redis");
                    link.up = Some(true);
                }
            }
            Ok(Err(e)) => self.down(&mut link, &e.to_string()),
            Err(_) => self.down(&mut link, "no connection within the connect timeout"),
        }
    }

    /// A check on connection `generation` failed: Redis is taken to be down, unless a newer connection
    /// has replaced that one meanwhile.
    fn failed(&self, generation: u64, why: &str) {
        let mut link = self.link.lock();
        if link.conn.as_ref().is_some_and(|(_, g)| *g == generation) {
            self.down(&mut link, why);
        }
    }

    fn down(&self, link: &mut Link, why: &str) {
        link.conn = None;
        link.retry_at = Instant::now() + RETRY_AFTER;
        if link.up != Some(false) {
            tracing::warn!(
                redis = %self.shown_url,
                error = why,
                "Redis does not answer: rate limits are per node until it does"
            );
            link.up = Some(false);
        }
    }
}
