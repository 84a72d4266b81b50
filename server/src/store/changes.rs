//! Noticing writes made by other processes on the same database, so every process's watches see
//! every change: PostgreSQL delivers `NOTIFY qm_resources` on commit; SQLite has no such thing,
//! so its newest version is polled.

use std::{sync::Weak, time::Duration};

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::db::Database;

const SQLITE_POLL: Duration = Duration::from_millis(250);
/// A safety net under LISTEN (a notification lost while the listener reconnects).
const POSTGRES_POLL: Duration = Duration::from_secs(5);

/// Runs until the store is dropped (or its pool closed).
pub(super) async fn follow(db: Database, latest: Weak<watch::Sender<u64>>) {
    let mut listener = match &db {
        Database::Postgres(pool) => match PgListener::connect_with(pool).await {
            Ok(mut l) => match l.listen("qm_resources").await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN failed; watching other processes' writes by polling");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a listener connection; polling instead");
                None
            }
        },
        Database::Sqlite(_) => None,
    };
    let poll = if matches!(db, Database::Sqlite(_)) { SQLITE_POLL } else { POSTGRES_POLL };
    loop {
        let noticed: Option<u64> = match listener.as_mut() {
            Some(l) => tokio::select! {
                n = l.recv() => match n {
                    Ok(n) => n.payload().parse().ok(),
                    Err(e) => {
                        tracing::warn!(error = %e, "listener broke; it reconnects on the next receive");
                        None
                    }
                },
                () = tokio::time::sleep(poll) => newest(&db).await,
            },
            None => {
                tokio::time::sleep(poll).await;
                newest(&db).await
            }
        };
        let Some(sender) = latest.upgrade() else { return };
        if db_closed(&db) {
            return;
        }
        if let Some(rv) = noticed {
            sender.send_if_modified(|latest| {
                let moved = rv > *latest;
                if moved {
                    *latest = rv;
                }
                moved
            });
        }
    }
}

fn db_closed(db: &Database) -> bool {
    match db {
        Database::Sqlite(pool) => pool.is_closed(),
        Database::Postgres(pool) => pool.is_closed(),
    }
}

async fn newest(db: &Database) -> Option<u64> {
    let rv: Result<i64, sqlx::Error> = match db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT rv FROM resource_version WHERE id = 1").fetch_one(pool).await
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT rv FROM resource_version WHERE id = 1").fetch_one(pool).await
        }
    };
    rv.ok().map(|rv| rv as u64)
}
