//! The emulated hosts API, per customer: the Hosts collection's operations (queries by offset and by
//! token, hidden hosts, combined records, details, online state, tags, actions, deletion, login and
//! network-address history), over the customer's hosts held in memory (see `Caches::customer_hosts`).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use std::sync::Arc;

use talon_emulator::{history, DeviceAction, Host, HostIndex, HostQuery, QueryParams};
use talon_wire::device::{
    param, ActionResult, IdsBody, Login, LoginHistory, NetworkAddress, NetworkHistory, OnlineState, TagResult,
    TokenPagination, UpdateTagsBody,
};
use talon_wire::envelope::{ErrorItem, Pagination};
use talon_wire::form::Form;
use talon_wire::headers::POWERED_BY_DEVICES;

use crate::error::{envelope, envelope_paged, ApiError};
use crate::extract::{read_json, Authorized, Body};
use crate::state::{AppState, CustomerHosts, ListingPage};

/// Most hosts one action request may name, as on the real API.
pub const MAX_ACTION_IDS: usize = 100;
/// Most IDs of `GetDeviceDetailsV2` (query string).
pub const MAX_GET_IDS: usize = 100;
/// Most IDs of `PostDeviceDetailsV2` (JSON body).
pub const MAX_POST_IDS: usize = 5000;
/// Most hosts of one `UpdateDeviceTags`.
pub const MAX_TAG_HOSTS: usize = 5000;
/// Most tags of one `UpdateDeviceTags`, and longest tag.
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 256;
/// The prefix of the tags the API may set (sensor tags are set on the host, not through the API).
pub const FALCON_TAG_PREFIX: &str = "FalconGroupingTags/";
/// Most hosts of one login-history request (v1, v2) and of a network-address history.
pub const MAX_HISTORY_IDS: usize = 500;
pub const MAX_HISTORY_V2_IDS: usize = 10;
/// How long a scroll token is good for, as the real API says (two minutes).
pub const SCROLL_TOKEN_MILLIS: i64 = 120_000;

/// `GET /devices/queries/devices/v1`: IDs of the customer's visible hosts, filtered (FQL), sorted, paged.
pub async fn query(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    query_over(state, auth, raw, false).await
}

/// `GET /devices/queries/devices-hidden/v1`: as [`query`], over the hidden hosts.
pub async fn query_hidden(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    query_over(state, auth, raw, true).await
}

async fn query_over(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
    hidden: bool,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let query = host_query(&state, &params, params.get(param::OFFSET), HostQuery::MAX_LIMIT)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    // The plain listing of visible hosts is kept serialized until the hosts change.
    let (ids, total) = if !hidden && query.is_plain_listing() {
        hosts.listing_page(query.offset, query.limit, || serialize_ids(&query, &hosts, false))
    } else {
        ids_of(&query, &hosts, hidden).await?
    };
    let pagination = Pagination { offset: query.offset, limit: query.limit, total };
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(&*ids), vec![], Some(pagination)))
}

/// `GET /devices/queries/devices-scroll/v1`: IDs page by page, `offset` being the token the previous
/// page gave (none on the first); up to 10,000 a page. `meta.pagination.total` counts every match, so a
/// client stops when it holds that many.
pub async fn query_scroll(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let position = scroll_position(params.get(param::OFFSET))?;
    let query = host_query(&state, &params, Some(&position.to_string()), HostQuery::MAX_SCROLL_LIMIT)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let (ids, total) = ids_of(&query, &hosts, false).await?;
    let pagination = scroll_pagination(&state, query.offset, query.limit, total, false);
    Ok(envelope_paged(StatusCode::OK, POWERED_BY_DEVICES, Some(&*ids), vec![], Some(pagination)))
}

/// `GET /devices/combined/devices/v1`: whole records page by page (token paging, as the scroll query),
/// only the named `fields` when given.
pub async fn combined(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    combined_over(state, auth, raw, false).await
}

