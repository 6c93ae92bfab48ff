//! Bodies of the hosts API (`/devices/...`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The kind of a device field: how FQL reads its values and how it sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Text, compared without case, with `*` wildcards.
    Text,
    /// An IPv4 address (text on the wire): compared as a number; a pattern such as `'10.0.*'` as text.
    Ip,
    /// An instant (RFC 3339 on the wire): compared as a time; FQL takes dates and `now-7d`.
    Time,
    /// A list of text (tags, groups, ou): matched when any element matches.
    List,
    /// A number (JSON numbers of generic records: severity, scores): compared numerically.
    Number,
}

/// A device field's value, borrowed from a [`Device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef<'a> {
    Text(&'a str),
    List(&'a [String]),
}

impl<'a> From<&'a String> for FieldRef<'a> {
    fn from(s: &'a String) -> FieldRef<'a> {
        FieldRef::Text(s)
    }
}

impl<'a> From<&'a Vec<String>> for FieldRef<'a> {
    fn from(v: &'a Vec<String>) -> FieldRef<'a> {
        FieldRef::List(v)
    }
}

/// The Rust type of a field of a kind.
macro_rules! field_type {
    (List) => { Vec<String> };
    ($kind:ident) => { String };
}

/// Defines [`Device`] and [`DEVICE_FIELDS`] from one list, so that a field is added in one place: the wire
/// record, FQL and sort (by the field's kind) and the store (the record is kept as JSON) follow.
macro_rules! device_record {
    ($( $(#[$doc:meta])* $kind:ident $name:ident ),* $(,)?) => {
        /// A host as the hosts API returns it (`deviceapi.DeviceSwagger`): its fields as the real API
        /// names them.
        ///
        /// Reading is lenient, because the real API sends more fields than these (they are ignored) and
        /// leaves some out for some hosts (a host that never reported an external IP has none): every
        /// field but `device_id` reads as empty when it is missing. Empty text fields are left out when
        /// written, as the real API leaves them out; lists are always written.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct Device {
            /// 32 lowercase hex characters.
            pub device_id: String,
            /// The customer (CID) the host belongs to.
            #[serde(default)]
            pub cid: String,
            $(
                $(#[$doc])*
                #[serde(default, skip_serializing_if = "skip_empty")]
                pub $name: field_type!($kind),
            )*
            /// The policies applied to the host, by policy type (`prevention`, `sensor_update`, ...).
            #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
            pub device_policies: BTreeMap<String, DevicePolicy>,
            /// The same policies as a list.
            #[serde(default)]
            pub policies: Vec<DevicePolicy>,
            /// The record's version.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<DeviceMeta>,
        }

        /// Every field FQL filters on and a sort may name, with its kind, in a fixed order (the index of
        /// a field in this table is what [`Device::field`] takes).
        pub const DEVICE_FIELDS: &[(&str, FieldKind)] = &[
            ("device_id", FieldKind::Text),
            ("cid", FieldKind::Text),
            $( (stringify!($name), FieldKind::$kind), )*
        ];

        impl Device {
            /// The value of the field at `index` of [`DEVICE_FIELDS`]; `None` past the table's end.
            pub fn field(&self, index: usize) -> Option<FieldRef<'_>> {
                let getters: &[fn(&Device) -> FieldRef<'_>] = &[
                    |d| FieldRef::from(&d.device_id),
                    |d| FieldRef::from(&d.cid),
                    $( |d| FieldRef::from(&d.$name), )*
                ];
                getters.get(index).map(|get| get(self))
            }
        }
    };
}

/// Lists are always written (the real API sends `"tags": []`); empty text is left out.
fn skip_empty<T: SkipEmpty>(value: &T) -> bool {
    value.skip()
}

trait SkipEmpty {
    fn skip(&self) -> bool;
}

impl SkipEmpty for String {
    fn skip(&self) -> bool {
        self.is_empty()
    }
}

impl SkipEmpty for Vec<String> {
    fn skip(&self) -> bool {
        false
    }
}

device_record! {
    Text agent_load_flags,
    /// The host's local time when it last reported, RFC 3339.
    Time agent_local_time,
    Text agent_version,
    Text bios_manufacturer,
    Text bios_version,
    Text build_number,
    Text chassis_type,
    /// `Desktop`, `Laptop`, `Notebook`, `Rack Mount Chassis`, `Other`, ...
    Text chassis_type_desc,
    Text config_id_base,
    Text config_id_build,
    Text config_id_platform,
    /// The address the host reached the cloud from.
    Ip connection_ip,
    Text connection_mac_address,
    Text cpu_signature,
    Text cpu_vendor,
    Ip default_gateway_ip,
    /// `Standard`, `DaemonSet`, ...
    Text deployment_type,
    Ip external_ip,
    /// RFC 3339.
    Time first_seen,
    Text group_hash,
    /// IDs of the host groups the host is in.
    List groups,
    Text hostname,
    Text instance_id,
    Text kernel_version,
    /// RFC 3339.
    Time last_login_timestamp,
    Text last_login_user,
    /// RFC 3339.
    Time last_reboot,
    /// RFC 3339.
    Time last_seen,
    /// `Kernel Mode`, `User Mode` (Linux).
    Text linux_sensor_mode,
    Ip local_ip,
    Text mac_address,
    Text machine_domain,
    Text major_version,
    Text minor_version,
    /// When the record last changed, RFC 3339.
    Time modified_timestamp,
    /// Free-text notes on the host.
    List notes,
    Text os_build,
    Text os_product_name,
    Text os_version,
    /// Organisational units, innermost first.
    List ou,
    Text platform_id,
    /// `Windows`, `Mac` or `Linux`.
    Text platform_name,
    Text pointer_size,
    Text product_type,
    /// `Workstation`, `Server` or `Domain Controller`.
    Text product_type_desc,
    /// `Provisioned`, ...
    Text provision_status,
    /// `yes` or `no`.
    Text reduced_functionality_mode,
    Text release_group,
    Text serial_number,
    Text service_pack_major,
    Text service_pack_minor,
    /// `AWS_EC2_V2`, `AZURE`, `GCP` for cloud instances.
    Text service_provider,
    Text service_provider_account_id,
    Text site_name,
    /// Network containment: `normal`, `containment_pending`, `contained`, `lift_containment_pending`.
    Text status,
    Text system_manufacturer,
    Text system_product_name,
    /// `FalconGroupingTags/...` and `SensorGroupingTags/...`.
    List tags,
    Text zone_group,
}

/// A policy applied to a host (`device.DevicePolicy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DevicePolicy {
    #[serde(default)]
    pub policy_id: String,
    #[serde(default)]
    pub policy_type: String,
    #[serde(default)]
    pub applied: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_date: Option<String>,
    #[serde(default)]
    pub settings_hash: String,
    #[serde(default)]
    pub rule_groups: Vec<String>,
}

/// A device record's version (`device.DeviceMeta`): text on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMeta {
    #[serde(default)]
    pub version: String,
}

