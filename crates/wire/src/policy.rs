//! Bodies of the CSPM policy settings API (`/settings/entities/policy/v1`).

use serde::{Deserialize, Serialize};

/// Query parameter names of `GetCSPMPolicySettings`.
pub mod param {
    pub const SERVICE: &str = "service";
    pub const POLICY_ID: &str = "policy-id";
    pub const CLOUD_PLATFORM: &str = "cloud-platform";
}

/// One policy with the customer's setting of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySettings {
    pub policy_id: u32,
    pub name: String,
    pub policy_type: String,
    pub cloud_service: String,
    pub cloud_provider: String,
    pub default_severity: String,
    pub policy_settings: Vec<PolicySettingValues>,
}

/// The changeable part of a policy's setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySettingValues {
    pub enabled: bool,
    pub severity: String,
    pub regions: Vec<String>,
    pub tag_excluded: bool,
}

/// The body of `UpdateCSPMPolicySettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUpdateBody {
    pub resources: Vec<PolicyUpdate>,
}

/// One change. `account_id`/`account_ids` are accepted (FalconPy sends them) and not used: the emulator
/// keeps one setting per policy and customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUpdate {
    pub policy_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_excluded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_ids: Option<Vec<String>>,
}
