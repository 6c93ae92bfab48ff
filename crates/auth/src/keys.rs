//! Ed25519 signing keys for access tokens. The private half never leaves the store and this type's
//! `Debug` never shows it.
//!
//! A key is retired by setting the instant from which the tokens it signed are refused: a retired key
//! never signs again, verifies until that instant (the grace period that lets its tokens run out), and
//! then leaves the JWKS.

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

/// An Ed25519 key pair with its key ID (`kid`).
pub struct SigningKey {
    pub kid: String,
    pkcs8: SecretBox<Vec<u8>>,
    public: [u8; 32],
    pub created_at: i64,
    /// From this instant on the key verifies nothing; `Some` at all means it no longer signs.
    pub retired_at: Option<i64>,
}

/// Stored key material that does not parse as an Ed25519 PKCS#8 document.
#[derive(Debug, thiserror::Error)]
#[error("signing key {kid} is not a valid Ed25519 PKCS#8 document")]
pub struct KeyError {
    pub kid: String,
}

impl SigningKey {
    /// A fresh key pair from the OS CSPRNG, with a random `kid`.
    pub fn generate(now: i64) -> SigningKey {
        let pair = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        // Encoding a valid key as PKCS#8 cannot fail.
        let pkcs8 = pair.to_pkcs8_der().expect("PKCS#8 encoding of a fresh key").as_bytes().to_vec();
        let mut kid = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut kid);
        SigningKey {
            kid: hex::encode(kid),
            pkcs8: SecretBox::new(Box::new(pkcs8)),
            public: pair.verifying_key().to_bytes(),
            created_at: now,
            retired_at: None,
        }
    }

    /// A fresh key that is newer than every key in `existing`, so it is the one that signs: its creation
    /// time is `now`, or one second past the newest key when that is not earlier (two keys of the same
    /// second would otherwise be ordered by their random `kid`).
    pub fn next_after(existing: &[SigningKey], now: i64) -> SigningKey {
        // Retired keys count too: a fresh key must sort after every key the stores hold.
        let newest = existing.iter().map(|k| k.created_at).max().unwrap_or(i64::MIN);
        SigningKey::generate(now.max(newest.saturating_add(1)))
    }

    /// Rebuilds a key from its stored PKCS#8 document.
    pub fn from_pkcs8(kid: String, pkcs8: Vec<u8>, created_at: i64) -> Result<SigningKey, KeyError> {
        let pair = ed25519_dalek::SigningKey::from_pkcs8_der(&pkcs8).map_err(|_| KeyError { kid: kid.clone() })?;
        let public = pair.verifying_key().to_bytes();
        Ok(SigningKey { kid, pkcs8: SecretBox::new(Box::new(pkcs8)), public, created_at, retired_at: None })
    }

    /// Whether this key may sign new tokens: it has not been retired (even with a grace period left).
    pub fn signs(&self) -> bool {
        self.retired_at.is_none()
    }

    /// Whether tokens this key signed still verify at `now`.
    pub fn verifies_at(&self, now: i64) -> bool {
        self.retired_at.is_none_or(|at| now < at)
    }

    /// The key pair as `aws-lc-rs` holds it, for signing (see `token` for why that library signs).
    pub(crate) fn signing_pair(&self) -> Option<aws_lc_rs::signature::Ed25519KeyPair> {
        let pair = ed25519_dalek::SigningKey::from_pkcs8_der(self.pkcs8.expose_secret()).ok()?;
        let seed = zeroize::Zeroizing::new(pair.to_bytes());
        aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(seed.as_slice(), &self.public).ok()
    }

    /// The private key as PKCS#8 DER, for the store only.
    pub fn pkcs8_der(&self) -> &[u8] {
        self.pkcs8.expose_secret()
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// The public key as the JWK `x` member (base64url, no padding).
    pub fn public_x(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.public)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("public_x", &self.public_x())
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}
