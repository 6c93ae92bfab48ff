//! Helpers for end-to-end tests of the `talon` binary: run CLI commands, start and stop a real server.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_talon");

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh SQLite database URL in its own temporary directory.
pub fn fresh_db() -> (talon_testkit::TestDb, String) {
    let db = talon_testkit::TestDb::sqlite();
    let url = db.url.clone();
    (db, url)
}

/// Revokes `token` with the owner's Basic credentials; returns the status.
pub async fn revoke(base: &str, id: &str, secret: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/oauth2/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("revoke request")
        .status()
        .as_u16()
}

/// Runs `talon clients --database DB ARGS...`.
pub fn clients(db: &str, args: &[&str]) -> Output {
    Command::new(BIN).arg("clients").arg("--database").arg(db).args(args).output().expect("run talon")
}

/// Runs `talon ARGS...` as an API client would: credentials and base URL from the environment only (the
/// FALCON_* variables every Falcon SDK reads), with nothing inherited that could point it elsewhere.
pub fn talon_as(base: &str, id: &str, secret: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("FALCON_BASE_URL", base)
        .env("FALCON_CLIENT_ID", id)
        .env("FALCON_CLIENT_SECRET", secret)
        .env_remove("FALCON_CLOUD")
        .env_remove("FALCON_MEMBER_CID")
        .env_remove("TALON_DATABASE_URL")
        .output()
        .expect("run talon")
}

/// Runs a `clients` command that must succeed and print JSON.
pub fn clients_json(db: &str, args: &[&str]) -> serde_json::Value {
    let out = clients(db, args);
    assert!(out.status.success(), "talon clients {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

pub struct Server {
    child: Child,
    pub base_url: String,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `talon serve` on a free loopback port and waits (at most 30 s) until it listens.
    pub fn start(db: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database", db])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn talon serve");
        let stdout = collect(child.stdout.take().expect("stdout"), None);
        let (tx, rx) = mpsc::channel();
        let stderr = collect(child.stderr.take().expect("stderr"), Some(tx));
        let deadline = Instant::now() + Duration::from_secs(30);
        let base_url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(i) = line.find("address=http") {
                        let rest = &line[i + "address=".len()..];
                        break rest.split_whitespace().next().expect("address").to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("talon serve did not start: {:?}", stderr.lock().expect("lock"));
                }
            }
        };
        Server { child, base_url, stdout, stderr }
    }

    /// The value printed after `label` on stdout (the first admin's credentials).
    pub fn printed(&self, label: &str) -> Option<String> {
        self.stdout.lock().expect("lock").iter().find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
    }

    /// Sends SIGTERM and waits (at most 10 s) for a graceful exit.
    pub fn stop(self) -> ExitStatus {
        self.stop_with("TERM")
    }

    /// Sends `signal` (`TERM`, `INT`) and waits (at most 10 s) for the process to exit.
    pub fn stop_with(mut self, signal: &str) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args([&format!("-{signal}"), &pid]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "talon serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process outright (SIGKILL): no shutdown, no flush.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().expect("lock").join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
    notify: Option<mpsc::Sender<String>>,
) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(tx) = &notify {
                let _ = tx.send(line.clone());
            }
            sink.lock().expect("lock").push(line);
        }
    });
    lines
}

/// Polls `check` every 20 ms until it is true or `limit` passes; returns the time it took.
pub async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() <= limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// POSTs a token request and returns the status and JSON body.
pub async fn token(base: &str, id: &str, secret: &str) -> (u16, serde_json::Value) {
    token_with(base, &[("client_id", id), ("client_secret", secret)]).await
}

/// POSTs a token request with these form fields and returns the status and JSON body.
pub async fn token_with(base: &str, fields: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let reply =
        reqwest::Client::new().post(format!("{base}/oauth2/token")).form(fields).send().await.expect("token request");
    let status = reply.status().as_u16();
    (status, reply.json().await.expect("JSON"))
}

pub async fn get_devices(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/devices/queries/devices/v1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("devices request")
        .status()
        .as_u16()
}

/// Creates a client named `name` holding devices:read and devices:write on `db` with the CLI, and waits
/// (at most 2 s) until the server at `base` issues it tokens; answers its ID and secret.
pub async fn devices_client(db: &str, base: &str, name: &str) -> (String, String) {
    client_with(db, base, name, &["--scope", "devices:read", "--scope", "devices:write"]).await
}

/// Creates a client named `name` with these `talon clients create` arguments (`--scope`s, `--member-cid`s)
/// on `db` with the CLI, and waits (at most 2 s) until the server at `base` issues it tokens; answers its
/// ID and secret.
pub async fn client_with(db: &str, base: &str, name: &str, args: &[&str]) -> (String, String) {
    let mut create = vec!["create", "--name", name, "--json"];
    create.extend_from_slice(args);
    let created = clients_json(db, &create);
    let id = created["client_id"].as_str().expect("id").to_owned();
    let secret = created["client_secret"].as_str().expect("secret").to_owned();
    // The server picks up the new client within its refresh interval.
    let ready = within(Duration::from_secs(2), || async { token(base, &id, &secret).await.0 == 201 }).await;
    assert!(ready.is_some(), "the server did not pick up client {name} within 2 s");
    (id, secret)
}
