//! What the store keeps for the generic engine (`talon_emulator::generic`): JSON records per customer and
//! resource, in creation order, changed all or nothing. The rules (what a body asks, how a change
//! merges) are the emulator's; the store checks only what needs the stored rows: that the named IDs
//! exist, that a new ID is free, and that a resource stays within its bound.

use async_trait::async_trait;
use serde_json::{Map, Value};
use talon_auth::CustomerId;

use crate::sql::{is_unique_violation, placeholders, statement, Bound, Dialect, Exclusion, SqlStore, Statement};

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
mod sql {
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

#[async_trait]
pub trait EntityStore: Send + Sync + 'static {
    /// The generic records of `cid`'s `resource`, in creation order.
    async fn entities(&self, cid: &CustomerId, resource: &str) -> crate::Result<Vec<StoredEntity>>;
    /// Writes records of several customers and resources in one transaction, replacing those of the same
    /// ID (fixtures: see [`crate::fixtures::load`]); a resource past `cap` afterwards refuses the whole write.
    async fn put_entity_batches(
        &self,
        batches: &[(CustomerId, String, Vec<StoredEntity>)],
        cap: EntityCap,
    ) -> crate::Result<Result<(), EntityRefusal>>;
    /// The resources `cid` has generic records of.
    async fn entity_resources(&self, cid: &CustomerId) -> crate::Result<Vec<String>>;
    /// The named records of `cid`'s `resource` that exist, in creation order.
    async fn entities_by_id(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
    ) -> crate::Result<Vec<StoredEntity>>;
    /// Writes new records, all or none: an ID the resource has is refused (or replaced, with
    /// [`OnExisting::Replace`]), and the resource may hold at most `cap` afterwards.
    async fn put_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        records: &[StoredEntity],
        on_existing: OnExisting,
        cap: EntityCap,
    ) -> crate::Result<Result<(), EntityRefusal>>;
    /// Applies `edit` to each named record, all or none (an unknown ID, or an edit refused for one
    /// record, refuses the whole change); the changed records in creation order.
    async fn edit_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        edit: &EntityEdit<'_>,
    ) -> crate::Result<Result<Vec<StoredEntity>, EntityRefusal>>;
    /// Deletes the named records, all or none; their IDs.
    async fn delete_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
    ) -> crate::Result<Result<Vec<String>, EntityRefusal>>;
}

/// One record's write: `sql` (one of [`sql`]'s, binding customer, resource, ID and record in that order).
fn write_record<'s>(sql: &'s str, cid: &CustomerId, resource: &str, entity: &StoredEntity) -> Statement<'s> {
    statement(sql).bind(cid).bind(resource).bind(&entity.id).bind(entity.record_json())
}

impl<DB: Dialect> SqlStore<DB> {
    /// The named records that exist, in creation order; `lock` ends the statement.
    async fn select_entities(
        conn: &mut DB::Connection,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        lock: &str,
    ) -> crate::Result<Vec<StoredEntity>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, record FROM entities WHERE cid = $1 AND resource = $2 AND id IN ({}) ORDER BY seq{lock}",
            placeholders(3, ids.len())
        );
        let mut binds = vec![Bound::from(cid), Bound::from(resource)];
        binds.extend(ids.iter().map(Bound::from));
        let rows: Vec<(String, String)> = Statement::with_binds(sql, binds).fetch_all::<DB, _>(conn).await?;
        rows.into_iter().map(|(id, record)| StoredEntity::from_row(id, &record)).collect()
    }

    /// Whether `cid`'s `resource` is within `cap`, in the caller's transaction.
    async fn entities_within(
        conn: &mut DB::Connection,
        cid: &CustomerId,
        resource: &str,
        cap: EntityCap,
    ) -> crate::Result<bool> {
        let held = statement(sql::COUNT).bind(cid).bind(resource).fetch_one::<DB, (i64, i64)>(conn).await?;
        Ok(within(cap, held))
    }
}

