//! Extractors that turn request parts into domain values or an [`ApiError`]: the source address, a
//! size-capped body, and the bearer guard ([`Authorized`], reading the route's [`RequiredScope`]).

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use talon_auth::{authorize_request, Principal, RequestDenied, TokenError};
use talon_wire::headers::POWERED_BY_GATEWAY;
use talon_wire::Scope;

use crate::context;
use crate::error::ApiError;
use crate::state::AppState;

/// The source address of the request (see [`context::peer_ip`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(context::peer_ip(&parts.extensions)))
    }
}

/// The request body, refused with 413 past the configured size (the router's `DefaultBodyLimit`) and with
/// 400 when it does not arrive within the body timeout (`ConnectionLimits::body_timeout`; the timer runs
/// only for requests that read a body).
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let timeout = AppState::from_ref(state).config().connections.body_timeout;
        let Ok(read) = tokio::time::timeout(timeout, Bytes::from_request(req, state)).await else {
            return Err(ApiError::bad_request("request body could not be read: it did not arrive in time"));
        };
        match read {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body is too large"))
            }
            Err(_) => Err(ApiError::bad_request("request body could not be read")),
        }
    }
}

/// The media type of the request without parameters, lowercased; `None` when absent.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok().unwrap_or("invalid");
    Some(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// A JSON request body: refused with 415 when the request names another media type (none is taken as
/// JSON, as curl users often forget it), with 400 saying the `expected` shape when it does not parse.
pub fn read_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    expected: &str,
) -> Result<T, ApiError> {
    check_json_media(headers)?;
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("body must be JSON of the form {expected}: {e}")))
}

/// 415 when the request names a media type other than JSON (none is taken as JSON).
pub fn check_json_media(headers: &HeaderMap) -> Result<(), ApiError> {
    if media_type(headers).is_some_and(|m| m != "application/json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"));
    }
    Ok(())
}

/// The scope a resource route needs, put in the request's extensions by the route itself (the router
/// wraps each bearer route with it: a Falcon operation's from its catalogue entry, an admin route's from its
/// table), so the guard runs before the body is read and no route names its scope twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequiredScope(pub Scope);

/// The bearer guard: a request that reaches a handler taking `Authorized` carries a valid, unrevoked
/// token of an enabled client, from an allowed address, holding the route's [`RequiredScope`], within the
/// customer's rate. A route without a `RequiredScope` refuses everyone (fail closed).
pub struct Authorized {
    pub principal: Principal,
}

impl<St> FromRequestParts<St> for Authorized
where
    AppState: FromRef<St>,
    St: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let Some(&RequiredScope(scope)) = parts.extensions.get::<RequiredScope>() else {
            tracing::error!("a bearer route has no required scope; refusing the request");
            return Err(ApiError::authorization_failed("missing-scope").powered_by(POWERED_BY_GATEWAY));
        };
        let ClientIp(ip) = ClientIp::from_request_parts(parts, &state).await?;
        // A missing or forged token counts against the address's junk budget; one this server signed that
        // has expired or been revoked against its own (see `Throttles::limit_dead_token`).
        let refuse = |limit: Result<(), ApiError>| -> ApiError {
            match limit {
                Ok(()) => ApiError::invalid_bearer(),
                Err(too_many) => too_many.powered_by(POWERED_BY_GATEWAY),
            }
        };
        let Some(token) = bearer_token(&parts.headers) else {
            return Err(refuse(state.throttles().limit_bad_token(ip).await));
        };
        let verified = match state.auth().verify_token(token) {
            Ok(verified) => verified,
            // Expiry and retirement are checked after the signature: such a token is one this server signed.
            Err(TokenError::Expired | TokenError::RetiredKey) => {
                return Err(refuse(state.throttles().limit_dead_token(ip).await))
            }
            Err(_) => return Err(refuse(state.throttles().limit_bad_token(ip).await)),
        };
        if state.auth().is_revoked(&verified.jti) {
            return Err(refuse(state.throttles().limit_dead_token(ip).await));
        }
        // The gateway answers these, as on the real API.
        let gateway = |e: ApiError| e.powered_by(POWERED_BY_GATEWAY);
        let client = state.auth().client(&verified.client_id);
        let principal = match authorize_request(client.as_deref(), &verified, ip, scope) {
            Ok(p) => p,
            Err(RequestDenied::TokenNoLongerValid) => return Err(refuse(state.throttles().limit_dead_token(ip).await)),
            Err(RequestDenied::ScopeMissing) => return Err(gateway(ApiError::authorization_failed("missing-scope"))),
            Err(RequestDenied::IpNotAllowed) => return Err(gateway(ApiError::authorization_failed("ip-not-allowed"))),
        };
        state.throttles().limit_customer(&principal.customer).await.map_err(gateway)?;
        Ok(Authorized { principal })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_token(&h), None);
        h.insert(AUTHORIZATION, "Bearer abc".parse().expect("value"));
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(AUTHORIZATION, "bearer  abc ".parse().expect("value"));
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Basic abc".parse().expect("value"));
        assert_eq!(bearer_token(&h), None);
        h.insert(AUTHORIZATION, "Bearer".parse().expect("value"));
        assert_eq!(bearer_token(&h), None);
        h.insert(AUTHORIZATION, "Bearer ".parse().expect("value"));
        assert_eq!(bearer_token(&h), None);
    }

    #[test]
    fn media_type_strips_parameters() {
        let mut h = HeaderMap::new();
        assert_eq!(media_type(&h), None);
        h.insert(CONTENT_TYPE, "Application/X-WWW-Form-Urlencoded; charset=utf-8".parse().expect("value"));
        assert_eq!(media_type(&h).as_deref(), Some("application/x-www-form-urlencoded"));
    }
}
