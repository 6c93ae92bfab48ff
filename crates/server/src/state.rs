//! `AppState`: the shared state of one server node, and how it stays in step with the store.
//!
//! Clients and signing keys are held in memory so the token and bearer paths read no database; the
//! refresh loop ([`AppState::refresh`]) re-reads them when another process (the CLI, another node) changes
//! them, picks up revocations made elsewhere, seeds demo hosts into new customers and flushes last-use times.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;

use axum::http::HeaderValue;
use serde_json::value::RawValue;
use talon_auth::{
    address_key, ApiClient, ClientId, Clock, CustomerId, DenyList, FastMap, Keyring, RateStatus, TokenError,
    VerifiedToken,
};
use talon_emulator::groups::Group;
use talon_emulator::{alerts, demo, Host, HostIndex};
use talon_store::admin::action;
use talon_store::{AuditEntry, ChangeVersion, RevocationCursor, Store, StoreError};
use talon_store::{EntityCap, OnExisting, StoredEntity};
use talon_wire::ids::shown_id;

use crate::audit;
use crate::config::Config;
use crate::context;
use crate::error::ApiError;
use crate::limits::{Limiter, Shared};
use crate::metrics::Metrics;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Config,
    /// `X-Cs-Region` as a header value, made once: every response carries it. `None` when the configured
    /// name is not a valid header value (the header is then left out).
    region_header: Option<HeaderValue>,
    /// Snapshots swapped whole (arc-swap): the token and bearer paths read them without a lock.
    keyring: ArcSwap<Keyring>,
    clients: ArcSwap<ClientMap>,
    deny: DenyList,
    /// Tokens whose signature and claims were checked already, by token text: the bearer check is a hash
    /// lookup in the common case. Entries go when their token expires or the keys change. Revocation and
    /// the client's current state are checked on every request, cache or not.
    verified: RwLock<VerifiedCache>,
    limiters: Limiters,
    /// Each customer's hosts, loaded on first use, dropped when the customer's hosts version in the store
    /// moves (any node's action or seeding) and by this node's own actions at once.
    hosts: RwLock<HostCache>,
    /// The generic engine's records per customer and resource, loaded on first use, all dropped when the
    /// store's entities counter moves (another node's write, `talon fixtures load`), and a resource's by
    /// this node's own writes at once.
    entities: RwLock<EntityCache>,
    /// Last token issue per client, written to the store by the refresh loop, not on the token path.
    last_used: Mutex<HashMap<ClientId, i64>>,
    /// Audit entries of the token path (failed-authentication bursts), written by the refresh loop.
    pending_audit: Mutex<Vec<AuditEntry>>,
    sync: tokio::sync::Mutex<SyncMark>,
    /// The last readiness check of the store: when (the clock's second) and its outcome. Behind an async
    /// mutex, so that concurrent probes wait for one check instead of each making its own.
    readiness: tokio::sync::Mutex<Option<(i64, bool)>>,
    metrics: Metrics,
}

/// Per node, or shared through Redis with the per-node counters as the fallback (see [`crate::limits`]).
struct Limiters {
    oauth2_per_ip: Limiter<IpAddr>,
    /// Failures of one client ID from one address: the budget a guesser spends.
    failures_per_pair: Limiter<(IpAddr, String)>,
    /// Failures from one address across client IDs: a looser cap ([`ADDRESS_FAILURE_FACTOR`] times).
    failures_per_ip: Limiter<IpAddr>,
    /// Failures of one client ID from any address.
    failures_per_client: Limiter<String>,
    api_per_customer: Limiter<CustomerId>,
    bad_token_per_ip: Limiter<IpAddr>,
    dead_token_per_ip: Limiter<IpAddr>,
}

/// How many times the per-client failure budget one address has across client IDs. Behind a proxy or NAT
/// many clients share an address: one party's wrong guesses must not lock the others' correct credentials
/// out, yet an address trying many client IDs is still stopped.
const ADDRESS_FAILURE_FACTOR: u32 = 10;

