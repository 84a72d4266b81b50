//! The Kubernetes backend's own behaviour, beyond the contract every backend meets
//! (`store_contract.rs`): watches from versions the API server no longer has, and the team
//! namespaces (`--team-namespaces`) that scope reads across all namespaces.
#![cfg(feature = "kubernetes")]

mod common;
mod store_contract_backends;

use std::time::Duration;

use app::model::Kind;
use futures::StreamExt;
use serde_json::{Value, json};
use server::store::{ListQuery, StoreError, WatchEvent, WatchQuery};
use store_contract_backends::kubernetes;

fn instance(ns: &str, name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "small"}
    })
}

async fn next_event(stream: &mut futures::stream::BoxStream<'static, Result<WatchEvent, StoreError>>) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("no error")
}

/// An API server compacts on its own schedule and serves watches only from its recent history:
/// a version from long ago is `Gone`, from the call or as the stream's first item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_watch_from_a_long_gone_version_is_gone() {
    let Some(b) = kubernetes("kubernetes_watch_from_a_long_gone_version_is_gone").await else { return };
    let query = WatchQuery { kind: Some(Kind::ServiceInstance), resource_version: Some(1), ..Default::default() };
    match b.store.watch(query).await {
        Err(StoreError::Gone { .. }) => {}
        Err(e) => panic!("expected Gone, got {e}"),
        Ok(mut stream) => {
            let first = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("an answer");
            assert!(matches!(first, Some(Err(StoreError::Gone { .. }))), "{first:?}");
        }
    }
}

/// `--team-namespaces`: reads across all namespaces see team namespaces only (a namespace joins
/// when it gets the label); reads that name a namespace see it whatever its labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_all_namespace_reads_cover_team_namespaces_only() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Patch, PatchParams, PostParams};
    let Some(b) = kubernetes("kubernetes_all_namespace_reads_cover_team_namespaces_only").await else { return };
    let Some(cluster) = common::kubelite::cluster("kubernetes_all_namespace_reads") else { return };
    let client = cluster.client().await;
    let outsider = b.ns("outsider");
    let namespaces: kube::Api<Namespace> = kube::Api::all(client);
    let mut ns = Namespace::default();
    ns.metadata.name = Some(outsider.clone());
    namespaces.create(&PostParams::default(), &ns).await.unwrap();
    b.store.create(Kind::ServiceInstance, instance(&outsider, "elsewhere")).await.unwrap();
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "inside")).await.unwrap();
    let names =
        |list: &[Value]| list.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    let all = b.store.list(Kind::ServiceInstance, &ListQuery::default()).await.unwrap();
    assert_eq!(names(&all.items), ["inside"], "not a team namespace");
    let named = ListQuery { namespace: Some(outsider.clone()), ..Default::default() };
    assert_eq!(names(&b.store.list(Kind::ServiceInstance, &named).await.unwrap().items), ["elsewhere"]);
    assert!(b.store.get(Kind::ServiceInstance, &outsider, "elsewhere").await.unwrap().is_some());
    let mut stream =
        b.store.watch(WatchQuery { kind: Some(Kind::ServiceInstance), ..Default::default() }).await.unwrap();
    assert_eq!(next_event(&mut stream).await.object["metadata"]["name"], "inside");

    // Labelled, it is a team namespace like the others.
    let label = serde_json::json!({"metadata": {"labels": {common::kubelite::TEST_LABEL: b.suffix.clone().unwrap()}}});
    namespaces.patch(&outsider, &PatchParams::default(), &Patch::Merge(&label)).await.unwrap();
    common::eventually(10, "the labelled namespace to count as a team's", || async {
        let all = b.store.list(Kind::ServiceInstance, &ListQuery::default()).await.unwrap();
        (names(&all.items).len() == 2).then_some(())
    })
    .await;
    b.store.create(Kind::ServiceInstance, instance(&outsider, "now-inside")).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.object["metadata"]["name"], "now-inside", "the watch reports it too");
}
