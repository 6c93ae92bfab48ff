//! The admin API (`api-clients:read` / `api-clients:write`): list, show, create, update, reset the secret
//! of, delete and revoke the tokens of API clients, and read the audit log. Each change is
//! `talon_store::admin`'s operation (written, then audited), then made visible on this node's token and
//! bearer paths at once (other nodes follow through the store's change counters). Every operation stays
//! within the caller's reach (`AdminReach`: its customer, or every customer for the operator) and acts
//! only on clients holding no scope the caller lacks.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use talon_auth::admin::{may_change, scopes_beyond, AdminReach};
use talon_auth::{ApiClient, ClientChanges, ClientId, ClientSpec, InvalidClient, Principal};
use talon_store::admin::{self, Actor, AdminError};
use talon_store::{AuditEntry, ClientQuery};
use talon_wire::admin::{
    ApiClientView, AuditEntryView, ClientListing, ClientPagination, CreateClientRequest, UpdateClientRequest,
    DEFAULT_PAGE, MAX_PAGE,
};
use talon_wire::device::param;
use talon_wire::envelope::Pagination;
use talon_wire::headers::POWERED_BY_OAUTH2;
use talon_wire::ScopeSet;

use crate::audit;
use crate::error::{envelope, envelope_paged, ApiError};
use crate::extract::{read_json, Authorized, Body, ClientIp};
use crate::routes::devices::query_params;
use crate::state::AppState;

/// The client ID in the route's path, checked: a malformed one is a 400, never a lookup.
pub struct ClientPath(pub ClientId);

impl<S: Send + Sync> FromRequestParts<S> for ClientPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("the path must end in a client ID"))?;
        ClientId::parse(&raw).map(ClientPath).map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

/// `offset` (default 0) and `limit` (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]) of a list request.
fn paging(params: &talon_wire::form::Form) -> Result<(u64, u64), ApiError> {
    let number = |name: &str, default: u64| -> Result<u64, ApiError> {
        params.get(name).map_or(Ok(default), |v| {
            v.parse::<u64>().map_err(|_| ApiError::bad_request(format!("{name} must be a whole number")))
        })
    };
    let (offset, limit) = (number(param::OFFSET, 0)?, number(param::LIMIT, DEFAULT_PAGE)?);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!("limit must be 1 to {MAX_PAGE}")));
    }
    Ok((offset, limit))
}

fn invalid(e: InvalidClient) -> ApiError {
    ApiError::bad_request(e.0)
}

fn unknown_client(id: &ClientId) -> ApiError {
    ApiError::not_found(format!("no API client {id}"))
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, message)
}

/// An admin may grant only scopes it holds itself, so `api-clients:write` alone is not every scope.
fn check_grant(principal: &Principal, wanted: ScopeSet) -> Result<(), ApiError> {
    match scopes_beyond(principal.scopes, wanted) {
        None => Ok(()),
        Some(missing) => {
            Err(forbidden(format!("access denied, cannot grant scopes the caller does not hold: {missing}")))
        }
    }
}

/// Who is acting, worked out once per request: its principal, what it reaches (see [`AdminReach`]) and
/// the installation's default customer.
struct Caller<'a> {
    principal: &'a Principal,
    reach: AdminReach,
    default_cid: talon_auth::CustomerId,
}

impl<'a> Caller<'a> {
    async fn of(state: &AppState, principal: &'a Principal) -> Result<Caller<'a>, ApiError> {
        let default_cid = state.store().default_customer().await?;
        // The guard let the request in, so its client is in the snapshot; were it gone meanwhile, the
        // narrowest reach (its own customer, nothing to delegate) is the safe answer.
        let reach = match state.auth().client(&principal.client_id) {
            Some(client) => AdminReach::of(principal, &client, &default_cid),
            None => AdminReach::Customer { cid: principal.customer.clone(), member_cids: vec![] },
        };
        Ok(Caller { principal, reach, default_cid })
    }

    /// The client `id` when the caller reaches it; a client out of reach is answered as unknown.
    async fn reachable(&self, state: &AppState, id: &ClientId) -> Result<ApiClient, ApiError> {
        let client = state.store().client(id).await?.filter(|c| self.reach.sees(c));
        client.ok_or_else(|| unknown_client(id))
    }

    /// The client `id`, when the caller may change it: within reach, and holding no scope the caller lacks.
    async fn changeable(&self, state: &AppState, id: &ClientId) -> Result<ApiClient, ApiError> {
        let client = self.reachable(state, id).await?;
        may_change(self.principal.scopes, &client).map_err(forbidden)?;
        Ok(client)
    }

    /// The caller as the audit log names it, in this request from `ip`.
    fn actor(&self, ip: IpAddr) -> Actor {
        audit::actor(self.principal.client_id.as_str(), ip)
    }
}

/// An admin may not delete or disable the client it is signed in as (the last admin would lock itself out).
fn check_not_self(principal: &Principal, id: &ClientId, what: &str) -> Result<(), ApiError> {
    if &principal.client_id == id {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("an admin client cannot {what} itself")));
    }
    Ok(())
}

