//! The client: configuration, the cached token with single-flight renewal, cloud discovery, rate-limit
//! pacing, and authenticated requests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, LOCATION, USER_AGENT};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use talon_wire::headers::{RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RETRY_AFTER, REGION};
use talon_wire::token::{field, TokenResponse};

use crate::args::{Payload, Prepared};
use crate::cloud::Cloud;
use crate::credentials::Credentials;
use crate::error::{ApiError, Error, FailReason};

/// The shortest and longest token lifetimes believed, in seconds, whatever `expires_in` says.
const MIN_TOKEN_LIFETIME: u64 = 10;
const MAX_TOKEN_LIFETIME: u64 = 24 * 3600;

/// How long before expiry a token is renewed.
pub const DEFAULT_RENEW_WINDOW: Duration = Duration::from_secs(120);

/// After a failed login, no new attempt for this long (doubling with each failure, up to a minute), so a
/// wrong secret does not hammer the token endpoint.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Falcon's rate limits are per minute: a reading of `X-Ratelimit-Remaining` older than this describes a
/// window that has ended, and pacing ignores it.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// How the client retries, and how it slows down when the rate limit runs low.
///
/// Rate-limited requests (429) are retried for every method, since the server did not act on them; server
/// errors (5xx) and broken connections only for GET and HEAD, since a POST, PATCH or DELETE may have
/// arrived and acted; a connection that was never made is retried for every method.
///
/// Pacing: every answer's `X-Ratelimit-Remaining` is remembered (shared by all clones, see
/// [`Client::rate_limit`]). While the last reading, at most a minute old, is below `low_remaining`, each
/// request first waits `max_pacing_delay × (low_remaining − remaining) / low_remaining`: nothing at the
/// threshold, the whole `max_pacing_delay` when nothing is left. This is a per-request delay, not a
/// scheduler: it spreads the last requests of a window out so that a busy client meets fewer 429s; the
/// 429 handling above still applies when it does. Set `low_remaining` to 0 (or `max_pacing_delay` to zero)
/// to turn pacing off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First wait after a server error; doubles each time, with jitter.
    pub base_backoff: Duration,
    /// Longest wait after a server error.
    pub max_backoff: Duration,
    /// Longest wait a 429 may ask for; a longer one is returned to the caller as the error it is.
    pub max_rate_limit_wait: Duration,
    /// Pacing starts when fewer than this many requests are left in the rate-limit window (default 10;
    /// 0 turns pacing off).
    pub low_remaining: u32,
    /// The longest wait pacing adds before one request, reached when nothing is left (default 1 s).
    pub max_pacing_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(60),
            low_remaining: 10,
            max_pacing_delay: Duration::from_secs(1),
        }
    }
}

/// The rate-limit headers of the last answer that carried any (see [`Client::rate_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// `X-Ratelimit-Limit`: requests allowed in the window.
    pub limit: Option<u64>,
    /// `X-Ratelimit-Remaining`: requests left in the window.
    pub remaining: Option<u64>,
    /// `X-Ratelimit-Retryafter` (on a 429): when to try again, in Unix seconds.
    pub retry_after: Option<i64>,
    /// When the answer arrived.
    pub observed_at: Instant,
}

/// Builds a [`Client`]. Every option has a default; [`ClientBuilder::build`] checks them all at once.
pub struct ClientBuilder {
    credentials: Credentials,
    renew_window: Duration,
    timeout: Duration,
    user_agent_suffix: Option<String>,
    retry: RetryPolicy,
    proxy: Option<String>,
    root_certificates: Vec<Vec<u8>>,
    pinned: Vec<(String, SocketAddr)>,
}

impl ClientBuilder {
    /// How long before its expiry a token is renewed (default [`DEFAULT_RENEW_WINDOW`]; a token that lives
    /// shorter than twice this is renewed at half its life).
    pub fn renew_window(mut self, window: Duration) -> ClientBuilder {
        self.renew_window = window;
        self
    }

