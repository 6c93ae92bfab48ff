//! The one SQL store, over either database: [`SqlStore`] runs the same statements on SQLite and
//! PostgreSQL (sqlx's SQLite driver takes `$N` placeholders as PostgreSQL does), and [`Dialect`] names the
//! few places where the two really differ (how a write transaction starts, row and advisory locks, the
//! revocation cursor, push notifications, `GREATEST`/`MAX`).
//!
//! Statements bind [`Bound`] values and read [`Record`]s through [`Driver`], implemented once per
//! database by a macro: the store's code is generic over the database without repeating sqlx's trait
//! bounds at every function.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Pool, Transaction};
use talon_auth::CustomerId;

use crate::{Result, Revocation, RevocationCursor, StoreError};

/// A store on one database: the same code for SQLite ([`crate::SqliteStore`]) and PostgreSQL
/// ([`crate::PostgresStore`]); each backend's module opens it and implements its [`Dialect`]. The
/// traits of this module are public only to appear in those bounds: the module is private, so no other
/// crate can implement or call them (a sealed trait).
pub struct SqlStore<DB: sqlx::Database> {
    pub(crate) pool: Pool<DB>,
}

/// A value bound into a statement, for `$1`, `$2`, ... in order. Its `Debug` shows bytes by their length
/// only: they may be a private signing key or a secret's digest.
#[derive(Clone, PartialEq)]
pub enum Bound {
    Text(String),
    MaybeText(Option<String>),
    Number(i64),
    MaybeNumber(Option<i64>),
    Flag(bool),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Text(text) => f.debug_tuple("Text").field(text).finish(),
            Bound::MaybeText(text) => f.debug_tuple("MaybeText").field(text).finish(),
            Bound::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Bound::MaybeNumber(n) => f.debug_tuple("MaybeNumber").field(n).finish(),
            Bound::Flag(b) => f.debug_tuple("Flag").field(b).finish(),
            Bound::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
        }
    }
}

impl From<&str> for Bound {
    fn from(text: &str) -> Bound {
        Bound::Text(text.to_owned())
    }
}

impl From<&String> for Bound {
    fn from(text: &String) -> Bound {
        Bound::Text(text.clone())
    }
}

impl From<String> for Bound {
    fn from(text: String) -> Bound {
        Bound::Text(text)
    }
}

impl From<&CustomerId> for Bound {
    fn from(cid: &CustomerId) -> Bound {
        Bound::Text(cid.as_str().to_owned())
    }
}

impl From<Option<&String>> for Bound {
    fn from(text: Option<&String>) -> Bound {
        Bound::MaybeText(text.cloned())
    }
}

impl From<i64> for Bound {
    fn from(n: i64) -> Bound {
        Bound::Number(n)
    }
}

impl From<Option<i64>> for Bound {
    fn from(n: Option<i64>) -> Bound {
        Bound::MaybeNumber(n)
    }
}

impl From<bool> for Bound {
    fn from(flag: bool) -> Bound {
        Bound::Flag(flag)
    }
}

impl From<&[u8]> for Bound {
    fn from(bytes: &[u8]) -> Bound {
        Bound::Bytes(bytes.to_vec())
    }
}

/// A row type both databases decode (sqlx's `FromRow` derive and tuples are generic over the row).
pub trait Record:
    for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
    + Send
    + Unpin
    + 'static
{
}

impl<T> Record for T where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin
        + 'static
{
}

/// Runs statements with [`Bound`] values on one database: what generic code needs of sqlx, behind one
/// bound (implemented by [`driver!`] for each database, where sqlx's own bounds are met by concrete types).
pub trait Driver: sqlx::Database + Sync {
    /// `binds` as a statement's arguments, in order.
    fn arguments(binds: &[Bound]) -> Result<Self::Arguments<'_>>;
    /// Runs `sql`; how many rows it changed.
    fn execute<'e>(
        conn: &'e mut Self::Connection,
        sql: &'e str,
        binds: &'e [Bound],
    ) -> impl Future<Output = Result<u64>> + Send + 'e;
    fn fetch_all<'e, T: Record>(
        conn: &'e mut Self::Connection,
        sql: &'e str,
        binds: &'e [Bound],
    ) -> impl Future<Output = Result<Vec<T>>> + Send + 'e;
    fn fetch_optional<'e, T: Record>(
        conn: &'e mut Self::Connection,
        sql: &'e str,
        binds: &'e [Bound],
    ) -> impl Future<Output = Result<Option<T>>> + Send + 'e;
    fn acquire(pool: &Pool<Self>) -> impl Future<Output = Result<PoolConnection<Self>>> + Send + '_;
    /// A transaction, begun by `statement` when there is one (else the database's `BEGIN`).
    fn begin<'p>(
        pool: &'p Pool<Self>,
        statement: Option<&'static str>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>>> + Send + 'p;
    fn commit(tx: Transaction<'static, Self>) -> impl Future<Output = Result<()>> + Send;
}

