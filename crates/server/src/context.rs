//! The per-request context: trace ID, start time and rate-limit status, and the middleware that sets it
//! and stamps every response with `X-Cs-Traceid`, `X-Cs-Region` and the `X-Ratelimit-*` headers.
//!
//! The context lives in a task-local so that any response built while handling the request (a handler's
//! body, an extractor's rejection, the 404 fallback, a caught panic) renders the same trace ID in
//! `meta.trace_id` as in the header, without threading it through every function.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Extensions;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use talon_auth::RateStatus;
use talon_wire::headers;

/// The header proxies append the address they saw to.
const FORWARDED_FOR: &str = "x-forwarded-for";

use crate::state::AppState;

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

/// What the middleware knows about the request being handled.
pub struct RequestContext {
    pub trace_id: String,
    started: Instant,
    rate: Mutex<Option<RateStatus>>,
}

impl RequestContext {
    fn new() -> RequestContext {
        RequestContext { trace_id: uuid::Uuid::new_v4().to_string(), started: Instant::now(), rate: Mutex::new(None) }
    }

    /// Seconds since the request arrived, for `meta.query_time`.
    pub fn query_time(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Records the rate-limit status that the response headers report.
    pub fn set_rate(&self, status: RateStatus) {
        *self.rate.lock() = Some(status);
    }

    fn rate(&self) -> Option<RateStatus> {
        *self.rate.lock()
    }
}

/// The context of the request this task is handling. Outside a request (never in practice) a fresh one,
/// so rendering never fails.
pub fn current() -> Arc<RequestContext> {
    CONTEXT.try_with(Arc::clone).unwrap_or_else(|_| Arc::new(RequestContext::new()))
}

/// The client's address, worked out once per request by [`middleware`] (see [`client_ip`]).
#[derive(Debug, Clone, Copy)]
struct ClientAddress(IpAddr);

/// The client's address: as the middleware worked it out, else the peer's.
pub fn peer_ip(extensions: &Extensions) -> IpAddr {
    match extensions.get::<ClientAddress>() {
        Some(ClientAddress(ip)) => *ip,
        None => connection_ip(extensions),
    }
}

/// The address of the connection's far end, as the listener saw it (or as a test's `MockConnectInfo`
/// says). Unknown (never with `serve`, whose listener always supplies it) reads as 0.0.0.0.
fn connection_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|MockConnectInfo(addr)| addr.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The client's address for rate limits, allow-lists, audit and logs. From a peer outside `trusted` (or
/// with none trusted) it is the peer; from a trusted proxy it is the rightmost `X-Forwarded-For` hop that
/// is not itself trusted (each proxy appends the address it saw, so only the hops trusted proxies added
/// are believed; what the client wrote further left is not). A hop that does not read as an address
/// ends the walk at the last trusted hop before it.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_for.iter().rev().flat_map(|header| header.rsplit(',')).map(str::trim);
    let mut client = peer;
    for hop in hops {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// An `X-Forwarded-For` hop: an address, with a port or in brackets as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// The outermost middleware.
pub async fn middleware(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let context = Arc::new(RequestContext::new());
    let trusted = &state.config().trusted_proxies;
    let peer = connection_ip(request.extensions());
    // Without trusted proxies the client is the peer, which `peer_ip` reads by itself: nothing to store.
    let ip = if trusted.is_empty() {
        peer
    } else {
        let forwarded: Vec<&str> =
            request.headers().get_all(FORWARDED_FOR).iter().filter_map(|v| v.to_str().ok()).collect();
        let ip = client_ip(peer, &forwarded, trusted);
        request.extensions_mut().insert(ClientAddress(ip));
        ip
    };
    let method = request.method().clone();
    // The path only (a query string could carry something secret), and only when the access log is on.
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| request.uri().path().to_owned());
    // The route template for metrics labels; the raw path would let clients create any number of series.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = CONTEXT.scope(context.clone(), next.run(request)).await;

    // Routes without a limiter of their own report the budget of unauthenticated requests from this address.
    let rate = match context.rate() {
        Some(rate) => rate,
        None => state.throttles().peek_bad_token_budget(ip).await,
    };
    let h = response.headers_mut();
    insert(h, headers::TRACE_ID, &context.trace_id);
    if let Some(region) = state.region_header() {
        h.insert(HeaderName::from_static(headers::REGION), region.clone());
    }
    // Numbers become header values directly (no string in between): these two are on every answer.
    h.insert(HeaderName::from_static(headers::RATELIMIT_LIMIT), HeaderValue::from(rate.limit));
    h.insert(HeaderName::from_static(headers::RATELIMIT_REMAINING), HeaderValue::from(rate.remaining));
    if !rate.allowed {
        insert(h, headers::RATELIMIT_RETRY_AFTER, &rate.resets_at.to_string());
        let wait = (rate.resets_at - state.now()).max(1);
        insert(h, "retry-after", &wait.to_string());
    }
    let elapsed = context.started.elapsed().as_secs_f64();
    state.metrics().observe(
        route.as_ref().map_or(crate::metrics::UNMATCHED, MatchedPath::as_str),
        method.as_str(),
        response.status().as_u16(),
        elapsed,
    );
    tracing::debug!(
        trace_id = %context.trace_id,
        %method,
        path = path.as_deref().unwrap_or_default(),
        status = response.status().as_u16(),
        elapsed_ms = elapsed * 1000.0,
        "request"
    );
    response
}

fn insert(headers: &mut axum::http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn the_client_is_the_rightmost_hop_no_trusted_proxy_added() {
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().expect("net"), "::1/128".parse().expect("net")];
        let balancer = ip("10.0.0.2");
        // No header, or a peer that is not a proxy: the peer.
        assert_eq!(client_ip(balancer, &[], &proxies), balancer);
        assert_eq!(client_ip(ip("198.51.100.9"), &["203.0.113.5"], &proxies), ip("198.51.100.9"));
        // One proxy: the hop it added.
        assert_eq!(client_ip(balancer, &["203.0.113.5"], &proxies), ip("203.0.113.5"));
        // A client that writes its own X-Forwarded-For gets only the hop the proxy appended believed.
        assert_eq!(client_ip(balancer, &["1.1.1.1, 203.0.113.5"], &proxies), ip("203.0.113.5"));
        // Two proxies in the chain, across two headers, with ports and brackets.
        assert_eq!(client_ip(balancer, &["203.0.113.5:4711", "10.0.0.7"], &proxies), ip("203.0.113.5"));
        assert_eq!(client_ip(ip("::1"), &["[2001:db8::1]"], &proxies), ip("2001:db8::1"));
        // Garbage ends the walk at the last trusted hop; every hop trusted: the leftmost.
        assert_eq!(client_ip(balancer, &["203.0.113.5, junk, 10.0.0.7"], &proxies), ip("10.0.0.7"));
        assert_eq!(client_ip(balancer, &["10.0.0.8, 10.0.0.7"], &proxies), ip("10.0.0.8"));
        // Nothing trusted: the header means nothing.
        assert_eq!(client_ip(balancer, &["203.0.113.5"], &[]), balancer);
        // An IPv4-mapped peer is the IPv4 proxy it is.
        assert_eq!(client_ip(ip("::ffff:10.0.0.2"), &["203.0.113.5"], &proxies), ip("203.0.113.5"));
    }
}
