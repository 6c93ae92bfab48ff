//! Several `talon serve` processes on one PostgreSQL database (and durability on both backends), and on one
//! Redis for shared rate limits.

mod common;

use std::time::{Duration, Instant};

use common::*;
use talon_testkit::{Backend, TestDb};

#[tokio::test]
async fn three_nodes_on_one_postgres_share_tokens_and_revocations_within_a_second() {
    let Some(db) = TestDb::fresh(Backend::Postgres).await else { return };
    let nodes: Vec<Server> = (0..3).map(|_| Server::start(&db.url, &["--auth-failure-rate", "1000"])).collect();
    let admins: Vec<(String, String)> =
        nodes.iter().filter_map(|n| Some((n.printed("client_id:")?, n.printed("client_secret:")?))).collect();
    assert_eq!(admins.len(), 1, "exactly one node created the first admin");
    let (id, secret) = &admins[0];

    let (status, body) = token(&nodes[0].base_url, id, secret).await;
    assert_eq!(status, 201, "{body}");
    let jwt = body["access_token"].as_str().expect("token").to_owned();
    for node in &nodes[1..] {
        assert_eq!(get_devices(&node.base_url, &jwt).await, 200, "a token from node 1 works on every node");
    }

    assert_eq!(revoke(&nodes[1].base_url, id, secret, &jwt).await, 200);
    let revoked_at = Instant::now();
    let base = nodes[0].base_url.clone();
    let took = within(Duration::from_secs(1), || async { get_devices(&base, &jwt).await == 401 }).await;
    let took = took.unwrap_or_else(|| panic!("node 1 still accepts the token 1 s after node 2 revoked it"));
    println!("revocation on node 2 refused on node 1 after {} ms", took.as_millis());
    assert!(revoked_at.elapsed() < Duration::from_secs(2));
    assert_eq!(get_devices(&nodes[2].base_url, &jwt).await, 401);
}

#[tokio::test]
async fn four_nodes_starting_at_once_on_an_empty_database_make_one_key_and_one_admin() {
    let Some(db) = TestDb::fresh(Backend::Postgres).await else { return };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || Server::start(&url, &[]))
        })
        .collect();
    let nodes: Vec<Server> = starts.into_iter().map(|t| t.join().expect("node started")).collect();
    let admins = nodes.iter().filter(|n| n.printed("client_secret:").is_some()).count();
    assert_eq!(admins, 1, "exactly one first admin");
    let store = talon_store::open(&db.url, 0).await.expect("open");
    assert_eq!(store.signing_keys().await.expect("keys").len(), 1, "exactly one signing key");
    assert_eq!(store.customers().await.expect("customers").len(), 1, "exactly one default customer");
}

#[tokio::test]
async fn acknowledged_revocations_survive_kill_9_on_sqlite() {
    acknowledged_writes_survive_kill_9(Backend::Sqlite).await;
}

#[tokio::test]
async fn acknowledged_revocations_survive_kill_9_on_postgres() {
    acknowledged_writes_survive_kill_9(Backend::Postgres).await;
}

