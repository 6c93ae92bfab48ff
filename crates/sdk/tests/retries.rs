//! Retries and rate limits against a controllable test server: each route answers from a script, and
//! counts the calls it got.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reqwest::Method;
use talon::{Client, Cloud, Credentials, Error, RetryPolicy};

#[derive(Default)]
struct Calls {
    tokens: AtomicU32,
    flaky: AtomicU32,
    post: AtomicU32,
    limited: AtomicU32,
    retry_after: AtomicU32,
    slow_get: AtomicU32,
    slow_post: AtomicU32,
    expired: AtomicU32,
}

/// How long the slow routes take; the clients that call them time out well before.
const SLOW: Duration = Duration::from_secs(3);

fn envelope(code: u16, errors: &str) -> String {
    format!(
        r#"{{"meta":{{"query_time":0.001,"powered_by":"test","trace_id":"trace-{code}"}},"resources":[],"errors":{errors}}}"#
    )
}

fn answer(status: u16, headers: &[(&'static str, String)], body: String) -> Response {
    let mut map = HeaderMap::new();
    map.insert("content-type", "application/json".parse().expect("value"));
    for (name, value) in headers {
        map.insert(*name, value.parse().expect("value"));
    }
    (StatusCode::from_u16(status).expect("status"), map, body).into_response()
}

fn epoch_in(secs: u64) -> String {
    (SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_secs() + secs).to_string()
}

async fn start() -> (String, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let app = Router::new()
        .route(
            "/oauth2/token",
            // A short-lived token (60 s, less than the default renew window of 120 s).
            post(|State(c): State<Arc<Calls>>| async move {
                c.tokens.fetch_add(1, Ordering::SeqCst);
                answer(201, &[], r#"{"access_token":"t1","token_type":"bearer","expires_in":60}"#.into())
            }),
        )
        .route(
            "/flaky",
            get(|State(c): State<Arc<Calls>>| async move {
                let n = c.flaky.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    answer(503, &[], envelope(503, "[]"))
                } else {
                    answer(200, &[], envelope(200, "[]"))
                }
            }),
        )
        .route(
            "/flaky",
            post(|State(c): State<Arc<Calls>>| async move {
                c.post.fetch_add(1, Ordering::SeqCst);
                answer(500, &[], envelope(500, r#"[{"code":500,"message":"boom"}]"#))
            }),
        )
        .route(
            "/limited",
            get(|State(c): State<Arc<Calls>>| async move {
                if c.limited.fetch_add(1, Ordering::SeqCst) == 0 {
                    answer(429, &[("x-ratelimit-retryafter", epoch_in(1))], envelope(429, "null"))
                } else {
                    answer(200, &[], envelope(200, "null"))
                }
            }),
        )
        .route(
            "/limited-long",
            get(|| async {
                answer(
                    429,
                    &[("x-ratelimit-retryafter", epoch_in(3600))],
                    envelope(429, r#"[{"code":429,"message":"API rate limit exceeded."}]"#),
                )
            }),
        )
        .route(
            "/retry-after",
            // Only the standard header, in seconds, as a proxy in front of the API might answer.
            get(|State(c): State<Arc<Calls>>| async move {
                if c.retry_after.fetch_add(1, Ordering::SeqCst) == 0 {
                    answer(429, &[("retry-after", "1".to_owned())], envelope(429, "[]"))
                } else {
                    answer(200, &[], envelope(200, "[]"))
                }
            }),
        )
        .route(
            "/slow",
            // The first GET hangs past the client's timeout; the second answers at once.
            get(|State(c): State<Arc<Calls>>| async move {
                if c.slow_get.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(SLOW).await;
                }
                answer(200, &[], envelope(200, "[]"))
            }),
        )
        .route(
            "/slow",
            // Every POST hangs: it may have acted, so the client must not send it again.
            post(|State(c): State<Arc<Calls>>| async move {
                c.slow_post.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(SLOW).await;
                answer(200, &[], envelope(200, "[]"))
            }),
        )
        .route(
            "/expired",
            // The first call's token is refused as the API refuses an expired or revoked one; then fine.
            get(|State(c): State<Arc<Calls>>| async move {
                if c.expired.fetch_add(1, Ordering::SeqCst) == 0 {
                    answer(401, &[], envelope(401, r#"[{"code":401,"message":"access denied, invalid bearer token"}]"#))
                } else {
                    answer(200, &[], envelope(200, "[]"))
                }
            }),
        )
        .route("/errors-null", get(|| async { answer(400, &[], envelope(400, "null")) }))
        .route(
            "/quota/{remaining}",
            get(|Path(remaining): Path<u32>| async move {
                answer(
                    200,
                    &[("x-ratelimit-limit", "6000".to_owned()), ("x-ratelimit-remaining", remaining.to_string())],
                    envelope(200, "[]"),
                )
            }),
        )
        .route(
            "/redirect",
            get(|| async { answer(308, &[("location", "http://elsewhere.invalid/steal".to_owned())], String::new()) }),
        )
        .with_state(calls.clone());
    let base = common::serve_fake(app).await;
    (base, calls)
}

fn client(base: &str) -> Client {
    let retry = RetryPolicy { base_backoff: Duration::from_millis(10), ..RetryPolicy::default() };
    Client::builder(Credentials::new("id", "secret", Cloud::Custom(base.to_owned())))
        .retry_policy(retry)
        .build()
        .expect("client")
}

#[tokio::test]
async fn gets_are_retried_on_5xx_and_posts_are_not_replayed() {
    let (base, calls) = start().await;
    let c = client(&base);
    c.request(Method::GET, "/flaky").send().await.expect("third attempt succeeds");
    assert_eq!(calls.flaky.load(Ordering::SeqCst), 3);
    let err = c.request(Method::POST, "/flaky").send().await.expect_err("500");
    assert_eq!(calls.post.load(Ordering::SeqCst), 1, "a POST that may have arrived is not sent again");
    let Error::Api(api) = err else { panic!("an API error") };
    assert_eq!((api.status, api.errors[0].message.as_str()), (500, "boom"));
}

#[tokio::test]
async fn a_429_waits_until_the_retry_time_then_succeeds() {
    let (base, calls) = start().await;
    let c = client(&base);
    let started = Instant::now();
    c.request(Method::GET, "/limited").send().await.expect("after the wait");
    assert_eq!(calls.limited.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(100), "it waited");
    let limit = c.rate_limit().expect("the 429's headers were recorded");
    assert!(limit.retry_after.is_some_and(|t| t > 0), "{limit:?}");
}

#[tokio::test]
async fn a_429_asking_too_long_a_wait_is_returned_with_its_retry_time() {
    let (base, _) = start().await;
    let started = Instant::now();
    let err = client(&base).request(Method::GET, "/limited-long").send().await.expect_err("too long to wait");
    assert!(started.elapsed() < Duration::from_secs(5), "it did not wait an hour");
    let Error::Api(api) = err else { panic!("an API error") };
    assert_eq!(api.status, 429);
    assert!(api.retry_after.is_some_and(|t| t > 0));
    assert_eq!(api.trace_id.as_deref(), Some("trace-429"));
}

#[tokio::test]
async fn null_errors_and_redirects() {
    let (base, _) = start().await;
    let c = client(&base);
    let Err(Error::Api(api)) = c.request(Method::GET, "/errors-null").send().await else { panic!("a 400") };
    assert_eq!(api.status, 400);
    assert!(api.errors.is_empty(), "errors: null reads as none");
    let Err(Error::Api(api)) = c.request(Method::GET, "/redirect").send().await else { panic!("a 308") };
    assert_eq!(api.status, 308, "a redirect is not followed with the bearer token");
    // A path that does not start with '/' is rooted on the configured host, never read as another host.
    let Err(Error::Api(api)) = c.request(Method::GET, "@elsewhere.invalid/x").send().await else { panic!("a 404") };
    assert_eq!(api.status, 404);
    c.request(Method::GET, "flaky").send().await.expect("rooted: /flaky");
}

#[tokio::test]
async fn a_token_shorter_than_the_renew_window_is_still_reused() {
    let (base, calls) = start().await;
    let c = client(&base);
    for _ in 0..5 {
        c.bearer().await.expect("token");
    }
    assert_eq!(calls.tokens.load(Ordering::SeqCst), 1, "renewed at half its life, not on every call");
}

#[tokio::test]
async fn requests_slow_down_when_the_rate_limit_runs_low_and_only_then() {
    let (base, _) = start().await;
    let pacing = Duration::from_millis(1500);
    let retry = RetryPolicy { low_remaining: 10, max_pacing_delay: pacing, ..RetryPolicy::default() };
    let c = Client::builder(Credentials::new("id", "secret", Cloud::Custom(base)))
        .retry_policy(retry)
        .build()
        .expect("client");
    assert!(c.rate_limit().is_none(), "nothing seen yet");
    c.request(Method::GET, "/quota/5000").send().await.expect("plenty left");
    let limit = c.rate_limit().expect("recorded");
    assert_eq!((limit.limit, limit.remaining), (Some(6000), Some(5000)));

    // Plenty left: no pacing before this request (whose answer says 1 is left).
    let started = Instant::now();
    c.request(Method::GET, "/quota/1").send().await.expect("one left");
    assert!(started.elapsed() < Duration::from_secs(1), "not paced: {:?}", started.elapsed());
    let clone = c.clone();
    assert_eq!(clone.rate_limit().and_then(|l| l.remaining), Some(1), "clones share the reading");

    // One left of a threshold of 10: the next request (from a clone too) waits 9/10 of 1.5 s, and no more
    // than the bound.
    let started = Instant::now();
    clone.request(Method::GET, "/quota/5000").send().await.expect("paced");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1200), "paced: {waited:?}");
    assert!(waited < Duration::from_secs(10), "bounded: {waited:?}");

    // The window refilled: no pacing again.
    let started = Instant::now();
    c.request(Method::GET, "/quota/5000").send().await.expect("plenty left");
    assert!(started.elapsed() < Duration::from_secs(1), "not paced: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_429_with_only_retry_after_seconds_waits_then_succeeds() {
    let (base, calls) = start().await;
    let started = Instant::now();
    client(&base).request(Method::GET, "/retry-after").send().await.expect("after the wait");
    assert_eq!(calls.retry_after.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() >= Duration::from_millis(900), "waited the second: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_slow_get_times_out_and_is_retried_a_slow_post_is_not() {
    let (base, calls) = start().await;
    let retry = RetryPolicy { base_backoff: Duration::from_millis(10), ..RetryPolicy::default() };
    let c = Client::builder(Credentials::new("id", "secret", Cloud::Custom(base)))
        .timeout(Duration::from_millis(500))
        .retry_policy(retry)
        .build()
        .expect("client");
    let started = Instant::now();
    c.request(Method::GET, "/slow").send().await.expect("the second attempt answers");
    assert_eq!(calls.slow_get.load(Ordering::SeqCst), 2);
    assert!(started.elapsed() < SLOW, "gave up on the slow attempt: {:?}", started.elapsed());

    let err = c.request(Method::POST, "/slow").send().await.expect_err("times out");
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(calls.slow_post.load(Ordering::SeqCst), 1, "a POST that may have arrived is not sent again");
}

#[tokio::test]
async fn a_401_gets_one_new_token_and_one_retry() {
    let (base, calls) = start().await;
    let c = client(&base);
    c.request(Method::GET, "/expired").send().await.expect("the retry with a new token succeeds");
    assert_eq!(calls.expired.load(Ordering::SeqCst), 2, "sent twice");
    assert_eq!(calls.tokens.load(Ordering::SeqCst), 2, "the first token, then one renewal");
}

/// A server whose tokens say `expires_in` (any JSON number), counting token requests, with one route.
async fn start_with_lifetime(expires_in: &'static str) -> (String, Arc<AtomicU32>) {
    let tokens = Arc::new(AtomicU32::new(0));
    let app = Router::new()
        .route(
            "/oauth2/token",
            post(move |State(t): State<Arc<AtomicU32>>| async move {
                t.fetch_add(1, Ordering::SeqCst);
                answer(201, &[], format!(r#"{{"access_token":"t","token_type":"bearer","expires_in":{expires_in}}}"#))
            }),
        )
        .route("/ok", get(|| async { answer(200, &[], envelope(200, "[]")) }))
        .with_state(tokens.clone());
    let base = common::serve_fake(app).await;
    (base, tokens)
}

#[tokio::test]
async fn a_token_lifetime_of_zero_or_enormous_neither_hammers_nor_panics() {
    for expires_in in ["0", "18446744073709551615"] {
        let (base, tokens) = start_with_lifetime(expires_in).await;
        let c = client(&base);
        for _ in 0..3 {
            c.request(Method::GET, "/ok").send().await.expect(expires_in);
        }
        assert_eq!(tokens.load(Ordering::SeqCst), 1, "expires_in {expires_in}: one token for three calls");
    }
}

#[tokio::test]
async fn paging_through_a_server_that_ignores_offset_ends() {
    let app = Router::new()
        .route(
            "/oauth2/token",
            post(|| async { answer(201, &[], r#"{"access_token":"t","token_type":"bearer","expires_in":1799}"#.into()) }),
        )
        .route(
            "/devices/queries/devices/v1",
            // The same page whatever the offset, and a total no walk could reach.
            get(|| async {
                let body = r#"{"meta":{"query_time":0.001,"powered_by":"test","trace_id":"t","pagination":{"offset":0,"limit":2,"total":18446744073709551615}},"resources":["a","b"],"errors":[]}"#;
                answer(200, &[], body.into())
            }),
        );
    let base = common::serve_fake(app).await;
    let hosts = talon::Hosts::new(client(&base));
    let all = tokio::time::timeout(Duration::from_secs(10), hosts.query_all(&talon::HostQuery::new()))
        .await
        .expect("the walk ends")
        .expect("ids");
    assert_eq!(all, ["a", "b"]);
}
