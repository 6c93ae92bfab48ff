//! The deny list: token IDs (`jti`) revoked before their expiry.
//!
//! Bounded by the token lifetime: an entry is useless once its token has expired, so it is dropped then.

use parking_lot::RwLock;

use crate::FastMap;

/// Revoked token IDs with the time their token expires.
#[derive(Default)]
pub struct DenyList {
    /// Keyed by `jti`s of tokens that verified (a revocation names only verified tokens).
    entries: RwLock<FastMap<String, i64>>,
}

impl DenyList {
    pub fn new() -> DenyList {
        DenyList::default()
    }

    pub fn insert(&self, jti: String, expires_at: i64) {
        self.entries.write().insert(jti, expires_at);
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.entries.read().contains_key(jti)
    }

    /// Drops entries whose tokens have expired anyway.
    pub fn prune(&self, now: i64) {
        self.entries.write().retain(|_, exp| *exp > now);
    }

    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_entries_until_their_tokens_expire() {
        let d = DenyList::new();
        d.insert("a".into(), 100);
        d.insert("b".into(), 200);
        assert!(d.contains("a") && d.contains("b") && !d.contains("c"));
        d.prune(150);
        assert!(!d.contains("a") && d.contains("b"));
        assert_eq!(d.len(), 1);
    }
}
