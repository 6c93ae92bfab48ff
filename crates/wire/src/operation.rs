//! Operations by name: the HTTP [`Method`] and the [`OperationId`]s that Talon's typed services and the
//! server's handlers use. Every route comes from the [catalogue](crate::catalogue), so the server cannot
//! serve a path the SDK does not call, nor the SDK call one the server does not serve. Talon's own admin
//! API keeps its paths in [`crate::admin::path`].

use crate::catalogue::catalogue;
pub use crate::catalogue::Operation;
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
    /// `PUT`
    Put,
    /// `HEAD`
    Head,
}

impl Method {
    /// The method as HTTP writes it: `GET`, `POST`, ...
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Put => "PUT",
            Method::Head => "HEAD",
        }
    }

    /// The method in lowercase, as OpenAPI keys a path's operations.
    pub const fn lowercase(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Put => "put",
            Method::Head => "head",
        }
    }

    /// Every method, in the order above.
    pub const ALL: [Method; 6] = [Method::Get, Method::Post, Method::Patch, Method::Delete, Method::Put, Method::Head];
}

impl std::str::FromStr for Method {
    type Err = String;
    /// The method as HTTP writes it (uppercase).
    fn from_str(s: &str) -> Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a method of the Falcon API"))
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operation by its Falcon operation ID: a name the typed services and the server's handlers use, whose
/// method, route and scope come from the [catalogue](crate::catalogue) (so no route string is written twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OperationId(pub &'static str);

impl OperationId {
    /// The ID as the API writes it.
    pub const fn as_str(self) -> &'static str {
        self.0
    }

    /// The catalogue's entry. Panics when the ID is not in the catalogue: every constant below is checked
    /// by this crate's tests, so that is a build defect, not a runtime condition.
    pub fn operation(self) -> &'static Operation {
        catalogue().get(self.0).unwrap_or_else(|| panic!("operation {} is not in the catalogue", self.0))
    }

    /// The route, e.g. `/devices/queries/devices/v1`.
    pub fn path(self) -> &'static str {
        &self.operation().path
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        self.operation().method
    }

    /// The scope a bearer token needs (`None` for the OAuth2 operations).
    pub fn scope(self) -> Option<Scope> {
        self.operation().scope
    }
}