/// Revokes tokens one after another and kills the node with SIGKILL while revocations are in flight; after
/// a restart every revocation that was acknowledged (200) is still in force, and so are a client created
/// and a secret reset by the CLI before the kill.
async fn acknowledged_writes_survive_kill_9(backend: Backend) {
    let Some(db) = TestDb::fresh(backend).await else { return };
    let node = Server::start(&db.url, &["--oauth2-rate", "100000"]);
    let (id, secret) = (node.printed("client_id:").expect("id"), node.printed("client_secret:").expect("secret"));
    let created = clients_json(&db.url, &["create", "--name", "durable", "--scope", "devices:read", "--json"]);
    let reset = clients_json(&db.url, &["reset-secret", created["client_id"].as_str().expect("id"), "--json"]);

    let mut tokens = Vec::new();
    for _ in 0..40 {
        let (status, body) = token(&node.base_url, &id, &secret).await;
        assert_eq!(status, 201);
        tokens.push(body["access_token"].as_str().expect("token").to_owned());
    }
    // Revoke concurrently; kill the node while the later ones are still in flight.
    let base = node.base_url.clone();
    let mut inflight = tokio::task::JoinSet::new();
    for (i, t) in tokens.iter().cloned().enumerate() {
        let (base, id, secret) = (base.clone(), id.clone(), secret.clone());
        inflight.spawn(async move {
            let status = reqwest::Client::new()
                .post(format!("{base}/oauth2/revoke"))
                .basic_auth(&id, Some(&secret))
                .form(&[("token", t.as_str())])
                .send()
                .await
                .map(|r| r.status().as_u16());
            (i, status)
        });
        if i == 25 {
            // Let some finish, then pull the plug with the rest under way.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let mut acknowledged = Vec::new();
    let mut killed = Some(node);
    while let Some(done) = inflight.join_next().await {
        let (i, status) = done.expect("join");
        if status.ok() == Some(200) {
            acknowledged.push(i);
        }
        if acknowledged.len() == 20 {
            if let Some(node) = killed.take() {
                node.kill9();
            }
        }
    }
    drop(killed);
    assert!(acknowledged.len() >= 20, "some revocations were acknowledged before the kill");

    // Every check below is a request with a revoked token: lift the per-address limit on those.
    let restarted = Server::start(&db.url, &["--bad-token-rate", "100000"]);
    for i in &acknowledged {
        assert_eq!(get_devices(&restarted.base_url, &tokens[*i]).await, 401, "acknowledged revocation {i} lost");
    }
    let new_secret = reset["client_secret"].as_str().expect("secret");
    let (status, _) = token(&restarted.base_url, reset["client_id"].as_str().expect("id"), new_secret).await;
    assert_eq!(status, 201, "the client and its reset secret survived");
    println!(
        "{backend}: {} of {} revocations acknowledged before kill -9; all survived",
        acknowledged.len(),
        tokens.len()
    );
}

#[tokio::test]
async fn a_single_node_install_moves_to_postgres_with_db_copy() {
    let Some(pg) = TestDb::fresh(Backend::Postgres).await else { return };
    let (_sqlite, sqlite_url) = fresh_db();
    let single = Server::start(&sqlite_url, &["--demo-hosts", "4"]);
    let (id, secret) = (single.printed("client_id:").expect("id"), single.printed("client_secret:").expect("secret"));
    let kept = token(&single.base_url, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    let revoked = token(&single.base_url, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    assert_eq!(revoke(&single.base_url, &id, &secret, &revoked).await, 200);
    assert!(single.stop().success());

    let copy = |args: &[&str]| std::process::Command::new(BIN).args(args).output().expect("talon db copy");
    let out = copy(&["db", "copy", "--from", &sqlite_url, "--to", &pg.url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("1 clients") && text.contains("1 revocations") && text.contains("4 hosts"), "{text}");
    let again = copy(&["db", "copy", "--from", &sqlite_url, "--to", &pg.url]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 clients, 0 signing keys, 0 revocations, 0 hosts"));

    let node = Server::start(&pg.url, &[]);
    assert_eq!(node.printed("client_secret:"), None, "the moved admin is there: no new one");
    assert_eq!(token(&node.base_url, &id, &secret).await.0, 201, "the client moved");
    assert_eq!(get_devices(&node.base_url, &kept).await, 200, "a token from before the move still works");
    assert_eq!(get_devices(&node.base_url, &revoked).await, 401, "a revocation from before the move holds");
}

#[tokio::test]
async fn nodes_on_one_redis_share_the_failure_budget_and_a_bad_redis_url_stops_the_server() {
    let Some(redis) = talon_testkit::redis::shared_url() else { return };
    let (_dir, db) = fresh_db();
    let prefix = talon_testkit::redis::unique_prefix();
    let shared =
        ["--rate-limit-url", redis.as_str(), "--rate-limit-prefix", prefix.as_str(), "--auth-failure-rate", "3"];
    let nodes: Vec<Server> = (0..2).map(|_| Server::start(&db, &shared)).collect();
    let id = nodes.iter().find_map(|n| n.printed("client_id:")).expect("the first admin");
    let attempts: Vec<u16> = wrong_secrets_in_turn(&nodes, &id).await;
    assert_eq!(attempts, [403, 403, 403, 429, 429], "three failures over two nodes use up the client's three");
    for node in &nodes {
        assert!(node.logs().contains("rate limits are shared through Redis"), "{}", node.logs());
    }

    // A URL that does not parse stops the start, and the password in it is not shown.
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db, "--rate-limit-url", "redis://:hunter2@[bad"])
        .output()
        .expect("run talon serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--rate-limit-url") && !stderr.contains("hunter2"), "{stderr}");
}

/// Wrong secrets for `id`, over the nodes in turn (0, 1, 0, 1, 0): the statuses.
async fn wrong_secrets_in_turn(nodes: &[Server], id: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..5 {
        let (status, _) = token(&nodes[i % nodes.len()].base_url, id, "wrong").await;
        statuses.push(status);
    }
    statuses
}
