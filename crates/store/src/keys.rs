//! Signing keys: the Ed25519 keys tokens are signed with, and their retirement.

use async_trait::async_trait;
use talon_auth::SigningKey;

use crate::sql::{statement, Dialect, SqlStore};
use crate::{Result, StoreError};

#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>>;
    async fn add_signing_key(&self, key: &SigningKey) -> Result<()>;
    /// Retires a key: it signs no more, and the tokens it signed are refused from `at` on (an earlier
    /// retirement is kept). `false` when no key has this `kid`.
    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<bool>;
}

#[async_trait]
impl<DB: Dialect> KeyStore for SqlStore<DB> {
    async fn signing_keys(&self) -> Result<Vec<SigningKey>> {
        let rows: Vec<(String, Vec<u8>, i64, Option<i64>)> = self
            .all(statement("SELECT kid, pkcs8, created_at, retired_at FROM signing_keys ORDER BY created_at, kid"))
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
        self.run(
            statement("INSERT INTO signing_keys (kid, pkcs8, created_at, retired_at) VALUES ($1, $2, $3, $4)")
                .bind(&key.kid)
                .bind(key.pkcs8_der())
                .bind(key.created_at)
                .bind(key.retired_at),
        )
        .await?;
        Ok(())
    }

    async fn retire_signing_key(&self, kid: &str, at: i64) -> Result<bool> {
        // An earlier retirement stands: retiring again can only bring it forward.
        let sql =
            format!("UPDATE signing_keys SET retired_at = {}(COALESCE(retired_at, $1), $1) WHERE kid = $2", DB::LEAST);
        Ok(self.run(statement(sql).bind(at).bind(kid)).await? > 0)
    }
}
