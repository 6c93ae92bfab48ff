//! Alerts (v2) through the real router: demo alerts tied to the demo hosts, queried by FQL and `q`, read
//! by composite ID, changed by `PatchEntitiesAlertsV3`'s actions (status, tags, comments, assignment) all
//! or nothing, and aggregated by terms and date ranges.

mod common;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use talon_server::Config;
use talon_wire::Scope;

const QUERIES: &str = "/alerts/queries/alerts/v2";
const ENTITIES: &str = "/alerts/entities/alerts/v2";
const PATCH: &str = "/alerts/entities/alerts/v3";
const AGGREGATES: &str = "/alerts/aggregates/alerts/v2";

fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn send_json(method: &str, path: &str, token: &str, body: &Value) -> Request<HttpBody> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(HttpBody::from(body.to_string()))
        .expect("request")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().expect("list").iter().map(|s| s.as_str().expect("text").to_owned()).collect()
}

async fn setup() -> (Harness, String, Vec<Value>) {
    let h = Harness::new(Config { demo_hosts: 40, ..Config::default() }).await;
    let scopes = [
        Scope::parse("alerts:read").expect("scope"),
        Scope::parse("alerts:write").expect("scope"),
        Scope::DEVICES_READ,
    ];
    let token = h.token(&h.client(&scopes).await).await;
    h.state.refresh().await.expect("seed demo hosts and alerts");
    let ids = h.send(bearer_get(&format!("{QUERIES}?limit=1000"), &token)).await.json();
    let ids = strings(&ids["resources"]);
    assert!(ids.len() >= 5, "demo alerts: {}", ids.len());
    let body = h.send(send_json("POST", ENTITIES, &token, &json!({"composite_ids": ids}))).await;
    assert_eq!(body.status, StatusCode::OK, "{}", String::from_utf8_lossy(&body.body));
    let alerts = body.json()["resources"].as_array().expect("alerts").clone();
    assert_eq!(alerts.len(), ids.len());
    (h, token, alerts)
}

#[tokio::test]
async fn demo_alerts_belong_to_demo_hosts_and_filter_by_their_fields() {
    let (h, token, alerts) = setup().await;
    let host_ids =
        strings(&h.send(bearer_get("/devices/queries/devices/v1?limit=5000", &token)).await.json()["resources"]);
    for a in &alerts {
        let device = a["device"]["device_id"].as_str().expect("device");
        assert!(host_ids.iter().any(|h| h == device), "alert on an unknown host {device}");
        assert!(a["composite_id"].as_str().expect("id").ends_with(a["id"].as_str().expect("id")));
    }
    let high = alerts.iter().filter(|a| a["severity"].as_u64() >= Some(60)).count();
    let filtered =
        h.send(bearer_get(&format!("{QUERIES}?filter={}&limit=1000", enc("severity:>=60")), &token)).await.json();
    assert_eq!(filtered["resources"].as_array().expect("ids").len(), high);
    assert_eq!(filtered["meta"]["pagination"]["total"], high as u64);
    let recent = alerts.iter().filter(|a| a["status"] == "new").count();
    let new = h
        .send(bearer_get(
            &format!("{QUERIES}?filter={}&limit=1000", enc("status:'new'+created_timestamp:>'now-30d'")),
            &token,
        ))
        .await;
    assert_eq!(new.json()["meta"]["pagination"]["total"], recent as u64);
    // `q` searches every field's text.
    let hostname = alerts[0]["device"]["hostname"].as_str().expect("hostname");
    let by_host = alerts.iter().filter(|a| a.to_string().to_lowercase().contains(&hostname.to_lowercase())).count();
    let searched =
        h.send(bearer_get(&format!("{QUERIES}?q={}&limit=1000", enc(&hostname.to_uppercase())), &token)).await.json();
    assert_eq!(searched["meta"]["pagination"]["total"], by_host as u64);
    let sorted = h.send(bearer_get(&format!("{QUERIES}?sort={}&limit=3", enc("severity.desc")), &token)).await.json();
    let top = strings(&sorted["resources"]);
    let mut by_severity: Vec<&Value> = alerts.iter().collect();
    by_severity.sort_by_key(|a| std::cmp::Reverse(a["severity"].as_u64()));
    assert_eq!(
        alerts.iter().find(|a| a["composite_id"] == top[0].as_str()).expect("top")["severity"],
        by_severity[0]["severity"]
    );
}

