//! Router tests of `POST /oauth2/token` and `POST /oauth2/revoke`: the wire contract, every refusal and
//! every bad input, sent through the real router with `oneshot`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use common::*;
use talon_auth::CustomerId;
use talon_server::{AuthErrorMode, Config, Limits};
use talon_wire::basic::encode_basic;
use talon_wire::Scope;

const NOT_AUTHORIZED: &str = "Failed to issue access token - Not Authorized";

#[tokio::test]
async fn token_success_is_exactly_the_falcon_answer() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let reply = h.send(form_post("/oauth2/token", &c.form())).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.header("content-type").starts_with("application/json"));
    let json = reply.json();
    let keys: Vec<_> = json.as_object().expect("object").keys().cloned().collect();
    assert_eq!(keys.len(), 3, "{json}");
    assert_eq!(json["token_type"], "bearer");
    assert_eq!(json["expires_in"], 1799);
    assert_eq!(reply.header("x-cs-region"), "local");
    assert_eq!(reply.header("x-ratelimit-limit"), "300");
    assert_eq!(reply.header("x-ratelimit-remaining"), "299");
    assert_eq!(reply.header("cache-control"), "no-store");
    assert!(uuid_like(reply.header("x-cs-traceid")));

    let jwt = json["access_token"].as_str().expect("token");
    let header = jsonwebtoken::decode_header(jwt).expect("jwt header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert!(header.kid.is_some());
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).expect("payload")).expect("b64"),
    )
    .expect("claims");
    assert_eq!(claims["sub"], c.id());
    assert_eq!(claims["scp"], serde_json::json!(["devices:read"]));
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 1800);

    // Two tokens for the same client in the same second differ (each has its own jti).
    assert_ne!(h.token(&c).await, jwt);

    // The last-use time reaches the store with the next refresh, not on the token path.
    assert_eq!(h.store.client(&c.client.id).await.expect("client").and_then(|c| c.last_used_at), None);
    h.state.refresh().await.expect("refresh");
    assert_eq!(h.store.client(&c.client.id).await.expect("client").and_then(|c| c.last_used_at), Some(NOW));
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn grant_type_must_be_client_credentials_when_given() {
    let h = Harness::default().await;
    let c = h.client(&[]).await;
    let ok = h.send(form_post("/oauth2/token", &format!("{}&grant_type=client_credentials", c.form()))).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let bad = h.send(form_post("/oauth2/token", &format!("{}&grant_type=password", c.form()))).await;
    assert_envelope_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type: only client_credentials is supported",
    );
}

