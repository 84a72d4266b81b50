//! The store's writer with group commit: writes queue here and are committed together, one
//! transaction per group, on SQLite and PostgreSQL alike. Every write takes the one
//! resourceVersion counter, so writes are serial anyway (SQLite has one writer; on PostgreSQL the
//! counter's row lock orders every process's writers); grouping turns N transactions into one,
//! and a group costs a handful of statements, not a handful per write: the rows the group
//! touches are read in one statement, each write is decided in order against the group's own
//! view (a later write of the same object sees the earlier one), and the log entries and rows
//! are written in one statement each. A refused write (its `decide` says no) writes nothing and
//! never undoes another; a failing statement fails the whole group, and nothing of it is kept.

use std::{collections::HashMap, sync::Arc};

use app::model::Kind;
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::{
    Database, Decode, Encode, Executor, IntoArguments, PgConnection, Pool, Postgres, QueryBuilder, Sqlite,
    SqliteConnection, Type,
};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::db;

use super::{
    EventType, Result, SecretCipher, StoreError, WatchEvent,
    changes::OwnWrites,
    object::{self, Key},
    sql::{Change, decode, encode},
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
    /// Tells the follower of other processes' writes which versions are this writer's own.
    pub own: Arc<OwnWrites>,
}

pub(super) async fn run(db: db::Database, codec: Codec, jobs: mpsc::Receiver<Job>) {
    match db {
        db::Database::Sqlite(pool) => Writer::<Sqlite> { pool, codec }.run(jobs).await,
        db::Database::Postgres(pool) => Writer::<Postgres> { pool, codec }.run(jobs).await,
    }
}

/// A log entry the group appends: (version, object, event, stored body).
type LogEntry = (i64, Key, EventType, String);
/// A row the group leaves in place: (object, uid, version, stored body).
type KeptRow = (Key, String, i64, String);
/// A stored row read back: (kind, namespace, name, body).
type StoredRow = (String, String, String, String);

/// What differs between the two databases for the writer.
pub(super) trait Dialect: Database {
    /// Opens the group's transaction.
    const BEGIN: &'static str;
    /// Reads the counter, locking it for the transaction where other processes may write.
    const READ_VERSION: &'static str;
    /// Sets the counter (`$1`: the group's newest version), on PostgreSQL also telling other
    /// processes (delivered when, and only if, the group commits).
    const BUMP_VERSION: &'static str;

    /// The stored rows of `keys` (sorted, without duplicates).
    fn read_rows<'c>(conn: &'c mut Self::Connection, keys: &'c [Key]) -> BoxFuture<'c, sqlx::Result<Vec<StoredRow>>>;
    /// Appends the group's changes to the log, in version order.
    fn write_log<'c>(conn: &'c mut Self::Connection, log: &'c [LogEntry], now: i64) -> BoxFuture<'c, sqlx::Result<()>>;
    /// Removes the rows of objects the group deleted.
    fn delete_rows<'c>(conn: &'c mut Self::Connection, keys: &'c [Key]) -> BoxFuture<'c, sqlx::Result<()>>;
    /// Inserts or replaces the rows the group leaves in place (an object deleted and made anew
    /// within the group replaces its row, new uid and all).
    fn upsert_rows<'c>(conn: &'c mut Self::Connection, rows: &'c [KeptRow]) -> BoxFuture<'c, sqlx::Result<()>>;
}

impl Dialect for Sqlite {
    // IMMEDIATE takes the write lock up front: no busy-snapshot failures on upgrade.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
    const READ_VERSION: &'static str = "SELECT rv FROM resource_version WHERE id = 1";
    // Other processes poll the counter (see `changes`).
    const BUMP_VERSION: &'static str = "UPDATE resource_version SET rv = $1 WHERE id = 1";

