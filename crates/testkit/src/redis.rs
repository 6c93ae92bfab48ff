//! Redis for the shared rate-limit tests: the shared server (`TALON_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379/0`), reached with a key prefix of the test's own so that parallel tests never
//! share counters, and servers of a test's own on a free port, which the test may kill and restart.
//!
//! As with PostgreSQL, the tests fail loudly when Redis is unreachable; only outside CI, and only when asked
//! with `TALON_SKIP_REDIS=1`, are they skipped, and then they say so on stderr.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;

const DEFAULT_URL: &str = "redis://127.0.0.1:6379/0";

/// True when Redis tests were explicitly switched off for a local run. Never in CI.
pub fn redis_skipped() -> bool {
    crate::skipped("TALON_SKIP_REDIS", "Redis")
}

/// The shared test Redis's URL, once it answers: runs `scripts/ensure-redis.sh` (which installs and starts
/// it) when it does not, and panics with a clear message when it still does not. `None` only when Redis
/// tests were explicitly skipped.
pub fn shared_url() -> Option<String> {
    if redis_skipped() {
        return None;
    }
    let url = std::env::var("TALON_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let address = address_of(&url);
    if !answers(address) {
        ensure_redis();
        assert!(
            answers(address),
            "Redis is required for this test and does not answer at {address}: scripts/ensure-redis.sh could \
             not start it; point TALON_TEST_REDIS_URL at a server, or (locally only) set TALON_SKIP_REDIS=1"
        );
    }
    Some(url)
}

/// A key prefix no other test uses: `talon:rl:test-<random>:`.
pub fn unique_prefix() -> String {
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    format!("talon:rl:test-{}:", hex::encode(suffix))
}

/// A redis-server of the test's own on a free port, without persistence; killed when dropped.
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one and waits until it answers. Panics (after `scripts/ensure-redis.sh`, which installs
    /// redis-server when it is missing) when it cannot. `None` only when Redis tests were skipped.
    pub fn start() -> Option<RedisServer> {
        if redis_skipped() {
            return None;
        }
        if Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_err() {
            ensure_redis();
        }
        let port = free_port();
        let mut server = RedisServer { port, child: None };
        server.restart();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: Redis goes away as in a crash) and waits until the port is closed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (a new, empty one) and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run redis-server (scripts/ensure-redis.sh installs it): {e}"));
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers(address) {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on now (the OS's choice; another process could take it before the server does,
/// which would show as a server that does not start).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// The `host:port` of a `redis://[user:password@]host[:port][/db]` URL.
fn address_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let with_port = if host_port.contains(':') { host_port.to_owned() } else { format!("{host_port}:6379") };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .unwrap_or_else(|| panic!("TALON_TEST_REDIS_URL names no reachable host:port: {with_port}"))
}

/// Whether something at `address` answers a Redis `PING` (with PONG, or with an error such as NOAUTH: it is
/// a Redis either way).
fn answers(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(500)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 16];
    matches!(stream.read(&mut reply), Ok(n) if n > 0 && (reply[0] == b'+' || reply[0] == b'-'))
}

/// Runs `scripts/ensure-redis.sh` once per test process.
fn ensure_redis() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-redis.sh");
        let _ = Command::new("bash").arg(script).status();
    });
}
