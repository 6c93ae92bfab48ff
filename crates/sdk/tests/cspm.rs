//! The typed `CspmRegistration` service against a real Talon server started in-process: filtered reads,
//! an update read back, and the errors of bad changes.

mod common;

use common::TestServer;
use talon::{CspmRegistration, Error, PolicyUpdate};
use talon_wire::Scope;

#[tokio::test]
async fn policy_settings_are_filtered_and_an_update_reads_back() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::CSPM_READ, Scope::CSPM_WRITE]).await;
    let cspm = CspmRegistration::new(server.sdk(&id, &secret));

    let every = cspm.get_policy_settings(None, None, None).await.expect("every policy");
    let ec2 = cspm.get_policy_settings(Some("EC2"), None, Some("aws")).await.expect("EC2 on AWS");
    assert_eq!(ec2.len(), 3);
    assert!(ec2.iter().all(|p| p.cloud_service == "EC2" && p.cloud_provider == "aws"));
    assert!(every.len() > ec2.len());
    let gcp = cspm.get_policy_settings(None, None, Some("gcp")).await.expect("GCP");
    assert!(!gcp.is_empty() && gcp.iter().all(|p| p.cloud_provider == "gcp"));

    let before = cspm.get_policy_settings(None, Some(4), None).await.expect("policy 4");
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].name, "S3 bucket is publicly readable");
    let setting = &before[0].policy_settings[0];
    assert!(setting.enabled);
    assert_eq!(setting.severity, "critical");

    let change = PolicyUpdate {
        policy_id: 4,
        enabled: Some(false),
        severity: Some("high".into()),
        regions: Some(vec!["us-east-1".into()]),
        ..Default::default()
    };
    let changed = cspm.update_policy_settings(&[change]).await.expect("update");
    assert_eq!(changed.len(), 1);
    let after = cspm.get_policy_settings(None, Some(4), None).await.expect("policy 4");
    assert_eq!(after, changed, "the change persisted");
    let setting = &after[0].policy_settings[0];
    assert_eq!((setting.enabled, setting.severity.as_str()), (false, "high"));
    assert_eq!(setting.regions, ["us-east-1"]);
    assert!(!setting.tag_excluded, "what the change left out is unchanged");

    assert!(cspm.update_policy_settings(&[]).await.expect("no changes").is_empty());
}

#[tokio::test]
async fn bad_changes_and_filters_are_api_errors_and_change_nothing() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::CSPM_READ, Scope::CSPM_WRITE]).await;
    let cspm = CspmRegistration::new(server.sdk(&id, &secret));

    let changes = [
        PolicyUpdate { policy_id: 1, enabled: Some(false), ..Default::default() },
        PolicyUpdate { policy_id: 999, enabled: Some(false), ..Default::default() },
    ];
    let err = cspm.update_policy_settings(&changes).await.expect_err("unknown policy");
    let Error::Api(api) = err else { panic!("an API error: {err:?}") };
    assert_eq!(api.status, 404);
    assert_eq!(api.errors[0].message, "no such policy: 999");
    let first = cspm.get_policy_settings(None, Some(1), None).await.expect("policy 1");
    assert!(first[0].policy_settings[0].enabled, "all or nothing: policy 1 is unchanged");

    let err = cspm.get_policy_settings(None, None, Some("ibm")).await.expect_err("unknown cloud");
    let Error::Api(api) = err else { panic!("an API error: {err:?}") };
    assert_eq!(api.status, 400);
    assert!(api.errors[0].message.contains("cloud-platform"), "{}", api.errors[0].message);

    let (reader, reader_secret) = server.client(&[Scope::CSPM_READ]).await;
    let err = CspmRegistration::new(server.sdk(&reader, &reader_secret))
        .update_policy_settings(&changes[..1])
        .await
        .expect_err("no cspm-registration:write");
    assert!(matches!(err, Error::Api(ref api) if api.status == 403), "{err:?}");
}
