//! Reads of single objects (`get`) on PostgreSQL, taken together: reads that queue while others
//! are in flight are answered by one statement, on one connection. Every read on PostgreSQL is a
//! round trip to the server and another when sqlx hands the connection back to its pool; a
//! controller that reads each object before it reconciles it makes thousands a second, most of
//! it network and wake-ups on both sides. Taken together they cost about one round trip a group.
//!
//! Consistency is a single read's: the statement starts after every read of its group was asked
//! for, so each sees at least every write acknowledged before it was asked. (SQLite reads are in
//! process and stay one statement each.)

use std::{collections::HashMap, sync::Arc};

use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Result, StoreError, group_writer::PG_READ_ROWS, object::Key};

/// Reads answered by one statement at most.
const GROUP: usize = 256;
/// Statements in flight at once (each on its own pooled connection); reads asked meanwhile queue.
const IN_FLIGHT: usize = 4;

pub(super) struct Read {
    pub key: Key,
    /// The stored body, if the object exists.
    pub reply: oneshot::Sender<Result<Option<String>>>,
}

/// Runs until every sender (every clone of the store) is gone.
pub(super) async fn run(pool: PgPool, mut reads: mpsc::Receiver<Read>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = reads.recv().await {
        // Wait for a free slot before gathering: what arrives meanwhile joins this group.
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut group = vec![first];
        while group.len() < GROUP {
            match reads.try_recv() {
                Ok(read) => group.push(read),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, group).await;
            drop(slot);
        });
    }
}

async fn answer(pool: &PgPool, group: Vec<Read>) {
    let mut keys: Vec<&Key> = group.iter().map(|r| &r.key).collect();
    keys.sort_by(|a, b| (a.kind.as_str(), &a.namespace, &a.name).cmp(&(b.kind.as_str(), &b.namespace, &b.name)));
    keys.dedup();
    let rows: sqlx::Result<Vec<(String, String, String, String)>> = sqlx::query_as(PG_READ_ROWS)
        .bind(keys.iter().map(|k| k.kind.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.namespace.as_str()).collect::<Vec<_>>())
        .bind(keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>())
        .fetch_all(pool)
        .await;
    match rows {
        Ok(rows) => {
            let bodies: HashMap<(String, String, String), String> =
                rows.into_iter().map(|(kind, namespace, name, body)| ((kind, namespace, name), body)).collect();
            for read in group {
                let found = (read.key.kind.as_str().to_string(), read.key.namespace, read.key.name);
                let _ = read.reply.send(Ok(bodies.get(&found).cloned()));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for read in group {
                let _ = read.reply.send(Err(StoreError::Backend(message.clone())));
            }
        }
    }
}
