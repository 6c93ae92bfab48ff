//! RFC 8414 metadata, the JWKS (verified with a standard JOSE library), key rotation, RFC 7662
//! introspection.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use talon_auth::SigningKey;
use talon_wire::basic::encode_basic;
use talon_wire::Scope;

fn get(path: &str) -> Request<Body> {
    Request::get(path).header("host", "auth.example:8443").body(Body::empty()).expect("request")
}

#[tokio::test]
async fn metadata_names_every_endpoint_at_the_public_url_whatever_the_host_says() {
    let public = "https://auth.example.com";
    let config = talon_server::Config { issuer: public.into(), public_url: Some(public.into()), ..Default::default() };
    let h = Harness::new(config).await;
    // The request says it is for auth.example:8443 (see `get`); the answer names the configured URL only.
    let reply = h.send(get("/.well-known/oauth-authorization-server")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("public, max-age=300"));
    let m = reply.json();
    assert_eq!(m["issuer"], public);
    assert_eq!(m["token_endpoint"], "https://auth.example.com/oauth2/token");
    assert_eq!(m["revocation_endpoint"], "https://auth.example.com/oauth2/revoke");
    assert_eq!(m["introspection_endpoint"], "https://auth.example.com/oauth2/introspect");
    assert_eq!(m["jwks_uri"], "https://auth.example.com/oauth2/jwks");
    assert!(!String::from_utf8_lossy(&reply.body).contains("auth.example:8443"), "the Host header is never echoed");
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    let keys = jwks_keys(&h.send(get("/oauth2/jwks")).await);
    let claims = verify_as(&keys, &token, public).expect("verifies with the public URL as issuer");
    assert_eq!(claims["iss"], public);
    assert_eq!(m["grant_types_supported"], serde_json::json!(["client_credentials"]));
    assert!(m["scopes_supported"].as_array().expect("scopes").contains(&serde_json::json!("devices:read")));
}

fn jwks_keys(reply: &Reply) -> Vec<jsonwebtoken::jwk::Jwk> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&reply.body).expect("a JWK set");
    set.keys
}

fn verify_with(jwks: &[jsonwebtoken::jwk::Jwk], token: &str) -> Result<serde_json::Value, String> {
    verify_as(jwks, token, "talon")
}

