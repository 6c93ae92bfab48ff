//! The emulated CSPM policy settings API through the real router.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use talon_auth::CustomerId;
use talon_wire::Scope;

const PATH: &str = "/settings/entities/policy/v1";

fn patch(token: &str, body: &str) -> Request<Body> {
    Request::patch(PATH)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn policy_settings_are_read_filtered_and_changed_per_customer() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::CSPM_READ, Scope::CSPM_WRITE]).await;
    let token = h.token(&c).await;

    let ec2 = h.send(bearer_get(&format!("{PATH}?service=EC2&cloud-platform=aws"), &token)).await;
    assert_eq!(ec2.status, StatusCode::OK, "{}", String::from_utf8_lossy(&ec2.body));
    let body = ec2.json();
    assert_eq!(body["meta"]["powered_by"], "cspm-registration");
    let policies = body["resources"].as_array().expect("policies");
    assert_eq!(policies.len(), 3);
    assert!(policies.iter().all(|p| p["cloud_service"] == "EC2" && p["cloud_provider"] == "aws"));
    assert_eq!(policies[0]["policy_settings"][0]["enabled"], true);

    let one = h.send(bearer_get(&format!("{PATH}?policy-id=4"), &token)).await.json();
    assert_eq!(one["resources"][0]["name"], "S3 bucket is publicly readable");
    assert_eq!(one["resources"][0]["policy_settings"][0]["severity"], "critical");
    let gcp = h.send(bearer_get(&format!("{PATH}?cloud-platform=gcp&service=Cloud%20Storage"), &token)).await.json();
    assert_eq!(gcp["resources"].as_array().expect("list").len(), 1);

    let change = r#"{"resources":[{"policy_id":4,"enabled":false,"severity":"high","regions":["us-east-1"],"tag_excluded":true,"account_id":"123456789012"}]}"#;
    let changed = h.send(patch(&token, change)).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&changed.body));
    let settings = &changed.json()["resources"][0]["policy_settings"][0];
    assert_eq!(settings["enabled"], false);
    assert_eq!(settings["severity"], "high");
    assert_eq!(settings["regions"], serde_json::json!(["us-east-1"]));
    let after = h.send(bearer_get(&format!("{PATH}?policy-id=4"), &token)).await.json();
    assert_eq!(&after["resources"][0]["policy_settings"][0], settings, "the change persisted");

    // Another customer still sees the defaults.
    let other = h.client_with(&[Scope::CSPM_READ], |s| s.cid = CustomerId::generate()).await;
    let theirs = h.send(bearer_get(&format!("{PATH}?policy-id=4"), &h.token(&other).await)).await.json();
    assert_eq!(theirs["resources"][0]["policy_settings"][0]["enabled"], true);
}

#[tokio::test]
async fn policy_changes_are_all_or_nothing_and_bad_input_is_a_4xx() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::CSPM_READ, Scope::CSPM_WRITE]).await;
    let reader = h.client(&[Scope::CSPM_READ]).await;
    let token = h.token(&c).await;

    let mixed = r#"{"resources":[{"policy_id":1,"enabled":false},{"policy_id":999,"enabled":false}]}"#;
    let reply = h.send(patch(&token, mixed)).await;
    assert_envelope_error(&reply, StatusCode::NOT_FOUND, "no such policy: 999");
    let first = h.send(bearer_get(&format!("{PATH}?policy-id=1"), &token)).await.json();
    assert_eq!(first["resources"][0]["policy_settings"][0]["enabled"], true, "nothing was changed");

    for (body, status) in [
        ("not json", StatusCode::BAD_REQUEST),
        (r#"{"resources":[]}"#, StatusCode::BAD_REQUEST),
        (r#"{"resources":[{"policy_id":1,"severity":"severe"}]}"#, StatusCode::BAD_REQUEST),
        (r#"{"resources":[{"policy_id":"one"}]}"#, StatusCode::BAD_REQUEST),
        (r#"{"resources":[{"policy_id":1},{"policy_id":1}]}"#, StatusCode::BAD_REQUEST),
    ] {
        let reply = h.send(patch(&token, body)).await;
        assert_eq!(reply.status, status, "{body}");
        assert_eq!(reply.json()["errors"][0]["code"], status.as_u16());
    }
    for query in ["policy-id=abc", "cloud-platform=ibm", "service=EC2&service=S3"] {
        assert_eq!(h.send(bearer_get(&format!("{PATH}?{query}"), &token)).await.status, StatusCode::BAD_REQUEST);
    }
    // Regions are the platform's own: 2,000 strings of 100 characters are refused, and nothing is written.
    let junk: Vec<String> = (0..2000).map(|i| format!("{i:0>100}")).collect();
    let flood = serde_json::json!({"resources": [
        {"policy_id": 2, "enabled": false},
        {"policy_id": 1, "regions": junk},
    ]});
    let reply = h.send(patch(&token, &flood.to_string())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.message();
    assert!(message.starts_with("policy 1 is on aws: \"0000") && message.len() < 120, "{message}");
    let second = h.send(bearer_get(&format!("{PATH}?policy-id=2"), &token)).await.json();
    assert_eq!(second["resources"][0]["policy_settings"][0]["enabled"], true, "nothing was changed");
    let azure_on_aws = r#"{"resources":[{"policy_id":1,"regions":["us-east-1","westeurope"]}]}"#;
    assert_envelope_error(
        &h.send(patch(&token, azure_on_aws)).await,
        StatusCode::BAD_REQUEST,
        r#"policy 1 is on aws: "westeurope" is not one of its regions"#,
    );
    let twice = r#"{"resources":[{"policy_id":1,"regions":["us-east-1","us-east-1"]}]}"#;
    assert_eq!(h.send(patch(&token, twice)).await.status, StatusCode::BAD_REQUEST);

    let read_only = h.send(patch(&h.token(&reader).await, r#"{"resources":[{"policy_id":1}]}"#)).await;
    assert_envelope_error(&read_only, StatusCode::FORBIDDEN, "access denied, authorization failed");
}