/// Makes this node see the change at once; on failure the refresh loop catches up within its interval.
async fn take_effect(state: &AppState) {
    if let Err(e) = state.catch_up_clients().await {
        tracing::warn!(error = %e, "could not reload clients after an admin change; the refresh loop will");
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> ApiError {
        match e {
            AdminError::UnknownClient(id) => unknown_client(&id),
            AdminError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "admin operation failed");
                ApiError::internal()
            }
        }
    }
}

/// The one enveloped list answer of this API; answers holding a secret are never cached.
fn answer<R: serde::Serialize>(status: StatusCode, resources: Vec<R>, pagination: Option<Pagination>) -> Response {
    let response = envelope(status, POWERED_BY_OAUTH2, Some(resources), vec![], pagination);
    ([(CACHE_CONTROL, "no-store")], response).into_response()
}

/// `GET /api-clients/entities/clients/v1`: clients within the caller's reach, filtered, ordered and paged
/// by the database. Parameters: `name` (the name holds it, ASCII case ignored), `scope` (holds it),
/// `enabled` (`true`/`false`), `cid` (of this customer), `sort` (`created_at` or `name`, `.asc`/`.desc`;
/// creation order by default), `limit`, and `offset` or `after` (the token `meta.pagination.after` of the
/// previous page gave: seek paging, as fast on the last page as on the first; an offset beside it is not
/// applied).
pub async fn list(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], 16)?;
    let listing = ClientListing::read(|name| params.get(name)).map_err(ApiError::bad_request)?;
    let mut query = ClientQuery::from_listing(&listing, DEFAULT_PAGE, MAX_PAGE).map_err(ApiError::bad_request)?;
    let caller = Caller::of(&state, &auth.principal).await?;
    // A customer's admin lists its own customer's clients: another CID matches nothing within reach.
    if let AdminReach::Customer { cid, .. } = &caller.reach {
        if query.customer.as_ref().is_some_and(|wanted| wanted != cid) {
            let pagination = ClientPagination { offset: query.offset, limit: query.limit, total: 0, after: None };
            return Ok(list_answer(vec![], pagination));
        }
        query.customer = Some(cid.clone());
    }
    let page = state.store().client_page(&query).await?;
    let pagination = ClientPagination {
        offset: query.offset,
        limit: query.limit,
        total: page.total,
        after: page.next.map(|p| p.token()),
    };
    Ok(list_answer(page.clients.iter().map(ApiClient::view).collect(), pagination))
}

/// A page of the client listing, with its seek token.
fn list_answer(clients: Vec<ApiClientView>, pagination: ClientPagination) -> Response {
    let response = envelope_paged(StatusCode::OK, POWERED_BY_OAUTH2, Some(clients), vec![], Some(pagination));
    ([(CACHE_CONTROL, "no-store")], response).into_response()
}

/// `GET /api-clients/entities/clients/v1/{id}`.
pub async fn show(
    State(state): State<AppState>,
    auth: Authorized,
    ClientPath(id): ClientPath,
) -> Result<Response, ApiError> {
    Ok(answer(
        StatusCode::OK,
        vec![Caller::of(&state, &auth.principal).await?.reachable(&state, &id).await?.view()],
        None,
    ))
}

/// `POST /api-clients/entities/clients/v1`: 201 with the client and its secret, the only time it is shown.
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let request: CreateClientRequest = read_json(&headers, &body, r#"{"name": "...", "scopes": ["devices:read"]}"#)?;
    let caller = Caller::of(&state, &auth.principal).await?;
    let spec = ClientSpec::from_request(&request, caller.reach.home(caller.default_cid.clone())).map_err(invalid)?;
    check_grant(&auth.principal, spec.scopes)?;
    caller.reach.may_assign(Some(&spec.cid), &spec.member_cids).map_err(forbidden)?;
    let (client, secret) = admin::create(&**state.store(), &caller.actor(ip), spec, state.now()).await?;
    take_effect(&state).await;
    Ok(answer(StatusCode::CREATED, vec![client.view_with_secret(&secret)], None))
}

/// `PATCH /api-clients/entities/clients/v1/{id}`: changes the fields the body names.
pub async fn update(
    State(state): State<AppState>,
    auth: Authorized,
    ClientPath(id): ClientPath,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let request: UpdateClientRequest = read_json(&headers, &body, r#"{"enabled": false}"#)?;
    let changes = ClientChanges::from_request(&request).map_err(invalid)?;
    if changes.is_empty() {
        return Err(ApiError::bad_request("the body names nothing to change"));
    }
    let caller = Caller::of(&state, &auth.principal).await?;
    caller.changeable(&state, &id).await?;
    if let Some(scopes) = changes.scopes {
        check_grant(&auth.principal, scopes)?;
        if !scopes.contains(talon_wire::Scope::API_CLIENTS_WRITE) {
            check_not_self(&auth.principal, &id, "take api-clients:write from")?;
        }
    }
    if let Some(members) = &changes.member_cids {
        caller.reach.may_assign(None, members).map_err(forbidden)?;
    }
    if changes.enabled == Some(false) {
        check_not_self(&auth.principal, &id, "disable")?;
    }
    let client = admin::update(&**state.store(), &caller.actor(ip), &id, changes, state.now()).await?;
    take_effect(&state).await;
    Ok(answer(StatusCode::OK, vec![client.view()], None))
}

/// `DELETE /api-clients/entities/clients/v1/{id}`: its live tokens are refused at once.
pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    ClientPath(id): ClientPath,
    ClientIp(ip): ClientIp,
) -> Result<Response, ApiError> {
    check_not_self(&auth.principal, &id, "delete")?;
    let caller = Caller::of(&state, &auth.principal).await?;
    caller.changeable(&state, &id).await?;
    admin::delete(&**state.store(), &caller.actor(ip), &id, state.now()).await?;
    take_effect(&state).await;
    Ok(answer(StatusCode::OK, vec![id.to_string()], None))
}

