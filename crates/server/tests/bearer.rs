//! Router tests of the bearer guard and the hosts routes behind it: 401/403 exactly as Falcon answers,
//! scopes, allow-lists, client changes, tenancy, rate limits and bad input.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use common::*;
use talon_auth::{ClientChanges, Clock, CustomerId, Keyring, SigningKey};
use talon_server::{Config, Limits};
use talon_wire::Scope;

const QUERY: &str = "/devices/queries/devices/v1";
const CONTAIN: &str = "/devices/entities/devices-actions/v2?action_name=contain";
const INVALID: &str = "access denied, invalid bearer token";
const FORBIDDEN: &str = "access denied, authorization failed";

fn assert_invalid_bearer(reply: &Reply) {
    assert_envelope_error(reply, StatusCode::UNAUTHORIZED, INVALID);
    assert_eq!(reply.json()["meta"]["powered_by"], "crowdstrike-api-gateway");
}

#[tokio::test]
async fn missing_malformed_and_forged_tokens_are_401() {
    let limits = Limits { bad_token_per_ip: 100, ..Limits::default() };
    let h = Harness::new(Config { limits, demo_hosts: 3, ..Config::default() }).await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;

    let none = h.send(Request::get(QUERY).body(Body::empty()).expect("req")).await;
    assert_invalid_bearer(&none);
    assert_eq!(none.header("x-ratelimit-limit"), "100");

    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let payload = token.split('.').nth(1).expect("payload");
    let alg_none = format!("{}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#));
    // Flip a character in the middle of the signature: still valid base64url, no longer the signature.
    let signature_start = token.rfind('.').expect("signature") + 1;
    let middle = signature_start + (token.len() - signature_start) / 2;
    let mut tampered = token.clone().into_bytes();
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for bad in ["garbage", "a.b.c", "", alg_none.as_str(), tampered.as_str()] {
        assert_invalid_bearer(&h.send(bearer_get(QUERY, bad)).await);
    }
    let basic = Request::get(QUERY).header("authorization", c.basic()).body(Body::empty()).expect("req");
    assert_invalid_bearer(&h.send(basic).await);

    // Signed by a key this server does not know, with every claim right.
    let foreign = Keyring::new("talon", &[SigningKey::generate(NOW)]).expect("ring").issue(&c.client, None, NOW);
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &foreign.jwt)).await);
}

#[tokio::test]
async fn expired_tokens_are_401() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    h.clock.advance(1799);
    assert_eq!(h.send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);
    h.clock.advance(1);
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &token)).await);
}

#[tokio::test]
async fn missing_scope_is_403_and_says_so_in_a_header() {
    let h = Harness::default().await;
    let reader = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&reader).await;
    let host = first_host(&h, &token).await;
    let reply = h.send(bearer_json_post(CONTAIN, &token, &format!(r#"{{"ids":["{host}"]}}"#))).await;
    assert_envelope_error(&reply, StatusCode::FORBIDDEN, FORBIDDEN);
    assert_eq!(reply.header("x-talon-deny-reason"), "missing-scope");
    assert_eq!(reply.json()["meta"]["powered_by"], "crowdstrike-api-gateway");
}

#[tokio::test]
async fn allow_list_is_enforced_on_every_request() {
    let h = Harness::default().await;
    let c = h.client_with(&[Scope::DEVICES_READ], |s| s.allowed_ips = vec!["127.0.0.1/32".parse().expect("net")]).await;
    let token = h.token(&c).await;
    assert_eq!(h.send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);
    let reply = h.send_from("192.0.2.7:1234", bearer_get(QUERY, &token)).await;
    assert_envelope_error(&reply, StatusCode::FORBIDDEN, FORBIDDEN);
    assert_eq!(reply.header("x-talon-deny-reason"), "ip-not-allowed");
}

#[tokio::test]
async fn client_changes_reach_live_tokens() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let token = h.token(&c).await;
    let host = first_host(&h, &token).await;
    let contain = || bearer_json_post(CONTAIN, &token, &format!(r#"{{"ids":["{host}"]}}"#));

    // A scope taken from the client is taken from its live tokens.
    let mut client = c.client.clone();
    client
        .apply(ClientChanges { scopes: Some([Scope::DEVICES_READ].into_iter().collect()), ..Default::default() }, NOW);
    h.store.update_client(&client).await.expect("update");
    h.state.refresh().await.expect("refresh");
    assert_eq!(h.send(contain()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);

    // Disabled: its tokens stop working, and enabling it again does not bring them back.
    h.clock.advance(1);
    client.apply(ClientChanges { enabled: Some(false), ..Default::default() }, h.clock.now());
    h.store.update_client(&client).await.expect("update");
    h.state.refresh().await.expect("refresh");
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &token)).await);
    client.apply(ClientChanges { enabled: Some(true), ..Default::default() }, h.clock.now());
    h.store.update_client(&client).await.expect("update");
    h.state.refresh().await.expect("refresh");
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &token)).await);
    let fresh = h.token(&c).await;
    assert_eq!(h.send(bearer_get(QUERY, &fresh)).await.status, StatusCode::OK);

    // A reset secret ends the tokens of the old one; the new secret works at once.
    h.clock.advance(1);
    let new_secret = talon_auth::ClientSecret::generate();
    client.reset_secret(new_secret.digest(), h.clock.now());
    h.store.set_secret(&client).await.expect("reset");
    h.state.refresh().await.expect("refresh");
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &fresh)).await);
    let after_reset = Creds { client: client.clone(), secret: new_secret };
    assert_eq!(h.send(form_post("/oauth2/token", &c.form())).await.status, StatusCode::FORBIDDEN, "old secret");
    let newest = h.token(&after_reset).await;
    assert_eq!(h.send(bearer_get(QUERY, &newest)).await.status, StatusCode::OK);

    // Deleted: refused.
    h.store.delete_client(&client.id).await.expect("delete");
    h.state.refresh().await.expect("refresh");
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &newest)).await);
}