    // SQLite has no arrays to bind: one `VALUES` list per chunk (a statement per group size,
    // which SQLite prepares in microseconds, in process).
    fn read_rows<'c>(conn: &'c mut SqliteConnection, keys: &'c [Key]) -> BoxFuture<'c, sqlx::Result<Vec<StoredRow>>> {
        Box::pin(async move {
            let mut rows = Vec::new();
            for chunk in keys.chunks(MAX_PARAMS / 3) {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT kind, namespace, name, body FROM resources WHERE (kind, namespace, name) IN (",
                );
                query.push_values(chunk, |mut row, key| {
                    row.push_bind(key.kind.as_str()).push_bind(&key.namespace).push_bind(&key.name);
                });
                query.push(")");
                rows.extend(query.build_query_as::<StoredRow>().fetch_all(&mut *conn).await?);
            }
            Ok(rows)
        })
    }

    fn write_log<'c>(conn: &'c mut SqliteConnection, log: &'c [LogEntry], now: i64) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            for chunk in log.chunks(MAX_PARAMS / 7) {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO resource_log (rv, kind, namespace, name, event_type, body, created_at) ",
                );
                query.push_values(chunk, |mut row, (rv, key, event_type, body)| {
                    row.push_bind(*rv)
                        .push_bind(key.kind.as_str())
                        .push_bind(&key.namespace)
                        .push_bind(&key.name)
                        .push_bind(event_type.as_str())
                        .push_bind(body)
                        .push_bind(now);
                });
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        })
    }

    fn delete_rows<'c>(conn: &'c mut SqliteConnection, keys: &'c [Key]) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            for chunk in keys.chunks(MAX_PARAMS / 3) {
                let mut query = QueryBuilder::<Sqlite>::new("DELETE FROM resources WHERE (kind, namespace, name) IN (");
                query.push_values(chunk, |mut row, key| {
                    row.push_bind(key.kind.as_str()).push_bind(&key.namespace).push_bind(&key.name);
                });
                query.push(")");
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        })
    }

    fn upsert_rows<'c>(conn: &'c mut SqliteConnection, rows: &'c [KeptRow]) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            for chunk in rows.chunks(MAX_PARAMS / 6) {
                let mut query =
                    QueryBuilder::<Sqlite>::new("INSERT INTO resources (kind, namespace, name, uid, rv, body) ");
                query.push_values(chunk, |mut row, (key, uid, rv, body)| {
                    row.push_bind(key.kind.as_str())
                        .push_bind(&key.namespace)
                        .push_bind(&key.name)
                        .push_bind(uid)
                        .push_bind(*rv)
                        .push_bind(body);
                });
                query.push(UPSERT);
                query.build().execute(&mut *conn).await?;
            }
            Ok(())
        })
    }
}

/// Keeps the newest state of a row the group writes.
const UPSERT: &str =
    " ON CONFLICT (kind, namespace, name) DO UPDATE SET uid = excluded.uid, rv = excluded.rv, body = excluded.body";

/// The stored rows of the keys bound as three arrays (kind, namespace, name): each looked up in
/// the key's index. (A join of the arrays with the table is planned by what the table held when
/// the connection first prepared it: a plan made over a nearly empty table — a scan of every
/// row — stays with the connection as the table grows, and each group then reads all of it.)
pub(super) const PG_READ_ROWS: &str = "SELECT k.kind, k.namespace, k.name, r.body \
     FROM UNNEST($1::text[], $2::text[], $3::text[]) AS k (kind, namespace, name) \
     CROSS JOIN LATERAL (SELECT body FROM resources \
     WHERE kind = k.kind AND namespace = k.namespace AND name = k.name LIMIT 1) AS r";

/// Each column of `items` as an array to bind.
fn column<'a, T, C>(items: &'a [T], f: impl Fn(&'a T) -> C) -> Vec<C> {
    items.iter().map(f).collect()
}

impl Dialect for Postgres {
    const BEGIN: &'static str = "BEGIN";
    const READ_VERSION: &'static str = "SELECT rv FROM resource_version WHERE id = 1 FOR UPDATE";
    const BUMP_VERSION: &'static str = "WITH bumped AS (UPDATE resource_version SET rv = $1 WHERE id = 1 RETURNING rv) \
         SELECT pg_notify('qm_resources', rv::text) FROM bumped";

