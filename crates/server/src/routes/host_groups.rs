//! The emulated Host Group API, per customer: queries (IDs and records), get, create, update, delete,
//! add and remove hosts (`performGroupAction`, and the Hosts collection's older `entities_perform_action`),
//! and the members of a group (IDs and records). The rules are `talon_emulator::groups`'; groups are
//! written through the store, all or nothing, and a host's `groups` field follows.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use talon_emulator::groups::{Group, GroupError, GroupQuery};
use talon_emulator::{fql, HostQuery, QueryParams};
use talon_store::{GroupRefusal, StoredGroup};
use talon_wire::device::param;
use talon_wire::envelope::{ErrorItem, Pagination};
use talon_wire::headers::POWERED_BY_HOST_GROUPS;
use talon_wire::host_group::{CreateGroupsBody, GroupActionBody, HostGroup, UpdateGroupsBody};

use super::devices::{check_ids, ids_in_query, query_params};
use crate::error::{envelope, ApiError};
use crate::extract::{read_json, Authorized, Body};
use crate::state::{AppState, CustomerHosts};

/// Most groups one create, update or delete may name.
pub const MAX_GROUPS: usize = 100;
/// Most groups one get may name: caracara's `describe_groups` asks for 500 a call (its batch size for
/// every entities get), so a customer of more than 100 groups needs that many. The real API's limit is
/// unconfirmed; 500 is what CrowdStrike's own tool relies on.
pub const MAX_GET_GROUPS: usize = 500;

/// `GET /devices/queries/host-groups/v1`: IDs of the customer's groups, filtered (FQL over the group's
/// fields), sorted (by name by default) and paged.
pub async fn query(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    let (page, pagination) = groups_page(&state, &auth, raw.0.as_deref()).await?;
    let ids: Vec<String> = page.iter().map(|g| g.id.clone()).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_HOST_GROUPS, Some(ids), vec![], Some(pagination)))
}

/// `GET /devices/combined/host-groups/v1`: as [`query`], with the records.
pub async fn combined(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    let (page, pagination) = groups_page(&state, &auth, raw.0.as_deref()).await?;
    Ok(envelope(StatusCode::OK, POWERED_BY_HOST_GROUPS, Some(page), vec![], Some(pagination)))
}

async fn groups_page(
    state: &AppState,
    auth: &Authorized,
    raw: Option<&str>,
) -> Result<(Vec<HostGroup>, Pagination), ApiError> {
    let params = query_params(raw, &[], talon_wire::form::MAX_FIELDS)?;
    let p = |name| params.get(name);
    let query = GroupQuery::parse(p(param::FILTER), p(param::SORT), p(param::OFFSET), p(param::LIMIT), state.now())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let (page, total) = query.run(hosts.groups());
    let records = page.into_iter().map(|g| g.record().clone()).collect();
    Ok((records, Pagination { offset: query.offset, limit: query.limit, total }))
}

/// `GET /devices/entities/host-groups/v1?ids=..`: the named groups; unknown IDs are named in `errors`
/// (404 when none is known).
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let ids = ids_in_query(raw.as_deref(), MAX_GET_GROUPS)?;
    check_ids(&ids, MAX_GET_GROUPS)?;
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let found: Vec<HostGroup> = ids.iter().filter_map(|id| hosts.group(id)).map(|g| g.record().clone()).collect();
    let errors = not_found(&ids, |id| hosts.group(id).is_some());
    let status = if found.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    Ok(envelope(status, POWERED_BY_HOST_GROUPS, Some(found), errors, None))
}

/// A 404 entry for each ID `known` does not know.
fn not_found(ids: &[String], known: impl Fn(&str) -> bool) -> Vec<ErrorItem> {
    ids.iter()
        .filter(|id| !known(id))
        .map(|id| ErrorItem { code: 404, message: format!("host group {id} not found") })
        .collect()
}

/// `POST /devices/entities/host-groups/v1` with `{"resources": [{"name", "group_type", "description",
/// "assignment_rule"}]}`: creates every group or none (201); a name the customer already has is a 409.
pub async fn create(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body: CreateGroupsBody =
        read_json(&headers, &body, r#"{"resources": [{"name": "<name>", "group_type": "static"}]}"#)?;
    if body.resources.is_empty() || body.resources.len() > MAX_GROUPS {
        return Err(ApiError::bad_request(format!("resources must hold 1 to {MAX_GROUPS} groups")));
    }
    let (customer, actor, now) = (&auth.principal.customer, auth.principal.client_id.to_string(), state.now());
    let groups = body
        .resources
        .iter()
        .map(|spec| Group::create(customer.clone(), spec, &actor, now).map_err(refused))
        .collect::<Result<Vec<_>, _>>()?;
    let mut names: Vec<String> = groups.iter().map(Group::name_key).collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::bad_request("each group of one request needs a name of its own"));
    }
    let stored: Vec<StoredGroup> = groups.iter().map(stored).collect();
    state.store().create_host_groups(customer, &stored).await?.map_err(refusal)?;
    state.caches().forget_hosts_of(std::slice::from_ref(customer));
    let records: Vec<HostGroup> = groups.iter().map(|g| g.record().clone()).collect();
    Ok(envelope(StatusCode::CREATED, POWERED_BY_HOST_GROUPS, Some(records), vec![], None))
}

