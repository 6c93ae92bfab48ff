//! The generic engine through the real router: prevention policies (a resource nobody emulates by hand)
//! created, read, queried with FQL, sorted and paged, changed, acted on, aggregated and deleted, per
//! customer; the catalogue's checks of parameters; bad bodies and unknown IDs refused with nothing written.

mod common;

use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};
use talon_auth::CustomerId;
use talon_wire::Scope;

const ENTITIES: &str = "/policy/entities/prevention/v1";
const QUERIES: &str = "/policy/queries/prevention/v1";
const COMBINED: &str = "/policy/combined/prevention/v1";
const ACTIONS: &str = "/policy/entities/prevention-actions/v1";

fn scopes() -> [Scope; 2] {
    [
        Scope::parse("prevention-policies:read").expect("scope"),
        Scope::parse("prevention-policies:write").expect("scope"),
    ]
}

fn bearer(method: &str, path: &str, token: &str, body: Option<&Value>) -> Request<HttpBody> {
    let builder = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    match body {
        Some(b) => builder.header("content-type", "application/json").body(HttpBody::from(b.to_string())),
        None => builder.body(HttpBody::empty()),
    }
    .expect("request")
}

/// A query value percent-encoded (FQL holds quotes, `+`, `>`, `!`).
fn enc(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn ids(body: &Value) -> Vec<String> {
    body["resources"].as_array().expect("resources").iter().map(|v| v.as_str().expect("id").to_owned()).collect()
}

fn names(body: &Value) -> Vec<String> {
    let list = body["resources"].as_array().expect("resources");
    list.iter().map(|v| v["name"].as_str().expect("name").to_owned()).collect()
}

/// Creates the policies and gives their IDs.
async fn create(h: &Harness, token: &str, policies: Value) -> Vec<String> {
    let reply = h.send(bearer("POST", ENTITIES, token, Some(&json!({ "resources": policies })))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
    let body = reply.json();
    body["resources"].as_array().expect("resources").iter().map(|r| r["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
async fn a_resource_lives_through_create_get_query_update_action_and_delete() {
    let h = Harness::default().await;
    let creds = h.client(&scopes()).await;
    let token = h.token(&creds).await;

    // Nothing yet: an empty page with correct pagination, not a 404.
    let empty = h.send(bearer_get(QUERIES, &token)).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", String::from_utf8_lossy(&empty.body));
    let body = empty.json();
    assert_eq!(body["resources"], json!([]));
    assert_eq!(body["meta"]["pagination"], json!({"offset": 0, "limit": 100, "total": 0}));
    assert_eq!(body["meta"]["powered_by"], "prevention-policies");

    let made = create(
        &h,
        &token,
        json!([
            {"name": "Workstations", "platform_name": "Windows", "precedence": 3, "enabled": false},
            {"name": "Servers", "platform_name": "Linux", "precedence": 1, "enabled": false},
            {"name": "Laptops", "platform_name": "Mac", "precedence": 2, "enabled": false},
        ]),
    )
    .await;
    assert_eq!(made.len(), 3);
    assert!(made.iter().all(|id| id.len() == 32), "server-made IDs: {made:?}");

    // Get: found in the order asked; an unknown one is an error entry; none known is a 404.
    let got = h.send(bearer_get(&format!("{ENTITIES}?ids={}&ids=nope&ids={}", made[2], made[0]), &token)).await;
    assert_eq!(got.status, StatusCode::OK);
    let body = got.json();
    assert_eq!(names(&body), ["Laptops", "Workstations"]);
    assert_eq!(body["errors"][0]["code"], 404);
    assert_eq!(body["resources"][0]["created_by"], creds.id());
    assert!(body["resources"][0]["created_timestamp"].as_str().expect("time").ends_with('Z'));
    assert_eq!(h.send(bearer_get(&format!("{ENTITIES}?ids=nope"), &token)).await.status, StatusCode::NOT_FOUND);

    // Queries: creation order by default; FQL typed by value; sort; offset paging.
    assert_eq!(ids(&h.send(bearer_get(QUERIES, &token)).await.json()), made);
    let sorted = h.send(bearer_get(&format!("{QUERIES}?sort=precedence.asc"), &token)).await.json();
    assert_eq!(ids(&sorted), [made[1].clone(), made[2].clone(), made[0].clone()]);
    let filtered =
        h.send(bearer_get(&format!("{QUERIES}?filter={}", enc("precedence:>1+platform_name:!'Mac'")), &token)).await;
    assert_eq!(ids(&filtered.json()), [made[0].clone()]);
    let page =
        h.send(bearer_get(&format!("{COMBINED}?sort={}&limit=2&offset=1", enc("name|desc")), &token)).await.json();
    assert_eq!(names(&page), ["Servers", "Laptops"]);
    assert_eq!(page["meta"]["pagination"], json!({"offset": 1, "limit": 2, "total": 3}));

    // Update by the body's resources: merged, stamped; the ID never changes.
    let changed = h
        .send(bearer(
            "PATCH",
            ENTITIES,
            &token,
            Some(&json!({"resources": [{"id": made[1], "name": "Linux servers", "id2": 1}]})),
        ))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&changed.body));
    assert_eq!(names(&changed.json()), ["Linux servers"]);
    let again = h.send(bearer_get(&format!("{QUERIES}?filter={}", enc("name:'linux*'")), &token)).await.json();
    assert_eq!(ids(&again), [made[1].clone()]);

    // An action: enable sets `enabled`; an action name the catalogue does not list is a 400.
    let enabled = h
        .send(bearer(
            "POST",
            &format!("{ACTIONS}?action_name=enable"),
            &token,
            Some(&json!({"ids": [made[0], made[2]]})),
        ))
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", String::from_utf8_lossy(&enabled.body));
    let on = h.send(bearer_get(&format!("{QUERIES}?filter=enabled:true&sort=name.asc"), &token)).await.json();
    assert_eq!(ids(&on), [made[2].clone(), made[0].clone()]);
    let bad_action = h
        .send(bearer("POST", &format!("{ACTIONS}?action_name=explode"), &token, Some(&json!({"ids": [made[0]]}))))
        .await;
    assert_eq!(bad_action.status, StatusCode::BAD_REQUEST);

    // Delete: all or none; an unknown ID deletes nothing.
    let refused = h.send(bearer("DELETE", &format!("{ENTITIES}?ids={}&ids=nope", made[0]), &token, None)).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(ids(&h.send(bearer_get(QUERIES, &token)).await.json()).len(), 3, "nothing was deleted");
    let deleted = h.send(bearer("DELETE", &format!("{ENTITIES}?ids={}", made[0]), &token, None)).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(ids(&deleted.json()), [made[0].clone()]);
    assert_eq!(ids(&h.send(bearer_get(QUERIES, &token)).await.json()), [made[1].clone(), made[2].clone()]);
}

#[tokio::test]
async fn records_belong_to_their_customer() {
    let h = Harness::default().await;
    let mine = h.client(&scopes()).await;
    let other_cid = CustomerId::generate();
    let theirs = h.client_with(&scopes(), |s| s.cid = other_cid.clone()).await;
    let (my_token, their_token) = (h.token(&mine).await, h.token(&theirs).await);
    let made = create(&h, &my_token, json!([{"name": "Mine"}])).await;
    assert_eq!(ids(&h.send(bearer_get(QUERIES, &their_token)).await.json()), Vec::<String>::new());
    let get = h.send(bearer_get(&format!("{ENTITIES}?ids={}", made[0]), &their_token)).await;
    assert_eq!(get.status, StatusCode::NOT_FOUND);
    let patch = h.send(bearer("PATCH", ENTITIES, &their_token, Some(&json!({"id": made[0], "name": "x"})))).await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
    let delete = h.send(bearer("DELETE", &format!("{ENTITIES}?ids={}", made[0]), &their_token, None)).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    assert_eq!(names(&h.send(bearer_get(COMBINED, &my_token)).await.json()), ["Mine"]);
}

#[tokio::test]
async fn bad_requests_get_a_400_in_the_envelope_and_write_nothing() {
    let h = Harness::default().await;
    let token = h.token(&h.client(&scopes()).await).await;
    let made = create(&h, &token, json!([{"name": "Kept", "precedence": 1}])).await;

    for (path, what) in [
        (format!("{QUERIES}?limit=5001"), "limit above the catalogue's maximum"),
        (format!("{QUERIES}?limit=ten"), "limit not a number"),
        (format!("{QUERIES}?offset=-1"), "negative offset"),
        (format!("{QUERIES}?filter={}", enc("name:'x")), "unterminated FQL"),
        (format!("{QUERIES}?filter={}", enc("precedence:>'high'")), "a number field against text"),
        (format!("{QUERIES}?sort={}", enc("name;drop")), "a sort that is not a field"),
        (format!("{ENTITIES}?ids="), "an empty ID"),
        (format!("{ENTITIES}?{}", (0..101).map(|i| format!("ids={i}")).collect::<Vec<_>>().join("&")), "over maxItems"),
    ] {
        let reply = h.send(bearer_get(&path, &token)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", String::from_utf8_lossy(&reply.body));
        assert!(reply.json()["errors"][0]["message"].is_string(), "{what}");
    }
    assert_eq!(h.send(bearer_get(ENTITIES, &token)).await.status, StatusCode::BAD_REQUEST, "ids is required");

    for (body, what) in [
        ("", "empty body"),
        ("{\"resources\": 3}", "resources not a list"),
        ("[1, 2]", "records that are not objects"),
        ("{\"resources\": []}", "no records"),
        ("not json", "not JSON"),
    ] {
        let reply = h.send(bearer_json_post(ENTITIES, &token, body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", String::from_utf8_lossy(&reply.body));
    }
    let huge = json!({"name": "x".repeat(70 * 1024)});
    assert_eq!(h.send(bearer("POST", ENTITIES, &token, Some(&huge))).await.status, StatusCode::BAD_REQUEST);
    let mut wrong_type = bearer("POST", ENTITIES, &token, Some(&json!({"name": "x"})));
    wrong_type.headers_mut().insert("content-type", "text/plain".parse().expect("header"));
    assert_eq!(h.send(wrong_type).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // An update naming one unknown record changes none; one that makes a record too large neither.
    let mixed = json!({"resources": [{"id": made[0], "name": "Changed"}, {"id": "nope", "name": "x"}]});
    assert_eq!(h.send(bearer("PATCH", ENTITIES, &token, Some(&mixed))).await.status, StatusCode::NOT_FOUND);
    let too_big = json!({"id": made[0], "name": "y".repeat(70 * 1024)});
    assert_eq!(h.send(bearer("PATCH", ENTITIES, &token, Some(&too_big))).await.status, StatusCode::BAD_REQUEST);
    let no_id = json!({"name": "x"});
    assert_eq!(h.send(bearer("PATCH", ENTITIES, &token, Some(&no_id))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(names(&h.send(bearer_get(COMBINED, &token)).await.json()), ["Kept"], "nothing was written");

    // Without the write scope, the write routes are refused by the guard, as every Falcon route is.
    let reader = h.token(&h.client(&scopes()[..1]).await).await;
    let denied = h.send(bearer("POST", ENTITIES, &reader, Some(&json!({"name": "x"})))).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn indicators_take_their_body_form_page_by_after_token_and_aggregate() {
    let h = Harness::default().await;
    let scopes = [Scope::parse("ioc:read").expect("scope"), Scope::parse("ioc:write").expect("scope")];
    let token = h.token(&h.client(&scopes).await).await;
    let indicators: Vec<Value> = (0..7)
        .map(|i| json!({"type": if i < 4 { "ipv4" } else { "domain" }, "value": format!("v{i}"), "severity": if i % 2 == 0 { "low" } else { "high" }}))
        .collect();
    let body = json!({"comment": "imported", "indicators": indicators});
    let created = h.send(bearer("POST", "/iocs/entities/indicators/v1", &token, Some(&body))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(created.json()["resources"][6]["comment"], "imported", "the batch's fields apply to each");

    // The search pages by `after` (it has that parameter): tokens until `after` is empty.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page =
            h.send(bearer_get(&format!("/iocs/queries/indicators/v1?limit=3&after={after}"), &token)).await.json();
        seen.extend(ids(&page));
        assert_eq!(page["meta"]["pagination"]["total"], 7);
        after = page["meta"]["pagination"]["after"].as_str().expect("after").to_owned();
        if after.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 7);
    let bad = h.send(bearer_get("/iocs/queries/indicators/v1?after=forged", &token)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let specs = json!([
        {"name": "by_type", "type": "terms", "field": "type"},
        {"name": "high_by_type", "type": "terms", "field": "type", "filter": "severity:'high'"},
    ]);
    let aggregated = h
        .send(bearer(
            "POST",
            &format!("/iocs/aggregates/indicators/v1?filter={}", enc("value:!'v0'")),
            &token,
            Some(&specs),
        ))
        .await;
    assert_eq!(aggregated.status, StatusCode::OK, "{}", String::from_utf8_lossy(&aggregated.body));
    let body = aggregated.json();
    let buckets = |i: usize| -> Vec<(String, u64)> {
        body["resources"][i]["buckets"]
            .as_array()
            .expect("buckets")
            .iter()
            .map(|b| (b["label"].as_str().expect("label").to_owned(), b["count"].as_u64().expect("count")))
            .collect()
    };
    // Equal counts: by label.
    assert_eq!(buckets(0), [("domain".to_owned(), 3), ("ipv4".to_owned(), 3)]);
    // high: i = 1, 3, 5 (v0 is filtered out anyway, and low).
    assert_eq!(buckets(1), [("ipv4".to_owned(), 2), ("domain".to_owned(), 1)]);
    let unknown_type = json!([{"name": "x", "type": "median", "field": "severity"}]);
    let refused = h.send(bearer("POST", "/iocs/aggregates/indicators/v1", &token, Some(&unknown_type))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn posts_that_read_ids_in_the_route_and_a_limit_of_zero() {
    let h = Harness::default().await;
    let scopes = [
        Scope::parse("custom-ioa:read").expect("scope"),
        Scope::parse("custom-ioa:write").expect("scope"),
        Scope::parse("code-security:read").expect("scope"),
        Scope::parse("code-security:write").expect("scope"),
    ];
    let token = h.token(&h.client(&scopes).await).await;
    let rule = json!({"name": "lsass access", "pattern_severity": "high", "rulegroup_id": "g1"});
    let created = h.send(bearer("POST", "/ioarules/entities/rules/v1", &token, Some(&rule))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&created.body));
    let id = created.json()["resources"][0]["id"].as_str().expect("id").to_owned();

    // `/GET/` in a route reads the resource it sits in, by the body's IDs; it never creates.
    let read =
        h.send(bearer("POST", "/ioarules/entities/rules/GET/v1", &token, Some(&json!({"ids": [id, "nope"]})))).await;
    assert_eq!(read.status, StatusCode::OK, "{}", String::from_utf8_lossy(&read.body));
    assert_eq!(names(&read.json()), ["lsass access"]);
    let not_ids = h.send(bearer("POST", "/ioarules/entities/rules/GET/v1", &token, Some(&json!({"name": "x"})))).await;
    assert_eq!(not_ids.status, StatusCode::BAD_REQUEST);
    let all = h.send(bearer_get(&format!("/ioarules/entities/rules/v1?ids={id}"), &token)).await.json();
    assert_eq!(names(&all), ["lsass access"], "the read wrote nothing");

    // An ID as the route's last segment: the record it names, never a listing of all.
    let by_path = h.send(bearer_get("/scm-integration/entities/connections/v1/nope", &token)).await;
    assert_eq!(by_path.status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&by_path.body));
    let delete = h.send(bearer("DELETE", "/scm-integration/entities/connections/v1/nope", &token, None)).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);

    // limit=0 where the catalogue allows it (the alerts query's minimum is 0): the total alone.
    let alerts = [Scope::parse("alerts:read").expect("scope")];
    let alerts_token = h.token(&h.client(&alerts).await).await;
    let counted = h.send(bearer_get("/alerts/queries/alerts/v2?limit=0", &alerts_token)).await.json();
    assert_eq!(counted["resources"], json!([]));
    assert_eq!(counted["meta"]["pagination"]["limit"], 0);
}

/// What falcon-mcp's modules showed the engine must take (each was a 400 or a wrong answer before).
#[tokio::test]
async fn the_body_forms_and_id_names_falcon_tools_send() {
    let h = Harness::default().await;
    let scope = |s: &str| Scope::parse(s).expect("scope");
    let scopes = [
        scope("sensor-usage:read"),
        scope("ioc:read"),
        scope("ioc:write"),
        scope("real-time-response:read"),
        scope("cases:write"),
        scope("cases:read"),
        scope("device-control-policies:read"),
        scope("device-control-policies:write"),
    ];
    let token = h.token(&h.client(&scopes).await).await;

    // FalconPy sends `{}` on every GET: an aggregate GET reads it as no body.
    let usage =
        h.send(bearer("GET", "/billing-dashboards-usage/aggregates/weekly-average/v1", &token, Some(&json!({})))).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", String::from_utf8_lossy(&usage.body));
    assert_eq!(usage.json()["meta"]["powered_by"], "sensor-usage");

    // A delete by filter deletes what it selects, and only that.
    let iocs = json!({"indicators": [{"type": "domain", "value": "gone.example"}, {"type": "domain", "value": "kept.example"}]});
    assert_eq!(
        h.send(bearer("POST", "/iocs/entities/indicators/v1", &token, Some(&iocs))).await.status,
        StatusCode::CREATED
    );
    let path = format!("/iocs/entities/indicators/v1?filter={}", enc("value:'gone.example'"));
    let deleted = h.send(bearer("DELETE", &path, &token, None)).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", String::from_utf8_lossy(&deleted.body));
    assert_eq!(deleted.json()["resources"].as_array().map(Vec::len), Some(1));
    let left = h.send(bearer_get("/iocs/combined/indicator/v1", &token)).await;
    let left = if left.status == StatusCode::OK {
        left.json()
    } else {
        h.send(bearer_get("/iocs/queries/indicators/v1", &token)).await.json()
    };
    assert_eq!(left["meta"]["pagination"]["total"], 1, "{left}");

    // An ID parameter of another name (`session_id`) names the record: unknown is a 404, not a 400.
    let session =
        h.send(bearer("DELETE", "/real-time-response/entities/sessions/v1?session_id=nope", &token, None)).await;
    assert_eq!(session.status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&session.body));
    assert_eq!(session.json()["meta"]["powered_by"], "real-time-response", "errors carry the collection too");

    // A PUT naming no record creates it (Falcon's case creation).
    let case =
        h.send(bearer("PUT", "/cases/entities/cases/v2", &token, Some(&json!({"name": "c", "severity": 40})))).await;
    assert_eq!(case.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&case.body));

    // Records listed under `policies` (device control v2), in a create and an update.
    let body =
        json!({"policies": [{"name": "dc-1", "platform_name": "Windows"}, {"name": "dc-2", "platform_name": "Mac"}]});
    let created = h.send(bearer("POST", "/policy/entities/device-control/v2", &token, Some(&body))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let made = created.json();
    assert_eq!(names(&made), ["dc-1", "dc-2"]);
    let id = made["resources"][0]["id"].as_str().expect("id").to_owned();
    let change = json!({"policies": [{"id": id, "description": "changed"}]});
    let patched = h.send(bearer("PATCH", "/policy/entities/device-control/v2", &token, Some(&change))).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", String::from_utf8_lossy(&patched.body));
    assert_eq!(patched.json()["resources"][0]["description"], "changed");
}

#[tokio::test]
async fn the_admin_api_loads_fixtures_for_the_callers_customers_only() {
    let h = Harness::default().await;
    let admin = h.client(&[Scope::API_CLIENTS_WRITE, Scope::API_CLIENTS_READ]).await;
    let admin_token = h.token(&admin).await;
    let reader = h.token(&h.client(&scopes()).await).await;
    let fixtures = json!([
        {"operation": "queryPreventionPolicies", "records": [{"id": "fx-1", "name": "From the admin API"}]},
        {"operation": "GetExecutorNodes", "status": 200, "body": {"resources": ["n1"]}},
    ]);
    let loaded = h.send(bearer("POST", "/api-clients/entities/fixtures/v1", &admin_token, Some(&fixtures))).await;
    assert_eq!(loaded.status, StatusCode::OK, "{}", String::from_utf8_lossy(&loaded.body));
    assert_eq!(loaded.json()["resources"][0], json!({"records": 1, "canned_answers": 1}));
    assert_eq!(names(&h.send(bearer_get(COMBINED, &reader)).await.json()), ["From the admin API"]);
    let audit = h.send(bearer_get("/api-clients/entities/audit/v1", &admin_token)).await.json();
    assert_eq!(audit["resources"][0]["action"], "fixtures.load");

    // A customer out of the caller's reach, a document that does not check, the wrong media type, a
    // caller without the admin scope: refused, and nothing of the document is written.
    let other = json!([
        {"operation": "queryPreventionPolicies", "records": [{"id": "fx-2", "name": "x"}]},
        {"resource": "policy/prevention", "customer": CustomerId::generate().to_string(), "records": [{"name": "y"}]},
    ]);
    let customer_admin = h.client_with(&[Scope::API_CLIENTS_WRITE], |s| s.cid = CustomerId::generate()).await;
    let customer_admin_token = h.token(&customer_admin).await;
    let refused =
        h.send(bearer("POST", "/api-clients/entities/fixtures/v1", &customer_admin_token, Some(&other))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&refused.body));
    let bad = json!([{"operation": "queryPreventionPolicies", "records": [{"id": "fx-3"}]}, {"operation": "NoSuchOp", "status": 200}]);
    let refused = h.send(bearer("POST", "/api-clients/entities/fixtures/v1", &admin_token, Some(&bad))).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.message().contains("NoSuchOp"), "{}", refused.message());
    let mut text = bearer("POST", "/api-clients/entities/fixtures/v1", &admin_token, Some(&fixtures));
    text.headers_mut().insert("content-type", "text/plain".parse().expect("header"));
    assert_eq!(h.send(text).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        h.send(bearer("POST", "/api-clients/entities/fixtures/v1", &reader, Some(&fixtures))).await.status,
        StatusCode::FORBIDDEN
    );
    let all = h.send(bearer_get(&format!("{ENTITIES}?ids=fx-1&ids=fx-2&ids=fx-3"), &reader)).await.json();
    assert_eq!(names(&all), ["From the admin API"], "nothing of the refused documents was written");
}
