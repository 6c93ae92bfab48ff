//! Access tokens: JWTs (compact JWS) signed with Ed25519, JOSE `alg: EdDSA` (RFC 8037), with a `kid`.
//!
//! Not through a JWT crate: the common one (`jsonwebtoken`, over `ring`) re-parses the PKCS#8 key on every
//! signature, and signing is the token endpoint's main cost. The signature is made by `aws-lc-rs`, whose
//! Ed25519 is about twice as fast as the alternatives on x86-64 (measured on this project's 2-core EPYC:
//! aws-lc-rs 9.4 µs, ed25519-dalek 19–21 µs, ring 24 µs per signature of a 330-byte token); Ed25519 is
//! deterministic, so it is the very signature `ed25519-dalek` would make (tested). Verification stays with
//! `ed25519-dalek`'s `verify_strict` (it refuses small-order keys and non-canonical signatures) and is off
//! the hot path anyway: the server caches verified tokens. The parsed key is kept and the header encoded
//! once per key. A compact JWS with one algorithm is small enough to own; the tests check that
//! `jsonwebtoken` verifies our tokens.
//! Expiry is checked against the injected clock.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::RngCore;
use talon_wire::claims::{Claims, JoseHeader, ALG_EDDSA};
use talon_wire::ScopeSet;

use crate::client::ApiClient;
use crate::ids::{ClientId, CustomerId};
use crate::keys::SigningKey;

/// Lifetime of a token: 30 minutes. `expires_in` on the wire is one second less, as on the real API.
pub const TOKEN_LIFETIME_SECS: i64 = talon_wire::token::TOKEN_EXPIRES_IN as i64 + 1;

/// Longest token `verify` looks at; anything longer is not ours, and refusing it early bounds the work a
/// forged header can cause. A client holding every scope of the Falcon catalogue (~250, as the first admin
/// does) gets a token of about 9 KiB: `scp` lists each scope, so that offline verifiers see them.
const MAX_TOKEN_LEN: usize = 32 * 1024;

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
    /// When the token stops verifying: its expiry, or earlier when its key is retired before then.
    pub usable_until: i64,
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
    #[error("token was signed by a key that has been retired")]
    RetiredKey,
    #[error("token claims are not Talon's")]
    BadClaims,
}

/// The newest key, parsed once, with its encoded header.
struct Signer {
    pair: aws_lc_rs::signature::Ed25519KeyPair,
    header_b64: String,
}

/// A key that verifies presented tokens, until its retirement if it has one.
struct Verifier {
    key: ed25519_dalek::VerifyingKey,
    retired_at: Option<i64>,
}

/// A key as the JWKS shows it: `kid`, `x`, and the instant it leaves the set.
struct PublicKey {
    kid: String,
    x: String,
    retired_at: Option<i64>,
}

/// The keys that sign new tokens (the newest key not retired) and verify presented ones (every key,
/// until its retirement).
pub struct Keyring {
    issuer: String,
    signer: Signer,
    verifying: HashMap<String, Verifier>,
    /// Every key, newest first, for the JWKS.
    public: Vec<PublicKey>,
}

impl Keyring {
    /// Builds a keyring from the stored keys; the newest key not retired signs. `None` when no key may
    /// sign.
    pub fn new(issuer: impl Into<String>, keys: &[SigningKey]) -> Option<Keyring> {
        let newest = keys.iter().filter(|k| k.signs()).max_by_key(|k| (k.created_at, k.kid.clone()))?;
        let pair = newest.signing_pair()?;
        let header =
            JoseHeader { alg: ALG_EDDSA.to_owned(), typ: Some("JWT".to_owned()), kid: Some(newest.kid.clone()) };
        let header_b64 = B64.encode(serde_json::to_vec(&header).ok()?);
        let verifying = keys
            .iter()
            .filter_map(|k| {
                let key = ed25519_dalek::VerifyingKey::from_bytes(k.public_key()).ok()?;
                Some((k.kid.clone(), Verifier { key, retired_at: k.retired_at }))
            })
            .collect();
        let mut sorted: Vec<&SigningKey> = keys.iter().collect();
        sorted.sort_by_key(|k| std::cmp::Reverse((k.created_at, k.kid.clone())));
        let public = sorted
            .iter()
            .map(|k| PublicKey { kid: k.kid.clone(), x: k.public_x(), retired_at: k.retired_at })
            .collect();
        Some(Keyring { issuer: issuer.into(), signer: Signer { pair, header_b64 }, verifying, public })
    }

