//! How a node stays in step with the store: the refresh loop's round ([`AppState::refresh`]) reads
//! revocations, then what the change counters say moved (clients as a delta, keys, hosts per customer,
//! records, new customers to seed), prunes, and writes out the write-behind queues; an admin change this
//! node made is applied at once ([`AppState::catch_up_clients`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use talon_auth::{CustomerId, Keyring};
use talon_emulator::{alerts, demo};
use talon_store::{ChangeVersion, EntityCap, OnExisting, RevocationCursor, Store, StoreError, StoredEntity};

use super::AppState;

/// How often expired revocations are deleted from the store.
const PRUNE_EVERY_SECS: i64 = 60;

/// How far this node has read the store's changes.
#[derive(Default)]
pub(super) struct SyncMark {
    version: ChangeVersion,
    /// The client sequence this node's snapshot of the clients is current to (see `Store::client_changes`).
    client_seq: i64,
    /// The customers whose demo data this node has seen to (each is looked at once per node).
    customers_seen: HashSet<CustomerId>,
    /// Each customer's hosts version as of the last refresh (see `Store::host_versions`).
    host_versions: HashMap<CustomerId, i64>,
    revocations: RevocationCursor,
    last_prune: i64,
}

impl SyncMark {
    /// Versions no store has, so the first refresh loads everything.
    pub(super) fn before_any_store() -> SyncMark {
        SyncMark {
            version: ChangeVersion { clients: -1, customers: -1, keys: -1, hosts: -1, entities: -1 },
            client_seq: talon_store::clients::FROM_THE_START,
            ..SyncMark::default()
        }
    }
}

pub(super) async fn load_keyring(store: &dyn Store, issuer: &str) -> Result<Keyring, StoreError> {
    let keys = store.signing_keys().await?;
    Keyring::new(issuer, &keys).ok_or_else(|| StoreError::Corrupt("the store holds no signing key".into()))
}

impl AppState {
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
        let seq = delta.seq;
        self.0.auth.apply(delta);
        mark.client_seq = seq;
        Ok(())
    }

    /// Writes the write-behind queues to the store (what fails stays queued for the next round).
    pub async fn flush_queues(&self) -> Result<(), StoreError> {
        let last_used = self.0.queues.flush_last_used(&*self.0.store).await;
        self.0.queues.flush_audit(&*self.0.store).await?;
        last_used
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
                    inner.auth.deny(r.jti, r.expires_at);
                }
                mark.revocations = cursor;
            }
            Err(e) => note(Err(e)),
        }
        inner.auth.prune(now);

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
                            inner.auth.replace_keyring(keyring);
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
                            inner.caches.forget_hosts_of(&moved);
                            mark.host_versions = versions.into_iter().collect();
                            mark.version.hosts = version.hosts;
                        }
                        Err(e) => note(Err(e)),
                    }
                }
                if version.entities != mark.version.entities {
                    inner.caches.forget_entities(None);
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
        note(self.flush_queues().await);
        first_error.map_or(Ok(()), Err)
    }

    /// Seeds a new customer's demo hosts and their alerts (`talon_emulator::alerts::demo`, kept by the
    /// generic engine), and the alerts of a customer seeded before alerts were (a store of an earlier
    /// version). Each customer is looked at once per node: a new customer costs its own queries, not
    /// two per customer there is.
    async fn seed_demo_hosts(&self, mark: &mut SyncMark) -> Result<(), StoreError> {
        let store: &Arc<dyn Store> = &self.0.store;
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
            self.0.caches.forget_entities(Some((&cid, alerts::RESOURCE)));
            mark.customers_seen.insert(cid);
        }
        Ok(())
    }
}
