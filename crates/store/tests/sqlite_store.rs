//! The store's behaviour on SQLite: initialisation, clients, change counters, revocations, hosts.

use std::sync::Arc;

use talon_auth::{ApiClient, ClientChanges, ClientId, ClientSecret, ClientSpec, CustomerId};
use talon_emulator::{demo, DeviceAction, HostQuery, HostSort, HostStatus};
use talon_store::{open, Store, StoreError, UnknownHosts};
use talon_wire::{Scope, ScopeSet};

const NOW: i64 = 1_800_000_000;

async fn fresh() -> (tempfile::TempDir, Arc<dyn Store>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("talon.db").display());
    let store = open(&url, NOW).await.expect("open");
    (dir, store, url)
}

fn client(cid: &CustomerId, members: Vec<CustomerId>) -> ApiClient {
    let spec = ClientSpec {
        name: "ci".into(),
        description: "d".into(),
        scopes: [Scope::DEVICES_READ].into_iter().collect(),
        cid: cid.clone(),
        member_cids: members,
        allowed_ips: vec!["10.0.0.0/8".parse().expect("cidr")],
        enabled: true,
    };
    ApiClient::new(ClientId::generate(), spec, ClientSecret::generate().digest(), NOW)
}

#[tokio::test]
async fn opening_initialises_once_and_reopening_keeps_state() {
    let (_dir, store, url) = fresh().await;
    let cid = store.default_customer().await.expect("default customer");
    let keys = store.signing_keys().await.expect("keys");
    assert_eq!(keys.len(), 1);
    drop(store);
    let again = open(&url, NOW + 5).await.expect("reopen");
    assert_eq!(again.default_customer().await.expect("cid"), cid);
    let keys_again = again.signing_keys().await.expect("keys");
    assert_eq!(keys_again.len(), 1);
    assert_eq!(keys_again[0].kid, keys[0].kid);
}

#[tokio::test]
async fn concurrent_first_opens_create_one_customer_and_one_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("race.db").display());
    let opens = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { open(&url, NOW).await.map(|_| ()) })
    });
    for o in opens {
        o.await.expect("join").expect("open");
    }
    let store = open(&url, NOW).await.expect("open");
    assert_eq!(store.customers().await.expect("customers").len(), 1);
    assert_eq!(store.signing_keys().await.expect("keys").len(), 1);
}

#[tokio::test]
async fn clients_round_trip_and_bump_the_change_counter() {
    let (_dir, store, _) = fresh().await;
    let cid = store.default_customer().await.expect("cid");
    let member = CustomerId::generate();
    let v0 = store.change_version().await.expect("version");

    let mut c = client(&cid, vec![member.clone()]);
    store.create_client(&c).await.expect("create");
    assert_eq!(store.client(&c.id).await.expect("get"), Some(c.clone()));
    assert!(matches!(store.create_client(&c).await, Err(StoreError::ClientExists(_))));
    let v1 = store.change_version().await.expect("version");
    assert!(v1.clients > v0.clients);
    assert!(v1.customers > v0.customers, "the member CID became a customer");
    assert!(store.customers().await.expect("customers").contains(&member));

    c.apply(ClientChanges { enabled: Some(false), scopes: Some(ScopeSet::all()), ..Default::default() }, NOW + 1);
    assert!(store.update_client(&c).await.expect("update"));
    assert_eq!(store.client(&c.id).await.expect("get"), Some(c.clone()));
    let v2 = store.change_version().await.expect("version");
    assert!(v2.clients > v1.clients);

    store.record_last_used(&[(c.id.clone(), NOW + 9)]).await.expect("last used");
    assert_eq!(store.client(&c.id).await.expect("get").and_then(|c| c.last_used_at), Some(NOW + 9));
    assert_eq!(store.change_version().await.expect("version").clients, v2.clients, "use is not a change");

    assert!(store.delete_client(&c.id).await.expect("delete"));
    assert!(!store.delete_client(&c.id).await.expect("delete again"));
    assert_eq!(store.client(&c.id).await.expect("get"), None);
    assert!(!store.update_client(&c).await.expect("update of deleted"));
    assert!(store.change_version().await.expect("version").clients > v2.clients);
}

#[tokio::test]
async fn first_client_is_created_only_once() {
    let (_dir, store, _) = fresh().await;
    let cid = store.default_customer().await.expect("cid");
    assert!(store.create_first_client(&client(&cid, vec![])).await.expect("first"));
    assert!(!store.create_first_client(&client(&cid, vec![])).await.expect("second"));
    assert_eq!(store.clients().await.expect("clients").len(), 1);
}

