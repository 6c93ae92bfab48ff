//! The Falcon API's routes: one for every operation of the catalogue (`talon_wire::catalogue`).
//!
//! [`EMULATED`] is the one place an emulated operation is added: its operation ID and its handler. Every
//! other catalogue operation answers `501` in the Falcon envelope, naming the operation, after the bearer
//! guard has checked the token and the scope the catalogue gives it (so a client learns that it lacks the
//! scope before it learns that the operation is not emulated, as it would against the real API). A route
//! that is not in the catalogue stays a 404.
//!
//! The bearer guard reads the scope from the request's extensions ([`RequiredScope`]), which this module
//! puts there from each operation's catalogue entry: no handler names its scope.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Extension, Router};
use talon_wire::catalogue::{catalogue, Operation};
use talon_wire::headers::POWERED_BY_GATEWAY;
use talon_wire::operation::{self as op, Method, OperationId};

use talon_emulator::generic::GenericOp;

use super::{devices, generic, host_groups, mssp, oauth2, policies};
use crate::error::ApiError;
use crate::extract::{Authorized, RequiredScope};
use crate::state::AppState;

/// Builds an emulated operation's route: its handler on the catalogue's method.
type Route = fn(OperationId) -> MethodRouter<AppState>;

/// Every emulated Falcon operation: its ID and its handler. Add an operation here and nowhere else: the
/// route, method and scope come from the catalogue, and `/openapi.json` and `talon ops list` follow.
pub const EMULATED: &[(OperationId, Route)] = &[
    (op::OAUTH2_ACCESS_TOKEN, |id| handle(id, oauth2::token)),
    (op::OAUTH2_REVOKE_TOKEN, |id| handle(id, oauth2::revoke)),
    (op::QUERY_DEVICES_BY_FILTER, |id| handle(id, devices::query)),
    (op::GET_DEVICE_DETAILS_V2, |id| handle(id, devices::details_get)),
    (op::POST_DEVICE_DETAILS_V2, |id| handle(id, devices::details_post)),
    (op::PERFORM_ACTION_V2, |id| handle(id, devices::action)),
    (op::QUERY_DEVICES_BY_FILTER_SCROLL, |id| handle(id, devices::query_scroll)),
    (op::QUERY_HIDDEN_DEVICES, |id| handle(id, devices::query_hidden)),
    (op::COMBINED_DEVICES_BY_FILTER, |id| handle(id, devices::combined)),
    (op::COMBINED_HIDDEN_DEVICES_BY_FILTER, |id| handle(id, devices::combined_hidden)),
    (op::GET_DEVICE_DETAILS_V1, |id| handle(id, devices::details_get)),
    (op::GET_ONLINE_STATE_V1, |id| handle(id, devices::online_state)),
    (op::UPDATE_DEVICE_TAGS, |id| handle(id, devices::update_tags)),
    (op::DEVICES_ACTIONS_DELETE_V1, |id| handle(id, devices::delete)),
    (op::QUERY_DEVICE_LOGIN_HISTORY, |id| handle(id, devices::login_history)),
    (op::QUERY_DEVICE_LOGIN_HISTORY_V2, |id| handle(id, devices::login_history_v2)),
    (op::QUERY_NETWORK_ADDRESS_HISTORY_V1, |id| handle(id, devices::network_history)),
    (op::ENTITIES_PERFORM_ACTION, |id| handle(id, host_groups::hosts_group_action)),
    (op::QUERY_HOST_GROUPS, |id| handle(id, host_groups::query)),
    (op::QUERY_COMBINED_HOST_GROUPS, |id| handle(id, host_groups::combined)),
    (op::GET_HOST_GROUPS, |id| handle(id, host_groups::get)),
    (op::CREATE_HOST_GROUPS, |id| handle(id, host_groups::create)),
    (op::UPDATE_HOST_GROUPS, |id| handle(id, host_groups::update)),
    (op::DELETE_HOST_GROUPS, |id| handle(id, host_groups::delete)),
    (op::PERFORM_GROUP_ACTION, |id| handle(id, host_groups::action)),
    (op::QUERY_GROUP_MEMBERS, |id| handle(id, host_groups::members)),
    (op::QUERY_COMBINED_GROUP_MEMBERS, |id| handle(id, host_groups::combined_members)),
    (op::QUERY_CHILDREN, |id| handle(id, mssp::query)),
    (op::GET_CHILDREN, |id| handle(id, mssp::get)),
    (op::GET_CHILDREN_V2, |id| handle(id, mssp::get_v2)),
    (op::GET_SENSOR_INSTALLERS_CCID, |id| handle(id, mssp::ccid)),
    (op::GET_CSPM_POLICY_SETTINGS, |id| handle(id, policies::get)),
    (op::UPDATE_CSPM_POLICY_SETTINGS, |id| handle(id, policies::update)),
];

