//! talon-store: where Talon keeps API clients, customers, signing keys, revocations and hosts.
//!
//! [`Store`] is the one interface the server and the CLI use. [`open`] picks the implementation from the
//! database URL: `sqlite://PATH` (the embedded default; the file is created if missing) or
//! `postgres://...` (many nodes on one database). Opening a store initialises it: migrations, the default
//! customer and a signing key, whichever process comes first.

pub mod admin;
pub mod clients;
pub mod entities;
pub mod fixtures;
mod postgres;
mod records;
mod sqlite;

use async_trait::async_trait;
use talon_auth::{ApiClient, ClientId, CustomerId, SigningKey};
use talon_emulator::policy::{PolicyChange, PolicyError, PolicySetting};
use talon_emulator::{DeviceAction, Host, HostAction};

pub use clients::{ClientDelta, ClientPage, ClientQuery, ClientSort, SeekPosition, SortKey};
pub use entities::{EntityCap, EntityEdit, EntityRefusal, OnExisting, StoredEntity, RESOURCE_CAP};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A store failure. Messages name what failed, never a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL: use sqlite://PATH or postgres://...")]
    UnsupportedUrl,
    #[error("client {0} already exists")]
    ClientExists(ClientId),
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store with clients cannot take another store's default customer.
pub(crate) const ADOPT_CONFLICT: &str =
    "the target already has API clients under another default customer: copy into an empty database";

/// Counters that grow whenever clients or customers change, in any process using the same database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeVersion {
    pub clients: i64,
    pub customers: i64,
    pub keys: i64,
    pub hosts: i64,
    /// The generic engine's records (any customer, any resource).
    pub entities: i64,
}

impl ChangeVersion {
    /// Reads the `change_counters` rows; unknown names are ignored.
    pub(crate) fn from_counters(rows: Vec<(String, i64)>) -> ChangeVersion {
        let mut version = ChangeVersion::default();
        for (name, value) in rows {
            match name.as_str() {
                "clients" => version.clients = value,
                "customers" => version.customers = value,
                "keys" => version.keys = value,
                "hosts" => version.hosts = value,
                "entities" => version.entities = value,
                _ => {}
            }
        }
        version
    }
}

/// A revoked token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub jti: String,
    pub client_id: ClientId,
    pub expires_at: i64,
}

/// One entry of the audit log (see `migrations/*/0002_audit_log.sql`). Callers must never put a secret in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unique (a UUID): copying a store twice does not duplicate entries.
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub source_ip: String,
    pub trace_id: String,
    pub details: String,
}

impl AuditEntry {
    /// The entry as the admin API and the CLI's `--json` show it.
    pub fn view(self) -> talon_wire::admin::AuditEntryView {
        talon_wire::admin::AuditEntryView {
            id: self.id,
            at: self.at,
            actor: self.actor,
            action: self.action,
            target: self.target,
            source_ip: self.source_ip,
            trace_id: self.trace_id,
            details: self.details,
        }
    }
}

/// Where a reader of revocations has got to. Opaque: its meaning is the backend's. Start from `default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationCursor(pub(crate) i64);

/// Hosts an action could not reach: unknown to the customer (or hidden, for actions other than unhide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHosts(pub Vec<String>);

