//! `ApiClients` against a real server: every admin operation, and the errors a caller sees.

mod common;

use common::TestServer;
use talon::{ApiClients, Error};
use talon_wire::admin::{CreateClientRequest, UpdateClientRequest};
use talon_wire::Scope;

const ADMIN: &[Scope] = &[Scope::API_CLIENTS_READ, Scope::API_CLIENTS_WRITE, Scope::DEVICES_READ];

#[tokio::test]
async fn manages_a_client_through_the_admin_api() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(ADMIN).await;
    let admin = ApiClients::new(server.sdk(&id, &secret));

    let request = CreateClientRequest {
        name: "ci".into(),
        scopes: vec!["devices:read".into()],
        enabled: true,
        ..Default::default()
    };
    let created = admin.create(&request).await.expect("create");
    let new_secret = created.client_secret.clone().expect("the secret, once");
    assert!(!format!("{created:?}").contains(&new_secret), "Debug hides the secret");
    let worker = server.sdk(&created.client_id, &new_secret);
    assert!(worker.request(reqwest::Method::GET, "/devices/queries/devices/v1").send().await.is_ok());

    let all = admin.list_all().await.expect("list");
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|c| c.client_secret.is_none()));
    let page = admin.list(1, 1).await.expect("page");
    assert_eq!((page.items.len(), page.total), (1, 2));

    let changes = UpdateClientRequest { name: Some("renamed".into()), ..Default::default() };
    assert_eq!(admin.update(&created.client_id, &changes).await.expect("update").name, "renamed");
    assert_eq!(admin.get(&created.client_id).await.expect("get").name, "renamed");
    let reset = admin.reset_secret(&created.client_id).await.expect("reset");
    assert_ne!(reset.client_secret.as_deref(), Some(new_secret.as_str()));
    admin.revoke_tokens(&created.client_id).await.expect("revoke tokens");
    admin.delete(&created.client_id).await.expect("delete");

    let missing = admin.get(&created.client_id).await.expect_err("gone");
    assert!(matches!(&missing, Error::Api(e) if e.status == 404), "{missing}");
    assert!(matches!(admin.get("../oauth2/token").await, Err(Error::Config(_))), "IDs are checked before use");

    let audit = admin.audit(0, 10).await.expect("audit");
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["client.delete", "client.revoke-tokens", "client.reset-secret", "client.update", "client.create"]
    );
    assert_eq!(audit.total, 5);
}

#[tokio::test]
async fn a_client_without_the_admin_scopes_is_refused_with_403() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let admin = ApiClients::new(server.sdk(&id, &secret));
    let refused = admin.list(0, 10).await.expect_err("no scope");
    assert!(matches!(&refused, Error::Api(e) if e.status == 403), "{refused}");
}