/// `GET /devices/combined/devices-hidden/v1`: as [`combined`], over the hidden hosts.
pub async fn combined_hidden(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    combined_over(state, auth, raw, true).await
}

async fn combined_over(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
    hidden: bool,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let position = scroll_position(params.get(param::OFFSET))?;
    let query = host_query(&state, &params, Some(&position.to_string()), HostQuery::MAX_SCROLL_LIMIT)?;
    let fields: Option<Vec<String>> =
        params.non_empty(param::FIELDS).map(|f| f.split(',').map(|name| name.trim().to_owned()).collect());
    if let Some(unknown) = fields.iter().flatten().find(|f| talon_emulator::Field::parse(f).is_none()) {
        return Err(ApiError::bad_request(format!("fields: {unknown:?} is not a field of the device record")));
    }
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let (offset, limit) = (query.offset, query.limit);
    // Whole records, and maybe a filter: off the async workers, as `ids_of` runs filtered queries.
    let (records, total) = tokio::task::spawn_blocking(move || {
        let (page, total) = query.run_over(&hosts, hidden);
        let records: Vec<serde_json::Value> = page.iter().map(|h| record_with(h, fields.as_deref())).collect();
        (records, total)
    })
    .await
    .map_err(|_| ApiError::internal())?;
    let pagination = scroll_pagination(&state, offset, limit, total, true);
    Ok(envelope_paged(StatusCode::OK, POWERED_BY_DEVICES, Some(records), vec![], Some(pagination)))
}

/// A host's record as JSON, with only `fields` (and `device_id`) when given.
fn record_with(host: &Host, fields: Option<&[String]>) -> serde_json::Value {
    // A record of strings and lists always serializes.
    let mut value = serde_json::to_value(host.record()).expect("a device record serializes");
    if let (Some(fields), serde_json::Value::Object(map)) = (fields, &mut value) {
        map.retain(|k, _| k == "device_id" || fields.contains(k));
    }
    value
}

/// The host query of these parameters, with `offset` as given (a scroll's comes from its token).
fn host_query(state: &AppState, params: &Form, offset: Option<&str>, max_limit: u64) -> Result<HostQuery, ApiError> {
    let raw = QueryParams {
        offset,
        limit: params.get(param::LIMIT),
        sort: params.get(param::SORT),
        filter: params.get(param::FILTER),
    };
    HostQuery::parse_with(raw, state.now(), max_limit).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The next page's token: where it starts, opaque to the client (it only sends it back).
pub(crate) fn scroll_token(position: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("talon-scroll:{position}"))
}

/// Where a scroll token says the page starts; no token (or an empty one) is the first page.
pub(crate) fn scroll_position(token: Option<&str>) -> Result<u64, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else { return Ok(0) };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("talon-scroll:").and_then(|p| p.parse().ok()))
        .ok_or_else(|| {
            ApiError::bad_request("offset: not a token a previous page gave; leave it out for the first page")
        })
}

/// The token paging of a page at `offset` of `limit` out of `total` matches (`next` too for the combined
/// queries).
pub(crate) fn scroll_pagination(
    state: &AppState,
    offset: u64,
    limit: u64,
    total: u64,
    with_next: bool,
) -> TokenPagination {
    let next_position = offset.saturating_add(limit).min(total.max(offset));
    let token = scroll_token(next_position);
    TokenPagination {
        next: (with_next && next_position < total).then(|| token.clone()),
        offset: token,
        limit,
        total,
        expires_at: state.now().saturating_mul(1000).saturating_add(SCROLL_TOKEN_MILLIS),
    }
}