    /// The limit on one HTTP exchange, connection to last byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Retries and pacing (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> ClientBuilder {
        self.retry = retry;
        self
    }

    /// Appended to the `User-Agent` (e.g. your tool's name and version).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> ClientBuilder {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

    /// Sends every request through this proxy (`http://` or `https://`, with `user:password@` if the proxy
    /// wants Basic credentials), instead of the `HTTPS_PROXY`/`HTTP_PROXY` environment variables that are
    /// honoured otherwise. An https API is reached through the proxy with `CONNECT`, so the proxy sees the
    /// host name but not the token. A URL that is not one is an [`Error::Config`] from
    /// [`ClientBuilder::build`], which never repeats the URL (it may hold the proxy's password).
    pub fn proxy(mut self, url: impl Into<String>) -> ClientBuilder {
        self.proxy = Some(url.into());
        self
    }

    /// Trusts the certificates of this PEM text (one or more `CERTIFICATE` blocks) as root CAs, besides
    /// the built-in Mozilla roots: for a TLS-inspecting proxy, a private CA in front of a Talon server, or
    /// a test. Text with no certificate in it, or a block that is not one, is an [`Error::Config`] from
    /// [`ClientBuilder::build`].
    pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> ClientBuilder {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// DNS pinning: connects to `addr` whenever a URL names `host`, without asking DNS. TLS still checks
    /// the server's certificate against `host`, so this moves no trust: it is for private links (a Falcon
    /// cloud reached through a private endpoint whose name DNS does not answer as you need) and for tests
    /// (every Falcon host pinned to a local server). `addr`'s port is used when the URL names none, as
    /// Falcon's base URLs do (port 0 means the scheme's default); a port in the URL wins.
    pub fn resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> ClientBuilder {
        self.pinned.push((host.into(), addr));
        self
    }

    /// Builds the client. Fails with [`Error::Config`] for a bad proxy URL, a bad root certificate, or a
    /// user agent that is not a header value; no request is sent until one is needed.
    pub fn build(self) -> Result<Client, Error> {
        let sdk = concat!("talon/", env!("CARGO_PKG_VERSION"));
        let agent = match &self.user_agent_suffix {
            Some(suffix) => format!("{sdk} {suffix}"),
            None => sdk.to_owned(),
        };
        let mut headers = HeaderMap::new();
        let value =
            |v: &str| HeaderValue::from_str(v).map_err(|_| Error::Config("user agent is not a header value".into()));
        headers.insert(USER_AGENT, value(&agent)?);
        headers.insert("crowdstrike-sdk", value(sdk)?);
        let mut http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            // Never follow a redirect with the bearer token: it would go to whatever host the redirect names.
            // The token endpoint's 308 (cloud discovery) is handled by `login`, which checks the host first.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(url) = &self.proxy {
            http = http.proxy(proxy(url)?);
        }
        for pem in &self.root_certificates {
            for certificate in root_certificates(pem)? {
                http = http.add_root_certificate(certificate);
            }
        }
        for (host, addr) in &self.pinned {
            http = http.resolve(host, *addr);
        }
        // What can fail here is configuration (a certificate rustls cannot use as a root, the TLS setup).
        let http = http.build().map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", causes(&e))))?;
        let cloud = self.credentials.cloud.clone();
        Ok(Client(Arc::new(Inner {
            http,
            place: RwLock::new(Place { base: Arc::from(cloud.base_url()), cloud, region: None }),
            credentials: self.credentials,
            renew_window: self.renew_window,
            retry: self.retry,
            cooldown_until: Mutex::new(None),
            rate: Mutex::new(None),
            token: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        })))
    }
}

/// The proxy of [`ClientBuilder::proxy`]. Errors never show the URL: it may hold the proxy's password.
fn proxy(url: &str) -> Result<reqwest::Proxy, Error> {
    let parsed = Url::parse(url.trim()).map_err(|e| Error::Config(format!("the proxy URL is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "the proxy URL must start with http:// or https://, not {}://",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config("the proxy URL names no host".into()));
    }
    reqwest::Proxy::all(parsed).map_err(|e| Error::Config(format!("the proxy URL is refused: {}", causes(&e))))
}

/// The certificates of a PEM text given to [`ClientBuilder::add_root_certificate`]; at least one.
fn root_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, Error> {
    let certificates = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| Error::Config(format!("a root certificate is not valid PEM: {}", causes(&e))))?;
    if certificates.is_empty() {
        return Err(Error::Config("add_root_certificate: no CERTIFICATE block in the PEM text".into()));
    }
    Ok(certificates)
}

/// An error and its sources, `: `-separated (reqwest's own `Display` stops at "builder error").
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A Falcon API client: cheap to clone (one `Arc`), `Send + Sync`; clones share the token, the cloud it
/// discovered, the 429 cooldown and the rate-limit reading.
///
/// With [`Cloud::Auto`] (or a named commercial cloud) the first login also finds the API client's cloud:
/// us-1's token endpoint answers a client of another commercial cloud with a 308 to that cloud's host, or
/// a 201 whose `X-Cs-Region` names it; the client then asks that cloud for its token (one more request:
/// two in all, where gofalcon spends three) and sends everything there from then on. A redirect is
/// followed only to a Falcon cloud's exact API host over https, once, with the same form (`member_cid`
/// included); any other target is an [`Error::Config`] naming it. Gov clouds are never discovered (an
/// answer pointing at one is an error that says to name it), and a [`Cloud::Custom`] base URL is never
/// replaced. A bearer token is only ever sent to the host that issued it.
#[derive(Clone)]
pub struct Client(Arc<Inner>);

struct Inner {
    http: reqwest::Client,
    credentials: Credentials,
    renew_window: Duration,
    retry: RetryPolicy,
    /// Where requests go: the configured cloud, or the one a login discovered. Written only by a login
    /// (under `refresh`), right after the token it got there.
    place: RwLock<Place>,
    /// After a 429, no request leaves any clone before this instant.
    cooldown_until: Mutex<Option<Instant>>,
    /// The last rate-limit headers of an API answer.
    rate: Mutex<Option<RateLimit>>,
    token: RwLock<Option<CachedToken>>,
    /// Held while a token is being fetched: one refresh in flight however many tasks need a token.
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Clone)]
struct Place {
    cloud: Cloud,
    base: Arc<str>,
    /// `X-Cs-Region` of the last successful token answer.
    region: Option<String>,
}

