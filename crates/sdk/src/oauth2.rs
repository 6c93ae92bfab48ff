//! The OAuth2 service collection, as the Falcon docs shape it: `token()` and `revoke()` (operation IDs
//! `oauth2AccessToken` and `oauth2RevokeToken`), with `login`/`logout` and the token's state.

use secrecy::{ExposeSecret, SecretString};
use talon_wire::operation::OAUTH2_REVOKE_TOKEN;
use talon_wire::token::field;

use crate::client::Client;
use crate::error::{ApiError, Error, FailReason};

/// The OAuth2 service over a [`Client`] (whose token it manages).
///
/// ```no_run
/// # async fn run(client: talon::Client) -> Result<(), talon::Error> {
/// let oauth2 = talon::OAuth2::new(client);
/// let token = oauth2.token().await?; // a SecretString: Debug and Display do not show it
/// oauth2.revoke(&token).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct OAuth2 {
    client: Client,
}

/// The state of the client's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// No login attempted yet.
    None,
    /// The last token request's HTTP status (201 on success).
    Status(u16),
}

impl OAuth2 {
    /// The OAuth2 service over `client`: the token it gets is the one every clone of `client` uses.
    pub fn new(client: Client) -> OAuth2 {
        OAuth2 { client }
    }

    /// `oauth2AccessToken`: gets a new token now and caches it.
    pub async fn token(&self) -> Result<SecretString, Error> {
        self.client.login().await
    }

    /// Alias of [`OAuth2::token`] by its operation ID.
    pub async fn oauth2_access_token(&self) -> Result<SecretString, Error> {
        self.token().await
    }

    /// `oauth2RevokeToken`: revokes `token` (one of this client's) with Basic credentials.
    pub async fn revoke(&self, token: &SecretString) -> Result<(), Error> {
        let c = self.client.credentials();
        let response = self
            .client
            .http()
            .post(self.client.url(OAUTH2_REVOKE_TOKEN.path()))
            .basic_auth(&c.client_id, Some(c.client_secret.expose_secret()))
            .form(&[(field::TOKEN, token.expose_secret())])
            .send()
            .await?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let headers = response.headers().clone();
        Err(Error::Api(Box::new(ApiError::read(status, &headers, response.text().await.unwrap_or_default()))))
    }

    /// Alias of [`OAuth2::revoke`] by its operation ID.
    pub async fn oauth2_revoke_token(&self, token: &SecretString) -> Result<(), Error> {
        self.revoke(token).await
    }

    /// Logs in (gets and caches a token).
    pub async fn login(&self) -> Result<(), Error> {
        self.token().await.map(|_| ())
    }

    /// Revokes the cached token and forgets it. Without a token, nothing to do.
    pub async fn logout(&self) -> Result<(), Error> {
        match self.client.take_token() {
            Some(token) => self.revoke(&token).await,
            None => Ok(()),
        }
    }

    /// True when a token is cached and not within the renew window of its expiry.
    pub fn authenticated(&self) -> bool {
        self.client.has_fresh_token()
    }

    /// True when a token is cached but due for renewal (or past expiry).
    pub fn token_expired(&self) -> bool {
        self.client.has_token() && !self.client.has_fresh_token()
    }

    /// The HTTP status of the last token request (FalconPy's `token_status`).
    pub async fn token_status(&self) -> TokenStatus {
        self.client.refresh_state(|s| s.last_status.map_or(TokenStatus::None, TokenStatus::Status)).await
    }

    /// Why the last login failed (status, message, trace ID), until a login succeeds.
    pub async fn token_fail_reason(&self) -> Option<FailReason> {
        self.client.refresh_state(|s| s.last_failure.as_ref().map(|(_, r)| r.clone())).await
    }
}