/// The page of `query` as a JSON list of device IDs, and the number of matches; a filter may cost
/// milliseconds (bounded by fql::limits), so it runs off the async workers and delays no other request.
pub(crate) async fn ids_of(
    query: &HostQuery,
    hosts: &Arc<CustomerHosts>,
    hidden: bool,
) -> Result<ListingPage, ApiError> {
    if query.filter.is_none() {
        return Ok(serialize_ids(query, hosts, hidden));
    }
    let (query, hosts) = (query.clone(), hosts.clone());
    tokio::task::spawn_blocking(move || serialize_ids(&query, &hosts, hidden)).await.map_err(|_| ApiError::internal())
}

fn serialize_ids(query: &HostQuery, hosts: &HostIndex, hidden: bool) -> ListingPage {
    let (page, total) = query.run_over(hosts, hidden);
    let ids: Vec<&str> = page.iter().map(|h| h.device_id()).collect();
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
    let ids = ids_in_query(raw.as_deref(), MAX_GET_IDS)?;
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

/// The `ids` of a query string (repeated `ids=`), at most `max`.
pub(crate) fn ids_in_query(raw: Option<&str>, max: usize) -> Result<Vec<String>, ApiError> {
    let params = query_params(raw, &[param::IDS], max + 1)?;
    Ok(params.all(param::IDS).into_iter().map(str::to_owned).collect())
}

/// Details of the named hosts the customer has; unknown IDs are left out, as on the real API (which
/// answers only what it found). Hidden hosts are shown too: they leave the queries, not the details
/// (caracara's `describe_hidden_devices` reads them here after QueryHiddenDevices).
async fn details(state: &AppState, auth: &Authorized, ids: Vec<String>, max: usize) -> Result<Response, ApiError> {
    check_ids(&ids, max)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let devices: Vec<_> = ids.iter().filter_map(|id| hosts.get(id)).map(Host::record).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(devices), vec![], None))
}

/// `GET /devices/entities/online-state/v1?ids=..`: each known host's state (online when seen within the
/// last 15 minutes, offline within 30 days, else unknown); unknown IDs are left out.
pub async fn online_state(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let ids = ids_in_query(raw.as_deref(), MAX_GET_IDS)?;
    check_ids(&ids, MAX_GET_IDS)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let now = state.now();
    let states: Vec<OnlineState> = ids
        .iter()
        .filter_map(|id| hosts.get(id).filter(|h| !h.hidden()))
        .map(|h| OnlineState {
            id: h.device_id().to_owned(),
            state: history::online_state(h, now).to_owned(),
            cid: h.cid().to_string(),
            last_seen: h.record().last_seen.clone(),
        })
        .collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(states), vec![], None))
}

/// `PATCH /devices/entities/devices/tags/v1` with `{"action": "add"|"remove", "device_ids": [..], "tags":
/// ["FalconGroupingTags/.."]}`: the known hosts change together; each unknown one is reported with code
/// 404 in `resources`, as the real API reports it.
pub async fn update_tags(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let example = r#"{"action": "add", "device_ids": ["<device id>"], "tags": ["FalconGroupingTags/<tag>"]}"#;
    let body: UpdateTagsBody = read_json(&headers, &body, example)?;
    let add = match body.action.as_str() {
        "add" => true,
        "remove" => false,
        _ => return Err(ApiError::bad_request("action must be add or remove")),
    };
    check_ids(&body.device_ids, MAX_TAG_HOSTS)?;
    if body.tags.is_empty() || body.tags.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!("tags must hold 1 to {MAX_TAGS} tags")));
    }
    let tags: Vec<String> = body.tags.iter().map(|t| falcon_tag(t)).collect::<Result<_, _>>()?;
    let customer = &auth.principal.customer;
    let hosts = state.caches().customer_hosts(customer).await?;
    let mut known: Vec<String> =
        body.device_ids.iter().filter(|id| hosts.get(id).is_some_and(|h| !h.hidden())).cloned().collect();
    known.sort();
    known.dedup();
    let now = state.now();
    let edit = |host: &mut Host| {
        host.edit(now, |d| {
            if add {
                for tag in &tags {
                    if !d.tags.contains(tag) {
                        d.tags.push(tag.clone());
                    }
                }
            } else {
                d.tags.retain(|t| !tags.contains(t));
            }
        })
    };
    let changed = if known.is_empty() {
        vec![]
    } else {
        match state.store().edit_hosts(customer, &known, false, &edit).await? {
            Ok(changed) => changed.iter().map(|h| h.device_id().to_owned()).collect(),
            // Deleted or hidden meanwhile (by another node): those are reported as unknown below.
            Err(_) => vec![],
        }
    };
    state.caches().forget_hosts_of(std::slice::from_ref(customer));
    let results: Vec<TagResult> = body
        .device_ids
        .iter()
        .map(|id| match changed.contains(id) {
            true => TagResult { device_id: id.clone(), updated: true, code: 200, error: String::new() },
            false => TagResult { device_id: id.clone(), updated: false, code: 404, error: "device not found".into() },
        })
        .collect();
    Ok(envelope(StatusCode::ACCEPTED, POWERED_BY_DEVICES, Some(results), vec![], None))
}