    // Columns travel as arrays (`UNNEST`): one statement text whatever the group's size, so each
    // connection prepares it once and PostgreSQL plans it once, instead of parsing and planning
    // a new `VALUES` list of hundreds of parameters for every group size it meets.
    fn read_rows<'c>(conn: &'c mut PgConnection, keys: &'c [Key]) -> BoxFuture<'c, sqlx::Result<Vec<StoredRow>>> {
        Box::pin(async move {
            sqlx::query_as(PG_READ_ROWS)
                .bind(column(keys, |k| k.kind.as_str()))
                .bind(column(keys, |k| k.namespace.as_str()))
                .bind(column(keys, |k| k.name.as_str()))
                .fetch_all(conn)
                .await
        })
    }

    fn write_log<'c>(conn: &'c mut PgConnection, log: &'c [LogEntry], now: i64) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO resource_log (rv, kind, namespace, name, event_type, body, created_at) \
                 SELECT rv, kind, namespace, name, event_type, body, $7 \
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
                 AS l (rv, kind, namespace, name, event_type, body)",
            )
            .bind(column(log, |l| l.0))
            .bind(column(log, |l| l.1.kind.as_str()))
            .bind(column(log, |l| l.1.namespace.as_str()))
            .bind(column(log, |l| l.1.name.as_str()))
            .bind(column(log, |l| l.2.as_str()))
            .bind(column(log, |l| l.3.as_str()))
            .bind(now)
            .execute(conn)
            .await
            .map(drop)
        })
    }

    fn delete_rows<'c>(conn: &'c mut PgConnection, keys: &'c [Key]) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            // The rows found through the key index as in `PG_READ_ROWS`, then deleted by their
            // physical address: a join could be planned as a scan of the whole table.
            sqlx::query(
                "DELETE FROM resources WHERE ctid = ANY (ARRAY(SELECT r.ctid \
                 FROM UNNEST($1::text[], $2::text[], $3::text[]) AS k (kind, namespace, name) \
                 CROSS JOIN LATERAL (SELECT ctid FROM resources \
                 WHERE kind = k.kind AND namespace = k.namespace AND name = k.name LIMIT 1) AS r))",
            )
            .bind(column(keys, |k| k.kind.as_str()))
            .bind(column(keys, |k| k.namespace.as_str()))
            .bind(column(keys, |k| k.name.as_str()))
            .execute(conn)
            .await
            .map(drop)
        })
    }

    fn upsert_rows<'c>(conn: &'c mut PgConnection, rows: &'c [KeptRow]) -> BoxFuture<'c, sqlx::Result<()>> {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO resources (kind, namespace, name, uid, rv, body) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[]){UPSERT}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(column(rows, |r| r.0.kind.as_str()))
                .bind(column(rows, |r| r.0.namespace.as_str()))
                .bind(column(rows, |r| r.0.name.as_str()))
                .bind(column(rows, |r| r.1.as_str()))
                .bind(column(rows, |r| r.2))
                .bind(column(rows, |r| r.3.as_str()))
                .execute(conn)
                .await
                .map(drop)
        })
    }
}

struct Writer<DB: Database> {
    pool: Pool<DB>,
    codec: Codec,
}

/// A row as the group leaves it: `None` once deleted.
type RowState = Option<(String, i64, String)>;