/// How many times the junk-token budget an address has for tokens this server signed that have since
/// expired or been revoked: such a token comes from a client that held credentials, and its 401 is what
/// makes an SDK renew; junk tokens from others on the same address (a proxy, a NAT) must not turn it into
/// a 429, on which SDKs wait instead.
const DEAD_TOKEN_FACTOR: u32 = 10;

/// The clients by ID, each shared so that looking one up copies nothing. A persistent map (a hash array
/// mapped trie): a changed copy shares all but the changed paths with the snapshot it was made from, so
/// applying a few changed clients costs the same with a hundred clients or a million.
pub type ClientMap =
    imbl::GenericHashMap<ClientId, Arc<ApiClient>, foldhash::fast::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// Verified tokens by their text, with a generation that grows whenever the keys change.
#[derive(Default)]
struct VerifiedCache {
    generation: u64,
    tokens: FastMap<Arc<str>, Arc<VerifiedToken>>,
}

#[derive(Default)]
struct EntityCache {
    /// Grows on every drop, as [`HostCache::generation`].
    generation: u64,
    /// Each resource's records and their JSON text size.
    by_resource: HashMap<(CustomerId, String), CachedRecords>,
    /// The JSON text size of all that is cached.
    bytes: usize,
}

/// A resource's records as cached, with their JSON text size.
type CachedRecords = (Arc<Vec<StoredEntity>>, usize);

/// Most the record cache holds (over all customers and resources), as JSON text, and most resources:
/// past either it starts again from empty (loads are rare: every write drops only its resource).
const MAX_CACHED_BYTES: usize = 256 * 1024 * 1024;
const MAX_CACHED_RESOURCES: usize = 1024;

#[derive(Default)]
struct HostCache {
    /// Grows on every drop, so that a load which raced with a drop does not put stale hosts back.
    generation: u64,
    by_customer: FastMap<CustomerId, Arc<CustomerHosts>>,
}

/// A customer's hosts as the hosts API serves them: the index (each host's `groups` worked out from the
/// groups), the host groups, and the serialized pages of the plain listing (no filter, default order),
/// which depend only on offset and limit until the hosts or groups change.
pub struct CustomerHosts {
    index: HostIndex,
    groups: Vec<Group>,
    pages: Mutex<HashMap<(u64, u64), ListingPage>>,
}

/// A serialized page of device IDs (a JSON list) and how many hosts the listing has in all.
pub type ListingPage = (Arc<RawValue>, u64);

/// Most serialized pages kept per customer (distinct offset/limit pairs).
const MAX_CACHED_PAGES: usize = 64;

impl CustomerHosts {
    /// The hosts and groups of a customer, each host told the groups it is in.
    fn new(mut hosts: Vec<Host>, groups: Vec<Group>) -> CustomerHosts {
        for host in &mut hosts {
            let ids: Vec<String> = groups.iter().filter(|g| g.contains(host)).map(|g| g.id().to_owned()).collect();
            host.set_groups(ids);
        }
        CustomerHosts { index: HostIndex::new(hosts), groups, pages: Mutex::new(HashMap::new()) }
    }

    /// The customer's host groups, by ID.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id() == id)
    }

    /// The page at `offset`/`limit` of the plain listing, made by `make` the first time.
    pub fn listing_page(&self, offset: u64, limit: u64, make: impl FnOnce() -> ListingPage) -> ListingPage {
        if let Some(page) = self.pages.lock().unwrap_or_else(|p| p.into_inner()).get(&(offset, limit)) {
            return page.clone();
        }
        let page = make();
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.len() < MAX_CACHED_PAGES {
            pages.insert((offset, limit), page.clone());
        }
        page
    }
}

impl std::ops::Deref for CustomerHosts {
    type Target = HostIndex;
    fn deref(&self) -> &HostIndex {
        &self.index
    }
}

