//! Prometheus metrics at `GET /metrics`: requests by route and status, latency histograms by route,
//! tokens issued, failed client authentications. Route labels are the route templates (never the raw
//! path), so the label set stays small whatever clients send.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// The server's metrics; one registry per server state, so tests do not share counters.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub tokens_issued: IntCounter,
    pub auth_failures: IntCounter,
    /// Loads of a customer's hosts into this node's cache: each is a store read of all its hosts.
    pub host_cache_loads: IntCounter,
    /// Loads of one customer's resource of the generic engine into this node's cache.
    pub entity_cache_loads: IntCounter,
    /// Store round trips made for `/readyz` (at most one a second).
    pub readiness_checks: IntCounter,
    /// Clients (changed or deleted) read from the store into this node's snapshot: what the sync costs.
    pub client_sync_rows: IntCounter,
    /// Rate-limit checks answered by the node's own limiter because the shared Redis did not answer.
    pub rate_limit_fallbacks: IntCounter,
}

/// Label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

impl Metrics {
    pub fn new() -> Metrics {
        let requests = IntCounterVec::new(
            Opts::new("talon_http_requests_total", "HTTP requests by route template, method and status"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("talon_http_request_duration_seconds", "Time to answer, by route template")
                .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
            &["route"],
        )
        .expect("valid metric");
        let tokens_issued = IntCounter::new("talon_tokens_issued_total", "Access tokens issued").expect("valid metric");
        let auth_failures = IntCounter::new(
            "talon_auth_failures_total",
            "Failed client authentications (unknown client ID or wrong secret)",
        )
        .expect("valid metric");
        let host_cache_loads = IntCounter::new(
            "talon_host_cache_loads_total",
            "Loads of one customer's hosts from the store into the node's cache",
        )
        .expect("valid metric");
        let entity_cache_loads = IntCounter::new(
            "talon_entity_cache_loads_total",
            "Loads of one customer's records of one generic resource from the store into the node's cache",
        )
        .expect("valid metric");
        let readiness_checks =
            IntCounter::new("talon_readiness_checks_total", "Store round trips made to answer /readyz")
                .expect("valid metric");
        let client_sync_rows = IntCounter::new(
            "talon_client_sync_rows_total",
            "API clients (changed or deleted) read from the store into the node's snapshot",
        )
        .expect("valid metric");
        let rate_limit_fallbacks = IntCounter::new(
            "talon_rate_limit_fallbacks_total",
            "Rate-limit checks answered per node because the shared Redis (--rate-limit-url) did not answer",
        )
        .expect("valid metric");
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(tokens_issued.clone()),
            Box::new(auth_failures.clone()),
            Box::new(host_cache_loads.clone()),
            Box::new(entity_cache_loads.clone()),
            Box::new(readiness_checks.clone()),
            Box::new(client_sync_rows.clone()),
            Box::new(rate_limit_fallbacks.clone()),
        ] {
            registry.register(collector).expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            latency,
            tokens_issued,
            auth_failures,
            host_cache_loads,
            entity_cache_loads,
            readiness_checks,
            client_sync_rows,
            rate_limit_fallbacks,
        }
    }

    /// Counts one request. The method label is one of a fixed set ([`method_label`]): a client may send any
    /// token as a method, and each new label value would be a new series kept for ever.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests.with_label_values(&[route, method_label(method), status_label(status)]).inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding gathered metric families into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// The methods HTTP and the Falcon API use, as labels; anything else is `other`.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: &[&str] = &["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"];
    KNOWN.iter().find(|m| **m == method).copied().unwrap_or("other")
}

/// Status codes as static labels (no allocation per request).
fn status_label(status: u16) -> &'static str {
    const KNOWN: &[(u16, &str)] = &[
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (405, "405"),
        (413, "413"),
        (415, "415"),
        (429, "429"),
        (500, "500"),
        (503, "503"),
    ];
    KNOWN.iter().find(|(code, _)| *code == status).map_or("other", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let metrics = Metrics::new();
        for i in 0..100 {
            metrics.observe("/healthz", &format!("ZZ{i}"), 405, 0.001);
        }
        metrics.observe("/healthz", "GET", 200, 0.001);
        let text = metrics.render();
        let series = text.lines().filter(|l| l.starts_with("talon_http_requests_total{")).count();
        assert_eq!(series, 2, "{text}");
        assert!(text.contains(r#"method="other""#) && !text.contains("ZZ1"), "{text}");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("patch"), "other");
    }
}
