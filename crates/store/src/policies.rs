//! CSPM policy settings: only those a customer changed are stored; the rest are at their defaults.

use async_trait::async_trait;
use talon_auth::CustomerId;
use talon_emulator::policy::{self, PolicyChange, PolicyError, PolicySetting};

use crate::records::{json_list, PolicyRecord};
use crate::sql::{statement, Dialect, Exclusion, SqlStore};
use crate::Result;

#[async_trait]
pub trait PolicyStore: Send + Sync + 'static {
    /// The CSPM policy settings `cid` has changed (the rest are at their defaults).
    async fn policy_settings(&self, cid: &CustomerId) -> Result<Vec<PolicySetting>>;
    /// Stores these settings of `cid`, all or none.
    async fn save_policy_settings(&self, cid: &CustomerId, settings: &[PolicySetting]) -> Result<()>;
    /// Applies `changes` to `cid`'s settings ([`talon_emulator::policy::apply`]: all of them or none) and saves the result,
    /// read and written in one transaction that excludes every other change of `cid`'s settings, so two
    /// concurrent updates of one policy cannot lose either change. Answers the new settings of the changed
    /// policies, or the rules' refusal (nothing written).
    async fn change_policy_settings(
        &self,
        cid: &CustomerId,
        changes: &[PolicyChange],
    ) -> Result<Result<Vec<PolicySetting>, PolicyError>>;
}

impl<DB: Dialect> SqlStore<DB> {
    /// `cid`'s changed CSPM policy settings, on `conn` (a pool connection or an open transaction).
    async fn select_policy_settings(conn: &mut DB::Connection, cid: &CustomerId) -> Result<Vec<PolicySetting>> {
        let rows: Vec<PolicyRecord> = statement(
            "SELECT policy_id, enabled, severity, regions, tag_excluded FROM policy_settings WHERE cid = $1 \
             ORDER BY policy_id",
        )
        .bind(cid)
        .fetch_all::<DB, _>(conn)
        .await?;
        rows.into_iter().map(PolicyRecord::into_setting).collect()
    }

    /// Writes `settings` of `cid`, inserting or replacing each policy's row, in the caller's transaction.
    async fn upsert_policy_settings(
        conn: &mut DB::Connection,
        cid: &CustomerId,
        settings: &[PolicySetting],
    ) -> Result<()> {
        for s in settings {
            statement(
                "INSERT INTO policy_settings (cid, policy_id, enabled, severity, regions, tag_excluded) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cid, policy_id) DO UPDATE SET \
                 enabled = excluded.enabled, severity = excluded.severity, regions = excluded.regions, \
                 tag_excluded = excluded.tag_excluded",
            )
            .bind(cid)
            .bind(i64::from(s.policy_id))
            .bind(s.enabled)
            .bind(s.severity.as_str())
            .bind(json_list(&s.regions))
            .bind(s.tag_excluded)
            .execute::<DB>(conn)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<DB: Dialect> PolicyStore for SqlStore<DB> {
    async fn policy_settings(&self, cid: &CustomerId) -> Result<Vec<PolicySetting>> {
        Self::select_policy_settings(&mut *self.conn().await?, cid).await
    }

    async fn save_policy_settings(&self, cid: &CustomerId, settings: &[PolicySetting]) -> Result<()> {
        let mut tx = self.write().await?;
        Self::upsert_policy_settings(&mut tx, cid, settings).await?;
        Self::commit(tx).await
    }

    async fn change_policy_settings(
        &self,
        cid: &CustomerId,
        changes: &[PolicyChange],
    ) -> Result<Result<Vec<PolicySetting>, PolicyError>> {
        let mut tx = self.write().await?;
        // A lock per customer's settings, held to the commit: the rows a change reads may not exist yet (a
        // policy at its default has none), so row locks alone could not order two first changes.
        DB::exclude(&mut tx, Exclusion::PolicySettings(cid)).await?;
        let stored = Self::select_policy_settings(&mut tx, cid).await?;
        let updated = match policy::apply(&stored, changes) {
            Ok(updated) => updated,
            Err(refused) => return Ok(Err(refused)),
        };
        Self::upsert_policy_settings(&mut tx, cid, &updated).await?;
        Self::commit(tx).await?;
        Ok(Ok(updated))
    }
}
