//! Bodies of the hosts API (`/devices/...`).

use serde::{Deserialize, Serialize};

/// A host as the hosts API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub device_id: String,
    pub cid: String,
    pub hostname: String,
    pub platform_name: String,
    pub os_version: String,
    pub local_ip: String,
    pub external_ip: String,
    pub mac_address: String,
    pub agent_version: String,
    pub first_seen: String,
    pub last_seen: String,
    pub status: String,
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
