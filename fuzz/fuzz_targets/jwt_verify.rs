//! `jwt_verify`: talon-auth's token verification (`talon_auth::Keyring::verify`), what the bearer guard
//! runs on every `Authorization: Bearer` token it has not verified before.
//!
//! The keyring holds two fixed Ed25519 keys (fuzzing keys, not secrets), so that inputs and crashes
//! reproduce and the committed seeds (`fuzz/seeds/jwt_verify/`, tokens of the first key) stay valid: the
//! key that signs, and one retired before the instant of verification. The first byte of an input picks
//! what it is:
//! - `0`: the rest is a token text. Anything may be refused; whatever verifies must be byte for byte a
//!   token `Keyring::issue` makes (header, compact JSON claims in their order, canonical base64 and
//!   signature) for the claims it carries, must be before its expiry and expire at it, and verifies the
//!   same way twice. So no second spelling of a token is accepted (no malleability: padding, trailing
//!   bits, other JSON, a non-canonical signature), no forged one, and none of the retired key;
//! - `1` or `2` (modulo 4): the rest is a list of edits (flip, insert, remove bytes; truncate), 4 bytes
//!   each, applied to a genuine token issued at start (`1` without, `2` with a member CID). The edited
//!   token verifies if and only if it is unchanged, and then to what the genuine one says;
//! - `3`: edits as above of a token the retired key signed before its retirement: it never verifies,
//!   and unchanged it is refused as `RetiredKey`.
#![no_main]

use std::sync::LazyLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use talon_auth::{ApiClient, ClientId, ClientSpec, CustomerId, Keyring, SigningKey, TokenError, VerifiedToken};
use talon_wire::claims::{Claims, JoseHeader, ALG_EDDSA};
use talon_wire::Scope;

/// Issue time of the genuine tokens and the seeds; verification happens one second later.
const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "talon";
const KID: &str = "f022f022f022f022";
/// The retired key's `kid`; its tokens are refused from `NOW` on.
const RETIRED_KID: &str = "0ld0ld0ld0ld0ld0";
/// The fuzzing keys' Ed25519 seeds (bytes 0..32 and 32..64), wrapped as PKCS#8 v1 (RFC 8410) below.
const PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const CLIENT_ID: &str = "0123456789abcdef0123456789abcdef";
const CID: &str = "fedcba9876543210fedcba9876543210";
const MEMBER_CID: &str = "00112233445566778899aabbccddeeff";

struct Fixture {
    ring: Keyring,
    /// Genuine tokens (without and with a member CID) and what they verify to.
    genuine: [(String, VerifiedToken); 2],
    /// A token of the retired key, issued while it still signed.
    retired: String,
}

