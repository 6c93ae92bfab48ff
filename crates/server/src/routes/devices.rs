//! The emulated hosts API: `QueryDevicesByFilter` and `PerformActionV2`, per customer.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use talon_emulator::{DeviceAction, HostQuery};
use talon_wire::device::{param, ActionResult, IdsBody};
use talon_wire::envelope::Pagination;
use talon_wire::form::Form;
use talon_wire::headers::POWERED_BY_DEVICES;

use crate::error::{envelope, ApiError};
use crate::extract::{media_type, Authorized, Body, DevicesRead, DevicesWrite};
use crate::state::AppState;

/// Most hosts one action request may name, as on the real API.
pub const MAX_ACTION_IDS: usize = 100;

/// `GET /devices/queries/devices/v1`: IDs of the customer's visible hosts, paged and sorted.
pub async fn query(
    State(state): State<AppState>,
    auth: Authorized<DevicesRead>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    if params.non_empty(param::FILTER).is_some() {
        // FQL arrives with the fuller emulated API; refusing is honest, ignoring the filter would not be.
        return Err(ApiError::bad_request("filter: FQL filters are not supported by this Talon version yet"));
    }
    let query = HostQuery::parse(params.get(param::OFFSET), params.get(param::LIMIT), params.get(param::SORT))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (ids, total) = state.store().query_hosts(&auth.principal.customer, &query).await?;
    let pagination = Pagination { offset: query.offset, limit: query.limit, total };
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(ids), vec![], Some(pagination)))
}

/// `POST /devices/entities/devices-actions/v2?action_name=...` with `{"ids": [...]}`: all hosts or none.
pub async fn action(
    State(state): State<AppState>,
    auth: Authorized<DevicesWrite>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref())?;
    let names = DeviceAction::NAMES.join(", ");
    let action = match params.non_empty(param::ACTION_NAME) {
        None => return Err(ApiError::bad_request(format!("action_name is required: one of {names}"))),
        Some(name) => DeviceAction::parse(name)
            .ok_or_else(|| ApiError::bad_request(format!("unknown action_name: use one of {names}")))?,
    };
    let ids = read_ids(&headers, &body)?;
    let outcome = state.store().apply_host_action(&auth.principal.customer, &ids, action).await?;
    if let Err(unknown) = outcome {
        return Err(ApiError::not_found(format!("no such device: {}", unknown.0.join(", "))));
    }
    let resources: Vec<ActionResult> = ids.into_iter().map(|id| ActionResult { id, path: String::new() }).collect();
    Ok(envelope(StatusCode::ACCEPTED, POWERED_BY_DEVICES, Some(resources), vec![], None))
}

fn query_params(raw: Option<&str>) -> Result<Form, ApiError> {
    Form::parse(raw.unwrap_or_default().as_bytes()).map_err(|e| ApiError::bad_request(format!("query: {e}")))
}

/// The `{"ids": [...]}` body: JSON, 1 to [`MAX_ACTION_IDS`] non-empty IDs.
fn read_ids(headers: &HeaderMap, body: &[u8]) -> Result<Vec<String>, ApiError> {
    if media_type(headers).is_some_and(|m| m != "application/json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"));
    }
    let IdsBody { ids } = serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request(r#"body must be JSON of the form {"ids": ["<device id>", ...]}"#))?;
    if ids.is_empty() || ids.len() > MAX_ACTION_IDS {
        return Err(ApiError::bad_request(format!("ids must hold 1 to {MAX_ACTION_IDS} device IDs")));
    }
    if ids.iter().any(|id| id.is_empty()) {
        return Err(ApiError::bad_request("ids must not hold an empty ID"));
    }
    Ok(ids)
}
