//! The SQL backends of the `ResourceStore`: SQLite (embedded) and PostgreSQL share one
//! implementation; each write takes the next resourceVersion from a one-row counter, which also
//! serialises writers, so versions are gap-free and commit in order.

use std::sync::Arc;

use app::model::Kind;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64URL};
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::{
    Deleted, EventType, ListQuery, ObjectList, ResourceStore, Result, SecretCipher, StoreError, WatchEvent, WatchQuery,
    group_reader, group_writer,
    object::{self, Key},
    watch,
};
use crate::db::Database;

/// Runs `$body` with `$pool` bound to whichever pool the database has, and `$begin_write` /
/// `$begin_read` bound to that dialect's transaction openers. The body is written once and
/// compiled for both backends.
macro_rules! dispatch {
    ($db:expr, $pool:ident, $begin_write:ident, $begin_read:ident => $body:expr) => {
        match $db {
            Database::Sqlite($pool) => {
                // IMMEDIATE takes the write lock up front: no busy-snapshot failures on upgrade.
                const $begin_write: &str = "BEGIN IMMEDIATE";
                const $begin_read: &str = "BEGIN";
                $body
            }
            Database::Postgres($pool) => {
                const $begin_write: &str = "BEGIN";
                const $begin_read: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
                $body
            }
        }
    };
}

const LIST_ALL: &str = "SELECT body FROM resources WHERE kind = $1 \
     AND ($2 IS NULL OR namespace = $2) AND ($3 IS NULL OR name = $3) \
     AND ($4 IS NULL OR namespace > $4 OR (namespace = $4 AND name > $5)) \
     AND ($6 IS NULL OR $6 > 0) ORDER BY namespace, name";
const LIST_LIMITED: &str = "SELECT body FROM resources WHERE kind = $1 \
     AND ($2 IS NULL OR namespace = $2) AND ($3 IS NULL OR name = $3) \
     AND ($4 IS NULL OR namespace > $4 OR (namespace = $4 AND name > $5)) \
     ORDER BY namespace, name LIMIT $6";

/// What a write decided to do with the row.
pub(super) enum Change {
    Insert(Value),
    Update(Value),
    Delete(Value),
    /// Nothing to write: the transaction is rolled back and this state returned.
    Unchanged(Value),
}

#[derive(Clone)]
pub struct SqlStore {
    pub(super) db: Database,
    pub(super) cipher: SecretCipher,
    pub(super) events: broadcast::Sender<WatchEvent>,
    /// The newest committed version as noticed by `changes::follow` (which also sees other
    /// processes' writes); watchers catch up from the log when it passes them.
    pub(super) latest: Arc<tokio::sync::watch::Sender<u64>>,
    /// How many log entries to keep for watches that resume.
    retention: u64,
    /// Writes go to one task that commits them in groups (see `group_writer`).
    writer: tokio::sync::mpsc::Sender<group_writer::Job>,
    /// On PostgreSQL, reads of single objects are answered in groups too (see `group_reader`).
    reader: Option<tokio::sync::mpsc::Sender<group_reader::Read>>,
}

impl SqlStore {
    /// A store on `db`. Must be called within a Tokio runtime: it starts a task that notices
    /// writes of other processes (PostgreSQL `LISTEN`, SQLite polling), which ends with the store.
    pub fn new(db: Database, cipher: SecretCipher) -> Self {
        let (events, _) = broadcast::channel(4096);
        let latest = Arc::new(tokio::sync::watch::channel(0).0);
        let own = Arc::new(super::changes::OwnWrites::default());
        tokio::spawn(super::changes::follow(db.clone(), Arc::downgrade(&latest), own.clone()));
        let (writer, jobs) = tokio::sync::mpsc::channel(1024);
        let codec = group_writer::Codec { cipher: cipher.clone(), events: events.clone(), own };
        tokio::spawn(group_writer::run(db.clone(), codec, jobs));
        let reader = match &db {
            Database::Postgres(pool) => {
                let (reader, reads) = tokio::sync::mpsc::channel(1024);
                tokio::spawn(group_reader::run(pool.clone(), reads));
                Some(reader)
            }
            Database::Sqlite(_) => None,
        };
        Self { db, cipher, events, latest, retention: super::DEFAULT_CHANGE_LOG_RETENTION, writer, reader }
    }

    /// Keep only this many change-log entries (older resume points answer 410 Gone).
    pub fn with_retention(mut self, entries: u64) -> Self {
        self.retention = entries.max(1);
        self
    }

    /// Parses a stored body, opening sealed Secret data.
    pub(super) fn decode(&self, kind: Kind, body: &str) -> Result<Value> {
        decode(&self.cipher, kind, body)
    }

