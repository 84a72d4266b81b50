//! The built-in broker's SQLite file (`broker.db`, WAL): instances, bindings with their
//! credentials, and operations with their timing (schema: `migrations/broker/`). It is the
//! broker's own record, separate from the portal's database even when the portal runs on
//! PostgreSQL, so that the broker behaves like any other broker the portal talks to.
//!
//! Every request works in one `BEGIN IMMEDIATE` transaction ([`BrokerDb::begin`]): it reads the
//! resource, settles an operation that has ended, decides and writes, atomically.

use std::{path::Path, time::Duration};

use anyhow::Context;
use axum::{http::StatusCode, response::Response};
use serde_json::{Map, Value};
use sqlx::{
    ConnectOptions, Row, Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous},
    types::Json,
};

use super::{
    reply::osb_error,
    state::{Binding, Ending, Instance, OpKind, Operation, describe},
};
use crate::osb::wire::OperationState;

/// The broker's file in its data directory.
pub const FILE_NAME: &str = "broker.db";

/// The broker's open database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct BrokerDb {
    pool: SqlitePool,
}

impl BrokerDb {
    /// Opens (creating if needed) the database at `path` and applies the broker's migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses nothing when the process dies, only on power loss.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            .log_statements(tracing::log::LevelFilter::Trace);
        // One connection: SQLite has one writer and every broker request writes (reading may settle
        // an operation). Requests queue for the connection and the next is woken as soon as it is
        // free, where competing connections would sleep through SQLITE_BUSY retries.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the broker database {}", path.display()))?;
        sqlx::migrate!("../migrations/broker")
            .run(&pool)
            .await
            .with_context(|| format!("migrating the broker database {}", path.display()))?;
        Ok(Self { pool })
    }

    /// Starts a write transaction.
    pub(crate) async fn begin(&self) -> Result<Tx, DbError> {
        Ok(Tx(self.pool.begin_with("BEGIN IMMEDIATE").await?))
    }

    /// Waits for the connection to be returned and closes it.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A failure of the broker's database; answered with a 500 (the request may or may not have been
/// recorded, as with any broker's internal error).
#[derive(Debug)]
pub(crate) struct DbError(sqlx::Error);

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        Self(e)
    }
}

impl From<DbError> for Response {
    fn from(DbError(e): DbError) -> Self {
        tracing::error!(error = %e, "the broker's database failed");
        osb_error(StatusCode::INTERNAL_SERVER_ERROR, None, "the broker could not read or write its records")
    }
}