/// `POST .../{id}/reset-secret`: a new secret, shown once; the old one and its tokens stop working at once.
pub async fn reset_secret(
    State(state): State<AppState>,
    auth: Authorized,
    ClientPath(id): ClientPath,
    ClientIp(ip): ClientIp,
) -> Result<Response, ApiError> {
    let caller = Caller::of(&state, &auth.principal).await?;
    caller.changeable(&state, &id).await?;
    let (client, secret) = admin::reset_secret(&**state.store(), &caller.actor(ip), &id, state.now()).await?;
    take_effect(&state).await;
    Ok(answer(StatusCode::OK, vec![client.view_with_secret(&secret)], None))
}

/// `POST .../{id}/revoke-tokens`: every token issued to the client so far is refused; the client itself
/// keeps working.
pub async fn revoke_tokens(
    State(state): State<AppState>,
    auth: Authorized,
    ClientPath(id): ClientPath,
    ClientIp(ip): ClientIp,
) -> Result<Response, ApiError> {
    let caller = Caller::of(&state, &auth.principal).await?;
    caller.changeable(&state, &id).await?;
    let client = admin::revoke_tokens(&**state.store(), &caller.actor(ip), &id, state.now()).await?;
    take_effect(&state).await;
    Ok(answer(StatusCode::OK, vec![client.view()], None))
}

/// `GET /api-clients/entities/audit/v1?offset=&limit=`: the audit log, newest first.
pub async fn audit_log(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (offset, limit) = paging(&query_params(raw.as_deref(), &[], 8)?)?;
    if !Caller::of(&state, &auth.principal).await?.reach.sees_audit_log() {
        return Err(forbidden(
            "access denied, the audit log spans every customer: the operator's admins read it".into(),
        ));
    }
    // Entries of this node's token path that are still queued are written first, so the page is current.
    if let Err(e) = state.queues().flush_audit(&**state.store()).await {
        tracing::warn!(error = %e, "could not write queued audit entries");
    }
    let (entries, total) = state.store().audit_entries(offset, limit).await?;
    let views: Vec<AuditEntryView> = entries.into_iter().map(AuditEntry::view).collect();
    Ok(answer(StatusCode::OK, views, Some(Pagination { offset, limit, total })))
}

/// `POST /api-clients/entities/fixtures/v1` with a fixture document (one fixture or a list, as a `.json`
/// fixture file: `talon_emulator::generic::fixture`): loaded all or nothing, for the caller's customer
/// (fixtures naming none) and only customers within its reach (403 otherwise); audited.
pub async fn load_fixtures(
    State(state): State<AppState>,
    auth: Authorized,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    crate::extract::check_json_media(&headers)?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the body must be UTF-8 JSON"))?;
    let mut make_id = || uuid::Uuid::new_v4().simple().to_string();
    let fixtures = talon_emulator::generic::fixture::parse("body.json", text, &mut make_id)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let caller = Caller::of(&state, &auth.principal).await?;
    for fixture in &fixtures {
        let named = match fixture {
            talon_emulator::generic::fixture::Fixture::Records { customer, .. }
            | talon_emulator::generic::fixture::Fixture::Canned { customer, .. } => customer.as_deref(),
        };
        let Some(named) = named else { continue };
        let cid = talon_store::fixtures::customer_of(named).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let within = match &caller.reach {
            AdminReach::Everything => true,
            AdminReach::Customer { cid: own, member_cids } => &cid == own || member_cids.contains(&cid),
        };
        if !within {
            return Err(forbidden(format!("customer {cid} is not within the caller's reach")));
        }
    }
    let home = caller.reach.home(caller.default_cid.clone());
    let report = talon_store::fixtures::load(&**state.store(), fixtures, &home).await.map_err(|e| match e {
        talon_store::StoreError::Conflict(message) => ApiError::bad_request(message),
        other => other.into(),
    })?;
    state.caches().forget_entities(None);
    let details = format!("{} records, {} canned answers", report.records, report.canned_answers);
    state.store().append_audit(&caller.actor(ip).entry(state.now(), "fixtures.load", None, details)).await?;
    let shown = serde_json::json!({"records": report.records, "canned_answers": report.canned_answers});
    Ok(answer(StatusCode::OK, vec![shown], None))
}
