//! Customers (CIDs): the default one, made on first start, and each CID an API client names. The first
//! signing key is made together with the default customer.

use async_trait::async_trait;
use talon_auth::{CustomerId, SigningKey};

use crate::sql::{statement, Dialect, Exclusion, SqlStore};
use crate::{Result, StoreError, ADOPT_CONFLICT};

#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// The customer created on first start.
    async fn default_customer(&self) -> Result<CustomerId>;
    /// Every customer: the default one and each CID a client names.
    async fn customers(&self) -> Result<Vec<CustomerId>>;
    /// Makes `cid` the default customer (when moving a store). Refused when clients already belong to
    /// another default customer; a no-op when `cid` is the default already.
    async fn adopt_default_customer(&self, cid: &CustomerId, now: i64) -> Result<()>;
}

/// The tables with rows of a customer, in an order in which they can be deleted: a row's references
/// (and the rows its delete triggers write) go after it. `api_clients` is not here: a customer with
/// clients is never deleted.
const REFERENCING_TABLES: [&str; 7] =
    ["host_groups", "hosts", "host_versions", "policy_settings", "entities", "client_counts", "customers"];

const SELECT_DEFAULT: &str = "SELECT cid FROM customers WHERE is_default = TRUE";

fn parse_cid(cid: &str) -> Result<CustomerId> {
    CustomerId::parse(cid).map_err(|_| StoreError::Corrupt(format!("customer ID {cid:?}")))
}

impl<DB: Dialect> SqlStore<DB> {
    /// Creates the default customer and the first signing key if there are none, in one transaction
    /// that excludes every other initialisation: concurrent first starts create exactly one of each.
    pub(crate) async fn initialise(&self, now: i64) -> Result<()> {
        let mut tx = self.write().await?;
        DB::exclude(&mut tx, Exclusion::Initialisation).await?;
        statement(
            "INSERT INTO customers (cid, is_default, created_at) SELECT $1, TRUE, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM customers WHERE is_default = TRUE)",
        )
        .bind(&CustomerId::generate())
        .bind(now)
        .execute::<DB>(&mut tx)
        .await?;
        let key = SigningKey::generate(now);
        statement(
            "INSERT INTO signing_keys (kid, pkcs8, created_at, retired_at) SELECT $1, $2, $3, $4 \
             WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .bind(&key.kid)
        .bind(key.pkcs8_der())
        .bind(key.created_at)
        .bind(key.retired_at)
        .execute::<DB>(&mut tx)
        .await?;
        Self::commit(tx).await
    }

    /// Makes each customer `cids` names known (created at `now`), in the caller's transaction.
    pub(crate) async fn ensure_customers<'a>(
        conn: &mut DB::Connection,
        cids: impl IntoIterator<Item = &'a CustomerId>,
        now: i64,
    ) -> Result<()> {
        for cid in cids {
            statement(
                "INSERT INTO customers (cid, is_default, created_at) VALUES ($1, FALSE, $2) ON CONFLICT DO NOTHING",
            )
            .bind(cid)
            .bind(now)
            .execute::<DB>(conn)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<DB: Dialect> CustomerStore for SqlStore<DB> {
    async fn default_customer(&self) -> Result<CustomerId> {
        let cid: String = self.scalar(statement(SELECT_DEFAULT)).await?;
        CustomerId::parse(&cid).map_err(|_| StoreError::Corrupt("default customer ID".into()))
    }

    async fn customers(&self) -> Result<Vec<CustomerId>> {
        let cids: Vec<(String,)> = self.all(statement("SELECT cid FROM customers ORDER BY created_at, cid")).await?;
        cids.iter().map(|(c,)| parse_cid(c)).collect()
    }

    async fn adopt_default_customer(&self, cid: &CustomerId, now: i64) -> Result<()> {
        let mut tx = self.write().await?;
        DB::exclude(&mut tx, Exclusion::Initialisation).await?;
        let current: String = statement(SELECT_DEFAULT).scalar::<DB, String>(&mut tx).await?;
        if current == cid.as_str() {
            return Ok(());
        }
        let clients: i64 = statement("SELECT COUNT(*) FROM api_clients").scalar::<DB, i64>(&mut tx).await?;
        if clients > 0 {
            return Err(StoreError::Conflict(ADOPT_CONFLICT.to_owned()));
        }
        statement("UPDATE customers SET is_default = FALSE WHERE is_default = TRUE").execute::<DB>(&mut tx).await?;
        statement(
            "INSERT INTO customers (cid, is_default, created_at) VALUES ($1, TRUE, $2) \
             ON CONFLICT (cid) DO UPDATE SET is_default = TRUE",
        )
        .bind(cid)
        .bind(now)
        .execute::<DB>(&mut tx)
        .await?;
        // The replaced default customer goes, with what a server seeded or a user made for it before
        // any client existed: every row that references it (groups and hosts before their version row,
        // which their triggers write).
        for table in REFERENCING_TABLES {
            statement(format!("DELETE FROM {table} WHERE cid = $1")).bind(&current).execute::<DB>(&mut tx).await?;
        }
        Self::commit(tx).await
    }
}