impl std::fmt::Display for OperationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// `POST /oauth2/token`: client credentials in, a bearer token out.
pub const OAUTH2_ACCESS_TOKEN: OperationId = OperationId("oauth2AccessToken");
/// `POST /oauth2/revoke`: revoke one of the caller's tokens (Basic credentials).
pub const OAUTH2_REVOKE_TOKEN: OperationId = OperationId("oauth2RevokeToken");
/// `GET /devices/queries/devices/v1`: device IDs matching an FQL filter, sorted and paged.
pub const QUERY_DEVICES_BY_FILTER: OperationId = OperationId("QueryDevicesByFilter");
/// `GET /devices/entities/devices/v2?ids=..`: details of up to 100 devices.
pub const GET_DEVICE_DETAILS_V2: OperationId = OperationId("GetDeviceDetailsV2");
/// `POST /devices/entities/devices/v2` with `{"ids": [..]}`: details of up to 5000 devices.
pub const POST_DEVICE_DETAILS_V2: OperationId = OperationId("PostDeviceDetailsV2");
/// `POST /devices/entities/devices-actions/v2?action_name=..` with `{"ids": [..]}`: contain, lift, hide, unhide.
pub const PERFORM_ACTION_V2: OperationId = OperationId("PerformActionV2");
/// `GET /devices/queries/devices-scroll/v1`: device IDs, paged by a token (up to 10,000 a page).
pub const QUERY_DEVICES_BY_FILTER_SCROLL: OperationId = OperationId("QueryDevicesByFilterScroll");
/// `GET /devices/queries/devices-hidden/v1`: IDs of hidden devices.
pub const QUERY_HIDDEN_DEVICES: OperationId = OperationId("QueryHiddenDevices");
/// `GET /devices/combined/devices/v1`: device records, paged by a token.
pub const COMBINED_DEVICES_BY_FILTER: OperationId = OperationId("CombinedDevicesByFilter");
/// `GET /devices/combined/devices-hidden/v1`: hidden device records, paged by a token.
pub const COMBINED_HIDDEN_DEVICES_BY_FILTER: OperationId = OperationId("CombinedHiddenDevicesByFilter");
/// `GET /devices/entities/devices/v1?ids=..`: details of devices (the older route).
pub const GET_DEVICE_DETAILS_V1: OperationId = OperationId("GetDeviceDetailsV1");
/// `GET /devices/entities/online-state/v1?ids=..`: online, offline or unknown.
pub const GET_ONLINE_STATE_V1: OperationId = OperationId("GetOnlineState_V1");
/// `PATCH /devices/entities/devices/tags/v1`: add or remove `FalconGroupingTags/` tags.
pub const UPDATE_DEVICE_TAGS: OperationId = OperationId("UpdateDeviceTags");
/// `POST /devices/entities/devices-actions-delete/v1`: delete devices.
pub const DEVICES_ACTIONS_DELETE_V1: OperationId = OperationId("DevicesActionsDeleteV1");
/// `POST /devices/combined/devices/login-history/v1`: recent logins of devices.
pub const QUERY_DEVICE_LOGIN_HISTORY: OperationId = OperationId("QueryDeviceLoginHistory");
/// `POST /devices/combined/devices/login-history/v2`: logins of up to 10 devices within a time range.
pub const QUERY_DEVICE_LOGIN_HISTORY_V2: OperationId = OperationId("QueryDeviceLoginHistoryV2");
/// `POST /devices/combined/devices/network-address-history/v1`: the addresses devices had.
pub const QUERY_NETWORK_ADDRESS_HISTORY_V1: OperationId = OperationId("QueryGetNetworkAddressHistoryV1");
/// `POST /devices/entities/group-actions/v1`: add hosts to, remove them from, or empty host groups.
pub const ENTITIES_PERFORM_ACTION: OperationId = OperationId("entities_perform_action");
/// `GET /devices/queries/host-groups/v1`: host group IDs.
pub const QUERY_HOST_GROUPS: OperationId = OperationId("queryHostGroups");
/// `GET /devices/combined/host-groups/v1`: host groups.
pub const QUERY_COMBINED_HOST_GROUPS: OperationId = OperationId("queryCombinedHostGroups");
/// `GET /devices/entities/host-groups/v1?ids=..`: host groups by ID.
pub const GET_HOST_GROUPS: OperationId = OperationId("getHostGroups");
/// `POST /devices/entities/host-groups/v1`: create host groups.
pub const CREATE_HOST_GROUPS: OperationId = OperationId("createHostGroups");
/// `PATCH /devices/entities/host-groups/v1`: change host groups.
pub const UPDATE_HOST_GROUPS: OperationId = OperationId("updateHostGroups");
/// `DELETE /devices/entities/host-groups/v1?ids=..`: delete host groups.
pub const DELETE_HOST_GROUPS: OperationId = OperationId("deleteHostGroups");
/// `POST /devices/entities/host-group-actions/v1?action_name=..`: add or remove hosts.
pub const PERFORM_GROUP_ACTION: OperationId = OperationId("performGroupAction");
/// `GET /devices/queries/host-group-members/v1`: a group's host IDs.
pub const QUERY_GROUP_MEMBERS: OperationId = OperationId("queryGroupMembers");
/// `GET /devices/combined/host-group-members/v1`: a group's hosts.
pub const QUERY_COMBINED_GROUP_MEMBERS: OperationId = OperationId("queryCombinedGroupMembers");
/// `GET /mssp/queries/children/v1`: the caller's child CIDs.
pub const QUERY_CHILDREN: OperationId = OperationId("queryChildren");
/// `GET /mssp/entities/children/v1?ids=..`: child customers.
pub const GET_CHILDREN: OperationId = OperationId("getChildren");
/// `POST /mssp/entities/children/GET/v2` with `{"ids": [..]}`: child customers.
pub const GET_CHILDREN_V2: OperationId = OperationId("getChildrenV2");
/// `GET /sensors/queries/installers/ccid/v1`: the caller's CID with its checksum.
pub const GET_SENSOR_INSTALLERS_CCID: OperationId = OperationId("GetSensorInstallersCCIDByQuery");
/// `GET /settings/entities/policy/v1`: CSPM policy settings.
pub const GET_CSPM_POLICY_SETTINGS: OperationId = OperationId("GetCSPMPolicySettings");
/// `PATCH /settings/entities/policy/v1`: change CSPM policy settings.
pub const UPDATE_CSPM_POLICY_SETTINGS: OperationId = OperationId("UpdateCSPMPolicySettings");

