//! Bodies beyond Falcon: RFC 8414 authorization server metadata, the JWKS (RFC 7517, OKP keys of RFC
//! 8037) and RFC 7662 token introspection.

use serde::{Deserialize, Serialize};

/// Path of the RFC 8414 metadata document.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Path of the JWKS.
pub const JWKS_PATH: &str = "/oauth2/jwks";
/// Path of RFC 7662 introspection.
pub const INTROSPECT_PATH: &str = "/oauth2/introspect";

/// RFC 8414 §2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub revocation_endpoint: String,
    pub introspection_endpoint: String,
    pub jwks_uri: String,
    pub grant_types_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
}

/// One public key of the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// An Ed25519 verification key (`x`: the public key, base64url without padding).
    pub fn ed25519(kid: String, x: String) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x,
            kid,
            alg: crate::claims::ALG_EDDSA.into(),
            use_: "sig".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// RFC 7662 §2.2. An inactive token is `{"active": false}` and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Falcon's customer ID of the token (the member CID when locked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_cid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inactive_is_only_active_false() {
        assert_eq!(serde_json::to_string(&Introspection::default()).expect("json"), r#"{"active":false}"#);
    }

    #[test]
    fn jwk_uses_the_rfc_names() {
        let jwk = serde_json::to_value(Jwk::ed25519("k1".into(), "abc".into())).expect("json");
        assert_eq!(
            jwk,
            serde_json::json!({"kty":"OKP","crv":"Ed25519","x":"abc","kid":"k1","alg":"EdDSA","use":"sig"})
        );
    }
}
