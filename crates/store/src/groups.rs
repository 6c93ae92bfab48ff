//! Host groups of each customer: a record and, for a static group, its members, with names unique per
//! customer (the `name_key` column).

use async_trait::async_trait;
use talon_auth::CustomerId;

use crate::hosts::{in_given_order, of_customer_among};
use crate::records::{group_from_json, group_record_json, missing_groups};
use crate::sql::{is_unique_violation, statement, Dialect, SqlStore};
use crate::{GroupEdit, GroupRefusal, Result, StoredGroup};

#[async_trait]
pub trait GroupStore: Send + Sync + 'static {
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
}

/// A write of `group` as a refusal when its name is taken (the unique `name_key`), else as it failed.
fn name_taken_or(written: Result<u64>, group: &StoredGroup) -> Result<Result<(), GroupRefusal>> {
    match written {
        Ok(_) => Ok(Ok(())),
        Err(e) if is_unique_violation(&e) => Ok(Err(GroupRefusal::NameTaken(group.group.name.clone()))),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl<DB: Dialect> GroupStore for SqlStore<DB> {
    async fn host_groups(&self, cid: &CustomerId) -> Result<Vec<StoredGroup>> {
        let rows: Vec<(String, String)> =
            self.all(statement("SELECT id, record FROM host_groups WHERE cid = $1 ORDER BY id").bind(cid)).await?;
        rows.iter().map(|(id, record)| group_from_json(id, record)).collect()
    }

    async fn create_host_groups(&self, cid: &CustomerId, groups: &[StoredGroup]) -> Result<Result<(), GroupRefusal>> {
        let mut tx = self.write().await?;
        for g in groups {
            let inserted = statement("INSERT INTO host_groups (id, cid, name_key, record) VALUES ($1, $2, $3, $4)")
                .bind(&g.group.id)
                .bind(cid)
                .bind(g.name_key())
                .bind(group_record_json(g))
                .execute::<DB>(&mut tx)
                .await;
            if let Err(refusal) = name_taken_or(inserted, g)? {
                return Ok(Err(refusal));
            }
        }
        Self::commit(tx).await?;
        Ok(Ok(()))
    }

    async fn edit_host_groups(
        &self,
        cid: &CustomerId,
        ids: &[String],
        edit: &GroupEdit<'_>,
    ) -> Result<Result<Vec<StoredGroup>, GroupRefusal>> {
        let mut wanted: Vec<&String> = ids.iter().collect();
        wanted.sort();
        wanted.dedup();
        // Two writers changing the same groups change them one after the other (the write lock, or the
        // rows' locks).
        let mut tx = self.write().await?;
        let mut groups = Vec::with_capacity(wanted.len());
        let select = format!("SELECT record FROM host_groups WHERE cid = $1 AND id = $2{}", DB::LOCK_ROWS);
        for id in &wanted {
            let row: Option<(String,)> =
                statement(&select).bind(cid).bind(*id).fetch_optional::<DB, _>(&mut tx).await?;
            if let Some((record,)) = row {
                groups.push(group_from_json(id, &record)?);
            }
        }
        let missing = missing_groups(&wanted, &groups);
        if !missing.is_empty() {
            return Ok(Err(GroupRefusal::Unknown(missing)));
        }
        for g in &mut groups {
            if let Err(refused) = edit(g) {
                return Ok(Err(GroupRefusal::Refused(refused)));
            }
            let updated = statement("UPDATE host_groups SET name_key = $1, record = $2 WHERE id = $3")
                .bind(g.name_key())
                .bind(group_record_json(g))
                .bind(&g.group.id)
                .execute::<DB>(&mut tx)
                .await;
            if let Err(refusal) = name_taken_or(updated, g)? {
                return Ok(Err(refusal));
            }
        }
        Self::commit(tx).await?;
        Ok(Ok(groups))
    }

    async fn delete_host_groups(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let wanted: Vec<&String> = ids.iter().collect();
        let deleted =
            self.all(of_customer_among("DELETE FROM host_groups", "id", cid, &wanted, " RETURNING id")).await?;
        Ok(in_given_order(ids, deleted))
    }
}
