//! The embedded SQLite store: one file in WAL mode, migrations embedded and applied on open.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite};
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

/// How long a writer waits for another process's write to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// The named records that exist, in creation order; `lock` ends the statement (`FOR UPDATE`).
    async fn select_entities(
        conn: &mut sqlx::SqliteConnection,
        cid: &CustomerId,
        resource: &str,
        ids: &[String],
        lock: &str,
    ) -> Result<Vec<StoredEntity>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id, record FROM entities WHERE cid = ");
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
    async fn select_policy_settings(conn: &mut sqlx::SqliteConnection, cid: &CustomerId) -> Result<Vec<PolicySetting>> {
        sqlx::query_as::<_, PolicyRecord>(
            "SELECT policy_id, enabled, severity, regions, tag_excluded FROM policy_settings WHERE cid = ? \
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
        conn: &mut sqlx::SqliteConnection,
        cid: &CustomerId,
        settings: &[PolicySetting],
    ) -> Result<()> {
        for s in settings {
            sqlx::query(
                "INSERT INTO policy_settings (cid, policy_id, enabled, severity, regions, tag_excluded) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cid, policy_id) DO UPDATE SET \
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

    /// Opens `url` (`sqlite://PATH`, `sqlite:PATH`), creating the file if missing, and initialises it.
    pub async fn open(url: &str, now: i64) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged revocation or secret reset survives a power failure too.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        create_private_file(options.get_filename())?;
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        store.initialise(now).await?;
        Ok(store)
    }

    /// A write transaction that holds SQLite's write lock from its start (`BEGIN IMMEDIATE`). A deferred
    /// transaction that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT, which the busy timeout
    /// does not retry) when another write commits in between.
    async fn write(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Applies the embedded migrations. SQLite has no advisory lock for sqlx to take, so when two processes
    /// open a new file at once one of them fails on tables the other just made; it then finds the migration
    /// recorded and passes on the next try.
    async fn migrate(&self) -> Result<()> {
        let migrator = sqlx::migrate!("./migrations/sqlite");
        let mut attempt = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Creates the default customer and the first signing key if there are none. Each is one
    /// `INSERT ... WHERE NOT EXISTS` statement, atomic under SQLite's write lock, so concurrent first
    /// starts create exactly one of each.
    async fn initialise(&self, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO customers (cid, is_default, created_at) SELECT ?, 1, ? \
             WHERE NOT EXISTS (SELECT 1 FROM customers WHERE is_default = 1)",
        )
        .bind(CustomerId::generate().as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.insert_signing_key(&SigningKey::generate(now), true).await
    }

    /// Stores a signing key; with `only_if_none`, only when the store has no key yet (atomically).
    async fn insert_signing_key(&self, key: &SigningKey, only_if_none: bool) -> Result<()> {
        let sql = if only_if_none {
            "INSERT INTO signing_keys (kid, pkcs8, created_at, retired_at) SELECT ?, ?, ?, ? \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys)"
        } else {
            "INSERT INTO signing_keys (kid, pkcs8, created_at, retired_at) VALUES (?, ?, ?, ?)"
        };
        sqlx::query(sql)
            .bind(&key.kid)
            .bind(key.pkcs8_der())
            .bind(key.created_at)
            .bind(key.retired_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Runs `delete` (binding the customer and one ID) for each of `ids` in one transaction; answers the
    /// IDs that were there.
    async fn delete_by_id(&self, delete: &'static str, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>> {
        let mut tx = self.write().await?;
        let mut deleted = Vec::new();
        for id in ids {
            let gone = sqlx::query(delete).bind(cid.as_str()).bind(id).execute(&mut *tx).await?;
            if gone.rows_affected() > 0 {
                deleted.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// The hosts of `cid` among `ids`, in device ID order.
    async fn select_hosts(conn: &mut sqlx::SqliteConnection, cid: &CustomerId, ids: &[&String]) -> Result<Vec<Host>> {
        let mut select = QueryBuilder::<Sqlite>::new("SELECT * FROM hosts WHERE cid = ");
        select.push_bind(cid.as_str()).push(" AND device_id IN (");
        let mut list = select.separated(", ");
        for id in ids {
            list.push_bind(id.as_str());
        }
        select.push(") ORDER BY device_id");
        select.build_query_as::<HostRecord>().fetch_all(conn).await?.into_iter().map(HostRecord::into_host).collect()
    }

    async fn ensure_customers<'c>(tx: &mut sqlx::Transaction<'c, Sqlite>, client: &ApiClient, now: i64) -> Result<()> {
        for cid in std::iter::once(&client.cid).chain(&client.member_cids) {
            sqlx::query("INSERT OR IGNORE INTO customers (cid, is_default, created_at) VALUES (?, 0, ?)")
                .bind(cid.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Appends an audit entry (idempotent by entry ID) on `conn`, inside the caller's transaction if any.
    async fn insert_audit(conn: &mut sqlx::SqliteConnection, entry: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO audit_log (id, at, actor, action, target, source_ip, trace_id, details) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
    async fn audit_if(conn: &mut sqlx::SqliteConnection, changed: bool, audit: Option<&AuditEntry>) -> Result<()> {
        match audit {
            Some(entry) if changed => Self::insert_audit(conn, entry).await,
            _ => Ok(()),
        }
    }

    /// Writes every field of an existing client but its secret (`tokens_not_before` only forward), on
    /// `tx`; false when there is no such client.
    async fn write_client(tx: &mut sqlx::Transaction<'_, Sqlite>, client: &ApiClient) -> Result<bool> {
        Self::ensure_customers(tx, client, client.updated_at).await?;
        let lists = ClientLists::of(client);
        let done = sqlx::query(
            "UPDATE api_clients SET name = ?, description = ?, scopes = ?, member_cids = ?, allowed_ips = ?, \
             enabled = ?, tokens_not_before = MAX(tokens_not_before, ?), updated_at = ? WHERE client_id = ?",
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
        // IMMEDIATE takes the write lock before looking, so two first starts cannot both see an empty table.
        let mut tx = self.write().await?;
        if only_if_first {
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
        match clients::insert_rows::<Sqlite>(&mut tx, &rows).await {
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

/// Creates a new database file readable by its owner only: it holds the private signing keys.
fn create_private_file(path: &std::path::Path) -> Result<()> {
    if path.as_os_str() == ":memory:" || path.as_os_str().is_empty() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(sqlx::Error::Io(e))),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn default_customer(&self) -> Result<CustomerId> {
        let cid: String =
            sqlx::query_scalar("SELECT cid FROM customers WHERE is_default = 1").fetch_one(&self.pool).await?;
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
        let mut tx = self.write().await?;
        let current: String =
            sqlx::query_scalar("SELECT cid FROM customers WHERE is_default = 1").fetch_one(&mut *tx).await?;
        if current == cid.as_str() {
            return Ok(());
        }
        let clients: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_clients").fetch_one(&mut *tx).await?;
        if clients > 0 {
            return Err(StoreError::Conflict(ADOPT_CONFLICT.to_owned()));
        }
        sqlx::query("UPDATE customers SET is_default = 0 WHERE is_default = 1").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO customers (cid, is_default, created_at) VALUES (?, 1, ?) \
             ON CONFLICT (cid) DO UPDATE SET is_default = 1",
        )
        .bind(cid.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The replaced default customer goes, with any demo hosts it was seeded with.
        sqlx::query("DELETE FROM hosts WHERE cid = ?").bind(&current).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM customers WHERE cid = ?").bind(&current).execute(&mut *tx).await?;
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
        sqlx::query_as::<_, ClientRecord>("SELECT * FROM api_clients WHERE client_id = ?")
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

    async fn client_changes(&self, since: i64) -> Result<ClientDelta> {
        clients::changes(&self.pool, since).await
    }

    async fn client_page(&self, query: &ClientQuery) -> Result<ClientPage> {
        clients::page(&self.pool, query).await
    }

    async fn update_client_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.write().await?;
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
        let mut tx = self.write().await?;
        let record = sqlx::query_as::<_, ClientRecord>("SELECT * FROM api_clients WHERE client_id = ?")
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
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE api_clients SET secret_digest = ?, tokens_not_before = MAX(tokens_not_before, ?), updated_at = ? \
             WHERE client_id = ?",
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
        let mut tx = self.write().await?;
        let done =
            sqlx::query("DELETE FROM api_clients WHERE client_id = ?").bind(id.as_str()).execute(&mut *tx).await?;
        Self::audit_if(&mut tx, done.rows_affected() == 1, audit).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_last_used(&self, uses: &[(ClientId, i64)]) -> Result<()> {
        let mut tx = self.write().await?;
        for (id, at) in uses {
            sqlx::query("UPDATE api_clients SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE client_id = ?")
                .bind(at)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        sqlx::query("SELECT kid, pkcs8, created_at, retired_at FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let key =
                    SigningKey::from_pkcs8(row.try_get("kid")?, row.try_get("pkcs8")?, row.try_get("created_at")?);
                let mut key = key.map_err(|e| StoreError::Corrupt(e.to_string()))?;
                key.retired_at = row.try_get("retired_at")?;
                Ok(key)
            })
            .collect()
    }

    async fn add_signing_key(&self, key: &SigningKey) -> Result<()> {
        self.insert_signing_key(key, false).await
    }

    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<bool> {
        // An earlier retirement stands: retiring again can only bring it forward.
        let done = sqlx::query("UPDATE signing_keys SET retired_at = MIN(COALESCE(retired_at, ?1), ?1) WHERE kid = ?2")
            .bind(at)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_token(&self, jti: &str, client_id: &ClientId, expires_at: i64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT OR IGNORE INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)",
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
        // SQLite serialises writers, so seq grows in commit order: everything above the last seq seen is new.
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT seq, jti, client_id, expires_at FROM revoked_tokens WHERE seq > ? AND expires_at > ? ORDER BY seq",
        )
        .bind(cursor.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let next = rows.last().map_or(cursor, |(seq, _, _, _)| RevocationCursor(*seq));
        let revocations = rows
            .into_iter()
            .map(|(_, jti, client_id, expires_at)| revocation(jti, &client_id, expires_at))
            .collect::<Result<_>>()?;
        Ok((revocations, next))
    }

    async fn prune_revocations(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= ?").bind(now).execute(&self.pool).await?;
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
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY at DESC, seq DESC LIMIT ? OFFSET ?"
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
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM hosts WHERE cid = ?")
            .bind(cid.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    async fn insert_hosts(&self, hosts: &[Host]) -> Result<()> {
        let mut tx = self.write().await?;
        for h in hosts {
            sqlx::query("INSERT OR IGNORE INTO hosts (device_id, cid, hidden, record) VALUES (?, ?, ?, ?)")
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
        sqlx::query_as::<_, HostRecord>("SELECT * FROM hosts WHERE cid = ? ORDER BY device_id")
            .bind(cid.as_str())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(HostRecord::into_host)
            .collect()
    }

    async fn hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<Host>> {
        let mut conn = self.pool.acquire().await?;
        Self::select_hosts(&mut conn, cid, &ids.iter().collect::<Vec<_>>()).await
    }

    async fn policy_settings(&self, cid: &CustomerId) -> Result<Vec<PolicySetting>> {
        let mut conn = self.pool.acquire().await?;
        Self::select_policy_settings(&mut conn, cid).await
    }

    async fn save_policy_settings(&self, cid: &CustomerId, settings: &[PolicySetting]) -> Result<()> {
        let mut tx = self.write().await?;
        Self::upsert_policy_settings(&mut tx, cid, settings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn change_policy_settings(
        &self,
        cid: &CustomerId,
        changes: &[PolicyChange],
    ) -> Result<Result<Vec<PolicySetting>, PolicyError>> {
        // BEGIN IMMEDIATE holds SQLite's write lock from the read on: changes are applied one after the other.
        let mut tx = self.write().await?;
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
        // BEGIN IMMEDIATE holds SQLite's write lock from the read on: changes apply one after the other.
        let mut tx = self.write().await?;
        let mut hosts = Self::select_hosts(&mut tx, cid, &wanted).await?;
        hosts.retain(|h| include_hidden || !h.hidden());
        let missing = missing_ids(&wanted, &hosts);
        if !missing.is_empty() {
            return Ok(Err(UnknownHosts(missing)));
        }
        for host in &mut hosts {
            edit(host);
            sqlx::query("UPDATE hosts SET hidden = ?, record = ? WHERE device_id = ?")
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
            sqlx::query_as("SELECT id, record FROM host_groups WHERE cid = ? ORDER BY id")
                .bind(cid.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|(id, record)| group_from_json(id, record)).collect()
    }

    async fn create_host_groups(&self, cid: &CustomerId, groups: &[StoredGroup]) -> Result<Result<(), GroupRefusal>> {
        let mut tx = self.write().await?;
        for g in groups {
            let inserted = sqlx::query("INSERT INTO host_groups (id, cid, name_key, record) VALUES (?, ?, ?, ?)")
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
        // BEGIN IMMEDIATE holds SQLite's write lock from the read on: changes apply one after the other.
        let mut tx = self.write().await?;
        let mut groups = Vec::with_capacity(wanted.len());
        for id in &wanted {
            let row: Option<String> = sqlx::query_scalar("SELECT record FROM host_groups WHERE cid = ? AND id = ?")
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
            let updated = sqlx::query("UPDATE host_groups SET name_key = ?, record = ? WHERE id = ?")
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
        self.delete_by_id("DELETE FROM host_groups WHERE cid = ? AND id = ?", cid, ids).await
    }

    async fn delete_hosts(&self, cid: &CustomerId, ids: &[String]) -> Result<Vec<String>> {
        self.delete_by_id("DELETE FROM hosts WHERE cid = ? AND device_id = ?", cid, ids).await
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
        let mut tx = self.write().await?;
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
        let mut tx = self.write().await?;
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
        let mut tx = self.write().await?;
        let found = Self::select_entities(&mut tx, cid, resource, ids, "").await?;
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
        let mut tx = self.write().await?;
        let found = Self::select_entities(&mut tx, cid, resource, ids, "").await?;
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