/// `handler` on the method the catalogue gives `id`.
fn handle<H, T>(id: OperationId, handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    on(method_filter(id.method()), handler)
}

/// How this server answers an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A handler emulates it (or another operation on the same route, which it shares).
    Emulated,
    /// The generic engine answers it (`routes::generic`): a conventional route no handler emulates.
    Generic,
    /// `501 Not Implemented`, after the bearer guard.
    NotImplemented,
}

impl Answer {
    /// The word `talon ops list` and the OpenAPI document use: `emulated` or `501`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Answer::Emulated => "emulated",
            Answer::Generic => "generic",
            Answer::NotImplemented => "501",
        }
    }
}

/// How this server answers the catalogue's operation `op`.
pub fn answer(op: &Operation) -> Answer {
    let emulated =
        catalogue().on_route(op.method, &op.path).any(|o| EMULATED.iter().any(|(id, _)| id.as_str() == o.id));
    if emulated {
        Answer::Emulated
    } else if generic_of(op).is_some() {
        Answer::Generic
    } else {
        Answer::NotImplemented
    }
}

/// What the generic engine reads off `op`'s route (from the route's first operation, whose entry the
/// route is built from), if the route has a conventional shape.
pub fn generic_of(op: &Operation) -> Option<GenericOp> {
    GenericOp::of(first_on_route(op))
}

/// The first catalogue operation on `op`'s route: the one whose entry the route is built from.
fn first_on_route(op: &Operation) -> &Operation {
    catalogue().on_route(op.method, &op.path).next().expect("an operation is on its own route")
}

/// Adds a route for every catalogue operation to `router`. Panics when an [`EMULATED`] entry is not in the
/// catalogue or two share a route: programming errors that every test run shows at once.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    let mut handlers: HashMap<&str, Route> = EMULATED.iter().map(|(id, route)| (id.as_str(), *route)).collect();
    assert_eq!(handlers.len(), EMULATED.len(), "an operation is emulated twice");
    let mut by_path: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for first in catalogue().operations() {
        let on_route: Vec<&'static Operation> = catalogue().on_route(first.method, &first.path).collect();
        if on_route[0].id != first.id {
            continue; // The route was added with its first operation.
        }
        let mut emulated = on_route.iter().filter_map(|o| handlers.remove(o.id.as_str()).map(|route| (*o, route)));
        let (operation, method_router) = match emulated.next() {
            Some((o, route)) => (o, route(OperationId(o.id.as_str()))),
            None => match GenericOp::of(first) {
                Some(g) => (first, generic::route(first, g)),
                None => (first, not_emulated(first)),
            },
        };
        assert!(emulated.next().is_none(), "two emulated operations share {} {}", first.method, first.path);
        let method_router = match operation.scope {
            Some(scope) => method_router.layer(Extension(RequiredScope(scope))),
            None => method_router,
        };
        let path = axum_path(&first.path);
        match index.get(&path) {
            Some(&i) => {
                let (_, existing) = std::mem::replace(&mut by_path[i], (String::new(), MethodRouter::new()));
                by_path[i] = (path, existing.merge(method_router));
            }
            None => {
                index.insert(path.clone(), by_path.len());
                by_path.push((path, method_router));
            }
        }
    }
    assert!(handlers.is_empty(), "emulated operations missing from the catalogue: {:?}", handlers.keys());
    by_path.into_iter().fold(router, |router, (path, method_router)| router.route(&path, method_router))
}

