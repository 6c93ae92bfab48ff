//! The store suite: one set of behaviours (initialisation, clients, change counters, revocations, hosts)
//! run against every backend. PostgreSQL runs on the local test server and fails loudly without it.

use std::sync::Arc;
use std::time::Duration;

use talon_auth::{ApiClient, ClientChanges, ClientId, ClientSecret, ClientSpec, CustomerId};
use talon_emulator::{demo, DeviceAction, HostStatus};
use talon_store::clients::FROM_THE_START;
use talon_store::{
    copy, open, AuditEntry, ClientQuery, ClientSort, CopyReport, RevocationCursor, SortKey, Store, StoreError,
    UnknownHosts,
};
use talon_testkit::{Backend, TestDb};
use talon_wire::{Scope, ScopeSet};

const NOW: i64 = 1_800_000_000;

/// Runs each named test against SQLite and PostgreSQL.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(talon_testkit::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(talon_testkit::Backend::Postgres).await })*
        }
    };
}

suite!(
    opening_initialises_once_and_reopening_keeps_state,
    concurrent_first_opens_create_one_customer_and_one_key,
    clients_round_trip_and_bump_the_change_counter,
    first_client_is_created_only_once,
    revocations_persist_and_expire,
    hosts_read_back_and_actions_are_all_or_nothing,
    secret_reset_writes_only_the_secret,
    a_new_signing_key_bumps_the_keys_counter,
    retiring_a_key_is_stored_kept_at_its_earliest_and_bumps_the_keys_counter,
    concurrent_host_actions_all_apply,
    concurrent_client_changes_all_apply,
    copy_from_sqlite_moves_everything_idempotently,
    policy_settings_are_stored_per_customer,
    concurrent_policy_changes_all_apply_and_refusals_write_nothing,
    audit_log_pages_newest_first_and_ignores_repeats,
    audited_writes_store_their_entry_only_when_they_change_something,
    clients_stored_under_legacy_scope_names_read_and_migrate_to_falcon_names,
    hosts_stored_before_device_records_migrate_whole,
    host_groups_are_stored_per_customer_all_or_nothing_and_move_the_host_version,
    generic_records_are_kept_per_customer_and_resource_in_creation_order_all_or_nothing,
    fixture_batches_are_written_in_one_transaction,
    an_import_batch_is_written_whole_or_not_at_all,
    client_changes_give_what_changed_after_a_sequence_and_nothing_else,
    a_reader_of_client_changes_misses_no_concurrent_change,
    the_client_listing_filters_sorts_and_seeks_in_the_database,
    a_target_whose_default_customer_had_demo_data_adopts_the_source_default,
);

