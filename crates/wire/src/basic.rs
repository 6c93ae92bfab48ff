//! HTTP Basic client credentials (`Authorization: Basic base64(id:secret)`), as RFC 6749 §2.3.1 uses them.

use base64::Engine;
use percent_encoding::percent_decode_str;

/// Why an `Authorization` header is not usable Basic credentials. Never carries the header's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    #[error("the Authorization header is not Basic credentials")]
    NotBasic,
    #[error("the Basic credentials are not valid base64 of UTF-8 \"client_id:client_secret\"")]
    Malformed,
}

/// Client credentials decoded from a Basic header. The secret is a plain `String` here because this crate
/// has no secret type; callers move it into one at once and `Debug` never shows it.
pub struct BasicCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// Parses an `Authorization` header value. The scheme is case-insensitive (FalconPy writes `basic`).
/// Per RFC 6749 §2.3.1 both halves are form-urlencoded before base64; Falcon's IDs and secrets are
/// alphanumeric, so decoding them is a no-op there and correct for RFC clients.
pub fn parse_basic(header: &[u8]) -> Result<BasicCredentials, BasicError> {
    let header = std::str::from_utf8(header).map_err(|_| BasicError::Malformed)?.trim();
    let (scheme, payload) = header.split_once(' ').ok_or(BasicError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicError::NotBasic);
    }
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(payload.trim()).map_err(|_| BasicError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| BasicError::Malformed)?;
    let (id, secret) = decoded.split_once(':').ok_or(BasicError::Malformed)?;
    let unescape =
        |s: &str| percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).map_err(|_| BasicError::Malformed);
    Ok(BasicCredentials { client_id: unescape(id)?, client_secret: unescape(secret)? })
}

/// Builds a Basic header value (used by clients and tests).
pub fn encode_basic(client_id: &str, client_secret: &str) -> String {
    let raw = format!("{client_id}:{client_secret}");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_scheme() {
        for scheme in ["Basic", "basic", "BASIC"] {
            let value = encode_basic("id1", "s3cret").replacen("Basic", scheme, 1);
            let creds = parse_basic(value.as_bytes()).expect("valid basic");
            assert_eq!(creds.client_id, "id1");
            assert_eq!(creds.client_secret, "s3cret");
        }
    }

    #[test]
    fn secret_may_contain_colons() {
        let creds = parse_basic(encode_basic("id", "a:b").as_bytes()).expect("valid");
        assert_eq!(creds.client_secret, "a:b");
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(parse_basic(b"Bearer abc").err(), Some(BasicError::NotBasic));
        assert_eq!(parse_basic(b"Basic").err(), Some(BasicError::NotBasic));
        assert_eq!(parse_basic(b"Basic !!!notbase64").err(), Some(BasicError::Malformed));
        // base64 of "no-colon"
        assert_eq!(parse_basic(b"Basic bm8tY29sb24=").err(), Some(BasicError::Malformed));
        // base64 of bytes that are not UTF-8
        assert_eq!(parse_basic(b"Basic //79").err(), Some(BasicError::Malformed));
        assert_eq!(parse_basic(b"Basic \xff").err(), Some(BasicError::Malformed));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let creds = parse_basic(encode_basic("id", "topsecret").as_bytes()).expect("valid");
        assert!(!format!("{creds:?}").contains("topsecret"));
    }
}