/// `{"ids": [...]}`: the body of device actions and POST details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdsBody {
    pub ids: Vec<String>,
}

/// `meta.pagination` of the scroll and combined host queries: the next page's token in `offset` (and in
/// `next` for the combined ones), valid until `expires_at` (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPagination {
    pub offset: String,
    #[serde(default)]
    pub limit: u64,
    pub total: u64,
    #[serde(default)]
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The body of `UpdateDeviceTags`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTagsBody {
    /// `add` or `remove`.
    pub action: String,
    pub device_ids: Vec<String>,
    /// `FalconGroupingTags/<tag>`.
    pub tags: Vec<String>,
}

/// One entry of `UpdateDeviceTags`' `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagResult {
    pub device_id: String,
    pub updated: bool,
    pub code: u16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// One entry of `GetOnlineState_V1`'s `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineState {
    pub id: String,
    /// `online`, `offline` or `unknown`.
    pub state: String,
    #[serde(default)]
    pub cid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_seen: String,
}

/// One host's logins (`QueryDeviceLoginHistory`, v1 and v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginHistory {
    pub device_id: String,
    #[serde(default)]
    pub cid: String,
    pub recent_logins: Vec<Login>,
}

/// One login of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// RFC 3339.
    pub login_time: String,
    pub user_name: String,
}

/// One host's addresses over time (`QueryGetNetworkAddressHistoryV1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkHistory {
    pub device_id: String,
    #[serde(default)]
    pub cid: String,
    pub history: Vec<NetworkAddress>,
}

/// An address a host had, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAddress {
    pub ip_address: String,
    pub mac_address: String,
    /// RFC 3339.
    pub timestamp: String,
}

/// One entry of a device action's `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    pub id: String,
    /// Empty on Talon; the real API sends a path here that no client needs.
    #[serde(default)]
    pub path: String,
}