/// [`Driver`] for a database whose sqlx driver encodes every [`Bound`].
macro_rules! driver {
    ($db:ty) => {
        impl $crate::sql::Driver for $db {
            fn arguments(binds: &[$crate::sql::Bound]) -> $crate::Result<Self::Arguments<'_>> {
                use sqlx::Arguments;
                use $crate::sql::Bound;
                let mut arguments = Self::Arguments::default();
                for bound in binds {
                    match bound {
                        Bound::Text(text) => arguments.add(text.as_str()),
                        Bound::MaybeText(text) => arguments.add(text.as_deref()),
                        Bound::Number(n) => arguments.add(*n),
                        Bound::MaybeNumber(n) => arguments.add(*n),
                        Bound::Flag(b) => arguments.add(*b),
                        Bound::Bytes(bytes) => arguments.add(bytes.as_slice()),
                    }
                    .map_err(sqlx::Error::Encode)?;
                }
                Ok(arguments)
            }

            async fn execute<'e>(
                conn: &'e mut Self::Connection,
                sql: &'e str,
                binds: &'e [$crate::sql::Bound],
            ) -> $crate::Result<u64> {
                let done = sqlx::query_with::<$db, _>(sql, Self::arguments(binds)?).execute(conn).await?;
                Ok(done.rows_affected())
            }

            async fn fetch_all<'e, T: $crate::sql::Record>(
                conn: &'e mut Self::Connection,
                sql: &'e str,
                binds: &'e [$crate::sql::Bound],
            ) -> $crate::Result<Vec<T>> {
                Ok(sqlx::query_as_with::<$db, T, _>(sql, Self::arguments(binds)?).fetch_all(conn).await?)
            }

            async fn fetch_optional<'e, T: $crate::sql::Record>(
                conn: &'e mut Self::Connection,
                sql: &'e str,
                binds: &'e [$crate::sql::Bound],
            ) -> $crate::Result<Option<T>> {
                Ok(sqlx::query_as_with::<$db, T, _>(sql, Self::arguments(binds)?).fetch_optional(conn).await?)
            }

            async fn acquire(pool: &sqlx::Pool<Self>) -> $crate::Result<sqlx::pool::PoolConnection<Self>> {
                Ok(pool.acquire().await?)
            }

            async fn begin(
                pool: &sqlx::Pool<Self>,
                statement: Option<&'static str>,
            ) -> $crate::Result<sqlx::Transaction<'static, Self>> {
                Ok(match statement {
                    Some(statement) => pool.begin_with(statement).await?,
                    None => pool.begin().await?,
                })
            }

            async fn commit(tx: sqlx::Transaction<'static, Self>) -> $crate::Result<()> {
                Ok(tx.commit().await?)
            }
        }
    };
}
pub(crate) use driver;

/// What an exclusive section of a transaction excludes (see [`Dialect::exclude`]).
#[derive(Debug, Clone, Copy)]
pub enum Exclusion<'a> {
    /// First-start initialisation, first-client creation and adopting a default customer.
    Initialisation,
    /// Another read-apply-write change of one customer's CSPM policy settings (the rows it reads may not
    /// exist yet, so row locks cannot order two).
    PolicySettings(&'a CustomerId),
    /// Another create of one customer's records of one resource (so that two cannot pass its cap
    /// together); edits and deletes lock the rows they change instead.
    Entities(&'a CustomerId, &'a str),
}

/// Where the two databases differ, for everything the store does.
pub trait Dialect: Driver {
    /// How a write transaction begins (`None`: the database's `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// The statement that makes a transaction read one snapshot throughout, when its default does not.
    const SNAPSHOT: Option<&'static str>;
    /// What ends a `SELECT` whose rows the transaction will write, so that no other writer changes them
    /// meanwhile (empty where the write transaction holds the whole database).
    const LOCK_ROWS: &'static str;
    /// The larger and the smaller of two values (`MAX`/`MIN` on SQLite, `GREATEST`/`LEAST` on PostgreSQL).
    const GREATEST: &'static str;
    const LEAST: &'static str;

    /// Holds `what` to the end of the transaction on `conn`: no other transaction holding the same runs
    /// meanwhile (on SQLite the write transaction excludes every other writer already).
    fn exclude<'e>(conn: &'e mut Self::Connection, what: Exclusion<'e>)
        -> impl Future<Output = Result<()>> + Send + 'e;
    /// See [`crate::RevocationStore::revocations_since`]: the cursor is each database's own.
    fn revocations_since(
        pool: &Pool<Self>,
        cursor: RevocationCursor,
        now: i64,
    ) -> impl Future<Output = Result<(Vec<Revocation>, RevocationCursor)>> + Send + '_;
    /// See [`crate::ClientStore::after_bulk_load`].
    fn after_bulk_load(pool: &Pool<Self>) -> impl Future<Output = Result<()>> + Send + '_;
    /// See [`crate::ChangeFeed::watch_changes`].
    fn watch_changes(pool: &Pool<Self>, changed: Arc<tokio::sync::Notify>) -> impl Future<Output = ()> + Send + '_;
}

