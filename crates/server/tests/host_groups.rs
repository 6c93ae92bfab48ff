//! The Host Group API through the real router: static groups filled by the hosts a filter matches (by
//! hostname, or by device ID), dynamic groups whose members follow their rule and the hosts, the hosts'
//! `groups` field, member queries, the Hosts collection's older group action, per-customer isolation,
//! another node on the same store, and each operation's errors.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use talon_auth::CustomerId;
use talon_server::Config;
use talon_wire::Scope;

const GROUPS: &str = "/devices/entities/host-groups/v1";
const ACTIONS: &str = "/devices/entities/host-group-actions/v1";
const QUERY: &str = "/devices/queries/host-groups/v1";
const COMBINED: &str = "/devices/combined/host-groups/v1";
const MEMBERS: &str = "/devices/queries/host-group-members/v1";
const COMBINED_MEMBERS: &str = "/devices/combined/host-group-members/v1";
const DEVICES: &str = "/devices/queries/devices/v1";

fn request(method: &str, path: &str, token: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    match body {
        Some(json) => builder.header("content-type", "application/json").body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

async fn setup() -> (Harness, String) {
    let h = Harness::new(Config { demo_hosts: 20, ..Config::default() }).await;
    let c =
        h.client(&[Scope::HOST_GROUP_READ, Scope::HOST_GROUP_WRITE, Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let token = h.token(&c).await;
    (h, token)
}

fn ids(reply: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        reply["resources"].as_array().expect("resources").iter().map(|v| v.as_str().expect("id").to_owned()).collect();
    ids.sort();
    ids
}

async fn create(h: &Harness, token: &str, group: Value) -> Value {
    let reply = h.send(request("POST", GROUPS, token, Some(json!({"resources": [group]})))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["resources"][0].clone()
}

async fn group_action(h: &Harness, token: &str, action: &str, group: &str, filter: &str) -> Value {
    let body = json!({"ids": [group], "action_parameters": [{"name": "filter", "value": filter}]});
    let reply = h.send(request("POST", &format!("{ACTIONS}?action_name={action}"), token, Some(body))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

async fn members(h: &Harness, token: &str, group: &str) -> Vec<String> {
    ids(&h.send(request("GET", &format!("{MEMBERS}?id={group}&limit=5000"), token, None)).await.json())
}

#[tokio::test]
async fn static_groups_take_the_hosts_a_filter_names_and_hosts_show_their_groups() {
    let (h, token) = setup().await;
    let all = ids(&h.send(request("GET", &format!("{DEVICES}?limit=5000"), &token, None)).await.json());
    let group = create(&h, &token, json!({"name": "Web servers", "group_type": "static", "description": "d"})).await;
    let id = group["id"].as_str().expect("id").to_owned();
    assert_eq!(group["assignment_rule"], "device_id:[''],hostname:['']");
    assert_eq!((group["group_type"].clone(), group["description"].clone()), (json!("static"), json!("d")));
    assert!(group["created_by"].is_string() && group["created_timestamp"].is_string());

    // As caracara writes the filter: parentheses, a space after each comma.
    let (a, b) = (all[0].clone(), all[1].clone());
    let after = group_action(&h, &token, "add-hosts", &id, &format!("(device_id:['{a}', '{b}'])")).await;
    let rule = after["resources"][0]["assignment_rule"].as_str().expect("rule").to_owned();
    assert!(rule.starts_with("device_id:[''],hostname:['"), "the hostnames are in the rule: {rule}");
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    assert_eq!(members(&h, &token, &id).await, expected);
    let details = h.send(request("GET", &format!("/devices/entities/devices/v2?ids={a}"), &token, None)).await.json();
    assert_eq!(details["resources"][0]["groups"], json!([id]), "the host lists its group");
    let by_group = h.send(request("GET", &format!("{DEVICES}?filter=groups:'{id}'"), &token, None)).await.json();
    assert_eq!(ids(&by_group), expected, "hosts filter by group");
    let combined = h.send(request("GET", &format!("{COMBINED_MEMBERS}?id={id}"), &token, None)).await.json();
    assert_eq!(combined["resources"].as_array().map(Vec::len), Some(2));
    assert_eq!(combined["meta"]["pagination"]["total"], 2);
    let any_group = h.send(request("GET", COMBINED_MEMBERS, &token, None)).await.json();
    assert_eq!(any_group["meta"]["pagination"]["total"], 2, "without id: the hosts in any group");

    group_action(&h, &token, "remove-hosts", &id, &format!("device_id:'{a}'")).await;
    assert_eq!(members(&h, &token, &id).await, std::slice::from_ref(&b));

    // By ID: the rule lists device IDs.
    let by_id = create(&h, &token, json!({"name": "Pinned", "group_type": "staticByID"})).await;
    let by_id_id = by_id["id"].as_str().expect("id").to_owned();
    let after = group_action(&h, &token, "add-hosts", &by_id_id, &format!("device_id:['{a}']")).await;
    assert_eq!(after["resources"][0]["assignment_rule"], format!("device_id:['{a}'],hostname:['']"));

    // The Hosts collection's older action on the same groups.
    let older = "/devices/entities/group-actions/v1";
    let body = json!({"action_parameters": [{"name": "filter", "value": format!("device_id:'{}'", all[2])}]});
    let reply =
        h.send(request("POST", &format!("{older}?ids={id}&action_name=add_group_member"), &token, Some(body))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(members(&h, &token, &id).await.len(), 2);
    let cleared = h.send(request("POST", &format!("{older}?ids={id}&action_name=remove_all"), &token, None)).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", String::from_utf8_lossy(&cleared.body));
    assert!(members(&h, &token, &id).await.is_empty());
}

#[tokio::test]
async fn dynamic_groups_follow_their_rule_and_the_hosts() {
    let (h, token) = setup().await;
    let group = create(
        &h,
        &token,
        json!({"name": "Blue", "group_type": "dynamic", "assignment_rule": "tags:'FalconGroupingTags/Blue'"}),
    )
    .await;
    let id = group["id"].as_str().expect("id").to_owned();
    assert!(members(&h, &token, &id).await.is_empty());
    let host = ids(&h.send(request("GET", DEVICES, &token, None)).await.json())[5].clone();
    let tag = json!({"action": "add", "device_ids": [host], "tags": ["Blue"]});
    assert_eq!(
        h.send(request("PATCH", "/devices/entities/devices/tags/v1", &token, Some(tag))).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(members(&h, &token, &id).await, std::slice::from_ref(&host), "a host tagged Blue joins the group");
    let refused = json!({"ids": [id], "action_parameters": [{"name": "filter", "value": "hostname:'x'"}]});
    let reply = h.send(request("POST", &format!("{ACTIONS}?action_name=add-hosts"), &token, Some(refused))).await;
    assert_envelope_error(
        &reply,
        StatusCode::BAD_REQUEST,
        "a dynamic group's members follow its assignment_rule; hosts cannot be added or removed",
    );
    // A new rule: the members follow. The rule names a platform some demo host has (the 20 hosts of a
    // random customer are Windows, Mac or Linux at random: none may be a Mac).
    let mut platform_hosts = Vec::new();
    for platform in ["Mac", "Linux", "Windows"] {
        let filter = format!("{DEVICES}?filter=platform_name:'{platform}'&limit=5000");
        let found = ids(&h.send(request("GET", &filter, &token, None)).await.json());
        if !found.is_empty() {
            platform_hosts.push((platform, found));
        }
    }
    let (platform, hosts) = platform_hosts.first().expect("the demo hosts have a platform");
    let rule = format!("platform_name:'{platform}'");
    let change = json!({"resources": [{"id": id, "assignment_rule": rule, "name": "By platform"}]});
    let updated = h.send(request("PATCH", GROUPS, &token, Some(change))).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", String::from_utf8_lossy(&updated.body));
    assert_eq!(updated.json()["resources"][0]["name"], "By platform");
    assert_eq!(&members(&h, &token, &id).await, hosts);
}

#[tokio::test]
async fn groups_query_sort_page_and_delete_and_stay_with_their_customer_and_store() {
    let (h, token) = setup().await;
    for name in ["Alpha", "beta", "Gamma"] {
        create(&h, &token, json!({"name": name, "group_type": "static"})).await;
    }
    let listed = h.send(request("GET", &format!("{COMBINED}?sort=name.desc"), &token, None)).await.json();
    let names: Vec<&str> =
        listed["resources"].as_array().expect("groups").iter().map(|g| g["name"].as_str().expect("n")).collect();
    assert_eq!(names, ["Gamma", "beta", "Alpha"], "names sort without case");
    let filtered =
        h.send(request("GET", &format!("{QUERY}?filter=name:'*a'&limit=1&offset=1"), &token, None)).await.json();
    assert_eq!(filtered["meta"]["pagination"], json!({"offset": 1, "limit": 1, "total": 3}));
    assert_eq!(filtered["resources"].as_array().map(Vec::len), Some(1));
    let duplicate = h
        .send(request("POST", GROUPS, &token, Some(json!({"resources": [{"name": "ALPHA", "group_type": "static"}]}))))
        .await;
    assert_envelope_error(&duplicate, StatusCode::CONFLICT, "a host group named \"ALPHA\" exists already");
    let ids_now = ids(&h.send(request("GET", QUERY, &token, None)).await.json());
    assert_eq!(ids_now.len(), 3, "a refused create writes nothing");

    // Another node on the same store sees them; another customer does not.
    let other_node = Harness::on(h.db.clone(), Config { demo_hosts: 20, ..Config::default() }, h.clock.clone()).await;
    assert_eq!(ids(&other_node.send(request("GET", QUERY, &token, None)).await.json()), ids_now);
    let stranger = h.client_with(&[Scope::HOST_GROUP_READ], |s| s.cid = CustomerId::generate()).await;
    let stranger_token = h.token(&stranger).await;
    assert!(ids(&h.send(request("GET", QUERY, &stranger_token, None)).await.json()).is_empty());
    let theirs = h.send(request("GET", &format!("{GROUPS}?ids={}", ids_now[0]), &stranger_token, None)).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);

    let got =
        h.send(request("GET", &format!("{GROUPS}?ids={}&ids={}", ids_now[0], "f".repeat(32)), &token, None)).await;
    assert_eq!(got.status, StatusCode::OK);
    let body = got.json();
    assert_eq!(body["resources"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["errors"][0]["code"], 404);
    let deleted = h.send(request("DELETE", &format!("{GROUPS}?ids={}", ids_now[0]), &token, None)).await;
    assert_eq!((deleted.status, deleted.json()["resources"].clone()), (StatusCode::OK, json!([ids_now[0]])));
    let again = h.send(request("DELETE", &format!("{GROUPS}?ids={}", ids_now[0]), &token, None)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    other_node.state.refresh().await.expect("refresh");
    assert_eq!(
        ids(&other_node.send(request("GET", QUERY, &token, None)).await.json()).len(),
        2,
        "the other node follows"
    );
}

#[tokio::test]
async fn bad_group_requests_are_4xx_and_write_nothing() {
    let (h, token) = setup().await;
    let group = create(&h, &token, json!({"name": "Keep", "group_type": "static"})).await;
    let id = group["id"].as_str().expect("id").to_owned();
    for (body, message) in [
        (
            json!({"resources": [{"name": "x", "group_type": "smart"}]}),
            "group_type must be one of static, staticByID, dynamic",
        ),
        (
            json!({"resources": [{"name": "", "group_type": "static"}]}),
            "name must be 1 to 255 characters, without control characters",
        ),
        (
            json!({"resources": [{"name": "x", "group_type": "static", "assignment_rule": "hostname:'a'"}]}),
            "assignment_rule is for dynamic groups; add hosts to a static group with performGroupAction",
        ),
        (json!({"resources": []}), "resources must hold 1 to 100 groups"),
        (
            json!({"resources": [{"name": "a", "group_type": "static"}, {"name": "A", "group_type": "static"}]}),
            "each group of one request needs a name of its own",
        ),
    ] {
        assert_envelope_error(
            &h.send(request("POST", GROUPS, &token, Some(body))).await,
            StatusCode::BAD_REQUEST,
            message,
        );
    }
    let bad_rule = json!({"resources": [{"name": "x", "group_type": "dynamic", "assignment_rule": "nosuch:'a'"}]});
    let reply = h.send(request("POST", GROUPS, &token, Some(bad_rule))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.message().starts_with("assignment_rule: invalid filter"), "{}", reply.message());
    let unknown_field = json!({"resources": [{"name": "x", "group_type": "static", "colour": "red"}]});
    assert_eq!(h.send(request("POST", GROUPS, &token, Some(unknown_field))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(ids(&h.send(request("GET", QUERY, &token, None)).await.json()).len(), 1, "nothing was created");

    // An update naming an unknown group changes none of them.
    let change = json!({"resources": [{"id": id, "name": "Renamed"}, {"id": "f".repeat(32), "name": "x"}]});
    assert_eq!(h.send(request("PATCH", GROUPS, &token, Some(change))).await.status, StatusCode::NOT_FOUND);
    let kept = h.send(request("GET", &format!("{GROUPS}?ids={id}"), &token, None)).await.json();
    assert_eq!(kept["resources"][0]["name"], "Keep");

    for (query, body) in [
        (
            "action_name=shuffle",
            json!({"ids": [id], "action_parameters": [{"name": "filter", "value": "hostname:'a'"}]}),
        ),
        ("action_name=add-hosts", json!({"ids": [id], "action_parameters": []})),
        (
            "action_name=add-hosts",
            json!({"ids": [id], "action_parameters": [{"name": "filter", "value": "hostname:'a"}]}),
        ),
        (
            "action_name=add-hosts",
            json!({"ids": [], "action_parameters": [{"name": "filter", "value": "hostname:'a'"}]}),
        ),
    ] {
        let reply = h.send(request("POST", &format!("{ACTIONS}?{query}"), &token, Some(body.clone()))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query} {body}");
    }
    for query in ["limit=5001", "sort=secret.asc", "filter=nosuch:'x'", "offset=-1"] {
        assert_eq!(
            h.send(request("GET", &format!("{QUERY}?{query}"), &token, None)).await.status,
            StatusCode::BAD_REQUEST,
            "{query}"
        );
    }
    assert_eq!(
        h.send(request("GET", &format!("{MEMBERS}?id={}", "f".repeat(32)), &token, None)).await.status,
        StatusCode::NOT_FOUND
    );
    // devices scopes alone reach no group route.
    let devices_only = h.client(&[Scope::DEVICES_READ]).await;
    let devices_token = h.token(&devices_only).await;
    assert_eq!(h.send(request("GET", QUERY, &devices_token, None)).await.status, StatusCode::FORBIDDEN);
}

/// caracara's `describe_groups` (and so its `get_group_members`) reads the groups it queried back through
/// `getHostGroups` 500 IDs a call: a customer of more than 100 groups must get them all in one get.
#[tokio::test]
async fn one_get_names_up_to_500_groups_as_caracara_asks() {
    let (h, token) = setup().await;
    let mut all = Vec::new();
    for batch in 0..2 {
        let resources: Vec<Value> =
            (0..75).map(|i| json!({"name": format!("g{batch}-{i:02}"), "group_type": "static"})).collect();
        let reply = h.send(request("POST", GROUPS, &token, Some(json!({"resources": resources})))).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        all.extend(reply.json()["resources"].as_array().expect("groups").iter().map(|g| g["id"].clone()));
    }
    let query = |ids: &[Value]| {
        let names: Vec<String> = ids.iter().map(|id| format!("ids={}", id.as_str().expect("id"))).collect();
        format!("{GROUPS}?{}", names.join("&"))
    };
    let reply = h.send(request("GET", &query(&all), &token, None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["resources"].as_array().expect("groups").len(), 150);
    // 500 IDs (the 150 and 350 unknown ones) still fit in one get; 501 do not.
    let mut many = all.clone();
    many.extend((0..350).map(|i| json!(format!("{i:032x}"))));
    let reply = h.send(request("GET", &query(&many), &token, None)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["errors"].as_array().expect("errors").len(), 350, "the unknown ones are named");
    many.push(json!("f".repeat(32)));
    assert_eq!(h.send(request("GET", &query(&many), &token, None)).await.status, StatusCode::BAD_REQUEST);
}
