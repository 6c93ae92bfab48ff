//! `talon serve` end to end: first start, restart, signals, the seed workflow by curl, and changes made
//! by the CLI reaching a running server.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[tokio::test]
async fn first_start_prints_an_admin_once_and_a_restart_keeps_clients_and_revocations() {
    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &[]);
    let id = server.printed("client_id:").expect("admin client_id printed");
    let secret = server.printed("client_secret:").expect("admin secret printed");
    assert!(server.stdout.lock().expect("lock").iter().any(|l| l.contains("curl -s -X POST")));

    let (status, body) = token(&server.base_url, &id, &secret).await;
    assert_eq!(status, 201, "{body}");
    let revoked = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(get_devices(&server.base_url, &revoked).await, 200);
    let reply = reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", server.base_url))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", revoked.as_str())])
        .send()
        .await
        .expect("revoke");
    assert_eq!(reply.status().as_u16(), 200);

    let logs = server.logs();
    assert!(!logs.contains(&secret), "the secret never reaches the logs");
    assert!(!logs.contains(&revoked), "tokens never reach the logs");
    let status = server.stop();
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");

    let again = Server::start(&db, &[]);
    assert_eq!(again.printed("client_secret:"), None, "the admin is created only on the first start");
    let (status, _) = token(&again.base_url, &id, &secret).await;
    assert_eq!(status, 201, "clients survive a restart");
    assert_eq!(get_devices(&again.base_url, &revoked).await, 401, "revocations survive a restart");
}

#[tokio::test]
async fn json_logs_and_settings_from_the_environment() {
    let (_dir, db) = fresh_db();
    let server = {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--log-format", "json"]).env("TALON_LISTEN", "127.0.0.1:0").env("TALON_DATABASE_URL", &db);
        cmd.env("TALON_REGION", "lab-1");
        // Server::start passes --listen/--database itself; here the environment must do it, so run by hand.
        cmd
    };
    let mut child = {
        let mut cmd = server;
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("spawn")
    };
    let stderr = child.stderr.take().expect("stderr");
    let line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr).lines().map_while(Result::ok).find(|l| l.contains("listening"))
    });
    let line = tokio::time::timeout(Duration::from_secs(30), line).await.expect("started").expect("join");
    let _ = child.kill();
    let _ = child.wait();
    let log: serde_json::Value = serde_json::from_str(&line.expect("a listening line")).expect("JSON log line");
    assert_eq!(log["fields"]["region"], "lab-1");
    assert!(log["fields"]["address"].as_str().expect("address").starts_with("http://127.0.0.1:"));
    assert!(log["fields"]["database"].as_str().expect("database").contains("talon.db"));
}

/// Runs curl and returns (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}"]).args(args).output().expect("curl");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let (body, status) = text.rsplit_once('\n').expect("status line");
    (status.parse().expect("status"), body.to_owned())
}

