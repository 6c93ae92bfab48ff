//! Cloud discovery, DNS pinning, extra root CAs and proxies, without the internet: one local TLS server
//! plays every Falcon host (and a stranger's), with a certificate made here for all their names; the SDK
//! trusts that certificate (`add_root_certificate`) and pins the names to the server (`resolve`). The
//! server tells the hosts apart by the `Host` header and records every request it gets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use reqwest::Method;
use talon::{Client, Cloud, Credentials, Error};

const US1: &str = "api.crowdstrike.com";
const US2: &str = "api.us-2.crowdstrike.com";
const EU1: &str = "api.eu-1.crowdstrike.com";
const GOV1: &str = "api.laggar.gcw.crowdstrike.com";
const EVIL: &str = "evil.example.com";
const HOSTS: [&str; 5] = [US1, US2, EU1, GOV1, EVIL];

const ID: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "s3cretS3cretS3cretS3cretS3cretS3cretS3cr";
const MEMBER: &str = "child0123456789abcdef0123456789ab";
const DEVICES: &str = "/devices/queries/devices/v1";

/// What the first host asked (us-1, or the custom base URL) answers to a token request. The other
/// commercial hosts always answer 201 naming their own region.
#[derive(Clone)]
enum FirstAnswer {
    /// 308 with this `Location`.
    Redirect(&'static str),
    /// 201 with this `X-Cs-Region`.
    Region(&'static str),
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    host: String,
    /// The request target as it came (absolute-form through a proxy).
    uri: String,
    authorization: Option<String>,
    body: String,
}

#[derive(Clone)]
struct Fake {
    first: FirstAnswer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn tokens(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.uri.ends_with("/oauth2/token")).collect()
    }

    fn api_calls(&self) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.uri.ends_with(DEVICES)).collect()
    }
}

fn token_for(host: &str) -> String {
    format!("token-for-{host}")
}

