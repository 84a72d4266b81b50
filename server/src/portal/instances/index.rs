//! The instances list's rows, kept in memory and followed through the store's watch (a
//! Kubernetes-style reflector), so listing, counting and paging 10,000 instances reads no
//! object: it filters small rows already in (team, name) order.
//!
//! Reads are consistent, not merely recent: a read first takes the store's newest
//! resourceVersion and waits until the index has applied every change up to it, as Kubernetes'
//! consistent reads from its watch cache do. The index therefore watches every kind (a change
//! of another kind still moves its version forward), which only a store whose versions are one
//! gap-free counter allows ([`ResourceStore::versions_are_local`]); elsewhere the portal lists
//! from the store.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use app::{
    api::instances::InstanceRow,
    model::{Kind, ServiceInstance},
};
use futures::StreamExt;
use tokio::sync::watch;

use crate::store::{EventType, ListQuery, ResourceStore, StoreError, WatchEvent, WatchQuery};

/// How long a read waits for the index to catch up before it reads the store instead.
const CATCH_UP: Duration = Duration::from_secs(2);

pub(super) type Rows = BTreeMap<(String, String), InstanceRow>;

#[derive(Clone)]
pub struct InstanceIndex {
    rows: Arc<RwLock<Rows>>,
    /// The store version the rows reflect (`None` before the first list).
    version: watch::Receiver<Option<u64>>,
}

impl InstanceIndex {
    /// Starts following `store`; `None` when its versions cannot tell the index is current.
    pub fn start(store: Arc<dyn ResourceStore>) -> Option<Self> {
        if !store.versions_are_local() {
            return None;
        }
        let rows = Arc::new(RwLock::new(Rows::new()));
        let (tx, version) = watch::channel(None);
        tokio::spawn(follow(store, rows.clone(), tx));
        Some(Self { rows, version })
    }

    /// Runs `read` over the rows once they reflect every change the store had committed when
    /// this was called; `None` when the index could not catch up in time (the caller reads the
    /// store). Also returns the version the rows are at.
    pub async fn read<T>(&self, store: &dyn ResourceStore, read: impl FnOnce(&Rows) -> T) -> Option<(T, u64)> {
        let wanted = store.resource_version().await.ok()?;
        let mut version = self.version.clone();
        let reached = tokio::time::timeout(CATCH_UP, version.wait_for(|v| v.is_some_and(|v| v >= wanted))).await;
        let at = match reached {
            Ok(Ok(at)) => at.unwrap_or(wanted),
            _ => {
                tracing::warn!(wanted, "the instance index is behind the store; reading the store");
                return None;
            }
        };
        let rows = self.rows.read().unwrap_or_else(|e| e.into_inner());
        Some((read(&rows), at))
    }
}

fn key_of(row: &InstanceRow) -> (String, String) {
    (row.namespace.clone(), row.name.clone())
}

fn row_of(object: serde_json::Value) -> Option<InstanceRow> {
    match serde_json::from_value::<ServiceInstance>(object) {
        Ok(instance) => Some(InstanceRow::from_instance(&instance, None)),
        Err(e) => {
            tracing::warn!(error = %e, "instance index skips a stored instance that does not match the model");
            None
        }
    }
}