#[tokio::test]
async fn the_seed_workflow_by_curl() {
    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", "5"]);
    let id = server.printed("client_id:").expect("id");
    let secret = server.printed("client_secret:").expect("secret");
    let base = &server.base_url;

    let (status, body) = curl(&[
        "-X",
        "POST",
        &format!("{base}/oauth2/token"),
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        "-d",
        &format!("client_id={id}&client_secret={secret}&grant_type=client_credentials"),
    ]);
    assert_eq!(status, 201, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let token = json["access_token"].as_str().expect("token").to_owned();
    assert_eq!(json["expires_in"], 1799);

    let auth = format!("Authorization: Bearer {token}");
    let (status, body) = curl(&["-H", &auth, &format!("{base}/devices/queries/devices/v1?limit=5")]);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    let ids = json["resources"].as_array().expect("ids");
    assert_eq!(ids.len(), 5);
    assert_eq!(json["meta"]["pagination"]["total"], 5);

    let device = ids[0].as_str().expect("id");
    let (status, body) = curl(&[
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &format!(r#"{{"ids": ["{device}"]}}"#),
        &format!("{base}/devices/entities/devices-actions/v2?action_name=contain"),
    ]);
    assert_eq!(status, 202, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["resources"][0]["id"], device);
    assert_eq!(json["errors"], serde_json::json!([]));
}

#[tokio::test]
async fn cli_changes_reach_a_running_server_within_a_second() {
    let (_dir, db) = fresh_db();
    // Polling for a client that does not exist yet counts as failed authentications: lift that throttle.
    let server = Server::start(&db, &["--demo-hosts", "2", "--auth-failure-rate", "1000"]);
    let base = server.base_url.clone();
    let second = Duration::from_secs(1);

    let created = clients_json(&db, &["create", "--name", "late", "--scope", "devices:read", "--json"]);
    let id = created["client_id"].as_str().expect("id").to_owned();
    let secret = created["client_secret"].as_str().expect("secret").to_owned();
    let took = within(second, || async { token(&base, &id, &secret).await.0 == 201 }).await;
    assert!(took.is_some(), "a client created by the CLI gets tokens within a second");
    let live = token(&base, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    assert_eq!(get_devices(&base, &live).await, 200);

    clients_json(&db, &["update", &id, "--disable", "--json"]);
    let refused = within(second, || async { get_devices(&base, &live).await == 401 }).await;
    assert!(refused.is_some(), "a disabled client's live tokens are refused within a second");
    assert_eq!(token(&base, &id, &secret).await.0, 403, "and it gets no new tokens");

    // Enabled again, it gets tokens again (the tokens it had when disabled stay refused).
    clients_json(&db, &["update", &id, "--enable", "--json"]);
    assert!(within(second, || async { token(&base, &id, &secret).await.0 == 201 }).await.is_some());
    let fresh = token(&base, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    assert_eq!(get_devices(&base, &fresh).await, 200);
    assert!(clients(&db, &["delete", &id]).status.success());
    assert!(within(second, || async { get_devices(&base, &fresh).await == 401 }).await.is_some());
    assert_eq!(token(&base, &id, &secret).await.0, 400, "a deleted client is unknown");

    // A new member CID becomes a customer that gets demo hosts while the server runs.
    let member = "abcdefabcdefabcdefabcdefabcdef01";
    let mssp =
        clients_json(&db, &["create", "--name", "mssp", "--scope", "devices:read", "--member-cid", member, "--json"]);
    let (mid, msecret) = (mssp["client_id"].as_str().expect("id"), mssp["client_secret"].as_str().expect("secret"));
    let seeded = within(Duration::from_secs(2), || async {
        let (status, body) =
            token_with(&base, &[("client_id", mid), ("client_secret", msecret), ("member_cid", member)]).await;
        if status != 201 {
            return false;
        }
        let t = body["access_token"].as_str().unwrap_or_default();
        let devices: serde_json::Value = reqwest::Client::new()
            .get(format!("{base}/devices/queries/devices/v1"))
            .bearer_auth(t)
            .send()
            .await
            .expect("devices")
            .json()
            .await
            .expect("json");
        devices["meta"]["pagination"]["total"] == 2
    })
    .await;
    assert!(seeded.is_some(), "the member customer was seeded with demo hosts");
}

#[tokio::test]
async fn keys_rotate_reaches_a_running_server_and_old_tokens_keep_working() {
    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", "1"]);
    let (id, secret) = (server.printed("client_id:").expect("id"), server.printed("client_secret:").expect("secret"));
    let base = server.base_url.clone();
    let old = token(&base, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();

    let out = Command::new(BIN).args(["keys", "--database", &db, "rotate"]).output().expect("rotate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let kid = text.split_whitespace().nth(3).expect("kid").trim_end_matches(';').to_owned();

    let rotated = within(Duration::from_secs(1), || async {
        let t = token(&base, &id, &secret).await.1["access_token"].as_str().unwrap_or_default().to_owned();
        kid_of(&t) == kid
    })
    .await;
    assert!(rotated.is_some(), "new tokens are signed with the new key within a second");
    assert_eq!(get_devices(&base, &old).await, 200, "a token of the old key still works");
    let jwks: serde_json::Value =
        reqwest::get(format!("{base}/oauth2/jwks")).await.expect("jwks").json().await.expect("json");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
    assert_eq!(jwks["keys"][0]["kid"], kid.as_str());

    let list = Command::new(BIN).args(["keys", "--database", &db, "list"]).output().expect("list");
    let listing = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(listing.lines().nth(1).is_some_and(|l| l.starts_with(&kid) && l.contains(" signs ")), "{listing}");
}

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("header");
    let json: serde_json::Value = serde_json::from_slice(&base64_url_decode(header)).expect("json");
    json["kid"].as_str().unwrap_or_default().to_owned()
}

fn keys(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(["keys", "--database", db]).args(args).output().expect("talon keys")
}

#[tokio::test]
async fn keys_retire_refuses_a_keys_tokens_after_its_grace_or_at_once_and_never_leaves_servers_without_a_signer() {
    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", "1"]);
    let (id, secret) = (server.printed("client_id:").expect("id"), server.printed("client_secret:").expect("secret"));
    let base = server.base_url.clone();
    let first = token(&base, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    let first_kid = kid_of(&first);
    let jwks_kids = || async {
        let jwks: serde_json::Value =
            reqwest::get(format!("{base}/oauth2/jwks")).await.expect("jwks").json().await.expect("json");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect::<Vec<String>>()
    };

    let unknown = keys(&db, &["retire", "0123456789abcdef"]);
    assert!(!unknown.status.success(), "an unknown kid is an error");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no signing key has the ID"));

    // Retiring the only key that signs adds a new one first; with a grace period the old tokens live on.
    let out = keys(&db, &["retire", &first_kid, "--grace", "4"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let second_kid = said.split_whitespace().nth(3).expect("kid").trim_end_matches(':').to_owned();
    assert!(said.contains("it signs in place of") && said.contains("refused from"), "{said}");
    let signs_new = within(Duration::from_secs(2), || async {
        let t = token(&base, &id, &secret).await.1["access_token"].as_str().unwrap_or_default().to_owned();
        kid_of(&t) == second_kid
    })
    .await;
    assert!(signs_new.is_some(), "new tokens come from the new key within a second");
    assert_eq!(get_devices(&base, &first).await, 200, "the retiring key's token works during the grace period");
    let listing = String::from_utf8_lossy(&keys(&db, &["list"]).stdout).to_string();
    assert!(listing.lines().any(|l| l.starts_with(&first_kid) && l.contains("retiring at")), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with(&second_kid) && l.contains(" signs ")), "{listing}");
    let refused = within(Duration::from_secs(8), || async { get_devices(&base, &first).await == 401 }).await;
    assert!(refused.is_some(), "the retired key's token is refused once the grace period is over");
    assert_eq!(jwks_kids().await, vec![second_kid.clone()], "the retired key left the JWKS");

    // `--now`: the new signer's tokens are refused within a second; a third key signs.
    let second = token(&base, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    assert_eq!(kid_of(&second), second_kid);
    let out = keys(&db, &["retire", &second_kid, "--now"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused now"));
    let cut = within(Duration::from_secs(2), || async { get_devices(&base, &second).await == 401 }).await;
    assert!(cut.is_some(), "--now refuses the key's tokens within a second");
    let third = token(&base, &id, &secret).await.1["access_token"].as_str().expect("token").to_owned();
    assert!(![first_kid.as_str(), second_kid.as_str()].contains(&kid_of(&third).as_str()), "a third key signs");
    assert_eq!(get_devices(&base, &third).await, 200);
    // Introspection agrees with the bearer guard.
    let introspected: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", second.as_str())])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(introspected["active"], false, "{introspected}");
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

#[tokio::test]
async fn https_with_a_certificate_the_test_makes() {
    let dir = tempfile::tempdir().expect("dir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("self-signed certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    let (_db, db) = fresh_db();
    let server = Server::start(
        &db,
        &["--tls-cert", cert.to_str().expect("path"), "--tls-key", key.to_str().expect("path"), "--demo-hosts", "2"],
    );
    assert!(server.base_url.starts_with("https://127.0.0.1:"), "{}", server.base_url);
    let (id, secret) = (server.printed("client_id:").expect("id"), server.printed("client_secret:").expect("secret"));

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("cert"))
        .build()
        .expect("client");
    let reply = client
        .post(format!("{}/oauth2/token", server.base_url))
        .form(&[("client_id", id.as_str()), ("client_secret", secret.as_str())])
        .send()
        .await
        .expect("token over https");
    assert_eq!(reply.status().as_u16(), 201);
    let token: serde_json::Value = reply.json().await.expect("json");
    let devices = client
        .get(format!("{}/devices/queries/devices/v1", server.base_url))
        .bearer_auth(token["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("devices over https");
    assert_eq!(devices.status().as_u16(), 200);

    // Plain HTTP to the TLS port gets no HTTP answer, and a client that does not trust the certificate
    // refuses the connection.
    let plain = server.base_url.replacen("https://", "http://", 1);
    let answered = reqwest::get(format!("{plain}/healthz")).await.map(|r| r.status().as_u16());
    assert!(answered.is_err() || answered.is_ok_and(|s| s != 200), "plain HTTP must not be served");
    assert!(reqwest::get(format!("{}/healthz", server.base_url)).await.is_err(), "untrusted certificate refused");
    assert!(server.stop().success(), "graceful exit over TLS too");

    // Bad TLS settings are a clear error at start.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db, "--tls-cert", "/nonexistent.pem", "--tls-key"])
        .arg(&key)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the certificate chain"));
}

#[tokio::test]
async fn ctrl_c_stops_gracefully_and_the_body_limit_is_a_flag() {
    let (_db, db) = fresh_db();
    let server = Server::start(&db, &["--max-body-bytes", "100"]);
    let base = server.base_url.clone();
    let reply = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("client_id=x&client_secret={}", "a".repeat(200)))
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status().as_u16(), 413, "--max-body-bytes 100 refuses a 200-byte body");
    let small = token(&base, &"0".repeat(32), "x").await.0;
    assert_eq!(small, 400, "a body under the limit is read");
    let status = server.stop_with("INT");
    assert!(status.success(), "graceful exit on SIGINT: {status:?}");
}

/// Discovery as a client sending `Host: evil.example` sees it.
async fn metadata_for_evil_host(base: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("metadata")
}

#[tokio::test]
async fn discovery_names_the_public_url_or_the_listen_address_never_the_host_header() {
    let (_dir, db) = fresh_db();
    let plain = Server::start(&db, &[]);
    let m: serde_json::Value = metadata_for_evil_host(&plain.base_url).await.json().await.expect("JSON");
    assert_eq!(m["token_endpoint"], format!("{}/oauth2/token", plain.base_url), "the listen address");
    assert_eq!(m["issuer"], "talon", "the issuer stays as it was without --public-url");
    assert!(!m.to_string().contains("evil.example"));
    plain.stop();

    let public = Server::start(&db, &["--public-url", "https://auth.example.com/"]);
    let reply = metadata_for_evil_host(&public.base_url).await;
    assert_eq!(reply.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("public, max-age=300"));
    let m: serde_json::Value = reply.json().await.expect("JSON");
    assert_eq!(m["issuer"], "https://auth.example.com", "the trailing / is dropped");
    assert_eq!(m["jwks_uri"], "https://auth.example.com/oauth2/jwks");
    public.stop();

    for bad in ["ftp://auth.example.com", "https://auth.example.com/?x=1", "https://user:pw@auth.example.com", "auth"] {
        let out = Command::new(BIN).args(["serve", "--database", &db, "--public-url", bad]).output().expect("run");
        assert!(!out.status.success(), "{bad} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--public-url") && !stderr.contains("pw@"), "{bad}: {stderr}");
    }
}

/// A token request as a proxy at 127.0.0.1 would forward it for `forwarded_for` (none: sent directly).
async fn token_via(base: &str, id: &str, secret: &str, forwarded_for: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[("client_id", id), ("client_secret", secret)]);
    if let Some(hops) = forwarded_for {
        request = request.header("x-forwarded-for", hops);
    }
    request.send().await.expect("token request").status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_client_is_the_forwarded_address() {
    let (_dir, db) = fresh_db();
    let created = clients_json(
        &db,
        &["create", "--name", "lab", "--scope", "devices:read", "--allow-ip", "203.0.113.5/32", "--json"],
    );
    let (id, secret) = (created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("secret"));

    // Without --trusted-proxy the header means nothing: the peer (127.0.0.1) is outside the allow-list.
    let direct = Server::start(&db, &[]);
    assert_eq!(token_via(&direct.base_url, id, secret, Some("203.0.113.5")).await, 403);
    direct.stop();

    let proxied = Server::start(&db, &["--trusted-proxy", "127.0.0.0/8,::1/128", "--auth-failure-rate", "2"]);
    let base = proxied.base_url.as_str();
    assert_eq!(token_via(base, id, secret, Some("203.0.113.5")).await, 201, "the forwarded client is allowed");
    assert_eq!(token_via(base, id, secret, None).await, 403, "the proxy itself is not");
    assert_eq!(token_via(base, id, secret, Some("203.0.113.5, 198.51.100.1")).await, 403, "the proxy's hop counts");
    // Failures count against the forwarded address: one client behind the proxy locks out only itself.
    for _ in 0..2 {
        assert_eq!(token_via(base, id, "wrong", Some("198.51.100.1")).await, 403);
    }
    assert_eq!(token_via(base, id, secret, Some("198.51.100.1")).await, 429);
    assert_eq!(token_via(base, id, secret, Some("203.0.113.5")).await, 201);
    proxied.stop();
}

#[tokio::test]
async fn over_https_a_silent_handshake_is_cut_off_and_the_per_address_cap_holds() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().expect("dir");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("write key");
    let (_db, db) = fresh_db();
    let tls = ["--tls-cert", cert.to_str().expect("path"), "--tls-key", key.to_str().expect("path")];
    let server = Server::start(&db, &[&tls[..], &["--header-timeout", "1", "--max-connections-per-ip", "2"]].concat());
    let address = server.base_url.trim_start_matches("https://").to_owned();
    let closed_after = |mut stream: tokio::net::TcpStream| async move {
        let started = std::time::Instant::now();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
        (read.is_ok(), started.elapsed())
    };
    // Two connections that never say hello: each is closed after the header timeout.
    let first = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let second = tokio::net::TcpStream::connect(&address).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third from the same address is over the cap: closed at once.
    let third = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let (closed, after) = closed_after(third).await;
    assert!(closed && after < Duration::from_millis(500), "past the cap: closed {closed} after {after:?}");
    let (closed, after) = closed_after(first).await;
    assert!(closed && after < Duration::from_secs(3), "silent handshake: closed {closed} after {after:?}");
    drop(second);
    server.stop();
}

#[tokio::test]
async fn metrics_listen_serves_metrics_apart_and_the_api_listener_answers_404() {
    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &["--metrics-listen", "127.0.0.1:0"]);
    let base = server.base_url.clone();
    let metrics_url = within(Duration::from_secs(5), || async { server.logs().contains("metrics=http://") }).await;
    assert!(metrics_url.is_some(), "the metrics address is logged: {}", server.logs());
    let logs = server.logs();
    let at = logs.find("metrics=http://").expect("logged") + "metrics=".len();
    let metrics_url = logs[at..].split_whitespace().next().expect("url").to_owned();

    assert_eq!(reqwest::get(format!("{base}/healthz")).await.expect("healthz").status(), 200);
    let on_api = reqwest::get(format!("{base}/metrics")).await.expect("metrics on the API");
    assert_eq!(on_api.status(), 404, "the API's listener does not serve the metrics");
    let apart = reqwest::get(&metrics_url).await.expect("metrics apart");
    assert_eq!(apart.status(), 200);
    let text = apart.text().await.expect("text");
    assert!(text.contains(r#"talon_http_requests_total{method="GET",route="/healthz",status="200"} 1"#), "{text}");
    let other = reqwest::get(metrics_url.replace("/metrics", "/healthz")).await.expect("other path");
    assert_eq!(other.status(), 404, "the metrics listener serves nothing else");
}