/// Everything Talon stores. Implementations must be safe to use from several processes at once.
/// A change to a client made inside the store's transaction (see [`Store::modify_client_audited`]).
pub type ClientChange<'a> = dyn Fn(&mut ApiClient) + Send + Sync + 'a;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The customer created on first start.
    async fn default_customer(&self) -> Result<CustomerId>;
    /// Every customer: the default one and each CID a client names.
    async fn customers(&self) -> Result<Vec<CustomerId>>;
    /// Makes `cid` the default customer (when moving a store). Refused when clients already belong to
    /// another default customer; a no-op when `cid` is the default already.
    async fn adopt_default_customer(&self, cid: &CustomerId, now: i64) -> Result<()>;

    /// Stores a new client; its CID and member CIDs become customers.
    async fn create_client(&self, client: &ApiClient) -> Result<()> {
        self.create_client_audited(client, None).await
    }
    /// Stores `client` only if there is no client at all; says whether it did. Race-free across processes.
    async fn create_first_client(&self, client: &ApiClient) -> Result<bool>;
    /// Creates clients with their audit entries in one transaction: all, or none (a taken ID is
    /// `StoreError::ClientExists`). For `talon clients import`.
    async fn create_clients_audited(&self, clients: &[(ApiClient, AuditEntry)]) -> Result<()>;
    async fn client(&self, id: &ClientId) -> Result<Option<ApiClient>>;
    async fn clients(&self) -> Result<Vec<ApiClient>>;
    /// The clients inserted or changed and the IDs deleted after sequence `since`
    /// ([`clients::FROM_THE_START`]: every client), read in one snapshot, with the sequence to ask from
    /// next: what a node applies to its snapshot of the clients, at a cost of the rows changed.
    async fn client_changes(&self, since: i64) -> Result<ClientDelta>;
    /// A page of the admin listing: filters, order and paging done by the database.
    async fn client_page(&self, query: &ClientQuery) -> Result<ClientPage>;
    /// Writes every field of an existing client except its secret; `tokens_not_before` only ever moves
    /// forward, so an update from an older copy cannot revive tokens a reset ended. False when there is
    /// no client with that ID.
    async fn update_client(&self, client: &ApiClient) -> Result<bool> {
        self.update_client_audited(client, None).await
    }
    /// Replaces a client's secret digest and `tokens_not_before` (nothing else, so a concurrent update
    /// cannot undo a reset); false when there is no such client.
    async fn set_secret(&self, client: &ApiClient) -> Result<bool> {
        self.set_secret_audited(client, None).await
    }
    async fn delete_client(&self, id: &ClientId) -> Result<bool> {
        self.delete_client_audited(id, None).await
    }

    // The same writes with their audit entry, in one transaction: the change and its entry are stored
    // together or not at all (an entry is written only when the change happened).
    async fn create_client_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<()>;
    async fn update_client_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Reads client `id`, lets `change` alter it and writes it back (as [`Store::update_client`] would)
    /// with `audit`, in one transaction that holds the row (SQLite's write lock, PostgreSQL's `FOR
    /// UPDATE`): of two concurrent changes to one client, each sees the other's, so neither is lost.
    /// Answers the client as written, or `None` when there is no such client (nothing written).
    async fn modify_client_audited(
        &self,
        id: &ClientId,
        change: &ClientChange<'_>,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<ApiClient>>;
    async fn set_secret_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool>;
    async fn delete_client_audited(&self, id: &ClientId, audit: Option<&AuditEntry>) -> Result<bool>;
    /// Records when clients last got a token (batched by the server; not a change of the clients).
    async fn record_last_used(&self, uses: &[(ClientId, i64)]) -> Result<()>;
    /// Brings the database's planner statistics up to date after a bulk load (an import): PostgreSQL
    /// plans by them, and with the statistics of a small table it reads a million clients' changes by a
    /// full scan (admin changes took 150 ms instead of 5 until autovacuum's analyze ran). SQLite picks
    /// the indexes without statistics: nothing to do.
    async fn after_bulk_load(&self) -> Result<()> {
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;
    async fn add_signing_key(&self, key: &SigningKey) -> Result<()>;
    /// Retires a key: it signs no more, and the tokens it signed are refused from `at` on (an earlier
    /// retirement is kept). `false` when no key has this `kid`.
    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<bool>;

    /// Persists a revocation (idempotent per `jti`).
    async fn revoke_token(&self, jti: &str, client_id: &ClientId, expires_at: i64, now: i64) -> Result<()>;
    /// Revocations of unexpired tokens made since `cursor` (some seen before may come again), and the
    /// cursor for the next call. No revocation committed after a call is ever missed by the next one.
    async fn revocations_since(
        &self,
        cursor: RevocationCursor,
        now: i64,
    ) -> Result<(Vec<Revocation>, RevocationCursor)>;
    /// Deletes revocations of tokens that have expired anyway.
    async fn prune_revocations(&self, now: i64) -> Result<u64>;

    async fn change_version(&self) -> Result<ChangeVersion>;

    /// Appends an entry to the audit log; an entry whose ID is there already is left as it is.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()>;
    /// A page of the audit log, newest first, and how many entries it holds in all.
    async fn audit_entries(&self, offset: u64, limit: u64) -> Result<(Vec<AuditEntry>, u64)>;

    /// Signals `changed` whenever another process may have changed the store, for as long as the future
    /// runs. A backend without push notifications never signals (readers then rely on polling).
    async fn watch_changes(&self, changed: std::sync::Arc<tokio::sync::Notify>) {
        let _ = changed;
        std::future::pending::<()>().await
    }

    async fn host_count(&self, cid: &CustomerId) -> Result<u64>;
    /// Each customer's hosts version: it moves with every change of one of the customer's hosts, so a node
    /// drops only the cached hosts that changed.
    async fn host_versions(&self) -> Result<Vec<(CustomerId, i64)>>;
    /// Every host of every customer (when moving a store).
    async fn all_hosts(&self) -> Result<Vec<Host>>;
    async fn insert_hosts(&self, hosts: &[Host]) -> Result<()>;
    /// Every host of `cid`, hidden ones too, in device ID order (queries run over them in memory).
    async fn customer_hosts(&self, cid: &CustomerId) -> Result<Vec<Host>>;
    /// The hosts of `cid` among `ids` (hidden ones too), in device ID order; unknown IDs are left out.
    async fn hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<Host>>;
    /// The CSPM policy settings `cid` has changed (the rest are at their defaults).
    async fn policy_settings(&self, cid: &CustomerId) -> Result<Vec<PolicySetting>>;
    /// Stores these settings of `cid`, all or none.
    async fn save_policy_settings(&self, cid: &CustomerId, settings: &[PolicySetting]) -> Result<()>;
    /// Applies `changes` to `cid`'s settings ([`talon_emulator::policy::apply`]: all of them or none) and saves the result,
    /// read and written in one transaction that excludes every other change of `cid`'s settings, so two
    /// concurrent updates of one policy cannot lose either change. Answers the new settings of the changed
    /// policies, or the rules' refusal (nothing written).
    async fn change_policy_settings(
        &self,
        cid: &CustomerId,
        changes: &[PolicyChange],
    ) -> Result<Result<Vec<PolicySetting>, PolicyError>>;
    /// Applies `edit` to every host of `cid` in `ids` (hidden ones only with `include_hidden`), all or
    /// none, read and written in one transaction that excludes every other change of these hosts.
    /// Answers the changed hosts, or the IDs that are not there (nothing written).
    async fn edit_hosts(
        &self,
        cid: &CustomerId,
        ids: &[String],
        include_hidden: bool,
        edit: &HostEdit<'_>,
    ) -> Result<Result<Vec<Host>, UnknownHosts>>;
    /// Deletes the hosts of `cid` in `ids`; answers the IDs it deleted (unknown ones are left out).
    async fn delete_hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>>;

    /// The host groups of `cid`, by ID.
    async fn host_groups(&self, cid: &CustomerId) -> Result<Vec<StoredGroup>>;
    /// Creates these groups of `cid`, all or none (a name already taken refuses them all).
    async fn create_host_groups(&self, cid: &CustomerId, groups: &[StoredGroup]) -> Result<Result<(), GroupRefusal>>;
    /// Applies `edit` to every group of `cid` in `ids`, all or none, in one transaction that excludes
    /// every other change of them; answers the changed groups.
    async fn edit_host_groups(
        &self,
        cid: &CustomerId,
        ids: &[String],
        edit: &GroupEdit<'_>,
    ) -> Result<Result<Vec<StoredGroup>, GroupRefusal>>;
    /// Deletes the groups of `cid` in `ids`; answers the IDs it deleted.
    async fn delete_host_groups(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>>;

    /// The generic records of `cid`'s `resource`, in creation order.
    async fn entities(&self, cid: &CustomerId, resource: &str) -> Result<Vec<StoredEntity>>;
    /// Writes records of several customers and resources in one transaction, replacing those of the same
    /// ID (fixtures: see [`fixtures::load`]); a resource past `cap` afterwards refuses the whole write.
    async fn put_entity_batches(
        &self,
        batches: &[(CustomerId, String, Vec<StoredEntity>)],
        cap: EntityCap,
    ) -> Result<Result<(), EntityRefusal>>;
    /// The resources `cid` has generic records of.
    async fn entity_resources(&self, cid: &CustomerId) -> Result<Vec<String>>;
    /// The named records of `cid`'s `resource` that exist, in creation order.
    async fn entities_by_id(&self, cid: &CustomerId, resource: &str, ids: &[String]) -> Result<Vec<StoredEntity>>;
    /// Writes new records, all or none: an ID the resource has is refused (or replaced, with
    /// [`OnExisting::Replace`]), and the resource may hold at most `cap` afterwards.
    async fn put_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        records: &[StoredEntity],
        on_existing: OnExisting,
        cap: EntityCap,
    ) -> Result<Result<(), EntityRefusal>>;
    /// Applies `edit` to each named record, all or none (an unknown ID, or an edit refused for one
    /// record, refuses the whole change); the changed records in creation order.
    async fn edit_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        edit: &EntityEdit<'_>,
    ) -> Result<Result<Vec<StoredEntity>, EntityRefusal>>;
    /// Deletes the named records, all or none; their IDs.
    async fn delete_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
    ) -> Result<Result<Vec<String>, EntityRefusal>>;

    /// Applies `action` to every host in `ids` at `now`, all or none.
    async fn apply_host_action(
        &self,
        cid: &CustomerId,
        ids: &[String],
        action: DeviceAction,
        now: i64,
    ) -> Result<Result<(), UnknownHosts>> {
        let applied = self.edit_hosts(cid, ids, action.targets_hidden(), &|host| action.apply(host, now)).await?;
        Ok(applied.map(|_| ()))
    }
}

