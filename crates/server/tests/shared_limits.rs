//! Rate limits shared across nodes through Redis (`Config::shared_limits`, `talon serve --rate-limit-url`):
//! the Lua-backed window against the per-node one, three nodes sharing one failure budget and one customer
//! budget (and, without Redis, each node its own), and Redis going away mid-run and coming back.
//!
//! Each test uses a key prefix of its own on the shared Redis (so parallel tests never share counters), or
//! a redis-server of its own on a free port when it kills it. Redis unreachable is a failure, never a skip
//! (in CI always; locally unless `TALON_SKIP_REDIS=1`).

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use talon_auth::ratelimit::WINDOW_SECS;
use talon_auth::{ManualClock, RateLimiter};
use talon_server::limits::{Limiter, Shared, RETRY_AFTER};
use talon_server::{Config, Limits, SharedLimits};
use talon_testkit::redis::{shared_url, unique_prefix, RedisServer};
use talon_testkit::TestDb;
use talon_wire::Scope;

const QUERY: &str = "/devices/queries/devices/v1";

fn shared(url: &str, prefix: &str) -> SharedLimits {
    SharedLimits::new(url, prefix).expect("a valid Redis URL")
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).expect("url").get_multiplexed_async_connection().await.expect("connect to Redis")
}

/// `n` nodes on one store and one clock, with `config`.
async fn nodes(n: usize, config: Config) -> Vec<Harness> {
    let db = Arc::new(TestDb::sqlite());
    let clock = Arc::new(ManualClock::new(NOW));
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(Harness::on(db.clone(), config.clone(), clock.clone()).await);
    }
    nodes
}

async fn refresh_all(nodes: &[Harness]) {
    for node in nodes {
        node.state.refresh().await.expect("refresh");
    }
}

fn wrong_secret(creds: &Creds) -> Request<Body> {
    form_post("/oauth2/token", &format!("client_id={}&client_secret=wrong", creds.id()))
}

/// `n` wrong secrets for `creds` from one address, over the nodes in turn: each a plain 403.
async fn fail_round_robin(nodes: &[Harness], creds: &Creds, n: usize) {
    for attempt in 0..n {
        let node = attempt % nodes.len();
        let reply = nodes[node].send(wrong_secret(creds)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "failure {} on node {node}", attempt + 1);
    }
}

#[tokio::test]
async fn the_redis_window_answers_as_the_per_node_one_and_peeks_count_nothing() {
    let Some(url) = shared_url() else { return };
    let prefix = unique_prefix();
    let fallbacks = prometheus::IntCounter::new("fallbacks", "test").expect("counter");
    let redis = Shared::connect(&shared(&url, &prefix), fallbacks.clone()).await.expect("shared limits");
    assert!(redis.is_up(), "Redis answers");
    let limit = 3;
    let in_redis: Limiter<IpAddr> = Limiter::new("unit", limit, Some(&redis));
    let another_node: Limiter<IpAddr> = Limiter::new("unit", limit, Some(&redis));
    let local = RateLimiter::new(limit);
    let ip: IpAddr = "203.0.113.7".parse().expect("ip");
    let key = format!("{prefix}unit:203.0.113.7");
    let mut conn = redis_conn(&url).await;
    let exists = |conn: &mut redis::aio::MultiplexedConnection| {
        let mut conn = conn.clone();
        let key = key.clone();
        async move { redis::cmd("EXISTS").arg(&key).query_async::<i64>(&mut conn).await.expect("EXISTS") }
    };

    // A peek of an unknown key: the whole budget, and no key is made.
    let t0 = NOW;
    let peeked = in_redis.peek(&ip, t0).await;
    assert_eq!(peeked, local.peek(&ip, t0));
    assert!(peeked.allowed && peeked.remaining == limit && peeked.resets_at == t0 + WINDOW_SECS);
    assert_eq!(exists(&mut conn).await, 0, "a peek writes nothing");

    // The same sequence of hits and peeks, over two windows, gives the same statuses in both modes.
    let steps: &[(bool, i64)] =
        &[(true, 0), (false, 1), (true, 5), (true, 5), (false, 6), (true, 30), (false, 59), (true, 59), (false, 60)];
    for (i, &(hit, at)) in steps.iter().enumerate() {
        let now = t0 + at;
        let (shared, per_node) = if hit {
            (in_redis.hit(&ip, now).await, local.hit(&ip, now))
        } else {
            (in_redis.peek(&ip, now).await, local.peek(&ip, now))
        };
        assert_eq!(shared, per_node, "step {i} (hit: {hit}, +{at} s)");
    }
    let count: i64 = redis::cmd("HGET").arg(&key).arg("c").query_async(&mut conn).await.expect("HGET");
    assert_eq!(count, 5, "five hits counted, peeks not");
    let used = another_node.peek(&ip, t0 + 59).await;
    assert!(!used.allowed && used.remaining == 0, "another node sees the same window: {used:?}");
    assert_eq!(used.resets_at, t0 + WINDOW_SECS);

    // A new window starts with the first hit at or after the end of the last one, with a fresh expiry.
    let t1 = t0 + WINDOW_SECS + 10;
    let fresh = another_node.hit(&ip, t1).await;
    assert_eq!(fresh, local.hit(&ip, t1));
    assert!(fresh.allowed && fresh.remaining == limit - 1 && fresh.resets_at == t1 + WINDOW_SECS, "{fresh:?}");
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.expect("TTL");
    assert!((1..=WINDOW_SECS).contains(&ttl), "the key expires by itself within a window: TTL {ttl}");

    // Keys of other limiters and other addresses are apart.
    let other: Limiter<IpAddr> = Limiter::new("unit-other", limit, Some(&redis));
    assert_eq!(other.peek(&ip, t1).await.remaining, limit);
    assert_eq!(in_redis.peek(&"203.0.113.8".parse().expect("ip"), t1).await.remaining, limit);
    assert_eq!(fallbacks.get(), 0, "no check fell back");
}