/// A tag as the API takes it: `FalconGroupingTags/<name>` (the prefix added when missing, any case of it
/// accepted), the name of letters, digits, `_`, `-`, `/` or spaces.
fn falcon_tag(tag: &str) -> Result<String, ApiError> {
    let name = match tag.get(..FALCON_TAG_PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(FALCON_TAG_PREFIX) => &tag[FALCON_TAG_PREFIX.len()..],
        _ if tag.starts_with("SensorGroupingTags/") => {
            return Err(ApiError::bad_request("SensorGroupingTags are set on the host, not through the API"))
        }
        _ => tag,
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | ' ');
    if name.is_empty() || name.len() > MAX_TAG_CHARS || !name.chars().all(valid) {
        return Err(ApiError::bad_request(format!(
            "tags must be FalconGroupingTags/<name>, the name 1 to {MAX_TAG_CHARS} letters, digits, _, -, / or spaces"
        )));
    }
    Ok(format!("{FALCON_TAG_PREFIX}{name}"))
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
    let outcome = state.store().apply_host_action(&auth.principal.customer, &ids, action, state.now()).await?;
    if let Err(unknown) = outcome {
        return Err(ApiError::not_found(format!("no such device: {}", unknown.0.join(", "))));
    }
    // This node sees its own change at once; others when the customer's hosts version moves.
    state.caches().forget_hosts_of(std::slice::from_ref(&auth.principal.customer));
    let resources: Vec<ActionResult> = ids.into_iter().map(|id| ActionResult { id, path: String::new() }).collect();
    Ok(envelope(StatusCode::ACCEPTED, POWERED_BY_DEVICES, Some(resources), vec![], None))
}

/// `POST /devices/entities/devices-actions-delete/v1` with `{"ids": [...]}`: deletes the known hosts for
/// good; the unknown ones are named in `errors` (404).
pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let ids = read_ids(&headers, &body)?;
    check_ids(&ids, MAX_ACTION_IDS)?;
    let customer = &auth.principal.customer;
    let deleted = state.store().delete_hosts(customer, &ids).await?;
    state.caches().forget_hosts_of(std::slice::from_ref(customer));
    let errors: Vec<ErrorItem> = ids
        .iter()
        .filter(|id| !deleted.contains(id))
        .map(|id| ErrorItem { code: 404, message: format!("Device {id} not found") })
        .collect();
    let resources: Vec<ActionResult> = deleted.into_iter().map(|id| ActionResult { id, path: String::new() }).collect();
    let status = if resources.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::ACCEPTED };
    Ok(envelope(status, POWERED_BY_DEVICES, Some(resources), errors, None))
}

/// `POST /devices/combined/devices/login-history/v1` with `{"ids": [...]}` (up to 500): each known host's
/// recent logins, newest first.
pub async fn login_history(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let ids = read_ids(&headers, &body)?;
    check_ids(&ids, MAX_HISTORY_IDS)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let histories = login_histories(&hosts, &ids, |_| true, usize::MAX);
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(histories), vec![], None))
}