/// A host group as the store keeps it: its record and, for a static group, its members (see
/// `talon_emulator::groups`, whose rules the server applies before it writes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredGroup {
    pub group: talon_wire::host_group::HostGroup,
    #[serde(default)]
    pub members: Vec<String>,
}

impl StoredGroup {
    /// The lowercased name, unique per customer.
    pub fn name_key(&self) -> String {
        self.group.name.to_lowercase()
    }
}

/// Why a change of host groups wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRefusal {
    #[error("no such host group: {}", .0.join(", "))]
    Unknown(Vec<String>),
    #[error("a host group named {0:?} exists already")]
    NameTaken(String),
    #[error("{0}")]
    Refused(String),
}

/// A change to a host group made inside the store's transaction (see [`Store::edit_host_groups`]); an
/// `Err` refuses the whole change.
pub type GroupEdit<'a> = dyn Fn(&mut StoredGroup) -> Result<(), String> + Send + Sync + 'a;

/// A change to a host made inside the store's transaction (see [`Store::edit_hosts`]).
pub type HostEdit<'a> = dyn Fn(&mut Host) + Send + Sync + 'a;

/// Opens (and initialises, if needed) the store a database URL names.
pub async fn open(url: &str, now: i64) -> Result<std::sync::Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open(url, now).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(PostgresStore::open(url, now).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// What [`copy`] moved: the items the target did not have yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyReport {
    pub customers: usize,
    pub clients: usize,
    pub keys: usize,
    pub revocations: usize,
    pub hosts: usize,
    pub policy_settings: usize,
    pub host_groups: usize,
    pub entities: usize,
    pub audit_entries: usize,
}

