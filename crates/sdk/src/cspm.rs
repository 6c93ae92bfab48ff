//! `CspmRegistration`: the CSPM policy settings operations of FalconPy's `CSPMRegistration` class
//! (`get_policy_settings`, `update_policy_settings`), typed with talon-wire's [`PolicySettings`] and
//! [`PolicyUpdate`].

use talon_wire::operation::{GET_CSPM_POLICY_SETTINGS, UPDATE_CSPM_POLICY_SETTINGS};
use talon_wire::policy::{param, PolicySettings, PolicyUpdate, PolicyUpdateBody};

use crate::answer::resources;
use crate::harness::request_for;
use crate::{Client, Error};

/// The CSPM registration service collection over a [`Client`] (scopes `cspm-registration:read`, and
/// `cspm-registration:write` for changes).
///
/// ```no_run
/// # async fn run(client: talon::Client) -> Result<(), talon::Error> {
/// use talon::{CspmRegistration, PolicyUpdate};
/// let cspm = CspmRegistration::new(client);
/// for policy in cspm.get_policy_settings(Some("S3"), None, Some("aws")).await? {
///     println!("{} {}", policy.policy_id, policy.name);
/// }
/// let change = PolicyUpdate { policy_id: 4, enabled: Some(false), ..Default::default() };
/// cspm.update_policy_settings(&[change]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct CspmRegistration {
    client: Client,
}

impl CspmRegistration {
    /// The CSPM registration API over `client`; clones of the client share its token.
    pub fn new(client: Client) -> CspmRegistration {
        CspmRegistration { client }
    }

    /// `GetCSPMPolicySettings`: the policies that match every filter given, each with the customer's
    /// setting of it. `service` is a cloud service (`EC2`, `S3`, `IAM`, ...), `cloud_platform` one of
    /// `aws`, `azure`, `gcp`; none given, every policy.
    pub async fn get_policy_settings(
        &self,
        service: Option<&str>,
        policy_id: Option<u32>,
        cloud_platform: Option<&str>,
    ) -> Result<Vec<PolicySettings>, Error> {
        let mut request = request_for(&self.client, GET_CSPM_POLICY_SETTINGS);
        if let Some(service) = service {
            request = request.query(param::SERVICE, service);
        }
        if let Some(id) = policy_id {
            request = request.query(param::POLICY_ID, id);
        }
        if let Some(cloud) = cloud_platform {
            request = request.query(param::CLOUD_PLATFORM, cloud);
        }
        Ok(resources::<PolicySettings>(request.send().await?)?.0)
    }

    /// `UpdateCSPMPolicySettings`: applies `changes` in one call and answers the changed policies. On
    /// Talon the call is all or nothing (an unknown policy is an `Error::Api` 404 and nothing changes); it
    /// takes at most 100 changes. No changes, no call. Not retried once it may have arrived.
    pub async fn update_policy_settings(&self, changes: &[PolicyUpdate]) -> Result<Vec<PolicySettings>, Error> {
        if changes.is_empty() {
            return Ok(vec![]);
        }
        let body = PolicyUpdateBody { resources: changes.to_vec() };
        let request = request_for(&self.client, UPDATE_CSPM_POLICY_SETTINGS).json(&body)?;
        Ok(resources::<PolicySettings>(request.send().await?)?.0)
    }
}
