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

/// The regions each platform has (its public region names), the only ones a setting may name: a change
/// naming another is refused, so a setting holds at most these few short names.
const REGIONS: &[(CloudPlatform, &[&str])] = &[
    (
        CloudPlatform::Aws,
        &[
            "af-south-1",
            "ap-east-1",
            "ap-east-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-6",
            "ap-southeast-7",
            "ca-central-1",
            "ca-west-1",
            "cn-north-1",
            "cn-northwest-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-gov-east-1",
            "us-gov-west-1",
            "us-west-1",
            "us-west-2",
        ],
    ),
    (
        CloudPlatform::Azure,
        &[
            "australiacentral",
            "australiacentral2",
            "australiaeast",
            "australiasoutheast",
            "austriaeast",
            "belgiumcentral",
            "brazilsouth",
            "brazilsoutheast",
            "canadacentral",
            "canadaeast",
            "centralindia",
            "centralus",
            "chilecentral",
            "eastasia",
            "eastus",
            "eastus2",
            "francecentral",
            "francesouth",
            "germanynorth",
            "germanywestcentral",
            "indonesiacentral",
            "israelcentral",
            "italynorth",
            "japaneast",
            "japanwest",
            "jioindiacentral",
            "jioindiawest",
            "koreacentral",
            "koreasouth",
            "malaysiawest",
            "mexicocentral",
            "newzealandnorth",
            "northcentralus",
            "northeurope",
            "norwayeast",
            "norwaywest",
            "polandcentral",
            "qatarcentral",
            "southafricanorth",
            "southafricawest",
            "southcentralus",
            "southindia",
            "southeastasia",
            "spaincentral",
            "swedencentral",
            "switzerlandnorth",
            "switzerlandwest",
            "uaecentral",
            "uaenorth",
            "uksouth",
            "ukwest",
            "usgovarizona",
            "usgovtexas",
            "usgovvirginia",
            "westcentralus",
            "westeurope",
            "westindia",
            "westus",
            "westus2",
            "westus3",
        ],
    ),
    (
        CloudPlatform::Gcp,
        &[
            "africa-south1",
            "asia-east1",
            "asia-east2",
            "asia-northeast1",
            "asia-northeast2",
            "asia-northeast3",
            "asia-south1",
            "asia-south2",
            "asia-southeast1",
            "asia-southeast2",
            "australia-southeast1",
            "australia-southeast2",
            "europe-central2",
            "europe-north1",
            "europe-north2",
            "europe-southwest1",
            "europe-west1",
            "europe-west10",
            "europe-west12",
            "europe-west2",
            "europe-west3",
            "europe-west4",
            "europe-west6",
            "europe-west8",
            "europe-west9",
            "me-central1",
            "me-central2",
            "me-west1",
            "northamerica-northeast1",
            "northamerica-northeast2",
            "northamerica-south1",
            "southamerica-east1",
            "southamerica-west1",
            "us-central1",
            "us-east1",
            "us-east4",
            "us-east5",
            "us-south1",
            "us-west1",
            "us-west2",
            "us-west3",
            "us-west4",
        ],
    ),
];

impl CloudPlatform {
    /// Every region of this platform, by its public name.
    pub fn regions(self) -> &'static [&'static str] {
        REGIONS.iter().find(|(c, _)| *c == self).map_or(&[], |(_, r)| *r)
    }
}

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
    #[error("policy {policy_id} is on {cloud}: {region:?} is not one of its regions")]
    UnknownRegion { policy_id: u32, cloud: &'static str, region: String },
    #[error("policy {policy_id}: region {region:?} is named twice")]
    RepeatedRegion { policy_id: u32, region: String },
}

/// Longest region text an error quotes back: a name longer than any real region is cut, so a caller
/// cannot make the error message large.
const QUOTED_REGION_CHARS: usize = 40;

/// Checks that every region is one of the policy's platform's, each named once.
fn check_regions(policy: &Policy, regions: &[String]) -> Result<(), PolicyError> {
    let known = policy.cloud.regions();
    let quoted = |r: &str| r.chars().take(QUOTED_REGION_CHARS).collect::<String>();
    for (i, region) in regions.iter().enumerate() {
        if !known.contains(&region.as_str()) {
            let cloud = policy.cloud.as_str();
            return Err(PolicyError::UnknownRegion { policy_id: policy.id, cloud, region: quoted(region) });
        }
        if regions[..i].contains(region) {
            return Err(PolicyError::RepeatedRegion { policy_id: policy.id, region: quoted(region) });
        }
    }
    Ok(())
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
            check_regions(policy, regions)?;
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
    fn regions_are_the_platforms_own_each_named_once() {
        let aws = 1; // an AWS policy of the catalogue
        assert_eq!(Policy::find(aws).expect("policy").cloud, CloudPlatform::Aws);
        let change = |regions: &[&str]| PolicyChange {
            policy_id: aws,
            regions: Some(regions.iter().map(|r| (*r).to_owned()).collect()),
            ..Default::default()
        };
        let ok = apply(&[], &[change(&["us-east-1", "eu-west-3"])]).expect("valid regions");
        assert_eq!(ok[0].regions, ["us-east-1", "eu-west-3"]);
        assert!(apply(&[], &[change(&[])]).is_ok(), "no region at all is a valid choice");
        let azure_name = apply(&[], &[change(&["us-east-1", "westeurope"])]).expect_err("Azure region on AWS");
        assert_eq!(azure_name.to_string(), r#"policy 1 is on aws: "westeurope" is not one of its regions"#);
        let huge = "x".repeat(100);
        let long = apply(&[], &[change(&[huge.as_str()])]).expect_err("junk").to_string();
        assert!(long.len() < 100, "the junk is not echoed in full: {long}");
        assert_eq!(
            apply(&[], &[change(&["us-east-1", "us-east-1"])]),
            Err(PolicyError::RepeatedRegion { policy_id: aws, region: "us-east-1".into() })
        );
        // The defaults are regions of their own platform.
        for policy in CATALOGUE {
            assert!(check_regions(policy, &policy.default_setting().regions).is_ok(), "{}", policy.id);
        }
    }

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
