//! The portal as separate OS processes: killed with SIGKILL mid-operation and restarted, and two
//! processes sharing one PostgreSQL database. The broker runs in the test process and keeps a log
//! of the requests it received, so "exactly one provision" is what the broker itself saw.

mod common;
mod osb_support;

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use app::model::{Kind, ServiceBinding, ServiceInstance, condition};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::eventually;
use osb_support::{RunningBroker, quick_config};
use serde_json::{Value, json};
use server::{
    config::DatabaseUrl,
    db::Database,
    store::{ResourceStore, SecretCipher, SqlStore, TypedStore},
};

/// The same Secrets key for the portal processes and the test's own store.
fn secret_key() -> String {
    B64.encode([42u8; 32])
}

struct Portal {
    child: Child,
    url: String,
    /// The admin's API token: `/metrics` is for platform admins.
    token: String,
}

impl Portal {
    async fn start(data_dir: &Path, database_url: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_quartermaster"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--builtin-broker",
                "false",
                "--broker-timeout",
                "5",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--database-url", database_url])
            .env("QM_SECRET_KEY", secret_key())
            .env("QM_CONTROLLER_TIMING", "fast")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("the portal binary starts");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        eventually(60, "the portal process to be ready", || {
            let client = client.clone();
            let url = url.clone();
            async move { client.get(format!("{url}/readyz")).send().await.ok().filter(|r| r.status() == 200).map(drop) }
        })
        .await;
        let token = common::admin_token(database_url).await;
        Self { child, url, token }
    }

    /// SIGKILL: no shutdown, no flush — as a crash.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with(name_and_labels))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn test_store(url: &DatabaseUrl) -> SqlStore {
    SqlStore::new(Database::connect(url).await.unwrap(), SecretCipher::from_base64(&secret_key()).unwrap())
}

async fn register_broker(store: &SqlStore, url: &str) {
    store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "hadoop"}, "spec": {"url": url, "relistBehavior": "Manual"}}),
        )
        .await
        .unwrap();
    eventually(60, "the broker's classes", || async {
        let n = store.list(Kind::ClusterServicePlan, &Default::default()).await.unwrap().items.len();
        (n > 0).then_some(())
    })
    .await;
}

fn hdfs(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
    })
}

/// Requests the broker received with this method whose path ends with `suffix`.
async fn broker_saw(broker: &str, method: &str, suffix: &str) -> usize {
    let log: Vec<Value> = reqwest::Client::new()
        .get(format!("{broker}/admin/requests"))
        .header("X-Broker-API-Version", "2.17")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log.iter().filter(|r| r["method"] == method && r["path"].as_str().unwrap_or_default().ends_with(suffix)).count()
}

fn is_ready(conditions: &[app::model::Condition]) -> bool {
    condition::is_true(conditions, condition::READY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_killed_mid_provision_and_mid_bind_finishes_both_after_restart_without_repeating_them() {
    let dir = tempfile::tempdir().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    // Asynchronous operations that last long enough to kill the portal while they run.
    let broker =
        RunningBroker::start(quick_config(true, Duration::from_secs(3)), &broker_dir.path().join("broker.db")).await;
    let db_url = format!("sqlite://{}/quartermaster.db", dir.path().display());
    let portal = Portal::start(dir.path(), &db_url).await;
    let store = test_store(&DatabaseUrl::Sqlite(db_url.clone())).await;
    let typed = TypedStore::new(std::sync::Arc::new(store.clone()));
    register_broker(&store, &broker.url).await;

    store.create(Kind::ServiceInstance, hdfs("survivor")).await.unwrap();
    let in_flight = eventually(30, "the async provision to be in flight", || async {
        typed.get::<ServiceInstance>("team-a", "survivor").await.unwrap().filter(|i| i.status.async_op_in_progress)
    })
    .await;
    portal.kill();
    let portal = Portal::start(dir.path(), &db_url).await;
    eventually(60, "the instance to be ready after the restart", || async {
        typed.get::<ServiceInstance>("team-a", "survivor").await.unwrap().filter(|i| is_ready(&i.status.conditions))
    })
    .await;
    let id = in_flight.spec.external_id.clone();
    assert_eq!(broker_saw(&broker.url, "PUT", &format!("/service_instances/{id}")).await, 1, "exactly one provision");

    store
        .create(Kind::ServiceBinding, json!({"metadata": {"name": "survivor-creds", "namespace": "team-a"}, "spec": {"instanceRef": {"name": "survivor"}}}))
        .await
        .unwrap();
    let binding = eventually(30, "the async bind to be in flight", || async {
        typed.get::<ServiceBinding>("team-a", "survivor-creds").await.unwrap().filter(|b| b.status.async_op_in_progress)
    })
    .await;
    portal.kill();
    let _portal = Portal::start(dir.path(), &db_url).await;
    eventually(60, "the binding to be ready after the restart", || async {
        typed
            .get::<ServiceBinding>("team-a", "survivor-creds")
            .await
            .unwrap()
            .filter(|b| is_ready(&b.status.conditions))
    })
    .await;
    let path = format!("/service_bindings/{}", binding.spec.external_id);
    assert_eq!(broker_saw(&broker.url, "PUT", &path).await, 1, "exactly one bind");
    let secret = store.get(Kind::Secret, "team-a", "survivor-creds").await.unwrap().expect("credentials");
    assert!(!secret["data"].as_object().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portal_processes_on_one_postgres_share_the_work_and_never_repeat_a_call() {
    let Some(url) = common::postgres::fresh_database("two_portal_processes").await else { return };
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = RunningBroker::start(quick_config(false, Duration::ZERO), &broker_dir.path().join("broker.db")).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Portal::start(dir_a.path(), &url).await;
    let b = Portal::start(dir_b.path(), &url).await;
    let store = test_store(&DatabaseUrl::Postgres(url.clone())).await;
    let typed = TypedStore::new(std::sync::Arc::new(store.clone()));
    register_broker(&store, &broker.url).await;

    const N: usize = 24;
    for i in 0..N {
        store.create(Kind::ServiceInstance, hdfs(&format!("shared-{i:02}"))).await.unwrap();
    }
    let ready = eventually(120, "every instance to be ready", || async {
        let all: Vec<ServiceInstance> = typed.list(&Default::default()).await.unwrap();
        (all.len() == N && all.iter().all(|i| is_ready(&i.status.conditions))).then_some(all)
    })
    .await;
    for instance in &ready {
        let id = &instance.spec.external_id;
        assert_eq!(
            broker_saw(&broker.url, "PUT", &format!("/service_instances/{id}")).await,
            1,
            "{id}: provisioned once"
        );
    }
    let by_a = a.metric("quartermaster_reconciles_total{kind=\"ServiceInstance\"}").await;
    let by_b = b.metric("quartermaster_reconciles_total{kind=\"ServiceInstance\"}").await;
    assert!(by_a > 0.0 && by_b > 0.0, "both processes reconciled instances (a: {by_a}, b: {by_b})");

    // Changes made through one process's database connection reach the other's watch: a delete
    // is carried out whichever process notices it.
    store.delete(Kind::ServiceInstance, "team-a", "shared-00", None).await.unwrap();
    eventually(60, "the deleted instance to be gone", || async {
        store.get(Kind::ServiceInstance, "team-a", "shared-00").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(broker_saw(&broker.url, "DELETE", "").await, 1, "deprovisioned once");
}