/// The operations named above: the ones Talon's typed services call and its server emulates in full.
pub const NAMED: &[OperationId] = &[
    OAUTH2_ACCESS_TOKEN,
    OAUTH2_REVOKE_TOKEN,
    QUERY_DEVICES_BY_FILTER,
    GET_DEVICE_DETAILS_V2,
    POST_DEVICE_DETAILS_V2,
    PERFORM_ACTION_V2,
    QUERY_DEVICES_BY_FILTER_SCROLL,
    QUERY_HIDDEN_DEVICES,
    COMBINED_DEVICES_BY_FILTER,
    COMBINED_HIDDEN_DEVICES_BY_FILTER,
    GET_DEVICE_DETAILS_V1,
    GET_ONLINE_STATE_V1,
    UPDATE_DEVICE_TAGS,
    DEVICES_ACTIONS_DELETE_V1,
    QUERY_DEVICE_LOGIN_HISTORY,
    QUERY_DEVICE_LOGIN_HISTORY_V2,
    QUERY_NETWORK_ADDRESS_HISTORY_V1,
    ENTITIES_PERFORM_ACTION,
    QUERY_HOST_GROUPS,
    QUERY_COMBINED_HOST_GROUPS,
    GET_HOST_GROUPS,
    CREATE_HOST_GROUPS,
    UPDATE_HOST_GROUPS,
    DELETE_HOST_GROUPS,
    PERFORM_GROUP_ACTION,
    QUERY_GROUP_MEMBERS,
    QUERY_COMBINED_GROUP_MEMBERS,
    QUERY_CHILDREN,
    GET_CHILDREN,
    GET_CHILDREN_V2,
    GET_SENSOR_INSTALLERS_CCID,
    GET_CSPM_POLICY_SETTINGS,
    UPDATE_CSPM_POLICY_SETTINGS,
];

/// The catalogue's operation with this ID or alias (case matters, as in the swagger).
pub fn find(id: &str) -> Option<&'static Operation> {
    catalogue().get(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_operations_are_in_the_catalogue_with_their_routes_and_scopes() {
        for id in NAMED {
            assert_eq!(id.operation().id, id.as_str());
        }
        assert_eq!(QUERY_DEVICES_BY_FILTER.path(), "/devices/queries/devices/v1");
        assert_eq!(PERFORM_ACTION_V2.scope(), Some(Scope::DEVICES_WRITE));
        assert_eq!(UPDATE_CSPM_POLICY_SETTINGS.method(), Method::Patch);
        assert_eq!(OAUTH2_ACCESS_TOKEN.scope(), None);
        assert_eq!(find("performactionv2"), None);
        assert_eq!(Method::Patch.to_string(), "PATCH");
        assert_eq!(Method::Patch.lowercase(), "patch");
        assert_eq!("PUT".parse::<Method>(), Ok(Method::Put));
        assert!("FETCH".parse::<Method>().is_err());
    }
}
