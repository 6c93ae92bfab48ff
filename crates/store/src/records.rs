//! Rows as both backends store them, and their conversion to and from domain values. One place for it, so
//! SQLite and PostgreSQL cannot drift apart in how they encode a client or a host.

use std::str::FromStr;

use ipnet::IpNet;
use talon_auth::{ApiClient, ClientId, CustomerId, SecretDigest};
use talon_emulator::policy::{PolicySetting, Severity};
use talon_emulator::Host;
use talon_wire::device::Device;
use talon_wire::ScopeSet;

use crate::{Result, StoreError};

/// Each customer's host version (see the `host_versions` migration); the same text on both backends.
pub(crate) const SELECT_HOST_VERSIONS: &str = "SELECT cid, version FROM host_versions";

/// `host_versions` rows as customer IDs and versions.
pub(crate) fn host_versions(rows: Vec<(String, i64)>) -> Result<Vec<(CustomerId, i64)>> {
    rows.into_iter()
        .map(|(cid, version)| {
            let cid = CustomerId::parse(&cid).map_err(|_| StoreError::Corrupt(format!("host version of {cid:?}")))?;
            Ok((cid, version))
        })
        .collect()
}

/// An `api_clients` row.
#[derive(sqlx::FromRow)]
pub(crate) struct ClientRecord {
    client_id: String,
    name: String,
    description: String,
    scopes: String,
    cid: String,
    member_cids: String,
    allowed_ips: String,
    enabled: bool,
    secret_digest: Vec<u8>,
    created_at: i64,
    updated_at: i64,
    last_used_at: Option<i64>,
    tokens_not_before: i64,
    /// The sequence of the row's last change (see the `client_sequence` migration).
    pub change_seq: i64,
}

impl ClientRecord {
    pub(crate) fn into_client(self) -> Result<ApiClient> {
        let id = self.client_id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {id}: {what}"));
        let scopes = parse_json_list(&self.scopes, "scopes", |s| Some(s.to_owned()))?;
        Ok(ApiClient {
            scopes: ScopeSet::parse_all(scopes).map_err(|e| corrupt(&e.to_string()))?,
            cid: CustomerId::parse(&self.cid).map_err(|_| corrupt("cid"))?,
            member_cids: parse_json_list(&self.member_cids, "member_cids", |s| CustomerId::parse(s).ok())?,
            allowed_ips: parse_json_list(&self.allowed_ips, "allowed_ips", |s| IpNet::from_str(s).ok())?,
            secret_digest: SecretDigest::from_bytes(&self.secret_digest).ok_or_else(|| corrupt("secret_digest"))?,
            id: ClientId::parse(&id).map_err(|_| corrupt("client_id"))?,
            name: self.name,
            description: self.description,
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            tokens_not_before: self.tokens_not_before,
        })
    }
}

/// The list columns of a client, encoded for binding.
pub(crate) struct ClientLists {
    pub scopes: String,
    pub member_cids: String,
    pub allowed_ips: String,
}

impl ClientLists {
    pub(crate) fn of(client: &ApiClient) -> ClientLists {
        ClientLists {
            scopes: json_list(client.scopes.iter()),
            member_cids: json_list(&client.member_cids),
            allowed_ips: json_list(&client.allowed_ips),
        }
    }
}

/// A `hosts` row: the record as JSON (talon-wire's `Device`, every field of it), and what is not part of
/// the record.
#[derive(sqlx::FromRow)]
pub(crate) struct HostRecord {
    device_id: String,
    cid: String,
    hidden: bool,
    record: String,
}

impl HostRecord {
    pub(crate) fn into_host(self) -> Result<Host> {
        let id = self.device_id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("host {id}: {what}"));
        let cid = CustomerId::parse(&self.cid).map_err(|_| corrupt("cid"))?;
        let mut record: Device = serde_json::from_str(&self.record).map_err(|e| corrupt(&format!("record: {e}")))?;
        record.device_id.clone_from(&id);
        Ok(Host::new(cid, record, self.hidden))
    }
}