/// Copies everything from `from` into `to`: the default customer, customers, clients, signing keys,
/// revocations of unexpired tokens, hosts, changed CSPM policy settings, host groups, the generic engine's
/// records and the audit log (in the order
/// it was written, so the target reads it newest first too). Idempotent: what `to` has already (by ID) is left as it
/// is, so a copy can be re-run, also to finish one that was interrupted. Tokens issued before the copy
/// stay valid afterwards, since the keys that signed them move too.
pub async fn copy(from: &dyn Store, to: &dyn Store, now: i64) -> Result<CopyReport> {
    let mut report = CopyReport::default();
    to.adopt_default_customer(&from.default_customer().await?, now).await?;

    let known_customers = to.customers().await?;
    report.customers = from.customers().await?.iter().filter(|c| !known_customers.contains(c)).count();
    for client in from.clients().await? {
        match to.create_client(&client).await {
            Ok(()) => report.clients += 1,
            Err(StoreError::ClientExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let known_keys: Vec<String> = to.signing_keys().await?.into_iter().map(|k| k.kid).collect();
    for key in from.signing_keys().await? {
        if !known_keys.contains(&key.kid) {
            to.add_signing_key(&key).await?;
            report.keys += 1;
        }
    }
    let (known_revocations, _) = to.revocations_since(RevocationCursor::default(), now).await?;
    let (revocations, _) = from.revocations_since(RevocationCursor::default(), now).await?;
    for r in revocations {
        if !known_revocations.iter().any(|k| k.jti == r.jti) {
            to.revoke_token(&r.jti, &r.client_id, r.expires_at, now).await?;
            report.revocations += 1;
        }
    }
    let hosts = from.all_hosts().await?;
    let before: u64 = count_hosts(to, &hosts).await?;
    to.insert_hosts(&hosts).await?;
    report.hosts = (count_hosts(to, &hosts).await? - before) as usize;
    for cid in from.customers().await? {
        let known = to.policy_settings(&cid).await?;
        let new: Vec<_> = from
            .policy_settings(&cid)
            .await?
            .into_iter()
            .filter(|s| !known.iter().any(|k| k.policy_id == s.policy_id))
            .collect();
        to.save_policy_settings(&cid, &new).await?;
        report.policy_settings += new.len();
    }
    for cid in from.customers().await? {
        let known = to.host_groups(&cid).await?;
        let new: Vec<StoredGroup> = from
            .host_groups(&cid)
            .await?
            .into_iter()
            .filter(|g| !known.iter().any(|k| k.group.id == g.group.id))
            .collect();
        if let Err(refusal) = to.create_host_groups(&cid, &new).await? {
            return Err(StoreError::Conflict(format!("host groups of {cid}: {refusal}")));
        }
        report.host_groups += new.len();
        for resource in from.entity_resources(&cid).await? {
            let known: Vec<String> = to.entities(&cid, &resource).await?.into_iter().map(|e| e.id).collect();
            let new: Vec<StoredEntity> =
                from.entities(&cid, &resource).await?.into_iter().filter(|e| !known.contains(&e.id)).collect();
            if let Err(refusal) = to.put_entities(&cid, &resource, &new, OnExisting::Refuse, EntityCap::NONE).await? {
                return Err(StoreError::Conflict(format!("records of {resource}: {refusal}")));
            }
            report.entities += new.len();
        }
    }
    let (_, known_audit) = to.audit_entries(0, 0).await?;
    let (mut entries, _) = from.audit_entries(0, u64::MAX).await?;
    entries.reverse();
    for entry in &entries {
        to.append_audit(entry).await?;
    }
    let (_, audit_after) = to.audit_entries(0, 0).await?;
    report.audit_entries = (audit_after - known_audit) as usize;
    Ok(report)
}

/// How many hosts `store` has across the customers of `hosts`.
async fn count_hosts(store: &dyn Store, hosts: &[Host]) -> Result<u64> {
    let mut cids: Vec<&CustomerId> = hosts.iter().map(Host::cid).collect();
    cids.sort();
    cids.dedup();
    let mut total = 0;
    for cid in cids {
        total += store.host_count(cid).await?;
    }
    Ok(total)
}

/// A database URL fit for logs and messages: any password in it is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    match path {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact_url("postgres://u:s3cret@db:5432/talon"), "postgres://u:***@db:5432/talon");
        assert_eq!(redact_url("postgres://u@db/talon"), "postgres://u@db/talon");
        assert_eq!(redact_url("sqlite://talon.db"), "sqlite://talon.db");
        assert_eq!(redact_url("postgres://u:p@ss@db"), "postgres://u:***@db");
    }
}
