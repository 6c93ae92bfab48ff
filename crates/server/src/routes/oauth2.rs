//! `POST /oauth2/token` (oauth2AccessToken) and `POST /oauth2/revoke` (oauth2RevokeToken).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use talon_auth::{authorize_token_request, token_holder, ApiClient, ClientId, CustomerId, TokenDenied};
use talon_wire::basic::{parse_basic, BasicCredentials, BasicError};
use talon_wire::discovery::Introspection;
use talon_wire::form::Form;
use talon_wire::headers::{FORM_CONTENT_TYPE, POWERED_BY_OAUTH2};
use talon_wire::ids::shown_id;
use talon_wire::token::{field, TokenResponse, GRANT_CLIENT_CREDENTIALS};

use crate::config::AuthErrorMode;
use crate::error::{envelope, json_response, ApiError};
use crate::extract::{media_type, Body, ClientIp};
use crate::state::AppState;

const NOT_AUTHORIZED: &str = "Failed to issue access token - Not Authorized";

/// Issues a bearer token for client credentials given in the form, in a Basic header, or both (agreeing).
pub async fn token(State(state): State<AppState>, request: OAuth2Request) -> Result<Response, ApiError> {
    let OAuth2Request { ip, form, .. } = &request;
    let ip = *ip;
    if let Some(grant) = form.non_empty(field::GRANT_TYPE) {
        if grant != GRANT_CLIENT_CREDENTIALS {
            return Err(ApiError::bad_request("unsupported_grant_type: only client_credentials is supported"));
        }
    }
    let (client_id, secret) = request.client_credentials()?;
    let member_cid = form
        .non_empty(field::MEMBER_CID)
        .map(|raw| CustomerId::parse_lenient(raw).map_err(|e| ApiError::bad_request(format!("member_cid: {e}"))))
        .transpose()?;

    let client = match authenticate(&state, ip, client_id, secret, member_cid.as_ref()).await? {
        Ok(client) => client,
        Err(denied) => return Err(token_denied(&state, denied, client_id)),
    };
    let now = state.now();
    let issued = state.auth().keyring().issue(&client, member_cid.as_ref(), now);
    state.queues().note_used(&client.id, state.now());
    state.metrics().tokens_issued.inc();
    tracing::debug!(client_id = %client.id, jti = %issued.jti, member_cid = ?member_cid, "token issued");
    // One second short of the lifetime, as the real API answers (1799).
    let body = TokenResponse::bearer(issued.jwt, (issued.expires_at - now - 1).max(0) as u64);
    // RFC 6749 §5.1: token answers must not be cached.
    Ok(([(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")], json_response(StatusCode::CREATED, &body)).into_response())
}

/// Revokes one of the caller's own tokens. Anything else named (unknown, malformed, expired, another
/// client's) is answered 200 and changes nothing (RFC 7009 §2.2), so the endpoint reveals nothing.
pub async fn revoke(
    State(state): State<AppState>,
    OAuth2Request { ip, basic, form }: OAuth2Request,
) -> Result<Response, ApiError> {
    // Falcon answers 403 for missing, malformed or wrong Basic credentials (RFC 7009 would say 401
    // invalid_client).
    let basic = match basic {
        Ok(Some(basic)) => basic,
        Ok(None) | Err(BasicError::NotBasic) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "access denied, client credentials are required"))
        }
        Err(BasicError::Malformed) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "access denied, invalid client credentials"))
        }
    };
    let client = authenticate(&state, ip, &basic.client_id, &basic.client_secret, None).await?.map_err(|denied| {
        if denied == TokenDenied::IpNotAllowed {
            ApiError::authorization_failed("ip-not-allowed")
        } else {
            ApiError::new(StatusCode::FORBIDDEN, "access denied, invalid client credentials")
        }
    })?;
    if form.non_empty(field::CLIENT_ID).is_some_and(|id| id != basic.client_id) {
        return Err(ApiError::bad_request("client_id does not match the Basic credentials"));
    }
    let token = form.non_empty(field::TOKEN).ok_or_else(|| ApiError::bad_request("token is required"))?;
    if let Ok(verified) = state.auth().keyring().verify(token, state.now()) {
        if verified.client_id == client.id {
            state.revoke(&verified.jti, &client.id, verified.expires_at).await?;
            tracing::info!(client_id = %client.id, jti = %verified.jti, "token revoked");
        }
    }
    Ok(envelope(StatusCode::OK, POWERED_BY_OAUTH2, Some(()), vec![], None))
}