/// A fresh database of `backend`, opened; `None` only when PostgreSQL was explicitly skipped.
async fn fresh(backend: Backend) -> Option<(TestDb, Arc<dyn Store>)> {
    let db = TestDb::fresh(backend).await?;
    let store = open(&db.url, NOW).await.unwrap_or_else(|e| panic!("open {backend}: {e}"));
    Some((db, store))
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

async fn opening_initialises_once_and_reopening_keeps_state(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let url = db.url.clone();
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

async fn concurrent_first_opens_create_one_customer_and_one_key(backend: Backend) {
    let Some(db) = TestDb::fresh(backend).await else { return };
    let url = db.url.clone();
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

async fn clients_round_trip_and_bump_the_change_counter(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
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

async fn first_client_is_created_only_once(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    // Several processes starting at once: exactly one first client.
    let attempts = (0..4).map(|_| {
        let (url, cid) = (db.url.clone(), cid.clone());
        tokio::spawn(async move {
            let store = open(&url, NOW).await.expect("open");
            store.create_first_client(&client(&cid, vec![])).await.expect("create first")
        })
    });
    let mut created = 0;
    for a in attempts {
        created += usize::from(a.await.expect("join"));
    }
    assert_eq!(created, 1);
    assert!(!store.create_first_client(&client(&cid, vec![])).await.expect("again"));
    assert_eq!(store.clients().await.expect("clients").len(), 1);
}

async fn revocations_persist_and_expire(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let id = ClientId::generate();
    store.revoke_token("a", &id, NOW + 100, NOW).await.expect("revoke");
    store.revoke_token("b", &id, NOW + 200, NOW).await.expect("revoke");
    store.revoke_token("a", &id, NOW + 100, NOW).await.expect("revoke twice is fine");
    drop(store);
    let store = open(&db.url, NOW).await.expect("reopen");
    let (all, cursor) = store.revocations_since(RevocationCursor::default(), NOW).await.expect("list");
    let mut jtis: Vec<_> = all.iter().map(|r| r.jti.as_str()).collect();
    jtis.sort();
    assert_eq!(jtis, ["a", "b"]);
    store.revoke_token("c", &id, NOW + 300, NOW).await.expect("revoke");
    let (newer, _) = store.revocations_since(cursor, NOW).await.expect("list");
    assert!(newer.iter().any(|r| r.jti == "c" && r.expires_at == NOW + 300), "a later revocation is seen");
    let (live, _) = store.revocations_since(RevocationCursor::default(), NOW + 150).await.expect("list");
    assert_eq!(live.len(), 2, "expired ones are skipped");
    assert_eq!(store.prune_revocations(NOW + 150).await.expect("prune"), 1);
}

async fn hosts_read_back_and_actions_are_all_or_nothing(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let hosts = demo::generate(&cid, 30, NOW);
    store.insert_hosts(&hosts).await.expect("insert");
    store.insert_hosts(&hosts).await.expect("insert again is a no-op");
    assert_eq!(store.host_count(&cid).await.expect("count"), 30);
    assert_eq!(store.host_count(&CustomerId::generate()).await.expect("count"), 0);

    let v0 = store.change_version().await.expect("version");
    let mut stored = store.customer_hosts(&cid).await.expect("hosts");
    let mut expected = hosts.clone();
    expected.sort_by(|a, b| a.device_id().cmp(b.device_id()));
    stored.sort_by(|a, b| a.device_id().cmp(b.device_id()));
    assert_eq!(stored, expected, "hosts read back exactly as written");
    assert!(store.customer_hosts(&CustomerId::generate()).await.expect("hosts").is_empty());

    let a = hosts[0].device_id().to_owned();
    let unknown = "f".repeat(32);
    let outcome = store.apply_host_action(&cid, &[a.clone(), unknown.clone()], DeviceAction::Contain, NOW).await;
    assert_eq!(outcome.expect("query"), Err(UnknownHosts(vec![unknown])));
    let status_of = |store: Arc<dyn Store>, id: String| {
        let cid = cid.clone();
        async move { store.hosts(&cid, &[id]).await.expect("hosts").first().map(talon_emulator::Host::status) }
    };
    assert_eq!(status_of(store.clone(), a.clone()).await, Some(HostStatus::Normal), "a refused action changes nothing");

    store
        .apply_host_action(&cid, std::slice::from_ref(&a), DeviceAction::Contain, NOW)
        .await
        .expect("query")
        .expect("applied");
    assert_eq!(status_of(store.clone(), a.clone()).await, Some(HostStatus::Contained));
    assert!(store.change_version().await.expect("version").hosts > v0.hosts, "an action is a change of hosts");
    let fetched = store.hosts(&cid, &[a.clone(), "0".repeat(32)]).await.expect("hosts");
    assert_eq!(fetched.len(), 1, "unknown IDs are left out");
    assert_eq!(fetched[0].record().hostname, hosts[0].record().hostname, "a host reads back as written");

    store
        .apply_host_action(&cid, std::slice::from_ref(&a), DeviceAction::HideHost, NOW)
        .await
        .expect("q")
        .expect("hidden");
    let hidden = |store: Arc<dyn Store>, cid: CustomerId| async move {
        store.customer_hosts(&cid).await.expect("hosts").iter().filter(|h| h.hidden()).count()
    };
    assert_eq!(hidden(store.clone(), cid.clone()).await, 1);
    let again = store.apply_host_action(&cid, std::slice::from_ref(&a), DeviceAction::Contain, NOW).await.expect("q");
    assert!(again.is_err(), "a hidden host takes only unhide");
    store.apply_host_action(&cid, &[a], DeviceAction::UnhideHost, NOW).await.expect("q").expect("unhidden");
    assert_eq!(hidden(store.clone(), cid.clone()).await, 0);

    // Another customer cannot act on these hosts.
    let other = CustomerId::generate();
    let outcome = store.apply_host_action(&other, &[hosts[1].device_id().to_owned()], DeviceAction::Contain, NOW).await;
    assert!(outcome.expect("q").is_err());
}

async fn secret_reset_writes_only_the_secret(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let original = client(&cid, vec![]);
    store.create_client(&original).await.expect("create");
    // An update made from an older copy...
    let mut renamed = original.clone();
    renamed.apply(ClientChanges { name: Some("renamed".into()), ..Default::default() }, NOW + 1);
    // ...and a secret reset from another.
    let mut reset = original.clone();
    let secret = ClientSecret::generate();
    reset.reset_secret(secret.digest(), NOW + 2);
    let v0 = store.change_version().await.expect("version");
    assert!(store.set_secret(&reset).await.expect("reset"));
    assert!(store.change_version().await.expect("version").clients > v0.clients, "a reset is a change");
    assert!(store.update_client(&renamed).await.expect("update"));
    let stored = store.client(&original.id).await.expect("get").expect("exists");
    assert!(stored.secret_digest.matches(secret.expose()), "the update did not undo the reset");
    assert_eq!(stored.tokens_not_before, NOW + 2);
    assert_eq!(stored.name, "renamed");
    // A reset from a node whose clock is behind cannot move tokens_not_before back.
    let mut late = original.clone();
    late.reset_secret(ClientSecret::generate().digest(), NOW + 1);
    assert!(store.set_secret(&late).await.expect("late reset"));
    assert_eq!(store.client(&original.id).await.expect("get").expect("exists").tokens_not_before, NOW + 2);
    assert!(!store.set_secret(&client(&cid, vec![])).await.expect("unknown"), "no such client");
}

async fn a_new_signing_key_bumps_the_keys_counter(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let v0 = store.change_version().await.expect("version");
    store.add_signing_key(&talon_auth::SigningKey::generate(NOW + 1)).await.expect("add key");
    assert!(store.change_version().await.expect("version").keys > v0.keys);
    assert_eq!(store.signing_keys().await.expect("keys").len(), 2);
}

async fn concurrent_client_changes_all_apply(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let original = client(&cid, vec![]);
    store.create_client(&original).await.expect("create");
    // Sixteen admins at once, each adding its own allowed network: a read-modify-write outside the
    // store's transaction would keep only some of them.
    let changes = (0..16u8).map(|i| {
        let (store, id) = (store.clone(), original.id.clone());
        tokio::spawn(async move {
            let net: ipnet::IpNet = format!("10.0.{i}.0/24").parse().expect("net");
            let add = move |c: &mut ApiClient| c.allowed_ips.push(net);
            store.modify_client_audited(&id, &add, None).await
        })
    });
    for change in changes {
        change.await.expect("join").expect("no store error under concurrency").expect("the client exists");
    }
    let stored = store.client(&original.id).await.expect("get").expect("exists");
    assert_eq!(
        stored.allowed_ips.len(),
        original.allowed_ips.len() + 16,
        "every change kept: {:?}",
        stored.allowed_ips
    );
    let none = store.modify_client_audited(&client(&cid, vec![]).id, &|_: &mut ApiClient| {}, None).await;
    assert!(none.expect("no error").is_none(), "an unknown client is no write");
}

async fn concurrent_host_actions_all_apply(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let hosts = demo::generate(&cid, 16, NOW);
    store.insert_hosts(&hosts).await.expect("insert");
    let actions = hosts.iter().map(|h| {
        let (store, cid, id) = (store.clone(), cid.clone(), h.device_id().to_owned());
        tokio::spawn(async move { store.apply_host_action(&cid, &[id], DeviceAction::Contain, NOW).await })
    });
    for a in actions {
        a.await.expect("join").expect("no store error under concurrency").expect("applied");
    }
    let ids: Vec<String> = hosts.iter().map(|h| h.device_id().to_owned()).collect();
    let after = store.hosts(&cid, &ids).await.expect("hosts");
    assert!(after.iter().all(|h| h.status() == HostStatus::Contained));
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::sqlite();
    let _store = open(&db.url, NOW).await.expect("open");
    let path = db.url.trim_start_matches("sqlite://");
    let mode = std::fs::metadata(path).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file holds private signing keys");
}

async fn retiring_a_key_is_stored_kept_at_its_earliest_and_bumps_the_keys_counter(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let kid = store.signing_keys().await.expect("keys")[0].kid.clone();
    let v0 = store.change_version().await.expect("version");
    assert!(store.retire_signing_key(&kid, NOW + 1800).await.expect("retire"));
    assert!(store.change_version().await.expect("version").keys > v0.keys, "other nodes learn of it");
    let retired_at =
        |keys: Vec<talon_auth::SigningKey>| keys.into_iter().find(|k| k.kid == kid).expect("key").retired_at;
    assert_eq!(retired_at(store.signing_keys().await.expect("keys")), Some(NOW + 1800));
    // `--now` after a graceful retirement brings it forward; a later one never pushes it back.
    assert!(store.retire_signing_key(&kid, NOW).await.expect("retire now"));
    assert!(store.retire_signing_key(&kid, NOW + 9999).await.expect("retire later"));
    assert_eq!(retired_at(store.signing_keys().await.expect("keys")), Some(NOW));
    assert!(!store.retire_signing_key("no-such-kid", NOW).await.expect("unknown"), "unknown kid");
    // A retired key keeps its retirement when it is stored elsewhere (`talon db copy`).
    let mut moved = talon_auth::SigningKey::generate(NOW + 1);
    moved.retired_at = Some(NOW + 5);
    let moved_kid = moved.kid.clone();
    store.add_signing_key(&moved).await.expect("add retired key");
    let stored = store.signing_keys().await.expect("keys").into_iter().find(|k| k.kid == moved_kid).expect("k");
    assert_eq!(stored.retired_at, Some(NOW + 5));
}

async fn copy_from_sqlite_moves_everything_idempotently(backend: Backend) {
    let source_db = TestDb::sqlite();
    let source = open(&source_db.url, NOW).await.expect("open source");
    let Some((_db, target)) = fresh(backend).await else { return };
    let cid = source.default_customer().await.expect("cid");
    let member = CustomerId::generate();
    let c = client(&cid, vec![member.clone()]);
    source.create_client(&c).await.expect("client");
    source.add_signing_key(&talon_auth::SigningKey::generate(NOW + 1)).await.expect("key");
    source.revoke_token("jti-1", &c.id, NOW + 900, NOW).await.expect("revoke");
    let hosts = demo::generate(&cid, 5, NOW);
    source.insert_hosts(&hosts).await.expect("hosts");
    source
        .apply_host_action(&cid, &[hosts[0].device_id().to_owned()], DeviceAction::Contain, NOW)
        .await
        .expect("q")
        .expect("contained");

    let setting = talon_emulator::policy::Policy::find(4).expect("policy").default_setting();
    source
        .save_policy_settings(&cid, &[talon_emulator::policy::PolicySetting { enabled: false, ..setting }])
        .await
        .expect("policy");

    source.append_audit(&audit("a1", NOW, "client.create")).await.expect("audit");
    source.append_audit(&audit("a2", NOW, "client.delete")).await.expect("audit");
    let group = stored_group(&"a".repeat(32), "Web");
    source.create_host_groups(&cid, std::slice::from_ref(&group)).await.expect("store").expect("group");
    let records = [entity("p1", "first"), entity("p2", "second")];
    let put = source.put_entities(
        &member,
        "policy/prevention",
        &records,
        talon_store::OnExisting::Refuse,
        talon_store::EntityCap::NONE,
    );
    put.await.expect("store").expect("records");

    let report = copy(&*source, &*target, NOW).await.expect("copy");
    assert_eq!(
        report,
        CopyReport {
            customers: 1,
            clients: 1,
            keys: 2,
            revocations: 1,
            hosts: 5,
            policy_settings: 1,
            host_groups: 1,
            entities: 2,
            audit_entries: 2
        }
    );
    assert_eq!(target.host_groups(&cid).await.expect("groups"), vec![group]);
    assert_eq!(target.entities(&member, "policy/prevention").await.expect("records"), records, "in creation order");
    let (moved_audit, _) = target.audit_entries(0, 10).await.expect("audit");
    assert_eq!(moved_audit.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a2", "a1"], "same order, newest first");
    assert_eq!(target.policy_settings(&cid).await.expect("settings"), source.policy_settings(&cid).await.expect("s"));
    assert_eq!(target.default_customer().await.expect("cid"), cid, "the default customer moved");
    assert_eq!(target.client(&c.id).await.expect("get"), Some(c.clone()));
    let mut kids: Vec<_> = source.signing_keys().await.expect("k").into_iter().map(|k| k.kid).collect();
    let target_kids: Vec<_> = target.signing_keys().await.expect("k").into_iter().map(|k| k.kid).collect();
    kids.retain(|k| !target_kids.contains(k));
    assert!(kids.is_empty(), "every source key is in the target");
    let (revoked, _) = target.revocations_since(RevocationCursor::default(), NOW).await.expect("r");
    assert!(revoked.iter().any(|r| r.jti == "jti-1" && r.client_id == c.id));
    let moved = target.hosts(&cid, &[hosts[0].device_id().to_owned()]).await.expect("hosts");
    assert_eq!(moved[0].status(), HostStatus::Contained, "host state moved");
    assert!(target.customers().await.expect("customers").contains(&member));

    let again = copy(&*source, &*target, NOW).await.expect("copy again");
    assert_eq!(again, CopyReport::default(), "a second copy finds nothing new");

    // A target with clients of its own under another default customer is refused, and left alone.
    let other_db = TestDb::sqlite();
    let other = open(&other_db.url, NOW).await.expect("open");
    let own = client(&other.default_customer().await.expect("cid"), vec![]);
    other.create_client(&own).await.expect("client");
    assert!(matches!(copy(&*source, &*other, NOW).await, Err(StoreError::Conflict(_))));
    assert_eq!(other.clients().await.expect("clients").len(), 1);
}

async fn policy_settings_are_stored_per_customer(backend: Backend) {
    use talon_emulator::policy::{PolicySetting, Severity};
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    assert!(store.policy_settings(&cid).await.expect("settings").is_empty(), "defaults are not stored");
    let mut setting = PolicySetting {
        policy_id: 4,
        enabled: false,
        severity: Severity::Low,
        regions: vec!["eu-west-1".into()],
        tag_excluded: true,
    };
    store.save_policy_settings(&cid, std::slice::from_ref(&setting)).await.expect("save");
    setting.severity = Severity::Critical;
    store.save_policy_settings(&cid, std::slice::from_ref(&setting)).await.expect("save again updates");
    assert_eq!(store.policy_settings(&cid).await.expect("settings"), vec![setting]);
    let other = client(&CustomerId::generate(), vec![]);
    store.create_client(&other).await.expect("another customer");
    assert!(store.policy_settings(&other.cid).await.expect("settings").is_empty(), "per customer");
}

async fn concurrent_policy_changes_all_apply_and_refusals_write_nothing(backend: Backend) {
    use talon_emulator::policy::{PolicyChange, PolicyError, Severity, CATALOGUE};
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    // Four updates per policy, each changing another field, all at once: a read-modify-write that is not
    // serialized loses some of them.
    let mut tasks = Vec::new();
    for policy in CATALOGUE {
        let changes = [
            PolicyChange { policy_id: policy.id, enabled: Some(false), ..Default::default() },
            PolicyChange { policy_id: policy.id, severity: Some(Severity::Critical), ..Default::default() },
            PolicyChange {
                policy_id: policy.id,
                regions: Some(vec![policy.cloud.regions()[0].into()]),
                ..Default::default()
            },
            PolicyChange { policy_id: policy.id, tag_excluded: Some(true), ..Default::default() },
        ];
        for change in changes {
            let (store, cid) = (store.clone(), cid.clone());
            tasks.push(tokio::spawn(async move { store.change_policy_settings(&cid, &[change]).await }));
        }
    }
    for task in tasks {
        task.await.expect("task").expect("store").expect("valid change");
    }
    let settings = store.policy_settings(&cid).await.expect("settings");
    assert_eq!(settings.len(), CATALOGUE.len());
    for s in &settings {
        assert!(
            !s.enabled
                && s.severity == Severity::Critical
                && s.regions.len() == 1
                && talon_emulator::policy::Policy::find(s.policy_id)
                    .is_some_and(|p| p.cloud.regions()[0] == s.regions[0])
                && s.tag_excluded,
            "a concurrent change of policy {} was lost: {s:?}",
            s.policy_id
        );
    }

    // A batch with one unknown policy changes nothing, not even the valid part.
    let other = client(&CustomerId::generate(), vec![]);
    store.create_client(&other).await.expect("another customer");
    let batch = [
        PolicyChange { policy_id: 4, enabled: Some(false), ..Default::default() },
        PolicyChange { policy_id: 999, ..Default::default() },
    ];
    let refused = store.change_policy_settings(&other.cid, &batch).await.expect("store");
    assert!(matches!(refused, Err(PolicyError::UnknownPolicy(_))), "{refused:?}");
    assert!(store.policy_settings(&other.cid).await.expect("settings").is_empty(), "nothing written");
}

fn audit(id: &str, at: i64, action: &str) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        at,
        actor: "0123456789abcdef0123456789abcdef".into(),
        action: action.into(),
        target: Some("fedcba9876543210fedcba9876543210".into()),
        source_ip: "203.0.113.7".into(),
        trace_id: "trace".into(),
        details: "name=\"x\"".into(),
    }
}

async fn audit_log_pages_newest_first_and_ignores_repeats(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    assert_eq!(store.audit_entries(0, 10).await.expect("empty"), (vec![], 0));
    // Two entries in the same second keep the order they were written in.
    for (id, at) in [("e1", NOW), ("e2", NOW + 1), ("e3", NOW + 1), ("e4", NOW + 2)] {
        store.append_audit(&audit(id, at, "client.update")).await.expect("append");
    }
    let mut repeat = audit("e2", NOW + 9, "client.delete");
    repeat.details = "changed".into();
    store.append_audit(&repeat).await.expect("a repeated ID is not an error");
    let (page, total) = store.audit_entries(0, 3).await.expect("page");
    assert_eq!(total, 4, "the repeat was ignored");
    assert_eq!(page.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e4", "e3", "e2"]);
    assert_eq!(page[2], audit("e2", NOW + 1, "client.update"), "every field round-trips; the repeat changed nothing");
    let (rest, _) = store.audit_entries(3, 3).await.expect("page 2");
    assert_eq!(rest.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e1"]);
    let (all, _) = store.audit_entries(0, u64::MAX).await.expect("all");
    assert_eq!(all.len(), 4);
    let none_target = AuditEntry { target: None, ..audit("e5", NOW + 3, "auth.failure-burst") };
    store.append_audit(&none_target).await.expect("append");
    assert_eq!(store.audit_entries(0, 1).await.expect("page").0, vec![none_target]);
}

async fn audited_writes_store_their_entry_only_when_they_change_something(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let mut c = client(&cid, vec![]);
    store.create_client_audited(&c, Some(&audit("create", NOW, "client.create"))).await.expect("create");
    c.name = "renamed".into();
    assert!(store.update_client_audited(&c, Some(&audit("update", NOW, "client.update"))).await.expect("update"));
    assert!(store.set_secret_audited(&c, Some(&audit("reset", NOW, "client.reset-secret"))).await.expect("reset"));
    assert!(store.delete_client_audited(&c.id, Some(&audit("delete", NOW, "client.delete"))).await.expect("delete"));
    // The client is gone: these change nothing, so they record nothing.
    assert!(!store.update_client_audited(&c, Some(&audit("u2", NOW, "client.update"))).await.expect("update"));
    assert!(!store.set_secret_audited(&c, Some(&audit("r2", NOW, "client.reset-secret"))).await.expect("reset"));
    assert!(!store.delete_client_audited(&c.id, Some(&audit("d2", NOW, "client.delete"))).await.expect("delete"));
    // A create that fails (the ID exists) records nothing either.
    let again = client(&cid, vec![]);
    store.create_client(&again).await.expect("create");
    let duplicate = store.create_client_audited(&again, Some(&audit("dup", NOW, "client.create"))).await;
    assert!(matches!(duplicate, Err(StoreError::ClientExists(_))));
    let (entries, total) = store.audit_entries(0, 10).await.expect("audit");
    assert_eq!(total, 4);
    assert_eq!(entries.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["delete", "reset", "update", "create"]);
}

/// Two changes to one client where the first holds its transaction open between its read and its write
/// (its change sleeps) while the second starts: the second must wait for the first and see its change.
/// On a multi-thread runtime, so that the sleeping change does not stop the other.
async fn a_change_waits_for_one_in_flight(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let original = client(&cid, vec![]);
    store.create_client(&original).await.expect("create");
    let change = |store: Arc<dyn Store>, id: ClientId, net: &'static str, hold: Duration| {
        tokio::spawn(async move {
            let net: ipnet::IpNet = net.parse().expect("net");
            let add = move |c: &mut ApiClient| {
                c.allowed_ips.push(net);
                // Blocking on purpose: the row is read, the write not yet made.
                std::thread::sleep(hold);
            };
            store.modify_client_audited(&id, &add, None).await
        })
    };
    let slow = change(store.clone(), original.id.clone(), "192.0.2.0/24", Duration::from_millis(600));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let quick = change(store.clone(), original.id.clone(), "198.51.100.0/24", Duration::ZERO);
    slow.await.expect("join").expect("slow change").expect("exists");
    quick.await.expect("join").expect("quick change").expect("exists");
    let stored = store.client(&original.id).await.expect("get").expect("exists");
    let nets: Vec<String> = stored.allowed_ips.iter().map(ToString::to_string).collect();
    assert!(nets.contains(&"192.0.2.0/24".into()) && nets.contains(&"198.51.100.0/24".into()), "{nets:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_change_waits_for_one_in_flight() {
    a_change_waits_for_one_in_flight(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_change_waits_for_one_in_flight() {
    a_change_waits_for_one_in_flight(Backend::Postgres).await
}

/// A client stored before the scope catalogue took Falcon's names (`sample-uploads`, `ioa-exclusions`)
/// reads back with the Falcon names at once, and migration 0003 rewrites the stored row, leaving a name
/// that merely ends like a legacy one (`self-service-ioa-exclusions`) alone.
async fn clients_stored_under_legacy_scope_names_read_and_migrate_to_falcon_names(backend: Backend) {
    let Some((db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let stored = client(&cid, vec![]);
    store.create_client(&stored).await.expect("create");
    let legacy = r#"["devices:read","ioa-exclusions:write","sample-uploads:read","self-service-ioa-exclusions:read"]"#;
    let select = "SELECT scopes FROM api_clients WHERE client_id = $1";
    let update = "UPDATE api_clients SET scopes = $1 WHERE client_id = $2";
    let migration = match backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0003_falcon_scope_names.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0003_falcon_scope_names.sql"),
    };
    let expected: ScopeSet =
        ["devices:read", "self-service-ioa-exclusions:write", "samplestore:read", "self-service-ioa-exclusions:read"]
            .iter()
            .map(|s| Scope::parse(s).expect("scope"))
            .collect();
    let raw = match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.expect("connect");
            sqlx::query(update).bind(legacy).bind(stored.id.as_str()).execute(&pool).await.expect("legacy row");
            let read = store.client(&stored.id).await.expect("read").expect("client");
            assert_eq!(read.scopes, expected, "legacy names read as Falcon's before the migration");
            sqlx::raw_sql(migration).execute(&pool).await.expect("migration");
            sqlx::query_scalar::<_, String>(select).bind(stored.id.as_str()).fetch_one(&pool).await.expect("row")
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
            sqlx::query(update).bind(legacy).bind(stored.id.as_str()).execute(&pool).await.expect("legacy row");
            let read = store.client(&stored.id).await.expect("read").expect("client");
            assert_eq!(read.scopes, expected, "legacy names read as Falcon's before the migration");
            sqlx::raw_sql(migration).execute(&pool).await.expect("migration");
            sqlx::query_scalar::<_, String>(select).bind(stored.id.as_str()).fetch_one(&pool).await.expect("row")
        }
    };
    assert_eq!(
        raw,
        r#"["devices:read","self-service-ioa-exclusions:write","samplestore:read","self-service-ioa-exclusions:read"]"#
    );
    assert_eq!(store.client(&stored.id).await.expect("read").expect("client").scopes, expected);
}

/// Hosts written by a release before the device-record migration (0006) read back whole after it: each
/// column becomes the record's field, times RFC 3339, tags a list, the hidden flag kept.
async fn hosts_stored_before_device_records_migrate_whole(backend: Backend) {
    let Some(db) = TestDb::fresh(backend).await else { return };
    // The migrations of that release, applied by sqlx's own migrator: the versions and checksums are
    // the ones the store's embedded migrator then finds.
    let dialect = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    let earlier = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        if name.as_str() < "0006" {
            std::fs::copy(&path, earlier.path().join(&name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(earlier.path()).await.expect("migrator");
    let cid = CustomerId::generate();
    let (device, hidden_device) = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210");
    let old_row = "INSERT INTO hosts (device_id, cid, hostname, platform_name, os_version, local_ip, local_ip_num, \
        external_ip, external_ip_num, mac_address, agent_version, first_seen, last_seen, status, tags, hidden) VALUES \
        ($1, $2, 'WIN-OLD-0001', 'Windows', 'Windows 11', '10.1.2.3', 167838211, '203.0.113.9', 3405803785, \
        '00-50-56-aa-bb-cc', '7.18.18902.0', 1700000000, 1800000000, $3, $4, $5)";
    let customer = "INSERT INTO customers (cid, is_default, created_at) VALUES ($1, $2, 0)";
    match backend {
        Backend::Sqlite => {
            let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&db.url)
                .expect("url")
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.expect("connect");
            migrator.run(&pool).await.expect("earlier migrations");
            sqlx::query(customer).bind(cid.as_str()).bind(1).execute(&pool).await.expect("customer");
            for (id, status, tags, hidden) in
                [(device, "contained", r#"["FalconGroupingTags/Old"]"#, false), (hidden_device, "normal", "[]", true)]
            {
                let q = sqlx::query(old_row).bind(id).bind(cid.as_str()).bind(status).bind(tags).bind(hidden);
                q.execute(&pool).await.expect("old host");
            }
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
            migrator.run(&pool).await.expect("earlier migrations");
            sqlx::query(customer).bind(cid.as_str()).bind(true).execute(&pool).await.expect("customer");
            for (id, status, tags, hidden) in
                [(device, "contained", r#"["FalconGroupingTags/Old"]"#, false), (hidden_device, "normal", "[]", true)]
            {
                let q = sqlx::query(old_row).bind(id).bind(cid.as_str()).bind(status).bind(tags).bind(hidden);
                q.execute(&pool).await.expect("old host");
            }
            pool.close().await;
        }
    }
    let store = open(&db.url, NOW).await.expect("open runs the remaining migrations");
    assert_eq!(store.default_customer().await.expect("cid"), cid);
    let hosts = store.customer_hosts(&cid).await.expect("hosts");
    assert_eq!(hosts.len(), 2);
    let old = hosts.iter().find(|h| h.device_id() == device).expect("the old host");
    let r = old.record();
    assert_eq!(
        (r.hostname.as_str(), r.platform_name.as_str(), r.os_version.as_str()),
        ("WIN-OLD-0001", "Windows", "Windows 11")
    );
    assert_eq!((r.local_ip.as_str(), r.external_ip.as_str()), ("10.1.2.3", "203.0.113.9"));
    assert_eq!((r.mac_address.as_str(), r.agent_version.as_str()), ("00-50-56-aa-bb-cc", "7.18.18902.0"));
    assert_eq!((r.first_seen.as_str(), r.last_seen.as_str()), ("2023-11-14T22:13:20Z", "2027-01-15T08:00:00Z"));
    assert_eq!(r.cid, cid.as_str());
    assert_eq!(old.status(), HostStatus::Contained);
    assert_eq!(r.tags, ["FalconGroupingTags/Old"]);
    assert!(!old.hidden());
    assert!(hosts.iter().any(|h| h.device_id() == hidden_device && h.hidden()), "the hidden flag is kept");
}

fn stored_group(id: &str, name: &str) -> talon_store::StoredGroup {
    let group = talon_wire::host_group::HostGroup {
        id: id.into(),
        name: name.into(),
        group_type: "static".into(),
        ..Default::default()
    };
    talon_store::StoredGroup { group, members: vec!["web-01".into()] }
}

async fn host_groups_are_stored_per_customer_all_or_nothing_and_move_the_host_version(backend: Backend) {
    use talon_store::GroupRefusal;
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let version =
        |versions: Vec<(CustomerId, i64)>, cid: &CustomerId| versions.iter().find(|(c, _)| c == cid).map(|(_, v)| *v);
    let before = version(store.host_versions().await.expect("versions"), &cid);
    let (a, b) = (stored_group(&"a".repeat(32), "Web"), stored_group(&"b".repeat(32), "Db"));
    store.create_host_groups(&cid, &[a.clone(), b.clone()]).await.expect("store").expect("created");
    let after = version(store.host_versions().await.expect("versions"), &cid);
    assert!(after > before, "a group change moves the customer's host version: {before:?} -> {after:?}");
    assert_eq!(store.host_groups(&cid).await.expect("groups"), vec![a.clone(), b.clone()], "read back by ID");
    assert!(store.host_groups(&CustomerId::generate()).await.expect("groups").is_empty(), "per customer");

    // A name taken (without case) refuses the whole batch.
    let taken = store
        .create_host_groups(&cid, &[stored_group(&"c".repeat(32), "x"), stored_group(&"d".repeat(32), "WEB")])
        .await;
    assert_eq!(taken.expect("store"), Err(GroupRefusal::NameTaken("WEB".into())));
    assert_eq!(store.host_groups(&cid).await.expect("groups").len(), 2, "nothing of the batch was written");

    // An edit naming an unknown group, or refused for one group, changes none.
    let ids = [a.group.id.clone(), "f".repeat(32)];
    let unknown = store
        .edit_host_groups(&cid, &ids, &|g| {
            g.members.clear();
            Ok(())
        })
        .await
        .expect("store");
    assert_eq!(unknown, Err(GroupRefusal::Unknown(vec!["f".repeat(32)])));
    let both = [a.group.id.clone(), b.group.id.clone()];
    let refused = store
        .edit_host_groups(&cid, &both, &|g| {
            if g.group.name == "Db" {
                Err("no".into())
            } else {
                g.members.clear();
                Ok(())
            }
        })
        .await
        .expect("store");
    assert_eq!(refused, Err(GroupRefusal::Refused("no".into())));
    assert_eq!(store.host_groups(&cid).await.expect("groups")[0].members, ["web-01"], "the refused edit wrote nothing");
    let renamed = store
        .edit_host_groups(&cid, &both[..1], &|g| {
            g.group.name = "db".into();
            Ok(())
        })
        .await
        .expect("store");
    assert_eq!(renamed, Err(GroupRefusal::NameTaken("db".into())), "a rename onto another group's name");
    let changed = store
        .edit_host_groups(&cid, &both[..1], &|g| {
            g.members.push("web-02".into());
            Ok(())
        })
        .await
        .expect("store");
    assert_eq!(changed.expect("changed")[0].members, ["web-01", "web-02"]);

    let other = CustomerId::generate();
    assert!(
        store.delete_host_groups(&other, &both).await.expect("delete").is_empty(),
        "another customer deletes nothing"
    );
    assert_eq!(
        store.delete_host_groups(&cid, &[a.group.id.clone(), "f".repeat(32)]).await.expect("delete"),
        std::slice::from_ref(&a.group.id)
    );
    assert_eq!(store.host_groups(&cid).await.expect("groups").len(), 1);
}

fn entity(id: &str, name: &str) -> talon_store::StoredEntity {
    let record = serde_json::json!({"id": id, "name": name});
    talon_store::StoredEntity { id: id.into(), record: record.as_object().cloned().expect("object") }
}

async fn generic_records_are_kept_per_customer_and_resource_in_creation_order_all_or_nothing(backend: Backend) {
    use talon_store::{EntityRefusal, OnExisting};
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let other = CustomerId::generate();
    store.create_client(&client(&other, vec![])).await.expect("a client makes its customer");
    let res = "policy/prevention";
    let put = |records: Vec<talon_store::StoredEntity>, on: OnExisting, cap: u64| {
        let (store, cid) = (store.clone(), cid.clone());
        let cap = talon_store::EntityCap { records: cap, bytes: 10_000 };
        async move { store.put_entities(&cid, res, &records, on, cap).await.expect("store") }
    };
    // Created in this order (not by ID): queries answer in creation order.
    assert_eq!(put(vec![entity("z", "first"), entity("a", "second")], OnExisting::Refuse, 10).await, Ok(()));
    let names = |list: Vec<talon_store::StoredEntity>| -> Vec<String> {
        list.into_iter().map(|e| e.record["name"].as_str().expect("name").to_owned()).collect()
    };
    assert_eq!(names(store.entities(&cid, res).await.expect("list")), ["first", "second"]);
    assert!(store.entities(&other, res).await.expect("list").is_empty(), "per customer");
    assert!(store.entities(&cid, "policy/firewall").await.expect("list").is_empty(), "per resource");

    // A taken ID, or passing the bound, writes nothing of the batch.
    assert_eq!(
        put(vec![entity("n", "new"), entity("a", "dup")], OnExisting::Refuse, 10).await,
        Err(EntityRefusal::Taken("a".into()))
    );
    assert_eq!(
        put(vec![entity("n", "new"), entity("m", "more")], OnExisting::Refuse, 3).await,
        Err(EntityRefusal::Full(talon_store::EntityCap { records: 3, bytes: 10_000 }))
    );
    let big = talon_store::StoredEntity {
        id: "big".into(),
        record: serde_json::json!({"x": "y".repeat(10_000)}).as_object().cloned().expect("object"),
    };
    assert!(matches!(put(vec![big], OnExisting::Refuse, 10).await, Err(EntityRefusal::Full(_))), "past the bytes");
    assert_eq!(store.entities(&cid, res).await.expect("list").len(), 2, "nothing of the batches was written");
    // Replace keeps the ID's place and counts it once.
    assert_eq!(put(vec![entity("a", "replaced"), entity("n", "new")], OnExisting::Replace, 3).await, Ok(()));
    assert_eq!(names(store.entities(&cid, res).await.expect("list")), ["first", "replaced", "new"]);

    let by_id = store.entities_by_id(&cid, res, &["n".into(), "z".into(), "nope".into()]).await.expect("by id");
    assert_eq!(names(by_id), ["first", "new"], "the known ones, in creation order");

    // An edit or delete naming an unknown ID changes nothing.
    let rename = |e: &mut talon_store::StoredEntity| {
        e.record.insert("name".into(), serde_json::json!("edited"));
        Ok(())
    };
    let refuse_a = |e: &mut talon_store::StoredEntity| {
        e.record.insert("name".into(), serde_json::json!("edited"));
        if e.id == "a" {
            return Err("too large".to_owned());
        }
        Ok(())
    };
    let refused = store.edit_entities(&cid, res, &["z".into(), "a".into()], &refuse_a).await.expect("store");
    assert_eq!(refused, Err(EntityRefusal::Refused("too large".into())), "one refused edit refuses all");
    let unknown = store.edit_entities(&cid, res, &["z".into(), "nope".into()], &rename).await.expect("store");
    assert_eq!(unknown, Err(EntityRefusal::Unknown(vec!["nope".into()])));
    let deleted = store.delete_entities(&cid, res, &["z".into(), "nope".into()]).await.expect("store");
    assert_eq!(deleted, Err(EntityRefusal::Unknown(vec!["nope".into()])));
    assert_eq!(names(store.entities(&cid, res).await.expect("list")), ["first", "replaced", "new"]);
    assert!(store.edit_entities(&other, res, &["z".into()], &rename).await.expect("store").is_err(), "per customer");

    let edited =
        store.edit_entities(&cid, res, &["z".into(), "z".into()], &rename).await.expect("store").expect("edited");
    assert_eq!(names(edited), ["edited"], "a repeated ID is one record");
    assert_eq!(
        store.delete_entities(&cid, res, &["a".into(), "z".into()]).await.expect("store"),
        Ok(vec!["z".into(), "a".into()])
    );
    assert_eq!(names(store.entities(&cid, res).await.expect("list")), ["new"]);
}

async fn fixture_batches_are_written_in_one_transaction(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let res = "policy/prevention".to_owned();
    let first = (cid.clone(), res.clone(), vec![entity("a", "first")]);
    // A customer the store does not know: the foreign key refuses it, and the first batch goes too.
    let unknown = (CustomerId::generate(), res.clone(), vec![entity("b", "second")]);
    assert!(store.put_entity_batches(&[first.clone(), unknown], talon_store::RESOURCE_CAP).await.is_err());
    assert!(store.entities(&cid, &res).await.expect("list").is_empty(), "nothing of the load was kept");
    store
        .put_entity_batches(std::slice::from_ref(&first), talon_store::RESOURCE_CAP)
        .await
        .expect("load")
        .expect("within");
    let replaced = (cid.clone(), res.clone(), vec![entity("a", "again")]);
    store.put_entity_batches(&[replaced], talon_store::RESOURCE_CAP).await.expect("load again").expect("within");
    let names: Vec<String> =
        store.entities(&cid, &res).await.expect("list").into_iter().map(|e| e.record["name"].to_string()).collect();
    assert_eq!(names, ["\"again\""], "a load replaces records of the same ID");
    // A load that would take a resource past its cap writes nothing.
    let small = talon_store::EntityCap { records: 2, bytes: 10_000 };
    let more = (cid.clone(), res.clone(), vec![entity("b", "b"), entity("c", "c")]);
    let refused = store.put_entity_batches(&[more], small).await.expect("store");
    assert!(matches!(refused, Err(talon_store::EntityRefusal::Full(_))), "{refused:?}");
    assert_eq!(store.entities(&cid, &res).await.expect("list").len(), 1, "nothing of the refused load");
}

async fn an_import_batch_is_written_whole_or_not_at_all(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let batch: Vec<(ApiClient, talon_store::AuditEntry)> =
        (0..3).map(|i| (client(&cid, vec![]), audit(&format!("imp-{i}"), NOW, "client.import"))).collect();
    store.create_clients_audited(&batch).await.expect("imported");
    assert_eq!(store.clients().await.expect("clients").len(), 3);
    let (entries, total) = store.audit_entries(0, 10).await.expect("audit");
    assert_eq!((entries.len(), total), (3, 3), "an audit entry per client");
    // A batch holding a taken ID writes none of its clients, nor their entries.
    let again = vec![(client(&cid, vec![]), audit("imp-new", NOW, "client.import")), batch[1].clone()];
    match store.create_clients_audited(&again).await {
        Err(StoreError::ClientExists(id)) => assert_eq!(id, batch[1].0.id, "the error names the taken ID"),
        other => panic!("a taken ID must refuse the batch: {other:?}"),
    }
    assert_eq!(store.clients().await.expect("clients").len(), 3, "nothing of the refused batch");
    assert_eq!(store.audit_entries(0, 10).await.expect("audit").1, 3);

    // A batch larger than one INSERT statement holds (500 clients), with the taken ID in its second
    // statement: still nothing written; without it, all of it, and the listing's kept totals follow.
    let member = CustomerId::generate();
    let mut big: Vec<(ApiClient, AuditEntry)> =
        (0..700).map(|i| (client(&member, vec![]), audit(&format!("big-{i}"), NOW, "client.import"))).collect();
    big.push(batch[2].clone());
    match store.create_clients_audited(&big).await {
        Err(StoreError::ClientExists(id)) => assert_eq!(id, batch[2].0.id),
        other => panic!("a taken ID must refuse the batch: {other:?}"),
    }
    assert_eq!(store.clients().await.expect("clients").len(), 3);
    big.pop();
    store.create_clients_audited(&big).await.expect("imported");
    let listing = |customer| ClientQuery { customer, ..ClientQuery::every_client(10) };
    assert_eq!(store.client_page(&listing(None)).await.expect("page").total, 703);
    assert_eq!(store.client_page(&listing(Some(member.clone()))).await.expect("page").total, 700);
    assert!(store.delete_client(&big[0].0.id).await.expect("delete"));
    assert_eq!(store.client_page(&listing(Some(member))).await.expect("page").total, 699);
    assert_eq!(store.client_page(&listing(Some(cid))).await.expect("page").total, 3);
}

/// The IDs of `clients`, sorted: to compare sets of clients.
fn ids_of<'a>(clients: impl IntoIterator<Item = &'a ApiClient>) -> Vec<ClientId> {
    let mut ids: Vec<ClientId> = clients.into_iter().map(|c| c.id.clone()).collect();
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids
}

async fn client_changes_give_what_changed_after_a_sequence_and_nothing_else(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let (mut a, b) = (client(&cid, vec![]), client(&cid, vec![]));
    store.create_client(&a).await.expect("create");
    store.create_client(&b).await.expect("create");
    let all = store.client_changes(FROM_THE_START).await.expect("changes");
    assert_eq!(ids_of(&all.changed), ids_of([&a, &b]));
    assert!(all.deleted.is_empty());
    let mark = all.seq;

    let nothing = store.client_changes(mark).await.expect("changes");
    assert!(nothing.changed.is_empty() && nothing.deleted.is_empty());
    assert_eq!(nothing.seq, mark, "no change, no move");
    store.record_last_used(&[(a.id.clone(), NOW + 5)]).await.expect("last used");
    assert!(store.client_changes(mark).await.expect("changes").changed.is_empty(), "use is not a change");

    a.apply(ClientChanges { enabled: Some(false), ..Default::default() }, NOW + 1);
    assert!(store.update_client(&a).await.expect("update"));
    assert!(store.delete_client(&b.id).await.expect("delete"));
    let c = client(&cid, vec![]);
    store.create_client(&c).await.expect("create");
    let delta = store.client_changes(mark).await.expect("changes");
    let changed: Vec<&ClientId> = delta.changed.iter().map(|c| &c.id).collect();
    assert_eq!(changed, vec![&a.id, &c.id], "in the order of their changes");
    assert!(!delta.changed[0].enabled, "as it is now");
    assert_eq!(delta.deleted, vec![b.id.clone()]);
    assert!(delta.seq > mark);

    // A secret reset is a change; a client deleted and created again (an export imported back) is
    // present, not deleted.
    let mark = delta.seq;
    a.tokens_not_before = NOW + 2;
    assert!(store.set_secret(&a).await.expect("reset"));
    assert!(store.delete_client(&c.id).await.expect("delete"));
    store.create_client(&c).await.expect("create again");
    let delta = store.client_changes(mark).await.expect("changes");
    assert_eq!(ids_of(&delta.changed), ids_of([&a, &c]));
    assert!(delta.deleted.is_empty(), "{:?}", delta.deleted);
    let latest = store.client_changes(FROM_THE_START).await.expect("changes");
    assert_eq!(ids_of(&latest.changed), ids_of(&store.clients().await.expect("clients")));
    assert_eq!(latest.seq, delta.seq);
}

async fn a_reader_of_client_changes_misses_no_concurrent_change(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let cid = store.default_customer().await.expect("cid");
    // Writers create, change and delete clients concurrently while a reader applies the changes it is
    // told of to a map, as a node does: at the end the map must be what the store holds.
    let seed: Vec<ApiClient> = (0..8).map(|_| client(&cid, vec![])).collect();
    for c in &seed {
        store.create_client(c).await.expect("create");
    }
    let writers: Vec<_> = (0..8usize)
        .map(|i| {
            let (store, mine) = (store.clone(), seed[i].clone());
            let cid = cid.clone();
            tokio::spawn(async move {
                for round in 0..6 {
                    store.create_client(&client(&cid, vec![])).await.expect("create");
                    let rename = move |c: &mut ApiClient| c.name = format!("w{i}-{round}");
                    store.modify_client_audited(&mine.id, &rename, None).await.expect("modify");
                }
                if i % 2 == 0 {
                    store.delete_client(&mine.id).await.expect("delete");
                }
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = std::collections::HashMap::new();
            let mut seq = FROM_THE_START;
            for _ in 0..200 {
                let delta = store.client_changes(seq).await.expect("changes");
                for c in delta.changed {
                    seen.insert(c.id.clone(), c);
                }
                for id in delta.deleted {
                    seen.remove(&id);
                }
                seq = delta.seq;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (seen, seq)
        })
    };
    for w in writers {
        w.await.expect("writer");
    }
    let (mut seen, seq) = reader.await.expect("reader");
    let rest = store.client_changes(seq).await.expect("changes");
    for c in rest.changed {
        seen.insert(c.id.clone(), c);
    }
    for id in rest.deleted {
        seen.remove(&id);
    }
    let stored = store.clients().await.expect("clients");
    assert_eq!(stored.len(), 8 + 8 * 6 - 4);
    assert_eq!(ids_of(seen.values()), ids_of(&stored));
    for c in &stored {
        assert_eq!(seen.get(&c.id), Some(c), "the reader holds each client as stored");
    }
}

async fn the_client_listing_filters_sorts_and_seeks_in_the_database(backend: Backend) {
    let Some((_db, store)) = fresh(backend).await else { return };
    let home = store.default_customer().await.expect("cid");
    let other = CustomerId::generate();
    let mut made = Vec::new();
    for i in 0..23i64 {
        let mut c = client(if i % 4 == 3 { &other } else { &home }, vec![]);
        // Creation times with ties, names with ties and with LIKE's wildcards in them.
        c.created_at = NOW + i / 3;
        c.name = match i % 5 {
            0 => format!("Alpha {i}"),
            1 => "50% off".into(),
            2 => "50_ off".into(),
            3 => format!("beta-{}", i % 2),
            _ => format!("gamma {i}"),
        };
        c.enabled = i % 3 != 0;
        if i % 2 == 0 {
            c.scopes = [Scope::DEVICES_READ, Scope::DEVICES_WRITE].into_iter().collect();
        }
        store.create_client(&c).await.expect("create");
        made.push(c);
    }
    let query = ClientQuery::every_client(4);
    // Reads every page by seek, checking totals and that pages end where they should.
    async fn all_by_seek(store: &dyn Store, query: &ClientQuery) -> (Vec<ClientId>, u64) {
        let mut ids = Vec::new();
        let mut q = query.clone();
        loop {
            let page = store.client_page(&q).await.expect("page");
            assert!(page.clients.len() as u64 <= q.limit);
            ids.extend(page.clients.iter().map(|c| c.id.clone()));
            match page.next {
                Some(next) => q.after = Some(next),
                None => return (ids, page.total),
            }
        }
    }
    let key = |c: &ApiClient, sort: ClientSort| (sort.key_of(c), c.id.as_str().to_owned());
    let expect = |keep: &dyn Fn(&ApiClient) -> bool, sort: ClientSort, descending: bool| {
        let mut want: Vec<&ApiClient> = made.iter().filter(|c| keep(c)).collect();
        want.sort_by(|x, y| {
            let order = match (key(x, sort), key(y, sort)) {
                ((SortKey::Created(a), ia), (SortKey::Created(b), ib)) => (a, ia).cmp(&(b, ib)),
                ((SortKey::Name(a), ia), (SortKey::Name(b), ib)) => (a, ia).cmp(&(b, ib)),
                _ => unreachable!(),
            };
            if descending {
                order.reverse()
            } else {
                order
            }
        });
        want.into_iter().map(|c| c.id.clone()).collect::<Vec<_>>()
    };
    for sort in [ClientSort::Created, ClientSort::Name] {
        for descending in [false, true] {
            let q = ClientQuery { sort, descending, ..query.clone() };
            let (ids, total) = all_by_seek(&*store, &q).await;
            assert_eq!(ids, expect(&|_| true, sort, descending), "{sort:?} descending={descending}");
            assert_eq!(total, 23);
        }
    }
    // Offset paging gives the same order.
    let page = store.client_page(&ClientQuery { offset: 8, ..query.clone() }).await.expect("page");
    let ids: Vec<ClientId> = page.clients.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ids, expect(&|_| true, ClientSort::Created, false)[8..12].to_vec());
    let past = store.client_page(&ClientQuery { offset: 100, ..query.clone() }).await.expect("page");
    assert!(past.clients.is_empty() && past.next.is_none() && past.total == 23);

    // Filters, alone and together, with LIKE's wildcards taken literally and ASCII case ignored.
    type Keep<'a> = Box<dyn Fn(&ApiClient) -> bool + 'a>;
    let cases: Vec<(ClientQuery, Keep<'_>)> = vec![
        (ClientQuery { customer: Some(other.clone()), ..query.clone() }, Box::new(|c| c.cid == other)),
        (ClientQuery { name_contains: Some("50%".into()), ..query.clone() }, Box::new(|c| c.name == "50% off")),
        (ClientQuery { name_contains: Some("0_ O".into()), ..query.clone() }, Box::new(|c| c.name == "50_ off")),
        (
            ClientQuery { name_contains: Some("ALPHA".into()), ..query.clone() },
            Box::new(|c| c.name.starts_with("Alpha")),
        ),
        (
            ClientQuery { scope: Some(Scope::DEVICES_WRITE), ..query.clone() },
            Box::new(|c| c.scopes.contains(Scope::DEVICES_WRITE)),
        ),
        (ClientQuery { enabled: Some(false), ..query.clone() }, Box::new(|c| !c.enabled)),
        (
            ClientQuery {
                customer: Some(home.clone()),
                enabled: Some(true),
                scope: Some(Scope::DEVICES_READ),
                name_contains: Some("a".into()),
                ..query.clone()
            },
            Box::new(|c| c.cid == home && c.enabled && c.name.to_ascii_lowercase().contains('a')),
        ),
        (ClientQuery { name_contains: Some("nobody".into()), ..query.clone() }, Box::new(|_| false)),
    ];
    for (q, keep) in cases {
        let (ids, total) = all_by_seek(&*store, &q).await;
        let want = expect(&*keep, ClientSort::Created, false);
        assert_eq!(ids, want, "{q:?}");
        assert_eq!(total, want.len() as u64, "{q:?}");
    }
}

/// On PostgreSQL the rows of one transaction share one sequence, so a batch moves the counter's row once:
/// updated per row, an import left a dead version of that row per client, which every later read of the
/// counters walked until a vacuum (admin changes after importing 100,000 clients: 5 ms to 36 ms).
#[tokio::test]
async fn postgres_an_import_batch_moves_the_client_counter_once() {
    let Some((_db, store)) = fresh(Backend::Postgres).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let before = store.change_version().await.expect("version").clients;
    let mark = store.client_changes(FROM_THE_START).await.expect("changes").seq;
    let batch: Vec<(ApiClient, AuditEntry)> =
        (0..50).map(|i| (client(&cid, vec![]), audit(&format!("batch-{i}"), NOW, "client.import"))).collect();
    store.create_clients_audited(&batch).await.expect("import");
    assert_eq!(store.change_version().await.expect("version").clients, before + 1);
    let delta = store.client_changes(mark).await.expect("changes");
    assert_eq!(delta.changed.len(), 50, "every client of the batch is a change past the mark");
    assert_eq!(store.client_changes(delta.seq).await.expect("changes").changed.len(), 0);
    // The next transaction takes the next sequence.
    store.create_client(&client(&cid, vec![])).await.expect("create");
    assert_eq!(store.client_changes(delta.seq).await.expect("changes").changed.len(), 1);
}

/// After a bulk load PostgreSQL's planner knows the table's size (`pg_class.reltuples` is -1 for a table
/// never analyzed): with the statistics of an empty table it read a million clients' changes by a full scan.
#[tokio::test]
async fn postgres_a_bulk_load_leaves_the_planner_statistics_current() {
    let Some((db, store)) = fresh(Backend::Postgres).await else { return };
    let cid = store.default_customer().await.expect("cid");
    let batch: Vec<(ApiClient, AuditEntry)> =
        (0..20).map(|i| (client(&cid, vec![]), audit(&format!("stat-{i}"), NOW, "client.import"))).collect();
    store.create_clients_audited(&batch).await.expect("import");
    let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
    let tuples = || sqlx::query_scalar::<_, f32>("SELECT reltuples FROM pg_class WHERE relname = 'api_clients'");
    assert_eq!(tuples().fetch_one(&pool).await.expect("reltuples"), -1.0, "never analyzed yet");
    store.after_bulk_load().await.expect("analyze");
    assert_eq!(tuples().fetch_one(&pool).await.expect("reltuples"), 20.0);
}

/// A server seeded the target's own default customer (demo hosts, a group, a policy setting, records) before
/// any client existed: a copy replaces that customer with all it had, and writes nothing when refused.
async fn a_target_whose_default_customer_had_demo_data_adopts_the_source_default(backend: Backend) {
    let source_db = TestDb::sqlite();
    let source = open(&source_db.url, NOW).await.expect("open source");
    let Some((_db, target)) = fresh(backend).await else { return };
    let old = target.default_customer().await.expect("cid");
    target.insert_hosts(&demo::generate(&old, 3, NOW)).await.expect("hosts");
    target.create_host_groups(&old, &[stored_group(&"b".repeat(32), "Old")]).await.expect("store").expect("group");
    let setting = talon_emulator::policy::Policy::find(4).expect("policy").default_setting();
    target.save_policy_settings(&old, &[setting]).await.expect("policy");
    let alert = [entity("x1", "old alert")];
    let put =
        target.put_entities(&old, "alerts", &alert, talon_store::OnExisting::Refuse, talon_store::EntityCap::NONE);
    put.await.expect("store").expect("records");

    copy(&*source, &*target, NOW).await.expect("copy over a seeded default customer");
    let new = source.default_customer().await.expect("cid");
    assert_eq!(target.default_customer().await.expect("cid"), new);
    assert!(!target.customers().await.expect("customers").contains(&old), "the replaced customer is gone");
    assert_eq!(target.host_count(&old).await.expect("count"), 0);
    assert!(target.host_groups(&old).await.expect("groups").is_empty());
    assert!(target.policy_settings(&old).await.expect("settings").is_empty());
    assert!(target.entity_resources(&old).await.expect("resources").is_empty());
    assert!(target.host_versions().await.expect("versions").iter().all(|(cid, _)| cid != &old));
}
