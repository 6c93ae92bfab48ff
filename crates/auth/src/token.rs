//! Access tokens: Ed25519-signed JWTs (JOSE `alg: EdDSA`, RFC 8037) with a `kid` header.
//!
//! Expiry is checked against the injected clock here, not by the JWT library (which reads the wall clock).

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use talon_wire::claims::Claims;
use talon_wire::ScopeSet;

use crate::client::ApiClient;
use crate::ids::{ClientId, CustomerId};
use crate::keys::SigningKey;

/// Lifetime of a token: 30 minutes. `expires_in` on the wire is one second less, as on the real API.
pub const TOKEN_LIFETIME_SECS: i64 = talon_wire::token::TOKEN_EXPIRES_IN as i64 + 1;

/// A freshly issued token.
pub struct IssuedToken {
    pub jwt: String,
    pub jti: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken").field("jti", &self.jti).field("expires_at", &self.expires_at).finish()
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub client_id: ClientId,
    pub cid: CustomerId,
    pub member_cid: Option<CustomerId>,
    pub scopes: ScopeSet,
    pub issued_at: i64,
    pub expires_at: i64,
    pub jti: String,
}

/// Why a token is not valid. All of these are a 401 on the wire; the variant is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a well-formed EdDSA JWT")]
    Malformed,
    #[error("token names a signing key this server does not have")]
    UnknownKey,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token claims are not Talon's")]
    BadClaims,
}