fn key(kid: &str, seed: std::ops::Range<u8>) -> SigningKey {
    let mut pkcs8 = PKCS8_PREFIX.to_vec();
    pkcs8.extend(seed);
    SigningKey::from_pkcs8(kid.to_owned(), pkcs8, NOW - 60).expect("the fuzzing key parses")
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let mut retired = key(RETIRED_KID, 32..64);
    retired.retired_at = Some(NOW);
    let ring = Keyring::new(ISSUER, &[key(KID, 0..32), retired]).expect("a keyring with a signing key");
    let before_retirement = Keyring::new(ISSUER, &[key(RETIRED_KID, 32..64)]).expect("the retired key's ring");
    let cid = CustomerId::parse(CID).expect("cid");
    let scopes = [Scope::DEVICES_READ, Scope::DEVICES_WRITE].into_iter().collect();
    let (mut client, _) = ApiClient::generate(ClientSpec::new("fuzz", scopes, cid), NOW - 60);
    client.id = ClientId::parse(CLIENT_ID).expect("client id");
    let member = CustomerId::parse(MEMBER_CID).expect("member cid");
    let genuine = [None, Some(&member)].map(|member| {
        let jwt = ring.issue(&client, member, NOW).jwt;
        let verified = ring.verify(&jwt, NOW + 1).expect("a genuine token verifies");
        assert_canonical(&jwt, &verified);
        (jwt, verified)
    });
    let retired = before_retirement.issue(&client, None, NOW - 30).jwt;
    assert_eq!(ring.verify(&retired, NOW + 1), Err(TokenError::RetiredKey));
    Fixture { ring, genuine, retired }
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let fixture = &*FIXTURE;
    match mode % 4 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else { return };
            let result = fixture.ring.verify(token, NOW + 1);
            assert_eq!(fixture.ring.verify(token, NOW + 1), result, "verification is deterministic");
            if let Ok(verified) = result {
                assert_canonical(token, &verified);
                assert!(verified.expires_at > NOW + 1 && verified.usable_until <= verified.expires_at);
                assert_eq!(fixture.ring.verify(token, verified.expires_at), Err(TokenError::Expired));
            }
        }
        3 => {
            let edited = apply_edits(fixture.retired.as_bytes(), rest);
            let Ok(edited) = String::from_utf8(edited) else { return };
            let result = fixture.ring.verify(&edited, NOW + 1);
            if edited == fixture.retired {
                assert_eq!(result, Err(TokenError::RetiredKey), "the retired key's token is refused as such");
            } else {
                assert!(result.is_err(), "an edited token of the retired key verified: {edited:?}");
            }
        }
        which => {
            let (genuine, verified) = &fixture.genuine[usize::from(which - 1)];
            let edited = apply_edits(genuine.as_bytes(), rest);
            let Ok(edited) = String::from_utf8(edited) else { return };
            let result = fixture.ring.verify(&edited, NOW + 1);
            if edited == *genuine {
                assert_eq!(result.as_ref(), Ok(verified), "the unchanged token verifies");
            } else {
                assert!(result.is_err(), "an edited token verified: {edited:?}");
            }
        }
    }
});

/// Applies the edits `script` describes, 4 bytes each: kind, position (2 bytes, little-endian, modulo the
/// length), operand. Positions wrap so that every edit lands somewhere.
fn apply_edits(token: &[u8], script: &[u8]) -> Vec<u8> {
    let mut out = token.to_vec();
    for edit in script.chunks_exact(4) {
        let (kind, operand) = (edit[0], edit[3]);
        let at = usize::from(u16::from_le_bytes([edit[1], edit[2]]));
        match kind % 4 {
            0 if !out.is_empty() => {
                let i = at % out.len();
                out[i] ^= operand;
            }
            1 => out.insert(at % (out.len() + 1), operand),
            2 if !out.is_empty() => {
                out.remove(at % out.len());
            }
            3 => out.truncate(at % (out.len() + 1)),
            _ => {}
        }
    }
    out
}

/// Asserts that `token` is exactly what `Keyring::issue` writes for the claims `verified` holds.
fn assert_canonical(token: &str, verified: &VerifiedToken) {
    let header = JoseHeader { alg: ALG_EDDSA.to_owned(), typ: Some("JWT".to_owned()), kid: Some(KID.to_owned()) };
    let claims = Claims {
        iss: ISSUER.to_owned(),
        sub: verified.client_id.to_string(),
        cid: verified.cid.to_string(),
        member_cid: verified.member_cid.as_ref().map(|m| m.to_string()),
        scp: verified.scopes.to_strings(),
        iat: verified.issued_at,
        exp: verified.expires_at,
        jti: verified.jti.clone(),
    };
    let header = B64.encode(serde_json::to_vec(&header).expect("the header serializes"));
    let claims = B64.encode(serde_json::to_vec(&claims).expect("the claims serialize"));
    let signing_input = format!("{header}.{claims}");
    let (signed, signature) = token.rsplit_once('.').expect("a verified token has a signature part");
    assert_eq!(signed, signing_input, "a verified token is not in the form the issuer writes");
    let raw = B64.decode(signature).expect("a verified signature is base64url");
    assert_eq!(raw.len(), 64);
    assert_eq!(B64.encode(raw), signature, "a verified signature is canonical base64url");
}