/// Query parameter names of the hosts API.
pub mod param {
    pub const OFFSET: &str = "offset";
    pub const LIMIT: &str = "limit";
    pub const SORT: &str = "sort";
    pub const FILTER: &str = "filter";
    pub const ACTION_NAME: &str = "action_name";
    pub const IDS: &str = "ids";
    pub const FIELDS: &str = "fields";
    pub const FROM: &str = "from";
    pub const TO: &str = "to";
}

/// The `action_name` values of `PerformActionV2`.
pub mod action {
    /// Cut the host off the network (but for the Falcon cloud).
    pub const CONTAIN: &str = "contain";
    /// End a containment.
    pub const LIFT_CONTAINMENT: &str = "lift_containment";
    /// Hide the host from queries.
    pub const HIDE_HOST: &str = "hide_host";
    /// Show a hidden host again.
    pub const UNHIDE_HOST: &str = "unhide_host";
}

/// An action of `PerformActionV2` (its `action_name`): the one definition the server, the emulator and
/// the SDK share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceAction {
    /// Network-contain the hosts (they keep talking to the Falcon cloud only).
    Contain,
    /// End the hosts' containment.
    LiftContainment,
    /// Hide the hosts from queries and details.
    HideHost,
    /// Show hidden hosts again.
    UnhideHost,
}

impl DeviceAction {
    /// Every action.
    pub const ALL: [DeviceAction; 4] =
        [DeviceAction::Contain, DeviceAction::LiftContainment, DeviceAction::HideHost, DeviceAction::UnhideHost];

    /// Every `action_name`, in the order of [`DeviceAction::ALL`].
    pub const NAMES: [&'static str; 4] =
        [action::CONTAIN, action::LIFT_CONTAINMENT, action::HIDE_HOST, action::UNHIDE_HOST];

    /// The `action_name` on the wire: `contain`, `lift_containment`, `hide_host`, `unhide_host`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceAction::Contain => action::CONTAIN,
            DeviceAction::LiftContainment => action::LIFT_CONTAINMENT,
            DeviceAction::HideHost => action::HIDE_HOST,
            DeviceAction::UnhideHost => action::UNHIDE_HOST,
        }
    }

    /// The action of a wire name, exactly as spelled (the API is case-sensitive here).
    pub fn parse(name: &str) -> Option<DeviceAction> {
        DeviceAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl std::fmt::Display for DeviceAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is no [`DeviceAction`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown device action {0:?}: use one of {names}", names = DeviceAction::NAMES.join(", "))]
pub struct UnknownAction(pub String);

impl std::str::FromStr for DeviceAction {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<DeviceAction, UnknownAction> {
        DeviceAction::parse(s).ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_real_falcon_device_with_extra_and_missing_fields() {
        let body = r#"{"device_id":"0123456789abcdef0123456789abcdef","cid":"c","hostname":"h",
            "platform_name":"Windows","status":"normal","last_seen":"2026-01-01T00:00:00Z",
            "device_policies":{"prevention":{"policy_id":"x"}},"product_type_desc":"Workstation",
            "system_manufacturer":"VMware, Inc.","tags":[],"modified_timestamp":"2026-01-01T00:00:01Z"}"#;
        let device: Device = serde_json::from_str(body).expect("a lenient read");
        assert_eq!((device.hostname.as_str(), device.status.as_str()), ("h", "normal"));
        assert_eq!(device.external_ip, "", "a missing field reads as empty");
        assert!(serde_json::from_str::<Device>(r#"{"hostname":"h"}"#).is_err(), "a device needs its ID");
    }

    #[test]
    fn actions_round_trip_through_their_wire_names() {
        for (action, name) in DeviceAction::ALL.into_iter().zip(DeviceAction::NAMES) {
            assert_eq!(action.as_str(), name);
            assert_eq!(name.parse::<DeviceAction>(), Ok(action));
        }
        assert_eq!(DeviceAction::LiftContainment.to_string(), "lift_containment");
        assert_eq!("Contain".parse::<DeviceAction>(), Err(UnknownAction("Contain".into())));
        assert_eq!(DeviceAction::parse("shutdown"), None);
        assert_eq!(
            UnknownAction("shutdown".into()).to_string(),
            r#"unknown device action "shutdown": use one of contain, lift_containment, hide_host, unhide_host"#
        );
    }
}
