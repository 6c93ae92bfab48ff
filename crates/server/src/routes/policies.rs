//! The emulated CSPM policy settings API: `GetCSPMPolicySettings` and `UpdateCSPMPolicySettings`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use talon_emulator::policy::{self, CloudPlatform, Policy, PolicyChange, PolicyFilter, PolicySetting, Severity};
use talon_wire::headers::POWERED_BY_CSPM;
use talon_wire::policy::{param, PolicySettingValues, PolicySettings, PolicyUpdateBody};

use crate::error::{envelope, ApiError};
use crate::extract::{read_json, Authorized, Body};
use crate::routes::devices::query_params;
use crate::state::AppState;

/// Most policies one update may change.
const MAX_CHANGES: usize = 100;

/// `GET /settings/entities/policy/v1?service=&policy-id=&cloud-platform=`: the customer's settings of the
/// policies that match every given parameter.
pub async fn get(
    State(state): State<AppState>,
    auth: Authorized,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(raw.as_deref(), &[], talon_wire::form::MAX_FIELDS)?;
    let policy_id = params
        .non_empty(param::POLICY_ID)
        .map(|id| id.parse::<u32>().map_err(|_| ApiError::bad_request("policy-id must be digits")))
        .transpose()?;
    let cloud = params
        .non_empty(param::CLOUD_PLATFORM)
        .map(|c| {
            CloudPlatform::parse(c).ok_or_else(|| ApiError::bad_request("cloud-platform must be aws, azure or gcp"))
        })
        .transpose()?;
    let filter = PolicyFilter { service: params.non_empty(param::SERVICE).map(str::to_owned), policy_id, cloud };
    let stored = state.store().policy_settings(&auth.principal.customer).await?;
    let resources: Vec<PolicySettings> =
        policy::select(&filter, &stored).into_iter().map(|(p, s)| settings_body(p, &s)).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_CSPM, Some(resources), vec![], None))
}

/// `PATCH /settings/entities/policy/v1` with `{"resources": [{"policy_id": 1, "enabled": false, ...}]}`:
/// every change or none; answers the changed policies.
pub async fn update(
    State(state): State<AppState>,
    auth: Authorized,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body: PolicyUpdateBody = read_json(&headers, &body, r#"{"resources": [{"policy_id": 1, ...}]}"#)?;
    if body.resources.is_empty() || body.resources.len() > MAX_CHANGES {
        return Err(ApiError::bad_request(format!("resources must hold 1 to {MAX_CHANGES} changes")));
    }
    let changes = body
        .resources
        .into_iter()
        .map(|u| {
            let severity = u
                .severity
                .map(|s| {
                    Severity::parse(&s).ok_or_else(|| {
                        ApiError::bad_request(format!("severity must be one of {}", Severity::NAMES.join(", ")))
                    })
                })
                .transpose()?;
            Ok(PolicyChange {
                policy_id: u.policy_id,
                enabled: u.enabled,
                severity,
                regions: u.regions,
                tag_excluded: u.tag_excluded,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let customer = &auth.principal.customer;
    let updated = state.store().change_policy_settings(customer, &changes).await?.map_err(|e| match e {
        policy::PolicyError::UnknownPolicy(_) => ApiError::not_found(e.to_string()),
        policy::PolicyError::Repeated(_)
        | policy::PolicyError::UnknownRegion { .. }
        | policy::PolicyError::RepeatedRegion { .. } => ApiError::bad_request(e.to_string()),
    })?;
    let resources: Vec<PolicySettings> =
        updated.iter().filter_map(|s| Policy::find(s.policy_id).map(|p| settings_body(p, s))).collect();
    Ok(envelope(StatusCode::OK, POWERED_BY_CSPM, Some(resources), vec![], None))
}

fn settings_body(policy: &Policy, setting: &PolicySetting) -> PolicySettings {
    PolicySettings {
        policy_id: policy.id,
        name: policy.name.to_owned(),
        policy_type: "Configuration".to_owned(),
        cloud_service: policy.service.to_owned(),
        cloud_provider: policy.cloud.as_str().to_owned(),
        default_severity: policy.default_severity.as_str().to_owned(),
        policy_settings: vec![PolicySettingValues {
            enabled: setting.enabled,
            severity: setting.severity.as_str().to_owned(),
            regions: setting.regions.clone(),
            tag_excluded: setting.tag_excluded,
        }],
    }
}
