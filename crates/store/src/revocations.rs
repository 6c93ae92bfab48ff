//! Revoked tokens: kept until the token would have expired anyway, read by every node from a cursor.

use async_trait::async_trait;
use talon_auth::ClientId;

use crate::sql::{statement, Dialect, SqlStore};
use crate::{Result, Revocation, RevocationCursor};

#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Persists a revocation (idempotent per `jti`).
    async fn revoke_token(&self, jti: &str, client_id: &ClientId, expires_at: i64, now: i64) -> Result<()>;
    /// Revocations of unexpired tokens made since `cursor` (some seen before may come again), and the
    /// cursor for the next call. No revocation committed after a call is ever missed by the next one.
    async fn revocations_since(
        &self,
        cursor: RevocationCursor,
        now: i64,
    ) -> Result<(Vec<Revocation>, RevocationCursor)>;
    /// Deletes revocations of tokens that have expired anyway.
    async fn prune_revocations(&self, now: i64) -> Result<u64>;
}

#[async_trait]
impl<DB: Dialect> RevocationStore for SqlStore<DB> {
    async fn revoke_token(&self, jti: &str, client_id: &ClientId, expires_at: i64, now: i64) -> Result<()> {
        self.run(
            statement(
                "INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(jti)
            .bind(client_id.as_str())
            .bind(expires_at)
            .bind(now),
        )
        .await?;
        Ok(())
    }

    async fn revocations_since(
        &self,
        cursor: RevocationCursor,
        now: i64,
    ) -> Result<(Vec<Revocation>, RevocationCursor)> {
        DB::revocations_since(&self.pool, cursor, now).await
    }

    async fn prune_revocations(&self, now: i64) -> Result<u64> {
        self.run(statement("DELETE FROM revoked_tokens WHERE expires_at <= $1").bind(now)).await
    }
}
