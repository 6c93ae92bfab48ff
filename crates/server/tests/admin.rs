//! Router tests of the admin API: every operation, every error (no token, no scope, bad input, unknown
//! ID, wrong method), the audit entries each leaves, that no secret reaches the audit log, and that every
//! change takes effect at once on the token and bearer paths of this node.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use talon_server::{Config, Limits};
use talon_wire::Scope;

const CLIENTS: &str = "/api-clients/entities/clients/v1";
const AUDIT: &str = "/api-clients/entities/audit/v1";
const HOSTS: &str = "/devices/queries/devices/v1";
const ADMIN: &[Scope] = &[Scope::API_CLIENTS_READ, Scope::API_CLIENTS_WRITE, Scope::DEVICES_READ, Scope::DEVICES_WRITE];

fn call(method: Method, path: &str, token: &str, body: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned()))).expect("request")
}

fn one(path: &str, id: &str) -> String {
    format!("{path}/{id}")
}

struct Admin {
    h: Harness,
    creds: Creds,
    token: String,
}

impl Admin {
    async fn new() -> Admin {
        Admin::with(Config { demo_hosts: 3, ..Config::default() }).await
    }

    async fn with(config: Config) -> Admin {
        let h = Harness::new(config).await;
        let creds = h.client(ADMIN).await;
        let token = h.token(&creds).await;
        Admin { h, creds, token }
    }

    async fn send(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        self.h.send(call(method, path, &self.token, body)).await
    }

