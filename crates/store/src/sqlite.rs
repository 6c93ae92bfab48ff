//! The embedded SQLite store: one file in WAL mode, migrations embedded and applied on open. SQLite
//! serialises writers: a write transaction holds the database's write lock from its start, so nothing
//! needs a row or advisory lock.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite};

use crate::records::revocation;
use crate::sql::{driver, statement, Dialect, Exclusion, SqlStore};
use crate::{Result, Revocation, RevocationCursor, StoreError};

/// How long a writer waits for another process's write to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite implementation of [`crate::Store`].
pub type SqliteStore = SqlStore<Sqlite>;

driver!(Sqlite);

impl Dialect for Sqlite {
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    // A read transaction in WAL mode reads one snapshot from its first read on.
    const SNAPSHOT: Option<&'static str> = None;
    const LOCK_ROWS: &'static str = "";
    const GREATEST: &'static str = "MAX";
    const LEAST: &'static str = "MIN";

    async fn exclude<'e>(_conn: &'e mut Self::Connection, _what: Exclusion<'e>) -> Result<()> {
        // A write transaction holds the write lock: it excludes every other writer already.
        Ok(())
    }

    async fn revocations_since(
        pool: &Pool<Self>,
        cursor: RevocationCursor,
        now: i64,
    ) -> Result<(Vec<Revocation>, RevocationCursor)> {
        // SQLite serialises writers, so seq grows in commit order: everything above the last seq seen is new.
        let rows: Vec<(i64, String, String, i64)> = statement(
            "SELECT seq, jti, client_id, expires_at FROM revoked_tokens WHERE seq > $1 AND expires_at > $2 ORDER BY seq",
        )
        .bind(cursor.0)
        .bind(now)
        .fetch_all::<Sqlite, _>(&mut *pool.acquire().await?)
        .await?;
        let next = rows.last().map_or(cursor, |(seq, _, _, _)| RevocationCursor(*seq));
        let revocations = rows
            .into_iter()
            .map(|(_, jti, client_id, expires_at)| revocation(jti, &client_id, expires_at))
            .collect::<Result<_>>()?;
        Ok((revocations, next))
    }

    async fn after_bulk_load(_pool: &Pool<Self>) -> Result<()> {
        // SQLite picks the indexes without statistics.
        Ok(())
    }

    async fn watch_changes(_pool: &Pool<Self>, _changed: Arc<tokio::sync::Notify>) {
        // No push notifications: readers poll.
        std::future::pending::<()>().await
    }
}

impl SqlStore<Sqlite> {
    /// Opens `url` (`sqlite://PATH`, `sqlite:PATH`), creating the file if missing, and initialises it.
    pub async fn open(url: &str, now: i64) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged revocation or secret reset survives a power failure too.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        create_private_file(options.get_filename())?;
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        let store = SqlStore { pool };
        store.migrate().await?;
        store.initialise(now).await?;
        Ok(store)
    }

    /// Applies the embedded migrations. SQLite has no advisory lock for sqlx to take, so when two processes
    /// open a new file at once one of them fails on tables the other just made; it then finds the migration
    /// recorded and passes on the next try.
    async fn migrate(&self) -> Result<()> {
        let migrator = sqlx::migrate!("./migrations/sqlite");
        let mut attempt = 0;
        loop {
            match migrator.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Creates a new database file readable by its owner only: it holds the private signing keys.
fn create_private_file(path: &std::path::Path) -> Result<()> {
    if path.as_os_str() == ":memory:" || path.as_os_str().is_empty() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(sqlx::Error::Io(e))),
    }
}
