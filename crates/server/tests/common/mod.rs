//! Test harness: a server state on a fresh SQLite file with a manual clock, requests sent with `oneshot`
//! from a chosen source address, and responses decoded for assertions.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use talon_auth::{ApiClient, ClientSecret, ClientSpec, ManualClock};
use talon_server::{router, AppState, Config};
use talon_store::Store;
use talon_wire::basic::encode_basic;
use talon_wire::{Scope, ScopeSet};
use tower::ServiceExt;

pub const NOW: i64 = 1_800_000_000;

pub struct Harness {
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub url: String,
    pub db: Arc<talon_testkit::TestDb>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("body is not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no header {name}"))
    }

    /// The first error message of an envelope.
    pub fn message(&self) -> String {
        self.json()["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
    }
}

pub struct Creds {
    pub client: ApiClient,
    pub secret: ClientSecret,
}

impl Creds {
    pub fn id(&self) -> &str {
        self.client.id.as_str()
    }
    pub fn secret(&self) -> &str {
        self.secret.expose()
    }
    pub fn form(&self) -> String {
        format!("client_id={}&client_secret={}", self.id(), self.secret())
    }
    pub fn basic(&self) -> String {
        encode_basic(self.id(), self.secret())
    }
}

impl Harness {
    pub async fn new(config: Config) -> Harness {
        let db = talon_testkit::TestDb::sqlite();
        Harness::on(db, config, Arc::new(ManualClock::new(NOW))).await
    }

    /// A node on `db` (which it keeps alive), with its own connection pool, as a separate process has.
    pub async fn on(db: impl Into<Arc<talon_testkit::TestDb>>, config: Config, clock: Arc<ManualClock>) -> Harness {
        let db = db.into();
        let store = talon_store::open(&db.url, NOW).await.expect("open store");
        let state = AppState::new(store.clone(), config, clock.clone()).await.expect("state");
        Harness { state, store, clock, url: db.url.clone(), db }
    }

    pub async fn default() -> Harness {
        Harness::new(Config { demo_hosts: 12, ..Config::default() }).await
    }

    /// Creates a client with `scopes`, letting `edit` adjust the spec, and makes the state see it.
    pub async fn client_with(&self, scopes: &[Scope], edit: impl FnOnce(&mut ClientSpec)) -> Creds {
        let cid = self.store.default_customer().await.expect("cid");
        let mut spec = ClientSpec::new("test client", scopes.iter().copied().collect::<ScopeSet>(), cid);
        edit(&mut spec);
        let (client, secret) = ApiClient::generate(spec, NOW);
        self.store.create_client(&client).await.expect("create client");
        self.state.refresh().await.expect("refresh");
        Creds { client, secret }
    }

    pub async fn client(&self, scopes: &[Scope]) -> Creds {
        self.client_with(scopes, |_| {}).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        self.send_from("127.0.0.1:50000", request).await
    }

    pub async fn send_from(&self, addr: &str, request: Request<Body>) -> Reply {
        let addr: SocketAddr = addr.parse().expect("addr");
        let app = router(self.state.clone()).layer(MockConnectInfo(addr));
        let response = app.oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    pub async fn token(&self, creds: &Creds) -> String {
        let reply = self.send(form_post("/oauth2/token", &creds.form())).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()["access_token"].as_str().expect("token").to_owned()
    }
}

pub fn form_post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

pub fn bearer_get(path: &str, token: &str) -> Request<Body> {
    Request::get(path).header("authorization", format!("Bearer {token}")).body(Body::empty()).expect("request")
}

pub fn bearer_json_post(path: &str, token: &str, json: &str) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(json.to_owned()))
        .expect("request")
}

/// Asserts the Falcon error envelope: status, message, trace ID equal to the header, no `resources` key.
pub fn assert_envelope_error(reply: &Reply, status: StatusCode, message: &str) {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    let json = reply.json();
    assert_eq!(json["errors"][0]["code"], status.as_u16(), "{json}");
    assert_eq!(json["errors"][0]["message"], message, "{json}");
    assert!(json["meta"]["query_time"].is_f64(), "{json}");
    assert_eq!(json["meta"]["trace_id"], reply.header("x-cs-traceid"), "{json}");
    assert!(json.get("resources").is_none(), "{json}");
    assert!(reply.header("content-type").starts_with("application/json"));
}