/// One request's transaction: dropped without [`Tx::commit`], it rolls back.
pub(crate) struct Tx(Transaction<'static, Sqlite>);

impl Tx {
    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.0.commit().await?)
    }

    /// The instance as of `now`: an operation that has ended is settled and its effect applied.
    /// `None` when there is no such instance (or its deprovision has just succeeded).
    pub async fn instance(&mut self, id: &str, now: i64) -> Result<Option<Instance>, DbError> {
        let row = sqlx::query(
            "SELECT id, service_id, plan_id, parameters, context, maintenance_info, ready FROM instances WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *self.0)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut instance = instance_from_row(&row)?;
        let Some(op) = self.operation(id, None, None).await?.filter(|op| op.state == OperationState::InProgress) else {
            return Ok(Some(instance));
        };
        let state = op.state_at(now);
        if state == OperationState::InProgress {
            instance.op = Some(op);
            return Ok(Some(instance));
        }
        self.finish(&op, state).await?;
        let succeeded = state == OperationState::Succeeded;
        match op.kind {
            OpKind::Provision => {
                instance.ready = succeeded;
                self.save_instance(&instance, now).await?;
            }
            OpKind::Update => {
                if let (true, Some(update)) = (succeeded, op.pending_update) {
                    instance.apply(update);
                    self.save_instance(&instance, now).await?;
                }
            }
            OpKind::Deprovision if succeeded => {
                self.delete_instance(id).await?;
                return Ok(None);
            }
            _ => {}
        }
        Ok(Some(instance))
    }

    pub async fn insert_instance(&mut self, instance: &Instance, now: i64) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO instances (id, service_id, plan_id, parameters, context, maintenance_info, ready, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&instance.id)
        .bind(&instance.service_id)
        .bind(&instance.plan_id)
        .bind(Json(&instance.parameters))
        .bind(instance.context.as_ref().map(Json))
        .bind(instance.maintenance_info.as_ref().map(Json))
        .bind(instance.ready)
        .bind(now)
        .bind(now)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Writes what can change about an instance: plan, parameters, maintenance_info, readiness.
    pub async fn save_instance(&mut self, instance: &Instance, now: i64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE instances SET plan_id = ?, parameters = ?, maintenance_info = ?, ready = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(&instance.plan_id)
        .bind(Json(&instance.parameters))
        .bind(instance.maintenance_info.as_ref().map(Json))
        .bind(instance.ready)
        .bind(now)
        .bind(&instance.id)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// Removes the instance with its bindings and operations.
    pub async fn delete_instance(&mut self, id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM instances WHERE id = ?").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    /// The binding as of `now` (see [`Tx::instance`]); `None` once unbound.
    pub async fn binding(&mut self, id: &str, now: i64) -> Result<Option<Binding>, DbError> {
        let row = sqlx::query(
            "SELECT id, instance_id, service_id, plan_id, parameters, credentials, ready FROM bindings WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&mut *self.0)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut binding = binding_from_row(&row)?;
        let op = self.operation(&binding.instance_id, Some(id), None).await?;
        let Some(op) = op.filter(|op| op.state == OperationState::InProgress) else { return Ok(Some(binding)) };
        let state = op.state_at(now);
        if state == OperationState::InProgress {
            binding.op = Some(op);
            return Ok(Some(binding));
        }
        self.finish(&op, state).await?;
        match (op.kind, state) {
            (OpKind::Bind, state) => {
                binding.ready = state == OperationState::Succeeded;
                self.save_binding(&binding, now).await?;
            }
            (OpKind::Unbind, OperationState::Succeeded) => {
                self.delete_binding(id).await?;
                return Ok(None);
            }
            _ => {}
        }
        Ok(Some(binding))
    }

    pub async fn insert_binding(&mut self, binding: &Binding, now: i64) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO bindings (id, instance_id, service_id, plan_id, parameters, credentials, ready, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&binding.id)
        .bind(&binding.instance_id)
        .bind(&binding.service_id)
        .bind(&binding.plan_id)
        .bind(Json(&binding.parameters))
        .bind(Json(&binding.credentials))
        .bind(binding.ready)
        .bind(now)
        .bind(now)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn save_binding(&mut self, binding: &Binding, now: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE bindings SET ready = ?, updated_at = ? WHERE id = ?")
            .bind(binding.ready)
            .bind(now)
            .bind(&binding.id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    /// Removes the binding with its operations.
    pub async fn delete_binding(&mut self, id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM bindings WHERE id = ?").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }

    /// Records a new operation on the instance (`binding_id` `None`) or on one of its bindings.
    pub async fn start_operation(
        &mut self,
        instance_id: &str,
        binding_id: Option<&str>,
        op: &Operation,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO operations (id, instance_id, binding_id, kind, ending, started_at, due_at, pending_update, \
             state, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&op.id)
        .bind(instance_id)
        .bind(binding_id)
        .bind(op.kind.as_str())
        .bind(op.ending.as_str())
        .bind(op.started_at)
        .bind(op.due_at)
        .bind(op.pending_update.as_ref().map(Json))
        .bind(state_name(op.state))
        .bind(&op.description)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    /// The operation `asked` of the instance (`binding_id` `None`) or of one of its bindings, or
    /// the newest when nothing is asked. Settle the resource first to see an ended operation so.
    pub async fn operation(
        &mut self,
        instance_id: &str,
        binding_id: Option<&str>,
        asked: Option<&str>,
    ) -> Result<Option<Operation>, DbError> {
        let row = sqlx::query(
            "SELECT id, kind, ending, started_at, due_at, pending_update, state, description FROM operations \
             WHERE instance_id = ? AND binding_id IS ? AND (? IS NULL OR id = ?) ORDER BY seq DESC LIMIT 1",
        )
        .bind(instance_id)
        .bind(binding_id)
        .bind(asked)
        .bind(asked)
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(row.map(|row| operation_from_row(&row)).transpose()?)
    }

    /// Records how an operation ended (at its due time).
    async fn finish(&mut self, op: &Operation, state: OperationState) -> Result<(), DbError> {
        sqlx::query("UPDATE operations SET state = ?, description = ?, finished_at = ? WHERE id = ?")
            .bind(state_name(state))
            .bind(describe(op.kind, state))
            .bind(op.due_at)
            .bind(&op.id)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }
}

fn instance_from_row(row: &SqliteRow) -> Result<Instance, sqlx::Error> {
    Ok(Instance {
        id: row.try_get("id")?,
        service_id: row.try_get("service_id")?,
        plan_id: row.try_get("plan_id")?,
        parameters: row.try_get::<Json<Map<String, Value>>, _>("parameters")?.0,
        context: row.try_get::<Option<Json<Value>>, _>("context")?.map(|j| j.0),
        maintenance_info: row.try_get::<Option<Json<_>>, _>("maintenance_info")?.map(|j| j.0),
        ready: row.try_get("ready")?,
        op: None,
    })
}

fn binding_from_row(row: &SqliteRow) -> Result<Binding, sqlx::Error> {
    Ok(Binding {
        id: row.try_get("id")?,
        instance_id: row.try_get("instance_id")?,
        service_id: row.try_get("service_id")?,
        plan_id: row.try_get("plan_id")?,
        parameters: row.try_get::<Json<Map<String, Value>>, _>("parameters")?.0,
        credentials: row.try_get::<Json<Map<String, Value>>, _>("credentials")?.0,
        ready: row.try_get("ready")?,
        op: None,
    })
}

fn operation_from_row(row: &SqliteRow) -> Result<Operation, sqlx::Error> {
    let text = |column: &str| row.try_get::<String, _>(column);
    let unknown = |column: &str, value: String| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {value:?}").into(),
    };
    let kind = text("kind")?;
    let ending = text("ending")?;
    let state = text("state")?;
    Ok(Operation {
        id: text("id")?,
        kind: OpKind::parse(&kind).ok_or_else(|| unknown("kind", kind.clone()))?,
        ending: Ending::parse(&ending).ok_or_else(|| unknown("ending", ending.clone()))?,
        started_at: row.try_get("started_at")?,
        due_at: row.try_get("due_at")?,
        pending_update: row.try_get::<Option<Json<_>>, _>("pending_update")?.map(|j| j.0),
        state: parse_state(&state).ok_or_else(|| unknown("state", state.clone()))?,
        description: text("description")?,
    })
}

fn state_name(state: OperationState) -> &'static str {
    match state {
        OperationState::InProgress => "in progress",
        OperationState::Succeeded => "succeeded",
        OperationState::Failed => "failed",
    }
}

fn parse_state(s: &str) -> Option<OperationState> {
    [OperationState::InProgress, OperationState::Succeeded, OperationState::Failed]
        .into_iter()
        .find(|state| state_name(*state) == s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::state::PendingUpdate;

    fn instance(id: &str) -> Instance {
        Instance {
            id: id.into(),
            service_id: "s".into(),
            plan_id: "p".into(),
            parameters: Map::from_iter([("size".to_string(), Value::from(1))]),
            context: Some(serde_json::json!({"platform": "kubernetes"})),
            maintenance_info: None,
            ready: false,
            op: None,
        }
    }

    #[tokio::test]
    async fn operations_settle_when_due_and_deprovision_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let db = BrokerDb::open(&dir.path().join("nested/broker.db")).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.insert_instance(&instance("i"), 0).await.unwrap();
        let provision = Operation::start(OpKind::Provision, Duration::from_millis(100), Ending::Succeed, 0);
        tx.start_operation("i", None, &provision).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = db.begin().await.unwrap();
        let before = tx.instance("i", 99).await.unwrap().unwrap();
        assert_eq!((before.ready, before.op.as_ref().map(|o| o.id.as_str())), (false, Some(provision.id.as_str())));
        let after = tx.instance("i", 100).await.unwrap().unwrap();
        assert!(after.ready && after.op.is_none());
        let recorded = tx.operation("i", None, Some(&provision.id)).await.unwrap().unwrap();
        assert_eq!((recorded.state, recorded.description.as_str()), (OperationState::Succeeded, "provision succeeded"));
        assert_eq!(tx.operation("i", None, Some("other")).await.unwrap(), None);

        let mut update = Operation::start(OpKind::Update, Duration::ZERO, Ending::Succeed, 200);
        let mut parameters = after.parameters.clone();
        parameters.insert("size".into(), Value::from(2));
        update.pending_update = Some(PendingUpdate { plan_id: "p2".into(), parameters, maintenance_info: None });
        tx.start_operation("i", None, &update).await.unwrap();
        let updated = tx.instance("i", 200).await.unwrap().unwrap();
        assert_eq!((updated.plan_id.as_str(), &updated.parameters["size"]), ("p2", &Value::from(2)));

        let binding = Binding {
            id: "b".into(),
            instance_id: "i".into(),
            service_id: "s".into(),
            plan_id: "p2".into(),
            parameters: Map::new(),
            credentials: Map::from_iter([("password".to_string(), Value::from("x"))]),
            ready: true,
            op: None,
        };
        tx.insert_binding(&binding, 300).await.unwrap();
        assert_eq!(tx.binding("b", 300).await.unwrap(), Some(binding));
        let deprovision = Operation::start(OpKind::Deprovision, Duration::ZERO, Ending::Succeed, 400);
        tx.start_operation("i", None, &deprovision).await.unwrap();
        assert_eq!(tx.instance("i", 400).await.unwrap(), None);
        assert_eq!(tx.binding("b", 400).await.unwrap(), None, "bindings go with their instance");
        tx.commit().await.unwrap();
        db.close().await;
    }
}