/// `POST /devices/combined/devices/login-history/v2?limit=&from=&to=` with `{"ids": [...]}` (up to 10):
/// the logins within `from`..`to` (default the last seven days), at most `limit` (1 to 100, default 10)
/// per host.
pub async fn login_history_v2(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let limit = match params.non_empty(param::LIMIT) {
        None => 10,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::bad_request("limit must be an integer from 1 to 100"))?,
    };
    let now = state.now();
    let instant = |name: &str, default: &str| -> Result<(i64, i64), ApiError> {
        let text = params.non_empty(name).unwrap_or(default);
        talon_emulator::fql::time_span(text, now).ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be a time such as 2026-01-01T00:00:00Z or now-7d"))
        })
    };
    let (from, _) = instant(param::FROM, "now-7d")?;
    let (_, to) = instant(param::TO, "now")?;
    let ids = read_ids(&headers, &body)?;
    check_ids(&ids, MAX_HISTORY_V2_IDS)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let histories = login_histories(&hosts, &ids, |at| from <= at && at < to, limit);
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(histories), vec![], None))
}

fn login_histories(hosts: &HostIndex, ids: &[String], within: impl Fn(i64) -> bool, limit: usize) -> Vec<LoginHistory> {
    ids.iter()
        .filter_map(|id| hosts.get(id).filter(|h| !h.hidden()))
        .map(|h| LoginHistory {
            device_id: h.device_id().to_owned(),
            cid: h.cid().to_string(),
            recent_logins: history::logins(h)
                .into_iter()
                .filter(|(at, _)| within(*at))
                .take(limit)
                .map(|(at, user_name)| Login { login_time: talon_emulator::host::rfc3339(at), user_name })
                .collect(),
        })
        .collect()
}

/// `POST /devices/combined/devices/network-address-history/v1` with `{"ids": [...]}`: the addresses each
/// known host had, newest first.
pub async fn network_history(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let ids = read_ids(&headers, &body)?;
    check_ids(&ids, MAX_HISTORY_IDS)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let histories: Vec<NetworkHistory> = ids
        .iter()
        .filter_map(|id| hosts.get(id).filter(|h| !h.hidden()))
        .map(|h| NetworkHistory {
            device_id: h.device_id().to_owned(),
            cid: h.cid().to_string(),
            history: history::addresses(h)
                .into_iter()
                .map(|(ip_address, mac_address, at)| NetworkAddress {
                    ip_address,
                    mac_address,
                    timestamp: talon_emulator::host::rfc3339(at),
                })
                .collect(),
        })
        .collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_DEVICES, Some(histories), vec![], None))
}

/// The query string as a strict form (see [`Form::parse_with`]); an error is a 400 saying what is wrong.
pub(crate) fn query_params(raw: Option<&str>, repeatable: &[&str], max_fields: usize) -> Result<Form, ApiError> {
    Form::parse_with(raw.unwrap_or_default().as_bytes(), repeatable, max_fields)
        .map_err(|e| ApiError::bad_request(format!("query: {e}")))
}

/// The `{"ids": [...]}` body.
pub(crate) fn read_ids(headers: &HeaderMap, body: &[u8]) -> Result<Vec<String>, ApiError> {
    let IdsBody { ids } = read_json(headers, body, r#"{"ids": ["<device id>", ...]}"#)?;
    Ok(ids)
}

/// Longest device ID taken (Falcon's are 32 hex digits): bounds the work and the URL of a full GET.
pub const MAX_DEVICE_ID_CHARS: usize = 64;

/// 1 to `max` IDs, each 1 to [`MAX_DEVICE_ID_CHARS`] letters, digits, `-` or `_` (as the OpenAPI
/// document's pattern says).
pub(crate) fn check_ids(ids: &[String], max: usize) -> Result<(), ApiError> {
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