    /// `(kid, x)` of every key that verifies at `now`, newest first: the JWKS.
    pub fn public_keys(&self, now: i64) -> impl Iterator<Item = (&str, &str)> {
        self.public
            .iter()
            .filter(move |k| k.retired_at.is_none_or(|at| now < at))
            .map(|k| (k.kid.as_str(), k.x.as_str()))
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Issues a token for `client`, optionally locked to `member_cid`.
    pub fn issue(&self, client: &ApiClient, member_cid: Option<&CustomerId>, now: i64) -> IssuedToken {
        let now = client.token_issued_at(now);
        // The thread's CSPRNG (ChaCha, seeded from the OS): unpredictable IDs without a syscall per token.
        let mut jti = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut jti);
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
        // Serializing a struct of strings and integers cannot fail.
        let payload = serde_json::to_vec(&claims).expect("claims serialize");
        let mut jwt = String::with_capacity(self.signer.header_b64.len() + payload.len() * 4 / 3 + 92);
        jwt.push_str(&self.signer.header_b64);
        jwt.push('.');
        B64.encode_string(&payload, &mut jwt);
        let signature = self.signer.pair.sign(jwt.as_bytes());
        jwt.push('.');
        B64.encode_string(signature.as_ref(), &mut jwt);
        IssuedToken { jwt, jti, expires_at }
    }

    /// Verifies the signature, issuer and expiry, and reads the claims.
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: JoseHeader = decode_json(header)?;
        if header.alg != ALG_EDDSA {
            return Err(TokenError::Malformed);
        }
        let verifier = header.kid.as_deref().and_then(|kid| self.verifying.get(kid)).ok_or(TokenError::UnknownKey)?;
        let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|_| TokenError::Malformed)?;
        let signed = &token[..token.len() - signature_len(token)];
        verifier.key.verify_strict(signed.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;
        let c: Claims = decode_json(payload).map_err(|_| TokenError::BadClaims)?;
        if c.iss != self.issuer {
            return Err(TokenError::BadClaims);
        }
        if now >= c.exp {
            return Err(TokenError::Expired);
        }
        // After the signature, as expiry: a token of a retired key is one this server signed.
        let usable_until = verifier.retired_at.map_or(c.exp, |at| at.min(c.exp));
        if now >= usable_until {
            return Err(TokenError::RetiredKey);
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
            usable_until,
            jti: c.jti,
        })
    }
}

