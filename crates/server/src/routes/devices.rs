//! The emulated hosts API, per customer: `QueryDevicesByFilter`, `GetDeviceDetailsV2`,
//! `PostDeviceDetailsV2` and `PerformActionV2`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

use talon_emulator::{DeviceAction, Host, HostIndex, HostQuery, QueryParams};
use talon_wire::device::{param, ActionResult, Device, IdsBody};
use talon_wire::envelope::Pagination;
use talon_wire::form::Form;
use talon_wire::headers::POWERED_BY_DEVICES;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{envelope, ApiError};
use crate::extract::{read_json, Authorized, Body};
use crate::state::{AppState, ListingPage};

/// Most hosts one action request may name, as on the real API.
pub const MAX_ACTION_IDS: usize = 100;
/// Most IDs of `GetDeviceDetailsV2` (query string).
pub const MAX_GET_IDS: usize = 100;
/// Most IDs of `PostDeviceDetailsV2` (JSON body).
pub const MAX_POST_IDS: usize = 5000;

/// `GET /devices/queries/devices/v1`: IDs of the customer's visible hosts, filtered (FQL), sorted, paged.
pub async fn query(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let query = HostQuery::parse(
        QueryParams {
            offset: params.get(param::OFFSET),
            limit: params.get(param::LIMIT),
            sort: params.get(param::SORT),
            filter: params.get(param::FILTER),
        },
        state.now(),
    )
    .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let hosts = state.customer_hosts(&auth.principal.customer).await?;
    let (ids, total) = if query.is_plain_listing() {
        hosts.listing_page(query.offset, query.limit, || serialize_ids(&query, &hosts))
    } else if query.filter.is_some() {
        // A filter may cost milliseconds (bounded by fql::limits): off the async workers, so that it
        // delays no other request.
        let (query, hosts) = (query.clone(), hosts.clone());
        tokio::task::spawn_blocking(move || serialize_ids(&query, &hosts)).await.map_err(|_| ApiError::internal())?
    } else {
        serialize_ids(&query, &hosts)
    };
    let pagination = Pagination { offset: query.offset, limit: query.limit, total };
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(&*ids), vec![], Some(pagination)))
}

/// The page of `query` as a JSON list of device IDs, and the number of matches.
fn serialize_ids(query: &HostQuery, hosts: &HostIndex) -> ListingPage {
    let (page, total) = query.run(hosts);
    let ids: Vec<&str> = page.iter().map(|h| h.device_id.as_str()).collect();
    // A list of strings always serializes.
    let json = serde_json::value::to_raw_value(&ids).expect("a list of strings serializes");
    (Arc::from(json), total)
}

/// `GET /devices/entities/devices/v2?ids=a&ids=b`: details of up to 100 hosts.
pub async fn details_get(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[param::IDS], MAX_GET_IDS + 1)?;
    let ids: Vec<String> = params.all(param::IDS).into_iter().map(str::to_owned).collect();
    details(&state, &auth, ids, MAX_GET_IDS).await
}

/// `POST /devices/entities/devices/v2` with `{"ids": [...]}`: details of up to 5000 hosts.
pub async fn details_post(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let ids = read_ids(&headers, &body)?;
    details(&state, &auth, ids, MAX_POST_IDS).await
}

/// Details of the named hosts the customer has; unknown IDs are left out, as on the real API (which
/// answers only what it found). Hidden hosts are not shown.
async fn details(state: &AppState, auth: &Authorized, ids: Vec<String>, max: usize) -> Result<Response, ApiError> {
    check_ids(&ids, max)?;
    let hosts = state.customer_hosts(&auth.principal.customer).await?;
    let devices: Vec<Device> = ids.iter().filter_map(|id| hosts.get(id).filter(|h| !h.hidden)).map(device).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(devices), vec![], None))
}

/// `POST /devices/entities/devices-actions/v2?action_name=...` with `{"ids": [...]}`: all hosts or none.
pub async fn action(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let names = DeviceAction::NAMES.join(", ");
    let action = match params.non_empty(param::ACTION_NAME) {
        None => return Err(ApiError::bad_request(format!("action_name is required: one of {names}"))),
        Some(name) => DeviceAction::parse(name)
            .ok_or_else(|| ApiError::bad_request(format!("unknown action_name: use one of {names}")))?,
    };
    let ids = read_ids(&headers, &body)?;
    check_ids(&ids, MAX_ACTION_IDS)?;
    let outcome = state.store().apply_host_action(&auth.principal.customer, &ids, action).await?;
    if let Err(unknown) = outcome {
        return Err(ApiError::not_found(format!("no such device: {}", unknown.0.join(", "))));
    }
    // This node sees its own change at once; others when the customer's hosts version moves.
    state.forget_hosts_of(std::slice::from_ref(&auth.principal.customer));
    let resources: Vec<ActionResult> = ids.into_iter().map(|id| ActionResult { id, path: String::new() }).collect();
    Ok(envelope(StatusCode::ACCEPTED, POWERED_BY_DEVICES, Some(resources), vec![], None))
}

/// The query string as a strict form (see [`Form::parse_with`]); an error is a 400 saying what is wrong.
pub(crate) fn query_params(raw: Option<&str>, repeatable: &[&str], max_fields: usize) -> Result<Form, ApiError> {
    Form::parse_with(raw.unwrap_or_default().as_bytes(), repeatable, max_fields)
        .map_err(|e| ApiError::bad_request(format!("query: {e}")))
}

/// The `{"ids": [...]}` body.
fn read_ids(headers: &HeaderMap, body: &[u8]) -> Result<Vec<String>, ApiError> {
    let IdsBody { ids } = read_json(headers, body, r#"{"ids": ["<device id>", ...]}"#)?;
    Ok(ids)
}

/// Longest device ID taken (Falcon's are 32 hex digits): bounds the work and the URL of a full GET.
pub const MAX_DEVICE_ID_CHARS: usize = 64;

/// 1 to `max` IDs, each 1 to [`MAX_DEVICE_ID_CHARS`] letters, digits, `-` or `_` (as the OpenAPI
/// document's pattern says).
fn check_ids(ids: &[String], max: usize) -> Result<(), ApiError> {
    if ids.is_empty() || ids.len() > max {
        return Err(ApiError::bad_request(format!("ids must hold 1 to {max} device IDs")));
    }
    if ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::bad_request("ids must not hold an empty ID"));
    }
    let shaped = |id: &String| {
        id.len() <= MAX_DEVICE_ID_CHARS && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !ids.iter().all(shaped) {
        return Err(ApiError::bad_request(format!(
            "ids must hold device IDs: 1 to {MAX_DEVICE_ID_CHARS} letters, digits, - or _"
        )));
    }
    Ok(())
}

/// A host as the hosts API shows it.
fn device(host: &Host) -> Device {
    let rfc3339 =
        |t: i64| OffsetDateTime::from_unix_timestamp(t).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default();
    Device {
        device_id: host.device_id.clone(),
        cid: host.cid.to_string(),
        hostname: host.hostname.clone(),
        platform_name: host.platform.as_str().to_owned(),
        os_version: host.os_version.clone(),
        local_ip: host.local_ip.to_string(),
        external_ip: host.external_ip.to_string(),
        mac_address: host.mac_address.clone(),
        agent_version: host.agent_version.clone(),
        first_seen: rfc3339(host.first_seen),
        last_seen: rfc3339(host.last_seen),
        status: host.status.as_str().to_owned(),
        tags: host.tags.clone(),
    }
}
