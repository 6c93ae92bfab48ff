//! Client secrets: 40 characters `[A-Za-z0-9]` from the OS CSPRNG, shown once, stored only as a digest.
//!
//! Why SHA-256 and not a slow password hash: the secret is generated here, never chosen by a person, and has
//! ~238 bits of entropy, so no dictionary or brute-force attack on the digest is feasible; a slow hash would
//! only make every token request cost milliseconds. Comparison is constant-time.

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a generated client secret.
pub const SECRET_LEN: usize = 40;

/// A client secret in clear, as shown once on create or reset. `Debug` is redacted by `SecretString`.
#[derive(Debug, Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> ClientSecret {
        let secret: String = rand::rngs::OsRng
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(SECRET_LEN)
            .map(char::from)
            .collect();
        ClientSecret(SecretString::from(secret))
    }

    /// The secret in clear: only for showing it once to its owner.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(self.expose())
    }
}

/// The stored form of a client secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    pub fn of(secret: &str) -> SecretDigest {
        SecretDigest(Sha256::digest(secret.as_bytes()).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<SecretDigest> {
        bytes.try_into().ok().map(SecretDigest)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// True when `candidate` is the secret; the comparison of digests takes the same time whatever they hold.
    pub fn matches(&self, candidate: &str) -> bool {
        SecretDigest::of(candidate).0.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_has_the_falcon_shape() {
        let s = ClientSecret::generate();
        assert_eq!(s.expose().len(), SECRET_LEN);
        assert!(s.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(s.expose(), ClientSecret::generate().expose());
    }

    #[test]
    fn digest_matches_only_the_secret() {
        let s = ClientSecret::generate();
        let d = s.digest();
        assert!(d.matches(s.expose()));
        assert!(!d.matches(""));
        assert!(!d.matches(&s.expose()[..39]));
        assert!(!d.matches(&format!("{}x", s.expose())));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = ClientSecret::generate();
        assert!(!format!("{s:?}").contains(s.expose()));
        assert!(!format!("{:?}", s.digest()).contains(&hex::encode(s.digest().as_bytes())));
    }
}