/// A statement and its values: built with [`statement`] and [`Statement::bind`], run on a connection or
/// a transaction of either database.
#[derive(Debug)]
pub(crate) struct Statement<'s> {
    sql: Cow<'s, str>,
    binds: Vec<Bound>,
}

pub(crate) fn statement<'s>(sql: impl Into<Cow<'s, str>>) -> Statement<'s> {
    Statement { sql: sql.into(), binds: Vec::new() }
}

impl<'s> Statement<'s> {
    /// The value of the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Bound>) -> Statement<'s> {
        self.binds.push(value.into());
        self
    }

    /// A statement with all its values bound already.
    pub(crate) fn with_binds(sql: impl Into<Cow<'s, str>>, binds: Vec<Bound>) -> Statement<'s> {
        Statement { sql: sql.into(), binds }
    }

    /// Runs it; how many rows it changed.
    pub(crate) async fn execute<DB: Driver>(&self, conn: &mut DB::Connection) -> Result<u64> {
        DB::execute(conn, &self.sql, &self.binds).await
    }

    pub(crate) async fn fetch_all<DB: Driver, T: Record>(&self, conn: &mut DB::Connection) -> Result<Vec<T>> {
        DB::fetch_all(conn, &self.sql, &self.binds).await
    }

    pub(crate) async fn fetch_optional<DB: Driver, T: Record>(&self, conn: &mut DB::Connection) -> Result<Option<T>> {
        DB::fetch_optional(conn, &self.sql, &self.binds).await
    }

    pub(crate) async fn fetch_one<DB: Driver, T: Record>(&self, conn: &mut DB::Connection) -> Result<T> {
        self.fetch_optional::<DB, T>(conn).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// The one value of the one row it answers.
    pub(crate) async fn scalar<DB: Driver, T>(&self, conn: &mut DB::Connection) -> Result<T>
    where
        (T,): Record,
    {
        Ok(self.fetch_one::<DB, (T,)>(conn).await?.0)
    }
}

impl<DB: Dialect> SqlStore<DB> {
    /// A write transaction: on SQLite it holds the write lock from its start (`BEGIN IMMEDIATE`; a
    /// deferred transaction that reads and then writes fails at once, SQLITE_BUSY_SNAPSHOT, which the busy
    /// timeout does not retry, when another write commits in between).
    pub(crate) async fn write(&self) -> Result<Transaction<'static, DB>> {
        DB::begin(&self.pool, DB::BEGIN_WRITE).await
    }

    pub(crate) async fn commit(tx: Transaction<'static, DB>) -> Result<()> {
        DB::commit(tx).await
    }

    /// A connection of the pool, for reads outside a transaction.
    pub(crate) async fn conn(&self) -> Result<PoolConnection<DB>> {
        DB::acquire(&self.pool).await
    }

    /// Every row `statement` answers, read on a pool connection.
    pub(crate) async fn all<T: Record>(&self, statement: Statement<'_>) -> Result<Vec<T>> {
        statement.fetch_all::<DB, T>(&mut *self.conn().await?).await
    }

    pub(crate) async fn optional<T: Record>(&self, statement: Statement<'_>) -> Result<Option<T>> {
        statement.fetch_optional::<DB, T>(&mut *self.conn().await?).await
    }

    pub(crate) async fn scalar<T>(&self, statement: Statement<'_>) -> Result<T>
    where
        (T,): Record,
    {
        statement.scalar::<DB, T>(&mut *self.conn().await?).await
    }

    /// Runs `statement` on a pool connection (a transaction of its own); how many rows it changed.
    pub(crate) async fn run(&self, statement: Statement<'_>) -> Result<u64> {
        statement.execute::<DB>(&mut *self.conn().await?).await
    }
}

/// `$first, $first+1, ...`: one placeholder for each of `count` values, for an `IN (...)` list.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// A unique-key violation (a taken ID or name), which callers answer as a refusal, not a failure.
pub(crate) fn is_unique_violation(error: &StoreError) -> bool {
    matches!(error, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::{statement, Bound};

    #[test]
    fn debug_shows_no_bound_bytes() {
        let key = [0x5au8; 48];
        let shown = format!("{:?}", statement("INSERT INTO signing_keys VALUES ($1, $2)").bind("kid").bind(&key[..]));
        assert!(shown.contains("Bytes(48 bytes)") && shown.contains("kid"), "{shown}");
        assert!(!shown.contains("90") && !shown.contains("5a"), "{shown}");
        assert_eq!(format!("{:?}", Bound::Number(7)), "Number(7)");
    }
}