/// The keys that sign new tokens (the newest) and verify presented ones (all known).
pub struct Keyring {
    issuer: String,
    signing_kid: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl Keyring {
    /// Builds a keyring from the stored keys; the newest signs. `None` when there is no key.
    pub fn new(issuer: impl Into<String>, keys: &[SigningKey]) -> Option<Keyring> {
        let newest = keys.iter().max_by_key(|k| (k.created_at, k.kid.clone()))?;
        let verifying = keys
            .iter()
            .filter_map(|k| Some((k.kid.clone(), DecodingKey::from_ed_components(&k.public_x()).ok()?)))
            .collect();
        let issuer = issuer.into();
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is ours to check against the injected clock; `exp` presence is checked by deserialization.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(std::slice::from_ref(&issuer));
        Some(Keyring {
            issuer,
            signing_kid: newest.kid.clone(),
            signing: EncodingKey::from_ed_der(newest.pkcs8_der()),
            verifying,
            validation,
        })
    }

    /// Issues a token for `client`, optionally locked to `member_cid`.
    pub fn issue(&self, client: &ApiClient, member_cid: Option<&CustomerId>, now: i64) -> IssuedToken {
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let jti = hex::encode(jti);
        let expires_at = now + TOKEN_LIFETIME_SECS;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: client.id.to_string(),
            cid: client.cid.to_string(),
            member_cid: member_cid.map(|m| m.to_string()),
            scp: client.scopes.to_strings(),
            iat: now,
            exp: expires_at,
            jti: jti.clone(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        // Signing with a key that parsed as Ed25519 PKCS#8 cannot fail; serializing plain claims cannot either.
        let jwt = jsonwebtoken::encode(&header, &claims, &self.signing).expect("signing with a valid Ed25519 key");
        IssuedToken { jwt, jti, expires_at }
    }

    /// Verifies signature, issuer and expiry, and reads the claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Malformed);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self.verifying.get(&kid).ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => TokenError::BadClaims,
            _ => TokenError::Malformed,
        })?;
        let c = data.claims;
        if now >= c.exp {
            return Err(TokenError::Expired);
        }
        Ok(VerifiedToken {
            client_id: ClientId::parse(&c.sub).map_err(|_| TokenError::BadClaims)?,
            cid: CustomerId::parse(&c.cid).map_err(|_| TokenError::BadClaims)?,
            member_cid: c
                .member_cid
                .as_deref()
                .map(CustomerId::parse)
                .transpose()
                .map_err(|_| TokenError::BadClaims)?,
            scopes: ScopeSet::parse_all(&c.scp).map_err(|_| TokenError::BadClaims)?,
            issued_at: c.iat,
            expires_at: c.exp,
            jti: c.jti,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;
    use crate::client::tests::client_with;

    const NOW: i64 = 1_800_000_000;

    fn ring() -> (Keyring, SigningKey) {
        let key = SigningKey::generate(NOW);
        let again = SigningKey::from_pkcs8(key.kid.clone(), key.pkcs8_der().to_vec(), NOW).expect("reload");
        (Keyring::new("talon", &[key]).expect("one key"), again)
    }

    #[test]
    fn issues_and_verifies_a_token() {
        let (ring, _) = ring();
        let client = client_with(&[]);
        let member = CustomerId::generate();
        let issued = ring.issue(&client, Some(&member), NOW);
        let v = ring.verify(&issued.jwt, NOW + 10).expect("valid");
        assert_eq!(v.client_id, client.id);
        assert_eq!(v.cid, client.cid);
        assert_eq!(v.member_cid, Some(member));
        assert_eq!(v.scopes, client.scopes);
        assert_eq!(v.jti, issued.jti);
        assert_eq!(v.expires_at, NOW + TOKEN_LIFETIME_SECS);
    }

    #[test]
    fn expired_token_is_refused_by_the_injected_clock() {
        let (ring, _) = ring();
        let issued = ring.issue(&client_with(&[]), None, NOW);
        assert!(ring.verify(&issued.jwt, NOW + TOKEN_LIFETIME_SECS - 1).is_ok());
        assert_eq!(ring.verify(&issued.jwt, NOW + TOKEN_LIFETIME_SECS).err(), Some(TokenError::Expired));
    }

    #[test]
    fn token_of_another_key_or_issuer_is_refused() {
        let (a, _) = ring();
        let (b, _) = ring();
        let issued = a.issue(&client_with(&[]), None, NOW);
        assert_eq!(b.verify(&issued.jwt, NOW).err(), Some(TokenError::UnknownKey));

        // Same kid, different key material: the signature fails.
        let (_, key_a) = ring();
        let forged_key = SigningKey::generate(NOW);
        let forged = SigningKey::from_pkcs8(key_a.kid.clone(), forged_key.pkcs8_der().to_vec(), NOW).expect("key");
        let real = Keyring::new("talon", &[key_a]).expect("ring");
        let forger = Keyring::new("talon", &[forged]).expect("ring");
        let token = forger.issue(&client_with(&[]), None, NOW);
        assert_eq!(real.verify(&token.jwt, NOW).err(), Some(TokenError::BadSignature));
    }

    #[test]
    fn wrong_issuer_is_refused() {
        let key = SigningKey::generate(NOW);
        let copy = SigningKey::from_pkcs8(key.kid.clone(), key.pkcs8_der().to_vec(), NOW).expect("key");
        let mine = Keyring::new("talon", &[key]).expect("ring");
        let theirs = Keyring::new("elsewhere", &[copy]).expect("ring");
        let token = theirs.issue(&client_with(&[]), None, NOW);
        assert_eq!(mine.verify(&token.jwt, NOW).err(), Some(TokenError::BadClaims));
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let (ring, _) = ring();
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let issued = ring.issue(&client_with(&[]), None, NOW);
        let payload = issued.jwt.split('.').nth(1).expect("payload").to_owned();
        let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), payload);
        assert_eq!(ring.verify(&none, NOW).err(), Some(TokenError::Malformed));
        let hs = format!("{}.{}.AAAA", b64(r#"{"alg":"HS256","typ":"JWT","kid":"x"}"#), payload);
        assert_eq!(ring.verify(&hs, NOW).err(), Some(TokenError::Malformed));
        for garbage in ["", "abc", "a.b.c", "....", "\u{0}"] {
            assert!(ring.verify(garbage, NOW).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn newest_key_signs_and_older_keys_still_verify() {
        let old = SigningKey::generate(NOW - 100);
        let old_copy = SigningKey::from_pkcs8(old.kid.clone(), old.pkcs8_der().to_vec(), NOW - 100).expect("key");
        let old_ring = Keyring::new("talon", &[old]).expect("ring");
        let old_token = old_ring.issue(&client_with(&[]), None, NOW);
        let new = SigningKey::generate(NOW);
        let new_kid = new.kid.clone();
        let both = Keyring::new("talon", &[old_copy, new]).expect("ring");
        assert!(both.verify(&old_token.jwt, NOW).is_ok());
        let fresh = both.issue(&client_with(&[]), None, NOW);
        let header = jsonwebtoken::decode_header(&fresh.jwt).expect("header");
        assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    }
}
