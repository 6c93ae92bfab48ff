//! Two server nodes on one database, on each backend: what one node does, the other honours after its
//! next refresh (the refresh loop runs it every 250 ms, and at once on a PostgreSQL notification).

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use talon_auth::{ClientChanges, CustomerId, ManualClock, SigningKey};
use talon_server::Config;
use talon_testkit::{Backend, TestDb};
use talon_wire::Scope;

const QUERY: &str = "/devices/queries/devices/v1";

async fn two_nodes(backend: Backend) -> Option<(Harness, Harness)> {
    let db = Arc::new(TestDb::fresh(backend).await?);
    let clock = Arc::new(ManualClock::new(NOW));
    let config = Config { demo_hosts: 3, ..Config::default() };
    let a = Harness::on(db.clone(), config.clone(), clock.clone()).await;
    let b = Harness::on(db, config, clock).await;
    Some((a, b))
}

#[tokio::test]
async fn a_host_change_reloads_only_its_customers_hosts_on_both_nodes_on_sqlite() {
    a_host_change_reloads_only_its_customers_hosts_on_both_nodes(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_host_change_reloads_only_its_customers_hosts_on_both_nodes_on_postgres() {
    a_host_change_reloads_only_its_customers_hosts_on_both_nodes(Backend::Postgres).await;
}

async fn a_host_change_reloads_only_its_customers_hosts_on_both_nodes(backend: Backend) {
    let Some((a, b)) = two_nodes(backend).await else { return };
    let mine = a.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let theirs = a.client_with(&[Scope::DEVICES_READ], |spec| spec.cid = CustomerId::generate()).await;
    // The other customer's demo hosts are seeded by a refresh; both nodes then settle.
    for node in [&a, &b, &a, &b] {
        node.state.refresh().await.expect("refresh");
    }
    let (my_token, their_token) = (a.token(&mine).await, a.token(&theirs).await);
    async fn hosts_of(node: &Harness, token: &str) -> serde_json::Value {
        node.send(bearer_get(QUERY, token)).await.json()["resources"].clone()
    }
    let before_theirs = hosts_of(&a, &their_token).await;
    assert_eq!(before_theirs.as_array().map(Vec::len), Some(3), "the other customer has its demo hosts");
    for node in [&a, &b] {
        for token in [&my_token, &their_token] {
            assert_eq!(node.send(bearer_get(QUERY, token)).await.status, StatusCode::OK, "caches warm");
        }
    }
    let loads = |node: &Harness| node.state.metrics().host_cache_loads.get();
    let (a_before, b_before) = (loads(&a), loads(&b));

    let host = a.send(bearer_get(QUERY, &my_token)).await.json()["resources"][0].as_str().expect("host").to_owned();
    let contain = "/devices/entities/devices-actions/v2?action_name=contain";
    let reply = a.send(bearer_json_post(contain, &my_token, &format!(r#"{{"ids":["{host}"]}}"#))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    for node in [&a, &b] {
        node.state.refresh().await.expect("refresh");
        let contained = node.send(bearer_get(&format!("{QUERY}?filter=status:'contained'"), &my_token)).await.json();
        assert_eq!(contained["resources"], serde_json::json!([host]), "the change is seen");
        assert_eq!(node.send(bearer_get(QUERY, &their_token)).await.status, StatusCode::OK);
    }
    assert_eq!(loads(&a), a_before + 1, "node A reloaded only the changed customer's hosts");
    assert_eq!(loads(&b), b_before + 1, "node B reloaded only the changed customer's hosts");
    assert_eq!(hosts_of(&b, &their_token).await, before_theirs);
}

#[tokio::test]
async fn nodes_share_tokens_revocations_clients_and_keys_on_sqlite() {
    nodes_share_tokens_revocations_clients_and_keys(Backend::Sqlite).await;
}

#[tokio::test]
async fn nodes_share_tokens_revocations_clients_and_keys_on_postgres() {
    nodes_share_tokens_revocations_clients_and_keys(Backend::Postgres).await;
}

async fn nodes_share_tokens_revocations_clients_and_keys(backend: Backend) {
    let Some((a, b)) = two_nodes(backend).await else { return };
    let c = a.client(&[Scope::DEVICES_READ]).await;
    b.state.refresh().await.expect("refresh b");

    // A token from node A works on node B.
    let token = a.token(&c).await;
    assert_eq!(b.send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);

    // A host contained through node A is contained on node B (which had its hosts cached) after its refresh.
    let writer = a.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let write_token = a.token(&writer).await;
    let host = b.send(bearer_get(QUERY, &token)).await.json()["resources"][0].as_str().expect("host").to_owned();
    let contain = "/devices/entities/devices-actions/v2?action_name=contain";
    let reply = a.send(bearer_json_post(contain, &write_token, &format!(r#"{{"ids":["{host}"]}}"#))).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    b.state.refresh().await.expect("refresh b");
    let seen = b.send(bearer_get(&format!("{QUERY}?filter=status:'contained'"), &token)).await.json();
    assert_eq!(seen["resources"], serde_json::json!([host]));

    // A revocation on A: refused on A at once, on B after its refresh.
    let revoke = Request::post("/oauth2/revoke")
        .header("authorization", c.basic())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .expect("request");
    assert_eq!(a.send(revoke).await.status, StatusCode::OK);
    assert_eq!(a.send(bearer_get(QUERY, &token)).await.status, StatusCode::UNAUTHORIZED);
    b.state.refresh().await.expect("refresh b");
    assert_eq!(b.send(bearer_get(QUERY, &token)).await.status, StatusCode::UNAUTHORIZED);

    // A client disabled through the store (the CLI, say): both nodes refuse its tokens.
    let live = b.token(&c).await;
    let mut client = c.client.clone();
    a.clock.advance(1);
    client.apply(ClientChanges { enabled: Some(false), ..Default::default() }, NOW + 1);
    a.store.update_client(&client).await.expect("disable");
    for node in [&a, &b] {
        node.state.refresh().await.expect("refresh");
        assert_eq!(node.send(bearer_get(QUERY, &live)).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(node.send(form_post("/oauth2/token", &c.form())).await.status, StatusCode::FORBIDDEN);
    }

    // A key added on one node: the other signs with it after its refresh, and both verify its tokens.
    let other = a.client(&[Scope::DEVICES_READ]).await;
    b.state.refresh().await.expect("refresh b");
    let new_key = SigningKey::generate(NOW + 5);
    let new_kid = new_key.kid.clone();
    a.store.add_signing_key(&new_key).await.expect("rotate");
    b.state.refresh().await.expect("refresh b");
    let rotated = b.token(&other).await;
    let header = jsonwebtoken::decode_header(&rotated).expect("jwt");
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()), "the newest key signs");
    a.state.refresh().await.expect("refresh a");
    assert_eq!(a.send(bearer_get(QUERY, &rotated)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_admin_change_on_one_node_reaches_the_other_on_sqlite() {
    an_admin_change_on_one_node_reaches_the_other(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_admin_change_on_one_node_reaches_the_other_on_postgres() {
    an_admin_change_on_one_node_reaches_the_other(Backend::Postgres).await;
}

/// The admin API writes to the store, so the change counters carry its changes to other nodes.
async fn an_admin_change_on_one_node_reaches_the_other(backend: Backend) {
    let Some((a, b)) = two_nodes(backend).await else { return };
    let admin = a.client(&[Scope::API_CLIENTS_WRITE, Scope::DEVICES_READ]).await;
    let worker = a.client(&[Scope::DEVICES_READ]).await;
    b.state.refresh().await.expect("refresh b");
    let token = b.token(&worker).await;
    assert_eq!(b.send(bearer_get(QUERY, &token)).await.status, StatusCode::OK);

    let admin_token = a.token(&admin).await;
    let disable = Request::patch(format!("/api-clients/entities/clients/v1/{}", worker.id()))
        .header("authorization", format!("Bearer {admin_token}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"enabled":false}"#))
        .expect("request");
    assert_eq!(a.send(disable).await.status, StatusCode::OK);
    assert_eq!(a.send(bearer_get(QUERY, &token)).await.status, StatusCode::UNAUTHORIZED, "at once on node A");
    b.state.refresh().await.expect("refresh b");
    assert_eq!(b.send(bearer_get(QUERY, &token)).await.status, StatusCode::UNAUTHORIZED, "node B after its refresh");
}

#[tokio::test]
async fn an_admin_change_costs_each_node_the_rows_it_changed_on_sqlite() {
    an_admin_change_costs_each_node_the_rows_it_changed(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_admin_change_costs_each_node_the_rows_it_changed_on_postgres() {
    an_admin_change_costs_each_node_the_rows_it_changed(Backend::Postgres).await;
}

/// How many client rows `node` has read into its snapshot so far.
fn sync_rows(node: &Harness) -> u64 {
    let text = node.state.metrics().render();
    let line = text.lines().find(|l| l.starts_with("talon_client_sync_rows_total ")).expect("the metric is rendered");
    line.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a count")
}

/// With hundreds of clients, one admin change makes the node that made it, and the other node on its
/// refresh, read one client row each (incremental sync), not every client; a deletion likewise.
async fn an_admin_change_costs_each_node_the_rows_it_changed(backend: Backend) {
    let Some((a, b)) = two_nodes(backend).await else { return };
    let admin = a.client(&[Scope::API_CLIENTS_WRITE, Scope::DEVICES_READ]).await;
    let worker = a.client(&[Scope::DEVICES_READ]).await;
    let cid = a.store.default_customer().await.expect("cid");
    let many: Vec<_> = (0..300)
        .map(|i| {
            let spec = talon_auth::ClientSpec::new(
                format!("bulk {i}"),
                [Scope::DEVICES_READ].into_iter().collect(),
                cid.clone(),
            );
            let (client, _) = talon_auth::ApiClient::generate(spec, NOW);
            let entry = talon_store::AuditEntry {
                id: format!("bulk-{i}"),
                at: NOW,
                actor: "test".into(),
                action: "client.import".into(),
                target: Some(client.id.to_string()),
                source_ip: "127.0.0.1".into(),
                trace_id: String::new(),
                details: String::new(),
            };
            (client, entry)
        })
        .collect();
    a.store.create_clients_audited(&many).await.expect("import");
    a.state.refresh().await.expect("refresh a");
    b.state.refresh().await.expect("refresh b");
    assert_eq!(a.state.auth().clients().len(), 302);
    assert_eq!(b.state.auth().clients().len(), 302);
    let (before_a, before_b) = (sync_rows(&a), sync_rows(&b));
    assert!(before_b >= 302, "node B read every client once: {before_b}");

    let admin_token = a.token(&admin).await;
    let worker_token = b.token(&worker).await;
    let disable = Request::patch(format!("/api-clients/entities/clients/v1/{}", worker.id()))
        .header("authorization", format!("Bearer {admin_token}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"enabled":false}"#))
        .expect("request");
    assert_eq!(a.send(disable).await.status, StatusCode::OK);
    assert_eq!(sync_rows(&a) - before_a, 1, "node A applied its own change: one row");
    b.state.refresh().await.expect("refresh b");
    assert_eq!(sync_rows(&b) - before_b, 1, "node B read the one changed row");
    assert_eq!(b.send(bearer_get(QUERY, &worker_token)).await.status, StatusCode::UNAUTHORIZED);

    let delete = Request::delete(format!("/api-clients/entities/clients/v1/{}", many[7].0.id))
        .header("authorization", format!("Bearer {admin_token}"))
        .body(Body::empty())
        .expect("request");
    assert_eq!(a.send(delete).await.status, StatusCode::OK);
    b.state.refresh().await.expect("refresh b");
    assert_eq!(sync_rows(&b) - before_b, 2, "and one tombstone");
    assert!(b.state.auth().client(&many[7].0.id).is_none());
    assert_eq!(b.state.auth().clients().len(), 301);
}

#[tokio::test]
async fn generic_records_written_on_one_node_are_served_by_the_other_on_sqlite() {
    generic_records_written_on_one_node_are_served_by_the_other(Backend::Sqlite).await;
}

#[tokio::test]
async fn generic_records_written_on_one_node_are_served_by_the_other_on_postgres() {
    generic_records_written_on_one_node_are_served_by_the_other(Backend::Postgres).await;
}

/// Each node caches the generic engine's records; a write on one node (or by another process) reaches the
/// other through the store's entities counter, at its next refresh.
async fn generic_records_written_on_one_node_are_served_by_the_other(backend: Backend) {
    const POLICIES: &str = "/policy/queries/prevention/v1";
    let Some((a, b)) = two_nodes(backend).await else { return };
    let scopes = [
        Scope::parse("prevention-policies:read").expect("scope"),
        Scope::parse("prevention-policies:write").expect("scope"),
    ];
    let creds = a.client(&scopes).await;
    b.state.refresh().await.expect("refresh");
    let token = a.token(&creds).await;
    async fn total(node: &Harness, token: &str) -> serde_json::Value {
        node.send(bearer_get(POLICIES, token)).await.json()["meta"]["pagination"]["total"].clone()
    }
    // Both nodes cache the empty resource first; a second query reads no store.
    assert_eq!((total(&a, &token).await, total(&b, &token).await), (serde_json::json!(0), serde_json::json!(0)));
    let loads = |node: &Harness| node.state.metrics().entity_cache_loads.get();
    let before = loads(&a);
    total(&a, &token).await;
    assert_eq!(loads(&a), before, "the second query is answered from the cache");
    let created = a.send(bearer_json_post("/policy/entities/prevention/v1", &token, r#"{"name": "p"}"#)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(total(&a, &token).await, 1, "the writing node serves its write at once");
    assert_eq!(loads(&a), before + 1, "its write dropped the resource, read again once");
    assert_eq!(total(&b, &token).await, 0, "the other node serves its cache until its refresh");
    b.state.refresh().await.expect("refresh");
    assert_eq!(total(&b, &token).await, 1, "the other node after its refresh");
    // A write by another process (the store directly, as `talon fixtures load` does).
    let cid = a.state.store().default_customer().await.expect("cid");
    let record = serde_json::json!({"id": "from-cli", "name": "q"}).as_object().cloned().expect("object");
    let batch =
        (cid, "policy/prevention".to_owned(), vec![talon_store::StoredEntity { id: "from-cli".into(), record }]);
    a.state.store().put_entity_batches(&[batch], talon_store::RESOURCE_CAP).await.expect("load").expect("within");
    for node in [&a, &b] {
        node.state.refresh().await.expect("refresh");
        assert_eq!(total(node, &token).await, 2);
    }
}
