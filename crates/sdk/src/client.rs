//! The client: configuration, the cached token with single-flight renewal, and authenticated requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, USER_AGENT};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use talon_wire::token::{field, TokenResponse};

use crate::credentials::Credentials;
use crate::error::{ApiError, Error, FailReason};

/// How long before expiry a token is renewed.
pub const DEFAULT_RENEW_WINDOW: Duration = Duration::from_secs(120);

/// After a failed login, no new attempt for this long (doubling with each failure, up to a minute), so a
/// wrong secret does not hammer the token endpoint.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How the client retries. Rate-limited requests (429) are retried for every method, since the server did
/// not act on them; server errors (5xx) and broken connections only for GET and HEAD, since a POST, PATCH
/// or DELETE may have arrived and acted; a connection that was never made is retried for every method.
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
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    credentials: Credentials,
    renew_window: Duration,
    timeout: Duration,
    user_agent_suffix: Option<String>,
    retry: RetryPolicy,
}

impl ClientBuilder {
    pub fn renew_window(mut self, window: Duration) -> ClientBuilder {
        self.renew_window = window;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    pub fn retry_policy(mut self, retry: RetryPolicy) -> ClientBuilder {
        self.retry = retry;
        self
    }

    /// Appended to the `User-Agent` (e.g. your tool's name and version).
    pub fn user_agent_suffix(mut self, suffix: impl Into<String>) -> ClientBuilder {
        self.user_agent_suffix = Some(suffix.into());
        self
    }

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
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            // Never follow a redirect with the bearer token: it would go to whatever host the redirect names.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Client(Arc::new(Inner {
            http,
            base_url: self.credentials.cloud.base_url().to_owned(),
            credentials: self.credentials,
            renew_window: self.renew_window,
            retry: self.retry,
            cooldown_until: std::sync::Mutex::new(None),
            token: std::sync::RwLock::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        })))
    }
}

/// A Falcon API client: cheap to clone (one `Arc`), `Send + Sync`; clones share the token.
#[derive(Clone)]
pub struct Client(Arc<Inner>);

struct Inner {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    renew_window: Duration,
    retry: RetryPolicy,
    /// After a 429, no request leaves any clone before this instant.
    cooldown_until: std::sync::Mutex<Option<Instant>>,
    token: std::sync::RwLock<Option<CachedToken>>,
    /// Held while a token is being fetched: one refresh in flight however many tasks need a token.
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Clone)]
struct CachedToken {
    value: SecretString,
    expires_at: Instant,
    /// Renewed this long before expiry: the renew window, or half the lifetime of a short-lived token
    /// (else a token shorter than the window would never count as fresh, and every call would log in).
    renew_margin: Duration,
}

#[derive(Default)]
pub(crate) struct RefreshState {
    pub(crate) last_status: Option<u16>,
    pub(crate) last_failure: Option<(Instant, FailReason)>,
    failures: u32,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base_url", &self.0.base_url).field("credentials", &self.0.credentials).finish()
    }
}

impl Client {
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            credentials,
            renew_window: DEFAULT_RENEW_WINDOW,
            timeout: Duration::from_secs(30),
            user_agent_suffix: None,
            retry: RetryPolicy::default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.0.base_url
    }

    /// A valid bearer token: the cached one, or a new one when it is missing or within the renew window of
    /// its expiry. Concurrent callers share one token request.
    pub async fn bearer(&self) -> Result<SecretString, Error> {
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
        self.login_locked(&mut state).await
    }

    async fn login_locked(&self, state: &mut RefreshState) -> Result<SecretString, Error> {
        let c = &self.0.credentials;
        let mut form: Vec<(&str, &str)> =
            vec![(field::CLIENT_ID, c.client_id.as_str()), (field::CLIENT_SECRET, c.client_secret.expose_secret())];
        if let Some(member) = &c.member_cid {
            form.push((field::MEMBER_CID, member));
        }
        let started = Instant::now();
        let response = match self.0.http.post(self.url("/oauth2/token")).form(&form).send().await {
            Ok(response) => response,
            Err(e) => {
                // An unreachable token endpoint backs off too, rather than being asked again by every caller.
                let error = Error::from(e);
                state.failures = state.failures.saturating_add(1);
                let reason = FailReason { status: 0, message: error.to_string(), trace_id: None };
                state.last_failure = Some((Instant::now(), reason));
                return Err(error);
            }
        };
        let status = response.status().as_u16();
        state.last_status = Some(status);
        if status == 201 {
            let body: TokenResponse = response.json().await?;
            let token = SecretString::from(body.access_token);
            let lifetime = Duration::from_secs(body.expires_in);
            let renew_margin = self.0.renew_window.min(lifetime / 2);
            *self.0.token.write().unwrap_or_else(|p| p.into_inner()) =
                Some(CachedToken { value: token.clone(), expires_at: started + lifetime, renew_margin });
            state.last_failure = None;
            state.failures = 0;
            return Ok(token);
        }
        let headers = response.headers().clone();
        let reason = ApiError::read(status, &headers, response.text().await.unwrap_or_default()).fail_reason();
        state.failures = state.failures.saturating_add(1);
        state.last_failure = Some((Instant::now(), reason.clone()));
        Err(Error::Login(reason))
    }

    fn fresh_token(&self) -> Option<SecretString> {
        let cached = self.0.token.read().unwrap_or_else(|p| p.into_inner());
        cached.as_ref().filter(|t| Instant::now() + t.renew_margin < t.expires_at).map(|t| t.value.clone())
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

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.0.credentials
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// The URL of `path` on the configured host. A path is always rooted (`/` is added when missing), so no
    /// path can move the request, and its bearer token, to another host (`@evil.example/x`).
    pub(crate) fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("{}{slash}{path}", self.0.base_url)
    }

    /// An authenticated request to `path` (e.g. `/devices/queries/devices/v1`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder { client: self.clone(), method, path: path.to_owned(), query: vec![], body: None }
    }
}

/// An answer as it came: status, headers and body text.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

/// A request being built; [`RequestBuilder::send`] authenticates it.
pub struct RequestBuilder {
    client: Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RequestBuilder {
    pub fn query(mut self, name: &str, value: impl ToString) -> RequestBuilder {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn json<T: Serialize>(mut self, body: &T) -> Result<RequestBuilder, Error> {
        self.body = Some(serde_json::to_vec(body).map_err(|e| Error::Config(format!("request body: {e}")))?);
        Ok(self)
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
        let mut token = self.client.bearer().await?;
        let mut renewed = false;
        let mut attempt = 1;
        loop {
            self.client.wait_for_cooldown().await;
            let response = match self.attempt(&token).await {
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
                token = self.client.bearer().await?;
                renewed = true;
                continue;
            }
            let headers = response.headers().clone();
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

    async fn attempt(&self, token: &SecretString) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .client
            .http()
            .request(self.method.clone(), self.client.url(&self.path))
            .bearer_auth(token.expose_secret())
            .query(&self.query);
        if let Some(body) = &self.body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
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
        epoch - now
    } else {
        header("retry-after")?
    };
    Some(Duration::from_secs(seconds.max(0) as u64).max(Duration::from_millis(100)))
}
