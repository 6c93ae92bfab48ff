//! talon-auth: the domain of the Talon authorization server.
//!
//! API clients and their secrets, scopes, the rules that decide whether a token may be issued or a request
//! authorized, Ed25519 JWT issue and verification, the revocation deny list, rate limits and the clock.
//! No HTTP types, no SQL: the server and the store translate to and from these types.

pub mod admin;
pub mod authorize;
pub mod client;
pub mod clock;
pub mod ids;
pub mod keys;
pub mod ratelimit;
pub mod revocation;
pub mod secret;
pub mod token;

/// A hash map with a fast, per-process randomly seeded hasher (foldhash), for the bearer path's lookups:
/// the verified-token cache hashes a ~300-byte token on every request, where SipHash showed in profiles.
/// Only for keys the server made or verified itself (token texts that verified, `jti`s, client and
/// customer IDs), never for keys a client chooses freely, which keep std's SipHash against flooding.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub use admin::InvalidClient;
pub use authorize::{authorize_request, authorize_token_request, token_holder, Principal, RequestDenied, TokenDenied};
pub use client::{ApiClient, ClientChanges, ClientSpec};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{ClientId, CustomerId, IdError};
pub use keys::SigningKey;
pub use ratelimit::{address_key, RateLimiter, RateStatus};
pub use revocation::DenyList;
pub use secret::{ClientSecret, SecretDigest};
pub use token::{IssuedToken, Keyring, TokenError, VerifiedToken, TOKEN_LIFETIME_SECS};
