//! API clients: their writes (each with its audit entry, in one transaction), a node's incremental sync
//! (the clients changed and deleted after a sequence, see the `client_sequence` migration) and the admin
//! listing ([`listing`]: filters, sort and seek paging done by the database).

mod listing;

use async_trait::async_trait;
use talon_auth::{ApiClient, ClientId, CustomerId};

pub use listing::{ClientPage, ClientQuery, ClientSort, SeekPosition, SortKey};

use crate::records::{ClientLists, ClientRecord};
use crate::sql::{is_unique_violation, placeholders, statement, Bound, Dialect, Exclusion, SqlStore, Statement};
use crate::{AuditEntry, ClientChange, Result, StoreError};

/// What changed among the API clients after a sequence (see [`ClientStore::client_changes`]), read in
/// one snapshot of the store.
#[derive(Debug, Default)]
pub struct ClientDelta {
    /// Clients inserted or changed, each as it is now.
    pub changed: Vec<ApiClient>,
    /// Clients deleted.
    pub deleted: Vec<ClientId>,
    /// The sequence this answer is current to: the next call asks from it.
    pub seq: i64,
}

/// The sequence to ask from for every client there is (rows written before sequences existed carry 0).
pub const FROM_THE_START: i64 = -1;

#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
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
    /// The IDs among `ids` that the store holds (a query per 500 IDs, never a read of every client).
    async fn taken_client_ids(&self, ids: &[ClientId]) -> Result<Vec<ClientId>>;
    /// The clients inserted or changed and the IDs deleted after sequence `since`
    /// ([`FROM_THE_START`]: every client), read in one snapshot, with the sequence to ask from
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
    /// Reads client `id`, lets `change` alter it and writes it back (as [`ClientStore::update_client`]
    /// would) with `audit`, in one transaction that holds the row (SQLite's write lock, PostgreSQL's `FOR
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
    async fn after_bulk_load(&self) -> Result<()>;
}

/// Most clients one `INSERT` writes: 13 values each, well within both databases' bound-value limits.
const INSERT_CHUNK: usize = 500;

/// The SQL of the incremental sync.
mod sql {
    /// Clients inserted or changed after `$1`, in sequence order.
    pub const CHANGED: &str = "SELECT * FROM api_clients WHERE change_seq > $1 ORDER BY change_seq";
    /// Clients deleted after `$1`.
    pub const DELETED: &str = "SELECT client_id, seq FROM client_tombstones WHERE seq > $1 ORDER BY seq";
    pub const BY_ID: &str = "SELECT * FROM api_clients WHERE client_id = $1";
}

/// The customers `client` names: its own and its members'.
fn customers_of(client: &ApiClient) -> impl Iterator<Item = &CustomerId> {
    std::iter::once(&client.cid).chain(&client.member_cids)
}

impl<DB: Dialect> SqlStore<DB> {
    /// Writes every field of an existing client but its secret (`tokens_not_before` only forward), in the
    /// caller's transaction; false when there is no such client.
    async fn write_client(conn: &mut DB::Connection, client: &ApiClient) -> Result<bool> {
        Self::ensure_customers(conn, customers_of(client), client.updated_at).await?;
        let lists = ClientLists::of(client);
        let sql = format!(
            "UPDATE api_clients SET name = $1, description = $2, scopes = $3, member_cids = $4, allowed_ips = $5, \
             enabled = $6, tokens_not_before = {}(tokens_not_before, $7), updated_at = $8 WHERE client_id = $9",
            DB::GREATEST
        );
        let done = statement(sql)
            .bind(&client.name)
            .bind(&client.description)
            .bind(lists.scopes)
            .bind(lists.member_cids)
            .bind(lists.allowed_ips)
            .bind(client.enabled)
            .bind(client.tokens_not_before)
            .bind(client.updated_at)
            .bind(client.id.as_str())
            .execute::<DB>(conn)
            .await?;
        Ok(done == 1)
    }