#[tokio::test]
async fn actions_change_alerts_all_or_nothing() {
    let (h, token, alerts) = setup().await;
    let (a, b) = (alerts[0]["composite_id"].clone(), alerts[1]["composite_id"].clone());
    let change = json!({
        "composite_ids": [a, b],
        "action_parameters": [
            {"name": "update_status", "value": "closed"},
            {"name": "add_tag", "value": "fp"},
            {"name": "append_comment", "value": "benign admin script"},
            {"name": "assign_to_name", "value": "Alice"},
        ],
    });
    let patched = h.send(send_json("PATCH", PATCH, &token, &change)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", String::from_utf8_lossy(&patched.body));
    let read = h.send(send_json("POST", ENTITIES, &token, &json!({"composite_ids": [a, b]}))).await.json();
    for alert in read["resources"].as_array().expect("alerts") {
        assert_eq!(alert["status"], "closed");
        assert_eq!(alert["tags"], json!(["fp"]));
        assert_eq!(alert["comments"][0]["value"], "benign admin script");
        assert_eq!(alert["assigned_to_name"], "Alice");
        assert!(alert.get("action_parameters").is_none(), "actions are not stored as a field");
    }
    let closed =
        h.send(bearer_get(&format!("{QUERIES}?filter={}", enc("status:'closed'+tags:'fp'")), &token)).await.json();
    assert_eq!(closed["meta"]["pagination"]["total"], 2);

    // A bad status, an unknown action or an unknown alert changes none of them.
    let c = alerts[2]["composite_id"].clone();
    let before = h.send(send_json("POST", ENTITIES, &token, &json!({"composite_ids": [c]}))).await.json();
    for bad in [
        json!({"composite_ids": [c], "action_parameters": [{"name": "update_status", "value": "resolved"}]}),
        json!({"composite_ids": [c], "action_parameters": [{"name": "add_tag", "value": "x"}, {"name": "explode"}]}),
    ] {
        let reply = h.send(send_json("PATCH", PATCH, &token, &bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", String::from_utf8_lossy(&reply.body));
    }
    let unknown =
        json!({"composite_ids": [c, "nope"], "action_parameters": [{"name": "update_status", "value": "closed"}]});
    assert_eq!(h.send(send_json("PATCH", PATCH, &token, &unknown)).await.status, StatusCode::NOT_FOUND);
    let after = h.send(send_json("POST", ENTITIES, &token, &json!({"composite_ids": [c]}))).await.json();
    assert_eq!(before["resources"], after["resources"], "nothing changed");
}

#[tokio::test]
async fn aggregates_count_by_status_and_date_range() {
    let (h, token, alerts) = setup().await;
    let specs = json!([
        {"name": "status", "type": "terms", "field": "status", "size": 10},
        {"name": "recent", "type": "date_range", "field": "created_timestamp",
         "date_ranges": [{"from": "now-1d", "to": "now"}, {"to": "now-1d"}]},
        {"name": "severity", "type": "terms", "field": "severity_name", "filter": "status:!'closed'"},
    ]);
    let reply = h.send(send_json("POST", AGGREGATES, &token, &specs)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    let body = reply.json();
    let counted: u64 = body["resources"][0]["buckets"]
        .as_array()
        .expect("buckets")
        .iter()
        .map(|b| b["count"].as_u64().expect("n"))
        .sum();
    assert_eq!(counted, alerts.len() as u64, "every alert has one status");
    let new = alerts.iter().filter(|a| a["status"] == "new").count() as u64;
    let bucket = body["resources"][0]["buckets"]
        .as_array()
        .expect("b")
        .iter()
        .find(|b| b["label"] == "new")
        .map(|b| b["count"].clone());
    assert_eq!(bucket, Some(json!(new)));
    let ranges: Vec<u64> = body["resources"][1]["buckets"]
        .as_array()
        .expect("b")
        .iter()
        .map(|b| b["count"].as_u64().expect("n"))
        .collect();
    assert_eq!(ranges.iter().sum::<u64>(), alerts.len() as u64, "the two ranges cover every alert: {ranges:?}");
    let open = alerts.iter().filter(|a| a["status"] != "closed").count() as u64;
    let by_severity: u64 =
        body["resources"][2]["buckets"].as_array().expect("b").iter().map(|b| b["count"].as_u64().expect("n")).sum();
    assert_eq!(by_severity, open);
}
