//! Ed25519 signing keys for access tokens. The private half never leaves the store and this type's
//! `Debug` never shows it.

use base64::Engine;
use rand::RngCore;
use ring::signature::{Ed25519KeyPair, KeyPair};
use secrecy::{ExposeSecret, SecretBox};

/// An Ed25519 key pair with its key ID (`kid`).
pub struct SigningKey {
    pub kid: String,
    pkcs8: SecretBox<Vec<u8>>,
    public: [u8; 32],
    pub created_at: i64,
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
        let rng = ring::rand::SystemRandom::new();
        // Key generation fails only when the OS has no randomness; nothing can be signed then.
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the OS random source failed");
        let mut kid = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut kid);
        SigningKey::from_pkcs8(hex::encode(kid), pkcs8.as_ref().to_vec(), now)
            .expect("a freshly generated key is valid")
    }

    /// Rebuilds a key from its stored PKCS#8 document.
    pub fn from_pkcs8(kid: String, pkcs8: Vec<u8>, created_at: i64) -> Result<SigningKey, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(|_| KeyError { kid: kid.clone() })?;
        let public: [u8; 32] = pair.public_key().as_ref().try_into().map_err(|_| KeyError { kid: kid.clone() })?;
        Ok(SigningKey { kid, pkcs8: SecretBox::new(Box::new(pkcs8)), public, created_at })
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
        f.debug_struct("SigningKey").field("kid", &self.kid).field("public_x", &self.public_x()).finish_non_exhaustive()
    }
}