    /// Inserts clients, each with its audit entry, in one transaction (a taken ID writes none of them);
    /// `only_if_first`: only into an empty table (answers whether it wrote).
    async fn insert_clients(&self, clients: &[(&ApiClient, Option<&AuditEntry>)], only_if_first: bool) -> Result<bool> {
        let mut tx = self.write().await?;
        if only_if_first {
            // Excluding other first clients before looking, so two first starts cannot both see none.
            DB::exclude(&mut tx, Exclusion::Initialisation).await?;
            let count: i64 = statement("SELECT COUNT(*) FROM api_clients").scalar::<DB, i64>(&mut tx).await?;
            if count > 0 {
                return Ok(false);
            }
        }
        // Each customer once per batch (an import names the same few over and over), then the rows.
        let mut customers = std::collections::HashSet::new();
        for &(client, _) in clients {
            if customers_of(client).any(|cid| customers.insert(cid)) {
                Self::ensure_customers(&mut tx, customers_of(client), client.created_at).await?;
            }
        }
        let rows: Vec<&ApiClient> = clients.iter().map(|&(client, _)| client).collect();
        match Self::insert_rows(&mut tx, &rows).await {
            Err(e) if is_unique_violation(&e) => {
                drop(tx);
                return Err(StoreError::ClientExists(self.taken_id(&rows).await?));
            }
            other => other?,
        }
        for &(_, audit) in clients {
            if let Some(entry) = audit {
                Self::insert_audit(&mut tx, entry).await?;
            }
        }
        Self::commit(tx).await?;
        Ok(true)
    }

    /// Inserts `clients` in the caller's transaction with one statement per [`INSERT_CHUNK`] clients, so
    /// a batch of an import fires each statement trigger (PostgreSQL's customer counts) once per chunk,
    /// not per client. A taken ID fails the statement (a unique violation); see [`SqlStore::taken_id`].
    async fn insert_rows(conn: &mut DB::Connection, clients: &[&ApiClient]) -> Result<()> {
        const COLUMNS: usize = 13;
        for chunk in clients.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO api_clients (client_id, name, description, scopes, cid, member_cids, allowed_ips, \
                 enabled, secret_digest, created_at, updated_at, last_used_at, tokens_not_before) VALUES ",
            );
            let mut binds = Vec::with_capacity(chunk.len() * COLUMNS);
            for (i, client) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 { "(" } else { ", (" });
                sql.push_str(&placeholders(i * COLUMNS + 1, COLUMNS));
                sql.push(')');
                let lists = ClientLists::of(client);
                binds.extend([
                    Bound::from(client.id.as_str()),
                    Bound::from(&client.name),
                    Bound::from(&client.description),
                    Bound::from(lists.scopes),
                    Bound::from(&client.cid),
                    Bound::from(lists.member_cids),
                    Bound::from(lists.allowed_ips),
                    Bound::from(client.enabled),
                    Bound::from(client.secret_digest.as_bytes().as_slice()),
                    Bound::from(client.created_at),
                    Bound::from(client.updated_at),
                    Bound::from(client.last_used_at),
                    Bound::from(client.tokens_not_before),
                ]);
            }
            Statement::with_binds(sql, binds).execute::<DB>(conn).await?;
        }
        Ok(())
    }

    /// After an insert of `clients` failed on a taken ID (and its transaction ended): the first of them
    /// the store holds, to name in the error (the first of all when none is there any more).
    async fn taken_id(&self, clients: &[&ApiClient]) -> Result<ClientId> {
        let ids: Vec<ClientId> = clients.iter().map(|c| c.id.clone()).collect();
        let taken: std::collections::HashSet<ClientId> = self.taken_client_ids(&ids).await?.into_iter().collect();
        let first = ids.iter().find(|id| taken.contains(*id)).or(ids.first());
        first.cloned().ok_or_else(|| StoreError::Corrupt("an insert of no client failed".into()))
    }
}

