//! How a node learns that the store changed: counters that move with every change of clients,
//! customers, keys, hosts and records, and (PostgreSQL) a push on every change.

use std::sync::Arc;

use async_trait::async_trait;

use crate::sql::{statement, Dialect, SqlStore};
use crate::{ChangeVersion, Result};

#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    async fn change_version(&self) -> Result<ChangeVersion>;
    /// Signals `changed` whenever another process may have changed the store, for as long as the future
    /// runs. A backend without push notifications never signals (readers then rely on polling).
    async fn watch_changes(&self, changed: Arc<tokio::sync::Notify>);
}

#[async_trait]
impl<DB: Dialect> ChangeFeed for SqlStore<DB> {
    async fn change_version(&self) -> Result<ChangeVersion> {
        let rows: Vec<(String, i64)> = self.all(statement("SELECT name, value FROM change_counters")).await?;
        Ok(ChangeVersion::from_counters(rows))
    }

    async fn watch_changes(&self, changed: Arc<tokio::sync::Notify>) {
        DB::watch_changes(&self.pool, changed).await
    }
}