#[async_trait]
impl<DB: Dialect> EntityStore for SqlStore<DB> {
    async fn entities(&self, cid: &CustomerId, resource: &str) -> crate::Result<Vec<StoredEntity>> {
        let rows: Vec<(String, String)> = self.all(statement(sql::LIST).bind(cid).bind(resource)).await?;
        rows.into_iter().map(|(id, record)| StoredEntity::from_row(id, &record)).collect()
    }

    async fn put_entity_batches(
        &self,
        batches: &[(CustomerId, String, Vec<StoredEntity>)],
        cap: EntityCap,
    ) -> crate::Result<Result<(), EntityRefusal>> {
        let mut tx = self.write().await?;
        for (cid, resource, records) in batches {
            for entity in records {
                write_record(sql::UPSERT, cid, resource, entity).execute::<DB>(&mut tx).await?;
            }
        }
        for (cid, resource, _) in batches {
            if !Self::entities_within(&mut tx, cid, resource, cap).await? {
                return Ok(Err(EntityRefusal::Full(cap)));
            }
        }
        Self::commit(tx).await?;
        Ok(Ok(()))
    }

    async fn entity_resources(&self, cid: &CustomerId) -> crate::Result<Vec<String>> {
        let rows: Vec<(String,)> = self.all(statement(sql::RESOURCES).bind(cid)).await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    async fn entities_by_id(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
    ) -> crate::Result<Vec<StoredEntity>> {
        Self::select_entities(&mut *self.conn().await?, cid, resource, ids, "").await
    }

    async fn put_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        records: &[StoredEntity],
        on_existing: OnExisting,
        cap: EntityCap,
    ) -> crate::Result<Result<(), EntityRefusal>> {
        let mut tx = self.write().await?;
        // One writer per resource at a time, so two nodes' creates cannot pass its bound together.
        DB::exclude(&mut tx, Exclusion::Entities(cid, resource)).await?;
        let write = match on_existing {
            OnExisting::Refuse => sql::INSERT,
            OnExisting::Replace => sql::UPSERT,
        };
        for entity in records {
            match write_record(write, cid, resource, entity).execute::<DB>(&mut tx).await {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(Err(EntityRefusal::Taken(entity.id.clone()))),
                Err(e) => return Err(e),
            }
        }
        if !Self::entities_within(&mut tx, cid, resource, cap).await? {
            return Ok(Err(EntityRefusal::Full(cap)));
        }
        Self::commit(tx).await?;
        Ok(Ok(()))
    }

    async fn edit_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        edit: &EntityEdit<'_>,
    ) -> crate::Result<Result<Vec<StoredEntity>, EntityRefusal>> {
        let mut tx = self.write().await?;
        let found = Self::select_entities(&mut tx, cid, resource, ids, DB::LOCK_ROWS).await?;
        let mut found = match all_found(ids, found) {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for entity in &mut found {
            if let Err(refused) = edit(entity) {
                return Ok(Err(EntityRefusal::Refused(refused)));
            }
            statement(sql::UPDATE)
                .bind(entity.record_json())
                .bind(cid)
                .bind(resource)
                .bind(&entity.id)
                .execute::<DB>(&mut tx)
                .await?;
        }
        Self::commit(tx).await?;
        Ok(Ok(found))
    }

    async fn delete_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
    ) -> crate::Result<Result<Vec<String>, EntityRefusal>> {
        let mut tx = self.write().await?;
        let found = Self::select_entities(&mut tx, cid, resource, ids, DB::LOCK_ROWS).await?;
        let found = match all_found(ids, found) {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for entity in &found {
            statement(sql::DELETE).bind(cid).bind(resource).bind(&entity.id).execute::<DB>(&mut tx).await?;
        }
        Self::commit(tx).await?;
        Ok(Ok(found.into_iter().map(|e| e.id).collect()))
    }
}
