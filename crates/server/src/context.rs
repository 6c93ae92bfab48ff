//! The per-request context: trace ID, start time and rate-limit status, and the middleware that sets it
//! and stamps every response with `X-Cs-Traceid`, `X-Cs-Region` and the `X-Ratelimit-*` headers.
//!
//! The context lives in a task-local so that any response built while handling the request (a handler's
//! body, an extractor's rejection, the 404 fallback, a caught panic) renders the same trace ID in
//! `meta.trace_id` as in the header, without threading it through every function.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Extensions;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use talon_auth::RateStatus;
use talon_wire::headers;

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
        *self.rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
    }

    fn rate(&self) -> Option<RateStatus> {
        *self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The context of the request this task is handling. Outside a request (never in practice) a fresh one,
/// so rendering never fails.
pub fn current() -> Arc<RequestContext> {
    CONTEXT.try_with(Arc::clone).unwrap_or_else(|_| Arc::new(RequestContext::new()))
}

/// The source address of the request, as the listener saw it (or as a test's `MockConnectInfo` says).
/// No proxy header is trusted. Unknown (never with `serve`, whose listener always supplies it) reads as
/// 0.0.0.0.
pub fn peer_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|MockConnectInfo(addr)| addr.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The outermost middleware.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let context = Arc::new(RequestContext::new());
    let ip = peer_ip(request.extensions());
    let method = request.method().clone();
    // The path only (a query string could carry something secret), and only when the access log is on.
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| request.uri().path().to_owned());
    // The route template for metrics labels; the raw path would let clients create any number of series.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = CONTEXT.scope(context.clone(), next.run(request)).await;

    // Routes without a limiter of their own report the budget of unauthenticated requests from this address.
    let rate = context.rate().unwrap_or_else(|| state.peek_bad_token_budget(ip));
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
