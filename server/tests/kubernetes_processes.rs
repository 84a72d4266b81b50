//! Two portal processes (the real binary) with `--cluster kubernetes` on one API server: they
//! elect a leader with a `coordination.k8s.io/v1` Lease, only the leader reconciles, and when it
//! is killed (SIGKILL, mid-operation) the other takes over within seconds and finishes the work
//! without sending any operation twice — as the broker's own request log shows.
#![cfg(feature = "kubernetes")]

mod common;
mod osb_support;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use app::model::{ServiceInstance, condition};
use common::{eventually, kubelite};
use osb_support::{RunningBroker, quick_config};
use serde_json::{Value, json};
use server::store::{KubeStore, LabelSelector, ResourceStore, TypedStore};

struct Portal {
    child: Child,
    url: String,
    /// The admin's API token: `/metrics` is for platform admins.
    token: String,
}

const LEASE_SECONDS: u64 = 3;

impl Portal {
    async fn start(cluster: &kubelite::Cluster, data_dir: &std::path::Path, teams: &str, lease_ns: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_quartermaster"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--builtin-broker", "false"])
            .args(["--broker-timeout", "5", "--cluster", "kubernetes", "--team-namespaces", teams])
            .args(["--leader-election-namespace", lease_ns, "--leader-lease-seconds", &LEASE_SECONDS.to_string()])
            .arg("--kubeconfig")
            .arg(&cluster.kubeconfig)
            .arg("--data-dir")
            .arg(data_dir)
            .env("QM_CONTROLLER_TIMING", "fast")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("the portal binary starts");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        eventually(60, "the portal process to be ready", || {
            let (client, url) = (client.clone(), url.clone());
            async move { client.get(format!("{url}/readyz")).send().await.ok().filter(|r| r.status() == 200).map(drop) }
        })
        .await;
        let token = common::admin_token(&format!("sqlite://{}", data_dir.join("quartermaster.db").display())).await;
        Self { child, url, token }
    }

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

    async fn leads(&self) -> bool {
        self.metric("quartermaster_controller_leader").await == 1.0
    }

    async fn instance_reconciles(&self) -> f64 {
        self.metric("quartermaster_reconciles_total{kind=\"ServiceInstance\"}").await
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hdfs(namespace: &str, name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"serviceClassExternalName": "hdfs", "servicePlanExternalName": "shared",
                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
    })
}

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

fn ready(i: &ServiceInstance) -> bool {
    condition::is_true(&i.status.conditions, condition::READY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_reconciles_and_a_survivor_takes_over_without_repeating_a_call() {
    let Some(cluster) = kubelite::cluster("only_the_leader_reconciles") else { return };
    let client = cluster.client().await;
    cluster.install_crds(&client).await;
    let namespaces = cluster.namespaces(&client, &["team-a"]).await;
    let ns = namespaces.name("team-a");
    let store = KubeStore::new(client, Some(LabelSelector::parse(&namespaces.selector()).unwrap()));
    let typed = TypedStore::new(std::sync::Arc::new(store.clone()));
    // Asynchronous operations that last long enough to kill the leader while one runs.
    let broker_dir = tempfile::tempdir().unwrap();
    let broker =
        RunningBroker::start(quick_config(true, Duration::from_secs(3)), &broker_dir.path().join("broker.db")).await;

    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Portal::start(cluster, dir_a.path(), &namespaces.selector(), &ns).await;
    eventually(30, "the first process to lead", || async { a.leads().await.then_some(()) }).await;
    let b = Portal::start(cluster, dir_b.path(), &namespaces.selector(), &ns).await;

    // A namespaced broker: everything of this test stays in its namespace.
    store
        .create(
            app::model::Kind::ServiceBroker,
            json!({"metadata": {"name": "hadoop", "namespace": ns}, "spec": {"url": broker.url, "relistBehavior": "Manual"}}),
        )
        .await
        .unwrap();
    const N: usize = 4;
    for i in 0..N {
        store.create(app::model::Kind::ServiceInstance, hdfs(&ns, &format!("shared-{i}"))).await.unwrap();
    }
    let query = server::store::ListQuery { namespace: Some(ns.clone()), ..Default::default() };
    eventually(120, "every instance to be ready", || async {
        let all: Vec<ServiceInstance> = typed.list(&query).await.unwrap();
        (all.len() == N && all.iter().all(ready)).then_some(())
    })
    .await;
    assert!(a.instance_reconciles().await > 0.0, "the leader reconciled");
    assert_eq!(b.instance_reconciles().await, 0.0, "the follower did not reconcile anything");
    assert!(!b.leads().await);

    // Kill the leader while an asynchronous provision is in flight.
    store.create(app::model::Kind::ServiceInstance, hdfs(&ns, "in-flight")).await.unwrap();
    let in_flight = eventually(60, "the provision to be in flight", || async {
        typed.get::<ServiceInstance>(&ns, "in-flight").await.unwrap().filter(|i| i.status.async_op_in_progress)
    })
    .await;
    a.kill();
    let killed = Instant::now();
    eventually(30, "the survivor to take the lease", || async { b.leads().await.then_some(()) }).await;
    let takeover = killed.elapsed();
    eprintln!("the survivor leads {:.1} s after the leader was killed", takeover.as_secs_f64());
    assert!(takeover < Duration::from_secs(LEASE_SECONDS * 4), "takeover took {takeover:?}");
    eventually(60, "the in-flight instance to be ready under the new leader", || async {
        typed.get::<ServiceInstance>(&ns, "in-flight").await.unwrap().filter(ready)
    })
    .await;
    assert!(b.instance_reconciles().await > 0.0, "the survivor reconciles now");

    // Every instance was provisioned exactly once, whoever did it.
    let all: Vec<ServiceInstance> = typed.list(&query).await.unwrap();
    assert_eq!(all.len(), N + 1);
    for instance in &all {
        let id = &instance.spec.external_id;
        assert_eq!(
            broker_saw(&broker.url, "PUT", &format!("/service_instances/{id}")).await,
            1,
            "{id}: provisioned once"
        );
    }
    assert!(all.iter().any(|i| i.spec.external_id == in_flight.spec.external_id));

    // The survivor carries out a delete, once.
    store.delete(app::model::Kind::ServiceInstance, &ns, "shared-0", None).await.unwrap();
    eventually(60, "the deleted instance to be gone", || async {
        store.get(app::model::Kind::ServiceInstance, &ns, "shared-0").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(broker_saw(&broker.url, "DELETE", "").await, 1, "deprovisioned once");
}