fn json(status: u16, headers: &[(&str, &str)], body: String) -> Response {
    let mut map = HeaderMap::new();
    map.insert("content-type", "application/json".parse().expect("value"));
    for (name, value) in headers {
        map.insert(axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"), value.parse().expect("value"));
    }
    (StatusCode::from_u16(status).expect("status"), map, body).into_response()
}

fn token_body(host: &str) -> String {
    format!(r#"{{"access_token":"{}","token_type":"bearer","expires_in":1799}}"#, token_for(host))
}

/// Every route of every host: tokens, and the device query (which names the host that answered it).
async fn handle(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let host = header("host").unwrap_or_default();
    let authorization = header("authorization");
    fake.seen.lock().expect("lock").push(Seen {
        host: host.clone(),
        uri: uri.to_string(),
        authorization: authorization.clone(),
        body,
    });
    match uri.path() {
        "/oauth2/token" => match (host.as_str(), fake.first.clone()) {
            (EU1, _) => json(201, &[("x-cs-region", "eu-1")], token_body(&host)),
            (US2, _) => json(201, &[("x-cs-region", "us-2")], token_body(&host)),
            (_, FirstAnswer::Redirect(location)) => json(308, &[("location", location)], String::new()),
            (_, FirstAnswer::Region(region)) => json(201, &[("x-cs-region", region)], token_body(&host)),
        },
        DEVICES if authorization == Some(format!("Bearer {}", token_for(&host))) => json(
            200,
            &[("x-ratelimit-limit", "6000"), ("x-ratelimit-remaining", "5999")],
            format!(
                r#"{{"meta":{{"query_time":0.001,"powered_by":"test","trace_id":"t"}},"resources":["{host}"],"errors":[]}}"#
            ),
        ),
        _ => json(
            401,
            &[],
            r#"{"meta":{"query_time":0.001,"powered_by":"test","trace_id":"t"},"errors":[{"code":401,"message":"access denied, invalid bearer token"}]}"#
                .into(),
        ),
    }
}

struct Servers {
    fake: Fake,
    /// The TLS server that plays every host of `HOSTS`.
    tls: SocketAddr,
    /// The same routes over plain HTTP: a custom base URL.
    plain: String,
    /// The certificate (PEM) the TLS server presents, self-signed for every host of `HOSTS`.
    certificate: String,
}

async fn start(first: FirstAnswer) -> Servers {
    let fake = Fake { first, seen: Arc::default() };
    let app = Router::new().fallback(handle).with_state(fake.clone());

    let certified = rcgen::generate_simple_self_signed(HOSTS.map(str::to_owned).to_vec()).expect("certificate");
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    let config = talon_server::tls::server_config(&cert, &key).expect("TLS config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let tls = listener.local_addr().expect("addr");
    let server = axum_server::from_tcp_rustls(listener, axum_server::tls_rustls::RustlsConfig::from_config(config))
        .expect("TLS server");
    let tls_app = app.clone();
    tokio::spawn(async move { server.serve(tls_app.into_make_service()).await });

    let plain_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let plain = format!("http://{}", plain_listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(plain_listener, app).await });
    Servers { fake, tls, plain, certificate: certified.cert.pem() }
}

/// A client that trusts the test certificate and finds every host of `HOSTS` at the test server.
fn falcon_client(servers: &Servers, cloud: Cloud) -> Client {
    let credentials = Credentials::new(ID, SECRET, cloud).with_member_cid(MEMBER);
    let mut builder =
        Client::builder(credentials).timeout(Duration::from_secs(10)).add_root_certificate(&servers.certificate);
    for host in HOSTS {
        builder = builder.resolve(host, servers.tls);
    }
    builder.build().expect("client")
}

fn hosts(seen: &[Seen]) -> Vec<&str> {
    seen.iter().map(|s| s.host.as_str()).collect()
}

/// The token form carried the credentials and the member CID.
fn assert_full_form(seen: &Seen) {
    for field in [format!("client_id={ID}"), format!("client_secret={SECRET}"), format!("member_cid={MEMBER}")] {
        assert!(
            seen.body.split('&').any(|pair| pair == field),
            "{field} missing from the form to {}: {}",
            seen.host,
            seen.body
        );
    }
}

#[tokio::test]
async fn auto_follows_a_308_to_eu1_in_one_more_request_and_stays_there() {
    let servers = start(FirstAnswer::Redirect("https://api.eu-1.crowdstrike.com/oauth2/token")).await;
    let client = falcon_client(&servers, Cloud::Auto);
    assert_eq!((client.cloud(), client.base_url()), (Cloud::Auto, "https://api.crowdstrike.com".to_owned()));

    let answer = client.request(Method::GET, DEVICES).send().await.expect("query");
    assert_eq!(answer["resources"][0], EU1, "the API call went to eu-1");
    client.request(Method::GET, DEVICES).send().await.expect("again, on the cached token");

    let tokens = servers.fake.tokens();
    assert_eq!(hosts(&tokens), [US1, EU1], "one token request at us-1, one at eu-1");
    tokens.iter().for_each(assert_full_form);
    let calls = servers.fake.api_calls();
    assert_eq!(hosts(&calls), [EU1, EU1]);
    let bearer = format!("Bearer {}", token_for(EU1));
    assert!(calls.iter().all(|c| c.authorization.as_deref() == Some(bearer.as_str())), "{calls:?}");
    assert_eq!(client.cloud(), Cloud::Eu1);
    assert_eq!(client.base_url(), "https://api.eu-1.crowdstrike.com");
    assert_eq!(client.region().as_deref(), Some("eu-1"));
    let limit = client.rate_limit().expect("rate-limit headers seen");
    assert_eq!((limit.limit, limit.remaining), (Some(6000), Some(5999)));
}

#[tokio::test]
async fn auto_moves_to_the_region_a_201_names_in_two_token_requests_in_all() {
    let servers = start(FirstAnswer::Region("us-2")).await;
    let client = falcon_client(&servers, Cloud::Auto);
    let answer = client.request(Method::GET, DEVICES).send().await.expect("query");
    assert_eq!(answer["resources"][0], US2);

    let seen = servers.fake.seen();
    // Token at us-1, token at us-2, the call at us-2: no revoke, no third token request (gofalcon's way).
    assert_eq!(hosts(&seen), [US1, US2, US2], "{seen:?}");
    servers.fake.tokens().iter().for_each(assert_full_form);
    let us1_token = token_for(US1);
    assert!(
        seen.iter().all(|s| !s.authorization.as_deref().unwrap_or_default().contains(&us1_token)),
        "us-1's token is never used: {seen:?}"
    );
    assert_eq!((client.cloud(), client.region().as_deref()), (Cloud::Us2, Some("us-2")));
    assert_eq!(client.base_url(), "https://api.us-2.crowdstrike.com");
}

#[tokio::test]
async fn auto_stays_on_us1_when_us1_issues_the_token() {
    let servers = start(FirstAnswer::Region("us-1")).await;
    let client = falcon_client(&servers, Cloud::Auto);
    let answer = client.request(Method::GET, DEVICES).send().await.expect("query");
    assert_eq!(answer["resources"][0], US1);
    assert_eq!(hosts(&servers.fake.seen()), [US1, US1], "one token request, one call");
    assert_eq!((client.cloud(), client.base_url()), (Cloud::Us1, "https://api.crowdstrike.com".to_owned()));
}

#[tokio::test]
async fn a_named_commercial_cloud_is_discoverable_too() {
    let servers = start(FirstAnswer::Redirect("https://api.eu-1.crowdstrike.com/oauth2/token")).await;
    let client = falcon_client(&servers, Cloud::Us1);
    client.bearer().await.expect("token from eu-1");
    assert_eq!(client.cloud(), Cloud::Eu1);
}

#[tokio::test]
async fn a_308_to_a_stranger_is_not_followed_and_nothing_goes_there() {
    let servers = start(FirstAnswer::Redirect("https://evil.example.com/oauth2/token")).await;
    let client = falcon_client(&servers, Cloud::Auto);
    let err = client.request(Method::GET, DEVICES).send().await.expect_err("not followed");
    let Error::Config(message) = &err else { panic!("a configuration error: {err:?}") };
    assert!(message.contains("https://evil.example.com") && message.contains("not a Falcon cloud"), "{message}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert_eq!(
        hosts(&servers.fake.seen()),
        [US1],
        "only us-1 was asked: nothing, secret or bearer, went to the stranger"
    );
    assert_eq!(client.base_url(), "https://api.crowdstrike.com", "the base URL did not move");
    // The client backs off, and the reason stays readable.
    assert!(
        matches!(client.bearer().await, Err(Error::Login(reason)) if reason.status == 308 && reason.message.contains("evil.example.com"))
    );
    assert_eq!(servers.fake.seen().len(), 1);
}

#[tokio::test]
async fn gov_clouds_are_never_discovered() {
    for first in
        [FirstAnswer::Region("us-gov-1"), FirstAnswer::Redirect("https://api.laggar.gcw.crowdstrike.com/oauth2/token")]
    {
        let servers = start(first).await;
        let client = falcon_client(&servers, Cloud::Auto);
        let err = client.bearer().await.expect_err("gov is not discoverable");
        let Error::Config(message) = &err else { panic!("a configuration error: {err:?}") };
        assert!(message.contains("us-gov-1") && message.contains("FALCON_CLOUD=us-gov-1"), "{message}");
        assert!(!format!("{err:?}").contains(SECRET));
        assert_eq!(hosts(&servers.fake.seen()), [US1], "nothing went to the gov host");
        assert_eq!(client.cloud(), Cloud::Auto, "nothing settled");
    }
}

#[tokio::test]
async fn a_custom_base_url_is_never_replaced() {
    // X-Cs-Region naming a real cloud: FalconPy's trap. The custom base keeps every request.
    let servers = start(FirstAnswer::Region("eu-1")).await;
    let custom = Cloud::Custom(servers.plain.clone());
    let client = falcon_client(&servers, custom.clone());
    let answer = client.request(Method::GET, DEVICES).send().await.expect("query");
    let local_host = servers.plain.trim_start_matches("http://");
    assert_eq!(answer["resources"][0], local_host);
    assert_eq!(hosts(&servers.fake.seen()), [local_host, local_host]);
    assert_eq!((client.cloud(), client.base_url()), (custom, servers.plain.clone()));
    assert_eq!(client.region().as_deref(), Some("eu-1"), "the region is reported, and moves nothing");

    // A 308 from a custom base URL is a failed login, not a move.
    let servers = start(FirstAnswer::Redirect("https://api.eu-1.crowdstrike.com/oauth2/token")).await;
    let client = falcon_client(&servers, Cloud::Custom(servers.plain.clone()));
    let Err(Error::Login(reason)) = client.bearer().await else { panic!("a failed login") };
    assert_eq!(reason.status, 308);
    assert!(reason.message.contains("never replaced") && reason.message.contains(EU1), "{}", reason.message);
    assert_eq!(servers.fake.seen().len(), 1, "not followed");
    assert_eq!(client.base_url(), servers.plain);
}

#[tokio::test]
async fn without_the_test_certificate_tls_fails() {
    let servers = start(FirstAnswer::Region("us-1")).await;
    let client =
        Client::builder(Credentials::new(ID, SECRET, Cloud::Auto)).resolve(US1, servers.tls).build().expect("client");
    assert!(matches!(client.bearer().await, Err(Error::Transport(_))), "the certificate is not trusted by default");
    assert!(servers.fake.seen().is_empty());
}

/// A forward proxy for http:// URLs gets requests in absolute form (`POST http://host/path`): this one
/// records them and answers as the API would.
#[tokio::test]
async fn requests_go_through_the_configured_proxy() {
    let servers = start(FirstAnswer::Region("local")).await;
    let proxy = servers.plain.clone();
    // A host no DNS knows: only the proxy can reach it.
    let client = Client::builder(Credentials::new(ID, SECRET, Cloud::Custom("http://api.talon.invalid".into())))
        .proxy(&proxy)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let answer = client.request(Method::GET, DEVICES).send().await.expect("through the proxy");
    assert_eq!(answer["resources"][0], "api.talon.invalid");
    let seen = servers.fake.seen();
    let targets: Vec<&str> = seen.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        targets,
        ["http://api.talon.invalid/oauth2/token", "http://api.talon.invalid/devices/queries/devices/v1"]
    );
}

#[test]
fn a_bad_proxy_url_or_certificate_is_a_configuration_error() {
    let build = |builder: talon::ClientBuilder| builder.build().expect_err("refused");
    let base = || Client::builder(Credentials::new(ID, SECRET, Cloud::Us1));
    for bad in ["not a url", "ftp://proxy.example:21", "http://user:hunter2@[::1"] {
        let err = build(base().proxy(bad));
        assert!(matches!(err, Error::Config(_)), "{bad}: {err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    for bad in [
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        // Good base64, but not a certificate: refused when rustls reads it.
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let err = build(base().add_root_certificate(bad));
        assert!(matches!(err, Error::Config(_)), "{bad}: {err:?}");
    }
    assert!(base().proxy("http://127.0.0.1:3128").build().is_ok());
}
