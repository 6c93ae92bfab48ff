//! The audit log: who changed what, from where. Callers never put a secret in it.

use async_trait::async_trait;

use crate::records::{page_bounds, AuditRecord, AUDIT_COLUMNS};
use crate::sql::{statement, Dialect, SqlStore};
use crate::{AuditEntry, Result};

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an entry to the audit log; an entry whose ID is there already is left as it is.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()>;
    /// A page of the audit log, newest first, and how many entries it holds in all.
    async fn audit_entries(&self, offset: u64, limit: u64) -> Result<(Vec<AuditEntry>, u64)>;
}

impl<DB: Dialect> SqlStore<DB> {
    /// Appends an audit entry (idempotent by entry ID) on `conn`, inside the caller's transaction if any.
    pub(crate) async fn insert_audit(conn: &mut DB::Connection, entry: &AuditEntry) -> Result<()> {
        statement(
            "INSERT INTO audit_log (id, at, actor, action, target, source_ip, trace_id, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&entry.id)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(entry.target.as_ref())
        .bind(&entry.source_ip)
        .bind(&entry.trace_id)
        .bind(&entry.details)
        .execute::<DB>(conn)
        .await?;
        Ok(())
    }

    /// Appends `audit` when the change it records happened.
    pub(crate) async fn audit_if(conn: &mut DB::Connection, changed: bool, audit: Option<&AuditEntry>) -> Result<()> {
        match audit {
            Some(entry) if changed => Self::insert_audit(conn, entry).await,
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl<DB: Dialect> AuditStore for SqlStore<DB> {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        Self::insert_audit(&mut *self.conn().await?, entry).await
    }

    async fn audit_entries(&self, offset: u64, limit: u64) -> Result<(Vec<AuditEntry>, u64)> {
        let (offset, limit) = page_bounds(offset, limit);
        let total: i64 = self.scalar(statement("SELECT COUNT(*) FROM audit_log")).await?;
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY at DESC, seq DESC LIMIT $1 OFFSET $2");
        let rows: Vec<AuditRecord> = self.all(statement(sql).bind(limit).bind(offset)).await?;
        Ok((rows.into_iter().map(AuditEntry::from).collect(), total as u64))
    }
}