/// Length of the `.signature` suffix of a compact JWS (with its dot).
fn signature_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::client_with;

    const NOW: i64 = 1_800_000_000;

    fn copy(key: &SigningKey) -> SigningKey {
        SigningKey::from_pkcs8(key.kid.clone(), key.pkcs8_der().to_vec(), key.created_at).expect("reload")
    }

    fn ring() -> (Keyring, SigningKey) {
        let key = SigningKey::generate(NOW);
        let again = copy(&key);
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
    fn a_standard_jwt_library_verifies_our_tokens() {
        let (ring, key) = ring();
        let client = client_with(&[]);
        let issued = ring.issue(&client, None, NOW);
        let header = jsonwebtoken::decode_header(&issued.jwt).expect("header");
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.set_issuer(&["talon"]);
        let decoding = jsonwebtoken::DecodingKey::from_ed_components(&key.public_x()).expect("jwk x");
        let data = jsonwebtoken::decode::<Claims>(&issued.jwt, &decoding, &validation).expect("verifies");
        assert_eq!(data.claims.sub, client.id.as_str());
    }

    #[test]
    fn the_signature_is_the_one_ed25519_dalek_makes() {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        use ed25519_dalek::Signer as _;
        let (ring, key) = ring();
        let issued = ring.issue(&client_with(&[]), None, NOW);
        let dot = issued.jwt.rfind('.').expect("signature part");
        let dalek = ed25519_dalek::SigningKey::from_pkcs8_der(key.pkcs8_der()).expect("key");
        let expected = dalek.sign(&issued.jwt.as_bytes()[..dot]);
        assert_eq!(issued.jwt[dot + 1..], B64.encode(expected.to_bytes()));
    }

    #[test]
    fn expired_token_is_refused_by_the_injected_clock() {
        let (ring, _) = ring();
        let issued = ring.issue(&client_with(&[]), None, NOW);
        assert!(ring.verify(&issued.jwt, NOW + TOKEN_LIFETIME_SECS - 1).is_ok());
        assert_eq!(ring.verify(&issued.jwt, NOW + TOKEN_LIFETIME_SECS).err(), Some(TokenError::Expired));
    }

    #[test]
    fn token_of_another_key_is_refused() {
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
    fn tampered_claims_are_refused() {
        let (ring, _) = ring();
        let issued = ring.issue(&client_with(&[]), None, NOW);
        let parts: Vec<&str> = issued.jwt.split('.').collect();
        let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(parts[1]).expect("b64")).expect("json");
        claims["exp"] = serde_json::json!(NOW + 999_999);
        let forged = format!("{}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2]);
        assert_eq!(ring.verify(&forged, NOW).err(), Some(TokenError::BadSignature));
    }

    #[test]
    fn wrong_issuer_is_refused() {
        let key = SigningKey::generate(NOW);
        let other = copy(&key);
        let mine = Keyring::new("talon", &[key]).expect("ring");
        let theirs = Keyring::new("elsewhere", &[other]).expect("ring");
        let token = theirs.issue(&client_with(&[]), None, NOW);
        assert_eq!(mine.verify(&token.jwt, NOW).err(), Some(TokenError::BadClaims));
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let (ring, _) = ring();
        let issued = ring.issue(&client_with(&[]), None, NOW);
        let payload = issued.jwt.split('.').nth(1).expect("payload").to_owned();
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#), payload);
        assert_eq!(ring.verify(&none, NOW).err(), Some(TokenError::Malformed));
        let hs = format!("{}.{}.AAAA", B64.encode(r#"{"alg":"HS256","typ":"JWT","kid":"x"}"#), payload);
        assert_eq!(ring.verify(&hs, NOW).err(), Some(TokenError::Malformed));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for garbage in ["", "abc", "a.b.c", "....", "\u{0}", "a.b.c.d", long.as_str()] {
            assert!(ring.verify(garbage, NOW).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn a_key_made_in_the_same_second_still_becomes_the_signer() {
        let first = SigningKey::generate(NOW);
        for _ in 0..20 {
            let next = SigningKey::next_after(std::slice::from_ref(&first), NOW);
            let kid = next.kid.clone();
            let ring = Keyring::new("talon", &[copy(&first), next]).expect("ring");
            let token = ring.issue(&client_with(&[]), None, NOW);
            let header: JoseHeader = decode_json(token.jwt.split('.').next().expect("header")).expect("header");
            assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
        }
    }

    #[test]
    fn newest_key_signs_and_older_keys_still_verify() {
        let old = SigningKey::generate(NOW - 100);
        let old_ring = Keyring::new("talon", &[copy(&old)]).expect("ring");
        let old_token = old_ring.issue(&client_with(&[]), None, NOW);
        let new = SigningKey::generate(NOW);
        let new_kid = new.kid.clone();
        let both = Keyring::new("talon", &[old, new]).expect("ring");
        assert!(both.verify(&old_token.jwt, NOW).is_ok());
        let fresh = both.issue(&client_with(&[]), None, NOW);
        let header: JoseHeader = decode_json(fresh.jwt.split('.').next().expect("header")).expect("header");
        assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    }

    #[test]
    fn a_retired_key_signs_no_more_and_verifies_until_its_retirement() {
        let old = SigningKey::generate(NOW - 100);
        let old_kid = old.kid.clone();
        let old_token = Keyring::new("talon", &[copy(&old)]).expect("ring").issue(&client_with(&[]), None, NOW);
        let new = SigningKey::generate(NOW);
        let new_kid = new.kid.clone();
        let mut retiring = copy(&old);
        retiring.retired_at = Some(NOW + 60);
        // Even the newest key does not sign once retired: the other one does.
        let mut newest_retired = copy(&new);
        newest_retired.retired_at = Some(NOW + 60);
        let ring = Keyring::new("talon", &[copy(&old), newest_retired]).expect("ring");
        let header: JoseHeader =
            decode_json(ring.issue(&client_with(&[]), None, NOW).jwt.split('.').next().expect("h")).expect("h");
        assert_eq!(header.kid.as_deref(), Some(old_kid.as_str()));

        let ring = Keyring::new("talon", &[retiring, new]).expect("ring");
        let during = ring.verify(&old_token.jwt, NOW + 59).expect("within the grace period");
        assert_eq!(during.usable_until, NOW + 60);
        assert_eq!(ring.verify(&old_token.jwt, NOW + 60).err(), Some(TokenError::RetiredKey));
        let jwks = |at| ring.public_keys(at).map(|(kid, _)| kid.to_owned()).collect::<Vec<_>>();
        assert_eq!(jwks(NOW + 59), [new_kid.clone(), old_kid]);
        assert_eq!(jwks(NOW + 60), [new_kid]);
        // A token of a key that is not retired is usable until it expires.
        let fresh = ring.issue(&client_with(&[]), None, NOW);
        assert_eq!(ring.verify(&fresh.jwt, NOW).expect("fresh").usable_until, fresh.expires_at);
    }

    #[test]
    fn a_keyring_needs_a_key_that_may_sign() {
        let mut only = SigningKey::generate(NOW);
        only.retired_at = Some(NOW + 1800);
        assert!(Keyring::new("talon", &[only]).is_none());
    }
}