/// The token's claims if a key of `jwks` signed it and its `iss` is `issuer`.
fn verify_as(jwks: &[jsonwebtoken::jwk::Jwk], token: &str, issuer: &str) -> Result<serde_json::Value, String> {
    let kid = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?.kid.ok_or("no kid")?;
    let jwk = jwks.iter().find(|k| k.common.key_id.as_deref() == Some(kid.as_str())).ok_or("kid not in JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.validate_exp = false; // the harness clock is not the wall clock
    validation.set_issuer(&[issuer]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map(|d| d.claims).map_err(|e| e.to_string())
}

#[tokio::test]
async fn tokens_verify_offline_against_the_jwks_across_a_key_rotation() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let old_token = h.token(&c).await;
    let jwks = jwks_keys(&h.send(get("/oauth2/jwks")).await);
    assert_eq!(jwks.len(), 1);
    let claims = verify_with(&jwks, &old_token).expect("verifies against the JWKS");
    assert_eq!(claims["sub"], c.id());

    // Rotate: a new key signs from the next refresh on; the old one keeps verifying.
    h.clock.advance(10);
    let new_key = SigningKey::generate(NOW + 10);
    let new_kid = new_key.kid.clone();
    h.store.add_signing_key(&new_key).await.expect("rotate");
    h.state.refresh().await.expect("refresh");
    let jwks = jwks_keys(&h.send(get("/oauth2/jwks")).await);
    assert_eq!(jwks.len(), 2);
    assert_eq!(jwks[0].common.key_id.as_deref(), Some(new_kid.as_str()), "newest first");
    let new_token = h.token(&c).await;
    assert_eq!(jsonwebtoken::decode_header(&new_token).expect("header").kid.as_deref(), Some(new_kid.as_str()));
    verify_with(&jwks, &new_token).expect("the new token verifies");
    verify_with(&jwks, &old_token).expect("the old token still verifies");
    assert_eq!(h.send(bearer_get("/devices/queries/devices/v1", &old_token)).await.status, StatusCode::OK);
}

fn introspect(auth: Option<String>, body: &str) -> Request<Body> {
    let mut r = Request::post("/oauth2/introspect").header("content-type", "application/x-www-form-urlencoded");
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    r.body(Body::from(body.to_owned())).expect("request")
}

#[tokio::test]
async fn introspection_answers_only_about_the_callers_live_tokens() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let other = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;

    let live = h.send(introspect(Some(c.basic()), &format!("token={token}"))).await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.header("cache-control"), "no-store");
    let body = live.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["client_id"], c.id());
    assert_eq!(body["scope"], "devices:read devices:write");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["exp"].as_i64(), Some(NOW + 1800));
    // Form credentials work too.
    let by_form = h.send(introspect(None, &format!("{}&token={token}", c.form()))).await;
    assert_eq!(by_form.json()["active"], true);

    let inactive = serde_json::json!({"active": false});
    let theirs = h.send(introspect(Some(other.basic()), &format!("token={token}"))).await;
    assert_eq!(theirs.json(), inactive, "another client learns nothing");
    for garbage in ["garbage", "a.b.c"] {
        assert_eq!(h.send(introspect(Some(c.basic()), &format!("token={garbage}"))).await.json(), inactive);
    }

    let revoke = Request::post("/oauth2/revoke")
        .header("authorization", c.basic())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .expect("request");
    assert_eq!(h.send(revoke).await.status, StatusCode::OK);
    let revoked = h.send(introspect(Some(c.basic()), &format!("token={token}"))).await;
    assert_eq!(revoked.json(), inactive, "revoked");

    let fresh = h.token(&c).await;
    h.clock.advance(1800);
    assert_eq!(h.send(introspect(Some(c.basic()), &format!("token={fresh}"))).await.json(), inactive, "expired");

    let wrong = h.send(introspect(Some(encode_basic(c.id(), "wrong")), "token=x")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let missing = h.send(introspect(Some(c.basic()), "")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    let anonymous = h.send(introspect(None, &format!("token={fresh}"))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "no credentials at all: RFC 7662's 401");
    let half = h.send(introspect(None, &format!("client_id={}&token={fresh}", c.id()))).await;
    assert_eq!(half.status, StatusCode::BAD_REQUEST, "an ID without its secret is a malformed request");
}

#[tokio::test]
async fn health_and_readiness_follow_the_database() {
    let Some(db) = talon_testkit::TestDb::fresh(talon_testkit::Backend::Postgres).await else { return };
    let db = std::sync::Arc::new(db);
    let h = Harness::on(
        db.clone(),
        talon_server::Config::default(),
        std::sync::Arc::new(talon_auth::ManualClock::new(NOW)),
    )
    .await;
    let live = h.send(get("/healthz")).await;
    assert_eq!((live.status, live.json()), (StatusCode::OK, serde_json::json!({"status": "ok"})));
    let ready = h.send(get("/readyz")).await;
    assert_eq!((ready.status, ready.json()), (StatusCode::OK, serde_json::json!({"status": "ready"})));

    // Probes within one second share one store round trip, however many arrive at once.
    let checks = || h.state.metrics().readiness_checks.get();
    let before = checks();
    let probes = (0..50).map(|_| h.send(get("/readyz")));
    let answers = futures_util::future::join_all(probes).await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    assert_eq!(checks(), before, "the same second's outcome is reused");

    db.set_reachable(false).await;
    h.clock.advance(1);
    let down = h.send(get("/readyz")).await;
    assert_envelope_error(&down, StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable; try again");
    assert_eq!(checks(), before + 1, "one check in the new second");
    assert_eq!(h.send(get("/healthz")).await.status, StatusCode::OK, "liveness does not depend on the store");

    db.set_reachable(true).await;
    h.clock.advance(1);
    assert_eq!(h.send(get("/readyz")).await.status, StatusCode::OK, "ready again once the database is back");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_tokens_and_failures() {
    let h = Harness::default().await;
    let c = h.client(&[Scope::DEVICES_READ]).await;
    let token = h.token(&c).await;
    let device = format!("/devices/entities/devices/v2?ids={}", "a".repeat(32));
    assert_eq!(h.send(bearer_get(&device, &token)).await.status, StatusCode::OK);
    h.send(form_post("/oauth2/token", &format!("client_id={}&client_secret=wrong", c.id()))).await;
    h.send(get("/no/such/thing")).await;

    let reply = h.send(get("/metrics")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/plain"));
    let text = String::from_utf8(reply.body.clone()).expect("utf-8");
    let has = |needle: &str| assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    has(r#"talon_http_requests_total{method="POST",route="/oauth2/token",status="201"} 1"#);
    has(r#"talon_http_requests_total{method="POST",route="/oauth2/token",status="403"} 1"#);
    has(r#"talon_http_requests_total{method="GET",route="/devices/entities/devices/v2",status="200"} 1"#);
    has(r#"talon_http_requests_total{method="GET",route="unmatched",status="404"} 1"#);
    has(r#"talon_http_request_duration_seconds_count{route="/oauth2/token"} 2"#);
    has("talon_tokens_issued_total 1");
    has("talon_auth_failures_total 1");
    assert!(!text.contains(&"a".repeat(32)), "raw paths and queries never become labels");
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_the_router_serves_each() {
    let h = Harness::default().await;
    let reply = h.send(get("/openapi.json")).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = 0;
    for op in talon_server::openapi::OPERATIONS {
        let entry = &doc["paths"][op.path()][op.method()];
        assert_eq!(entry["operationId"], op.id, "{op:?}");
        documented += 1;
        // Sent as documented (without credentials or body), the router knows the route and the method:
        // whatever the answer, it is not 404 or 405.
        let uri = op.path().replace("{id}", "0123456789abcdef0123456789abcdef");
        let request = Request::builder().method(op.method().to_uppercase().as_str()).uri(uri).body(Body::empty());
        let status = h.send(request.expect("request")).await.status;
        assert!(status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED, "{op:?}: {status}");
    }
    // And the rest of the catalogue, each route once, as the catalogue describes it: emulated, generic or 501.
    let documented_here = |method: &str, path: &str| {
        talon_server::openapi::OPERATIONS.iter().any(|o| o.method() == method && o.path() == path)
    };
    let from_catalogue = talon_server::openapi_catalogue::from_catalogue(documented_here);
    for (path, method, _) in &from_catalogue {
        let answer = &doc["paths"][path][method]["x-talon-answer"];
        assert!(answer == "501" || answer == "emulated" || answer == "generic", "{method} {path}: {answer}");
    }
    assert!(from_catalogue.iter().any(|(p, m, _)| p == "/devices/queries/devices-scroll/v1" && *m == "get"));
    assert_eq!(doc["paths"]["/devices/queries/devices-scroll/v1"]["get"]["x-talon-answer"], "emulated");
    assert_eq!(doc["paths"]["/policy/queries/prevention/v1"]["get"]["x-talon-answer"], "generic");
    assert_eq!(
        documented + from_catalogue.len(),
        doc["paths"].as_object().expect("paths").values().map(|p| p.as_object().expect("ops").len()).sum::<usize>()
    );
    assert_eq!(
        doc["paths"]["/devices/entities/devices-actions/v2"]["post"]["security"][0]["oauth2"][0],
        "devices:write"
    );
    // A method the document does not list is not served.
    let put = Request::put("/oauth2/token").body(Body::empty()).expect("request");
    assert_eq!(h.send(put).await.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// The request an operation's documented examples make: its query parameters and body, with `token`.
fn documented_request(op: &talon_server::openapi::Operation, token: &str, leave_out: Option<&str>) -> Request<Body> {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    use talon_server::openapi::In;
    let query: Vec<String> = op
        .params
        .iter()
        .filter(|p| p.location == In::Query && Some(p.name) != leave_out)
        .map(|p| format!("{}={}", p.name, utf8_percent_encode(p.example, NON_ALPHANUMERIC)))
        .collect();
    let path = op
        .params
        .iter()
        .filter(|p| p.location == In::Path)
        .fold(op.path().to_owned(), |path, p| path.replace(&format!("{{{}}}", p.name), p.example));
    let uri = if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) };
    let request = Request::builder()
        .method(op.method().to_uppercase().as_str())
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    match op.body.filter(|_| leave_out != Some("body")) {
        Some(body) => request.header("content-type", body.media_type).body(Body::from(body.example)),
        None => request.body(Body::empty()),
    }
    .expect("request")
}

#[tokio::test]
async fn documented_inputs_are_what_the_router_accepts() {
    use talon_server::openapi::{Auth, OPERATIONS};
    let h = Harness::default().await;
    let doc = h.send(get("/openapi.json")).await.json();
    let mut checked = 0;
    for op in OPERATIONS {
        let Auth::Bearer(scope) = op.auth else { continue };
        if op.params.is_empty() && op.body.is_none() {
            continue;
        }
        let entry = &doc["paths"][op.path()][op.method()];
        assert_eq!(entry["parameters"].as_array().map_or(0, Vec::len), op.params.len(), "{}", op.id);
        assert_eq!(entry["requestBody"].is_object(), op.body.is_some(), "{}", op.id);

        // The creation example grants devices:read, which the caller must hold to give.
        let client = h.client(&[scope, talon_wire::Scope::DEVICES_READ]).await;
        let token = h.token(&client).await;
        // The examples are valid input: success, or 404 where they name a host that does not exist.
        let reply = h.send(documented_request(op, &token, None)).await;
        assert!(
            reply.status.is_success() || reply.status == StatusCode::NOT_FOUND,
            "{}: the documented example was refused: {} {}",
            op.id,
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        // Each required input, left out, is refused with a 400 (or 415 for a missing JSON body).
        let required = op
            .params
            .iter()
            .filter(|p| p.required && p.location == talon_server::openapi::In::Query)
            .map(|p| p.name)
            .chain(op.body.map(|_| "body"));
        for name in required {
            let reply = h.send(documented_request(op, &token, Some(name))).await;
            assert!(
                matches!(reply.status, StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE),
                "{}: without {name}: {}",
                op.id,
                reply.status
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 15, "every emulated Falcon operation and admin route documents its inputs");
    // The OAuth2 endpoints document their forms.
    for path in ["/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"] {
        let form = &doc["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"];
        assert!(form["schema"]["properties"].is_object(), "{path}");
    }
}