#[tokio::test]
async fn revocations_persist_in_order_and_expire() {
    let (_dir, store, url) = fresh().await;
    let id = ClientId::generate();
    store.revoke_token("a", &id, NOW + 100, NOW).await.expect("revoke");
    store.revoke_token("b", &id, NOW + 200, NOW).await.expect("revoke");
    store.revoke_token("a", &id, NOW + 100, NOW).await.expect("revoke twice is fine");
    drop(store);
    let store = open(&url, NOW).await.expect("reopen");
    let all = store.revocations_after(0, NOW).await.expect("list");
    assert_eq!(all.iter().map(|r| r.jti.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    let newer = store.revocations_after(all[0].seq, NOW).await.expect("list");
    assert_eq!(newer.len(), 1);
    assert_eq!(store.revocations_after(0, NOW + 150).await.expect("list").len(), 1, "expired ones are skipped");
    assert_eq!(store.prune_revocations(NOW + 150).await.expect("prune"), 1);
}

#[tokio::test]
async fn hosts_query_sort_page_and_act_all_or_nothing() {
    let (_dir, store, _) = fresh().await;
    let cid = store.default_customer().await.expect("cid");
    let hosts = demo::generate(&cid, 30);
    store.insert_hosts(&hosts).await.expect("insert");
    store.insert_hosts(&hosts).await.expect("insert again is a no-op");
    assert_eq!(store.host_count(&cid).await.expect("count"), 30);
    assert_eq!(store.host_count(&CustomerId::generate()).await.expect("count"), 0);

    let by_ip = HostQuery { offset: 0, limit: 30, sort: Some(HostSort::parse("local_ip.asc").expect("sort")) };
    let (ids, total) = store.query_hosts(&cid, &by_ip).await.expect("query");
    assert_eq!(total, 30);
    let ips: Vec<u32> =
        ids.iter().map(|id| u32::from(hosts.iter().find(|h| &h.device_id == id).expect("host").local_ip)).collect();
    assert!(ips.windows(2).all(|w| w[0] <= w[1]), "sorted numerically, not as text");

    let page = HostQuery { offset: 28, limit: 5, sort: Some(HostSort::parse("hostname.desc").expect("sort")) };
    let (ids, total) = store.query_hosts(&cid, &page).await.expect("query");
    assert_eq!((ids.len(), total), (2, 30));

    let a = hosts[0].device_id.clone();
    let unknown = "f".repeat(32);
    let outcome = store.apply_host_action(&cid, &[a.clone(), unknown.clone()], DeviceAction::Contain).await;
    assert_eq!(outcome.expect("query"), Err(UnknownHosts(vec![unknown])));
    let contained = |store: Arc<dyn Store>, id: String| async move {
        let q = HostQuery { offset: 0, limit: 100, sort: Some(HostSort::parse("status.asc").expect("sort")) };
        let (ids, _) = store.query_hosts(&cid_of(&store).await, &q).await.expect("q");
        ids.first() == Some(&id)
    };
    assert!(!contained(store.clone(), a.clone()).await, "nothing changed after a refused action");

    store
        .apply_host_action(&cid, std::slice::from_ref(&a), DeviceAction::Contain)
        .await
        .expect("query")
        .expect("applied");
    assert!(contained(store.clone(), a.clone()).await, "contained sorts before normal");
    assert_eq!(HostStatus::Contained.as_str(), "contained");

    store.apply_host_action(&cid, std::slice::from_ref(&a), DeviceAction::HideHost).await.expect("q").expect("hidden");
    assert_eq!(store.query_hosts(&cid, &by_ip).await.expect("query").1, 29, "hidden hosts leave queries");
    let again = store.apply_host_action(&cid, std::slice::from_ref(&a), DeviceAction::Contain).await.expect("q");
    assert!(again.is_err(), "a hidden host takes only unhide");
    store.apply_host_action(&cid, &[a], DeviceAction::UnhideHost).await.expect("q").expect("unhidden");
    assert_eq!(store.query_hosts(&cid, &by_ip).await.expect("query").1, 30);

    // Another customer cannot act on these hosts.
    let other = CustomerId::generate();
    let outcome = store.apply_host_action(&other, &[hosts[1].device_id.clone()], DeviceAction::Contain).await;
    assert!(outcome.expect("q").is_err());
}

async fn cid_of(store: &Arc<dyn Store>) -> CustomerId {
    store.default_customer().await.expect("cid")
}
