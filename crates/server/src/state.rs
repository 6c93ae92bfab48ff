//! `AppState`: the shared state of one server node, and how it stays in step with the store.
//!
//! Clients and signing keys are held in memory so the token and bearer paths read no database; the
//! refresh loop ([`AppState::refresh`]) re-reads them when another process (the CLI, another node) changes
//! them, picks up revocations made elsewhere, seeds demo hosts into new customers and flushes last-use times.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use talon_auth::{ApiClient, ClientId, Clock, CustomerId, DenyList, Keyring, RateLimiter, RateStatus};
use talon_emulator::demo;
use talon_store::{ChangeVersion, RevocationCursor, Store, StoreError};

use crate::config::Config;
use crate::context;
use crate::error::ApiError;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Config,
    keyring: RwLock<Arc<Keyring>>,
    clients: RwLock<Arc<HashMap<ClientId, ApiClient>>>,
    deny: DenyList,
    limiters: Limiters,
    /// Last token issue per client, written to the store by the refresh loop, not on the token path.
    last_used: Mutex<HashMap<ClientId, i64>>,
    sync: tokio::sync::Mutex<SyncMark>,
}

struct Limiters {
    oauth2_per_ip: RateLimiter<IpAddr>,
    failures_per_ip: RateLimiter<IpAddr>,
    failures_per_client: RateLimiter<String>,
    api_per_customer: RateLimiter<CustomerId>,
    bad_token_per_ip: RateLimiter<IpAddr>,
}

/// How far this node has read the store's changes.
#[derive(Default)]
struct SyncMark {
    version: ChangeVersion,
    revocations: RevocationCursor,
}

impl AppState {
    /// Loads clients, keys and revocations from an opened (initialised) store.
    pub async fn new(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StoreError> {
        let l = config.limits;
        let keyring = load_keyring(&*store, &config.issuer).await?;
        let state = AppState(Arc::new(Inner {
            keyring: RwLock::new(Arc::new(keyring)),
            clients: RwLock::new(Arc::new(HashMap::new())),
            deny: DenyList::new(),
            limiters: Limiters {
                oauth2_per_ip: RateLimiter::new(l.oauth2_per_ip),
                failures_per_ip: RateLimiter::new(l.auth_failures),
                failures_per_client: RateLimiter::new(l.auth_failures),
                api_per_customer: RateLimiter::new(l.api_per_customer),
                bad_token_per_ip: RateLimiter::new(l.bad_token_per_ip),
            },
            last_used: Mutex::new(HashMap::new()),
            sync: tokio::sync::Mutex::new(SyncMark {
                version: ChangeVersion { clients: -1, customers: -1 },
                ..Default::default()
            }),
            store,
            clock,
            config,
        }));
        state.refresh().await?;
        Ok(state)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.0.keyring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The client with this ID, as of the last refresh (or this node's own last change).
    pub fn client(&self, id: &ClientId) -> Option<ApiClient> {
        self.0.clients.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.0.deny.contains(jti)
    }

    /// Revokes a token: persisted first, then refused on this node at once.
    pub async fn revoke(&self, jti: &str, client_id: &ClientId, expires_at: i64) -> Result<(), StoreError> {
        self.0.store.revoke_token(jti, client_id, expires_at, self.now()).await?;
        self.0.deny.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    pub fn note_used(&self, id: &ClientId) {
        self.0.last_used.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), self.now());
    }

    /// Counts a request against a limiter, records the status for the response headers, and refuses it
    /// with 429 when over the limit.
    fn enforce(&self, status: RateStatus) -> Result<(), ApiError> {
        context::current().set_rate(status);
        if status.allowed {
            Ok(())
        } else {
            Err(ApiError::rate_limited())
        }
    }

    pub fn limit_oauth2(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.oauth2_per_ip.hit(&ip, self.now()))
    }

    /// Refuses a credential check when this address or this client ID has failed too often lately.
    pub fn check_auth_failures(&self, ip: IpAddr, client_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let l = &self.0.limiters;
        let by_ip = l.failures_per_ip.peek(&ip, now);
        let by_client = l.failures_per_client.peek(&client_id.to_owned(), now);
        for status in [by_ip, by_client] {
            if !status.allowed {
                return self.enforce(status);
            }
        }
        Ok(())
    }

    pub fn record_auth_failure(&self, ip: IpAddr, client_id: &str) {
        let now = self.now();
        self.0.limiters.failures_per_ip.hit(&ip, now);
        self.0.limiters.failures_per_client.hit(&client_id.to_owned(), now);
    }

    pub fn limit_customer(&self, customer: &CustomerId) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.api_per_customer.hit(customer, self.now()))
    }

    pub fn limit_bad_token(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.bad_token_per_ip.hit(&ip, self.now()))
    }

    pub fn peek_bad_token_budget(&self, ip: IpAddr) -> RateStatus {
        self.0.limiters.bad_token_per_ip.peek(&ip, self.now())
    }

    /// Brings this node in step with the store. Cheap when nothing changed: one small query.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let inner = &self.0;
        let mut mark = inner.sync.lock().await;
        let now = self.now();
        let version = inner.store.change_version().await?;
        if version.clients != mark.version.clients {
            let clients = inner.store.clients().await?;
            let map = clients.into_iter().map(|c| (c.id.clone(), c)).collect();
            *inner.clients.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
        }
        if version.customers != mark.version.customers && inner.config.demo_hosts > 0 {
            self.seed_demo_hosts().await?;
        }
        mark.version = version;
        let (revocations, cursor) = inner.store.revocations_since(mark.revocations, now).await?;
        for r in revocations {
            inner.deny.insert(r.jti, r.expires_at);
        }
        mark.revocations = cursor;
        inner.deny.prune(now);
        self.flush_last_used().await
    }

    /// Re-reads the signing keys (after a rotation by another process).
    pub async fn reload_keys(&self) -> Result<(), StoreError> {
        let keyring = load_keyring(&*self.0.store, &self.0.config.issuer).await?;
        *self.0.keyring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keyring);
        Ok(())
    }

    async fn seed_demo_hosts(&self) -> Result<(), StoreError> {
        for cid in self.0.store.customers().await? {
            if self.0.store.host_count(&cid).await? == 0 {
                self.0.store.insert_hosts(&demo::generate(&cid, self.0.config.demo_hosts)).await?;
                tracing::info!(cid = %cid, hosts = self.0.config.demo_hosts, "seeded demo hosts");
            }
        }
        Ok(())
    }

    /// Writes pending last-use times to the store.
    pub async fn flush_last_used(&self) -> Result<(), StoreError> {
        let pending: Vec<(ClientId, i64)> =
            self.0.last_used.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        self.0.store.record_last_used(&pending).await
    }
}

async fn load_keyring(store: &dyn Store, issuer: &str) -> Result<Keyring, StoreError> {
    let keys = store.signing_keys().await?;
    Keyring::new(issuer, &keys).ok_or_else(|| StoreError::Corrupt("the store holds no signing key".into()))
}
