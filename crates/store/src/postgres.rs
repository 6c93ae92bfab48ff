//! The PostgreSQL store: many Talon nodes on one database. Migrations are embedded; sqlx's migrator takes
//! an advisory lock, and first-start initialisation takes one of its own, so nodes may start together.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, QueryBuilder};
use talon_auth::{ApiClient, ClientId, CustomerId, SigningKey};
use talon_emulator::policy::{self, PolicyChange, PolicyError, PolicySetting};
use talon_emulator::Host;

use crate::clients::{self, ClientDelta, ClientPage, ClientQuery};
use crate::entities::{self, EntityCap, EntityEdit, EntityRefusal, OnExisting, StoredEntity};
use crate::records::{
    group_from_json, group_record_json, host_record_json, json_list, missing_groups, missing_ids, page_bounds,
    revocation, AuditRecord, ClientLists, ClientRecord, HostRecord, PolicyRecord, AUDIT_COLUMNS,
};
use crate::{
    AuditEntry, ChangeVersion, ClientChange, GroupEdit, GroupRefusal, HostEdit, Result, Revocation, RevocationCursor,
    Store, StoreError, StoredGroup, UnknownHosts, ADOPT_CONFLICT,
};

/// Advisory lock key that serialises first-start initialisation and first-client creation across nodes.
const INIT_LOCK: i64 = 0x7461_6c6f_6e00_0001;

/// Channel on which the schema's triggers announce changes (see the migration).
const CHANGES_CHANNEL: &str = "talon_changes";