/// The answer of an operation this server does not shape: the bearer guard (token, scope, rate) runs
/// first, then a fixture's canned answer if one matches, else 501 naming the operation (a route with
/// several operation IDs, a few have two, names them all).
fn not_emulated(op: &'static Operation) -> MethodRouter<AppState> {
    let ids: Vec<&str> = catalogue().on_route(op.method, &op.path).map(|o| o.id.as_str()).collect();
    let message: std::sync::Arc<str> = format!(
        "{} ({} {}) is a Falcon API operation that this server does not emulate",
        ids.join(" / "),
        op.method,
        op.path
    )
    .into();
    let repeatable = generic::repeatable(op);
    on(method_filter(op.method), move |state: State<AppState>, auth: Authorized, RawQuery(raw): RawQuery| {
        let (message, repeatable) = (message.clone(), repeatable.clone());
        async move {
            // A fixture's canned answer, if one matches; else 501.
            let params = devices::query_params(raw.as_deref(), &repeatable, talon_wire::form::MAX_FIELDS)?;
            if let Some(answer) = generic::canned(&state, &auth.principal.customer, op, &params).await? {
                return Ok::<_, ApiError>(answer);
            }
            Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, message.to_string()).powered_by(POWERED_BY_GATEWAY))
        }
    })
}

/// The catalogue's route as an axum path: each placeholder (`{name}`, or FalconPy's anonymous `{}`)
/// becomes `{p0}`, `{p1}`, ... by position, so that routes naming the same segment differently do not
/// conflict in the router. Handlers read path parameters by position.
pub fn axum_path(path: &str) -> String {
    let mut n = 0;
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                n += 1;
                format!("{{p{}}}", n - 1)
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub(crate) fn method_filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Patch => MethodFilter::PATCH,
        Method::Delete => MethodFilter::DELETE,
        Method::Put => MethodFilter::PUT,
        Method::Head => MethodFilter::HEAD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_positional() {
        assert_eq!(axum_path("/a/{}/b/{name}/v1"), "/a/{p0}/b/{p1}/v1");
        assert_eq!(axum_path("/devices/queries/devices/v1"), "/devices/queries/devices/v1");
    }

    #[test]
    fn answers_follow_the_emulated_table_and_shared_routes() {
        let c = catalogue();
        let get = |id: &str| c.get(id).expect(id);
        assert_eq!(answer(get("QueryDevicesByFilter")), Answer::Emulated);
        // GetDeviceDetails shares PostDeviceDetailsV2's route, and so its handler.
        assert_eq!(answer(get("GetDeviceDetails")), Answer::Emulated);
        assert_eq!(answer(get("queryHostGroups")), Answer::Emulated);
        assert_eq!(answer(get("GetQueriesAlertsV2")), Answer::Generic);
        let odd = c.operations().iter().find(|o| o.path.contains("/api/v1/")).expect("a route of another form");
        assert_eq!(answer(odd), Answer::NotImplemented, "{}", odd.path);
    }

    #[test]
    fn operations_sharing_a_route_share_a_scope() {
        // The guard takes the scope of the route's handler; a route whose operations disagreed would make
        // one of them answer with the other's scope.
        let c = catalogue();
        for o in c.operations() {
            for other in c.on_route(o.method, &o.path) {
                assert_eq!(o.scope, other.scope, "{} and {} share {} {}", o.id, other.id, o.method, o.path);
            }
        }
    }
}
