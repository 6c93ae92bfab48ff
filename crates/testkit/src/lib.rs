//! talon-testkit: fresh databases for tests, one per test, on either backend.
//!
//! PostgreSQL tests use the server at `TALON_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), create a database of their own and drop it afterwards.
//! They fail loudly when PostgreSQL is unreachable. Only outside CI, and only when asked explicitly with
//! `TALON_SKIP_POSTGRES=1`, are they skipped, and then they say so on stderr. [`redis`] does the same for
//! the shared rate-limit tests' Redis.

pub mod redis;

use std::fmt;

use rand::RngCore;
use sqlx::Connection;

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A fresh, empty database; removed when dropped.
pub struct TestDb {
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// True when PostgreSQL tests were explicitly switched off for a local run. Never in CI.
pub fn postgres_skipped() -> bool {
    skipped("TALON_SKIP_POSTGRES", "PostgreSQL")
}

/// True when `variable` is `1` and this is not CI (`CI` unset, empty or `false`); says so on stderr.
fn skipped(variable: &str, service: &str) -> bool {
    let asked = std::env::var(variable).is_ok_and(|v| v == "1");
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    if asked && !ci {
        eprintln!("{variable}=1: skipping a {service} test (never skipped in CI)");
    }
    asked && !ci
}

impl TestDb {
    /// A fresh database of `backend`. `None` only when PostgreSQL tests were explicitly skipped.
    pub async fn fresh(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite()),
            Backend::Postgres if postgres_skipped() => None,
            Backend::Postgres => Some(TestDb::postgres().await),
        }
    }

    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("talon.db").display());
        TestDb { url, kind: Kind::Sqlite(dir) }
    }

    /// Creates a database on the test PostgreSQL server. When the server does not answer, runs
    /// `scripts/ensure-postgres.sh` (which starts a local cluster that is installed but stopped) and tries
    /// again; panics with a clear message when it still cannot connect.
    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var("TALON_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(conn) => conn,
            Err(_) => {
                ensure_postgres();
                sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for this test and is unreachable at {admin_url}: {e}. \
                         scripts/ensure-postgres.sh could not start it; point TALON_TEST_POSTGRES_URL at a \
                         server, or (locally only) set TALON_SKIP_POSTGRES=1"
                    )
                })
            }
        };
        let mut suffix = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let name = format!("talon_test_{}", hex::encode(suffix));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create test database");
        let _ = admin.close().await;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
        TestDb { url: format!("{base}/{name}"), kind: Kind::Postgres { admin_url, name } }
    }
}

impl TestDb {
    /// PostgreSQL only: cuts every connection to this database and refuses new ones (`false`), or lets
    /// them in again (`true`), to test how the server behaves when its database goes away.
    pub async fn set_reachable(&self, reachable: bool) {
        let Kind::Postgres { admin_url, name } = &self.kind else {
            panic!("only a PostgreSQL database can be cut off")
        };
        let mut admin = sqlx::PgConnection::connect(admin_url).await.expect("admin connection");
        sqlx::query(&format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {reachable}"))
            .execute(&mut admin)
            .await
            .expect("alter database");
        if !reachable {
            sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
                .bind(name)
                .execute(&mut admin)
                .await
                .expect("terminate connections");
        }
    }
}

/// Runs `scripts/ensure-postgres.sh` once per test process.
fn ensure_postgres() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-postgres.sh");
        let _ = std::process::Command::new("bash").arg(script).status();
    });
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside any runtime we may block on: use a thread with its own.
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async move {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                    }
                })
            });
            let _ = dropped.join();
        }
    }
}