#[tokio::test]
async fn basic_credentials_work_alone_and_must_agree_with_the_form() {
    let h = Harness::default().await;
    let c = h.client(&[]).await;
    let other = h.client(&[]).await;
    let with_basic = |auth: String, body: String| {
        Request::post("/oauth2/token")
            .header("authorization", auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request")
    };
    assert_eq!(h.send(with_basic(c.basic(), String::new())).await.status, StatusCode::CREATED);
    let lower = c.basic().replacen("Basic", "basic", 1);
    assert_eq!(h.send(with_basic(lower, "grant_type=client_credentials".into())).await.status, StatusCode::CREATED);
    assert_eq!(h.send(with_basic(c.basic(), c.form())).await.status, StatusCode::CREATED);
    // No body and no content type at all: Basic alone.
    let bare = Request::post("/oauth2/token").header("authorization", c.basic()).body(Body::empty()).expect("req");
    assert_eq!(h.send(bare).await.status, StatusCode::CREATED);

    let disagree = h.send(with_basic(c.basic(), other.form())).await;
    assert_envelope_error(
        &disagree,
        StatusCode::BAD_REQUEST,
        "client credentials given in the Basic header and the form disagree",
    );
    for malformed in ["Basic !!!", "Basic bm8tY29sb24="] {
        let reply = h.send(with_basic(malformed.into(), c.form())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{malformed}");
    }
    // Another scheme (a stale bearer header on a reused session) is ignored: the form's credentials count.
    for other in ["Bearer abc", "Basic"] {
        assert_eq!(h.send(with_basic(other.into(), c.form())).await.status, StatusCode::CREATED, "{other}");
    }
}

#[tokio::test]
async fn missing_or_empty_credentials_are_a_400() {
    let h = Harness::default().await;
    let c = h.client(&[]).await;
    for body in [
        String::new(),
        format!("client_id={}", c.id()),
        format!("client_secret={}", c.secret()),
        format!("client_id=&client_secret={}", c.secret()),
        format!("client_id={}&client_secret=", c.id()),
    ] {
        let reply = h.send(form_post("/oauth2/token", &body)).await;
        assert_envelope_error(&reply, StatusCode::BAD_REQUEST, "client_id and client_secret are required");
        assert_eq!(reply.json()["meta"]["powered_by"], "csam");
    }
}

#[tokio::test]
async fn unknown_client_and_wrong_secret_answer_as_falcon_does() {
    let h = Harness::default().await;
    let c = h.client(&[]).await;
    let unknown = "0123456789abcdef0123456789abcdef";
    let reply = h.send(form_post("/oauth2/token", &format!("client_id={unknown}&client_secret=x"))).await;
    assert_envelope_error(
        &reply,
        StatusCode::BAD_REQUEST,
        &format!("Failed to generate access token for clientID={unknown}."),
    );
    // Something that is not an ID (perhaps a pasted secret) is not echoed.
    let reply = h.send(form_post("/oauth2/token", "client_id=MySecretValue&client_secret=x")).await;
    assert!(!reply.message().contains("MySecretValue"));

    let reply = h.send(form_post("/oauth2/token", &format!("client_id={}&client_secret=wrong", c.id()))).await;
    assert_envelope_error(&reply, StatusCode::FORBIDDEN, NOT_AUTHORIZED);
}

#[tokio::test]
async fn uniform_mode_hides_which_client_ids_exist() {
    let h = Harness::new(Config { auth_errors: AuthErrorMode::Uniform, ..Config::default() }).await;
    let reply = h.send(form_post("/oauth2/token", "client_id=0123456789abcdef0123456789abcdef&client_secret=x")).await;
    assert_envelope_error(&reply, StatusCode::FORBIDDEN, NOT_AUTHORIZED);
}

#[tokio::test]
async fn disabled_client_gets_no_token() {
    let h = Harness::default().await;
    let c = h.client_with(&[], |s| s.enabled = false).await;
    let reply = h.send(form_post("/oauth2/token", &c.form())).await;
    assert_envelope_error(&reply, StatusCode::FORBIDDEN, NOT_AUTHORIZED);
}

#[tokio::test]
async fn source_ip_allow_list_is_enforced_on_token_requests() {
    let h = Harness::default().await;
    let c = h.client_with(&[], |s| s.allowed_ips = vec!["10.1.0.0/16".parse().expect("cidr")]).await;
    let inside = h.send_from("10.1.2.3:4000", form_post("/oauth2/token", &c.form())).await;
    assert_eq!(inside.status, StatusCode::CREATED);
    let outside = h.send_from("10.2.0.1:4000", form_post("/oauth2/token", &c.form())).await;
    assert_envelope_error(&outside, StatusCode::FORBIDDEN, "access denied, authorization failed");
}

#[tokio::test]
async fn member_cid_must_be_one_the_client_may_act_for() {
    let h = Harness::default().await;
    let member = CustomerId::generate();
    let c = h.client_with(&[], |s| s.member_cids = vec![member.clone()]).await;
    let ok = h.send(form_post("/oauth2/token", &format!("{}&member_cid={member}", c.form()))).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let console_form = format!("{}-A1", member.as_str().to_uppercase());
    let ok = h.send(form_post("/oauth2/token", &format!("{}&member_cid={console_form}", c.form()))).await;
    assert_eq!(ok.status, StatusCode::CREATED, "the console's CID-checksum form is accepted");

    let other = CustomerId::generate();
    let denied = h.send(form_post("/oauth2/token", &format!("{}&member_cid={other}", c.form()))).await;
    assert_envelope_error(&denied, StatusCode::FORBIDDEN, "Failed to issue access token - member CID not authorized");
    let malformed = h.send(form_post("/oauth2/token", &format!("{}&member_cid=xyz", c.form()))).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn malformed_bodies_get_clear_4xx_never_5xx() {
    let h = Harness::default().await;
    let c = h.client(&[]).await;
    let repeated = h.send(form_post("/oauth2/token", &format!("{}&client_id={}", c.form(), c.id()))).await;
    assert_envelope_error(&repeated, StatusCode::BAD_REQUEST, "form field \"client_id\" is given more than once");

    let non_utf8 = Request::post("/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(b"client_id=\xff\xfe&client_secret=%ff".to_vec()))
        .expect("req");
    assert_envelope_error(
        &h.send(non_utf8).await,
        StatusCode::BAD_REQUEST,
        "the form body is not valid UTF-8 once percent-decoded",
    );

    let json = Request::post("/oauth2/token")
        .header("content-type", "application/json")
        .body(Body::from(format!(r#"{{"client_id":"{}","client_secret":"{}"}}"#, c.id(), c.secret())))
        .expect("req");
    assert_envelope_error(
        &h.send(json).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type must be application/x-www-form-urlencoded",
    );

    let no_type = Request::post("/oauth2/token").body(Body::from(c.form())).expect("req");
    assert_eq!(h.send(no_type).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!("{}&pad={}", c.form(), "a".repeat(Limits::default().max_body_bytes));
    assert_envelope_error(
        &h.send(form_post("/oauth2/token", &huge)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body is too large",
    );

    let get = Request::get("/oauth2/token").body(Body::empty()).expect("req");
    let reply = h.send(get).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.message(), "Method Not Allowed");
    assert_eq!(reply.header("x-cs-region"), "local");

    let nowhere = h.send(Request::get("/no/such/route").body(Body::empty()).expect("req")).await;
    assert_envelope_error(&nowhere, StatusCode::NOT_FOUND, "Not Found");
    assert!(nowhere.headers.contains_key("x-ratelimit-limit"));
}

#[tokio::test]
async fn token_requests_are_rate_limited_per_source_ip() {
    let limits = Limits { oauth2_per_ip: 3, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    let c = h.client(&[]).await;
    for remaining in ["2", "1", "0"] {
        let reply = h.send(form_post("/oauth2/token", &c.form())).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(reply.header("x-ratelimit-remaining"), remaining);
    }
    let limited = h.send(form_post("/oauth2/token", &c.form())).await;
    assert_envelope_error(&limited, StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.");
    assert_eq!(limited.header("x-ratelimit-limit"), "3");
    assert_eq!(limited.header("x-ratelimit-remaining"), "0");
    assert_eq!(limited.header("x-ratelimit-retryafter"), (NOW + 60).to_string(), "epoch seconds");
    assert_eq!(limited.header("retry-after"), "60");

    // Another address has its own budget; the window ends after a minute.
    assert_eq!(h.send_from("127.0.0.2:1", form_post("/oauth2/token", &c.form())).await.status, StatusCode::CREATED);
    h.clock.advance(60);
    assert_eq!(h.send(form_post("/oauth2/token", &c.form())).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn failed_authentications_are_throttled_per_ip_and_per_client() {
    let limits = Limits { auth_failures: 2, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    let victim = h.client(&[]).await;
    let bystander = h.client(&[]).await;
    let wrong = format!("client_id={}&client_secret=wrong", victim.id());
    for _ in 0..2 {
        assert_eq!(h.send(form_post("/oauth2/token", &wrong)).await.status, StatusCode::FORBIDDEN);
    }
    // Now even the right secret is refused from this address: guessing gets no answer.
    let locked = h.send(form_post("/oauth2/token", &victim.form())).await;
    assert_envelope_error(&locked, StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.");
    assert_eq!(locked.header("x-ratelimit-limit"), "2");
    // Another client behind the same address (a proxy, a NAT) is not locked out by those failures.
    assert_eq!(h.send(form_post("/oauth2/token", &bystander.form())).await.status, StatusCode::CREATED);
    // Per client: another address, once it has failed itself, is throttled for this client ID too...
    assert_eq!(h.send_from("127.0.0.9:1", form_post("/oauth2/token", &wrong)).await.status, StatusCode::FORBIDDEN);
    let elsewhere = h.send_from("127.0.0.9:1", form_post("/oauth2/token", &victim.form())).await;
    assert_eq!(elsewhere.status, StatusCode::TOO_MANY_REQUESTS);
    // ...yet the real integration, from an address that never failed, is not locked out by them,
    let clean = h.send_from("127.0.0.7:1", form_post("/oauth2/token", &victim.form())).await;
    assert_eq!(clean.status, StatusCode::CREATED);
    // and other clients are not affected.
    let other = h.send_from("127.0.0.8:1", form_post("/oauth2/token", &bystander.form())).await;
    assert_eq!(other.status, StatusCode::CREATED);
    h.clock.advance(60);
    assert_eq!(h.send(form_post("/oauth2/token", &victim.form())).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_address_guessing_across_client_ids_meets_a_looser_cap() {
    let limits = Limits { auth_failures: 2, oauth2_per_ip: 1000, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    let bystander = h.client(&[]).await;
    // Ten times the per-client budget, each failure naming another client ID: all 403, none 429.
    for n in 0..20 {
        let guess = format!("client_id={n:032x}&client_secret=wrong");
        assert_eq!(h.send(form_post("/oauth2/token", &guess)).await.status, StatusCode::BAD_REQUEST, "{n}");
    }
    let capped = h.send(form_post("/oauth2/token", &bystander.form())).await;
    assert_envelope_error(&capped, StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.");
    assert_eq!(capped.header("x-ratelimit-limit"), "20");
    // Another address is not affected.
    assert_eq!(
        h.send_from("127.0.0.9:1", form_post("/oauth2/token", &bystander.form())).await.status,
        StatusCode::CREATED
    );
}

fn revoke_request(basic: Option<&str>, body: &str) -> Request<Body> {
    let mut r = Request::post("/oauth2/revoke").header("content-type", "application/x-www-form-urlencoded");
    if let Some(b) = basic {
        r = r.header("authorization", b);
    }
    r.body(Body::from(body.to_owned())).expect("request")
}

#[tokio::test]
async fn revoke_refuses_the_token_at_once_and_after_a_restart() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    let ok = h.send(bearer_get("/devices/queries/devices/v1", &token)).await;
    assert_eq!(ok.status, StatusCode::OK);

    let basic = c.basic().replacen("Basic", "basic", 1);
    let reply = h.send(revoke_request(Some(&basic), &format!("token={token}"))).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert!(json["resources"].is_null() && json.as_object().expect("obj").contains_key("resources"));
    assert_eq!(json["errors"], serde_json::json!([]));
    assert_eq!(json["meta"]["trace_id"], reply.header("x-cs-traceid"));

    let refused = h.send(bearer_get("/devices/queries/devices/v1", &token)).await;
    assert_envelope_error(&refused, StatusCode::UNAUTHORIZED, "access denied, invalid bearer token");

    // A new server state on the same database still refuses it.
    let restarted = talon_server::AppState::new(
        talon_store::open(&h.url, NOW).await.expect("reopen"),
        Config::default(),
        h.clock.clone(),
    )
    .await
    .expect("state");
    let h2 = Harness { state: restarted, ..h };
    let refused = h2.send(bearer_get("/devices/queries/devices/v1", &token)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // And the client still authenticates.
    assert!(!h2.token(&c).await.is_empty());
}

#[tokio::test]
async fn a_client_can_never_revoke_another_clients_token() {
    let h = Harness::default().await;
    let owner = h.client(&[Scope::DEVICES_READ]).await;
    let attacker = h.client(&[]).await;
    let token = h.token(&owner).await;
    let reply = h.send(revoke_request(Some(&attacker.basic()), &format!("token={token}"))).await;
    assert_eq!(reply.status, StatusCode::OK, "RFC 7009: no hint either way");
    assert_eq!(h.send(bearer_get("/devices/queries/devices/v1", &token)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn revoke_refusals_and_no_op_cases() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    let missing = h.send(revoke_request(None, &format!("token={token}"))).await;
    assert_envelope_error(&missing, StatusCode::FORBIDDEN, "access denied, client credentials are required");
    let wrong = encode_basic(c.id(), "wrong");
    let reply = h.send(revoke_request(Some(&wrong), &format!("token={token}"))).await;
    assert_envelope_error(&reply, StatusCode::FORBIDDEN, "access denied, invalid client credentials");
    for malformed in ["Basic %%%", "Bearer abc", "Basic bm8tY29sb24="] {
        let reply = h.send(revoke_request(Some(malformed), &format!("token={token}"))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{malformed}");
    }

    let no_token = h.send(revoke_request(Some(&c.basic()), "")).await;
    assert_envelope_error(&no_token, StatusCode::BAD_REQUEST, "token is required");
    let mismatch =
        h.send(revoke_request(Some(&c.basic()), &format!("token={token}&client_id={}", "a".repeat(32)))).await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    for garbage in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let reply = h.send(revoke_request(Some(&c.basic()), &format!("token={garbage}"))).await;
        assert_eq!(reply.status, StatusCode::OK, "{garbage}");
    }
    // None of that touched the client's own token.
    assert_eq!(h.send(bearer_get("/devices/queries/devices/v1", &token)).await.status, StatusCode::OK);

    // An expired token: 200, nothing to do.
    h.clock.advance(1800);
    let expired = h.send(revoke_request(Some(&c.basic()), &format!("token={token}"))).await;
    assert_eq!(expired.status, StatusCode::OK);
}

#[tokio::test]
async fn revoke_checks_the_allow_list_and_the_failure_throttle() {
    let limits = Limits { auth_failures: 1, ..Limits::default() };
    let h = Harness::new(Config { limits, ..Config::default() }).await;
    let c = h.client_with(&[], |s| s.allowed_ips = vec!["127.0.0.1/32".parse().expect("net")]).await;
    let token = h.token(&c).await;
    let outside = h.send_from("192.0.2.1:1", revoke_request(Some(&c.basic()), &format!("token={token}"))).await;
    assert_envelope_error(&outside, StatusCode::FORBIDDEN, "access denied, authorization failed");
    assert_eq!(outside.header("x-talon-deny-reason"), "ip-not-allowed");

    let wrong = encode_basic(c.id(), "wrong");
    assert_eq!(h.send(revoke_request(Some(&wrong), "token=x")).await.status, StatusCode::FORBIDDEN);
    let throttled = h.send(revoke_request(Some(&c.basic()), &format!("token={token}"))).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_token_ip_refusal_says_why_in_a_header() {
    let h = Harness::default().await;
    let c = h.client_with(&[], |s| s.allowed_ips = vec!["10.0.0.0/8".parse().expect("net")]).await;
    let reply = h.send_from("[::ffff:192.0.2.1]:1", form_post("/oauth2/token", &c.form())).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.header("x-talon-deny-reason"), "ip-not-allowed");
    // An IPv4-mapped peer inside the allow-list is allowed.
    let mapped = h.send_from("[::ffff:10.1.1.1]:1", form_post("/oauth2/token", &c.form())).await;
    assert_eq!(mapped.status, StatusCode::CREATED);
}

#[tokio::test]
async fn oversized_forms_and_fields_are_refused_cleanly() {
    let h = Harness::default().await;
    let many: String = (0..40).map(|i| format!("f{i}=1&")).collect();
    assert_envelope_error(
        &h.send(form_post("/oauth2/token", &many)).await,
        StatusCode::BAD_REQUEST,
        "the form has more than 32 fields",
    );
    let huge_id = format!("client_id={}&client_secret=x", "a".repeat(60_000));
    let reply = h.send(form_post("/oauth2/token", &huge_id)).await;
    assert_envelope_error(&reply, StatusCode::BAD_REQUEST, "Failed to generate access token for clientID=<invalid>.");
}
