//! The database connection: SQLite (embedded, the default) or PostgreSQL, migrated at start.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    ConnectOptions, Connection, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::{DatabaseUrl, redact_url};

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds; the body is written once and
/// compiled for both backends (queries use `$1`-style parameters, which both accept).
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite($pool) => $body,
            $crate::db::Database::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// How long a PostgreSQL connection may sit idle in the pool before it is tested again.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub enum Database {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Database {
    /// Connects (creating the SQLite file if needed) and runs pending migrations.
    pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Self> {
        match url {
            DatabaseUrl::Sqlite(url) => {
                let options = SqliteConnectOptions::from_str(url)
                    .with_context(|| format!("invalid SQLite URL {url:?}"))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    .log_statements(tracing::log::LevelFilter::Trace);
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await
                    .with_context(|| format!("opening SQLite database {url}"))?;
                sqlx::migrate!("../migrations/sqlite").run(&pool).await.context("migrating the SQLite database")?;
                Ok(Self::Sqlite(pool))
            }
            DatabaseUrl::Postgres(url) => {
                let options = PgConnectOptions::from_str(url)
                    .with_context(|| format!("invalid PostgreSQL URL {:?}", redact_url(url)))?
                    .log_statements(tracing::log::LevelFilter::Trace);
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    // An idle connection is tested before it is handed out only when it has been
                    // idle a while (by default sqlx tests every one: a round trip before every
                    // query, on top of the one sqlx makes when the connection comes back).
                    // A busy pool hands each connection out again within milliseconds of its
                    // return, which tested it; a server restart takes longer than this.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_WHEN_IDLE_FOR {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(options)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {}", redact_url(url)))?;
                sqlx::migrate!("../migrations/postgres")
                    .run(&pool)
                    .await
                    .context("migrating the PostgreSQL database")?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    /// "SQLite" or "PostgreSQL", for people.
    pub fn product_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        }
    }

    /// A fact about this installation (`portal_meta`).
    pub async fn meta(&self, key: &str) -> Result<Option<String>, sqlx::Error> {
        match self {
            Self::Sqlite(pool) => {
                sqlx::query_scalar("SELECT value FROM portal_meta WHERE key = $1").bind(key).fetch_optional(pool).await
            }
            Self::Postgres(pool) => {
                sqlx::query_scalar("SELECT value FROM portal_meta WHERE key = $1").bind(key).fetch_optional(pool).await
            }
        }
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), sqlx::Error> {
        const SQL: &str = "INSERT INTO portal_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        match self {
            Self::Sqlite(pool) => sqlx::query(SQL).bind(key).bind(value).execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::query(SQL).bind(key).bind(value).execute(pool).await.map(drop),
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}
