//! The rules: may this client get a token, and may this token make this request.
//!
//! Pure functions over domain values, so every rule is unit-tested without HTTP or a database.

use std::net::IpAddr;

use talon_wire::{Scope, ScopeSet};

use crate::client::ApiClient;
use crate::ids::CustomerId;
use crate::token::VerifiedToken;

/// Why a token request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenDenied {
    /// No client has this ID.
    UnknownClient,
    /// The secret is wrong, or the client is disabled (the caller cannot tell which).
    NotAuthorized,
    /// The source address is outside the client's allow-list.
    IpNotAllowed,
    /// The client may not act for the requested `member_cid`.
    MemberNotAllowed,
}

impl TokenDenied {
    /// True for failures that count against the failed-authentication throttle (guessing credentials).
    pub fn is_credential_failure(self) -> bool {
        matches!(self, TokenDenied::UnknownClient | TokenDenied::NotAuthorized)
    }
}

/// Decides a token request. `client` is the client the request names, if any exists.
pub fn authorize_token_request(
    client: Option<&ApiClient>,
    secret: &str,
    source_ip: IpAddr,
    member_cid: Option<&CustomerId>,
) -> Result<(), TokenDenied> {
    let Some(client) = client else {
        // Spend the same digest work as a known client, so timing does not tell which IDs exist.
        let _ = crate::secret::SecretDigest::of(secret);
        return Err(TokenDenied::UnknownClient);
    };
    // Check the secret before anything else about the client, so that only its holder learns its settings.
    if !client.secret_digest.matches(secret) || !client.enabled {
        return Err(TokenDenied::NotAuthorized);
    }
    if !client.ip_allowed(source_ip) {
        return Err(TokenDenied::IpNotAllowed);
    }
    if let Some(member) = member_cid {
        if !client.may_act_for(member) {
            return Err(TokenDenied::MemberNotAllowed);
        }
    }
    Ok(())
}

/// Why a request with a valid-looking token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestDenied {
    /// 401: the client is gone or disabled, its secret was reset or it was disabled after the token was
    /// issued, or it no longer may act for the token's member CID.
    TokenNoLongerValid,
    /// 403: the route's scope is not held (by the token and the client's current scopes).
    ScopeMissing,
    /// 403: the source address is outside the client's allow-list.
    IpNotAllowed,
}

/// The client of a verified, unrevoked token, if the token still stands for it: the client exists and is
/// enabled, the token was issued after the client's last secret reset or disable, and a member CID the
/// token is locked to is still one the client may act for.
pub fn token_holder<'c>(client: Option<&'c ApiClient>, token: &VerifiedToken) -> Option<&'c ApiClient> {
    let client = client.filter(|c| c.enabled && c.id == token.client_id)?;
    // At or before the mark: a token of the reset's very second falls too (tokens issued after it are
    // dated past it, see `ApiClient::token_issued_at`).
    if token.issued_at <= client.tokens_not_before {
        return None;
    }
    match &token.member_cid {
        Some(member) if !client.may_act_for(member) => None,
        _ => Some(client),
    }
}

/// Who is making an authorized request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: crate::ids::ClientId,
    /// The customer whose data the request sees: the token's member CID when locked, else the client's CID.
    pub customer: CustomerId,
    /// The scopes in force: the token's, narrowed to what the client holds now.
    pub scopes: ScopeSet,
}