#[tokio::test]
async fn fifteen_failures_over_three_nodes_trip_the_clients_limit_when_shared_and_not_per_node() {
    let Some(url) = shared_url() else { return };

    // Shared: 15 failures, five per node, and the 16th on any node is refused.
    let config = Config { shared_limits: Some(shared(&url, &unique_prefix())), ..Config::default() };
    let nodes = nodes(3, config).await;
    let creds = nodes[0].client(&[Scope::DEVICES_READ]).await;
    refresh_all(&nodes).await;
    fail_round_robin(&nodes, &creds, 15).await;
    for (i, node) in nodes.iter().enumerate() {
        let reply = node.send(wrong_secret(&creds)).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "node {i} after 15 failures over three nodes");
        assert_eq!(reply.header("x-ratelimit-limit"), "15");
        assert_eq!(reply.header("x-ratelimit-retryafter"), (NOW + WINDOW_SECS).to_string());
        // The correct secret from this address is refused too, on every node.
        let reply = node.send(form_post("/oauth2/token", &creds.form())).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "node {i}, correct secret");
        assert_eq!(node.state.metrics().rate_limit_fallbacks.get(), 0);
    }

    // Per node (no Redis): each node allows its own 15, 45 in all, and refuses the 16th of its own.
    let nodes = self::nodes(3, Config::default()).await;
    let creds = nodes[0].client(&[Scope::DEVICES_READ]).await;
    refresh_all(&nodes).await;
    fail_round_robin(&nodes, &creds, 45).await;
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.send(wrong_secret(&creds)).await.status, StatusCode::TOO_MANY_REQUESTS, "node {i}");
    }
}

#[tokio::test]
async fn the_per_customer_api_limit_is_shared_by_the_nodes() {
    let Some(url) = shared_url() else { return };
    let limits = Limits { api_per_customer: 6, ..Limits::default() };
    let config =
        Config { limits, demo_hosts: 2, shared_limits: Some(shared(&url, &unique_prefix())), ..Config::default() };
    let nodes = nodes(3, config).await;
    let creds = nodes[0].client(&[Scope::DEVICES_READ]).await;
    refresh_all(&nodes).await;
    let token = nodes[0].token(&creds).await;
    for i in 0..6 {
        let reply = nodes[i % 3].send(bearer_get(QUERY, &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "request {} on node {}", i + 1, i % 3);
        assert_eq!(reply.header("x-ratelimit-remaining"), (5 - i).to_string(), "one budget counted down");
    }
    for (i, node) in nodes.iter().enumerate() {
        let reply = node.send(bearer_get(QUERY, &token)).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "node {i} after the customer's 6");
        assert_eq!(reply.header("x-ratelimit-remaining"), "0");
    }
    // The window ends for all nodes at once.
    nodes[0].clock.advance(WINDOW_SECS);
    assert_eq!(nodes[2].send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);
}

