//! CSPM policy settings: a catalogue of cloud-posture policies over AWS, Azure and GCP services, and each
//! customer's settings for them (enabled, severity, regions, tag exclusion). A customer that changed
//! nothing sees every policy at its defaults.

use std::fmt;

/// A cloud provider as `cloud-platform` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudPlatform {
    Aws,
    Azure,
    Gcp,
}

impl CloudPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            CloudPlatform::Aws => "aws",
            CloudPlatform::Azure => "azure",
            CloudPlatform::Gcp => "gcp",
        }
    }

    pub fn parse(s: &str) -> Option<CloudPlatform> {
        [CloudPlatform::Aws, CloudPlatform::Azure, CloudPlatform::Gcp].into_iter().find(|c| c.as_str() == s)
    }
}

/// How severe a finding of a policy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["informational", "low", "medium", "high", "critical"];

    pub fn as_str(self) -> &'static str {
        Severity::NAMES[self as usize]
    }

    pub fn parse(s: &str) -> Option<Severity> {
        [Severity::Informational, Severity::Low, Severity::Medium, Severity::High, Severity::Critical]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub id: u32,
    pub name: &'static str,
    pub cloud: CloudPlatform,
    /// The service as the real API names it in `service` (e.g. `EC2`, `S3`, `IAM`).
    pub service: &'static str,
    pub default_severity: Severity,
}

macro_rules! policy {
    ($id:literal, $cloud:ident, $service:literal, $severity:ident, $name:literal) => {
        Policy {
            id: $id,
            name: $name,
            cloud: CloudPlatform::$cloud,
            service: $service,
            default_severity: Severity::$severity,
        }
    };
}

/// Every policy, by ID.
pub const CATALOGUE: &[Policy] = &[
    policy!(1, Aws, "EC2", High, "EC2 instance with a public IP and an open SSH port"),
    policy!(2, Aws, "EC2", Medium, "EBS volume is not encrypted"),
    policy!(3, Aws, "EC2", Low, "EC2 instance without IMDSv2"),
    policy!(4, Aws, "S3", Critical, "S3 bucket is publicly readable"),
    policy!(5, Aws, "S3", Medium, "S3 bucket without default encryption"),
    policy!(6, Aws, "IAM", High, "Root account has active access keys"),
    policy!(7, Aws, "IAM", Medium, "IAM user without MFA"),
    policy!(8, Aws, "RDS", High, "RDS instance is publicly accessible"),
    policy!(9, Aws, "Lambda", Low, "Lambda function with an over-privileged role"),
    policy!(10, Azure, "VirtualMachine", High, "Virtual machine with a public RDP port"),
    policy!(11, Azure, "StorageAccount", Critical, "Storage account allows anonymous blob access"),
    policy!(12, Azure, "KeyVault", Medium, "Key vault without purge protection"),
    policy!(13, Azure, "Identity", Medium, "Guest users with owner permissions"),
    policy!(14, Gcp, "Compute Engine", High, "Compute instance with a public IP and default service account"),
    policy!(15, Gcp, "Cloud Storage", Critical, "Cloud Storage bucket is publicly accessible"),
    policy!(16, Gcp, "IAM", High, "Service account key older than 90 days"),
    policy!(17, Gcp, "Cloud SQL", Medium, "Cloud SQL instance without automated backups"),
];

/// Regions a policy checks when nobody chose any.
const DEFAULT_REGIONS: &[(CloudPlatform, &[&str])] = &[
    (CloudPlatform::Aws, &["us-east-1", "us-west-2", "eu-west-1"]),
    (CloudPlatform::Azure, &["eastus", "westeurope"]),
    (CloudPlatform::Gcp, &["us-central1", "europe-west1"]),
];

impl Policy {
    pub fn find(id: u32) -> Option<&'static Policy> {
        CATALOGUE.iter().find(|p| p.id == id)
    }

    /// The setting of a customer that changed nothing.
    pub fn default_setting(&self) -> PolicySetting {
        let regions = DEFAULT_REGIONS.iter().find(|(c, _)| *c == self.cloud).map_or(&[][..], |(_, r)| *r);
        PolicySetting {
            policy_id: self.id,
            enabled: true,
            severity: self.default_severity,
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            tag_excluded: false,
        }
    }
}

/// A customer's setting of one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySetting {
    pub policy_id: u32,
    pub enabled: bool,
    pub severity: Severity,
    pub regions: Vec<String>,
    pub tag_excluded: bool,
}

/// A change to one policy's setting; `None` keeps the field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyChange {
    pub policy_id: u32,
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    pub regions: Option<Vec<String>>,
    pub tag_excluded: Option<bool>,
}

/// Which policies a `GetCSPMPolicySettings` asks for; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyFilter {
    /// Matched without case (`ec2` is `EC2`).
    pub service: Option<String>,
    pub policy_id: Option<u32>,
    pub cloud: Option<CloudPlatform>,
}