/// Decides whether a verified, unrevoked token may call a route that needs `scope`.
///
/// The client's current state wins over what the token says: a disabled or deleted client's tokens stop
/// working at once, and a scope taken from a client is taken from its live tokens too.
pub fn authorize_request(
    client: Option<&ApiClient>,
    token: &VerifiedToken,
    source_ip: IpAddr,
    scope: Scope,
) -> Result<Principal, RequestDenied> {
    let client = token_holder(client, token).ok_or(RequestDenied::TokenNoLongerValid)?;
    if !client.ip_allowed(source_ip) {
        return Err(RequestDenied::IpNotAllowed);
    }
    let scopes = token.scopes.intersection(client.scopes);
    if !scopes.contains(scope) {
        return Err(RequestDenied::ScopeMissing);
    }
    Ok(Principal {
        client_id: client.id.clone(),
        customer: token.member_cid.clone().unwrap_or_else(|| client.cid.clone()),
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::client_with;
    use crate::secret::ClientSecret;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn client_and_secret(allowed: &[&str]) -> (ApiClient, ClientSecret) {
        let secret = ClientSecret::generate();
        let mut client = client_with(allowed);
        client.secret_digest = secret.digest();
        (client, secret)
    }

    #[test]
    fn token_request_rules() {
        let (mut client, secret) = client_and_secret(&["10.0.0.0/8"]);
        let member = CustomerId::generate();
        client.member_cids.push(member.clone());
        let s = secret.expose();
        let inside = ip("10.0.0.1");

        assert_eq!(authorize_token_request(Some(&client), s, inside, None), Ok(()));
        assert_eq!(authorize_token_request(Some(&client), s, inside, Some(&member)), Ok(()));
        assert_eq!(authorize_token_request(None, s, inside, None), Err(TokenDenied::UnknownClient));
        assert_eq!(authorize_token_request(Some(&client), "wrong", inside, None), Err(TokenDenied::NotAuthorized));
        assert_eq!(authorize_token_request(Some(&client), s, ip("192.0.2.1"), None), Err(TokenDenied::IpNotAllowed));
        assert_eq!(
            authorize_token_request(Some(&client), s, inside, Some(&CustomerId::generate())),
            Err(TokenDenied::MemberNotAllowed)
        );
        // A wrong secret says nothing about the allow-list.
        assert_eq!(
            authorize_token_request(Some(&client), "wrong", ip("192.0.2.1"), None),
            Err(TokenDenied::NotAuthorized)
        );
        client.enabled = false;
        assert_eq!(authorize_token_request(Some(&client), s, inside, None), Err(TokenDenied::NotAuthorized));
    }

    fn token_for(client: &ApiClient, scopes: ScopeSet, member: Option<CustomerId>) -> VerifiedToken {
        VerifiedToken {
            client_id: client.id.clone(),
            cid: client.cid.clone(),
            member_cid: member,
            scopes,
            issued_at: client.token_issued_at(0),
            expires_at: 1800,
            usable_until: 1800,
            jti: "j".into(),
        }
    }

    #[test]
    fn request_rules() {
        let (mut client, _) = client_and_secret(&["10.0.0.0/8"]);
        let read: ScopeSet = [Scope::DEVICES_READ].into_iter().collect();
        let token = token_for(&client, read, None);
        let inside = ip("10.9.9.9");

        let p = authorize_request(Some(&client), &token, inside, Scope::DEVICES_READ).expect("allowed");
        assert_eq!(p.customer, client.cid);
        assert_eq!(
            authorize_request(Some(&client), &token, inside, Scope::DEVICES_WRITE),
            Err(RequestDenied::ScopeMissing)
        );
        assert_eq!(
            authorize_request(Some(&client), &token, ip("8.8.8.8"), Scope::DEVICES_READ),
            Err(RequestDenied::IpNotAllowed)
        );
        assert_eq!(
            authorize_request(None, &token, inside, Scope::DEVICES_READ),
            Err(RequestDenied::TokenNoLongerValid)
        );

        // A scope removed from the client is removed from its live tokens.
        client.scopes = ScopeSet::EMPTY;
        assert_eq!(
            authorize_request(Some(&client), &token, inside, Scope::DEVICES_READ),
            Err(RequestDenied::ScopeMissing)
        );

        client.scopes = ScopeSet::all();
        client.enabled = false;
        assert_eq!(
            authorize_request(Some(&client), &token, inside, Scope::DEVICES_READ),
            Err(RequestDenied::TokenNoLongerValid)
        );
    }

    #[test]
    fn tokens_issued_before_a_reset_or_disable_stay_refused() {
        let (mut client, _) = client_and_secret(&[]);
        let token = token_for(&client, ScopeSet::all(), None); // issued at 0
        let ip = ip("127.0.0.1");
        assert!(authorize_request(Some(&client), &token, ip, Scope::DEVICES_READ).is_ok());
        client.reset_secret(ClientSecret::generate().digest(), 10);
        assert_eq!(
            authorize_request(Some(&client), &token, ip, Scope::DEVICES_READ),
            Err(RequestDenied::TokenNoLongerValid)
        );
        // A token of the reset's very second, issued before it, falls too; one issued after it is dated past
        // the mark and stands.
        let same_second = VerifiedToken { issued_at: 10, ..token.clone() };
        assert_eq!(
            authorize_request(Some(&client), &same_second, ip, Scope::DEVICES_READ),
            Err(RequestDenied::TokenNoLongerValid)
        );
        let fresh = VerifiedToken { issued_at: client.token_issued_at(10), ..token };
        assert_eq!(fresh.issued_at, 11);
        assert!(authorize_request(Some(&client), &fresh, ip, Scope::DEVICES_READ).is_ok(), "issued after it");
    }

    #[test]
    fn member_locked_token_sees_the_member_until_the_member_is_removed() {
        let (mut client, _) = client_and_secret(&[]);
        let member = CustomerId::generate();
        client.member_cids.push(member.clone());
        let token = token_for(&client, ScopeSet::all(), Some(member.clone()));
        let p = authorize_request(Some(&client), &token, ip("127.0.0.1"), Scope::DEVICES_READ).expect("ok");
        assert_eq!(p.customer, member);
        client.member_cids.clear();
        assert_eq!(
            authorize_request(Some(&client), &token, ip("127.0.0.1"), Scope::DEVICES_READ),
            Err(RequestDenied::TokenNoLongerValid)
        );
    }
}
