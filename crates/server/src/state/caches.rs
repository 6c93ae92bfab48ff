//! What a node keeps of the store in memory for the emulated API: each customer's hosts (with their
//! groups and listing pages) and the generic engine's records per customer and resource. Both are
//! snapshots swapped with arc-swap; a drop moves a generation, so that a load which raced with it does
//! not put stale data back.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use prometheus::IntCounter;
use serde_json::value::RawValue;
use talon_auth::{Clock, CustomerId};
use talon_emulator::groups::Group;
use talon_emulator::{Host, HostIndex};
use talon_store::{Store, StoreError, StoredEntity};

use super::swap_if;

type SharedMap<K, V> = imbl::GenericHashMap<K, V, foldhash::fast::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

#[derive(Clone, Default)]
struct HostCache {
    /// Grows on every drop, so that a load which raced with a drop does not put stale hosts back.
    generation: u64,
    by_customer: SharedMap<CustomerId, Arc<CustomerHosts>>,
}

#[derive(Clone, Default)]
struct EntityCache {
    /// Grows on every drop, as [`HostCache::generation`].
    generation: u64,
    /// Each resource's records and their JSON text size.
    by_resource: SharedMap<(CustomerId, String), CachedRecords>,
    /// The JSON text size of all that is cached.
    bytes: usize,
}

/// A resource's records as cached, with their JSON text size.
type CachedRecords = (Arc<Vec<StoredEntity>>, usize);

/// Most the record cache holds (over all customers and resources), as JSON text, and most resources:
/// past either it starts again from empty (loads are rare: every write drops only its resource).
const MAX_CACHED_BYTES: usize = 256 * 1024 * 1024;
const MAX_CACHED_RESOURCES: usize = 1024;

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
        if let Some(page) = self.pages.lock().get(&(offset, limit)) {
            return page.clone();
        }
        let page = make();
        let mut pages = self.pages.lock();
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

pub struct Caches {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Each customer's hosts, loaded on first use, dropped when the customer's hosts version in the store
    /// moves (any node's action or seeding) and by this node's own actions at once.
    hosts: ArcSwap<HostCache>,
    /// The generic engine's records per customer and resource, loaded on first use, all dropped when the
    /// store's entities counter moves (another node's write, `talon fixtures load`), and a resource's by
    /// this node's own writes at once.
    entities: ArcSwap<EntityCache>,
    host_loads: IntCounter,
    entity_loads: IntCounter,
}

impl Caches {
    /// Empty caches over `store`; `host_loads` and `entity_loads` count the loads.
    pub(super) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        host_loads: IntCounter,
        entity_loads: IntCounter,
    ) -> Caches {
        Caches {
            store,
            clock,
            hosts: ArcSwap::from_pointee(HostCache::default()),
            entities: ArcSwap::from_pointee(EntityCache::default()),
            host_loads,
            entity_loads,
        }
    }

    /// The hosts of `cid`, from memory when this node has them.
    pub async fn customer_hosts(&self, cid: &CustomerId) -> Result<Arc<CustomerHosts>, StoreError> {
        let generation = {
            let cache = self.hosts.load();
            if let Some(hosts) = cache.by_customer.get(cid) {
                return Ok(hosts.clone());
            }
            cache.generation
        };
        let now = self.clock.now();
        let groups = self.store.host_groups(cid).await?;
        let groups = groups
            .into_iter()
            .map(|g| {
                let id = g.group.id.clone();
                Group::restore(cid.clone(), g.group, g.members, now)
                    .map_err(|e| StoreError::Corrupt(format!("host group {id}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let hosts = Arc::new(CustomerHosts::new(self.store.customer_hosts(cid).await?, groups));
        self.host_loads.inc();
        swap_if(&self.hosts, |cache| {
            (cache.generation == generation).then(|| {
                let mut next = cache.clone();
                next.by_customer.insert(cid.clone(), hosts.clone());
                next
            })
        });
        Ok(hosts)
    }

    /// The generic engine's records of `cid`'s `resource`, from memory when this node has them.
    pub async fn entities(&self, cid: &CustomerId, resource: &str) -> Result<Arc<Vec<StoredEntity>>, StoreError> {
        let key = (cid.clone(), resource.to_owned());
        let generation = {
            let cache = self.entities.load();
            if let Some((records, _)) = cache.by_resource.get(&key) {
                return Ok(records.clone());
            }
            cache.generation
        };
        let records = Arc::new(self.store.entities(cid, resource).await?);
        self.entity_loads.inc();
        let size: usize = records.iter().map(StoredEntity::record_len).sum();
        swap_if(&self.entities, |cache| {
            if cache.generation != generation || size > MAX_CACHED_BYTES {
                return None;
            }
            let mut next = if cache.by_resource.len() >= MAX_CACHED_RESOURCES || cache.bytes + size > MAX_CACHED_BYTES {
                EntityCache { generation: cache.generation, ..EntityCache::default() }
            } else {
                cache.clone()
            };
            next.bytes += size;
            if let Some((_, replaced)) = next.by_resource.insert(key.clone(), (records.clone(), size)) {
                next.bytes = next.bytes.saturating_sub(replaced);
            }
            Some(next)
        });
        Ok(records)
    }

    /// Drops this node's cached records of `cid`'s `resource` (after it wrote some); `None`: of every
    /// resource (the store says some moved).
    pub fn forget_entities(&self, resource: Option<(&CustomerId, &str)>) {
        swap_if(&self.entities, |cache| {
            let generation = cache.generation + 1;
            Some(match resource {
                Some((cid, resource)) => {
                    let mut next = EntityCache { generation, ..cache.clone() };
                    if let Some((_, size)) = next.by_resource.remove(&(cid.clone(), resource.to_owned())) {
                        next.bytes = next.bytes.saturating_sub(size);
                    }
                    next
                }
                None => EntityCache { generation, ..EntityCache::default() },
            })
        });
    }

    /// Drops the cached hosts of these customers: after this node changed some, or the store says they
    /// changed. Other customers' caches stay.
    pub fn forget_hosts_of(&self, customers: &[CustomerId]) {
        // Any drop moves the generation, so a load that raced with it is not cached (it may be stale).
        swap_if(&self.hosts, |cache| {
            let mut next = HostCache { generation: cache.generation + 1, ..cache.clone() };
            for cid in customers {
                next.by_customer.remove(cid);
            }
            Some(next)
        });
    }
}