/// Lists, then applies the watch from the list's version; lists again whenever the watch ends
/// or fails (a restart of the store, or the index fell too far behind).
async fn follow(store: Arc<dyn ResourceStore>, rows: Arc<RwLock<Rows>>, version: watch::Sender<Option<u64>>) {
    loop {
        match sync(store.as_ref(), &rows, &version).await {
            Ok(()) => tracing::debug!("instance index watch ended; listing again"),
            Err(e) => tracing::warn!(error = %e, "instance index lost the store; listing again"),
        }
        if version.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sync(
    store: &dyn ResourceStore,
    rows: &RwLock<Rows>,
    version: &watch::Sender<Option<u64>>,
) -> Result<(), StoreError> {
    let list = store.list(Kind::ServiceInstance, &ListQuery::default()).await?;
    let fresh: Rows = list.items.into_iter().filter_map(row_of).map(|row| (key_of(&row), row)).collect();
    *rows.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    version.send_replace(Some(list.resource_version));
    // Every kind: the version moves with each change, so a read knows when the rows are current.
    let query = WatchQuery { resource_version: Some(list.resource_version), ..WatchQuery::default() };
    let mut events = store.watch(query).await?.ready_chunks(512);
    while let Some(batch) = events.next().await {
        let mut newest = None;
        {
            let mut rows = rows.write().unwrap_or_else(|e| e.into_inner());
            for event in batch {
                let event = event?;
                newest = Some(event.resource_version);
                apply(&mut rows, event);
            }
        }
        if let Some(newest) = newest {
            version.send_replace(Some(newest));
        }
        if version.is_closed() {
            return Ok(());
        }
    }
    Ok(())
}

fn apply(rows: &mut Rows, event: WatchEvent) {
    if event.kind != Kind::ServiceInstance {
        return;
    }
    match event.event_type {
        EventType::Deleted => {
            let meta = |key| crate::store::object::meta_str(&event.object, key).unwrap_or_default().to_string();
            rows.remove(&(meta("namespace"), meta("name")));
        }
        EventType::Added | EventType::Modified => {
            if let Some(row) = row_of(event.object) {
                rows.insert(key_of(&row), row);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        config::DatabaseUrl,
        db::Database,
        store::{SecretCipher, SqlStore},
    };

    async fn store(dir: &tempfile::TempDir) -> Arc<dyn ResourceStore> {
        let url = DatabaseUrl::Sqlite(format!("sqlite://{}/qm.db", dir.path().display()));
        let db = Database::connect(&url).await.unwrap();
        Arc::new(SqlStore::new(db, SecretCipher::from_base64(&format!("{}=", "A".repeat(43))).unwrap()))
    }

    fn instance(name: &str) -> serde_json::Value {
        json!({"metadata": {"name": name, "namespace": "team-a"},
            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}})
    }

    /// Every read reflects every write committed before it, even one made a moment earlier by
    /// someone else (no waiting between the write and the read here).
    #[tokio::test]
    async fn reads_see_every_write_committed_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let index = InstanceIndex::start(store.clone()).expect("the SQL store's versions are local");
        for i in 0..200 {
            store.create(Kind::ServiceInstance, instance(&format!("db-{i:03}"))).await.unwrap();
            // A write of another kind moves the version too; the read must not wait for an
            // instance event that never comes.
            store
                .create(Kind::Secret, json!({"metadata": {"name": format!("s-{i}"), "namespace": "team-a"}}))
                .await
                .unwrap();
            let (count, _) = index.read(store.as_ref(), |rows| rows.len()).await.expect("caught up");
            assert_eq!(count, i + 1, "after the create of db-{i:03}");
        }
        let (names, at) =
            index.read(store.as_ref(), |rows| rows.keys().map(|k| k.1.clone()).collect::<Vec<_>>()).await.unwrap();
        assert_eq!(names.first().map(String::as_str), Some("db-000"));
        assert_eq!(names.last().map(String::as_str), Some("db-199"), "rows stay in (team, name) order");
        assert_eq!(at, store.resource_version().await.unwrap());
        // A status change is in the row at once; a delete held by the finalizer keeps the row.
        let mut object = store.get(Kind::ServiceInstance, "team-a", "db-007").await.unwrap().unwrap();
        object["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "reason": "ProvisionedSuccessfully",
            "message": "done", "lastTransitionTime": "2026-11-26T00:00:00Z"}]});
        store.update_status(Kind::ServiceInstance, object).await.unwrap();
        let phase = |rows: &Rows| rows[&("team-a".to_string(), "db-007".to_string())].status.phase;
        let (ready, _) = index.read(store.as_ref(), phase).await.unwrap();
        assert_eq!(ready, app::model::Phase::Ready);
        store.delete(Kind::ServiceInstance, "team-a", "db-007", None).await.unwrap();
        let mut object = store.get(Kind::ServiceInstance, "team-a", "db-007").await.unwrap().unwrap();
        object["metadata"]["finalizers"] = json!([]);
        store.update(Kind::ServiceInstance, object).await.unwrap();
        let (count, _) = index.read(store.as_ref(), |rows| rows.len()).await.unwrap();
        assert_eq!(count, 199, "the delete is seen once the finalizer is gone");
        // Another process writing to the same database: its changes are noticed later (a poll
        // on SQLite), and a read waits for them rather than answer from older rows.
        let other = self::store(&dir).await;
        for i in 0..5 {
            other.create(Kind::ServiceInstance, instance(&format!("zz-{i}"))).await.unwrap();
            let (count, _) = index.read(store.as_ref(), |rows| rows.len()).await.expect("caught up");
            assert_eq!(count, 200 + i, "after another process created zz-{i}");
        }
    }
}
