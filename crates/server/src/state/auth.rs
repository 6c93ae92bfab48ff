//! The auth snapshot: what the token and bearer paths read on every request. The signing keys, the
//! clients and the tokens verified already are snapshots swapped whole with arc-swap, so that readers take
//! no lock and a writer never blocks them; the revoked token IDs are talon-auth's `DenyList` (a read lock
//! per check, written only by a revocation and the sync).

use std::sync::Arc;

use arc_swap::ArcSwap;
use talon_auth::{ApiClient, ClientId, Clock, DenyList, Keyring, TokenError, VerifiedToken};
use talon_store::ClientDelta;

use parking_lot::Mutex;

/// The clients by ID, each shared so that looking one up copies nothing. A persistent map (a hash array
/// mapped trie): a changed copy shares all but the changed paths with the snapshot it was made from, so
/// applying a few changed clients costs the same with a hundred clients or a million.
pub type ClientMap =
    imbl::GenericHashMap<ClientId, Arc<ApiClient>, foldhash::fast::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// Tokens verified already, by their text: a persistent map, so adding one copies only its path.
type TokenMap =
    imbl::GenericHashMap<Arc<str>, Arc<VerifiedToken>, foldhash::fast::RandomState, imbl::shared_ptr::DefaultSharedPtr>;

/// Verified tokens with the generation of the keys they were verified with (it grows whenever the keys
/// change).
#[derive(Clone, Default)]
struct VerifiedCache {
    generation: u64,
    tokens: TokenMap,
}

/// Most verified tokens kept in memory.
const MAX_CACHED_TOKENS: usize = 100_000;

pub struct AuthSnapshot {
    clock: Arc<dyn Clock>,
    keyring: ArcSwap<Keyring>,
    clients: ArcSwap<ClientMap>,
    deny: DenyList,
    /// Tokens whose signature and claims were checked already, by token text: the bearer check is a hash
    /// lookup in the common case. Entries go when their token expires or the keys change. Revocation and
    /// the client's current state are checked on every request, cache or not.
    verified: ArcSwap<VerifiedCache>,
    /// Held by each writer of `verified` from its load to its store: writers take turns (readers never
    /// wait), so the sync's prune, a pass over every cached token, is never redone because a new token
    /// was added meanwhile, as a compare-and-swap retry would.
    verified_writer: Mutex<()>,
}

impl AuthSnapshot {
    pub(super) fn new(clock: Arc<dyn Clock>, keyring: Keyring) -> AuthSnapshot {
        AuthSnapshot {
            clock,
            keyring: ArcSwap::from_pointee(keyring),
            clients: ArcSwap::from_pointee(ClientMap::default()),
            deny: DenyList::new(),
            verified: ArcSwap::from_pointee(VerifiedCache::default()),
            verified_writer: Mutex::new(()),
        }
    }

    /// The clock tokens are checked by.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.keyring.load_full()
    }

    /// The client with this ID, as of the last refresh (shared, not copied: the token path asks per request).
    pub fn client(&self, id: &ClientId) -> Option<Arc<ApiClient>> {
        self.clients.load().get(id).cloned()
    }

    /// Every client, as of the last refresh: a snapshot that later changes do not touch.
    pub fn clients(&self) -> Arc<ClientMap> {
        self.clients.load_full()
    }

    /// Verifies a bearer token, from the cache of verified tokens when it holds it.
    pub fn verify_token(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenError> {
        let now = self.clock.now();
        let generation = {
            let cache = self.verified.load();
            if let Some(hit) = cache.tokens.get(token) {
                return if now < hit.usable_until {
                    Ok(hit.clone())
                } else if now < hit.expires_at {
                    Err(TokenError::RetiredKey)
                } else {
                    Err(TokenError::Expired)
                };
            }
            cache.generation
        };
        let verified = Arc::new(self.keyring().verify(token, now)?);
        // Only valid tokens get here, and each needs a token request: the cap is a safety net. A token
        // verified with keys that changed meanwhile is not cached (the next request verifies it again).
        self.update_verified(|cache| {
            (cache.generation == generation && cache.tokens.len() < MAX_CACHED_TOKENS).then(|| {
                let mut next = cache.clone();
                next.tokens.insert(Arc::from(token), verified.clone());
                next
            })
        });
        Ok(verified)
    }

    /// Swaps in `change(current)` unless it answers `None`, one writer at a time.
    fn update_verified(&self, change: impl FnOnce(&VerifiedCache) -> Option<VerifiedCache>) {
        let _turn = self.verified_writer.lock();
        if let Some(next) = change(&self.verified.load()) {
            self.verified.store(Arc::new(next));
        }
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.deny.contains(jti)
    }

    /// Refuses token `jti` on this node from now on (until `expires_at`, when it would end anyway).
    pub(super) fn deny(&self, jti: String, expires_at: i64) {
        self.deny.insert(jti, expires_at);
    }

    /// Forgets revocations and verified tokens past their expiry.
    pub(super) fn prune(&self, now: i64) {
        self.deny.prune(now);
        self.update_verified(|cache| {
            cache.tokens.values().any(|t| now >= t.usable_until).then(|| {
                let mut next = cache.clone();
                next.tokens.retain(|_, t| now < t.usable_until);
                next
            })
        });
    }

    /// Swaps in new signing keys; tokens verified with the old ones are verified again.
    pub(super) fn replace_keyring(&self, keyring: Keyring) {
        self.keyring.store(Arc::new(keyring));
        self.update_verified(|cache| {
            Some(VerifiedCache { generation: cache.generation + 1, tokens: TokenMap::default() })
        });
    }

    /// Swaps in the clients with `delta` applied.
    pub(super) fn apply(&self, delta: ClientDelta) {
        if delta.changed.is_empty() && delta.deleted.is_empty() {
            return;
        }
        let mut clients = ClientMap::clone(&self.clients.load());
        for id in &delta.deleted {
            clients.remove(id);
        }
        for client in delta.changed {
            clients.insert(client.id.clone(), Arc::new(client));
        }
        // Only the sync (under its lock) swaps the clients: nothing else can have changed them meanwhile.
        self.clients.store(Arc::new(clients));
    }
}