    async fn write(
        &self,
        key: &Key,
        decide: impl FnOnce(Option<Value>, u64) -> Result<Change> + Send + 'static,
    ) -> Result<(EventType, Value)> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = group_writer::Job { key: key.clone(), decide: Box::new(decide), reply };
        let stopped = || StoreError::Backend("the store's writer has stopped".into());
        self.writer.send(job).await.map_err(|_| stopped())?;
        let written = answer.await.map_err(|_| stopped())??;
        if let Some(rv) = written.rv {
            self.after_write(rv).await;
        }
        Ok((written.event_type, written.object))
    }

    async fn after_write(&self, rv: u64) {
        // Every 1024 versions, or as often as the window is long when it is shorter.
        if rv.is_multiple_of(self.retention.min(1024)) {
            self.compact(rv).await;
        }
    }

    /// Drops log entries older than the retention window.
    async fn compact(&self, newest: u64) {
        let Some(horizon) = newest.checked_sub(self.retention) else { return };
        let result = dispatch!(&self.db, pool, _W, _R => {
            sqlx::query("DELETE FROM resource_log WHERE rv <= $1").bind(horizon as i64).execute(pool).await.map(drop)
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "compacting the resource log failed; will retry later");
        }
    }

    /// The oldest version a watch can still resume after.
    pub(super) async fn oldest_resumable(&self) -> Result<u64> {
        let oldest: Option<i64> = dispatch!(&self.db, pool, _W, _R => {
            sqlx::query_scalar("SELECT MIN(rv) FROM resource_log").fetch_one(pool).await?
        });
        Ok(oldest.map(|rv| (rv as u64).saturating_sub(1)).unwrap_or(0))
    }

    /// Log entries after `after`, oldest first, at most `limit`.
    pub(super) async fn log_after(&self, after: u64, limit: i64) -> Result<Vec<WatchEvent>> {
        let rows: Vec<(i64, String, String, String)> = dispatch!(&self.db, pool, _W, _R => {
            sqlx::query_as("SELECT rv, kind, event_type, body FROM resource_log WHERE rv > $1 ORDER BY rv LIMIT $2")
                .bind(after as i64)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(rv, kind, event_type, body)| {
                let kind =
                    Kind::parse(&kind).ok_or_else(|| StoreError::Backend(format!("unknown kind {kind:?} in log")))?;
                let event_type = EventType::parse(&event_type)
                    .ok_or_else(|| StoreError::Backend(format!("unknown event type {event_type:?} in log")))?;
                Ok(WatchEvent { kind, event_type, resource_version: rv as u64, object: self.decode(kind, &body)? })
            })
            .collect()
    }
}

pub(super) fn decode(cipher: &SecretCipher, kind: Kind, body: &str) -> Result<Value> {
    let mut value: Value =
        serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("stored {kind} is not JSON: {e}")))?;
    if kind == Kind::Secret {
        cipher.open(&mut value).map_err(StoreError::Backend)?;
    }
    Ok(value)
}

pub(super) fn encode(cipher: &SecretCipher, kind: Kind, object: &Value) -> Result<String> {
    if kind == Kind::Secret {
        let mut sealed = object.clone();
        cipher.seal(&mut sealed).map_err(|m| StoreError::invalid(kind, object::name(object), "data", m))?;
        Ok(sealed.to_string())
    } else {
        Ok(object.to_string())
    }
}

fn not_found(key: &Key) -> StoreError {
    StoreError::NotFound { kind: key.kind, namespace: key.namespace.clone(), name: key.name.clone() }
}

fn conflict(key: &Key) -> StoreError {
    StoreError::Conflict { kind: key.kind, namespace: key.namespace.clone(), name: key.name.clone() }
}

fn key_of(kind: Kind, namespace: &str, name: &str) -> Key {
    Key {
        kind,
        namespace: if kind.namespaced() { namespace.to_string() } else { String::new() },
        name: name.to_string(),
    }
}

/// Brings an incoming object to its stored form (Secrets: `stringData` merged into `data`).
fn normalize(kind: Kind, object: &mut Value) -> Result<()> {
    if kind == Kind::Secret {
        super::crypto::merge_string_data(object)
            .map_err(|m| StoreError::invalid(kind, object::name(object), "data", m))?;
    }
    Ok(())
}

fn set_rv(object: &mut Value, rv: u64) {
    object::set_meta(object, "resourceVersion", Value::String(rv.to_string()));
}