#[derive(Clone)]
struct CachedToken {
    value: SecretString,
    expires_at: Instant,
    /// Renewed this long before expiry: the renew window, or half the lifetime of a short-lived token
    /// (else a token shorter than the window would never count as fresh, and every call would log in).
    renew_margin: Duration,
    /// The base URL of the host that issued the token: the only one it is sent to. Kept with the token, so
    /// that a request can never pair a token with another cloud's URL, whatever a concurrent login does.
    base: Arc<str>,
}

#[derive(Default)]
pub(crate) struct RefreshState {
    pub(crate) last_status: Option<u16>,
    pub(crate) last_failure: Option<(Instant, FailReason)>,
    failures: u32,
}

/// One token answer, read whole.
struct TokenAnswer {
    status: u16,
    headers: HeaderMap,
    text: String,
    /// When the request left: the token's lifetime counts from here.
    started: Instant,
}

/// What a token answer says about where the API client lives.
#[derive(Debug, PartialEq, Eq)]
enum Discovery {
    /// Here (or a custom base URL, or a gov cloud: neither moves).
    Stay,
    /// In this other commercial cloud: ask it for the token.
    Move(Cloud),
    /// Somewhere the client will not follow; the message says where and why.
    Refuse(String),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = self.place();
        f.debug_struct("Client")
            .field("base_url", &place.base)
            .field("cloud", &place.cloud)
            .field("credentials", &self.0.credentials)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with the defaults: 30 s timeout, [`DEFAULT_RENEW_WINDOW`], [`RetryPolicy::default`], no
    /// proxy but the environment's, the built-in root CAs.
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            credentials,
            renew_window: DEFAULT_RENEW_WINDOW,
            timeout: Duration::from_secs(30),
            user_agent_suffix: None,
            retry: RetryPolicy::default(),
            proxy: None,
            root_certificates: Vec::new(),
            pinned: Vec::new(),
        }
    }

    /// The base URL requests go to now: the configured one, or the discovered cloud's after a login moved
    /// the client (see [`Client`]).
    pub fn base_url(&self) -> String {
        self.place().base.to_string()
    }

    /// The cloud requests go to now: as configured, until a login settles it. [`Cloud::Auto`] becomes
    /// us-1 or the cloud discovery found; a custom base URL stays as it is.
    pub fn cloud(&self) -> Cloud {
        self.place().cloud
    }

    /// The region the last successful token answer named in `X-Cs-Region` (`eu-1`; Talon's `local`), if
    /// any: what the server says, even where it moved nothing (a custom base URL).
    pub fn region(&self) -> Option<String> {
        self.place().region
    }

    /// The rate-limit headers (`X-Ratelimit-Limit`, `-Remaining`, `-Retryafter`) of the last API answer
    /// that carried any, on this client or a clone; `None` before. Token answers (which have their own
    /// per-address limit) and 401s (counted against unauthenticated requests) are not recorded.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self.0.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A valid bearer token: the cached one, or a new one when it is missing or within the renew window of
    /// its expiry. Concurrent callers share one token request. The first login of a discoverable cloud
    /// also settles the cloud (see [`Client`]).
    pub async fn bearer(&self) -> Result<SecretString, Error> {
        self.credential().await.map(|(token, _)| token)
    }

    /// A valid token and the base URL of the host that issued it.
    async fn credential(&self) -> Result<(SecretString, Arc<str>), Error> {
        if let Some(token) = self.fresh_token() {
            return Ok(token);
        }
        let mut state = self.0.refresh.lock().await;
        // Another task may have refreshed while this one waited.
        if let Some(token) = self.fresh_token() {
            return Ok(token);
        }
        if let Some((at, reason)) = &state.last_failure {
            let backoff = FIRST_BACKOFF.saturating_mul(1 << state.failures.saturating_sub(1).min(6)).min(MAX_BACKOFF);
            if at.elapsed() < backoff {
                return Err(Error::Login(reason.clone()));
            }
        }
        self.login_locked(&mut state).await
    }

    /// Fetches a new token now, whatever is cached (the OAuth2 service's `token()`).
    pub(crate) async fn login(&self) -> Result<SecretString, Error> {
        let mut state = self.0.refresh.lock().await;
        self.login_locked(&mut state).await.map(|(token, _)| token)
    }

    /// Asks the current place for a token, and at most one other Falcon cloud when the answer points there.
    async fn login_locked(&self, state: &mut RefreshState) -> Result<(SecretString, Arc<str>), Error> {
        let place = self.place();
        let c = &self.0.credentials;
        // One form for both requests of a discovery: the member CID goes to the discovered cloud too.
        let mut form: Vec<(&str, &str)> =
            vec![(field::CLIENT_ID, c.client_id.as_str()), (field::CLIENT_SECRET, c.client_secret.expose_secret())];
        if let Some(member) = &c.member_cid {
            form.push((field::MEMBER_CID, member));
        }
        let first = self.token_request(&place.base, &form, state).await?;
        let (answer, cloud, base, moved) = match discover(&place.cloud, &place.base, &first) {
            Discovery::Stay => (first, place.cloud, place.base, false),
            // A token is good only on the cloud that issued it, so a 201 naming another region is dropped
            // unused (never sent anywhere, and not revoked: that would cost a third call, as in gofalcon)
            // and the token is asked of that region's host.
            Discovery::Move(cloud) => {
                let base: Arc<str> = Arc::from(cloud.base_url());
                (self.token_request(&base, &form, state).await?, cloud, base, true)
            }
            Discovery::Refuse(message) => {
                let trace_id = ApiError::read(first.status, &first.headers, String::new()).trace_id;
                record_failure(state, FailReason { status: first.status, message: message.clone(), trace_id });
                return Err(Error::Config(message));
            }
        };
        if answer.status != 201 {
            let status = answer.status;
            let redirect = (300..400).contains(&status).then(|| redirect_text(&base, status, &answer.headers));
            let mut reason = ApiError::read(status, &answer.headers, answer.text).fail_reason();
            if let Some(redirect) = redirect {
                let why = if moved {
                    "discovery follows one redirect, and this was the second"
                } else if !cloud.is_discoverable() {
                    "the configured base URL is never replaced"
                } else {
                    "only a 308 to a Falcon cloud's API host is followed"
                };
                reason.message = format!("{redirect}; not followed: {why}");
            }
            record_failure(state, reason.clone());
            return Err(Error::Login(reason));
        }
        let body: TokenResponse = serde_json::from_str(&answer.text).map_err(|e| {
            // serde's message may quote the body, which holds the token: say where it broke, not what it read.
            let error = format!(
                "the token answer (201) is not a token: {:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            );
            record_failure(state, FailReason { status: 201, message: error.clone(), trace_id: None });
            Error::Transport(error)
        })?;
        let token = SecretString::from(body.access_token);
        // The server chooses `expires_in`: clamped, so that 0 does not make every call log in again and a
        // huge value cannot overflow the clock (Falcon's tokens live 1799 s).
        let lifetime = Duration::from_secs(body.expires_in.clamp(MIN_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME));
        let renew_margin = self.0.renew_window.min(lifetime / 2);
        let region = header(&answer.headers, REGION).map(str::to_owned);
        let cached = CachedToken { value: token.clone(), expires_at: answer.started + lifetime, renew_margin, base };
        *self.0.token.write().unwrap_or_else(|p| p.into_inner()) = Some(cached.clone());
        // `Auto` has found its cloud once us-1 (or the cloud it pointed to) issued a token.
        let cloud = if cloud == Cloud::Auto { Cloud::Us1 } else { cloud };
        *self.0.place.write().unwrap_or_else(|p| p.into_inner()) = Place { cloud, base: cached.base.clone(), region };
        state.last_failure = None;
        state.failures = 0;
        Ok((token, cached.base))
    }

    /// One `POST /oauth2/token` to `base`, read whole. A transport failure is recorded (so that callers
    /// back off rather than all asking again) and returned.
    async fn token_request(
        &self,
        base: &str,
        form: &[(&str, &str)],
        state: &mut RefreshState,
    ) -> Result<TokenAnswer, Error> {
        let started = Instant::now();
        let sent = async {
            let response = self
                .0
                .http
                .post(join(base, talon_wire::operation::OAUTH2_ACCESS_TOKEN.path()))
                .form(form)
                .send()
                .await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await?;
            Ok::<_, reqwest::Error>(TokenAnswer { status, headers, text, started })
        };
        match sent.await {
            Ok(answer) => {
                state.last_status = Some(answer.status);
                Ok(answer)
            }
            Err(e) => {
                let error = Error::from(e);
                record_failure(state, FailReason { status: 0, message: error.to_string(), trace_id: None });
                Err(error)
            }
        }
    }

    fn place(&self) -> Place {
        self.0.place.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn fresh_token(&self) -> Option<(SecretString, Arc<str>)> {
        let cached = self.0.token.read().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|t| Instant::now() + t.renew_margin < t.expires_at)
            .map(|t| (t.value.clone(), t.base.clone()))
    }

    /// Drops the cached token if it is still `token` (a 401 proved it dead; a newer one is kept).
    fn forget_token(&self, token: &SecretString) {
        let mut cached = self.0.token.write().unwrap_or_else(|p| p.into_inner());
        if cached.as_ref().is_some_and(|t| t.value.expose_secret() == token.expose_secret()) {
            *cached = None;
        }
    }

    /// The cached token, if any (fresh or not), and forgets it.
    pub(crate) fn take_token(&self) -> Option<SecretString> {
        self.0.token.write().unwrap_or_else(|p| p.into_inner()).take().map(|t| t.value)
    }

    pub(crate) fn has_fresh_token(&self) -> bool {
        self.fresh_token().is_some()
    }

    pub(crate) fn has_token(&self) -> bool {
        self.0.token.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    pub(crate) async fn refresh_state<T>(&self, read: impl FnOnce(&RefreshState) -> T) -> T {
        read(&*self.0.refresh.lock().await)
    }

    /// Waits out a 429 cooldown that any clone set. Cancel-safe: dropping the future just stops waiting.
    async fn wait_for_cooldown(&self) {
        let until = *self.0.cooldown_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until.filter(|u| *u > Instant::now()) {
            tokio::time::sleep_until(until.into()).await;
        }
    }

    fn cool_down(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut cooldown = self.0.cooldown_until.lock().unwrap_or_else(|p| p.into_inner());
        if cooldown.is_none_or(|c| c < until) {
            *cooldown = Some(until);
        }
    }

    /// Waits as the [`RetryPolicy`]'s pacing says, given the last rate-limit reading. Cancel-safe.
    async fn pace(&self) {
        let reading = self.rate_limit().filter(|r| r.observed_at.elapsed() < RATE_WINDOW);
        if let Some(remaining) = reading.and_then(|r| r.remaining) {
            let delay = pacing_delay(&self.0.retry, remaining);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
    }

    /// Remembers the rate-limit headers of an answer that has any.
    fn observe_rate_limit(&self, headers: &HeaderMap) {
        let limit = header(headers, RATELIMIT_LIMIT).and_then(|v| v.parse().ok());
        let remaining = header(headers, RATELIMIT_REMAINING).and_then(|v| v.parse().ok());
        let retry_after = header(headers, RATELIMIT_RETRY_AFTER).and_then(|v| v.parse().ok());
        if limit.is_some() || remaining.is_some() || retry_after.is_some() {
            let reading = RateLimit { limit, remaining, retry_after, observed_at: Instant::now() };
            *self.0.rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(reading);
        }
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.0.credentials
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// The URL of `path` on the current host (for calls without a bearer token: revoke, the harness's
    /// OAuth2 forms). See [`join`].
    pub(crate) fn url(&self, path: &str) -> String {
        join(&self.place().base, path)
    }

    /// An authenticated request to `path` (e.g. `/devices/queries/devices/v1`), on the host that issued
    /// the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            method,
            path: path.to_owned(),
            query: vec![],
            headers: vec![],
            body: Payload::None,
        }
    }
}

/// The URL of `path` on `base`. A path is always rooted (`/` is added when missing), so no path can move
/// the request, and its bearer token, to another host (`@evil.example/x`).
fn join(base: &str, path: &str) -> String {
    let slash = if path.starts_with('/') { "" } else { "/" };
    format!("{base}{slash}{path}")
}

/// A header's value as text, trimmed; `None` when absent or not visible ASCII.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn record_failure(state: &mut RefreshState, reason: FailReason) {
    state.failures = state.failures.saturating_add(1);
    state.last_failure = Some((Instant::now(), reason));
}

