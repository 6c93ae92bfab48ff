//! Hosts (devices) of each customer: their records as JSON, whether hidden, and the per-customer version a
//! node's host cache follows.

use async_trait::async_trait;
use talon_auth::CustomerId;
use talon_emulator::{DeviceAction, Host, HostAction};

use crate::records::{host_record_json, host_versions, missing_ids, HostRecord, SELECT_HOST_VERSIONS};
use crate::sql::{placeholders, statement, Bound, Dialect, SqlStore, Statement};
use crate::{HostEdit, Result, UnknownHosts};

#[async_trait]
pub trait HostStore: Send + Sync + 'static {
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

/// `SELECT`/`DELETE ... WHERE cid = $1 AND <column> IN (...)`: `head` with the customer and `ids` bound
/// and `tail` after the list.
pub(crate) fn of_customer_among<'s>(
    head: &str,
    column: &str,
    cid: &CustomerId,
    ids: &[&String],
    tail: &str,
) -> Statement<'s> {
    let sql = format!("{head} WHERE cid = $1 AND {column} IN ({}){tail}", placeholders(2, ids.len()));
    let mut binds = vec![Bound::from(cid)];
    binds.extend(ids.iter().map(|id| Bound::from(*id)));
    Statement::with_binds(sql, binds)
}

/// The IDs of `ids` among `deleted`, in `ids`' order (a `RETURNING` list comes in no particular order).
pub(crate) fn in_given_order(ids: &[String], deleted: Vec<(String,)>) -> Vec<String> {
    let deleted: std::collections::HashSet<String> = deleted.into_iter().map(|(id,)| id).collect();
    let mut seen = std::collections::HashSet::new();
    ids.iter().filter(|id| deleted.contains(*id) && seen.insert(id.as_str())).cloned().collect()
}

impl<DB: Dialect> SqlStore<DB> {
    /// The hosts of `cid` among `ids`, in device ID order; `lock` ends the statement.
    async fn select_hosts(
        conn: &mut DB::Connection,
        cid: &CustomerId,
        ids: &[&String],
        lock: &str,
    ) -> Result<Vec<Host>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let rows: Vec<HostRecord> =
            of_customer_among("SELECT * FROM hosts", "device_id", cid, ids, &format!(" ORDER BY device_id{lock}"))
                .fetch_all::<DB, _>(conn)
                .await?;
        rows.into_iter().map(HostRecord::into_host).collect()
    }
}

#[async_trait]
impl<DB: Dialect> HostStore for SqlStore<DB> {
    async fn host_count(&self, cid: &CustomerId) -> Result<u64> {
        let n: i64 = self.scalar(statement("SELECT COUNT(*) FROM hosts WHERE cid = $1").bind(cid)).await?;
        Ok(n as u64)
    }

    async fn host_versions(&self) -> Result<Vec<(CustomerId, i64)>> {
        host_versions(self.all(statement(SELECT_HOST_VERSIONS)).await?)
    }

    async fn all_hosts(&self) -> Result<Vec<Host>> {
        let rows: Vec<HostRecord> = self.all(statement("SELECT * FROM hosts ORDER BY cid, device_id")).await?;
        rows.into_iter().map(HostRecord::into_host).collect()
    }

    async fn insert_hosts(&self, hosts: &[Host]) -> Result<()> {
        let mut tx = self.write().await?;
        for h in hosts {
            statement(
                "INSERT INTO hosts (device_id, cid, hidden, record) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(h.device_id())
            .bind(h.cid())
            .bind(h.hidden())
            .bind(host_record_json(h))
            .execute::<DB>(&mut tx)
            .await?;
        }
        Self::commit(tx).await
    }

    async fn customer_hosts(&self, cid: &CustomerId) -> Result<Vec<Host>> {
        let rows: Vec<HostRecord> =
            self.all(statement("SELECT * FROM hosts WHERE cid = $1 ORDER BY device_id").bind(cid)).await?;
        rows.into_iter().map(HostRecord::into_host).collect()
    }

    async fn hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<Host>> {
        Self::select_hosts(&mut *self.conn().await?, cid, &ids.iter().collect::<Vec<_>>(), "").await
    }

    async fn edit_hosts(
        &self,
        cid: &CustomerId,
        ids: &[String],
        include_hidden: bool,
        edit: &HostEdit<'_>,
    ) -> Result<Result<Vec<Host>, UnknownHosts>> {
        let mut wanted: Vec<&String> = ids.iter().collect();
        wanted.sort();
        wanted.dedup();
        // Two writers changing the same hosts change them one after the other (the write lock, or the
        // rows' locks).
        let mut tx = self.write().await?;
        let mut hosts = Self::select_hosts(&mut tx, cid, &wanted, DB::LOCK_ROWS).await?;
        hosts.retain(|h| include_hidden || !h.hidden());
        let missing = missing_ids(&wanted, &hosts);
        if !missing.is_empty() {
            return Ok(Err(UnknownHosts(missing)));
        }
        for host in &mut hosts {
            edit(host);
            statement("UPDATE hosts SET hidden = $1, record = $2 WHERE device_id = $3")
                .bind(host.hidden())
                .bind(host_record_json(host))
                .bind(host.device_id())
                .execute::<DB>(&mut tx)
                .await?;
        }
        Self::commit(tx).await?;
        Ok(Ok(hosts))
    }

    async fn delete_hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let wanted: Vec<&String> = ids.iter().collect();
        let deleted =
            self.all(of_customer_among("DELETE FROM hosts", "device_id", cid, &wanted, " RETURNING device_id")).await?;
        Ok(in_given_order(ids, deleted))
    }
}

#[cfg(test)]
mod tests {
    use super::in_given_order;

    #[test]
    fn deleted_ids_come_back_in_the_order_asked_once_each() {
        let asked: Vec<String> = ["c", "a", "b", "a", "z"].iter().map(|s| (*s).to_owned()).collect();
        let returned = vec![("a".to_owned(),), ("c".to_owned(),), ("b".to_owned(),)];
        assert_eq!(in_given_order(&asked, returned), ["c", "a", "b"]);
    }
}
