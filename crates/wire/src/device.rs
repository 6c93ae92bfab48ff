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
}