#[async_trait]
impl<DB: Dialect> ClientStore for SqlStore<DB> {
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
        let record: Option<ClientRecord> = self.optional(statement(sql::BY_ID).bind(id.as_str())).await?;
        record.map(ClientRecord::into_client).transpose()
    }

    async fn clients(&self) -> Result<Vec<ApiClient>> {
        let rows: Vec<ClientRecord> =
            self.all(statement("SELECT * FROM api_clients ORDER BY created_at, client_id")).await?;
        rows.into_iter().map(ClientRecord::into_client).collect()
    }

    async fn taken_client_ids(&self, ids: &[ClientId]) -> Result<Vec<ClientId>> {
        let mut taken = Vec::new();
        for chunk in ids.chunks(INSERT_CHUNK) {
            let sql =
                format!("SELECT client_id FROM api_clients WHERE client_id IN ({})", placeholders(1, chunk.len()));
            let binds = chunk.iter().map(|id| Bound::from(id.as_str())).collect();
            let rows: Vec<(String,)> = self.all(Statement::with_binds(sql, binds)).await?;
            for (id,) in rows {
                taken.push(ClientId::parse(&id).map_err(|_| StoreError::Corrupt(format!("client ID {id:?}")))?);
            }
        }
        Ok(taken)
    }

    async fn client_changes(&self, since: i64) -> Result<ClientDelta> {
        // Both reads in one snapshot (see the `client_sequence` migrations for why reading past the
        // highest sequence seen then skips nothing).
        let mut tx = DB::begin(&self.pool, None).await?;
        if let Some(snapshot) = DB::SNAPSHOT {
            statement(snapshot).execute::<DB>(&mut tx).await?;
        }
        let changed: Vec<ClientRecord> = statement(sql::CHANGED).bind(since).fetch_all::<DB, _>(&mut tx).await?;
        let deleted: Vec<(String, i64)> = statement(sql::DELETED).bind(since).fetch_all::<DB, _>(&mut tx).await?;
        Self::commit(tx).await?;
        delta(since, changed, deleted)
    }

    async fn client_page(&self, query: &ClientQuery) -> Result<ClientPage> {
        let sql = query.fetch_limit().sql()?;
        let mut conn = self.conn().await?;
        let rows: Vec<ClientRecord> =
            Statement::with_binds(sql.page, sql.page_binds).fetch_all::<DB, _>(&mut conn).await?;
        let total: i64 = Statement::with_binds(sql.count, sql.count_binds).scalar::<DB, i64>(&mut conn).await?;
        query.page(rows, total as u64)
    }

    async fn update_client_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.write().await?;
        let written = Self::write_client(&mut tx, client).await?;
        Self::audit_if(&mut tx, written, audit).await?;
        Self::commit(tx).await?;
        Ok(written)
    }

    async fn modify_client_audited(
        &self,
        id: &ClientId,
        change: &ClientChange<'_>,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<ApiClient>> {
        let mut tx = self.write().await?;
        let select = format!("{}{}", sql::BY_ID, DB::LOCK_ROWS);
        let record: Option<ClientRecord> = statement(select).bind(id.as_str()).fetch_optional::<DB, _>(&mut tx).await?;
        let Some(record) = record else { return Ok(None) };
        let mut client = record.into_client()?;
        change(&mut client);
        let written = Self::write_client(&mut tx, &client).await?;
        Self::audit_if(&mut tx, written, audit).await?;
        Self::commit(tx).await?;
        Ok(written.then_some(client))
    }

    async fn set_secret_audited(&self, client: &ApiClient, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.write().await?;
        let sql = format!(
            "UPDATE api_clients SET secret_digest = $1, tokens_not_before = {}(tokens_not_before, $2), \
             updated_at = $3 WHERE client_id = $4",
            DB::GREATEST
        );
        let done = statement(sql)
            .bind(client.secret_digest.as_bytes().as_slice())
            .bind(client.tokens_not_before)
            .bind(client.updated_at)
            .bind(client.id.as_str())
            .execute::<DB>(&mut tx)
            .await?;
        Self::audit_if(&mut tx, done == 1, audit).await?;
        Self::commit(tx).await?;
        Ok(done == 1)
    }

    async fn delete_client_audited(&self, id: &ClientId, audit: Option<&AuditEntry>) -> Result<bool> {
        let mut tx = self.write().await?;
        let done =
            statement("DELETE FROM api_clients WHERE client_id = $1").bind(id.as_str()).execute::<DB>(&mut tx).await?;
        Self::audit_if(&mut tx, done == 1, audit).await?;
        Self::commit(tx).await?;
        Ok(done == 1)
    }

    async fn record_last_used(&self, uses: &[(ClientId, i64)]) -> Result<()> {
        let mut tx = self.write().await?;
        let sql = format!(
            "UPDATE api_clients SET last_used_at = {}(COALESCE(last_used_at, 0), $1) WHERE client_id = $2",
            DB::GREATEST
        );
        for (id, at) in uses {
            statement(&sql).bind(*at).bind(id.as_str()).execute::<DB>(&mut tx).await?;
        }
        Self::commit(tx).await
    }

    async fn after_bulk_load(&self) -> Result<()> {
        DB::after_bulk_load(&self.pool).await
    }
}

/// The delta of a snapshot's changed rows and tombstones past `since`.
fn delta(since: i64, changed: Vec<ClientRecord>, deleted: Vec<(String, i64)>) -> Result<ClientDelta> {
    let mut seq = since;
    let mut clients = Vec::with_capacity(changed.len());
    for record in changed {
        seq = seq.max(record.change_seq);
        clients.push(record.into_client()?);
    }
    let mut gone = Vec::with_capacity(deleted.len());
    for (id, at) in deleted {
        seq = seq.max(at);
        gone.push(ClientId::parse(&id).map_err(|_| StoreError::Corrupt(format!("tombstone of client {id:?}")))?);
    }
    Ok(ClientDelta { changed: clients, deleted: gone, seq })
}
