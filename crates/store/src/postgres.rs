//! The PostgreSQL store: many Talon nodes on one database. Migrations are embedded; sqlx's migrator takes
//! an advisory lock, and first-start initialisation takes one of its own, so nodes may start together.
//! Writers exclude each other by row locks (`FOR UPDATE`) and, where the rows may not exist yet,
//! transaction-scoped advisory locks; the schema's triggers NOTIFY every change.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Pool, Postgres};

use crate::records::revocation;
use crate::sql::{driver, statement, Dialect, Exclusion, SqlStore};
use crate::{Result, Revocation, RevocationCursor};

/// Advisory lock key that serialises first-start initialisation and first-client creation across nodes.
const INIT_LOCK: i64 = 0x7461_6c6f_6e00_0001;

/// Channel on which the schema's triggers announce changes (see the migration).
const CHANGES_CHANNEL: &str = "talon_changes";

/// Wait before listening again after the listening connection failed.
const RELISTEN_DELAY: Duration = Duration::from_secs(1);

/// The PostgreSQL implementation of [`crate::Store`].
pub type PostgresStore = SqlStore<Postgres>;

driver!(Postgres);

impl Dialect for Postgres {
    const BEGIN_WRITE: Option<&'static str> = None;
    // READ COMMITTED, the default, takes a snapshot per statement.
    const SNAPSHOT: Option<&'static str> = Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const GREATEST: &'static str = "GREATEST";
    const LEAST: &'static str = "LEAST";

    async fn exclude<'e>(conn: &'e mut Self::Connection, what: Exclusion<'e>) -> Result<()> {
        // The keys are those every version of Talon took, so nodes of two versions exclude each other.
        let lock = match what {
            Exclusion::Initialisation => statement("SELECT pg_advisory_xact_lock($1)").bind(INIT_LOCK),
            Exclusion::PolicySettings(cid) => {
                statement("SELECT pg_advisory_xact_lock(hashtextextended('talon.policy_settings:' || $1, 0))").bind(cid)
            }
            Exclusion::Entities(cid, resource) => {
                statement("SELECT pg_advisory_xact_lock(hashtext($1 || '/' || $2))").bind(cid).bind(resource)
            }
        };
        lock.execute::<Postgres>(conn).await?;
        Ok(())
    }

    async fn revocations_since(
        pool: &Pool<Self>,
        cursor: RevocationCursor,
        now: i64,
    ) -> Result<(Vec<Revocation>, RevocationCursor)> {
        // Transaction IDs are handed out at start but rows become visible at commit, in any order. So the
        // next read starts at the oldest transaction still running now (the snapshot's xmin): a revocation
        // committed later has an ID at least that large. Both statements see one snapshot.
        let mut tx = pool.begin().await?;
        statement("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute::<Postgres>(&mut tx).await?;
        let xmin: i64 = statement("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .scalar::<Postgres, i64>(&mut tx)
            .await?;
        let rows: Vec<(String, String, i64)> =
            statement("SELECT jti, client_id, expires_at FROM revoked_tokens WHERE txid >= $1 AND expires_at > $2")
                .bind(cursor.0)
                .bind(now)
                .fetch_all::<Postgres, _>(&mut tx)
                .await?;
        tx.commit().await?;
        let revocations = rows
            .into_iter()
            .map(|(jti, client_id, expires_at)| revocation(jti, &client_id, expires_at))
            .collect::<Result<_>>()?;
        Ok((revocations, RevocationCursor(xmin)))
    }

    async fn after_bulk_load(pool: &Pool<Self>) -> Result<()> {
        statement("ANALYZE api_clients, client_tombstones, client_counts, customers, audit_log")
            .execute::<Postgres>(&mut *pool.acquire().await?)
            .await?;
        Ok(())
    }

    async fn watch_changes(pool: &Pool<Self>, changed: Arc<tokio::sync::Notify>) {
        loop {
            match PgListener::connect_with(pool).await {
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
}

impl SqlStore<Postgres> {
    /// Connects to `url`, applies migrations and initialises the database if it is new.
    pub async fn open(url: &str, now: i64) -> Result<PostgresStore> {
        let pool =
            PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect(url).await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let store = SqlStore { pool };
        store.initialise(now).await?;
        Ok(store)
    }
}