/// How far this node has read the store's changes.
#[derive(Default)]
struct SyncMark {
    version: ChangeVersion,
    /// The client sequence this node's snapshot of the clients is current to (see `Store::client_changes`).
    client_seq: i64,
    /// The customers whose demo data this node has seen to (each is looked at once per node).
    customers_seen: std::collections::HashSet<CustomerId>,
    /// Each customer's hosts version as of the last refresh (see `Store::host_versions`).
    host_versions: HashMap<CustomerId, i64>,
    revocations: RevocationCursor,
    last_prune: i64,
}

/// Most verified tokens kept in memory.
const MAX_CACHED_TOKENS: usize = 100_000;

/// How often expired revocations are deleted from the store.
const PRUNE_EVERY_SECS: i64 = 60;

impl AppState {
    /// Loads clients, keys and revocations from an opened (initialised) store.
    pub async fn new(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StoreError> {
        let l = config.limits;
        let keyring = load_keyring(&*store, &config.issuer).await?;
        let metrics = Metrics::new();
        let shared = match &config.shared_limits {
            Some(shared) => Shared::connect(shared, metrics.rate_limit_fallbacks.clone()).await,
            None => None,
        };
        let shared = shared.as_ref();
        let state = AppState(Arc::new(Inner {
            region_header: HeaderValue::from_str(&config.region).ok(),
            keyring: ArcSwap::from_pointee(keyring),
            clients: ArcSwap::from_pointee(ClientMap::default()),
            deny: DenyList::new(),
            verified: RwLock::new(VerifiedCache::default()),
            limiters: Limiters {
                oauth2_per_ip: Limiter::new("oauth2_ip", l.oauth2_per_ip, shared),
                failures_per_pair: Limiter::new("auth_fail_pair", l.auth_failures, shared),
                failures_per_ip: Limiter::new(
                    "auth_fail_ip",
                    l.auth_failures.saturating_mul(ADDRESS_FAILURE_FACTOR),
                    shared,
                ),
                failures_per_client: Limiter::new("auth_fail_client", l.auth_failures, shared),
                api_per_customer: Limiter::new("api_customer", l.api_per_customer, shared),
                bad_token_per_ip: Limiter::new("bad_token_ip", l.bad_token_per_ip, shared),
                dead_token_per_ip: Limiter::new(
                    "dead_token_ip",
                    l.bad_token_per_ip.saturating_mul(DEAD_TOKEN_FACTOR),
                    shared,
                ),
            },
            hosts: RwLock::new(HostCache::default()),
            entities: RwLock::new(EntityCache::default()),
            last_used: Mutex::new(HashMap::new()),
            pending_audit: Mutex::new(Vec::new()),
            readiness: tokio::sync::Mutex::new(None),
            metrics,
            // Versions no store has, so the first refresh loads everything.
            sync: tokio::sync::Mutex::new(SyncMark {
                version: ChangeVersion { clients: -1, customers: -1, keys: -1, hosts: -1, entities: -1 },
                client_seq: talon_store::clients::FROM_THE_START,
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

    /// The `X-Cs-Region` header value (see [`Config::region`]).
    pub fn region_header(&self) -> Option<&HeaderValue> {
        self.0.region_header.as_ref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }

    /// Whether the store answers, asked at most once per second of the clock: a probe in the same second
    /// as the last check gets its outcome, and probes that arrive during a check wait for it.
    /// A failed check is logged (so at most once a second).
    pub async fn readiness(&self) -> bool {
        let mut last = self.0.readiness.lock().await;
        let now = self.now();
        if let Some((at, ready)) = *last {
            if at == now {
                return ready;
            }
        }
        self.0.metrics.readiness_checks.inc();
        let ready = match self.0.store.change_version().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness: the store does not answer");
                false
            }
        };
        *last = Some((now, ready));
        ready
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.0.keyring.load_full()
    }

    /// The client with this ID, as of the last refresh (shared, not copied: the token path asks per request).
    pub fn client(&self, id: &ClientId) -> Option<Arc<ApiClient>> {
        self.0.clients.load().get(id).cloned()
    }

    /// Every client, as of the last refresh: a snapshot that later changes do not touch.
    pub fn clients(&self) -> Arc<ClientMap> {
        self.0.clients.load_full()
    }

    /// Verifies a bearer token, from the cache of verified tokens when it holds it.
    pub fn verify_token(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenError> {
        let now = self.now();
        let generation = {
            let cache = self.0.verified.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = cache.tokens.get(token) {
                return if now < hit.usable_until {
                    Ok(hit.clone())
                } else if now < hit.expires_at {
                    Err(TokenError::RetiredKey)
                } else {
                    Err(TokenError::Expired)
                };
            }
            cache.generation
        };
        let verified = Arc::new(self.keyring().verify(token, now)?);
        let mut cache = self.0.verified.write().unwrap_or_else(|p| p.into_inner());
        // Only valid tokens get here, and each needs a token request: the cap is a safety net. A token
        // verified with keys that changed meanwhile is not cached (the next request verifies it again).
        if cache.generation == generation && cache.tokens.len() < MAX_CACHED_TOKENS {
            cache.tokens.insert(Arc::from(token), verified.clone());
        }
        Ok(verified)
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

    /// The hosts of `cid`, from memory when this node has them.
    pub async fn customer_hosts(&self, cid: &CustomerId) -> Result<Arc<CustomerHosts>, StoreError> {
        let generation = {
            let cache = self.0.hosts.read().unwrap_or_else(|p| p.into_inner());
            if let Some(hosts) = cache.by_customer.get(cid) {
                return Ok(hosts.clone());
            }
            cache.generation
        };
        let now = self.now();
        let groups = self.0.store.host_groups(cid).await?;
        let groups = groups
            .into_iter()
            .map(|g| {
                let id = g.group.id.clone();
                Group::restore(cid.clone(), g.group, g.members, now)
                    .map_err(|e| StoreError::Corrupt(format!("host group {id}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hosts = Arc::new(CustomerHosts::new(self.0.store.customer_hosts(cid).await?, groups));
        self.0.metrics.host_cache_loads.inc();
        let mut cache = self.0.hosts.write().unwrap_or_else(|p| p.into_inner());
        if cache.generation == generation {
            cache.by_customer.insert(cid.clone(), hosts.clone());
        }
        Ok(hosts)
    }

    /// The generic engine's records of `cid`'s `resource`, from memory when this node has them.
    pub async fn entities(&self, cid: &CustomerId, resource: &str) -> Result<Arc<Vec<StoredEntity>>, StoreError> {
        let key = (cid.clone(), resource.to_owned());
        let generation = {
            let cache = self.0.entities.read().unwrap_or_else(|p| p.into_inner());
            if let Some((records, _)) = cache.by_resource.get(&key) {
                return Ok(records.clone());
            }
            cache.generation
        };
        let records = Arc::new(self.0.store.entities(cid, resource).await?);
        self.0.metrics.entity_cache_loads.inc();
        let size: usize = records.iter().map(StoredEntity::record_len).sum();
        let mut cache = self.0.entities.write().unwrap_or_else(|p| p.into_inner());
        if cache.generation == generation && size <= MAX_CACHED_BYTES {
            if cache.by_resource.len() >= MAX_CACHED_RESOURCES || cache.bytes + size > MAX_CACHED_BYTES {
                cache.by_resource.clear();
                cache.bytes = 0;
            }
            cache.bytes += size;
            if let Some((_, replaced)) = cache.by_resource.insert(key, (records.clone(), size)) {
                cache.bytes = cache.bytes.saturating_sub(replaced);
            }
        }
        Ok(records)
    }

    /// Drops this node's cached records of `cid`'s `resource` (after it wrote some); `None`: of every
    /// resource (the store says some moved).
    pub fn forget_entities(&self, resource: Option<(&CustomerId, &str)>) {
        let mut cache = self.0.entities.write().unwrap_or_else(|p| p.into_inner());
        cache.generation += 1;
        match resource {
            Some((cid, resource)) => {
                if let Some((_, size)) = cache.by_resource.remove(&(cid.clone(), resource.to_owned())) {
                    cache.bytes = cache.bytes.saturating_sub(size);
                }
            }
            None => {
                cache.by_resource.clear();
                cache.bytes = 0;
            }
        }
    }

    /// Drops the cached hosts of these customers: after this node changed some, or the store says they
    /// changed. Other customers' caches stay.
    pub fn forget_hosts_of(&self, customers: &[CustomerId]) {
        let mut cache = self.0.hosts.write().unwrap_or_else(|p| p.into_inner());
        // Any drop moves the generation, so a load that raced with it is not cached (it may be stale).
        cache.generation += 1;
        for cid in customers {
            cache.by_customer.remove(cid);
        }
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

    pub async fn limit_oauth2(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.oauth2_per_ip.hit(&address_key(ip), self.now()).await)
    }

    /// Refuses a credential check when this client ID has failed too often lately from this address, when
    /// this address has failed too often across client IDs (a looser cap), or when this client ID has
    /// failed too often anywhere and this address has failed with it at least once. So guessing is
    /// throttled per address and per client, yet an integration is locked out neither by someone else's
    /// failures with its (public) client ID elsewhere nor by other clients' failures from its own address.
    pub async fn check_auth_failures(&self, ip: IpAddr, client_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let l = &self.0.limiters;
        let by_ip = l.failures_per_ip.peek(&address_key(ip), now).await;
        if !by_ip.allowed {
            return self.enforce(by_ip);
        }
        // An address without failures in its window has none with any client ID either (a pair's window
        // may outlast its address's by under a minute: one more guess then, counted at once): the common
        // case, answered without building the keys below.
        if by_ip.remaining == by_ip.limit {
            return Ok(());
        }
        let by_pair = l.failures_per_pair.peek(&(address_key(ip), failure_key(client_id)), now).await;
        if !by_pair.allowed {
            return self.enforce(by_pair);
        }
        let by_client = l.failures_per_client.peek(&failure_key(client_id), now).await;
        if !by_client.allowed && by_pair.remaining < by_pair.limit {
            return self.enforce(by_client);
        }
        Ok(())
    }

    pub async fn record_auth_failure(&self, ip: IpAddr, client_id: &str) {
        self.0.metrics.auth_failures.inc();
        let now = self.now();
        let l = &self.0.limiters;
        let (address, client) = (address_key(ip), failure_key(client_id));
        let pair = (address, client.clone());
        // Shared, the three go out together on the one connection: one round trip's wait, not three.
        let (by_pair, by_ip, _) = tokio::join!(
            l.failures_per_pair.hit(&pair, now),
            l.failures_per_ip.hit(&address, now),
            l.failures_per_client.hit(&client, now),
        );
        // The failure that uses up a budget starts a burst: audited once, not per failure, naming the
        // client ID the failures named (the address's cap names the last one: they named many).
        let burst = |status: &RateStatus, what: &str| {
            let details = format!(
                "{} failed authentications within a minute{what}; refused until {}",
                status.limit, status.resets_at
            );
            let entry = audit::actor(&failure_key(client_id), ip).entry(now, action::AUTH_FAILURE_BURST, None, details);
            self.0.pending_audit.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
        };
        if by_pair.allowed && by_pair.remaining == 0 {
            burst(&by_pair, "");
        }
        if by_ip.allowed && by_ip.remaining == 0 {
            burst(&by_ip, " from this address across client IDs");
        }
    }

    /// Makes a client change this node wrote visible on its token and bearer paths at once (other nodes
    /// learn of it through the change counters): applies the clients changed since this node's mark,
    /// which holds the change (and any other node's made meanwhile, in the store's order). Serialised
    /// with [`AppState::refresh`], so the two never apply one change twice or out of order.
    pub async fn catch_up_clients(&self) -> Result<(), StoreError> {
        let mut mark = self.0.sync.lock().await;
        self.apply_client_changes(&mut mark).await
    }

    /// Reads the clients changed and deleted since `mark` (every client the first time) and swaps in a
    /// snapshot with them applied: a cost of the rows changed, not of all clients.
    async fn apply_client_changes(&self, mark: &mut SyncMark) -> Result<(), StoreError> {
        let delta = self.0.store.client_changes(mark.client_seq).await?;
        self.0.metrics.client_sync_rows.inc_by((delta.changed.len() + delta.deleted.len()) as u64);
        if !delta.changed.is_empty() || !delta.deleted.is_empty() {
            let mut clients = ClientMap::clone(&self.0.clients.load());
            for id in &delta.deleted {
                clients.remove(id);
            }
            for client in delta.changed {
                clients.insert(client.id.clone(), Arc::new(client));
            }
            self.0.clients.store(Arc::new(clients));
        }
        mark.client_seq = delta.seq;
        Ok(())
    }

    /// Writes pending audit entries of the token path; on failure they are kept for the next try.
    pub async fn flush_audit(&self) -> Result<(), StoreError> {
        let pending: Vec<AuditEntry> =
            std::mem::take(&mut *self.0.pending_audit.lock().unwrap_or_else(|p| p.into_inner()));
        for (i, entry) in pending.iter().enumerate() {
            if let Err(e) = self.0.store.append_audit(entry).await {
                let mut queue = self.0.pending_audit.lock().unwrap_or_else(|p| p.into_inner());
                queue.splice(0..0, pending[i..].iter().cloned());
                return Err(e);
            }
        }
        Ok(())
    }

    pub async fn limit_customer(&self, customer: &CustomerId) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.api_per_customer.hit(customer, self.now()).await)
    }

    pub async fn limit_bad_token(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.bad_token_per_ip.hit(&address_key(ip), self.now()).await)
    }

    /// As [`AppState::limit_bad_token`], for a token this server signed that is expired, revoked or no
    /// longer valid: its own budget (see [`DEAD_TOKEN_FACTOR`]).
    pub async fn limit_dead_token(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.enforce(self.0.limiters.dead_token_per_ip.hit(&address_key(ip), self.now()).await)
    }

    pub async fn peek_bad_token_budget(&self, ip: IpAddr) -> RateStatus {
        self.0.limiters.bad_token_per_ip.peek(&address_key(ip), self.now()).await
    }

    /// Brings this node in step with the store. Cheap when nothing changed: two small queries.
    ///
    /// Each step stands alone: revocations are read first, and a step that fails is retried on the next
    /// call without holding back the steps after it.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let inner = &self.0;
        let mut mark = inner.sync.lock().await;
        let now = self.now();
        let mut first_error = None;
        let mut note = |result: Result<(), StoreError>| {
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        };

        match inner.store.revocations_since(mark.revocations, now).await {
            Ok((revocations, cursor)) => {
                for r in revocations {
                    inner.deny.insert(r.jti, r.expires_at);
                }
                mark.revocations = cursor;
            }
            Err(e) => note(Err(e)),
        }
        inner.deny.prune(now);
        inner.verified.write().unwrap_or_else(|p| p.into_inner()).tokens.retain(|_, t| now < t.usable_until);

        match inner.store.change_version().await {
            Ok(version) => {
                if version.clients != mark.version.clients {
                    match self.apply_client_changes(&mut mark).await {
                        Ok(()) => mark.version.clients = version.clients,
                        Err(e) => note(Err(e)),
                    }
                }
                if version.keys != mark.version.keys {
                    match load_keyring(&*inner.store, &inner.config.issuer).await {
                        Ok(keyring) => {
                            inner.keyring.store(Arc::new(keyring));
                            let mut verified = inner.verified.write().unwrap_or_else(|p| p.into_inner());
                            verified.generation += 1;
                            verified.tokens.clear();
                            mark.version.keys = version.keys;
                        }
                        Err(e) => note(Err(e)),
                    }
                }
                if version.hosts != mark.version.hosts {
                    match inner.store.host_versions().await {
                        Ok(versions) => {
                            let moved: Vec<CustomerId> = versions
                                .iter()
                                .filter(|(cid, v)| mark.host_versions.get(cid) != Some(v))
                                .map(|(cid, _)| cid.clone())
                                .collect();
                            self.forget_hosts_of(&moved);
                            mark.host_versions = versions.into_iter().collect();
                            mark.version.hosts = version.hosts;
                        }
                        Err(e) => note(Err(e)),
                    }
                }
                if version.entities != mark.version.entities {
                    self.forget_entities(None);
                    mark.version.entities = version.entities;
                }
                if version.customers != mark.version.customers {
                    let seeded =
                        if inner.config.demo_hosts > 0 { self.seed_demo_hosts(&mut mark).await } else { Ok(()) };
                    if seeded.is_ok() {
                        mark.version.customers = version.customers;
                    }
                    note(seeded);
                }
            }
            Err(e) => note(Err(e)),
        }

        if now - mark.last_prune >= PRUNE_EVERY_SECS {
            match inner.store.prune_revocations(now).await {
                Ok(_) => mark.last_prune = now,
                Err(e) => note(Err(e)),
            }
        }
        note(self.flush_last_used().await);
        note(self.flush_audit().await);
        first_error.map_or(Ok(()), Err)
    }

    /// Seeds a new customer's demo hosts and their alerts (`talon_emulator::alerts::demo`, kept by the
    /// generic engine), and the alerts of a customer seeded before alerts were (a store of an earlier
    /// version). Each customer is looked at once per node: a new customer costs its own queries, not
    /// two per customer there is.
    async fn seed_demo_hosts(&self, mark: &mut SyncMark) -> Result<(), StoreError> {
        let store = &self.0.store;
        for cid in store.customers().await? {
            if mark.customers_seen.contains(&cid) {
                continue;
            }
            let hosts = if store.host_count(&cid).await? == 0 {
                let hosts = demo::generate(&cid, self.0.config.demo_hosts, self.now());
                store.insert_hosts(&hosts).await?;
                tracing::info!(cid = %cid, hosts = self.0.config.demo_hosts, "seeded demo hosts");
                hosts
            } else if store.entity_resources(&cid).await?.iter().all(|r| r != alerts::RESOURCE) {
                store.customer_hosts(&cid).await?
            } else {
                mark.customers_seen.insert(cid);
                continue;
            };
            let records: Vec<StoredEntity> =
                alerts::demo(&hosts, self.now()).into_iter().map(|(id, record)| StoredEntity { id, record }).collect();
            let put = store.put_entities(&cid, alerts::RESOURCE, &records, OnExisting::Replace, EntityCap::NONE);
            if let Err(refusal) = put.await? {
                tracing::warn!(cid = %cid, %refusal, "demo alerts not seeded");
            }
            self.forget_entities(Some((&cid, alerts::RESOURCE)));
            mark.customers_seen.insert(cid);
        }
        Ok(())
    }

    /// Writes pending last-use times to the store; on failure they are kept for the next try.
    pub async fn flush_last_used(&self) -> Result<(), StoreError> {
        let pending: Vec<(ClientId, i64)> =
            self.0.last_used.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        let result = self.0.store.record_last_used(&pending).await;
        if result.is_err() {
            let mut last_used = self.0.last_used.lock().unwrap_or_else(|p| p.into_inner());
            for (id, at) in pending {
                let entry = last_used.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        result
    }
}

/// The failure-throttle key of a client ID: the ID itself when it has the shape of one, else one shared
/// bucket, so arbitrary request text cannot create keys.
fn failure_key(client_id: &str) -> String {
    shown_id(client_id).to_owned()
}

async fn load_keyring(store: &dyn Store, issuer: &str) -> Result<Keyring, StoreError> {
    let keys = store.signing_keys().await?;
    Keyring::new(issuer, &keys).ok_or_else(|| StoreError::Corrupt("the store holds no signing key".into()))
}