impl<DB: Dialect> Writer<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: Default + IntoArguments<DB>,
    i64: for<'r> Decode<'r, DB> + for<'a> Encode<'a, DB> + Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(first) = jobs.recv().await {
            let mut group = vec![first];
            while group.len() < GROUP {
                match jobs.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            self.commit_group(group).await;
        }
    }

    async fn commit_group(&self, group: Vec<Job>) {
        let codec = &self.codec;
        let mut conn = match self.pool.acquire().await {
            Ok(c) => c,
            Err(e) => return fail_all(group, &e.to_string()),
        };
        let mut outcomes = Vec::with_capacity(group.len());
        // What `codec.own` said before this group's commit, when the group has one to make.
        let mut announced: Option<u64> = None;
        let result: std::result::Result<(), sqlx::Error> = async {
            sqlx::query(DB::BEGIN).execute(&mut *conn).await?;
            let mut rv: i64 = sqlx::query_scalar(DB::READ_VERSION).fetch_one(&mut *conn).await?;
            let keys: Vec<Key> = group.iter().map(|j| j.key.clone()).collect();
            let mut view = Self::read_rows(&mut conn, codec, keys).await?;
            let now = jiff::Timestamp::now().as_millisecond();
            let mut log: Vec<LogEntry> = Vec::new();
            let mut rows: HashMap<Key, RowState> = HashMap::new();
            for job in group {
                let outcome = decide_one(codec, &mut view, &job.key, job.decide, rv + 1).map(|(written, body)| {
                    if let (Some(next), Some(body)) = (written.rv, body) {
                        rv = next as i64;
                        let row = (written.event_type != EventType::Deleted)
                            .then(|| (object::uid(&written.object).to_string(), rv, body.clone()));
                        rows.insert(job.key.clone(), row);
                        log.push((rv, job.key.clone(), written.event_type, body));
                    }
                    written
                });
                outcomes.push((job.key.kind, job.reply, outcome));
            }
            // A group that changed nothing (every write refused or a no-op) leaves the counter.
            if !log.is_empty() {
                DB::write_log(&mut conn, &log, now).await?;
                let (kept, deleted): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(_, row)| row.is_some());
                let deleted: Vec<Key> = deleted.into_iter().map(|(key, _)| key).collect();
                if !deleted.is_empty() {
                    DB::delete_rows(&mut conn, &deleted).await?;
                }
                let kept: Vec<KeptRow> =
                    kept.into_iter().filter_map(|(key, row)| row.map(|(uid, rv, body)| (key, uid, rv, body))).collect();
                if !kept.is_empty() {
                    DB::upsert_rows(&mut conn, &kept).await?;
                }
                sqlx::query(DB::BUMP_VERSION).bind(rv).execute(&mut *conn).await?;
                announced = Some(codec.own.committing(rv as u64));
            }
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            if let Some(before) = announced {
                codec.own.failed(before);
            }
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

    /// Reads every row the group touches, decoded.
    async fn read_rows(conn: &mut DB::Connection, codec: &Codec, mut keys: Vec<Key>) -> sqlx::Result<View> {
        keys.sort_by(|a, b| (a.kind.as_str(), &a.namespace, &a.name).cmp(&(b.kind.as_str(), &b.namespace, &b.name)));
        keys.dedup();
        let mut view: View = keys.iter().map(|k| (k.clone(), Ok(None))).collect();
        for (kind, namespace, name, body) in DB::read_rows(conn, &keys).await? {
            let Some(kind) = Kind::parse(&kind) else { continue };
            let decoded = decode(&codec.cipher, kind, &body).map(Some).map_err(|e| e.to_string());
            view.insert(Key { kind, namespace, name }, decoded);
        }
        Ok(view)
    }
}

fn fail_all(group: Vec<Job>, message: &str) {
    for job in group {
        let _ = job.reply.send(Err(StoreError::Backend(message.to_string())));
    }
}

/// The group's view of the objects it touches: decoded, or why a stored body is unreadable.
type View = HashMap<Key, std::result::Result<Option<Value>, String>>;

/// Statement parameters SQLite takes at most (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32), with room.
const MAX_PARAMS: usize = 30_000;

/// One write decided against the group's view (which it then updates): what it did, and the
/// body to store when it changed something.
fn decide_one(codec: &Codec, view: &mut View, key: &Key, decide: Decide, rv: i64) -> Result<(Written, Option<String>)> {
    let existing = match view.get(key) {
        Some(Ok(existing)) => existing.clone(),
        Some(Err(message)) => return Err(StoreError::Backend(message.clone())),
        None => None,
    };
    let (event_type, object) = match decide(existing, rv as u64)? {
        Change::Unchanged(object) => return Ok((Written { event_type: EventType::Modified, object, rv: None }, None)),
        Change::Insert(o) => (EventType::Added, o),
        Change::Update(o) => (EventType::Modified, o),
        Change::Delete(o) => (EventType::Deleted, o),
    };
    let body = encode(&codec.cipher, key.kind, &object)?;
    view.insert(key.clone(), Ok((event_type != EventType::Deleted).then(|| object.clone())));
    Ok((Written { event_type, object, rv: Some(rv as u64) }, Some(body)))
}
