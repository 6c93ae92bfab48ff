//! The Falcon operations Talon emulates, by their operation IDs: method, path and the scope each needs.
//!
//! One table for both halves: the server builds its router and its OpenAPI document from it, the SDK its
//! typed services (`Hosts`, `CspmRegistration`) and its Uber harness. A route string is written here once,
//! so the server cannot serve a path the SDK does not call, nor the SDK call one the server does not serve.
//! Talon's own admin API keeps its paths in [`crate::admin::path`].

use crate::scope::Scope;

/// An HTTP method of an operation (the few the Falcon API uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as HTTP writes it: `GET`, `POST`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The method in lowercase, as OpenAPI keys a path's operations.
    pub const fn lowercase(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation: its Falcon operation ID (as FalconPy's Uber class and the swagger name it), method, path,
/// and the scope a bearer token needs for it (`None`: the OAuth2 endpoints, which take client credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The operation ID, e.g. `QueryDevicesByFilter`.
    pub id: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The route, e.g. `/devices/queries/devices/v1`.
    pub path: &'static str,
    /// The scope the bearer token must hold; `None` for the OAuth2 endpoints.
    pub scope: Option<Scope>,
}

const fn op(id: &'static str, method: Method, path: &'static str, scope: Option<Scope>) -> Operation {
    Operation { id, method, path, scope }
}

/// `POST /oauth2/token`: client credentials in, a bearer token out.
pub const OAUTH2_ACCESS_TOKEN: Operation = op("oauth2AccessToken", Method::Post, "/oauth2/token", None);
/// `POST /oauth2/revoke`: revoke one of the caller's tokens (Basic credentials).
pub const OAUTH2_REVOKE_TOKEN: Operation = op("oauth2RevokeToken", Method::Post, "/oauth2/revoke", None);
/// `GET /devices/queries/devices/v1`: device IDs matching an FQL filter, sorted and paged.
pub const QUERY_DEVICES_BY_FILTER: Operation =
    op("QueryDevicesByFilter", Method::Get, "/devices/queries/devices/v1", Some(Scope::DEVICES_READ));
/// `GET /devices/entities/devices/v2?ids=..`: details of up to 100 devices.
pub const GET_DEVICE_DETAILS_V2: Operation =
    op("GetDeviceDetailsV2", Method::Get, "/devices/entities/devices/v2", Some(Scope::DEVICES_READ));
/// `POST /devices/entities/devices/v2` with `{"ids": [..]}`: details of up to 5000 devices.
pub const POST_DEVICE_DETAILS_V2: Operation =
    op("PostDeviceDetailsV2", Method::Post, "/devices/entities/devices/v2", Some(Scope::DEVICES_READ));
/// `POST /devices/entities/devices-actions/v2?action_name=..` with `{"ids": [..]}`: contain, lift, hide, unhide.
pub const PERFORM_ACTION_V2: Operation =
    op("PerformActionV2", Method::Post, "/devices/entities/devices-actions/v2", Some(Scope::DEVICES_WRITE));
/// `GET /settings/entities/policy/v1`: CSPM policy settings.
pub const GET_CSPM_POLICY_SETTINGS: Operation =
    op("GetCSPMPolicySettings", Method::Get, "/settings/entities/policy/v1", Some(Scope::CSPM_READ));
/// `PATCH /settings/entities/policy/v1`: change CSPM policy settings.
pub const UPDATE_CSPM_POLICY_SETTINGS: Operation =
    op("UpdateCSPMPolicySettings", Method::Patch, "/settings/entities/policy/v1", Some(Scope::CSPM_WRITE));

/// Every emulated Falcon operation.
pub const FALCON: &[Operation] = &[
    OAUTH2_ACCESS_TOKEN,
    OAUTH2_REVOKE_TOKEN,
    QUERY_DEVICES_BY_FILTER,
    GET_DEVICE_DETAILS_V2,
    POST_DEVICE_DETAILS_V2,
    PERFORM_ACTION_V2,
    GET_CSPM_POLICY_SETTINGS,
    UPDATE_CSPM_POLICY_SETTINGS,
];

/// The operation with this ID (case matters, as in the swagger).
pub fn find(id: &str) -> Option<&'static Operation> {
    FALCON.iter().find(|o| o.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_method_and_path_pairs_too() {
        for (i, a) in FALCON.iter().enumerate() {
            for b in &FALCON[i + 1..] {
                assert_ne!(a.id, b.id);
                assert!((a.method, a.path) != (b.method, b.path), "{} and {} share a route", a.id, b.id);
            }
        }
        assert_eq!(find("PerformActionV2").map(|o| o.scope), Some(Some(Scope::DEVICES_WRITE)));
        assert_eq!(find("performactionv2"), None);
        assert_eq!(Method::Patch.to_string(), "PATCH");
        assert_eq!(Method::Patch.lowercase(), "patch");
    }
}
