//! The emulated MSSP (Flight Control) API and the sensor download CCID: a parent customer's children
//! are the member CIDs of the API client calling (the customers its tokens may be locked to); a token
//! locked to a child sees no children (a child never sees its parent or its siblings). The CCID is the
//! caller's customer as installers take it.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use talon_auth::CustomerId;
use talon_wire::device::param;
use talon_wire::envelope::{ErrorItem, Pagination};
use talon_wire::headers::{POWERED_BY_MSSP, POWERED_BY_SENSORS};
use talon_wire::mssp::{ChildIds, ChildLink};

use super::devices::{check_ids, ids_in_query, query_params};
use crate::error::{envelope, ApiError};
use crate::extract::{read_json, Authorized, Body};
use crate::state::AppState;

/// Most children one get may name, and largest page.
pub const MAX_CHILDREN: usize = 500;

/// The caller's children: its client's member CIDs, unless the token is locked to one of them.
fn children(state: &AppState, auth: &Authorized) -> Vec<CustomerId> {
    match state.auth().client(&auth.principal.client_id) {
        Some(client) if client.cid == auth.principal.customer => {
            let mut members = client.member_cids.clone();
            members.sort();
            members.dedup();
            members
        }
        _ => vec![],
    }
}

fn link(parent: &CustomerId, child: &CustomerId) -> ChildLink {
    ChildLink {
        child_cid: child.to_string(),
        child_of: parent.to_string(),
        checksum: child.checksum(),
        domains: vec![],
        name: format!("Child {}", &child.as_str()[..8]),
        status: "active".into(),
    }
}

/// `GET /mssp/queries/children/v1?filter=&sort=&offset=&limit=`: the children's CIDs, paged (limit 10 by
/// default); the filter may name `cid` (`cid:'<cid>'` or a list), as the real API takes.
pub async fn query(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let number = |name: &str, default: u64, max: u64| -> Result<u64, ApiError> {
        match params.non_empty(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| ApiError::bad_request(format!("{name} must be an integer from 0 to {max}"))),
        }
    };
    let offset = number(param::OFFSET, 0, u64::MAX)?;
    let limit = number(param::LIMIT, 10, MAX_CHILDREN as u64)?.max(1);
    let descending = match params.non_empty(param::SORT) {
        None | Some("last_modified_timestamp|desc") | Some("last_modified_timestamp.desc") => true,
        Some("last_modified_timestamp|asc") | Some("last_modified_timestamp.asc") => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                "sort must be last_modified_timestamp|asc or last_modified_timestamp|desc",
            ))
        }
    };
    let wanted = match params.non_empty(param::FILTER) {
        None => None,
        Some(filter) => Some(cid_filter(filter)?),
    };
    let mut cids: Vec<String> = children(&state, &auth)
        .into_iter()
        .map(|c| c.to_string())
        .filter(|c| wanted.as_ref().is_none_or(|w| w.contains(c)))
        .collect();
    if descending {
        cids.reverse();
    }
    let total = cids.len() as u64;
    let page: Vec<String> =
        cids.into_iter().skip(offset.min(usize::MAX as u64) as usize).take(limit as usize).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_MSSP, Some(page), vec![], Some(Pagination { offset, limit, total })))
}

/// The CIDs a children filter names: `cid:'<cid>'` or `cid:['<a>','<b>']`, the one field it takes.
fn cid_filter(filter: &str) -> Result<Vec<String>, ApiError> {
    let refuse = || ApiError::bad_request("filter: children filter only by cid, as cid:'<cid>' or cid:['<cid>',...]");
    let values = filter.trim().strip_prefix("cid:").ok_or_else(refuse)?.trim();
    let values = values.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(values);
    values
        .split(',')
        .map(|v| {
            let v = v.trim().trim_matches('\'');
            CustomerId::parse_lenient(v).map(|c| c.to_string()).map_err(|_| refuse())
        })
        .collect()
}

/// `GET /mssp/entities/children/v1?ids=..`: the named children; others are named in `errors` (404 when
/// none is the caller's child).
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let ids = ids_in_query(raw.as_deref(), MAX_CHILDREN)?;
    child_links(&state, &auth, ids)
}

/// `POST /mssp/entities/children/GET/v2` with `{"ids": [...]}`: as [`get`].
pub async fn get_v2(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let ChildIds { ids } = read_json(&headers, &body, r#"{"ids": ["<child cid>"]}"#)?;
    child_links(&state, &auth, ids)
}

fn child_links(state: &AppState, auth: &Authorized, ids: Vec<String>) -> Result<Response, ApiError> {
    check_ids(&ids, MAX_CHILDREN)?;
    let children = children(state, auth);
    let parent = &auth.principal.customer;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for id in &ids {
        match CustomerId::parse_lenient(id).ok().filter(|c| children.contains(c)) {
            Some(child) => found.push(link(parent, &child)),
            None => errors.push(ErrorItem { code: 404, message: format!("child CID {id} not found") }),
        }
    }
    let status = if found.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    Ok(envelope(status, POWERED_BY_MSSP, Some(found), errors, None))
}

/// `GET /sensors/queries/installers/ccid/v1`: the caller's customer with its checksum, as installers take
/// it (the call tools make to learn their CID).
pub async fn ccid(auth: Authorized) -> Result<Response, ApiError> {
    let ccid = auth.principal.customer.ccid();
    Ok(envelope(StatusCode::OK, POWERED_BY_SENSORS, Some(vec![ccid]), vec![], None))
}