/// RFC 7662 introspection, for the caller's own tokens only: anything else (unknown, malformed, expired,
/// revoked, another client's, or a token its client no longer stands behind) is `{"active": false}`.
/// The caller authenticates as at the token endpoint (Basic or form credentials); a request with no
/// credentials at all is a 401, as RFC 7662 has it for an unauthenticated introspection.
pub async fn introspect(State(state): State<AppState>, request: OAuth2Request) -> Result<Response, ApiError> {
    let (ip, form) = (request.ip, &request.form);
    let no_basic = matches!(request.basic, Ok(None) | Err(BasicError::NotBasic));
    if no_basic && form.non_empty(field::CLIENT_ID).is_none() && form.non_empty(field::CLIENT_SECRET).is_none() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "access denied, client credentials are required"));
    }
    let (client_id, secret) = request.client_credentials()?;
    let caller = authenticate(&state, ip, client_id, secret, None).await?.map_err(|denied| match denied {
        TokenDenied::IpNotAllowed => ApiError::authorization_failed("ip-not-allowed"),
        _ => ApiError::new(StatusCode::UNAUTHORIZED, "access denied, invalid client credentials"),
    })?;
    let token = form.non_empty(field::TOKEN).ok_or_else(|| ApiError::bad_request("token is required"))?;
    let answer = state
        .auth()
        .verify_token(token)
        .ok()
        .filter(|t| t.client_id == caller.id && !state.auth().is_revoked(&t.jti))
        .and_then(|t| {
            let client = state.auth().client(&t.client_id);
            let holder = token_holder(client.as_deref(), &t)?;
            let scopes = t.scopes.intersection(holder.scopes);
            Some(Introspection {
                active: true,
                scope: Some(scopes.to_strings().join(" ")),
                client_id: Some(t.client_id.to_string()),
                token_type: Some("bearer".to_owned()),
                exp: Some(t.expires_at),
                iat: Some(t.issued_at),
                sub: Some(t.client_id.to_string()),
                iss: Some(state.auth().keyring().issuer().to_owned()),
                jti: Some(t.jti.clone()),
                cid: Some(t.member_cid.as_ref().unwrap_or(&t.cid).to_string()),
                member_cid: t.member_cid.as_ref().map(|m| m.to_string()),
            })
        })
        .unwrap_or_default();
    Ok(([(CACHE_CONTROL, "no-store")], json_response(StatusCode::OK, &answer)).into_response())
}

/// An OAuth2 request as both endpoints read it: counted against the per-address limit first, then its
/// form parsed strictly.
pub struct OAuth2Request {
    ip: IpAddr,
    /// The `Authorization` header read as Basic credentials, if there is one.
    basic: Result<Option<BasicCredentials>, BasicError>,
    form: Form,
}

impl OAuth2Request {
    /// The client ID and secret from the Basic header and/or the form (token and introspection). Only
    /// Basic credentials count; another scheme (a stale Bearer header on a reused session) is ignored
    /// rather than refused, and malformed Basic credentials are a 400.
    fn client_credentials(&self) -> Result<(&str, &str), ApiError> {
        let basic = match &self.basic {
            Ok(basic) => basic.as_ref(),
            Err(BasicError::NotBasic) => None,
            Err(e) => return Err(ApiError::bad_request(e.to_string())),
        };
        merge_credentials(basic, &self.form)
    }
}

impl FromRequest<AppState> for OAuth2Request {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let ClientIp(ip) = ClientIp::from_request_parts(&mut parts, state).await?;
        state.throttles().limit_oauth2(ip).await?;
        // Read what is needed from the headers before the body consumes the request.
        let basic = basic_credentials(&parts.headers);
        let is_form = is_form_request(&parts.headers);
        let Body(body) = Body::from_request(Request::from_parts(parts, body), state).await?;
        let form = read_form(is_form, &body)?;
        Ok(OAuth2Request { ip, basic, form })
    }
}