/// `PATCH /devices/entities/host-groups/v1` with `{"resources": [{"id", "name", "description",
/// "assignment_rule"}]}`: every change or none.
pub async fn update(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body: UpdateGroupsBody =
        read_json(&headers, &body, r#"{"resources": [{"id": "<group id>", "name": "<name>"}]}"#)?;
    let ids: Vec<String> = body.resources.iter().map(|c| c.id.clone()).collect();
    check_ids(&ids, MAX_GROUPS)?;
    let (customer, actor, now) = (&auth.principal.customer, auth.principal.client_id.to_string(), state.now());
    let edit = |g: &mut StoredGroup| -> Result<(), String> {
        let mut group = restored(customer, g, now)?;
        let id = group.id().to_owned();
        for change in body.resources.iter().filter(|c| c.id == id) {
            group.update(change, &actor, now).map_err(|e| e.to_string())?;
        }
        *g = stored(&group);
        Ok(())
    };
    let changed = state.store().edit_host_groups(customer, &ids, &edit).await?.map_err(refusal)?;
    state.caches().forget_hosts_of(std::slice::from_ref(customer));
    let records: Vec<HostGroup> = changed.into_iter().map(|g| g.group).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_HOST_GROUPS, Some(records), vec![], None))
}

/// `DELETE /devices/entities/host-groups/v1?ids=..`: deletes the known groups (their IDs in `resources`);
/// unknown ones are named in `errors` (404 when none is known).
pub async fn delete(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let ids = ids_in_query(raw.as_deref(), MAX_GROUPS)?;
    check_ids(&ids, MAX_GROUPS)?;
    let customer = &auth.principal.customer;
    let deleted = state.store().delete_host_groups(customer, &ids).await?;
    state.caches().forget_hosts_of(std::slice::from_ref(customer));
    let errors = not_found(&ids, |id| deleted.iter().any(|d| d == id));
    let status = if deleted.is_empty() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    Ok(envelope(status, POWERED_BY_HOST_GROUPS, Some(deleted), errors, None))
}

/// `POST /devices/entities/host-group-actions/v1?action_name=add-hosts|remove-hosts` with `{"ids":
/// [group IDs], "action_parameters": [{"name": "filter", "value": "<FQL over hosts>"}]}`: adds or removes
/// the hosts the filter matches to or from static groups; answers the groups.
pub async fn action(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let add = match params.non_empty(param::ACTION_NAME) {
        Some("add-hosts") => Some(true),
        Some("remove-hosts") => Some(false),
        _ => return Err(ApiError::bad_request("action_name must be add-hosts or remove-hosts")),
    };
    let body: GroupActionBody = read_json(&headers, &body, ACTION_EXAMPLE)?;
    change_members(&state, &auth, &body.ids, &body, add).await
}

const ACTION_EXAMPLE: &str =
    r#"{"ids": ["<group id>"], "action_parameters": [{"name": "filter", "value": "device_id:['<id>']"}]}"#;

/// `POST /devices/entities/group-actions/v1?ids=..&action_name=add_group_member|remove_group_member|remove_all`
/// (the Hosts collection's form of [`action`]): group IDs in the query, the filter in the body.
pub async fn hosts_group_action(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[param::IDS], MAX_GROUPS + 8)?;
    let ids: Vec<String> = params.all(param::IDS).into_iter().map(str::to_owned).collect();
    let add = match params.non_empty(param::ACTION_NAME) {
        Some("add_group_member") => Some(true),
        Some("remove_group_member") => Some(false),
        Some("remove_all") => None,
        _ => {
            return Err(ApiError::bad_request(
                "action_name must be add_group_member, remove_group_member or remove_all",
            ))
        }
    };
    let body: GroupActionBody = if body.is_empty() {
        GroupActionBody { ids: vec![], action_parameters: vec![] }
    } else {
        read_json(&headers, &body, ACTION_EXAMPLE)?
    };
    change_members(&state, &auth, &ids, &body, add).await
}

