//! SQLite's single writer with group commit: writes queue here and are committed together, one
//! transaction per group, each write in a savepoint so one refused write never undoes another.
//! SQLite allows one writer at a time anyway; grouping turns N commits into one.

use app::model::Kind;
use serde_json::Value;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{
    EventType, Result, SecretCipher, StoreError, WatchEvent,
    object::{self, Key},
    sql::{Change, DELETE_RESOURCE, INSERT_LOG, INSERT_RESOURCE, SELECT_BODY, UPDATE_RESOURCE, decode, encode},
};

/// Writes taken at once into one transaction.
const GROUP: usize = 256;

pub(super) type Decide = Box<dyn FnOnce(Option<Value>, u64) -> Result<Change> + Send>;

pub(super) struct Job {
    pub key: Key,
    pub decide: Decide,
    pub reply: oneshot::Sender<Result<Written>>,
}

/// What a write did: `rv` is `None` when nothing changed.
pub(super) struct Written {
    pub event_type: EventType,
    pub object: Value,
    pub rv: Option<u64>,
}

/// What the writer needs of the store (not the store itself, whose job sender would keep this
/// task alive forever).
pub(super) struct Codec {
    pub cipher: SecretCipher,
    pub events: broadcast::Sender<WatchEvent>,
}

pub(super) async fn run(pool: SqlitePool, codec: Codec, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&pool, &codec, group).await;
    }
}

async fn commit_group(pool: &SqlitePool, codec: &Codec, group: Vec<Job>) {
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => return fail_all(group, &e.to_string()),
    };
    let mut outcomes = Vec::with_capacity(group.len());
    let result: std::result::Result<(), sqlx::Error> = async {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let mut rv: i64 =
            sqlx::query_scalar("SELECT rv FROM resource_version WHERE id = 1").fetch_one(&mut *conn).await?;
        for job in group {
            sqlx::query("SAVEPOINT write").execute(&mut *conn).await?;
            let outcome = apply(&mut conn, codec, &job.key, job.decide, (rv + 1) as u64).await;
            match &outcome {
                Ok(written) if written.rv.is_some() => {
                    rv += 1;
                    sqlx::query("RELEASE write").execute(&mut *conn).await?;
                }
                Ok(_) => {
                    sqlx::query("RELEASE write").execute(&mut *conn).await?;
                }
                Err(_) => {
                    sqlx::query("ROLLBACK TO write").execute(&mut *conn).await?;
                    sqlx::query("RELEASE write").execute(&mut *conn).await?;
                }
            }
            outcomes.push((job.key.kind, job.reply, outcome));
        }
        sqlx::query("UPDATE resource_version SET rv = $1 WHERE id = 1").bind(rv).execute(&mut *conn).await?;
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        let message = e.to_string();
        for (_, reply, _) in outcomes {
            let _ = reply.send(Err(StoreError::Backend(message.clone())));
        }
        // Jobs not reached before the failure were dropped with their reply senders: their
        // callers see the writer as stopped for this write and may retry.
        return;
    }
    // Committed: tell watchers in version order, then the writers.
    for (kind, reply, outcome) in outcomes {
        if let Ok(written) = &outcome
            && let Some(rv) = written.rv
        {
            let _ = codec.events.send(WatchEvent {
                kind,
                event_type: written.event_type,
                resource_version: rv,
                object: written.object.clone(),
            });
        }
        let _ = reply.send(outcome);
    }
}

fn fail_all(group: Vec<Job>, message: &str) {
    for job in group {
        let _ = job.reply.send(Err(StoreError::Backend(message.to_string())));
    }
}

async fn apply(conn: &mut SqliteConnection, codec: &Codec, key: &Key, decide: Decide, rv: u64) -> Result<Written> {
    let kind: Kind = key.kind;
    let existing: Option<String> = sqlx::query_scalar(SELECT_BODY)
        .bind(kind.as_str())
        .bind(&key.namespace)
        .bind(&key.name)
        .fetch_optional(&mut *conn)
        .await?;
    let existing = existing.map(|body| decode(&codec.cipher, kind, &body)).transpose()?;
    let (event_type, object) = match decide(existing, rv)? {
        Change::Unchanged(object) => return Ok(Written { event_type: EventType::Modified, object, rv: None }),
        Change::Insert(o) => (EventType::Added, o),
        Change::Update(o) => (EventType::Modified, o),
        Change::Delete(o) => (EventType::Deleted, o),
    };
    let body = encode(&codec.cipher, kind, &object)?;
    sqlx::query(INSERT_LOG)
        .bind(rv as i64)
        .bind(kind.as_str())
        .bind(&key.namespace)
        .bind(&key.name)
        .bind(event_type.as_str())
        .bind(&body)
        .bind(jiff::Timestamp::now().as_millisecond())
        .execute(&mut *conn)
        .await?;
    let sql = match event_type {
        EventType::Added => INSERT_RESOURCE,
        EventType::Modified => UPDATE_RESOURCE,
        EventType::Deleted => DELETE_RESOURCE,
    };
    let row = sqlx::query(sql).bind(kind.as_str()).bind(&key.namespace).bind(&key.name);
    let row =
        if event_type == EventType::Deleted { row } else { row.bind(object::uid(&object)).bind(rv as i64).bind(&body) };
    row.execute(&mut *conn).await?;
    Ok(Written { event_type, object, rv: Some(rv) })
}