/// What `answer`, from the token endpoint of `current` at `base`, says about where to get the token.
///
/// Only a discoverable cloud moves (a custom base URL never does: that is the trap FalconPy falls into
/// with a local server, and a gov cloud named explicitly stays named). A 308 moves to the cloud whose API
/// host its `Location` names exactly, over https on the default port and without user info; a 201 moves to
/// the commercial cloud its `X-Cs-Region` names. A gov cloud is never a target. A region the SDK does not
/// know leaves the client where it is, with the token it got.
fn discover(current: &Cloud, base: &str, answer: &TokenAnswer) -> Discovery {
    if !current.is_discoverable() {
        return Discovery::Stay;
    }
    let here = if *current == Cloud::Auto { Cloud::Us1 } else { current.clone() };
    match answer.status {
        308 => {
            let Some(target) = location(base, &answer.headers) else {
                return Discovery::Refuse(format!(
                    "the token endpoint of {here} answered 308 without a usable Location: not followed"
                ));
            };
            match falcon_cloud_at(&target) {
                Some(cloud) if cloud.is_gov() => {
                    Discovery::Refuse(gov_message(&cloud, &format!("the token endpoint of {here} redirected there")))
                }
                Some(cloud) if cloud == here => {
                    Discovery::Refuse(format!("the token endpoint of {here} redirected to itself: not followed"))
                }
                Some(cloud) => Discovery::Move(cloud),
                None => Discovery::Refuse(format!(
                    "the token endpoint of {here} redirected to {}, which is not a Falcon cloud's API host: not \
                     followed (the client's credentials and tokens go to Falcon hosts only)",
                    origin(&target)
                )),
            }
        }
        201 => match header(&answer.headers, REGION).and_then(Cloud::from_region) {
            Some(cloud) if cloud.is_gov() => {
                Discovery::Refuse(gov_message(&cloud, &format!("the token endpoint of {here} named it in {REGION}")))
            }
            Some(cloud) if cloud != here => Discovery::Move(cloud),
            _ => Discovery::Stay,
        },
        _ => Discovery::Stay,
    }
}

