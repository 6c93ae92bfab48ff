//! Server settings: region name, limits, error mode, demo data. Every limit is configurable.

use std::time::Duration;

/// How the token endpoint answers an unknown client ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthErrorMode {
    /// As the real API: 400 `Failed to generate access token for clientID=<id>.` for an unknown ID, 403 for a
    /// wrong secret. Faithful, but it tells a caller which client IDs exist.
    #[default]
    Falcon,
    /// 403 `Failed to issue access token - Not Authorized` for both, so IDs cannot be probed.
    Uniform,
}

/// Rate and size limits. Rate limits are per node, unless [`Config::shared_limits`] names a Redis that
/// every node shares: then each counter is kept there and all nodes on it share one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per minute per source IP on `/oauth2/*`.
    pub oauth2_per_ip: u32,
    /// Failed client authentications per minute of one client ID from one address, before 429 (an address
    /// across client IDs has ten times as many).
    pub auth_failures: u32,
    /// Requests per minute per customer with a valid token.
    pub api_per_customer: u32,
    /// Requests per minute per source IP with a missing, malformed or forged token (expired or revoked
    /// tokens of this server have ten times as many).
    pub bad_token_per_ip: u32,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            oauth2_per_ip: 300,
            auth_failures: 15,
            api_per_customer: 6000,
            bad_token_per_ip: 15,
            // The largest body the contract defines is PostDeviceDetailsV2's 5000 IDs (~175 KB of JSON);
            // 256 KiB leaves room for it and still bounds what one request can make the server hold.
            max_body_bytes: 256 * 1024,
        }
    }
}

/// Everything `serve()` needs besides the store and the clock.
#[derive(Debug, Clone)]
pub struct Config {
    /// Sent as `X-Cs-Region`. The default `local` is a name no SDK knows, so FalconPy keeps a custom base URL.
    pub region: String,
    /// `iss` of issued tokens (and discovery's `issuer`).
    pub issuer: String,
    /// The URL clients reach this server by, without a trailing `/`: discovery advertises its endpoints
    /// under it (never under the request's `Host`, which the client chooses). `None`: `http://localhost`.
    pub public_url: Option<String>,
    /// Networks of the proxies in front of this server (`--trusted-proxy`): from a peer in one of them,
    /// the client's address is the rightmost `X-Forwarded-For` hop outside them. Empty: no header trusted.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Connection caps and slow-client timeouts.
    pub connections: crate::connections::ConnectionLimits,
    pub limits: Limits,
    pub auth_errors: AuthErrorMode,
    /// `/metrics` is served on a listener of its own (`talon serve --metrics-listen`, see
    /// [`crate::metrics_router`]), not with the API: the API's listener answers it 404.
    pub metrics_apart: bool,
    /// Demo hosts seeded into each customer that has none (0: none).
    pub demo_hosts: usize,
    /// How often the server re-reads the store for changes made by other processes.
    pub refresh_interval: Duration,
    /// Where the rate-limit counters are kept when they are shared across nodes (`--rate-limit-url`);
    /// `None`: per node.
    pub shared_limits: Option<SharedLimits>,
}

/// A Redis that keeps the rate-limit counters of every node on it (see `crate::limits`). Nodes sharing it
/// need synchronised clocks: windows are dated by each node's clock, not Redis's.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedLimits {
    url: String,
    key_prefix: String,
}

/// Prefix of every key Talon writes to the shared Redis.
pub const DEFAULT_KEY_PREFIX: &str = "talon:rl:";

impl SharedLimits {
    /// A `redis://` (or `redis+unix://`; TLS is not built in) URL, checked now so that a typo fails at start rather
    /// than leaving the node on per-node limits; keys start with `key_prefix` (several deployments, or
    /// parallel tests, can share one Redis under different prefixes).
    pub fn new(url: &str, key_prefix: &str) -> Result<SharedLimits, String> {
        redis::Client::open(url)
            .map_err(|e| format!("invalid rate-limit URL {}: {e}", talon_store::redact_url(url)))?;
        Ok(SharedLimits { url: url.to_owned(), key_prefix: key_prefix.to_owned() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }
}

/// The URL may carry a password: it is shown redacted.
impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("url", &talon_store::redact_url(&self.url))
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            region: "local".to_owned(),
            issuer: "talon".to_owned(),
            public_url: None,
            trusted_proxies: vec![],
            connections: Default::default(),
            limits: Limits::default(),
            auth_errors: AuthErrorMode::default(),
            metrics_apart: false,
            demo_hosts: 0,
            refresh_interval: Duration::from_millis(250),
            shared_limits: None,
        }
    }
}