async fn first_host(h: &Harness, token: &str) -> String {
    let reply = h.send(bearer_get(QUERY, token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["resources"][0].as_str().expect("a seeded host").to_owned()
}

#[tokio::test]
async fn query_devices_pages_and_sorts() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    let all = h.send(bearer_get(QUERY, &token)).await;
    assert_eq!(all.status, StatusCode::OK);
    let json = all.json();
    assert_eq!(json["resources"].as_array().expect("list").len(), 12);
    assert_eq!(json["meta"]["pagination"], serde_json::json!({"offset": 0, "limit": 100, "total": 12}));
    assert_eq!(json["meta"]["powered_by"], "device-api");
    assert_eq!(json["errors"], serde_json::json!([]));
    assert_eq!(all.header("x-ratelimit-limit"), "6000");
    assert_eq!(all.header("x-ratelimit-remaining"), "5999");

    let page = h.send(bearer_get(&format!("{QUERY}?offset=10&limit=5&sort=hostname.desc"), &token)).await.json();
    assert_eq!(page["resources"].as_array().expect("list").len(), 2);
    assert_eq!(page["meta"]["pagination"], serde_json::json!({"offset": 10, "limit": 5, "total": 12}));

    let asc = h.send(bearer_get(&format!("{QUERY}?sort=hostname.asc&limit=12"), &token)).await.json();
    let desc = h.send(bearer_get(&format!("{QUERY}?sort=hostname.desc&limit=12"), &token)).await.json();
    let mut reversed = desc["resources"].as_array().expect("list").clone();
    reversed.reverse();
    assert_eq!(&reversed, asc["resources"].as_array().expect("list"));

    for (query, message) in [
        ("limit=0", "limit must be an integer from 1 to 5000"),
        ("limit=5001", "limit must be an integer from 1 to 5000"),
        ("offset=-3", "offset must be a non-negative integer"),
        ("limit=1&limit=2", "query: form field \"limit\" is given more than once"),
        ("filter=platform_name%3D'Windows'", "filter: invalid filter at position 13: expected ':' after the field name"),
        ("filter=secret:'x'", "filter: invalid filter at position 0: unknown field \"secret\": use a field of the record, such as hostname"),
        ("filter=hostname:'*a*a*a*a*a*a*a*a*a'", "filter: invalid filter at position 0: a value may hold at most 8 wildcards (*)"),
    ] {
        let reply = h.send(bearer_get(&format!("{QUERY}?{query}"), &token)).await;
        assert_envelope_error(&reply, StatusCode::BAD_REQUEST, message);
    }
    // A filter nested deep enough to overflow the parser's stack is a 400, and the server lives on.
    let deep = h.send(bearer_get(&format!("{QUERY}?filter={}", "(".repeat(60_000)), &token)).await;
    assert_envelope_error(
        &deep,
        StatusCode::BAD_REQUEST,
        "filter: invalid filter at position 32: parentheses nested deeper than 32 levels",
    );
    let bad_sort = h.send(bearer_get(&format!("{QUERY}?sort=secret.asc"), &token)).await;
    assert_eq!(bad_sort.status, StatusCode::BAD_REQUEST);
    assert!(bad_sort.message().starts_with("invalid sort"));
}

#[tokio::test]
async fn query_devices_filters_with_fql_and_details_show_the_hosts() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let token = h.token(&c).await;
    let get = |q: &str| bearer_get(&format!("{QUERY}?{q}"), &token);
    let windows = h.send(get("filter=platform_name:'Windows'&limit=100")).await.json();
    let ids: Vec<String> =
        windows["resources"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_owned()).collect();
    assert!(!ids.is_empty());
    assert_eq!(windows["meta"]["pagination"]["total"], ids.len());

    // Details by GET (repeated ids) and by POST show exactly those hosts.
    let query: String = ids.iter().map(|id| format!("ids={id}&")).collect();
    let by_get = h.send(bearer_get(&format!("/devices/entities/devices/v2?{query}"), &token)).await;
    assert_eq!(by_get.status, StatusCode::OK, "{}", String::from_utf8_lossy(&by_get.body));
    let devices = by_get.json()["resources"].as_array().expect("devices").clone();
    assert_eq!(devices.len(), ids.len());
    assert!(devices.iter().all(|d| d["platform_name"] == "Windows" && d["status"] == "normal"));
    assert!(devices[0]["last_seen"].as_str().expect("time").ends_with('Z'), "RFC 3339");
    let body = serde_json::json!({ "ids": ids }).to_string();
    let by_post = h.send(bearer_json_post("/devices/entities/devices/v2", &token, &body)).await.json();
    assert_eq!(by_post["resources"], serde_json::Value::Array(devices.clone()));

    // The hostname filter with a wildcard and a negation; a contained host is seen at once.
    let first = devices[0]["hostname"].as_str().expect("hostname").to_owned();
    let prefix = &first[..4];
    let named = h.send(get(&format!("filter=hostname:'{prefix}*'%2Bplatform_name:!'Mac'"))).await.json();
    assert!(named["meta"]["pagination"]["total"].as_u64().expect("total") >= 1);
    let id = &ids[0];
    let contain = bearer_json_post(CONTAIN, &token, &format!(r#"{{"ids":["{id}"]}}"#));
    assert_eq!(h.send(contain).await.status, StatusCode::ACCEPTED);
    let contained = h.send(get("filter=status:'contained'")).await.json();
    assert_eq!(contained["resources"], serde_json::json!([id]));
    let details = h.send(bearer_get(&format!("/devices/entities/devices/v2?ids={id}"), &token)).await.json();
    assert_eq!(details["resources"][0]["status"], "contained");

    // Unknown IDs are left out of details; too many or none is a 400.
    let unknown = h.send(bearer_get(&format!("/devices/entities/devices/v2?ids={}", "f".repeat(32)), &token)).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(unknown.json()["resources"], serde_json::json!([]));
    let none = h.send(bearer_get("/devices/entities/devices/v2", &token)).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    let many: String = (0..101).map(|i| format!("ids={i:032}&")).collect();
    let too_many = h.send(bearer_get(&format!("/devices/entities/devices/v2?{many}"), &token)).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_plain_listing_follows_changes_to_the_hosts() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let token = h.token(&c).await;
    let listing = || bearer_get(&format!("{QUERY}?limit=5&offset=0"), &token);
    let before = h.send(listing()).await.json();
    assert_eq!(before["meta"]["pagination"]["total"], 12);
    let again = h.send(listing()).await.json();
    assert_eq!(again["resources"], before["resources"], "the same page twice (served from the page cache)");
    let first = before["resources"][0].as_str().expect("id").to_owned();
    let hide = "/devices/entities/devices-actions/v2?action_name=hide_host";
    let reply = h.send(bearer_json_post(hide, &token, &format!(r#"{{"ids":["{first}"]}}"#))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let after = h.send(listing()).await.json();
    assert_eq!(after["meta"]["pagination"]["total"], 11, "a hidden host leaves the listing at once");
    assert!(!after["resources"].as_array().expect("ids").contains(&serde_json::json!(first)));
}

#[tokio::test]
async fn containment_changes_state_and_refuses_bad_requests_whole() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let token = h.token(&c).await;
    let host = first_host(&h, &token).await;
    let ok = h.send(bearer_json_post(CONTAIN, &token, &format!(r#"{{"ids":["{host}"]}}"#))).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&ok.body));
    assert_eq!(ok.json()["resources"], serde_json::json!([{"id": host, "path": ""}]));
    let first = h.send(bearer_get(&format!("{QUERY}?sort=status.asc&limit=1"), &token)).await.json();
    assert_eq!(first["resources"][0], host.as_str(), "contained sorts before normal");

    let unknown = "f".repeat(32);
    let reply = h.send(bearer_json_post(CONTAIN, &token, &format!(r#"{{"ids":["{unknown}"]}}"#))).await;
    assert_envelope_error(&reply, StatusCode::NOT_FOUND, &format!("no such device: {unknown}"));
    // An ID outside the documented shape (1 to 64 letters, digits, - or _) is a 400, not a lookup.
    for bad in ["a b".to_owned(), "x".repeat(65), "ü".to_owned()] {
        let body = serde_json::json!({ "ids": [bad] }).to_string();
        let reply = h.send(bearer_json_post(CONTAIN, &token, &body)).await;
        assert_envelope_error(
            &reply,
            StatusCode::BAD_REQUEST,
            "ids must hold device IDs: 1 to 64 letters, digits, - or _",
        );
    }

    let path = "/devices/entities/devices-actions/v2";
    let body = format!(r#"{{"ids":["{host}"]}}"#);
    let cases: Vec<(String, String, StatusCode)> = vec![
        (path.into(), body.clone(), StatusCode::BAD_REQUEST),
        (format!("{path}?action_name=reboot"), body.clone(), StatusCode::BAD_REQUEST),
        (CONTAIN.into(), "not json".into(), StatusCode::BAD_REQUEST),
        (CONTAIN.into(), r#"{"ids":[]}"#.into(), StatusCode::BAD_REQUEST),
        (CONTAIN.into(), r#"{"ids":[""]}"#.into(), StatusCode::BAD_REQUEST),
        (
            CONTAIN.into(),
            format!(r#"{{"ids":[{}]}}"#, vec![format!("\"{host}\"",); 101].join(",")),
            StatusCode::BAD_REQUEST,
        ),
        (CONTAIN.into(), "\u{0}\u{1}".into(), StatusCode::BAD_REQUEST),
    ];
    for (uri, body, status) in cases {
        let reply = h.send(bearer_json_post(&uri, &token, &body)).await;
        assert_eq!(reply.status, status, "{uri} {body}");
        assert_eq!(reply.json()["errors"][0]["code"], status.as_u16());
    }
    let form = Request::post(CONTAIN)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("req");
    assert_eq!(h.send(form).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let non_utf8 = Request::post(CONTAIN)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(vec![0xff, 0xfe, 0x00]))
        .expect("req");
    assert_eq!(h.send(non_utf8).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_token_sees_only_its_customer_and_member_locked_tokens_only_the_member() {
    let h = Harness::default().await;
    let member = CustomerId::generate();
    let c = h.client_with(&[Scope::DEVICES_READ], |s| s.member_cids = vec![member.clone()]).await;
    let own = h.token(&c).await;
    let reply = h.send(form_post("/oauth2/token", &format!("{}&member_cid={member}", c.form()))).await;
    let locked = reply.json()["access_token"].as_str().expect("token").to_owned();
    // The member became a customer and was seeded with its own demo hosts.
    h.state.refresh().await.expect("refresh");
    let own_hosts = h.send(bearer_get(&format!("{QUERY}?limit=100"), &own)).await.json()["resources"].clone();
    let member_hosts = h.send(bearer_get(&format!("{QUERY}?limit=100"), &locked)).await.json()["resources"].clone();
    let own_hosts = own_hosts.as_array().expect("list");
    let member_hosts = member_hosts.as_array().expect("list");
    assert_eq!(own_hosts.len(), 12);
    assert_eq!(member_hosts.len(), 12);
    assert!(own_hosts.iter().all(|id| !member_hosts.contains(id)), "no host is shared between customers");

    // Another customer's client cannot act on these hosts.
    let outsider = h.client_with(&[Scope::DEVICES_WRITE], |s| s.cid = CustomerId::generate()).await;
    let token = h.token(&outsider).await;
    let reply = h.send(bearer_json_post(CONTAIN, &token, &format!(r#"{{"ids":[{}]}}"#, own_hosts[0]))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // Removing the member from the client ends the locked token.
    let mut client = c.client.clone();
    client.apply(ClientChanges { member_cids: Some(vec![]), ..Default::default() }, NOW);
    h.store.update_client(&client).await.expect("update");
    h.state.refresh().await.expect("refresh");
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &locked)).await);
    assert_eq!(h.send(bearer_get(QUERY, &own)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_are_rate_limited_per_source_ip() {
    let limits = Limits { bad_token_per_ip: 2, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    for _ in 0..2 {
        assert_eq!(h.send(bearer_get(QUERY, "bad")).await.status, StatusCode::UNAUTHORIZED);
    }
    let limited = h.send(bearer_get(QUERY, "bad")).await;
    assert_envelope_error(&limited, StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.");
    assert_eq!(limited.header("x-ratelimit-limit"), "2");
    assert_eq!(limited.header("x-ratelimit-retryafter"), (NOW + 60).to_string());
    // A valid token from the same address is not affected.
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    assert_eq!(h.send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);
    // Nor is a token this server signed that has since been revoked or has expired: its 401 (on which
    // an SDK renews) is not turned into 429 (on which it waits) by others' junk from the same address.
    let revoked = h.token(&c).await;
    let mut revoke = form_post("/oauth2/revoke", &format!("token={revoked}"));
    revoke.headers_mut().insert("authorization", c.basic().parse().expect("header"));
    assert_eq!(h.send(revoke).await.status, StatusCode::OK);
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &revoked)).await);
    assert_eq!(h.send(bearer_get(QUERY, "bad")).await.status, StatusCode::TOO_MANY_REQUESTS, "junk still is");
    // A new minute, the junk budget used up again, then the first token expires: still its 401.
    h.clock.advance(1799);
    for _ in 0..2 {
        assert_eq!(h.send(bearer_get(QUERY, "bad")).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(h.send(bearer_get(QUERY, "bad")).await.status, StatusCode::TOO_MANY_REQUESTS);
    h.clock.advance(1);
    assert_invalid_bearer(&h.send(bearer_get(QUERY, &token)).await);
}

#[tokio::test]
async fn dead_tokens_have_a_budget_of_their_own() {
    let limits = Limits { bad_token_per_ip: 1, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    h.clock.advance(1800);
    // Ten times the junk budget of 1, then 429.
    for _ in 0..10 {
        assert_invalid_bearer(&h.send(bearer_get(QUERY, &token)).await);
    }
    assert_eq!(h.send(bearer_get(QUERY, &token)).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn valid_tokens_are_rate_limited_per_customer() {
    let limits = Limits { api_per_customer: 2, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    let a = h.client(&[Scope::DEVICES_READ]).await;
    let b = h.client(&[Scope::DEVICES_READ]).await;
    let (ta, tb) = (h.token(&a).await, h.token(&b).await);
    assert_eq!(h.send(bearer_get(QUERY, &ta)).await.status, StatusCode::OK);
    assert_eq!(h.send(bearer_get(QUERY, &tb)).await.status, StatusCode::OK);
    // Both clients belong to the default customer: its budget is shared.
    let limited = h.send(bearer_get(QUERY, &ta)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("x-ratelimit-remaining"), "0");
    h.clock.advance(60);
    assert_eq!(h.send(bearer_get(QUERY, &tb)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_trace_region_and_rate_headers() {
    let h = Harness::new(Config { region: "lab-7".into(), ..Config::default() }).await;
    let requests = vec![
        Request::get("/healthz").body(Body::empty()).expect("req"),
        Request::get("/nowhere").body(Body::empty()).expect("req"),
        Request::delete(QUERY).body(Body::empty()).expect("req"),
        bearer_get(QUERY, "bad"),
        form_post("/oauth2/token", ""),
    ];
    let mut traces = Vec::new();
    for r in requests {
        let reply = h.send(r).await;
        assert_eq!(reply.header("x-cs-region"), "lab-7");
        assert!(reply.headers.contains_key("x-ratelimit-limit"));
        assert!(reply.headers.contains_key("x-ratelimit-remaining"));
        traces.push(reply.header("x-cs-traceid").to_owned());
    }
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 5, "each request has its own trace ID");
}

#[tokio::test]
async fn post_device_details_takes_the_contracts_5000_ids_with_the_default_body_limit() {
    let h = Harness::default().await;
    let token = h.token(&h.client(&[Scope::DEVICES_READ]).await).await;
    let ids = |n: usize| serde_json::json!({ "ids": (0..n).map(|i| format!("{i:032x}")).collect::<Vec<_>>() });
    // 5000 IDs are ~175 KB of JSON: more than a 64 KiB cap, so the default must leave room for them.
    let most = ids(5000).to_string();
    assert!(most.len() > 64 * 1024);
    let reply = h.send(bearer_json_post("/devices/entities/devices/v2", &token, &most)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["resources"], serde_json::json!([]), "unknown IDs are left out");
    let over = h.send(bearer_json_post("/devices/entities/devices/v2", &token, &ids(5001).to_string())).await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
}