/// The log lines of this test binary (every test's), as text.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        #[derive(Clone)]
        struct Sink;
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                logs().lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_env_filter("talon_server=info")
            .with_ansi(false)
            .with_writer(|| Sink)
            .try_init();
        Mutex::new(Vec::new())
    })
}

fn log_lines_with(needle: &str, port: u16) -> usize {
    let text = String::from_utf8_lossy(&logs().lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    let at = format!("127.0.0.1:{port}/");
    text.lines().filter(|l| l.contains(needle) && l.contains(&at)).count()
}

/// Waits until `node` answers its checks through Redis again: it retries [`RETRY_AFTER`] after a failure,
/// on a request's prompting (a peek of `/healthz`, which counts nothing), in the background.
async fn until_shared_again(node: &Harness) {
    let deadline = Instant::now() + RETRY_AFTER + Duration::from_secs(10);
    loop {
        let before = node.state.metrics().rate_limit_fallbacks.get();
        assert_eq!(
            node.send(Request::get("/healthz").body(Body::empty()).expect("request")).await.status,
            StatusCode::OK
        );
        if node.state.metrics().rate_limit_fallbacks.get() == before {
            return;
        }
        assert!(Instant::now() < deadline, "the node did not go back to Redis");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn when_redis_goes_away_limits_are_per_node_and_shared_again_when_it_is_back() {
    let _ = logs();
    let Some(mut redis) = RedisServer::start() else { return };
    let limits = Limits { api_per_customer: 4, ..Limits::default() };
    let config = Config {
        limits,
        demo_hosts: 2,
        shared_limits: Some(shared(&redis.url(), &unique_prefix())),
        ..Config::default()
    };
    let nodes = nodes(2, config).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let creds = a.client(&[Scope::DEVICES_READ]).await;
    refresh_all(&nodes).await;
    let token = a.token(&creds).await;
    async fn query(node: &Harness, token: &str) -> Reply {
        node.send(bearer_get(QUERY, token)).await
    }
    let fallbacks = |node: &Harness| node.state.metrics().rate_limit_fallbacks.get();
    assert_eq!(log_lines_with("rate limits are shared through Redis", redis.port()), 2, "both nodes connected");

    // Shared: two requests on each node use up the customer's four.
    for node in [a, b, a, b] {
        assert_eq!(query(node, &token).await.status, StatusCode::OK);
    }
    assert_eq!(query(a, &token).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((fallbacks(a), fallbacks(b)), (0, 0));

    // Redis dies: each node limits on its own (four each, then 429: limited, not unlimited), counts the
    // fallbacks, warns once however many requests fall back, and stays ready.
    redis.kill();
    for node in [a, b] {
        for i in 0..4 {
            assert_eq!(query(node, &token).await.status, StatusCode::OK, "request {} per node", i + 1);
        }
        let refused = query(node, &token).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "per node, the fifth is refused");
        assert_eq!(refused.header("x-ratelimit-retryafter"), (NOW + WINDOW_SECS).to_string());
        assert!(fallbacks(node) >= 5, "fallbacks counted: {}", fallbacks(node));
        let ready = node.send(Request::get("/readyz").body(Body::empty()).expect("request")).await;
        assert_eq!(ready.status, StatusCode::OK, "readiness does not hang on Redis");
        let metrics = node.state.metrics().render();
        assert!(metrics.contains("talon_rate_limit_fallbacks_total"), "{metrics}");
    }
    assert_eq!(log_lines_with("Redis does not answer", redis.port()), 2, "one warning per node, not per request");

    // Redis is back (empty): both nodes share again. Both nodes' own windows are used up, so what is
    // allowed now is Redis's budget: four over both nodes, and the fifth is refused.
    redis.restart();
    for node in [a, b] {
        until_shared_again(node).await;
    }
    for node in [a, a, a, b] {
        assert_eq!(query(node, &token).await.status, StatusCode::OK, "shared again");
    }
    assert_eq!(query(b, &token).await.status, StatusCode::TOO_MANY_REQUESTS, "one budget over both nodes again");
    assert_eq!(log_lines_with("rate limits are shared through Redis", redis.port()), 4, "both nodes said so");
    assert_eq!(log_lines_with("Redis does not answer", redis.port()), 2, "no new warning");
}
