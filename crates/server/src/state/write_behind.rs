//! What the token path records without waiting for the store: when clients last got a token and the
//! audit entries of failed-authentication bursts. The sync loop writes them out; what fails to be
//! written is kept for its next round.

use std::collections::HashMap;

use parking_lot::Mutex;
use talon_auth::ClientId;
use talon_store::{AuditEntry, Store, StoreError};

#[derive(Default)]
pub struct WriteBehind {
    /// Last token issue per client.
    last_used: Mutex<HashMap<ClientId, i64>>,
    pending_audit: Mutex<Vec<AuditEntry>>,
}

impl WriteBehind {
    pub fn note_used(&self, id: &ClientId, at: i64) {
        self.last_used.lock().insert(id.clone(), at);
    }

    pub fn audit(&self, entry: AuditEntry) {
        self.pending_audit.lock().push(entry);
    }

    /// Writes pending audit entries; on failure they are kept for the next try.
    pub async fn flush_audit(&self, store: &dyn Store) -> Result<(), StoreError> {
        let pending: Vec<AuditEntry> = std::mem::take(&mut *self.pending_audit.lock());
        for (i, entry) in pending.iter().enumerate() {
            if let Err(e) = store.append_audit(entry).await {
                self.pending_audit.lock().splice(0..0, pending[i..].iter().cloned());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes pending last-use times; on failure they are kept for the next try.
    pub async fn flush_last_used(&self, store: &dyn Store) -> Result<(), StoreError> {
        let pending: Vec<(ClientId, i64)> = self.last_used.lock().drain().collect();
        if pending.is_empty() {
            return Ok(());
        }
        let result = store.record_last_used(&pending).await;
        if result.is_err() {
            let mut last_used = self.last_used.lock();
            for (id, at) in pending {
                let entry = last_used.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
        result
    }
}