impl PolicyFilter {
    pub fn matches(&self, policy: &Policy) -> bool {
        self.service.as_ref().is_none_or(|s| s.eq_ignore_ascii_case(policy.service))
            && self.policy_id.is_none_or(|id| id == policy.id)
            && self.cloud.is_none_or(|c| c == policy.cloud)
    }
}

/// The policies `filter` selects, each with the customer's setting (`stored`) or its default.
pub fn select(filter: &PolicyFilter, stored: &[PolicySetting]) -> Vec<(&'static Policy, PolicySetting)> {
    CATALOGUE
        .iter()
        .filter(|p| filter.matches(p))
        .map(|p| {
            let setting = stored.iter().find(|s| s.policy_id == p.id).cloned().unwrap_or_else(|| p.default_setting());
            (p, setting)
        })
        .collect()
}

/// Why a change was refused. The message is fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("no such policy: {0}")]
    UnknownPolicy(String),
    #[error("a policy may be changed only once per request: {0}")]
    Repeated(u32),
}

/// Applies `changes` to the customer's settings: all of them, or none when one is invalid. Returns the
/// new settings of the changed policies.
pub fn apply(stored: &[PolicySetting], changes: &[PolicyChange]) -> Result<Vec<PolicySetting>, PolicyError> {
    let unknown: Vec<String> =
        changes.iter().filter(|c| Policy::find(c.policy_id).is_none()).map(|c| c.policy_id.to_string()).collect();
    if !unknown.is_empty() {
        return Err(PolicyError::UnknownPolicy(unknown.join(", ")));
    }
    let mut seen = Vec::new();
    let mut updated = Vec::with_capacity(changes.len());
    for change in changes {
        if seen.contains(&change.policy_id) {
            return Err(PolicyError::Repeated(change.policy_id));
        }
        seen.push(change.policy_id);
        let policy =
            Policy::find(change.policy_id).ok_or_else(|| PolicyError::UnknownPolicy(change.policy_id.to_string()))?;
        let mut setting = stored
            .iter()
            .find(|s| s.policy_id == change.policy_id)
            .cloned()
            .unwrap_or_else(|| policy.default_setting());
        if let Some(enabled) = change.enabled {
            setting.enabled = enabled;
        }
        if let Some(severity) = change.severity {
            setting.severity = severity;
        }
        if let Some(regions) = &change.regions {
            setting.regions = regions.clone();
        }
        if let Some(tag_excluded) = change.tag_excluded {
            setting.tag_excluded = tag_excluded;
        }
        updated.push(setting);
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_every_cloud_is_covered() {
        let mut ids: Vec<u32> = CATALOGUE.iter().map(|p| p.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
        for cloud in [CloudPlatform::Aws, CloudPlatform::Azure, CloudPlatform::Gcp] {
            assert!(CATALOGUE.iter().any(|p| p.cloud == cloud));
        }
    }

    #[test]
    fn filters_select_by_service_id_and_cloud() {
        let ec2 = select(&PolicyFilter { service: Some("ec2".into()), ..Default::default() }, &[]);
        assert_eq!(ec2.len(), 3);
        assert!(ec2.iter().all(|(p, s)| p.service == "EC2" && s.enabled && s.severity == p.default_severity));
        let iam_gcp = select(
            &PolicyFilter { service: Some("IAM".into()), cloud: Some(CloudPlatform::Gcp), ..Default::default() },
            &[],
        );
        assert_eq!(iam_gcp.iter().map(|(p, _)| p.id).collect::<Vec<_>>(), [16]);
        assert_eq!(select(&PolicyFilter { policy_id: Some(4), ..Default::default() }, &[]).len(), 1);
        assert!(select(&PolicyFilter { service: Some("Nope".into()), ..Default::default() }, &[]).is_empty());
    }

    #[test]
    fn changes_apply_all_or_nothing() {
        let change = PolicyChange {
            policy_id: 1,
            enabled: Some(false),
            severity: Some(Severity::Critical),
            ..Default::default()
        };
        let updated = apply(&[], std::slice::from_ref(&change)).expect("applies");
        assert_eq!(updated[0].severity, Severity::Critical);
        assert!(!updated[0].enabled);
        assert_eq!(updated[0].regions, Policy::find(1).expect("policy").default_setting().regions, "kept");
        let bad = [change.clone(), PolicyChange { policy_id: 999, ..Default::default() }];
        assert_eq!(apply(&[], &bad), Err(PolicyError::UnknownPolicy("999".into())));
        assert_eq!(apply(&[], &[change.clone(), change]), Err(PolicyError::Repeated(1)));
        let stored = select(&PolicyFilter { policy_id: Some(1), ..Default::default() }, &updated);
        assert_eq!(stored[0].1.severity, Severity::Critical, "stored settings win over defaults");
    }

    #[test]
    fn severity_names() {
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("severe"), None);
        assert_eq!(Severity::Critical.to_string(), "critical");
    }
}