/// The resourceVersion recorded in an object read from the store.
fn stored_rv(object: &Value) -> u64 {
    object::meta_str(object, "resourceVersion").and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Checks the writer's claimed resourceVersion and uid against the stored object.
fn check_preconditions(key: &Key, incoming: &Value, existing: &Value) -> Result<()> {
    if let Some(claimed) = object::claimed_resource_version(key.kind, incoming)?
        && claimed != stored_rv(existing)
    {
        return Err(conflict(key));
    }
    let uid = object::uid(incoming);
    if !uid.is_empty() && uid != object::uid(existing) {
        return Err(conflict(key));
    }
    Ok(())
}

fn encode_continue(namespace: &str, name: &str) -> String {
    B64URL.encode(json!([namespace, name]).to_string())
}

fn decode_continue(token: &str) -> Result<(String, String)> {
    let bad = || StoreError::invalid(Kind::ServiceInstance, "", "continue", "the continue token is not valid");
    let bytes = B64URL.decode(token).map_err(|_| bad())?;
    let (ns, name): (String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((ns, name))
}

pub(super) fn matches(
    kind: Kind,
    namespace: Option<&str>,
    name: Option<&str>,
    labels: &super::LabelSelector,
    event_kind: Kind,
    object: &Value,
) -> bool {
    kind == event_kind
        && namespace.is_none_or(|ns| !kind.namespaced() || object::namespace(object) == ns)
        && name.is_none_or(|n| object::name(object) == n)
        && (labels.is_empty() || labels.matches(&object::labels(object)))
}

#[async_trait::async_trait]
impl ResourceStore for SqlStore {
    async fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Value>> {
        let key = key_of(kind, namespace, name);
        if let Some(reader) = &self.reader {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let stopped = || StoreError::Backend("the store's reader has stopped".into());
            reader.send(group_reader::Read { key, reply }).await.map_err(|_| stopped())?;
            let body = answer.await.map_err(|_| stopped())??;
            return body.map(|b| self.decode(kind, &b)).transpose();
        }
        let body: Option<String> = dispatch!(&self.db, pool, _W, _R => {
            sqlx::query_scalar("SELECT body FROM resources WHERE kind = $1 AND namespace = $2 AND name = $3")
                .bind(kind.as_str())
                .bind(&key.namespace)
                .bind(&key.name)
                .fetch_optional(pool)
                .await?
        });
        body.map(|b| self.decode(kind, &b)).transpose()
    }

    async fn list(&self, kind: Kind, query: &ListQuery) -> Result<ObjectList> {
        let namespace = query.namespace.as_deref().filter(|_| kind.namespaced());
        let after = query.continue_token.as_deref().map(decode_continue).transpose()?;
        let (after_ns, after_name) = after.map_or((None, None), |(a, b)| (Some(a), Some(b)));
        // Without a label selector the database can stop at the page's end (one extra row tells
        // whether more follow); label selectors are matched here, so then every row is read.
        let sql_limit = query.limit.filter(|l| *l > 0 && query.labels.is_empty()).map(|l| l as i64 + 1);
        let (rv, rows): (i64, Vec<String>) = dispatch!(&self.db, pool, _W, BEGIN_READ => {
            let mut tx = pool.begin_with(BEGIN_READ).await?;
            let rv: i64 = sqlx::query_scalar("SELECT rv FROM resource_version WHERE id = 1").fetch_one(&mut *tx).await?;
            let rows: Vec<String> = sqlx::query_scalar(if sql_limit.is_some() { LIST_LIMITED } else { LIST_ALL })
            .bind(kind.as_str())
            .bind(namespace)
            .bind(query.name.as_deref())
            .bind(after_ns.as_deref())
            .bind(after_name.as_deref())
            .bind(sql_limit)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (rv, rows)
        });
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let mut continue_token = None;
        for body in rows {
            let object = self.decode(kind, &body)?;
            if !query.labels.is_empty() && !query.labels.matches(&object::labels(&object)) {
                continue;
            }
            if items.len() == limit {
                let last: &Value = items.last().expect("limit is at least 1");
                continue_token = Some(encode_continue(object::namespace(last), object::name(last)));
                break;
            }
            items.push(object);
        }
        Ok(ObjectList { items, resource_version: rv as u64, continue_token })
    }

    async fn create(&self, kind: Kind, mut object: Value) -> Result<Value> {
        object::fill_type_meta(kind, &mut object);
        object::apply_generate_name(&mut object);
        let key = object::validate_for_write(kind, &object)?;
        normalize(kind, &mut object)?;
        object::apply_create_defaults(kind, &mut object);
        let (_, created) = self
            .write(&key.clone(), move |existing, rv| {
                if existing.is_some() {
                    return Err(StoreError::AlreadyExists {
                        kind,
                        namespace: key.namespace.clone(),
                        name: key.name.clone(),
                    });
                }
                object::set_meta(&mut object, "uid", Value::String(uuid::Uuid::new_v4().to_string()));
                object::set_meta(&mut object, "creationTimestamp", Value::String(object::now_rfc3339()));
                object::remove_meta(&mut object, "deletionTimestamp");
                if kind != Kind::Secret {
                    object::set_meta(&mut object, "generation", json!(1));
                    if let Some(map) = object.as_object_mut() {
                        map.remove("status");
                    }
                }
                set_rv(&mut object, rv);
                Ok(Change::Insert(object))
            })
            .await?;
        Ok(created)
    }

    async fn update(&self, kind: Kind, mut object: Value) -> Result<Value> {
        object::fill_type_meta(kind, &mut object);
        let key = object::validate_for_write(kind, &object)?;
        normalize(kind, &mut object)?;
        let (_, updated) = self
            .write(&key.clone(), move |existing, rv| {
                let existing = existing.ok_or_else(|| not_found(&key))?;
                check_preconditions(&key, &object, &existing)?;
                object::check_immutable(kind, &existing, &object)?;
                for field in ["uid", "creationTimestamp", "deletionTimestamp", "generation", "resourceVersion"] {
                    match object::meta(&existing).and_then(|m| m.get(field)) {
                        Some(v) => object::set_meta(&mut object, field, v.clone()),
                        None => object::remove_meta(&mut object, field),
                    }
                }
                if kind != Kind::Secret {
                    match existing.get("status") {
                        Some(status) => object["status"] = status.clone(),
                        None => {
                            object.as_object_mut().map(|m| m.remove("status"));
                        }
                    }
                }
                if object == existing {
                    return Ok(Change::Unchanged(existing));
                }
                if kind != Kind::Secret && object::spec_part(&object) != object::spec_part(&existing) {
                    object::set_meta(&mut object, "generation", json!(object::generation(&existing) + 1));
                }
                set_rv(&mut object, rv);
                if object::is_deleting(&object) && object::finalizers(&object).is_empty() {
                    return Ok(Change::Delete(object));
                }
                Ok(Change::Update(object))
            })
            .await?;
        Ok(updated)
    }

    async fn update_status(&self, kind: Kind, object: Value) -> Result<Value> {
        if kind == Kind::Secret {
            return Err(StoreError::invalid(kind, object::name(&object), "status", "Secrets have no status"));
        }
        let key = object::validate_for_write(kind, &object)?;
        let (_, updated) = self
            .write(&key.clone(), move |existing, rv| {
                let existing = existing.ok_or_else(|| not_found(&key))?;
                check_preconditions(&key, &object, &existing)?;
                let mut next = existing.clone();
                match object.get("status") {
                    Some(status) => next["status"] = status.clone(),
                    None => {
                        next.as_object_mut().map(|m| m.remove("status"));
                    }
                }
                if next == existing {
                    return Ok(Change::Unchanged(existing));
                }
                set_rv(&mut next, rv);
                Ok(Change::Update(next))
            })
            .await?;
        Ok(updated)
    }

    async fn delete(&self, kind: Kind, namespace: &str, name: &str, expected_uid: Option<&str>) -> Result<Deleted> {
        let key = key_of(kind, namespace, name);
        let expected_uid = expected_uid.map(str::to_string);
        let (event_type, object) = self
            .write(&key.clone(), move |existing, rv| {
                let mut existing = existing.ok_or_else(|| not_found(&key))?;
                if expected_uid.as_deref().is_some_and(|uid| uid != object::uid(&existing)) {
                    return Err(conflict(&key));
                }
                if object::finalizers(&existing).is_empty() {
                    set_rv(&mut existing, rv);
                    return Ok(Change::Delete(existing));
                }
                if object::is_deleting(&existing) {
                    return Ok(Change::Unchanged(existing));
                }
                object::set_meta(&mut existing, "deletionTimestamp", Value::String(object::now_rfc3339()));
                if kind != Kind::Secret {
                    let generation = object::generation(&existing) + 1;
                    object::set_meta(&mut existing, "generation", json!(generation));
                }
                set_rv(&mut existing, rv);
                Ok(Change::Update(existing))
            })
            .await?;
        Ok(if event_type == EventType::Deleted { Deleted::Gone(object) } else { Deleted::Pending(object) })
    }

    async fn watch(&self, query: WatchQuery) -> Result<BoxStream<'static, Result<WatchEvent>>> {
        watch::start(self.clone(), query).await
    }

    async fn resource_version(&self) -> Result<u64> {
        let rv: i64 = dispatch!(&self.db, pool, _W, _R => {
            sqlx::query_scalar("SELECT rv FROM resource_version WHERE id = 1").fetch_one(pool).await?
        });
        Ok(rv as u64)
    }

    fn versions_are_local(&self) -> bool {
        true
    }
}
