//! Noticing writes made by other processes on the same database, so every process's watches see
//! every change: PostgreSQL delivers `NOTIFY qm_resources` on commit; SQLite has no such thing,
//! so its newest version is polled.
//!
//! Versions this store's own writer committed are not news: the writer hands them to watchers
//! itself (the broadcast), in order, right after the commit. Taking its notifications as news
//! would send every watcher to read the change log again for changes it is about to get (or just
//! got) from the broadcast — the NOTIFY often arrives before the commit's answer (for 5 groups in
//! 6 in a provisioning bench). So a version at or below what [`OwnWrites`] holds is skipped here; a watcher still
//! reads the log whenever the broadcast shows it a gap (another process's versions in between).

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};

use crate::db::Database;

const SQLITE_POLL: Duration = Duration::from_millis(250);
/// A safety net under LISTEN (a notification lost while the listener reconnects).
const POSTGRES_POLL: Duration = Duration::from_secs(5);

/// What this store's writer has committed, shared with [`follow`].
#[derive(Default)]
pub(super) struct OwnWrites {
    /// The newest version the writer committed or is committing (set before its COMMIT, so no
    /// notification of it can arrive first). A group that fails puts back the value from before
    /// it and asks for a [`Self::recheck`]: its commit may or may not have happened.
    through: AtomicU64,
    recheck: Notify,
}

impl OwnWrites {
    /// Called before the writer commits versions up to `rv`; returns what to restore on failure.
    pub(super) fn committing(&self, rv: u64) -> u64 {
        self.through.swap(rv, Ordering::SeqCst)
    }

    /// Called when a group whose commit was announced with [`Self::committing`] failed: the
    /// database's own counter is read again, so a commit that happened despite the error (its
    /// answer lost) still reaches every watcher.
    pub(super) fn failed(&self, before: u64) {
        self.through.store(before, Ordering::SeqCst);
        self.recheck.notify_one();
    }

    fn is_own(&self, rv: u64) -> bool {
        rv <= self.through.load(Ordering::SeqCst)
    }
}

/// Runs until the store is dropped (or its pool closed).
pub(super) async fn follow(db: Database, latest: Weak<watch::Sender<u64>>, own: Arc<OwnWrites>) {
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
    // A fixed beat, not a pause after the last notification: the poll is a safety net for a lost
    // notification, so it must go on while (own, skipped) notifications keep arriving.
    let mut beat = tokio::time::interval(poll);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = beat.tick() => newest(&db).await,
                () = own.recheck.notified() => newest(&db).await,
            },
            None => tokio::select! {
                _ = beat.tick() => newest(&db).await,
                () = own.recheck.notified() => newest(&db).await,
            },
        };
        let Some(sender) = latest.upgrade() else { return };
        if db_closed(&db) {
            return;
        }
        if let Some(rv) = noticed.filter(|rv| !own.is_own(*rv)) {
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