    /// Creates a client through the API; its view (with the secret).
    async fn create(&self, body: &str) -> serde_json::Value {
        let reply = self.send(Method::POST, CLIENTS, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()["resources"][0].clone()
    }

    async fn audit(&self) -> Vec<serde_json::Value> {
        let reply = self.send(Method::GET, AUDIT, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()["resources"].as_array().expect("list").clone()
    }

    /// The token answer's status for these credentials.
    async fn token_status(&self, id: &str, secret: &str) -> StatusCode {
        let body = format!("client_id={id}&client_secret={secret}");
        self.h.send(form_post("/oauth2/token", &body)).await.status
    }

    async fn get_token(&self, id: &str, secret: &str) -> String {
        let body = format!("client_id={id}&client_secret={secret}");
        let reply = self.h.send(form_post("/oauth2/token", &body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()["access_token"].as_str().expect("token").to_owned()
    }

    async fn hosts_status(&self, token: &str) -> StatusCode {
        self.h.send(bearer_get(HOSTS, token)).await.status
    }
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test]
async fn create_shows_the_secret_once_and_the_client_works_at_once() {
    let a = Admin::new().await;
    let body = r#"{"name":"ci-bot","description":"nightly","scopes":["devices:read","devices:write"],
                   "allowed_ips":["127.0.0.0/8"],"member_cids":[]}"#;
    let created = a.create(body).await;
    let (id, secret) = (str_of(&created, "client_id"), str_of(&created, "client_secret"));
    assert_eq!(created["scopes"], serde_json::json!(["devices:read", "devices:write"]));
    assert_eq!(created["allowed_ips"], serde_json::json!(["127.0.0.0/8"]));
    assert_eq!(created["enabled"], true);
    assert_eq!(secret.len(), 40);

    // No refresh: the token path knows the client at once.
    let token = a.get_token(id, secret).await;
    assert_eq!(a.hosts_status(&token).await, StatusCode::OK);

    let shown = a.send(Method::GET, &one(CLIENTS, id), None).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.json()["resources"][0].get("client_secret").is_none(), "the secret is shown only once");
    assert_eq!(shown.json()["resources"][0]["name"], "ci-bot");
    assert_eq!(shown.header("cache-control"), "no-store");

    let audit = a.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["action"], "client.create");
    assert_eq!(audit[0]["actor"], a.creds.id());
    assert_eq!(audit[0]["target"], id);
    assert_eq!(audit[0]["source_ip"], "127.0.0.1");
    assert_eq!(audit[0]["trace_id"], a.send(Method::GET, AUDIT, None).await.json()["resources"][0]["trace_id"]);
    assert!(str_of(&audit[0], "details").contains("devices:write"));
}

#[tokio::test]
async fn list_pages_in_creation_order_by_offset_and_by_seek() {
    let a = Admin::new().await;
    for n in 0..3 {
        a.h.clock.advance(1); // creation order is by second, then ID
        a.create(&format!(r#"{{"name":"c{n}","scopes":["devices:read"]}}"#)).await;
    }
    let page = a.send(Method::GET, &format!("{CLIENTS}?offset=1&limit=2"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    let json = page.json();
    let pagination = &json["meta"]["pagination"];
    assert_eq!((&pagination["offset"], &pagination["limit"], &pagination["total"]), (&1.into(), &2.into(), &4.into()));
    let names: Vec<&str> = json["resources"].as_array().expect("list").iter().map(|c| str_of(c, "name")).collect();
    assert_eq!(names, ["c0", "c1"], "the admin client came first");
    assert!(json["resources"][0].get("client_secret").is_none());
    // The page's seek token asks for what follows it; the last page has none.
    let after = str_of(pagination, "after");
    let next = a.send(Method::GET, &format!("{CLIENTS}?limit=2&after={after}&offset=3"), None).await.json();
    let names: Vec<&str> = next["resources"].as_array().expect("list").iter().map(|c| str_of(c, "name")).collect();
    assert_eq!(names, ["c2"]);
    assert!(next["meta"]["pagination"].get("after").is_none(), "{next}");
    assert_eq!(next["meta"]["pagination"]["offset"], 0, "the seek position wins over an offset beside it");
    let past = a.send(Method::GET, &format!("{CLIENTS}?offset=10"), None).await;
    assert_eq!(past.json()["resources"], serde_json::json!([]));
}

#[tokio::test]
async fn list_filters_and_sorts_in_the_store_and_refuses_bad_parameters() {
    let a = Admin::new().await;
    for (name, scopes) in [
        ("Bravo bot", r#"["devices:read"]"#),
        ("alpha 100%", r#"["devices:read","devices:write"]"#),
        ("charlie", r#"["devices:read"]"#),
    ] {
        a.h.clock.advance(1);
        a.create(&format!(r#"{{"name":"{name}","scopes":{scopes}}}"#)).await;
    }
    let names = |query: &'static str| {
        let a = &a;
        async move {
            let answer = a.send(Method::GET, &format!("{CLIENTS}?{query}"), None).await;
            assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.json());
            let json = answer.json();
            let names: Vec<String> =
                json["resources"].as_array().expect("list").iter().map(|c| str_of(c, "name").to_owned()).collect();
            (names, json["meta"]["pagination"]["total"].as_u64().expect("total"))
        }
    };
    assert_eq!(names("name=BOT").await, (vec!["Bravo bot".to_owned()], 1));
    assert_eq!(names("name=100%25").await, (vec!["alpha 100%".to_owned()], 1), "% is a character, not a wildcard");
    assert_eq!(names("scope=devices:write&sort=name").await.0, ["alpha 100%", "test client"], "the admin holds it too");
    let (sorted, total) = names("sort=name.desc&limit=2").await;
    assert_eq!((sorted.len(), total), (2, 4));
    assert!(sorted[0] > sorted[1], "{sorted:?}");
    assert_eq!(names("enabled=false").await, (vec![], 0));
    let cid = a.send(Method::GET, CLIENTS, None).await.json()["resources"][0]["cid"].as_str().expect("cid").to_owned();
    let by_cid = a.send(Method::GET, &format!("{CLIENTS}?cid={cid}"), None).await.json();
    assert_eq!(by_cid["meta"]["pagination"]["total"], 4);

    // A seek token of one order is no good in another; nonsense is a 400 in the envelope, never a 500.
    let page = a.send(Method::GET, &format!("{CLIENTS}?sort=name&limit=1"), None).await.json();
    let after = str_of(&page["meta"]["pagination"], "after").to_owned();
    for bad in [
        format!("after={after}"),
        "after=nonsense".into(),
        "sort=secret_digest".into(),
        "sort=name.up".into(),
        "enabled=yes".into(),
        "cid=not-a-cid".into(),
        "scope=devices:sing".into(),
        "limit=0".into(),
        "limit=501".into(),
        format!("name={}", "x".repeat(1025)),
        "name=a&name=b".into(),
    ] {
        let answer = a.send(Method::GET, &format!("{CLIENTS}?{bad}"), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(!answer.json()["errors"][0]["message"].as_str().expect("message").is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn update_changes_scopes_and_disable_refuses_tokens_at_once() {
    let a = Admin::new().await;
    let created = a.create(r#"{"name":"n","scopes":["devices:read","devices:write"]}"#).await;
    let (id, secret) = (str_of(&created, "client_id"), str_of(&created, "client_secret"));
    let token = a.get_token(id, secret).await;
    assert_eq!(a.hosts_status(&token).await, StatusCode::OK);

    let renamed =
        a.send(Method::PATCH, &one(CLIENTS, id), Some(r#"{"name":"renamed","scopes":["devices:write"]}"#)).await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&renamed.body));
    assert_eq!(renamed.json()["resources"][0]["name"], "renamed");
    assert_eq!(a.hosts_status(&token).await, StatusCode::FORBIDDEN, "the scope left the live token at once");

    let disabled = a.send(Method::PATCH, &one(CLIENTS, id), Some(r#"{"enabled":false}"#)).await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.json()["resources"][0]["enabled"], false);
    assert_eq!(a.hosts_status(&token).await, StatusCode::UNAUTHORIZED, "a disabled client's token is refused");
    assert_eq!(a.token_status(id, secret).await, StatusCode::FORBIDDEN, "a disabled client gets no token");

    let enabled = a.send(Method::PATCH, &one(CLIENTS, id), Some(r#"{"enabled":true}"#)).await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert_eq!(a.token_status(id, secret).await, StatusCode::CREATED);

    let actions: Vec<String> = a.audit().await.iter().map(|e| format!("{} {}", e["action"], e["details"])).collect();
    let cid = a.h.store.default_customer().await.expect("cid");
    assert_eq!(
        actions,
        [
            r#""client.update" "enabled=true""#.to_owned(),
            r#""client.update" "enabled=false""#.to_owned(),
            r#""client.update" "name=\"renamed\", scopes=[devices:write]""#.to_owned(),
            format!(r#""client.create" "name=\"n\", scopes=[devices:read devices:write], cid={cid}""#),
        ]
    );
}

#[tokio::test]
async fn reset_secret_refuses_the_old_secret_and_its_tokens_at_once() {
    let a = Admin::new().await;
    let created = a.create(r#"{"name":"n","scopes":["devices:read"]}"#).await;
    let (id, old) = (str_of(&created, "client_id"), str_of(&created, "client_secret"));
    let old_token = a.get_token(id, old).await;
    a.h.clock.advance(1);
    let reset = a.send(Method::POST, &format!("{}/reset-secret", one(CLIENTS, id)), None).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reset.body));
    assert_eq!(reset.header("cache-control"), "no-store");
    let new = str_of(&reset.json()["resources"][0], "client_secret").to_owned();
    assert_ne!(new, old);
    assert_eq!(a.token_status(id, old).await, StatusCode::FORBIDDEN);
    assert_eq!(a.hosts_status(&old_token).await, StatusCode::UNAUTHORIZED);
    let new_token = a.get_token(id, &new).await;
    assert_eq!(a.hosts_status(&new_token).await, StatusCode::OK);
    assert_eq!(a.audit().await[0]["action"], "client.reset-secret");
}

#[tokio::test]
async fn revoke_tokens_ends_live_tokens_but_not_the_client() {
    let a = Admin::new().await;
    let created = a.create(r#"{"name":"n","scopes":["devices:read"]}"#).await;
    let (id, secret) = (str_of(&created, "client_id"), str_of(&created, "client_secret"));
    let token = a.get_token(id, secret).await;
    a.h.clock.advance(1);
    let revoked = a.send(Method::POST, &format!("{}/revoke-tokens", one(CLIENTS, id)), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", String::from_utf8_lossy(&revoked.body));
    assert_eq!(a.hosts_status(&token).await, StatusCode::UNAUTHORIZED);
    let fresh = a.get_token(id, secret).await;
    assert_eq!(a.hosts_status(&fresh).await, StatusCode::OK, "the client still gets new tokens");
    assert_eq!(a.audit().await[0]["action"], "client.revoke-tokens");
}

#[tokio::test]
async fn delete_refuses_the_client_and_its_tokens_at_once() {
    let a = Admin::new().await;
    let created = a.create(r#"{"name":"gone","scopes":["devices:read"]}"#).await;
    let (id, secret) = (str_of(&created, "client_id"), str_of(&created, "client_secret"));
    let token = a.get_token(id, secret).await;
    let deleted = a.send(Method::DELETE, &one(CLIENTS, id), None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.json()["resources"], serde_json::json!([id]));
    assert_eq!(a.hosts_status(&token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(a.token_status(id, secret).await, StatusCode::BAD_REQUEST, "unknown client ID, as Falcon answers");
    assert_envelope_error(
        &a.send(Method::GET, &one(CLIENTS, id), None).await,
        StatusCode::NOT_FOUND,
        &format!("no API client {id}"),
    );
    let audit = a.audit().await;
    assert_eq!(audit[0]["action"], "client.delete");
    assert_eq!(audit[0]["details"], r#"name="gone""#);
}

#[tokio::test]
async fn every_operation_needs_its_scope() {
    let a = Admin::new().await;
    let reader = a.h.client(&[Scope::API_CLIENTS_READ, Scope::DEVICES_READ]).await;
    let read_token = a.h.token(&reader).await;
    let outsider = a.h.client(&[Scope::DEVICES_READ]).await;
    let no_admin = a.h.token(&outsider).await;
    let target = one(CLIENTS, reader.id());
    let writes: Vec<(Method, String, Option<&str>)> = vec![
        (Method::POST, CLIENTS.to_owned(), Some(r#"{"name":"x","scopes":["devices:read"]}"#)),
        (Method::PATCH, target.clone(), Some(r#"{"name":"x"}"#)),
        (Method::DELETE, target.clone(), None),
        (Method::POST, format!("{target}/reset-secret"), None),
        (Method::POST, format!("{target}/revoke-tokens"), None),
    ];
    let reads = vec![
        (Method::GET, CLIENTS.to_owned(), None),
        (Method::GET, target.clone(), None),
        (Method::GET, AUDIT.to_owned(), None),
    ];
    for (method, path, body) in writes.iter().chain(&reads) {
        let reply = a.h.send(call(method.clone(), path, &no_admin, *body)).await;
        assert_envelope_error(&reply, StatusCode::FORBIDDEN, "access denied, authorization failed");
        assert_eq!(reply.header("x-talon-deny-reason"), "missing-scope");
        let anonymous = Request::builder().method(method.clone()).uri(path.as_str()).body(Body::empty()).expect("req");
        assert_eq!(a.h.send(anonymous).await.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    for (method, path, body) in &writes {
        let reply = a.h.send(call(method.clone(), path, &read_token, *body)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "read scope cannot {method} {path}");
    }
    for (method, path, body) in &reads {
        assert_eq!(a.h.send(call(method.clone(), path, &read_token, *body)).await.status, StatusCode::OK);
    }
    assert!(a.audit().await.is_empty(), "refused requests change nothing");
}

#[tokio::test]
async fn bad_input_is_400_and_changes_nothing() {
    let a = Admin::new().await;
    let id = a.create(r#"{"name":"n","scopes":["devices:read"]}"#).await["client_id"].as_str().expect("id").to_owned();
    let cases: Vec<(Method, String, Option<&str>, &str)> = vec![
        (Method::POST, CLIENTS.into(), Some("not json"), "body must be JSON"),
        (Method::POST, CLIENTS.into(), Some(r#"{"name":"x","scopes":["devices:read"],"colour":1}"#), "unknown field"),
        (Method::POST, CLIENTS.into(), Some(r#"{"name":"","scopes":["devices:read"]}"#), "name must not be empty"),
        (Method::POST, CLIENTS.into(), Some(r#"{"name":"x","scopes":["hosts:read"]}"#), "scopes:"),
        (Method::POST, CLIENTS.into(), Some(r#"{"name":"x","scopes":[]}"#), "at least one scope"),
        (
            Method::POST,
            CLIENTS.into(),
            Some(r#"{"name":"x","scopes":["devices:read"],"allowed_ips":["nope"]}"#),
            "allowed_ips:",
        ),
        (
            Method::POST,
            CLIENTS.into(),
            Some(r#"{"name":"x","scopes":["devices:read"],"member_cids":["nope"]}"#),
            "member_cids:",
        ),
        (Method::POST, CLIENTS.into(), Some(r#"{"name":"x","scopes":["devices:read"],"cid":"nope"}"#), "cid:"),
        (Method::PATCH, one(CLIENTS, &id), Some("{}"), "nothing to change"),
        (Method::PATCH, one(CLIENTS, &id), Some(r#"{"enabled":"no"}"#), "body must be JSON"),
        (Method::GET, one(CLIENTS, "not-an-id"), None, "client ID must be 32 lowercase hex characters"),
        (Method::DELETE, one(CLIENTS, "ABC"), None, "client ID must be"),
        (Method::GET, format!("{CLIENTS}?limit=0"), None, "limit must be 1 to 500"),
        (Method::GET, format!("{CLIENTS}?limit=501"), None, "limit must be 1 to 500"),
        (Method::GET, format!("{AUDIT}?offset=-1"), None, "offset must be a whole number"),
        (Method::GET, format!("{CLIENTS}?limit=1&limit=2"), None, "query:"),
    ];
    for (method, path, body, expected) in cases {
        let reply = a.send(method.clone(), &path, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}: {}", String::from_utf8_lossy(&reply.body));
        assert!(reply.message().contains(expected), "{method} {path}: {} lacks {expected}", reply.message());
    }
    let form = Request::post(CLIENTS)
        .header("authorization", format!("Bearer {}", a.token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("name=x"))
        .expect("req");
    assert_eq!(a.h.send(form).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let listed = a.send(Method::GET, CLIENTS, None).await.json();
    assert_eq!(listed["meta"]["pagination"]["total"], 2, "no client was created");
    assert_eq!(a.audit().await.len(), 1, "only the good create was audited");
}

#[tokio::test]
async fn unknown_ids_are_404_and_wrong_methods_405() {
    let a = Admin::new().await;
    let ghost = one(CLIENTS, "0123456789abcdef0123456789abcdef");
    for (method, path, body) in [
        (Method::GET, ghost.clone(), None),
        (Method::PATCH, ghost.clone(), Some(r#"{"name":"x"}"#)),
        (Method::DELETE, ghost.clone(), None),
        (Method::POST, format!("{ghost}/reset-secret"), None),
        (Method::POST, format!("{ghost}/revoke-tokens"), None),
    ] {
        let reply = a.send(method.clone(), &path, body).await;
        assert_envelope_error(&reply, StatusCode::NOT_FOUND, "no API client 0123456789abcdef0123456789abcdef");
    }
    for (method, path) in [
        (Method::PUT, CLIENTS.to_owned()),
        (Method::DELETE, CLIENTS.to_owned()),
        (Method::POST, ghost.clone()),
        (Method::GET, format!("{ghost}/reset-secret")),
        (Method::POST, AUDIT.to_owned()),
    ] {
        let reply = a.send(method.clone(), &path, None).await;
        assert_envelope_error(&reply, StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    assert!(a.audit().await.is_empty());
}

#[tokio::test]
async fn admins_grant_only_scopes_they_hold_and_cannot_remove_themselves() {
    let a = Admin::new().await;
    let escalate = a.send(Method::POST, CLIENTS, Some(r#"{"name":"x","scopes":["devices:read","iocs:write"]}"#)).await;
    assert_envelope_error(
        &escalate,
        StatusCode::FORBIDDEN,
        "access denied, cannot grant scopes the caller does not hold: iocs:write",
    );
    let me = one(CLIENTS, a.creds.id());
    let patch = a.send(Method::PATCH, &me, Some(r#"{"scopes":["real-time-response:write"]}"#)).await;
    assert_eq!(patch.status, StatusCode::FORBIDDEN);
    assert_envelope_error(
        &a.send(Method::DELETE, &me, None).await,
        StatusCode::CONFLICT,
        "an admin client cannot delete itself",
    );
    let disable = a.send(Method::PATCH, &me, Some(r#"{"enabled":false}"#)).await;
    assert_envelope_error(&disable, StatusCode::CONFLICT, "an admin client cannot disable itself");
    assert_eq!(a.hosts_status(&a.token).await, StatusCode::OK);
    assert!(a.audit().await.is_empty());
}

#[tokio::test]
async fn the_audit_log_never_holds_a_secret() {
    let a = Admin::new().await;
    let created = a.create(r#"{"name":"n","scopes":["devices:read"]}"#).await;
    let id = str_of(&created, "client_id");
    let mut secrets = vec![str_of(&created, "client_secret").to_owned(), a.creds.secret().to_owned()];
    for _ in 0..2 {
        let reset = a.send(Method::POST, &format!("{}/reset-secret", one(CLIENTS, id)), None).await;
        secrets.push(str_of(&reset.json()["resources"][0], "client_secret").to_owned());
    }
    // Failed authentications with a secret-looking value too.
    for _ in 0..3 {
        a.token_status(id, "WrongSecretWrongSecretWrongSecretWrong00").await;
    }
    a.h.state.refresh().await.expect("refresh");
    secrets.push("WrongSecretWrongSecretWrongSecretWrong00".into());
    let log = a.send(Method::GET, &format!("{AUDIT}?limit=500"), None).await;
    let text = String::from_utf8_lossy(&log.body);
    assert_eq!(log.json()["meta"]["pagination"]["total"], 3);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "the audit log holds a secret: {text}");
    }
    // And not the tokens either.
    assert!(!text.contains(&a.token));
}

#[tokio::test]
async fn a_burst_of_failed_authentications_is_audited_once() {
    let limits = Limits { auth_failures: 3, ..Limits::default() };
    let a = Admin::with(Config { limits, ..Config::default() }).await;
    let bad = |n: u32| format!("client_id={}&client_secret=wrong{n}", a.creds.id());
    for n in 0..6 {
        a.h.send_from("198.51.100.7:4000", form_post("/oauth2/token", &bad(n))).await;
    }
    // Written by the refresh loop (the token path writes nothing); reading the log flushes it too.
    let audit = a.audit().await;
    let bursts: Vec<_> = audit.iter().filter(|e| e["action"] == "auth.failure-burst").collect();
    assert_eq!(bursts.len(), 1, "{audit:?}");
    assert_eq!(bursts[0]["source_ip"], "198.51.100.7");
    assert_eq!(bursts[0]["actor"], a.creds.id());
    assert!(str_of(bursts[0], "details").starts_with("3 failed authentications"));
    // The next window's burst is a new entry.
    a.h.clock.advance(61);
    for n in 0..3 {
        a.h.send_from("198.51.100.7:4000", form_post("/oauth2/token", &bad(n))).await;
    }
    a.h.state.refresh().await.expect("refresh");
    let again = a.audit().await;
    assert_eq!(again.iter().filter(|e| e["action"] == "auth.failure-burst").count(), 2);
}

#[tokio::test]
async fn no_admin_changes_a_client_holding_scopes_it_lacks() {
    let a = Admin::new().await;
    // A delegated admin: the admin scopes and devices:read, not every scope.
    let delegated = a.h.client(&[Scope::API_CLIENTS_READ, Scope::API_CLIENTS_WRITE, Scope::DEVICES_READ]).await;
    let token = a.h.token(&delegated).await;
    let as_delegated = |method: Method, path: &str, body: Option<&str>| call(method, path, &token, body);
    let stronger = one(CLIENTS, a.creds.id());
    for (method, path, body) in [
        (Method::POST, format!("{stronger}/reset-secret"), None),
        (Method::POST, format!("{stronger}/revoke-tokens"), None),
        (Method::PATCH, stronger.clone(), Some(r#"{"allowed_ips":["10.9.9.9"]}"#)),
        (Method::DELETE, stronger.clone(), None),
    ] {
        let reply = a.h.send(as_delegated(method.clone(), &path, body)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", String::from_utf8_lossy(&reply.body));
        assert!(reply.message().contains("devices:write"), "{}", reply.message());
    }
    // The stronger client is untouched: its secret and token still work.
    assert_eq!(a.token_status(a.creds.id(), a.creds.secret()).await, StatusCode::CREATED);
    assert_eq!(a.hosts_status(&a.token).await, StatusCode::OK);
    // A client within the delegated admin's scopes it may change, and it may read the stronger one.
    let weaker = a.create(r#"{"name":"reader","scopes":["devices:read"]}"#).await;
    let reset = a.h.send(as_delegated(
        Method::POST,
        &format!("{}/reset-secret", one(CLIENTS, str_of(&weaker, "client_id"))),
        None,
    ));
    assert_eq!(reset.await.status, StatusCode::OK);
    assert_eq!(a.h.send(as_delegated(Method::GET, &stronger, None)).await.status, StatusCode::OK);
    // Nor may an admin take its own admin scope away by mistake.
    let me = one(CLIENTS, delegated.id());
    let drop_admin =
        a.h.send(as_delegated(Method::PATCH, &me, Some(r#"{"scopes":["devices:read","api-clients:read"]}"#)));
    assert_eq!(drop_admin.await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_customer_admin_reaches_only_its_own_customer() {
    let a = Admin::new().await;
    let (child, other) = ("c".repeat(32), "d".repeat(32));
    let cid = |s: &str| talon_auth::CustomerId::parse(s).expect("cid");
    let child_admin =
        a.h.client_with(ADMIN, |spec| {
            spec.cid = cid(&child);
            spec.member_cids = vec![cid(&other)];
        })
        .await;
    let token = a.h.token(&child_admin).await;
    let send = |method: Method, path: String, body: Option<&'static str>| a.h.send(call(method, &path, &token, body));

    // It sees its own client only: the operator's admin is unknown to it.
    let listed = send(Method::GET, CLIENTS.to_owned(), None).await.json();
    let ids: Vec<&str> = listed["resources"].as_array().expect("list").iter().map(|c| str_of(c, "client_id")).collect();
    assert_eq!(ids, [child_admin.id()]);
    assert_eq!(listed["meta"]["pagination"]["total"], 1);
    let operator = one(CLIENTS, a.creds.id());
    assert_eq!(send(Method::GET, operator.clone(), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(Method::POST, format!("{operator}/reset-secret"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(Method::DELETE, operator, None).await.status, StatusCode::NOT_FOUND);

    // What it creates belongs to its customer; another customer, or a member CID it lacks, is refused.
    let created = send(Method::POST, CLIENTS.to_owned(), Some(r#"{"name":"kid","scopes":["devices:read"]}"#)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["resources"][0]["cid"], child.as_str());
    let default_cid = a.h.store.default_customer().await.expect("cid").to_string();
    let foreign = format!(r#"{{"name":"x","scopes":["devices:read"],"cid":"{default_cid}"}}"#);
    let foreign = a.h.send(call(Method::POST, CLIENTS, &token, Some(&foreign))).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{}", foreign.message());
    let stranger = format!(r#"{{"member_cids":["{default_cid}"]}}"#);
    let patch = a.h.send(call(Method::PATCH, &one(CLIENTS, child_admin.id()), &token, Some(&stranger))).await;
    assert_eq!(patch.status, StatusCode::FORBIDDEN, "{}", patch.message());
    let own_member = format!(r#"{{"name":"m","scopes":["devices:read"],"member_cids":["{other}"]}}"#);
    let delegated = a.h.send(call(Method::POST, CLIENTS, &token, Some(&own_member))).await;
    assert_eq!(delegated.status, StatusCode::CREATED, "a member CID it holds may be delegated");

    // The audit log spans every customer: the operator's admins only.
    assert_eq!(send(Method::GET, AUDIT.to_owned(), None).await.status, StatusCode::FORBIDDEN);
    // The operator sees the child's clients too.
    let all = a.send(Method::GET, CLIENTS, None).await.json();
    assert_eq!(all["meta"]["pagination"]["total"], 4, "its admin, the child admin and the two it created");
}

#[tokio::test]
async fn a_reset_disable_or_revoke_all_ends_tokens_of_its_very_second() {
    // The harness clock does not move here: every step below happens in the same second.
    let a = Admin::new().await;
    let created = a.create(r#"{"name": "leaky", "scopes": ["devices:read"]}"#).await;
    let id = created["client_id"].as_str().expect("id");
    let secret = created["client_secret"].as_str().expect("secret");
    let stolen = a.get_token(id, secret).await;
    assert_eq!(a.hosts_status(&stolen).await, StatusCode::OK);

    let reset = a.send(Method::POST, &format!("{}/reset-secret", one(CLIENTS, id)), None).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(a.hosts_status(&stolen).await, StatusCode::UNAUTHORIZED, "the same second's token falls");
    let new_secret = reset.json()["resources"][0]["client_secret"].as_str().expect("secret").to_owned();
    let fresh = a.get_token(id, &new_secret).await;
    assert_eq!(a.hosts_status(&fresh).await, StatusCode::OK, "the new secret's token stands");

    // Revoke-all, disable, enable, all in that second: the token from before stays refused.
    let before = a.get_token(id, &new_secret).await;
    let path = one(CLIENTS, id);
    assert_eq!(a.send(Method::POST, &format!("{path}/revoke-tokens"), None).await.status, StatusCode::OK);
    assert_eq!(a.send(Method::PATCH, &path, Some(r#"{"enabled": false}"#)).await.status, StatusCode::OK);
    assert_eq!(a.send(Method::PATCH, &path, Some(r#"{"enabled": true}"#)).await.status, StatusCode::OK);
    for token in [&stolen, &fresh, &before] {
        assert_eq!(a.hosts_status(token).await, StatusCode::UNAUTHORIZED);
    }
    let after = a.get_token(id, &new_secret).await;
    assert_eq!(a.hosts_status(&after).await, StatusCode::OK);
}
