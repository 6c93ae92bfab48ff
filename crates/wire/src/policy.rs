//! Bodies of the CSPM policy settings API (`/settings/entities/policy/v1`).

use serde::{Deserialize, Serialize};

/// Query parameter names of `GetCSPMPolicySettings`.
pub mod param {
    pub const SERVICE: &str = "service";
    pub const POLICY_ID: &str = "policy-id";
    pub const CLOUD_PLATFORM: &str = "cloud-platform";
}

/// One policy with the customer's setting of it.
///
/// Reading is lenient, as for devices: the real API sends more fields (ignored), and every field but
/// `policy_id` reads as empty when it is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySettings {
    pub policy_id: u32,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub policy_type: String,
    /// e.g. `EC2`, `S3`, `IAM`.
    #[serde(default)]
    pub cloud_service: String,
    /// `aws`, `azure` or `gcp`.
    #[serde(default)]
    pub cloud_provider: String,
    #[serde(default)]
    pub default_severity: String,
    #[serde(default)]
    pub policy_settings: Vec<PolicySettingValues>,
}

/// The changeable part of a policy's setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySettingValues {
    #[serde(default)]
    pub enabled: bool,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub tag_excluded: bool,
}

/// The body of `UpdateCSPMPolicySettings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUpdateBody {
    pub resources: Vec<PolicyUpdate>,
}

/// One change: `policy_id` and whatever is to change (`..Default::default()` for the rest).
/// `account_id`/`account_ids` are accepted (FalconPy sends them) and not used: the emulator keeps one
/// setting per policy and customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_with_extra_and_missing_fields_and_writes_only_what_changes() {
        let body = r#"{"policy_id":4,"name":"S3","cloud_service_subtype":"Buckets","is_remediable":false,
            "policy_settings":[{"account_id":"123","enabled":true,"severity":"high"}]}"#;
        let settings: PolicySettings = serde_json::from_str(body).expect("a lenient read");
        assert_eq!(settings.policy_settings[0].severity, "high");
        assert!(settings.policy_settings[0].regions.is_empty());
        let change = PolicyUpdate { policy_id: 4, enabled: Some(false), ..Default::default() };
        assert_eq!(serde_json::to_string(&change).expect("json"), r#"{"policy_id":4,"enabled":false}"#);
    }
}
