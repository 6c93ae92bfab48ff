//! What the store keeps for the generic engine (`talon_emulator::generic`): JSON records per customer and
//! resource, in creation order, changed all or nothing. The rules (what a body asks, how a change
//! merges) are the emulator's; the store checks only what needs the stored rows: that the named IDs
//! exist, that a new ID is free, and that a resource stays within its bound.

use serde_json::{Map, Value};

/// One stored record: its ID and the JSON object the API shows (which holds the ID too).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntity {
    pub id: String,
    pub record: Map<String, Value>,
}

impl StoredEntity {
    pub(crate) fn from_row(id: String, record: &str) -> crate::Result<StoredEntity> {
        match serde_json::from_str::<Value>(record) {
            Ok(Value::Object(record)) => Ok(StoredEntity { id, record }),
            _ => Err(crate::StoreError::Corrupt(format!("record of entity {id} is not a JSON object"))),
        }
    }

    /// The length of the record's JSON text, as stored.
    pub fn record_len(&self) -> usize {
        serde_json::to_vec(&self.record).map_or(usize::MAX, |v| v.len())
    }

    pub(crate) fn record_json(&self) -> String {
        Value::Object(self.record.clone()).to_string()
    }
}

/// How a write of new records treats an ID the resource has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// Refuse the whole write (a create).
    Refuse,
    /// Replace the stored record (fixtures).
    Replace,
}

/// Why a change of records wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityRefusal {
    #[error("no such record: {}", .0.join(", "))]
    Unknown(Vec<String>),
    #[error("a record with ID {0:?} exists already")]
    Taken(String),
    #[error("{0}")]
    Refused(String),
    #[error("the resource holds at most {} records and {} bytes of JSON per customer", .0.records, .0.bytes)]
    Full(EntityCap),
}

/// How much one customer's resource may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityCap {
    pub records: u64,
    pub bytes: u64,
}

impl EntityCap {
    /// No bound (a copy between stores moves what the source holds).
    pub const NONE: EntityCap = EntityCap { records: u64::MAX, bytes: u64::MAX };
}

/// What one customer's resource may hold, however it is written (the API, fixtures): bounds what a query
/// reads, parses, caches and sorts.
pub const RESOURCE_CAP: EntityCap = EntityCap { records: 10_000, bytes: 16 * 1024 * 1024 };

/// A change to one record made inside the store's transaction (see `Store::edit_entities`); an `Err`
/// (the record it would make is refused, say too large) refuses the whole change.
pub type EntityEdit<'a> = dyn Fn(&mut StoredEntity) -> Result<(), String> + Send + Sync + 'a;

/// `found`, when it holds every ID of `wanted`; else the refusal naming those it lacks.
pub(crate) fn all_found(wanted: &[String], found: Vec<StoredEntity>) -> Result<Vec<StoredEntity>, EntityRefusal> {
    let missing = missing(wanted, &found);
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(EntityRefusal::Unknown(missing))
    }
}

/// Whether a resource holding `count` records of `bytes` of JSON is within `cap`.
pub(crate) fn within(cap: EntityCap, (count, bytes): (i64, i64)) -> bool {
    count as u64 <= cap.records && bytes as u64 <= cap.bytes
}

/// The IDs of `wanted` (deduplicated) that `found` lacks, in `wanted`'s order.
fn missing(wanted: &[String], found: &[StoredEntity]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    wanted.iter().filter(|id| seen.insert(id.as_str()) && !found.iter().any(|e| &e.id == *id)).cloned().collect()
}

/// The SQL both backends run (sqlx's SQLite driver takes `$N` placeholders as PostgreSQL does).
pub(crate) mod sql {
    pub const LIST: &str = "SELECT id, record FROM entities WHERE cid = $1 AND resource = $2 ORDER BY seq";
    pub const RESOURCES: &str = "SELECT DISTINCT resource FROM entities WHERE cid = $1 ORDER BY resource";
    pub const COUNT: &str =
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(record)), 0) FROM entities WHERE cid = $1 AND resource = $2";
    pub const INSERT: &str = "INSERT INTO entities (cid, resource, id, record) VALUES ($1, $2, $3, $4)";
    pub const UPSERT: &str = "INSERT INTO entities (cid, resource, id, record) VALUES ($1, $2, $3, $4) \
                              ON CONFLICT (cid, resource, id) DO UPDATE SET record = excluded.record";
    pub const UPDATE: &str = "UPDATE entities SET record = $1 WHERE cid = $2 AND resource = $3 AND id = $4";
    pub const DELETE: &str = "DELETE FROM entities WHERE cid = $1 AND resource = $2 AND id = $3";
}