/// A host's record as the `record` column holds it.
pub(crate) fn host_record_json(host: &Host) -> String {
    // A record of strings, lists and maps of strings always serializes.
    serde_json::to_string(host.record()).expect("a device record serializes")
}

/// A `policy_settings` row.
#[derive(sqlx::FromRow)]
pub(crate) struct PolicyRecord {
    policy_id: i64,
    enabled: bool,
    severity: String,
    regions: String,
    tag_excluded: bool,
}

impl PolicyRecord {
    pub(crate) fn into_setting(self) -> Result<PolicySetting> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("policy setting {}: {what}", self.policy_id));
        Ok(PolicySetting {
            policy_id: u32::try_from(self.policy_id).map_err(|_| corrupt("policy_id"))?,
            enabled: self.enabled,
            severity: Severity::parse(&self.severity).ok_or_else(|| corrupt("severity"))?,
            regions: parse_json_list(&self.regions, "regions", |s| Some(s.to_owned()))?,
            tag_excluded: self.tag_excluded,
        })
    }
}

/// An `audit_log` row.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditRecord {
    id: String,
    at: i64,
    actor: String,
    action: String,
    target: Option<String>,
    source_ip: String,
    trace_id: String,
    details: String,
}

impl From<AuditRecord> for crate::AuditEntry {
    fn from(r: AuditRecord) -> crate::AuditEntry {
        crate::AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            source_ip: r.source_ip,
            trace_id: r.trace_id,
            details: r.details,
        }
    }
}

/// The columns an audit page selects, newest first (`seq` orders entries of the same second).
pub(crate) const AUDIT_COLUMNS: &str = "id, at, actor, action, target, source_ip, trace_id, details";

/// A page bound as SQL takes it: both backends bind `LIMIT`/`OFFSET` as signed 64-bit integers.
pub(crate) fn page_bounds(offset: u64, limit: u64) -> (i64, i64) {
    (i64::try_from(offset).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX))
}

/// A revocation row as the domain reads it.
pub(crate) fn revocation(jti: String, client_id: &str, expires_at: i64) -> Result<crate::Revocation> {
    let client_id =
        ClientId::parse(client_id).map_err(|_| StoreError::Corrupt(format!("revocation {jti}: client_id")))?;
    Ok(crate::Revocation { jti, client_id, expires_at })
}

/// The IDs of `wanted` that are not among `found`.
pub(crate) fn missing_ids(wanted: &[&String], found: &[Host]) -> Vec<String> {
    wanted.iter().filter(|id| !found.iter().any(|h| h.device_id() == id.as_str())).map(|id| (*id).clone()).collect()
}

pub(crate) fn json_list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    serde_json::Value::from(items).to_string()
}

fn parse_json_list<T>(raw: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    let items: Vec<String> =
        serde_json::from_str(raw).map_err(|_| StoreError::Corrupt(format!("{what} is not a JSON list")))?;
    items.iter().map(|s| parse(s).ok_or_else(|| StoreError::Corrupt(format!("{what} holds {s:?}")))).collect()
}

/// A `host_groups` row's record column: the group and its members as JSON.
pub(crate) fn group_record_json(group: &crate::StoredGroup) -> String {
    // A record of strings always serializes.
    serde_json::to_string(group).expect("a host group serializes")
}

/// A `host_groups` row's record, read back.
pub(crate) fn group_from_json(id: &str, record: &str) -> Result<crate::StoredGroup> {
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt(format!("host group {id}: {e}")))
}

/// The IDs of `wanted` (sorted, deduplicated) that `found` lacks.
pub(crate) fn missing_groups(wanted: &[&String], found: &[crate::StoredGroup]) -> Vec<String> {
    wanted.iter().filter(|id| !found.iter().any(|g| &g.group.id == **id)).map(|id| (*id).clone()).collect()
}
