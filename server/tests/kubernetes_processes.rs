//! Two portal processes (the real binary) with `--cluster kubernetes` on one API server: they
//! elect a leader with a `coordination.k8s.io/v1` Lease, only the leader reconciles, and when it
//! is killed (SIGKILL, mid-operation) the other takes over within seconds and finishes the work
//! without sending any operation twice — as the broker's own request log shows.
#![cfg(feature = "kubernetes")]

mod common;
mod osb_support;

use std::{
    ffi::OsStr,
    time::{Duration, Instant},
};

use app::model::{ServiceInstance, condition};
use common::{
    eventually, kubelite,
    process::{Portal, broker_saw},
};
use osb_support::{RunningBroker, quick_config};
use serde_json::{Value, json};
use server::store::{KubeStore, LabelSelector, ResourceStore, TypedStore};

const LEASE_SECONDS: u64 = 3;

/// A portal process with the catalog in the test API server, electing its leader there.
async fn start(cluster: &kubelite::Cluster, data_dir: &std::path::Path, teams: &str, lease_ns: &str) -> Portal {
    let database = format!("sqlite://{}", data_dir.join("quartermaster.db").display());
    let lease = LEASE_SECONDS.to_string();
    let flags: Vec<&OsStr> =
        ["--cluster", "kubernetes", "--team-namespaces", teams, "--leader-election-namespace", lease_ns]
            .into_iter()
            .chain(["--leader-lease-seconds", &lease, "--kubeconfig"])
            .map(OsStr::new)
            .chain([cluster.kubeconfig.as_os_str()])
            .collect();
    Portal::start_with(data_dir, &database, &flags).await
}

async fn leads(portal: &Portal) -> bool {
    portal.metric("quartermaster_controller_leader").await == 1.0
}

async fn instance_reconciles(portal: &Portal) -> f64 {
    portal.metric("quartermaster_reconciles_total{kind=\"ServiceInstance\"}").await
}

fn hdfs(namespace: &str, name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"serviceClassExternalName": "hdfs", "servicePlanExternalName": "shared",
                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
    })
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
    let a = start(cluster, dir_a.path(), &namespaces.selector(), &ns).await;
    eventually(30, "the first process to lead", || async { leads(&a).await.then_some(()) }).await;
    let b = start(cluster, dir_b.path(), &namespaces.selector(), &ns).await;

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
    assert!(instance_reconciles(&a).await > 0.0, "the leader reconciled");
    assert_eq!(instance_reconciles(&b).await, 0.0, "the follower did not reconcile anything");
    assert!(!leads(&b).await);

    // Kill the leader while an asynchronous provision is in flight.
    store.create(app::model::Kind::ServiceInstance, hdfs(&ns, "in-flight")).await.unwrap();
    let in_flight = eventually(60, "the provision to be in flight", || async {
        typed.get::<ServiceInstance>(&ns, "in-flight").await.unwrap().filter(|i| i.status.async_op_in_progress)
    })
    .await;
    a.kill();
    let killed = Instant::now();
    eventually(30, "the survivor to take the lease", || async { leads(&b).await.then_some(()) }).await;
    let takeover = killed.elapsed();
    eprintln!("the survivor leads {:.1} s after the leader was killed", takeover.as_secs_f64());
    assert!(takeover < Duration::from_secs(LEASE_SECONDS * 4), "takeover took {takeover:?}");
    eventually(60, "the in-flight instance to be ready under the new leader", || async {
        typed.get::<ServiceInstance>(&ns, "in-flight").await.unwrap().filter(ready)
    })
    .await;
    assert!(instance_reconciles(&b).await > 0.0, "the survivor reconciles now");

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