fn gov_message(cloud: &Cloud, how: &str) -> String {
    let region = cloud.region().unwrap_or_default();
    format!(
        "the API client belongs to {region} ({how}), and gov clouds are not discovered: name the cloud \
         explicitly (FALCON_CLOUD={region})"
    )
}

/// The `Location` of an answer, resolved against `base` (a relative one names the same host).
fn location(base: &str, headers: &HeaderMap) -> Option<Url> {
    let value = header(headers, LOCATION.as_str())?;
    Url::parse(base).ok()?.join(value).ok()
}

/// The Falcon cloud `url` is on: its exact API host, https, default port, no user info.
fn falcon_cloud_at(url: &Url) -> Option<Cloud> {
    let plain =
        url.scheme() == "https" && url.port().is_none() && url.username().is_empty() && url.password().is_none();
    if !plain {
        return None;
    }
    url.host_str().and_then(Cloud::from_host)
}

/// `scheme://host[:port]` of a URL: enough to say where a redirect pointed, without its path or user info.
fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// "the token endpoint at BASE answered 3xx redirecting to ORIGIN".
fn redirect_text(base: &str, status: u16, headers: &HeaderMap) -> String {
    let target = location(base, headers).map_or_else(|| "nowhere usable".to_owned(), |url| origin(&url));
    format!("the token endpoint at {base} answered {status} redirecting to {target}")
}

