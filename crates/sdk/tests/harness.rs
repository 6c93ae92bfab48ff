//! The Uber harness: operations by ID against a real server.

mod common;

use common::TestServer;
use talon::{Args, Harness};
use talon_wire::Scope;

#[tokio::test]
async fn operations_by_id_answer_status_headers_and_body() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE, Scope::CSPM_READ]).await;
    let harness = Harness::new(server.sdk(&id, &secret));

    let token = harness.command("oauth2AccessToken", Args::new()).await.expect("token");
    assert_eq!(token.status, 201);
    let access = token.body["access_token"].as_str().expect("access_token").to_owned();
    assert!(!format!("{token:?}").contains(&access), "Debug never shows the token");

    let ids = harness
        .command("QueryDevicesByFilter", Args::new().query("limit", 2).query("sort", "hostname.asc"))
        .await
        .expect("query");
    assert_eq!(ids.status, 200);
    assert!(ids.headers.contains_key("x-cs-traceid"));
    let found: Vec<String> =
        ids.body["resources"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_owned()).collect();
    assert_eq!(found.len(), 2);

    let mut details = Args::new();
    for id in &found {
        details = details.query("ids", id);
    }
    let got = harness.command("GetDeviceDetailsV2", details).await.expect("details");
    assert_eq!(got.body["resources"].as_array().expect("devices").len(), 2);
    let posted = harness
        .command("PostDeviceDetailsV2", Args::new().body(serde_json::json!({ "ids": found })))
        .await
        .expect("details");
    assert_eq!(posted.body["resources"], got.body["resources"]);

    let action = Args::new().query("action_name", "contain").body(serde_json::json!({ "ids": [found[0]] }));
    assert_eq!(harness.command("PerformActionV2", action).await.expect("contain").status, 202);
    let policies =
        harness.command("GetCSPMPolicySettings", Args::new().query("service", "EC2")).await.expect("policies");
    assert_eq!(policies.status, 200);
    // A non-2xx status is an answer, not an error.
    let denied = harness
        .command("UpdateCSPMPolicySettings", Args::new().body(serde_json::json!({"resources": [{"policy_id": 1}]})))
        .await
        .expect("answer");
    assert_eq!(denied.status, 403);
    assert_eq!(denied.body["errors"][0]["message"], "access denied, authorization failed");

    let revoked = harness.command("oauth2RevokeToken", Args::new().query("token", &access)).await.expect("revoke");
    assert_eq!(revoked.status, 200);
    let raw = harness.request("GET", "/healthz", Args::new()).await.expect("any route");
    assert_eq!(raw.body["status"], "ok");
    assert!(harness.command("NoSuchOperation", Args::new()).await.is_err());
    assert!(talon::catalogue().operations().len() >= 1600);
}
