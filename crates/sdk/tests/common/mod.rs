//! A real Talon server started in-process on port 0, for the SDK's tests.

#![allow(dead_code)]

use std::sync::Arc;

use talon::{Client, Cloud, Credentials};
use talon_auth::{ApiClient, ClientSpec, Clock, SystemClock};
use talon_server::{AppState, Config};
use talon_wire::{Scope, ScopeSet};

pub struct TestServer {
    pub base_url: String,
    state: AppState,
    store: Arc<dyn talon_store::Store>,
    _db: talon_testkit::TestDb,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with_hosts(3).await
    }

    /// A server whose default customer has `demo_hosts` deterministic demo hosts.
    pub async fn with_hosts(demo_hosts: usize) -> TestServer {
        let db = talon_testkit::TestDb::sqlite();
        let store = talon_store::open(&db.url, SystemClock.now()).await.expect("store");
        let config = Config { demo_hosts, ..Config::default() };
        let state = AppState::new(store.clone(), config, Arc::new(SystemClock)).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(talon_server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestServer { base_url, state, store, _db: db, _stop: stop }
    }

    pub async fn client(&self, scopes: &[Scope]) -> (String, String) {
        let cid = self.store.default_customer().await.expect("cid");
        let spec = ClientSpec::new("sdk test", scopes.iter().copied().collect::<ScopeSet>(), cid);
        let (client, secret) = ApiClient::generate(spec, SystemClock.now());
        self.store.create_client(&client).await.expect("create");
        self.state.refresh().await.expect("refresh");
        (client.id.to_string(), secret.expose().to_owned())
    }

    pub fn sdk(&self, id: &str, secret: &str) -> Client {
        Client::builder(Credentials::new(id, secret, Cloud::Custom(self.base_url.clone()))).build().expect("client")
    }

    /// How many requests the server answered on `route` (its template) with `method` and `status`.
    pub async fn requests(&self, route: &str, method: &str, status: u16) -> u64 {
        let text =
            reqwest::get(format!("{}/metrics", self.base_url)).await.expect("metrics").text().await.expect("text");
        let labels = [format!("route=\"{route}\""), format!("method=\"{method}\""), format!("status=\"{status}\"")];
        text.lines()
            .filter(|l| l.starts_with("talon_http_requests_total{"))
            .find(|l| labels.iter().all(|label| l.contains(label.as_str())))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }

    pub async fn tokens_issued(&self) -> u64 {
        let text =
            reqwest::get(format!("{}/metrics", self.base_url)).await.expect("metrics").text().await.expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix("talon_tokens_issued_total "))
            .and_then(|n| n.trim().parse().ok())
            .expect("the tokens counter")
    }
}

/// Serves a scripted fake API on a loopback port; answers its base URL.
pub async fn serve_fake(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    base
}