/// The form of an OAuth2 request: `application/x-www-form-urlencoded`, strictly parsed. An empty body
/// without a content type is an empty form (credentials may all be in the Basic header).
fn read_form(is_form: Option<bool>, body: &[u8]) -> Result<Form, ApiError> {
    match is_form {
        Some(true) => {}
        None if body.is_empty() => {}
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/x-www-form-urlencoded",
            ))
        }
    }
    Form::parse(body).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// Whether the request says its body is a form; `None` without a `Content-Type`.
fn is_form_request(headers: &HeaderMap) -> Option<bool> {
    media_type(headers).map(|m| m == FORM_CONTENT_TYPE)
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, BasicError> {
    headers.get(AUTHORIZATION).map(|value| parse_basic(value.as_bytes())).transpose()
}

/// The client ID and secret from the Basic header and/or the form; given both ways, they must agree.
fn merge_credentials<'a>(basic: Option<&'a BasicCredentials>, form: &'a Form) -> Result<(&'a str, &'a str), ApiError> {
    let form_id = form.non_empty(field::CLIENT_ID);
    let form_secret = form.non_empty(field::CLIENT_SECRET);
    let (id, secret) = match basic {
        Some(b) => {
            // Both values come from the same caller, so comparing them leaks nothing: no constant time needed.
            if form_id.is_some_and(|id| id != b.client_id) || form_secret.is_some_and(|s| s != b.client_secret) {
                return Err(ApiError::bad_request(
                    "client credentials given in the Basic header and the form disagree",
                ));
            }
            (Some(b.client_id.as_str()), Some(b.client_secret.as_str()))
        }
        None => (form_id, form_secret),
    };
    match (id.filter(|s| !s.is_empty()), secret.filter(|s| !s.is_empty())) {
        (Some(id), Some(secret)) => Ok((id, secret)),
        _ => Err(ApiError::bad_request("client_id and client_secret are required")),
    }
}

/// Checks client credentials with the failed-authentication throttle around it. The outer error is the
/// throttle's 429 (the credentials are not even looked at then); the inner result is the rules' verdict.
async fn authenticate(
    state: &AppState,
    ip: IpAddr,
    client_id: &str,
    secret: &str,
    member_cid: Option<&CustomerId>,
) -> Result<Result<Arc<ApiClient>, TokenDenied>, ApiError> {
    state.throttles().check_auth_failures(ip, client_id).await?;
    let client = ClientId::parse(client_id).ok().and_then(|id| state.auth().client(&id));
    let verdict = authorize_token_request(client.as_deref(), secret, ip, member_cid);
    Ok(match (verdict, client) {
        (Ok(()), Some(client)) => Ok(client),
        (Ok(()), None) => Err(TokenDenied::UnknownClient),
        (Err(denied), _) => {
            if denied.is_credential_failure() {
                state.record_auth_failure(ip, client_id).await;
                tracing::warn!(%ip, client_id = %shown_id(client_id), ?denied, "client authentication failed");
            }
            Err(denied)
        }
    })
}

/// The error answer of a refused token request.
fn token_denied(state: &AppState, denied: TokenDenied, client_id: &str) -> ApiError {
    match (denied, state.config().auth_errors) {
        (TokenDenied::UnknownClient, AuthErrorMode::Falcon) => {
            ApiError::bad_request(format!("Failed to generate access token for clientID={}.", shown_id(client_id)))
        }
        (TokenDenied::UnknownClient | TokenDenied::NotAuthorized, _) => {
            ApiError::new(StatusCode::FORBIDDEN, NOT_AUTHORIZED)
        }
        (TokenDenied::IpNotAllowed, _) => ApiError::authorization_failed("ip-not-allowed"),
        (TokenDenied::MemberNotAllowed, _) => {
            ApiError::new(StatusCode::FORBIDDEN, "Failed to issue access token - member CID not authorized")
        }
    }
}
