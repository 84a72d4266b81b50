//! Per-object leases, so several portal processes on one PostgreSQL database never reconcile the
//! same object at once (and so never send the same operation twice). A process that dies holding
//! leases loses them when they expire. SQLite serves one process: no leases needed.

use std::time::Duration;

use sqlx::PgPool;

use crate::{db::Database, store::StoreError};

pub struct Leases {
    pool: Option<PgPool>,
    holder: String,
    ttl: Duration,
}

impl Leases {
    /// `ttl` must outlast the longest reconcile (a broker call at its timeout, plus writes).
    pub fn new(db: &Database, ttl: Duration) -> Self {
        let pool = match db {
            Database::Postgres(pool) => Some(pool.clone()),
            Database::Sqlite(_) => None,
        };
        Self { pool, holder: uuid::Uuid::new_v4().to_string(), ttl }
    }

    /// Leases that always succeed (one process, or tests).
    pub fn none() -> Self {
        Self { pool: None, holder: String::new(), ttl: Duration::ZERO }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes (or renews) the lease on `target`; `false` when another process holds it.
    pub async fn acquire(&self, target: &str) -> Result<bool, StoreError> {
        let Some(pool) = &self.pool else { return Ok(true) };
        let now = jiff::Timestamp::now().as_millisecond();
        let expires = now + self.ttl.as_millis() as i64;
        let taken: Option<String> = sqlx::query_scalar(
            "INSERT INTO reconcile_leases (target, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (target) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at \
             WHERE reconcile_leases.holder = EXCLUDED.holder OR reconcile_leases.expires_at < $4 \
             RETURNING holder",
        )
        .bind(target)
        .bind(&self.holder)
        .bind(expires)
        .bind(now)
        .fetch_optional(pool)
        .await?;
        Ok(taken.is_some())
    }

    pub async fn release(&self, target: &str) {
        let Some(pool) = &self.pool else { return };
        let result = sqlx::query("DELETE FROM reconcile_leases WHERE target = $1 AND holder = $2")
            .bind(target)
            .bind(&self.holder)
            .execute(pool)
            .await;
        if let Err(e) = result {
            tracing::warn!(target, error = %e, "releasing a lease failed; it expires by itself");
        }
    }
}