/// Wait before listening again after the listening connection failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// The PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// The named records that exist, in creation order; `lock` ends the statement (`FOR UPDATE`).
    async fn select_entities(
        conn: &mut sqlx::PgConnection,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        lock: &str,
    ) -> Result<Vec<StoredEntity>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut q = QueryBuilder::<Postgres>::new("SELECT id, record FROM entities WHERE cid = ");
        q.push_bind(cid.as_str()).push(" AND resource = ").push_bind(resource).push(" AND id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id);
        }
        q.push(") ORDER BY seq").push(lock);
        let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&mut *conn).await?;
        rows.into_iter().map(|(id, record)| StoredEntity::from_row(id, &record)).collect()
    }

    /// `cid`'s changed CSPM policy settings, on `conn` (a pool connection or an open transaction).
    async fn select_policy_settings(conn: &mut sqlx::PgConnection, cid: &CustomerId) -> Result<Vec<PolicySetting>> {
        sqlx::query_as::<_, PolicyRecord>(
            "SELECT policy_id, enabled, severity, regions, tag_excluded FROM policy_settings WHERE cid = $1 \
             ORDER BY policy_id",
        )
        .bind(cid.as_str())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(PolicyRecord::into_setting)
        .collect()
    }

    /// Writes `settings` of `cid`, inserting or replacing each policy's row, in the caller's transaction.
    async fn upsert_policy_settings(
        conn: &mut sqlx::PgConnection,
        cid: &CustomerId,
        settings: &[PolicySetting],
    ) -> Result<()> {
        for s in settings {
            sqlx::query(
                "INSERT INTO policy_settings (cid, policy_id, enabled, severity, regions, tag_excluded) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cid, policy_id) DO UPDATE SET \
                 enabled = excluded.enabled, severity = excluded.severity, regions = excluded.regions, \
                 tag_excluded = excluded.tag_excluded",
            )
            .bind(cid.as_str())
            .bind(i64::from(s.policy_id))
            .bind(s.enabled)
            .bind(s.severity.as_str())
            .bind(json_list(&s.regions))
            .bind(s.tag_excluded)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Connects to `url`, applies migrations and initialises the database if it is new.
    pub async fn open(url: &str, now: i64) -> Result<PostgresStore> {
        let pool =
            PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let store = PostgresStore { pool };
        store.initialise(now).await?;
        Ok(store)
    }

    async fn initialise(&self, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INIT_LOCK).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO customers (cid, is_default, created_at) SELECT $1, TRUE, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM customers WHERE is_default)",
        )
        .bind(CustomerId::generate().as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let key = SigningKey::generate(now);
        sqlx::query(
            "INSERT INTO signing_keys (kid, pkcs8, created_at, retired_at) SELECT $1, $2, $3, $4 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(&key.kid)
        .bind(key.pkcs8_der())
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The hosts of `cid` among `ids`, in device ID order; `suffix` is a fixed locking clause or nothing.
    async fn select_hosts(
        conn: &mut sqlx::PgConnection,
        cid: &CustomerId,
        ids: &[&String],
        suffix: &'static str,
    ) -> Result<Vec<Host>> {
        let sql = format!("SELECT * FROM hosts WHERE cid = $1 AND device_id = ANY($2) ORDER BY device_id{suffix}");
        sqlx::query_as::<_, HostRecord>(&sql)
            .bind(cid.as_str())
            .bind(ids.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .fetch_all(conn)
            .await?
            .into_iter()
            .map(HostRecord::into_host)
            .collect()
    }

    async fn ensure_customers(tx: &mut sqlx::Transaction<'_, Postgres>, client: &ApiClient, now: i64) -> Result<()> {
        for cid in std::iter::once(&client.cid).chain(&client.member_cids) {
            sqlx::query(
                "INSERT INTO customers (cid, is_default, created_at) VALUES ($1, FALSE, $2) ON CONFLICT DO NOTHING",
            )
            .bind(cid.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Appends an audit entry (idempotent by entry ID) on `conn`, inside the caller's transaction if any.
    async fn insert_audit(conn: &mut sqlx::PgConnection, entry: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor, action, target, source_ip, trace_id, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&entry.id)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.source_ip)
        .bind(&entry.trace_id)
        .bind(&entry.details)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Appends `audit` when the change it records happened.
    async fn audit_if(conn: &mut sqlx::PgConnection, changed: bool, audit: Option<&AuditEntry>) -> Result<()> {
        match audit {
            Some(entry) if changed => Self::insert_audit(conn, entry).await,
            _ => Ok(()),
        }
    }

    /// Writes every field of an existing client but its secret (`tokens_not_before` only forward), on
    /// `tx`; false when there is no such client.
    async fn write_client(tx: &mut sqlx::Transaction<'_, Postgres>, client: &ApiClient) -> Result<bool> {
        Self::ensure_customers(tx, client, client.updated_at).await?;
        let lists = ClientLists::of(client);
        let done = sqlx::query(
            "UPDATE api_clients SET name = $1, description = $2, scopes = $3, member_cids = $4, allowed_ips = $5, \
             enabled = $6, tokens_not_before = GREATEST(tokens_not_before, $7), updated_at = $8 WHERE client_id = $9",
        )
        .bind(&client.name)
        .bind(&client.description)
        .bind(lists.scopes)
        .bind(lists.member_cids)
        .bind(lists.allowed_ips)
        .bind(client.enabled)
        .bind(client.tokens_not_before)
        .bind(client.updated_at)
        .bind(client.id.as_str())
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inserts clients, each with its audit entry, in one transaction (a taken ID writes none of them);
    /// `only_if_first`: only into an empty table (answers whether it wrote).
    async fn insert_clients(&self, clients: &[(&ApiClient, Option<&AuditEntry>)], only_if_first: bool) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if only_if_first {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INIT_LOCK).execute(&mut *tx).await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_clients").fetch_one(&mut *tx).await?;
            if count > 0 {
                return Ok(false);
            }
        }
        // Each customer once per batch (an import names the same few over and over), then the rows.
        let mut customers = std::collections::HashSet::new();
        for &(client, _) in clients {
            if std::iter::once(&client.cid).chain(&client.member_cids).any(|cid| customers.insert(cid)) {
                Self::ensure_customers(&mut tx, client, client.created_at).await?;
            }
        }
        let rows: Vec<&ApiClient> = clients.iter().map(|&(client, _)| client).collect();
        match clients::insert_rows::<Postgres>(&mut tx, &rows).await {
            Err(StoreError::Database(sqlx::Error::Database(e))) if e.is_unique_violation() => {
                drop(tx);
                return Err(StoreError::ClientExists(clients::taken_id(&self.pool, &rows).await?));
            }
            other => other?,
        }
        for &(_, audit) in clients {
            if let Some(entry) = audit {
                Self::insert_audit(&mut tx, entry).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn default_customer(&self) -> Result<CustomerId> {
        let cid: String =
            sqlx::query_scalar("SELECT cid FROM customers WHERE is_default").fetch_one(&self.pool).await?;
        CustomerId::parse(&cid).map_err(|_| StoreError::Corrupt("default customer ID".into()))
    }

    async fn customers(&self) -> Result<Vec<CustomerId>> {
        let cids: Vec<String> =
            sqlx::query_scalar("SELECT cid FROM customers ORDER BY created_at, cid").fetch_all(&self.pool).await?;
        cids.iter()
            .map(|c| CustomerId::parse(c).map_err(|_| StoreError::Corrupt(format!("customer ID {c:?}"))))
            .collect()
    }

    async fn adopt_default_customer(&self, cid: &CustomerId, now: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INIT_LOCK).execute(&mut *tx).await?;
        let current: String =
            sqlx::query_scalar("SELECT cid FROM customers WHERE is_default").fetch_one(&mut *tx).await?;
        if current == cid.as_str() {
            return Ok(());
        }
        let clients: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_clients").fetch_one(&mut *tx).await?;
        if clients > 0 {
            return Err(StoreError::Conflict(ADOPT_CONFLICT.to_owned()));
        }
        sqlx::query("UPDATE customers SET is_default = FALSE WHERE is_default").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO customers (cid, is_default, created_at) VALUES ($1, TRUE, $2) \
             ON CONFLICT (cid) DO UPDATE SET is_default = TRUE",
        )
        .bind(cid.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The replaced default customer goes, with any demo hosts it was seeded with.
        sqlx::query("DELETE FROM hosts WHERE cid = $1").bind(&current).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM customers WHERE cid = $1").bind(&current).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_client_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<()> {
        self.insert_clients(&[(client, audit)], false).await.map(|_| ())
    }

    async fn create_clients_audited(&self, clients: &[(ApiClient, AuditEntry)]) -> Result<()> {
        let batch: Vec<(&ApiClient, Option<&AuditEntry>)> = clients.iter().map(|(c, a)| (c, Some(a))).collect();
        self.insert_clients(&batch, false).await.map(|_| ())
    }

    async fn create_first_client(&self, client: &ApiClient) -> Result<bool> {
        self.insert_clients(&[(client, None)], true).await
    }

    async fn client(&self, id: &ClientId) -> Result<Option<ApiClient>> {
        sqlx::query_as::<_, ClientRecord>("SELECT * FROM api_clients WHERE client_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(ClientRecord::into_client)
            .transpose()
    }

    async fn clients(&self) -> Result<Vec<ApiClient>> {
        sqlx::query_as::<_, ClientRecord>("SELECT * FROM api_clients ORDER BY created_at, client_id")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(ClientRecord::into_client)
            .collect()
    }

    async fn after_bulk_load(&self) -> Result<()> {
        sqlx::query("ANALYZE api_clients, client_tombstones, client_counts, customers, audit_log")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn client_changes(&self, since: i64) -> Result<ClientDelta> {
        clients::changes(&self.pool, since).await
    }

    async fn client_page(&self, query: &ClientQuery) -> Result<ClientPage> {
        clients::page(&self.pool, query).await
    }

    async fn update_client_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let written = Self::write_client(&mut tx, client).await?;
        Self::audit_if(&mut tx, written, audit).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn modify_client_audited(
        &self,
        id: &ClientId,
        change: &ClientChange<'_>,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<ApiClient>> {
        let mut tx = self.pool.begin().await?;
        let record = sqlx::query_as::<_, ClientRecord>("SELECT * FROM api_clients WHERE client_id = $1 FOR UPDATE")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(record) = record else { return Ok(None) };
        let mut client = record.into_client()?;
        change(&mut client);
        let written = Self::write_client(&mut tx, &client).await?;
        Self::audit_if(&mut tx, written, audit).await?;
        tx.commit().await?;
        Ok(written.then_some(client))
    }

    async fn set_secret_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE api_clients SET secret_digest = $1, tokens_not_before = GREATEST(tokens_not_before, $2), \
             updated_at = $3 WHERE client_id = $4",
        )
        .bind(client.secret_digest.as_bytes().as_slice())
        .bind(client.tokens_not_before)
        .bind(client.updated_at)
        .bind(client.id.as_str())
        .execute(&mut *tx)
        .await?;
        Self::audit_if(&mut tx, done.rows_affected() == 1, audit).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_client_audited(&self, id: &ClientId, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("DELETE FROM api_clients WHERE client_id = $1").bind(id.as_str()).execute(&mut *tx).await?;
        Self::audit_if(&mut tx, done.rows_affected() == 1, audit).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_last_used(&self, uses: &[(ClientId, i64)]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE api_clients SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) WHERE client_id = $2",
            )
            .bind(at)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows: Vec<(String, Vec<u8>, i64, Option<i64>)> =
            sqlx::query_as("SELECT kid, pkcs8, created_at, retired_at FROM signing_keys ORDER BY created_at, kid")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(kid, pkcs8, created_at, retired_at)| {
                let mut key =
                    SigningKey::from_pkcs8(kid, pkcs8, created_at).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                key.retired_at = retired_at;
                Ok(key)
            })
            .collect()
    }

    async fn add_signing_key(&self, key: &SigningKey) -> Result<()> {
        sqlx::query("INSERT INTO signing_keys (kid, pkcs8, created_at, retired_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.kid)
            .bind(key.pkcs8_der())
            .bind(key.created_at)
            .bind(key.retired_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<bool> {
        // An earlier retirement stands: retiring again can only bring it forward.
        let done =
            sqlx::query("UPDATE signing_keys SET retired_at = LEAST(COALESCE(retired_at, $1), $1) WHERE kid = $2")
                .bind(at)
                .bind(kid)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_token(&self, jti: &str, client_id: &ClientId, expires_at: i64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(jti)
        .bind(client_id.as_str())
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn revocations_since(
        &self,
        cursor: RevocationCursor,
        now: i64,
    ) -> Result<(Vec<Revocation>, RevocationCursor)> {
        // Transaction IDs are handed out at start but rows become visible at commit, in any order. So the
        // next read starts at the oldest transaction still running now (the snapshot's xmin): a revocation
        // committed later has an ID at least that large. Both statements see one snapshot.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
        let xmin: i64 = sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT jti, client_id, expires_at FROM revoked_tokens WHERE txid >= $1 AND expires_at > $2",
        )
        .bind(cursor.0)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let revocations = rows
            .into_iter()
            .map(|(jti, client_id, expires_at)| revocation(jti, &client_id, expires_at))
            .collect::<Result<_>>()?;
        Ok((revocations, RevocationCursor(xmin)))
    }

    async fn prune_revocations(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        Self::insert_audit(&mut conn, entry).await
    }

    async fn audit_entries(&self, offset: u64, limit: u64) -> Result<(Vec<AuditEntry>, u64)> {
        let (offset, limit) = page_bounds(offset, limit);
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(&self.pool).await?;
        let rows = sqlx::query_as::<_, AuditRecord>(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY at DESC, seq DESC LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.into_iter().map(AuditEntry::from).collect(), total as u64))
    }

    async fn change_version(&self) -> Result<ChangeVersion> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, value FROM change_counters").fetch_all(&self.pool).await?;
        Ok(ChangeVersion::from_counters(rows))
    }

    async fn watch_changes(&self, changed: std::sync::Arc<tokio::sync::Notify>) {
        loop {
            match PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => match listener.listen(CHANGES_CHANNEL).await {
                    Ok(()) => {
                        // Anything may have been missed while not listening.
                        changed.notify_one();
                        while listener.recv().await.is_ok() {
                            changed.notify_one();
                        }
                        tracing::warn!("lost the PostgreSQL change listener; listening again");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN for changes; retrying"),
                },
                Err(e) => tracing::warn!(error = %e, "cannot connect the change listener; retrying"),
            }
            tokio::time::sleep(RELISTEN_DELAY).await;
        }
    }

    async fn all_hosts(&self) -> Result<Vec<Host>> {
        sqlx::query_as::<_, HostRecord>("SELECT * FROM hosts ORDER BY cid, device_id")
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(HostRecord::into_host)
            .collect()
    }

    async fn host_versions(&self) -> Result<Vec<(CustomerId, i64)>> {
        crate::records::host_versions(sqlx::query_as(crate::records::SELECT_HOST_VERSIONS).fetch_all(&self.pool).await?)
    }

    async fn host_count(&self, cid: &CustomerId) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hosts WHERE cid = $1")
            .bind(cid.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn insert_hosts(&self, hosts: &[Host]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for h in hosts {
            sqlx::query(
                "INSERT INTO hosts (device_id, cid, hidden, record) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(h.device_id())
            .bind(h.cid().as_str())
            .bind(h.hidden())
            .bind(host_record_json(h))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn customer_hosts(&self, cid: &CustomerId) -> Result<Vec<Host>> {
        sqlx::query_as::<_, HostRecord>("SELECT * FROM hosts WHERE cid = $1 ORDER BY device_id")
            .bind(cid.as_str())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(HostRecord::into_host)
            .collect()
    }

    async fn hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<Host>> {
        let mut conn = self.pool.acquire().await?;
        Self::select_hosts(&mut conn, cid, &ids.iter().collect::<Vec<_>>(), "").await
    }

    async fn policy_settings(&self, cid: &CustomerId) -> Result<Vec<PolicySetting>> {
        let mut conn = self.pool.acquire().await?;
        Self::select_policy_settings(&mut conn, cid).await
    }

    async fn save_policy_settings(&self, cid: &CustomerId, settings: &[PolicySetting]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        Self::upsert_policy_settings(&mut tx, cid, settings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn change_policy_settings(
        &self,
        cid: &CustomerId,
        changes: &[PolicyChange],
    ) -> Result<Result<Vec<PolicySetting>, PolicyError>> {
        let mut tx = self.pool.begin().await?;
        // A lock per customer's settings, held to the commit: the rows a change reads may not exist yet (a
        // policy at its default has none), so row locks alone could not order two first changes.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('talon.policy_settings:' || $1, 0))")
            .bind(cid.as_str())
            .execute(&mut *tx)
            .await?;
        let stored = Self::select_policy_settings(&mut tx, cid).await?;
        let updated = match policy::apply(&stored, changes) {
            Ok(updated) => updated,
            Err(refused) => return Ok(Err(refused)),
        };
        Self::upsert_policy_settings(&mut tx, cid, &updated).await?;
        tx.commit().await?;
        Ok(Ok(updated))
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
        let mut tx = self.pool.begin().await?;
        // FOR UPDATE: two nodes changing the same hosts change them one after the other.
        let mut hosts = Self::select_hosts(&mut tx, cid, &wanted, " FOR UPDATE").await?;
        hosts.retain(|h| include_hidden || !h.hidden());
        let missing = missing_ids(&wanted, &hosts);
        if !missing.is_empty() {
            return Ok(Err(UnknownHosts(missing)));
        }
        for host in &mut hosts {
            edit(host);
            sqlx::query("UPDATE hosts SET hidden = $1, record = $2 WHERE device_id = $3")
                .bind(host.hidden())
                .bind(host_record_json(host))
                .bind(host.device_id())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(hosts))
    }

    async fn host_groups(&self, cid: &CustomerId) -> Result<Vec<StoredGroup>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, record FROM host_groups WHERE cid = $1 ORDER BY id")
                .bind(cid.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(id, record)| group_from_json(id, record)).collect()
    }

    async fn create_host_groups(&self, cid: &CustomerId, groups: &[StoredGroup]) -> Result<Result<(), GroupRefusal>> {
        let mut tx = self.pool.begin().await?;
        for g in groups {
            let inserted = sqlx::query("INSERT INTO host_groups (id, cid, name_key, record) VALUES ($1, $2, $3, $4)")
                .bind(&g.group.id)
                .bind(cid.as_str())
                .bind(g.name_key())
                .bind(group_record_json(g))
                .execute(&mut *tx)
                .await;
            match inserted {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Ok(Err(GroupRefusal::NameTaken(g.group.name.clone())))
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
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
        // FOR UPDATE: two nodes changing the same groups change them one after the other.
        let mut tx = self.pool.begin().await?;
        let mut groups = Vec::with_capacity(wanted.len());
        for id in &wanted {
            let row: Option<String> =
                sqlx::query_scalar("SELECT record FROM host_groups WHERE cid = $1 AND id = $2 FOR UPDATE")
                    .bind(cid.as_str())
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(record) = row {
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
            let updated = sqlx::query("UPDATE host_groups SET name_key = $1, record = $2 WHERE id = $3")
                .bind(g.name_key())
                .bind(group_record_json(g))
                .bind(&g.group.id)
                .execute(&mut *tx)
                .await;
            match updated {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Ok(Err(GroupRefusal::NameTaken(g.group.name.clone())))
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(Ok(groups))
    }

    async fn delete_host_groups(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>> {
        let deleted = sqlx::query_scalar("DELETE FROM host_groups WHERE cid = $1 AND id = ANY($2) RETURNING id")
            .bind(cid.as_str())
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        Ok(deleted)
    }

    async fn delete_hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>> {
        let deleted =
            sqlx::query_scalar("DELETE FROM hosts WHERE cid = $1 AND device_id = ANY($2) RETURNING device_id")
                .bind(cid.as_str())
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(deleted)
    }

    async fn entities(&self, cid: &CustomerId, resource: &str) -> Result<Vec<StoredEntity>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as(entities::sql::LIST).bind(cid.as_str()).bind(resource).fetch_all(&self.pool).await?;
        rows.into_iter().map(|(id, record)| StoredEntity::from_row(id, &record)).collect()
    }

    async fn put_entity_batches(
        &self,
        batches: &[(CustomerId, String, Vec<StoredEntity>)],
        cap: EntityCap,
    ) -> Result<Result<(), EntityRefusal>> {
        let mut tx = self.pool.begin().await?;
        for (cid, resource, records) in batches {
            for entity in records {
                sqlx::query(entities::sql::UPSERT)
                    .bind(cid.as_str())
                    .bind(resource)
                    .bind(&entity.id)
                    .bind(entity.record_json())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for (cid, resource, _) in batches {
            let held =
                sqlx::query_as(entities::sql::COUNT).bind(cid.as_str()).bind(resource).fetch_one(&mut *tx).await?;
            if !entities::within(cap, held) {
                return Ok(Err(EntityRefusal::Full(cap)));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn entity_resources(&self, cid: &CustomerId) -> Result<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as(entities::sql::RESOURCES).bind(cid.as_str()).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    async fn entities_by_id(&self, cid: &CustomerId, resource: &str, ids: &[String]) -> Result<Vec<StoredEntity>> {
        let mut conn = self.pool.acquire().await?;
        Self::select_entities(&mut conn, cid, resource, ids, "").await
    }

    async fn put_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        records: &[StoredEntity],
        on_existing: OnExisting,
        cap: EntityCap,
    ) -> Result<Result<(), EntityRefusal>> {
        let mut tx = self.pool.begin().await?;
        // One writer per resource at a time, so two nodes' creates cannot pass its bound together.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))")
            .bind(cid.as_str())
            .bind(resource)
            .execute(&mut *tx)
            .await?;
        let statement = match on_existing {
            OnExisting::Refuse => entities::sql::INSERT,
            OnExisting::Replace => entities::sql::UPSERT,
        };
        for entity in records {
            let written = sqlx::query(statement)
                .bind(cid.as_str())
                .bind(resource)
                .bind(&entity.id)
                .bind(entity.record_json())
                .execute(&mut *tx)
                .await;
            match written {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Ok(Err(EntityRefusal::Taken(entity.id.clone())))
                }
                Err(e) => return Err(e.into()),
            }
        }
        let held = sqlx::query_as(entities::sql::COUNT).bind(cid.as_str()).bind(resource).fetch_one(&mut *tx).await?;
        if !entities::within(cap, held) {
            return Ok(Err(EntityRefusal::Full(cap)));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn edit_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        edit: &EntityEdit<'_>,
    ) -> Result<Result<Vec<StoredEntity>, EntityRefusal>> {
        let mut tx = self.pool.begin().await?;
        let found = Self::select_entities(&mut tx, cid, resource, ids, " FOR UPDATE").await?;
        let mut found = match entities::all_found(ids, found) {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for entity in &mut found {
            if let Err(refused) = edit(entity) {
                return Ok(Err(EntityRefusal::Refused(refused)));
            }
            sqlx::query(entities::sql::UPDATE)
                .bind(entity.record_json())
                .bind(cid.as_str())
                .bind(resource)
                .bind(&entity.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(found))
    }

    async fn delete_entities(
        &self,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
    ) -> Result<Result<Vec<String>, EntityRefusal>> {
        let mut tx = self.pool.begin().await?;
        let found = Self::select_entities(&mut tx, cid, resource, ids, " FOR UPDATE").await?;
        let found = match entities::all_found(ids, found) {
            Ok(found) => found,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for entity in &found {
            sqlx::query(entities::sql::DELETE)
                .bind(cid.as_str())
                .bind(resource)
                .bind(&entity.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Ok(found.into_iter().map(|e| e.id).collect()))
    }
}
