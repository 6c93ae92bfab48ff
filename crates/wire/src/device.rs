//! Bodies of the hosts API (`/devices/...`).

use serde::{Deserialize, Serialize};

/// A host as the hosts API returns it.
///
/// Reading is lenient, because the real API sends many more fields than these (they are ignored) and
/// leaves some out for some hosts (a host that never reported an external IP has none): every field but
/// `device_id` reads as empty when it is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// 32 lowercase hex characters.
    pub device_id: String,
    /// The customer (CID) the host belongs to.
    #[serde(default)]
    pub cid: String,
    #[serde(default)]
    pub hostname: String,
    /// `Windows`, `Mac` or `Linux`.
    #[serde(default)]
    pub platform_name: String,
    #[serde(default)]
    pub os_version: String,
    #[serde(default)]
    pub local_ip: String,
    #[serde(default)]
    pub external_ip: String,
    #[serde(default)]
    pub mac_address: String,
    #[serde(default)]
    pub agent_version: String,
    /// RFC 3339.
    #[serde(default)]
    pub first_seen: String,
    /// RFC 3339.
    #[serde(default)]
    pub last_seen: String,
    /// Network containment: `normal`, `containment_pending`, `contained`, `lift_containment_pending`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `{"ids": [...]}`: the body of device actions and POST details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdsBody {
    pub ids: Vec<String>,
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