/// Adds (`Some(true)`), removes (`Some(false)`) or clears (`None`) the members of the groups `ids`: the
/// hosts the body's filter matches, all groups or none.
async fn change_members(
    state: &AppState,
    auth: &Authorized,
    ids: &[String],
    body: &GroupActionBody,
    add: Option<bool>,
) -> Result<Response, ApiError> {
    check_ids(ids, MAX_GROUPS)?;
    let (customer, actor, now) = (&auth.principal.customer, auth.principal.client_id.to_string(), state.now());
    let hosts = state.caches().customer_hosts(customer).await?;
    let matched: Vec<String> = match add {
        None => vec![],
        Some(_) => {
            let filter = body
                .action_parameters
                .iter()
                .find(|p| p.name == "filter")
                .map(|p| p.value.as_str())
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "action_parameters must name the hosts: {\"name\": \"filter\", \"value\": \"<FQL>\"}",
                    )
                })?;
            let filter = fql::parse(filter, now).map_err(|e| ApiError::bad_request(format!("filter: {e}")))?;
            hosts
                .hosts()
                .iter()
                .filter(|h| !h.hidden() && filter.matches(h))
                .map(|h| h.device_id().to_owned())
                .collect()
        }
    };
    let edit = |g: &mut StoredGroup| -> Result<(), String> {
        let mut group = restored(customer, g, now)?;
        let targets: Vec<&talon_emulator::Host> = matched.iter().filter_map(|id| hosts.get(id)).collect();
        match add {
            Some(add) => group.change_members(&targets, add, &actor, now),
            None => group.clear(&actor, now),
        }
        .map_err(|e| e.to_string())?;
        *g = stored(&group);
        Ok(())
    };
    let changed = state.store().edit_host_groups(customer, ids, &edit).await?.map_err(refusal)?;
    state.caches().forget_hosts_of(std::slice::from_ref(customer));
    let records: Vec<HostGroup> = changed.into_iter().map(|g| g.group).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_HOST_GROUPS, Some(records), vec![], None))
}

/// `GET /devices/queries/host-group-members/v1?id=..`: IDs of the group's hosts, filtered, sorted, paged
/// as the host queries are.
pub async fn members(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    let (ids, pagination) = members_page(&state, &auth, raw.0.as_deref(), |h| h.device_id().to_owned()).await?;
    Ok(envelope(StatusCode::OK, POWERED_BY_HOST_GROUPS, Some(ids), vec![], Some(pagination)))
}

/// `GET /devices/combined/host-group-members/v1?id=..`: as [`members`], with the records; without `id`,
/// the hosts in any group (caracara asks so).
pub async fn combined_members(state: State<AppState>, auth: Authorized, raw: RawQuery) -> Result<Response, ApiError> {
    let (records, pagination) =
        members_page(&state, &auth, raw.0.as_deref(), |h| serde_json::to_value(h.record()).unwrap_or_default()).await?;
    Ok(envelope(StatusCode::OK, POWERED_BY_HOST_GROUPS, Some(records), vec![], Some(pagination)))
}

async fn members_page<T>(
    state: &AppState,
    auth: &Authorized,
    raw: Option<&str>,
    show: impl Fn(&talon_emulator::Host) -> T,
) -> Result<(Vec<T>, Pagination), ApiError> {
    let params = query_params(raw, &[], talon_wire::form::MAX_FIELDS)?;
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
    let hosts = state.caches().customer_hosts(&auth.principal.customer).await?;
    let group = match params.non_empty("id") {
        Some(id) => Some(hosts.group(id).ok_or_else(|| ApiError::not_found(format!("host group {id} not found")))?),
        None => None,
    };
    let (page, total) = run_members(&query, &hosts, group);
    let shown = page.into_iter().map(show).collect();
    Ok((shown, Pagination { offset: query.offset, limit: query.limit, total }))
}

fn run_members<'h>(
    query: &HostQuery,
    hosts: &'h CustomerHosts,
    group: Option<&Group>,
) -> (Vec<&'h talon_emulator::Host>, u64) {
    query.run_where(hosts, |h| {
        !h.hidden() && group.map_or(!h.record().groups.is_empty(), |g| h.record().groups.iter().any(|id| id == g.id()))
    })
}

/// A stored group as the emulator's (its rules apply to it).
fn restored(customer: &talon_auth::CustomerId, g: &StoredGroup, now: i64) -> Result<Group, String> {
    Group::restore(customer.clone(), g.group.clone(), g.members.clone(), now).map_err(|e| e.to_string())
}

fn stored(group: &Group) -> StoredGroup {
    StoredGroup { group: group.record().clone(), members: group.members().to_vec() }
}

fn refused(e: GroupError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

fn refusal(r: GroupRefusal) -> ApiError {
    match r {
        GroupRefusal::Unknown(_) => ApiError::not_found(r.to_string()),
        GroupRefusal::NameTaken(_) => ApiError::new(StatusCode::CONFLICT, r.to_string()),
        GroupRefusal::Refused(message) => ApiError::bad_request(message),
    }
}
