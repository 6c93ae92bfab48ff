//! `AppState`: the shared state of one server node, in parts along what they are for, each reachable on
//! its own (`State<Arc<AuthSnapshot>>` and so on, through `FromRef`):
//!
//! - [`AuthSnapshot`]: the keys, clients, revocations and verified tokens the token and bearer paths read
//!   without touching the database;
//! - [`Throttles`]: the rate limits;
//! - [`Caches`]: each customer's hosts and the generic engine's records, for the emulated API;
//! - [`WriteBehind`]: what the token path records for later (last use, failure bursts);
//! - the sync ([`sync`]): how the node stays in step with the store (the refresh loop, and the catch-up
//!   after an admin change this node made).
//!
//! Snapshots are swapped whole with arc-swap: readers take no lock, and no lock can be poisoned (the few
//! left, the verified tokens' writers, the queues, a customer's page cache, are `parking_lot`'s).

mod auth;
mod caches;
mod sync;
mod throttles;
mod write_behind;

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::FromRef;
use axum::http::HeaderValue;
use talon_auth::{ClientId, Clock};
use talon_store::{Store, StoreError};

pub use auth::{AuthSnapshot, ClientMap};
pub use caches::{Caches, CustomerHosts, ListingPage};
pub use throttles::Throttles;
pub use write_behind::WriteBehind;

use crate::config::Config;
use crate::limits::Shared;
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
    auth: Arc<AuthSnapshot>,
    throttles: Arc<Throttles>,
    caches: Arc<Caches>,
    queues: Arc<WriteBehind>,
    sync: tokio::sync::Mutex<sync::SyncMark>,
    /// The last readiness check of the store: when (the clock's second) and its outcome. Behind an async
    /// mutex, so that concurrent probes wait for one check instead of each making its own.
    readiness: tokio::sync::Mutex<Option<(i64, bool)>>,
    metrics: Metrics,
}

impl AppState {
    /// Loads clients, keys and revocations from an opened (initialised) store.
    pub async fn new(store: Arc<dyn Store>, config: Config, clock: Arc<dyn Clock>) -> Result<AppState, StoreError> {
        let keyring = sync::load_keyring(&*store, &config.issuer).await?;
        let metrics = Metrics::new();
        let shared = match &config.shared_limits {
            Some(shared) => Shared::connect(shared, metrics.rate_limit_fallbacks.clone()).await,
            None => None,
        };
        let state = AppState(Arc::new(Inner {
            region_header: HeaderValue::from_str(&config.region).ok(),
            auth: Arc::new(AuthSnapshot::new(clock.clone(), keyring)),
            throttles: Arc::new(Throttles::new(config.limits, shared.as_ref(), clock.clone())),
            caches: Arc::new(Caches::new(
                store.clone(),
                clock.clone(),
                metrics.host_cache_loads.clone(),
                metrics.entity_cache_loads.clone(),
            )),
            queues: Arc::new(WriteBehind::default()),
            readiness: tokio::sync::Mutex::new(None),
            metrics,
            sync: tokio::sync::Mutex::new(sync::SyncMark::before_any_store()),
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

    pub fn auth(&self) -> &AuthSnapshot {
        &self.0.auth
    }

    pub fn throttles(&self) -> &Throttles {
        &self.0.throttles
    }

    pub fn caches(&self) -> &Caches {
        &self.0.caches
    }

    pub fn queues(&self) -> &WriteBehind {
        &self.0.queues
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

    /// Revokes a token: persisted first, then refused on this node at once.
    pub async fn revoke(&self, jti: &str, client_id: &ClientId, expires_at: i64) -> Result<(), StoreError> {
        self.0.store.revoke_token(jti, client_id, expires_at, self.now()).await?;
        self.0.auth.deny(jti.to_owned(), expires_at);
        Ok(())
    }

    /// Counts a failed authentication (the metric, the throttles) and queues the audit entries of the
    /// bursts it starts.
    pub async fn record_auth_failure(&self, ip: IpAddr, client_id: &str) {
        self.0.metrics.auth_failures.inc();
        for entry in self.0.throttles.record_auth_failure(ip, client_id).await {
            self.0.queues.audit(entry);
        }
    }
}

impl FromRef<AppState> for Arc<AuthSnapshot> {
    fn from_ref(state: &AppState) -> Arc<AuthSnapshot> {
        state.0.auth.clone()
    }
}

impl FromRef<AppState> for Arc<Throttles> {
    fn from_ref(state: &AppState) -> Arc<Throttles> {
        state.0.throttles.clone()
    }
}

impl FromRef<AppState> for Arc<Caches> {
    fn from_ref(state: &AppState) -> Arc<Caches> {
        state.0.caches.clone()
    }
}

impl FromRef<AppState> for Arc<WriteBehind> {
    fn from_ref(state: &AppState) -> Arc<WriteBehind> {
        state.0.queues.clone()
    }
}

/// Swaps in `change(current)` unless it answers `None`, again from the new current value when another
/// writer swapped first: a lock-free update of a snapshot that never loses a concurrent one.
fn swap_if<T>(slot: &ArcSwap<T>, change: impl Fn(&T) -> Option<T>) {
    let mut current = slot.load_full();
    loop {
        let Some(next) = change(&current) else { return };
        let previous = slot.compare_and_swap(&current, Arc::new(next));
        if Arc::ptr_eq(&previous, &current) {
            return;
        }
        current = arc_swap::Guard::into_inner(previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_swaps_lose_no_update() {
        let slot = Arc::new(ArcSwap::from_pointee(imbl::HashSet::<u32>::new()));
        let writers: Vec<_> = (0..4u32)
            .map(|w| {
                let slot = slot.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        swap_if(&slot, |set| {
                            let mut next = set.clone();
                            next.insert(w * 1000 + i);
                            Some(next)
                        });
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().expect("a writer");
        }
        assert_eq!(slot.load().len(), 2000, "every writer's every insert is in the final snapshot");
    }

    #[test]
    fn a_declined_change_swaps_nothing() {
        let slot = ArcSwap::from_pointee(1);
        let before = slot.load_full();
        swap_if(&slot, |_| None);
        assert!(Arc::ptr_eq(&before, &slot.load_full()));
        swap_if(&slot, |n| Some(n + 1));
        assert_eq!(**slot.load(), 2);
    }
}
