//! MSSP (Flight Control) and the sensor download CCID through the real router: a parent's children are
//! its client's member CIDs; a token locked to a child sees that child's hosts and groups, and never its
//! parent or its siblings; the CCID is the caller's CID with its checksum.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use talon_auth::CustomerId;
use talon_server::Config;
use talon_wire::Scope;

const CHILDREN: &str = "/mssp/queries/children/v1";

fn ids(body: &serde_json::Value) -> Vec<String> {
    body["resources"].as_array().expect("resources").iter().map(|v| v.as_str().expect("id").to_owned()).collect()
}

async fn locked_token(h: &Harness, creds: &Creds, member: &CustomerId) -> String {
    let reply = h.send(form_post("/oauth2/token", &format!("{}&member_cid={member}", creds.form()))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn a_parent_sees_its_children_and_a_child_sees_only_itself() {
    let h = Harness::new(Config { demo_hosts: 5, ..Config::default() }).await;
    let (first, second) = (CustomerId::generate(), CustomerId::generate());
    let scopes = [
        Scope::parse("mssp:read").expect("scope"),
        Scope::DEVICES_READ,
        Scope::HOST_GROUP_READ,
        Scope::HOST_GROUP_WRITE,
    ];
    let parent = h.client_with(&scopes, |s| s.member_cids = vec![first.clone(), second.clone()]).await;
    h.state.refresh().await.expect("seed the children's demo hosts");
    let token = h.token(&parent).await;

    let listed = h.send(bearer_get(CHILDREN, &token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&listed.body));
    let body = listed.json();
    let mut children = ids(&body);
    children.sort();
    let mut expected = vec![first.to_string(), second.to_string()];
    expected.sort();
    assert_eq!(children, expected);
    assert_eq!(body["meta"]["pagination"], json!({"offset": 0, "limit": 10, "total": 2}));
    let paged = h
        .send(bearer_get(&format!("{CHILDREN}?limit=1&offset=1&sort=last_modified_timestamp|asc"), &token))
        .await
        .json();
    assert_eq!(ids(&paged).len(), 1);
    let filtered = h.send(bearer_get(&format!("{CHILDREN}?filter=cid:'{first}'"), &token)).await.json();
    assert_eq!(ids(&filtered), [first.to_string()]);
    assert_eq!(
        h.send(bearer_get(&format!("{CHILDREN}?filter=name:'x'"), &token)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.send(bearer_get(&format!("{CHILDREN}?sort=name|asc"), &token)).await.status, StatusCode::BAD_REQUEST);

    let v1 =
        h.send(bearer_get(&format!("/mssp/entities/children/v1?ids={first}&ids={}", "f".repeat(32)), &token)).await;
    assert_eq!(v1.status, StatusCode::OK);
    let links = v1.json();
    assert_eq!(links["resources"][0]["child_cid"], first.to_string());
    assert_eq!(links["resources"][0]["child_of"], parent.client.cid.to_string());
    assert_eq!(links["resources"][0]["checksum"], first.checksum());
    assert_eq!(links["errors"][0]["code"], 404);
    let v2 = h
        .send(bearer_json_post(
            "/mssp/entities/children/GET/v2",
            &token,
            &json!({"ids": [second.to_string()]}).to_string(),
        ))
        .await;
    assert_eq!(v2.json()["resources"][0]["child_cid"], second.to_string());

    // Locked to the first child: its hosts and groups, and no children, parent or sibling.
    let child = locked_token(&h, &parent, &first).await;
    assert!(ids(&h.send(bearer_get(CHILDREN, &child)).await.json()).is_empty());
    let sibling = h.send(bearer_get(&format!("/mssp/entities/children/v1?ids={second}"), &child)).await;
    assert_eq!(sibling.status, StatusCode::NOT_FOUND);
    let parent_hosts = ids(&h.send(bearer_get("/devices/queries/devices/v1", &token)).await.json());
    let child_hosts = ids(&h.send(bearer_get("/devices/queries/devices/v1", &child)).await.json());
    assert_eq!(child_hosts.len(), 5);
    assert!(child_hosts.iter().all(|id| !parent_hosts.contains(id)), "a child's hosts are its own");
    let group = json!({"resources": [{"name": "Child group", "group_type": "static"}]});
    let created = h.send(bearer_json_post("/devices/entities/host-groups/v1", &child, &group.to_string())).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert!(
        ids(&h.send(bearer_get("/devices/queries/host-groups/v1", &token)).await.json()).is_empty(),
        "the parent's own groups"
    );
    assert_eq!(ids(&h.send(bearer_get("/devices/queries/host-groups/v1", &child)).await.json()).len(), 1);

    // A client without the scope is refused.
    let hosts_only = h.client(&[Scope::DEVICES_READ]).await;
    assert_eq!(h.send(bearer_get(CHILDREN, &h.token(&hosts_only).await)).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_ccid_is_the_callers_cid_with_its_checksum() {
    let h = Harness::default().await;
    let member = CustomerId::generate();
    let scopes = [Scope::parse("sensor-installers:read").expect("scope")];
    let c = h.client_with(&scopes, |s| s.member_cids = vec![member.clone()]).await;
    let reply = h.send(bearer_get("/sensors/queries/installers/ccid/v1", &h.token(&c).await)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let ccid = reply.json()["resources"][0].as_str().expect("ccid").to_owned();
    assert_eq!(ccid, c.client.cid.ccid());
    assert_eq!(ccid[..ccid.len() - 3].to_lowercase(), c.client.cid.as_str(), "caracara's reading of it");
    let locked = locked_token(&h, &c, &member).await;
    let reply = h.send(bearer_get("/sensors/queries/installers/ccid/v1", &locked)).await;
    assert_eq!(reply.json()["resources"][0], member.ccid(), "a locked token's customer");
}