/// Pacing's wait before a request when `remaining` requests are left (see [`RetryPolicy`]).
fn pacing_delay(policy: &RetryPolicy, remaining: u64) -> Duration {
    let low = u64::from(policy.low_remaining);
    if remaining >= low {
        return Duration::ZERO;
    }
    // remaining < low ≤ u32::MAX, so the shortfall fits a u32, and low ≥ 1.
    let short = u32::try_from(low - remaining).unwrap_or(policy.low_remaining);
    policy.max_pacing_delay.saturating_mul(short) / policy.low_remaining
}

/// An answer as it came: status, headers and body text.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The headers (trace ID, region, rate limits, ...).
    pub headers: HeaderMap,
    /// The body as text (JSON on every Falcon route).
    pub text: String,
}

/// A request being built; [`RequestBuilder::send`] authenticates it.
pub struct RequestBuilder {
    client: Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Payload,
}

impl RequestBuilder {
    /// Adds a query parameter; repeat a name for a list (`ids=a&ids=b`, as Falcon reads them).
    pub fn query(mut self, name: &str, value: impl ToString) -> RequestBuilder {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Sends `body` as JSON. A value that cannot be serialised is an [`Error::Config`].
    pub fn json<T: Serialize>(mut self, body: &T) -> Result<RequestBuilder, Error> {
        self.body = Payload::Json(serde_json::to_vec(body).map_err(|e| Error::Config(format!("request body: {e}")))?);
        Ok(self)
    }

    /// The request a harness command was checked and encoded into: its path, query, headers and body.
    pub(crate) fn prepared(mut self, prepared: Prepared) -> RequestBuilder {
        self.path = prepared.path;
        self.query = prepared.query;
        self.headers = prepared.headers;
        self.body = prepared.body;
        self
    }

    /// Sends with a valid token and the client's [`RetryPolicy`]; on a 401, renews the token once and sends
    /// once more (a 401 means the request was not acted on). Any other error status is an `Error::Api`.
    pub async fn send(self) -> Result<serde_json::Value, Error> {
        let answer = self.send_raw().await?;
        if (200..300).contains(&answer.status) {
            serde_json::from_str(&answer.text).map_err(|e| Error::Transport(format!("the answer is not JSON: {e}")))
        } else {
            Err(Error::Api(Box::new(ApiError::read(answer.status, &answer.headers, answer.text))))
        }
    }

    /// As [`RequestBuilder::send`], but any final status is an answer, not an error (the Uber harness's
    /// shape: status, headers, body).
    pub async fn send_raw(self) -> Result<RawAnswer, Error> {
        let retry = self.client.0.retry;
        let replayable = matches!(self.method, Method::GET | Method::HEAD);
        let (mut token, mut base) = self.client.credential().await?;
        let mut renewed = false;
        let mut attempt = 1;
        loop {
            self.client.wait_for_cooldown().await;
            self.client.pace().await;
            let response = match self.attempt(&token, &base).await {
                Ok(response) => response,
                // A connection never made cannot have arrived: any method may go again.
                Err(e) if attempt < retry.max_attempts && (replayable || e.is_connect()) => {
                    tokio::time::sleep(backoff(retry, attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let status = response.status().as_u16();
            if status == 401 && !renewed {
                self.client.forget_token(&token);
                (token, base) = self.client.credential().await?;
                renewed = true;
                continue;
            }
            let headers = response.headers().clone();
            // A 401's rate-limit headers count unauthenticated requests (15 a minute per address on Falcon),
            // not this client's budget.
            if status != 401 {
                self.client.observe_rate_limit(&headers);
            }
            if status == 429 && attempt < retry.max_attempts {
                if let Some(wait) = rate_limit_wait(&headers).filter(|w| *w <= retry.max_rate_limit_wait) {
                    self.client.cool_down(wait);
                    attempt += 1;
                    continue;
                }
            }
            if (500..600).contains(&status) && replayable && attempt < retry.max_attempts {
                tokio::time::sleep(backoff(retry, attempt)).await;
                attempt += 1;
                continue;
            }
            let text = response.text().await?;
            return Ok(RawAnswer { status, headers, text });
        }
    }

    /// One attempt, on `base`: the host that issued `token`.
    async fn attempt(&self, token: &SecretString, base: &str) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .client
            .http()
            .request(self.method.clone(), join(base, &self.path))
            .bearer_auth(token.expose_secret())
            .query(&self.query);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        // Built anew for each attempt: a multipart form is consumed by sending it.
        request = match &self.body {
            Payload::None => request,
            Payload::Json(body) => request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone()),
            Payload::Form(fields) => request.form(fields),
            Payload::Multipart { fields, files } => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in fields {
                    form = form.text(name.clone(), value.clone());
                }
                for file in files {
                    let part = reqwest::multipart::Part::bytes(file.bytes.clone()).file_name(file.file_name.clone());
                    form = form.part(file.field.clone(), part);
                }
                request.multipart(form)
            }
        };
        request.send().await
    }
}

/// The wait after the `attempt`-th failure: base × 2^(attempt-1), capped, with up to 50% jitter so that
/// many clients do not retry in step.
fn backoff(retry: RetryPolicy, attempt: u32) -> Duration {
    let exp = retry.base_backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(retry.max_backoff);
    let jitter = rand::random::<f64>() * 0.5;
    exp.mul_f64(1.0 - jitter)
}

/// How long a 429 asks to wait: `X-Ratelimit-Retryafter` (Unix seconds, as every Falcon SDK reads it), else
/// `Retry-After` (seconds). At least a moment, so a stale epoch does not turn into a busy loop.
fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    let seconds = if let Some(epoch) = header(talon_wire::headers::RATELIMIT_RETRY_AFTER) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        epoch.saturating_sub(now)
    } else {
        header("retry-after")?
    };
    Some(Duration::from_secs(seconds.max(0) as u64).max(Duration::from_millis(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&'static str, &str)]) -> TokenAnswer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_str(value).expect("value"));
        }
        TokenAnswer { status, headers: map, text: String::new(), started: Instant::now() }
    }

    const US1: &str = "https://api.crowdstrike.com";

    #[test]
    fn a_308_moves_only_to_a_commercial_falcon_host() {
        let to = |location: &str| discover(&Cloud::Auto, US1, &answer(308, &[("location", location)]));
        assert_eq!(to("https://api.eu-1.crowdstrike.com/oauth2/token"), Discovery::Move(Cloud::Eu1));
        assert_eq!(to("https://API.US-2.crowdstrike.com/oauth2/token"), Discovery::Move(Cloud::Us2));
        assert_eq!(to("https://api.us-3.crowdstrike.com:443/oauth2/token"), Discovery::Move(Cloud::Us3));
        for stranger in [
            "https://evil.example.com/oauth2/token",
            "http://api.eu-1.crowdstrike.com/oauth2/token",
            "https://api.eu-1.crowdstrike.com:8443/oauth2/token",
            "https://user:pw@api.eu-1.crowdstrike.com/oauth2/token",
            "https://api.eu-1.crowdstrike.com.evil.example/oauth2/token",
            "/oauth2/token",
        ] {
            let Discovery::Refuse(message) = to(stranger) else { panic!("{stranger} followed") };
            assert!(!message.contains("pw"), "{message}");
        }
        let Discovery::Refuse(message) = to("https://evil.example.com/steal?x=1") else { panic!("followed") };
        assert!(message.contains("https://evil.example.com") && !message.contains("steal"), "{message}");
        let Discovery::Refuse(gov) = to("https://api.laggar.gcw.crowdstrike.com/oauth2/token") else { panic!() };
        assert!(gov.contains("us-gov-1") && gov.contains("FALCON_CLOUD=us-gov-1"), "{gov}");
        assert!(matches!(discover(&Cloud::Us1, US1, &answer(308, &[])), Discovery::Refuse(_)), "no Location");
    }

    #[test]
    fn a_201_moves_to_the_commercial_region_it_names() {
        let named =
            |cloud: &Cloud, region: &str| discover(cloud, cloud.base_url(), &answer(201, &[("x-cs-region", region)]));
        assert_eq!(named(&Cloud::Auto, "us-2"), Discovery::Move(Cloud::Us2));
        assert_eq!(named(&Cloud::Us1, "EU-1"), Discovery::Move(Cloud::Eu1));
        assert_eq!(named(&Cloud::Auto, "us-1"), Discovery::Stay);
        assert_eq!(named(&Cloud::Eu1, "eu-1"), Discovery::Stay);
        assert_eq!(named(&Cloud::Auto, "local"), Discovery::Stay, "an unknown region moves nothing");
        assert_eq!(discover(&Cloud::Auto, US1, &answer(201, &[])), Discovery::Stay);
        let Discovery::Refuse(gov) = named(&Cloud::Auto, "us-gov-2") else { panic!("gov discovered") };
        assert!(gov.contains("FALCON_CLOUD=us-gov-2"), "{gov}");
        // Neither a custom base URL nor a gov cloud named explicitly ever moves.
        let custom = Cloud::Custom("http://127.0.0.1:9".into());
        assert_eq!(named(&custom, "eu-1"), Discovery::Stay);
        assert_eq!(named(&custom, "us-gov-1"), Discovery::Stay);
        let custom_308 = answer(308, &[("location", "https://api.eu-1.crowdstrike.com/oauth2/token")]);
        assert_eq!(discover(&custom, custom.base_url(), &custom_308), Discovery::Stay);
        assert_eq!(named(&Cloud::UsGov1, "us-1"), Discovery::Stay);
        // Failures are not discovery's business.
        assert_eq!(discover(&Cloud::Auto, US1, &answer(403, &[("x-cs-region", "eu-1")])), Discovery::Stay);
    }

    #[test]
    fn pacing_grows_as_the_window_empties_and_is_bounded() {
        let policy = RetryPolicy::default();
        assert_eq!(pacing_delay(&policy, 5000), Duration::ZERO);
        assert_eq!(pacing_delay(&policy, 10), Duration::ZERO);
        assert_eq!(pacing_delay(&policy, 9), Duration::from_millis(100));
        assert_eq!(pacing_delay(&policy, 1), Duration::from_millis(900));
        assert_eq!(pacing_delay(&policy, 0), Duration::from_secs(1));
        let off = RetryPolicy { low_remaining: 0, ..policy };
        assert_eq!(pacing_delay(&off, 0), Duration::ZERO);
        let huge = RetryPolicy { low_remaining: u32::MAX, max_pacing_delay: Duration::MAX, ..policy };
        assert!(pacing_delay(&huge, 0) > Duration::ZERO, "no overflow at the extremes");
    }

    #[test]
    fn proxy_urls_are_checked_without_being_shown() {
        assert!(proxy("http://127.0.0.1:3128").is_ok());
        assert!(proxy("https://user:pw@proxy.example:3128").is_ok());
        for bad in ["not a url", "ftp://proxy.example", "socks5://proxy.example", "http://", "http://user:hunter2@[::1"]
        {
            let Err(Error::Config(message)) = proxy(bad) else { panic!("{bad} accepted") };
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn root_certificates_need_a_certificate() {
        for bad in [&b"not a certificate"[..], b"", b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"] {
            assert!(matches!(root_certificates(bad), Err(Error::Config(_))), "{}", String::from_utf8_lossy(bad));
        }
    }
}
