//! The SDK against a real Talon server started in-process on port 0: the token lifecycle, the OAuth2
//! service, errors.

use reqwest::Method;
use secrecy::ExposeSecret;
use talon::{Client, Cloud, Credentials, Error, ForbiddenCause, OAuth2, TokenStatus};
use talon_wire::Scope;

mod common;
use common::TestServer;

#[tokio::test]
async fn concurrent_callers_on_a_cold_client_make_one_token_request() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let client = server.sdk(&id, &secret);
    let calls = (0..256).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.bearer().await.map(|t| t.expose_secret().to_owned()) })
    });
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.expect("join").expect("a token"));
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "every caller got the same token");
    assert_eq!(server.tokens_issued().await, 1, "exactly one token request for 256 concurrent callers");
}

#[tokio::test]
async fn a_401_gets_one_refresh_and_one_retry() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let client = server.sdk(&id, &secret);
    let oauth2 = OAuth2::new(client.clone());
    let first = client.request(Method::GET, "/devices/queries/devices/v1").send().await.expect("query");
    assert_eq!(first["resources"].as_array().expect("ids").len(), 3);

    // Revoke the cached token behind the client's back: the next call meets a 401, renews, retries.
    let cached = client.bearer().await.expect("token");
    oauth2.revoke(&cached).await.expect("revoke");
    let again =
        client.request(Method::GET, "/devices/queries/devices/v1").query("limit", 1).send().await.expect("retried");
    assert_eq!(again["resources"].as_array().expect("ids").len(), 1);
    assert_eq!(server.tokens_issued().await, 2, "one renewal");
    assert_ne!(client.bearer().await.expect("token").expose_secret(), cached.expose_secret());
}

#[tokio::test]
async fn the_oauth2_service_logs_in_and_out_and_says_why_a_login_failed() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let oauth2 = OAuth2::new(server.sdk(&id, &secret));
    assert_eq!(oauth2.token_status().await, TokenStatus::None);
    assert!(!oauth2.authenticated());
    let token = oauth2.oauth2_access_token().await.expect("token");
    assert_eq!(oauth2.token_status().await, TokenStatus::Status(201));
    assert!(oauth2.authenticated() && !oauth2.token_expired());
    oauth2.logout().await.expect("logout revokes");
    assert!(!oauth2.authenticated());
    let refused = reqwest::Client::new()
        .get(format!("{}/devices/queries/devices/v1", server.base_url))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 401, "the logged-out token is refused");

    let wrong = OAuth2::new(server.sdk(&id, "wrong-secret"));
    let err = wrong.login().await.expect_err("wrong secret");
    let reason = wrong.token_fail_reason().await.expect("a reason");
    assert_eq!(reason.status, 403);
    assert_eq!(reason.message, "Failed to issue access token - Not Authorized");
    assert!(reason.trace_id.is_some());
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("403") && !shown.contains("wrong-secret"), "{shown}");
    // Right after a failure the client backs off instead of asking again.
    let client = server.sdk(&id, "wrong-secret");
    let _ = client.bearer().await;
    let before = server.tokens_issued().await;
    assert!(matches!(client.bearer().await, Err(Error::Login(_))));
    assert_eq!(server.tokens_issued().await, before);
}

#[tokio::test]
async fn a_403_says_whether_the_scope_is_missing() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let client = server.sdk(&id, &secret);
    let err = client
        .request(Method::POST, "/devices/entities/devices-actions/v2")
        .query("action_name", "contain")
        .json(&serde_json::json!({"ids": ["x"]}))
        .expect("body")
        .send()
        .await
        .expect_err("no devices:write");
    let Error::Api(api) = err else { panic!("an API error") };
    assert_eq!(api.status, 403);
    assert_eq!(api.forbidden, Some(ForbiddenCause::MissingScope));
    assert!(api.to_string().contains("lacks the scope"), "{api}");
    assert!(api.trace_id.is_some());
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let client = Client::builder(Credentials::new("id", "secret", Cloud::Custom("http://127.0.0.1:1".into())))
        .build()
        .expect("client");
    let err = client.bearer().await.expect_err("nothing listens there");
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(!format!("{err}").contains("secret"));
    // Right after, the client backs off instead of trying again.
    assert!(matches!(client.bearer().await, Err(Error::Login(_))));
}
