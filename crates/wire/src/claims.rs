//! The claims of a Talon access token (a JWT signed with Ed25519, JOSE `alg: EdDSA`).

use serde::{Deserialize, Serialize};

/// JWT claims. `sub` is the client ID; `cid` the customer the client belongs to; `member_cid` the child
/// customer the token is locked to (MSSP), if any; `scp` the scopes at issue time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub cid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_cid: Option<String>,
    pub scp: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// The JOSE header of a Talon token: `{"alg":"EdDSA","typ":"JWT","kid":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoseHeader {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// The JOSE `alg` of Ed25519 signatures (RFC 8037).
pub const ALG_EDDSA: &str = "EdDSA";
