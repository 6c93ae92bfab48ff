//! The Hosts collection through the real router: the scroll, hidden and combined queries, details (v1,
//! v2), online state, tags, deletion, login and network-address history: each operation's answer, its
//! per-call limits and its errors, on the record of some sixty fields that every filter and sort can name.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use talon_server::Config;
use talon_wire::Scope;

const SCROLL: &str = "/devices/queries/devices-scroll/v1";
const QUERY: &str = "/devices/queries/devices/v1";
const HIDDEN: &str = "/devices/queries/devices-hidden/v1";
const COMBINED: &str = "/devices/combined/devices/v1";
const COMBINED_HIDDEN: &str = "/devices/combined/devices-hidden/v1";
const TAGS: &str = "/devices/entities/devices/tags/v1";
const ACTIONS: &str = "/devices/entities/devices-actions/v2";

async fn harness(hosts: usize) -> (Harness, String) {
    let h = Harness::new(Config { demo_hosts: hosts, ..Config::default() }).await;
    let c = h.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let token = h.token(&c).await;
    (h, token)
}

fn ids(reply: &Value) -> Vec<String> {
    reply["resources"].as_array().expect("resources").iter().map(|v| v.as_str().expect("id").to_owned()).collect()
}

fn patch(path: &str, token: &str, body: &str) -> Request<Body> {
    Request::patch(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

#[tokio::test]
async fn the_scroll_query_pages_by_token_to_the_total_and_takes_10000_a_page() {
    let (h, token) = harness(250).await;
    let mut seen = Vec::new();
    let mut offset = String::new();
    let mut pages = 0;
    loop {
        let url = format!("{SCROLL}?limit=60&sort=last_seen.desc&offset={offset}");
        let reply = h.send(bearer_get(&url, &token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
        let body = reply.json();
        let page = body["meta"]["pagination"].clone();
        assert_eq!(page["total"], 250, "every page carries the total: {page}");
        assert_eq!(page["limit"], 60);
        assert!(page["expires_at"].as_i64().expect("expires_at") > NOW * 1000, "milliseconds ahead of the clock");
        seen.extend(ids(&body));
        offset = page["offset"].as_str().expect("a token").to_owned();
        pages += 1;
        if seen.len() >= 250 || pages > 10 {
            break;
        }
    }
    assert_eq!(pages, 5, "250 hosts in pages of 60");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 250, "each host once");
    // The order is the sort's, across pages.
    let by_offset = h.send(bearer_get(&format!("{QUERY}?limit=250&sort=last_seen.desc"), &token)).await.json();
    assert_eq!(seen, ids(&by_offset));
    // Past the end: an empty page, the same total.
    let past = h.send(bearer_get(&format!("{SCROLL}?offset={offset}"), &token)).await.json();
    assert_eq!((ids(&past).len(), past["meta"]["pagination"]["total"].clone()), (0, json!(250)));

    let big = h.send(bearer_get(&format!("{SCROLL}?limit=10000"), &token)).await;
    assert_eq!(big.status, StatusCode::OK);
    assert_eq!(ids(&big.json()).len(), 250);
    for (query, message) in [
        ("limit=10001", "limit must be an integer from 1 to 10000"),
        ("offset=42", "offset: not a token a previous page gave; leave it out for the first page"),
        ("filter=nosuchfield:'x'", "filter: invalid filter at position 0: unknown field \"nosuchfield\": use a field of the record, such as hostname"),
    ] {
        assert_envelope_error(&h.send(bearer_get(&format!("{SCROLL}?{query}"), &token)).await, StatusCode::BAD_REQUEST, message);
    }
}

#[tokio::test]
async fn every_field_of_the_record_filters_and_sorts_with_its_type() {
    let (h, token) = harness(120).await;
    let all: Vec<Value> = {
        let body = h.send(bearer_get(&format!("{COMBINED}?limit=500"), &token)).await.json();
        body["resources"].as_array().expect("records").clone()
    };
    assert_eq!(all.len(), 120);
    let record = &all[0];
    for field in [
        "machine_domain",
        "product_type_desc",
        "site_name",
        "ou",
        "cid",
        "modified_timestamp",
        "os_build",
        "kernel_version",
        "system_manufacturer",
        "system_product_name",
        "serial_number",
        "connection_ip",
        "default_gateway_ip",
        "reduced_functionality_mode",
        "provision_status",
        "device_policies",
        "chassis_type_desc",
        "tags",
        "groups",
        "last_seen",
        "first_seen",
        "agent_version",
        "mac_address",
    ] {
        assert!(all.iter().any(|r| r.get(field).is_some()), "records carry {field}: {record}");
    }
    assert!(record.get("id").is_none(), "a device record has no `id` (caracara keys records by it)");
    // Every field of the catalogue of fields filters and sorts.
    for name in talon_emulator::Field::names() {
        let filtered = h.send(bearer_get(&format!("{QUERY}?filter={name}:!null&sort={name}.desc"), &token)).await;
        assert_eq!(filtered.status, StatusCode::OK, "{name}: {}", String::from_utf8_lossy(&filtered.body));
    }
    // The fields falcon-mcp's FQL guide teaches, with the values it teaches.
    let count = |filter: String| total(&h, &token, filter);
    let expect = |pred: &dyn Fn(&Value) -> bool| all.iter().filter(|r| pred(r)).count() as u64;
    let text = |r: &Value, f: &str| r[f].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        count(s("product_type_desc:'Domain Controller'")).await,
        expect(&|r| text(r, "product_type_desc") == "Domain Controller")
    );
    assert!(count(s("product_type_desc:'Domain Controller'")).await > 0);
    assert_eq!(
        count(s("machine_domain:'corp.example.com'")).await,
        expect(&|r| text(r, "machine_domain") == "corp.example.com")
    );
    assert_eq!(count(s("site_name:'HQ'")).await, expect(&|r| text(r, "site_name") == "HQ"));
    assert_eq!(
        count(s("ou:'Workstations'")).await,
        expect(&|r| r["ou"].as_array().is_some_and(|o| o.contains(&json!("Workstations"))))
    );
    assert_eq!(
        count(s("reduced_functionality_mode:'no'")).await,
        expect(&|r| text(r, "reduced_functionality_mode") == "no")
    );
    assert_eq!(
        count(s("last_seen:>'now-7d'")).await,
        expect(&|r| {
            let seen =
                time::OffsetDateTime::parse(&text(r, "last_seen"), &time::format_description::well_known::Rfc3339)
                    .expect("time");
            seen.unix_timestamp() > NOW - 7 * 86_400
        })
    );
    assert!(count(s("last_seen:>'now-7d'")).await * 10 >= 120 * 8, "most demo hosts were seen within the week");
    assert_eq!(count(s("hostname:~'macbook'")).await, expect(&|r| text(r, "hostname").contains("macbook")));
    assert_eq!(count(s("local_ip.raw:*'10.*'")).await, 120);
    assert_eq!(count(s("cid:'nothing'")).await, 0);
    let cid = text(record, "cid");
    assert_eq!(count(format!("cid:'{cid}'")).await, 120);
    // Sorts by the type of the field: times chronologically, addresses numerically.
    let by = |sort: &'static str| records_sorted(&h, &token, sort);
    let modified = by("modified_timestamp.desc").await;
    let stamps: Vec<String> =
        modified.as_array().expect("list").iter().map(|r| text(r, "modified_timestamp")).collect();
    assert!(stamps.windows(2).all(|w| w[0] >= w[1]), "RFC 3339 of one zone orders as time");
    let by_ip = by("connection_ip.asc").await;
    let addresses: Vec<u32> = by_ip
        .as_array()
        .expect("list")
        .iter()
        .map(|r| u32::from(text(r, "connection_ip").parse::<std::net::Ipv4Addr>().expect("ip")))
        .collect();
    assert!(addresses.windows(2).all(|w| w[0] <= w[1]), "numeric order");
}

fn s(text: &str) -> String {
    text.to_owned()
}

/// How many hosts `filter` selects, from the query's `total`.
async fn total(h: &Harness, token: &str, filter: String) -> u64 {
    let encoded = percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
    let reply = h.send(bearer_get(&format!("{QUERY}?limit=5000&filter={encoded}"), token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{filter}: {}", String::from_utf8_lossy(&reply.body));
    reply.json()["meta"]["pagination"]["total"].as_u64().expect("total")
}

async fn records_sorted(h: &Harness, token: &str, sort: &str) -> Value {
    h.send(bearer_get(&format!("{COMBINED}?limit=500&sort={sort}"), token)).await.json()["resources"].clone()
}

/// The online states of the hosts a query string names.
async fn states(h: &Harness, token: &str, query: &str) -> Vec<String> {
    let body = h.send(bearer_get(&format!("/devices/entities/online-state/v1?{query}"), token)).await.json();
    body["resources"].as_array().expect("list").iter().map(|s| s["state"].as_str().expect("s").to_owned()).collect()
}

#[tokio::test]
async fn combined_queries_answer_records_with_only_the_named_fields_and_token_paging() {
    let (h, token) = harness(30).await;
    let first =
        h.send(bearer_get(&format!("{COMBINED}?limit=20&fields=hostname,last_seen&sort=hostname.asc"), &token)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", String::from_utf8_lossy(&first.body));
    let body = first.json();
    let records = body["resources"].as_array().expect("records");
    assert_eq!(records.len(), 20);
    let keys: Vec<&String> = records[0].as_object().expect("record").keys().collect();
    assert_eq!(keys, ["device_id", "hostname", "last_seen"], "only the named fields, and the ID");
    let page = &body["meta"]["pagination"];
    assert_eq!((page["total"].clone(), page["limit"].clone()), (json!(30), json!(20)));
    let next = page["next"].as_str().expect("a next token");
    let second =
        h.send(bearer_get(&format!("{COMBINED}?limit=20&sort=hostname.asc&offset={next}"), &token)).await.json();
    assert_eq!(second["resources"].as_array().expect("records").len(), 10);
    assert!(second["meta"]["pagination"].get("next").is_none(), "no next page after the last");
    assert_envelope_error(
        &h.send(bearer_get(&format!("{COMBINED}?fields=hostname,password"), &token)).await,
        StatusCode::BAD_REQUEST,
        "fields: \"password\" is not a field of the device record",
    );
    let none_hidden = h.send(bearer_get(COMBINED_HIDDEN, &token)).await.json();
    assert_eq!(none_hidden["meta"]["pagination"]["total"], 0);
}

#[tokio::test]
async fn hidden_hosts_leave_every_query_and_come_back_in_the_hidden_ones() {
    let (h, token) = harness(20).await;
    let listing = ids(&h.send(bearer_get(QUERY, &token)).await.json());
    let target = listing[3].clone();
    let hide = h
        .send(bearer_json_post(
            &format!("{ACTIONS}?action_name=hide_host"),
            &token,
            &json!({"ids": [target]}).to_string(),
        ))
        .await;
    assert_eq!(hide.status, StatusCode::ACCEPTED);
    let visible = ids(&h.send(bearer_get(QUERY, &token)).await.json());
    assert!(!visible.contains(&target) && visible.len() == 19);
    let scroll = ids(&h.send(bearer_get(SCROLL, &token)).await.json());
    assert!(!scroll.contains(&target));
    let hidden = h.send(bearer_get(&format!("{HIDDEN}?limit=5000"), &token)).await.json();
    assert_eq!((ids(&hidden), hidden["meta"]["pagination"]["total"].clone()), (vec![target.clone()], json!(1)));
    let combined_hidden = h.send(bearer_get(COMBINED_HIDDEN, &token)).await.json();
    assert_eq!(combined_hidden["resources"][0]["device_id"], target.as_str());
    let filtered = h.send(bearer_get(&format!("{HIDDEN}?filter=hostname:'nothing'"), &token)).await.json();
    assert_eq!(filtered["meta"]["pagination"]["total"], 0);
    assert_envelope_error(
        &h.send(bearer_get(&format!("{HIDDEN}?limit=5001"), &token)).await,
        StatusCode::BAD_REQUEST,
        "limit must be an integer from 1 to 5000",
    );
    let unhide = h
        .send(bearer_json_post(
            &format!("{ACTIONS}?action_name=unhide_host"),
            &token,
            &json!({"ids": [target]}).to_string(),
        ))
        .await;
    assert_eq!(unhide.status, StatusCode::ACCEPTED);
    assert_eq!(ids(&h.send(bearer_get(QUERY, &token)).await.json()).len(), 20);
}

/// Hidden hosts leave the queries but not the details: caracara's `describe_hidden_devices` (and its live
/// test against a real tenant) reads their records through PostDeviceDetailsV2 after QueryHiddenDevices.
#[tokio::test]
async fn details_answer_hidden_hosts_too() {
    let (h, token) = harness(5).await;
    let target = ids(&h.send(bearer_get(QUERY, &token)).await.json())[1].clone();
    let hide = &json!({"ids": [target]}).to_string();
    let hidden = h.send(bearer_json_post(&format!("{ACTIONS}?action_name=hide_host"), &token, hide)).await;
    assert_eq!(hidden.status, StatusCode::ACCEPTED);
    for reply in [
        h.send(bearer_get(&format!("/devices/entities/devices/v1?ids={target}"), &token)).await,
        h.send(bearer_get(&format!("/devices/entities/devices/v2?ids={target}"), &token)).await,
        h.send(bearer_json_post("/devices/entities/devices/v2", &token, hide)).await,
    ] {
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json()["resources"][0]["device_id"],
            target.as_str(),
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
}

#[tokio::test]
async fn details_v1_and_v2_and_online_state_answer_known_hosts_and_leave_out_the_rest() {
    let (h, token) = harness(12).await;
    let listing = ids(&h.send(bearer_get(QUERY, &token)).await.json());
    let (a, b) = (&listing[0], &listing[1]);
    let unknown = "f".repeat(32);
    for version in ["v1", "v2"] {
        let url = format!("/devices/entities/devices/{version}?ids={a}&ids={b}&ids={unknown}");
        let details = h.send(bearer_get(&url, &token)).await.json();
        let got: Vec<&str> = details["resources"]
            .as_array()
            .expect("list")
            .iter()
            .map(|d| d["device_id"].as_str().expect("id"))
            .collect();
        assert_eq!(got, [a.as_str(), b.as_str()], "{version}");
    }
    let state =
        h.send(bearer_get(&format!("/devices/entities/online-state/v1?ids={a}&ids={unknown}"), &token)).await.json();
    let entry = &state["resources"][0];
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(1));
    assert_eq!(entry["id"], a.as_str());
    assert!(["online", "offline", "unknown"].contains(&entry["state"].as_str().expect("state")));
    assert!(entry["cid"].is_string() && entry["last_seen"].is_string());
    // Online hosts are those seen in the last 15 minutes; an hour later none is.
    let all: Vec<String> = listing.iter().map(|id| format!("ids={id}")).collect();
    let now_states = states(&h, &token, &all.join("&")).await;
    assert!(now_states.iter().any(|s| s == "online"), "{now_states:?}");
    h.clock.advance(3600);
    let token = {
        let c = h.client(&[Scope::DEVICES_READ]).await;
        h.token(&c).await
    };
    assert!(states(&h, &token, &all.join("&")).await.iter().all(|s| s != "online"));
    let too_many: Vec<String> = (0..101).map(|i| format!("ids={i:032x}")).collect();
    assert_eq!(
        h.send(bearer_get(&format!("/devices/entities/online-state/v1?{}", too_many.join("&")), &token)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(h.send(bearer_get("/devices/entities/online-state/v1", &token)).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tags_are_added_and_removed_with_falcon_prefixes_and_unknown_hosts_are_reported() {
    let (h, token) = harness(12).await;
    let listing = ids(&h.send(bearer_get(QUERY, &token)).await.json());
    let (a, b) = (listing[0].clone(), listing[1].clone());
    let unknown = "f".repeat(32);
    let body = json!({"action": "add", "device_ids": [a, b, unknown], "tags": ["FalconGroupingTags/Quarantine", "falcongroupingtags/PCI", "Blue"]});
    let reply = h.send(patch(TAGS, &token, &body.to_string())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&reply.body));
    let results = reply.json()["resources"].clone();
    assert_eq!(results[0], json!({"device_id": a, "updated": true, "code": 200}));
    assert_eq!(results[2]["updated"], false);
    assert_eq!(results[2]["code"], 404);
    let tagged =
        h.send(bearer_get(&format!("{QUERY}?filter=tags:'FalconGroupingTags/Quarantine'"), &token)).await.json();
    let mut expected = vec![a.clone(), b.clone()];
    expected.sort();
    let mut got = ids(&tagged);
    got.sort();
    assert_eq!(got, expected);
    let details = h.send(bearer_get(&format!("/devices/entities/devices/v2?ids={a}"), &token)).await.json();
    let tags = details["resources"][0]["tags"].as_array().expect("tags").clone();
    for tag in ["FalconGroupingTags/Quarantine", "FalconGroupingTags/PCI", "FalconGroupingTags/Blue"] {
        assert!(tags.contains(&json!(tag)), "{tag} in {tags:?}");
    }
    assert_eq!(
        details["resources"][0]["modified_timestamp"],
        talon_emulator::host::rfc3339(NOW),
        "the change is dated"
    );
    // Adding again changes nothing; removing takes them off.
    h.send(patch(TAGS, &token, &body.to_string())).await;
    let again = h.send(bearer_get(&format!("/devices/entities/devices/v2?ids={a}"), &token)).await.json();
    assert_eq!(again["resources"][0]["tags"].as_array().map(Vec::len), Some(tags.len()), "no tag twice");
    let remove = json!({"action": "remove", "device_ids": [a], "tags": ["Quarantine"]});
    assert_eq!(h.send(patch(TAGS, &token, &remove.to_string())).await.status, StatusCode::ACCEPTED);
    let left = h.send(bearer_get(&format!("{QUERY}?filter=tags:'FalconGroupingTags/Quarantine'"), &token)).await.json();
    assert_eq!(ids(&left), [b]);

    for (body, message) in [
        (json!({"action": "replace", "device_ids": [a], "tags": ["x"]}), "action must be add or remove"),
        (json!({"action": "add", "device_ids": [], "tags": ["x"]}), "ids must hold 1 to 5000 device IDs"),
        (json!({"action": "add", "device_ids": [a], "tags": []}), "tags must hold 1 to 50 tags"),
        (
            json!({"action": "add", "device_ids": [a], "tags": ["SensorGroupingTags/x"]}),
            "SensorGroupingTags are set on the host, not through the API",
        ),
        (
            json!({"action": "add", "device_ids": [a], "tags": ["bad\u{202e}tag"]}),
            "tags must be FalconGroupingTags/<name>, the name 1 to 256 letters, digits, _, -, / or spaces",
        ),
    ] {
        assert_envelope_error(&h.send(patch(TAGS, &token, &body.to_string())).await, StatusCode::BAD_REQUEST, message);
    }
    let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let too_many = json!({"action": "add", "device_ids": [a], "tags": many});
    assert_eq!(h.send(patch(TAGS, &token, &too_many.to_string())).await.status, StatusCode::BAD_REQUEST);
    let unknown_field = json!({"action": "add", "device_ids": [a], "tags": ["x"], "extra": 1});
    assert_eq!(h.send(patch(TAGS, &token, &unknown_field.to_string())).await.status, StatusCode::BAD_REQUEST);
    // devices:read alone may not tag.
    let reader = h.client(&[Scope::DEVICES_READ]).await;
    let read_token = h.token(&reader).await;
    assert_eq!(h.send(patch(TAGS, &read_token, &body.to_string())).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn deleted_hosts_are_gone_for_good_and_unknown_ones_are_named() {
    let (h, token) = harness(12).await;
    let listing = ids(&h.send(bearer_get(QUERY, &token)).await.json());
    let unknown = "f".repeat(32);
    let delete = "/devices/entities/devices-actions-delete/v1";
    let reply = h.send(bearer_json_post(delete, &token, &json!({"ids": [listing[0], unknown]}).to_string())).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&reply.body));
    let body = reply.json();
    assert_eq!(body["resources"], json!([{"id": listing[0], "path": ""}]));
    assert_eq!(body["errors"][0]["code"], 404);
    assert_eq!(body["errors"][0]["message"], format!("Device {unknown} not found"));
    let after = h.send(bearer_get(QUERY, &token)).await.json();
    assert_eq!(after["meta"]["pagination"]["total"], 11);
    assert_eq!(h.store.host_count(&h.store.default_customer().await.expect("cid")).await.expect("count"), 11);
    let again = h.send(bearer_json_post(delete, &token, &json!({"ids": [listing[0]]}).to_string())).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(h.send(bearer_json_post(delete, &token, r#"{"ids": []}"#)).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn login_and_network_address_history_follow_the_record_and_their_limits() {
    let (h, token) = harness(12).await;
    let listing = ids(&h.send(bearer_get(QUERY, &token)).await.json());
    let a = &listing[0];
    let v1 = h
        .send(bearer_json_post(
            "/devices/combined/devices/login-history/v1",
            &token,
            &json!({"ids": [a, "f".repeat(32)]}).to_string(),
        ))
        .await;
    assert_eq!(v1.status, StatusCode::OK);
    let history = v1.json()["resources"].clone();
    assert_eq!(history.as_array().map(Vec::len), Some(1), "unknown hosts are left out");
    assert_eq!(history[0]["device_id"], a.as_str());
    let logins = history[0]["recent_logins"].as_array().expect("logins").clone();
    assert!(logins.len() >= 2 && logins.iter().all(|l| l["user_name"].is_string() && l["login_time"].is_string()));

    let v2 = "/devices/combined/devices/login-history/v2";
    let limited = h
        .send(bearer_json_post(&format!("{v2}?limit=1&from=2000-01-01"), &token, &json!({"ids": [a]}).to_string()))
        .await
        .json();
    assert_eq!(limited["resources"][0]["recent_logins"].as_array().map(Vec::len), Some(1));
    let future = h
        .send(bearer_json_post(&format!("{v2}?from=now&to=now"), &token, &json!({"ids": [a]}).to_string()))
        .await
        .json();
    assert_eq!(future["resources"][0]["recent_logins"], json!([]), "no login within an empty range");
    let eleven: Vec<String> = listing.iter().take(11).cloned().collect();
    assert_eq!(
        h.send(bearer_json_post(v2, &token, &json!({"ids": eleven}).to_string())).await.status,
        StatusCode::BAD_REQUEST
    );
    for query in ["limit=0", "limit=101", "from=yesterday"] {
        let reply = h.send(bearer_json_post(&format!("{v2}?{query}"), &token, &json!({"ids": [a]}).to_string())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
    }

    let network = h
        .send(bearer_json_post(
            "/devices/combined/devices/network-address-history/v1",
            &token,
            &json!({"ids": [a]}).to_string(),
        ))
        .await;
    assert_eq!(network.status, StatusCode::OK);
    let history = network.json()["resources"][0]["history"].clone();
    let details = h.send(bearer_get(&format!("/devices/entities/devices/v2?ids={a}"), &token)).await.json();
    assert_eq!(history[0]["ip_address"], details["resources"][0]["local_ip"], "the current address first");
    assert_eq!(history[0]["mac_address"], details["resources"][0]["mac_address"]);
    assert!(history.as_array().is_some_and(|h| h.len() == 2));
}
