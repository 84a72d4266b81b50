//! tower-sessions' `SessionStore` over the portal's own database (SQLite or PostgreSQL), so
//! sessions survive restarts and are shared by every process on one database.

use tower_sessions::{
    SessionStore,
    session::{Id, Record},
    session_store::{Error, Result},
};

use crate::db::Database;

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    db: Database,
}

impl SqlSessionStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Removes expired sessions; returns how many.
    pub async fn delete_expired(&self) -> Result<u64> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let done = match &self.db {
            Database::Sqlite(pool) => sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
            Database::Postgres(pool) => sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()),
        };
        done.map_err(backend)
    }
}

fn backend(e: sqlx::Error) -> Error {
    Error::Backend(e.to_string())
}

fn encode(record: &Record) -> Result<String> {
    serde_json::to_string(record).map_err(|e| Error::Encode(e.to_string()))
}

#[async_trait::async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> Result<()> {
        // A fresh id until one is free (collisions of 128 random bits are theoretical, but cheap to rule out).
        loop {
            let body = encode(record)?;
            let id = record.id.to_string();
            let expires = record.expiry_date.unix_timestamp();
            const SQL: &str =
                "INSERT INTO sessions (id, record, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
            let inserted = match &self.db {
                Database::Sqlite(pool) => {
                    sqlx::query(SQL).bind(&id).bind(&body).bind(expires).execute(pool).await.map(|r| r.rows_affected())
                }
                Database::Postgres(pool) => {
                    sqlx::query(SQL).bind(&id).bind(&body).bind(expires).execute(pool).await.map(|r| r.rows_affected())
                }
            }
            .map_err(backend)?;
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> Result<()> {
        let body = encode(record)?;
        let id = record.id.to_string();
        let expires = record.expiry_date.unix_timestamp();
        // Only a session that still exists: a request that read it before a sign-out (or a
        // sign-in's new id) deleted it does not bring it back. New sessions come through `create`.
        const SQL: &str = "UPDATE sessions SET record = $2, expires_at = $3 WHERE id = $1";
        match &self.db {
            Database::Sqlite(pool) => {
                sqlx::query(SQL).bind(&id).bind(&body).bind(expires).execute(pool).await.map(drop)
            }
            Database::Postgres(pool) => {
                sqlx::query(SQL).bind(&id).bind(&body).bind(expires).execute(pool).await.map(drop)
            }
        }
        .map_err(backend)
    }

    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        const SQL: &str = "SELECT record FROM sessions WHERE id = $1 AND expires_at > $2";
        let body: Option<String> = match &self.db {
            Database::Sqlite(pool) => sqlx::query_scalar(SQL).bind(id.to_string()).bind(now).fetch_optional(pool).await,
            Database::Postgres(pool) => {
                sqlx::query_scalar(SQL).bind(id.to_string()).bind(now).fetch_optional(pool).await
            }
        }
        .map_err(backend)?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| Error::Decode(e.to_string()))).transpose()
    }

    async fn delete(&self, id: &Id) -> Result<()> {
        const SQL: &str = "DELETE FROM sessions WHERE id = $1";
        match &self.db {
            Database::Sqlite(pool) => sqlx::query(SQL).bind(id.to_string()).execute(pool).await.map(drop),
            Database::Postgres(pool) => sqlx::query(SQL).bind(id.to_string()).execute(pool).await.map(drop),
        }
        .map_err(backend)
    }
}
