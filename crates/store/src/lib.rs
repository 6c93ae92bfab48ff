//! talon-store: where Talon keeps API clients, customers, signing keys, revocations and hosts.
//!
//! [`Store`] is the one interface the server and the CLI use. [`open`] picks the implementation from the
//! database URL: `sqlite://PATH` (the embedded default; the file is created if missing) or
//! `postgres://...` (many nodes on one database). Opening a store initialises it: migrations, the default
//! customer and a signing key, whichever process comes first.

pub mod admin;
mod audit;
pub mod clients;
mod customers;
pub mod entities;
mod feed;
pub mod fixtures;
mod groups;
mod hosts;
mod keys;
mod policies;
mod postgres;
mod records;
mod revocations;
mod sql;
mod sqlite;

use talon_auth::{ApiClient, ClientId, CustomerId};
use talon_emulator::Host;

pub use audit::AuditStore;
pub use clients::{ClientDelta, ClientPage, ClientQuery, ClientSort, ClientStore, SeekPosition, SortKey};
pub use customers::CustomerStore;
pub use entities::{EntityCap, EntityEdit, EntityRefusal, EntityStore, OnExisting, StoredEntity, RESOURCE_CAP};
pub use feed::ChangeFeed;
pub use groups::GroupStore;
pub use hosts::HostStore;
pub use keys::KeyStore;
pub use policies::PolicyStore;
pub use postgres::PostgresStore;
pub use revocations::RevocationStore;
pub use sql::SqlStore;
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

/// A change to a client made inside the store's transaction (see [`ClientStore::modify_client_audited`]).
pub type ClientChange<'a> = dyn Fn(&mut ApiClient) + Send + Sync + 'a;

/// Everything Talon stores, one trait per aggregate. Implementations must be safe to use from several
/// processes at once. A `dyn Store` answers every aggregate's methods; a concrete store needs the
/// aggregate's trait in scope.
pub trait Store:
    CustomerStore
    + ClientStore
    + KeyStore
    + RevocationStore
    + AuditStore
    + HostStore
    + GroupStore
    + PolicyStore
    + EntityStore
    + ChangeFeed
{
}

impl<T> Store for T where
    T: CustomerStore
        + ClientStore
        + KeyStore
        + RevocationStore
        + AuditStore
        + HostStore
        + GroupStore
        + PolicyStore
        + EntityStore
        + ChangeFeed
{
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

/// A change to a host group made inside the store's transaction (see [`GroupStore::edit_host_groups`]); an
/// `Err` refuses the whole change.
pub type GroupEdit<'a> = dyn Fn(&mut StoredGroup) -> Result<(), String> + Send + Sync + 'a;

/// A change to a host made inside the store's transaction (see [`HostStore::edit_hosts`]).
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
