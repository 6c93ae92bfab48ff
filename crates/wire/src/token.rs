//! Bodies and form field names of `POST /oauth2/token` and `POST /oauth2/revoke`.

use serde::{Deserialize, Serialize};

/// Form field names of the OAuth2 endpoints.
pub mod field {
    pub const CLIENT_ID: &str = "client_id";
    pub const CLIENT_SECRET: &str = "client_secret";
    pub const MEMBER_CID: &str = "member_cid";
    pub const GRANT_TYPE: &str = "grant_type";
    pub const TOKEN: &str = "token";
}

/// The only grant type the token endpoint accepts (FalconPy sends none, which means this one).
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// `expires_in` of every token: 30 minutes less one second, as the real API answers.
pub const TOKEN_EXPIRES_IN: u64 = 1799;

/// The 201 body of a token request: no envelope, no refresh token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
}

impl TokenResponse {
    pub fn bearer(access_token: String, expires_in: u64) -> TokenResponse {
        TokenResponse { access_token, token_type: "bearer".to_owned(), expires_in }
    }
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exactly_the_falcon_body() {
        let body = serde_json::to_string(&TokenResponse::bearer("jwt".into(), TOKEN_EXPIRES_IN)).expect("json");
        assert_eq!(body, r#"{"access_token":"jwt","token_type":"bearer","expires_in":1799}"#);
    }

    #[test]
    fn debug_redacts_the_token() {
        assert!(!format!("{:?}", TokenResponse::bearer("eyJsecret".into(), 1)).contains("eyJsecret"));
    }
}
