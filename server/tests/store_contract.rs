//! One contract for every `ResourceStore` backend, run against SQLite (a temp file),
//! PostgreSQL (a throwaway server) and Kubernetes (an API server: `KUBECONFIG` or kubelite):
//! the Kubernetes semantics the controller and the API rely on.
//!
//! Each case says what it needs: `common` cases run on every backend; `sql_only` cases look at
//! what only the SQL backends have — the rows in the database (Secrets sealed at rest; on
//! Kubernetes that is the API server's `EncryptionConfiguration`, out of the portal's hands)
//! and the change log's retention (`with_retention`; an API server compacts etcd on its own
//! schedule, so `kubernetes_watch_from_a_long_gone_version_is_gone` covers that side).
//! On a shared API server each case works in namespaces of its own (`team-a` → `team-a-<id>`)
//! with a store scoped to them by label, and compares versions only where no other test writes.

mod common;
mod store_contract_backends;

use std::{sync::Arc, time::Duration};

use app::model::Kind;
use futures::StreamExt;
use serde_json::{Value, json};
use server::{
    db::Database,
    store::{Deleted, EventType, LabelSelector, ListQuery, ResourceStore, StoreError, WatchQuery},
};
#[cfg(feature = "kubernetes")]
use store_contract_backends::kubernetes;
use store_contract_backends::{Backend, postgres, sqlite};

/// Runs the `common` cases against every backend and the `sql_only` ones against SQLite and
/// PostgreSQL, each as its own test.
macro_rules! contract {
    (common: [$($case:ident),* $(,)?], sql_only: [$($sql_case:ident),* $(,)?] $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let backend = super::sqlite().await;
                super::$case(&backend).await;
            })*
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $sql_case() {
                let backend = super::sqlite().await;
                super::$sql_case(&backend).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(backend) = super::postgres(stringify!($case)).await else { return };
                super::$case(&backend).await;
            })*
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $sql_case() {
                let Some(backend) = super::postgres(stringify!($sql_case)).await else { return };
                super::$sql_case(&backend).await;
            })*
        }
        #[cfg(feature = "kubernetes")]
        mod on_kubernetes {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(backend) = super::kubernetes(stringify!($case)).await else { return };
                super::$case(&backend).await;
            })*
        }
    };
}

contract!(
    common: [
        instances_get_the_catalog_finalizer_unless_given_finalizers,
        create_assigns_identity_and_drops_status,
        create_refuses_duplicates_and_bad_names,
        generate_name_makes_a_unique_name,
        update_checks_resource_version_and_bumps_generation_on_spec_change,
        update_keeps_status_and_status_update_keeps_spec,
        no_op_writes_do_not_bump_the_version,
        delete_without_finalizers_removes,
        finalizers_hold_deletion_until_removed,
        list_filters_by_namespace_labels_and_name,
        list_pages_with_limit_and_continue,
        watch_from_a_version_sees_every_change_in_order,
        watch_without_a_version_starts_with_the_current_state,
        secrets_merge_string_data_and_refuse_bad_base64,
        concurrent_writers_never_lose_an_update,
        another_process_writes_reach_this_ones_watch,
        both_processes_writes_at_once_reach_a_watch_once_each_in_order,
    ],
    sql_only: [watch_from_a_compacted_version_is_gone, secrets_are_encrypted_at_rest],
);

fn instance(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "servicecatalog.k8s.io/v1beta1",
        "kind": "ServiceInstance",
        // No finalizers (the store would add the catalog's): these cases test the store alone.
        "metadata": {"name": name, "namespace": ns, "labels": {"team": ns}, "finalizers": []},
        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "small", "parameters": {"storageSpaceQuota": 2048}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    })
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

async fn instances_get_the_catalog_finalizer_unless_given_finalizers(b: &Backend) {
    let mut bare = instance(&b.ns("team-a"), "defaulted");
    bare["metadata"].as_object_mut().unwrap().remove("finalizers");
    let created = b.store.create(Kind::ServiceInstance, bare).await.unwrap();
    assert_eq!(created["metadata"]["finalizers"], json!([server::store::CATALOG_FINALIZER]));
    assert!(created["spec"]["externalID"].as_str().is_some_and(|id| id.len() == 36), "an OSB id is assigned");
    let explicit = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "explicit")).await.unwrap();
    assert!(explicit["metadata"].get("finalizers").is_none_or(|f| f == &json!([])));
}

async fn create_assigns_identity_and_drops_status(b: &Backend) {
    let created = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "hdfs-1")).await.unwrap();
    let meta = &created["metadata"];
    assert_eq!(meta["uid"].as_str().unwrap().len(), 36);
    assert_eq!(meta["generation"], 1);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert!(rv(&created) > 0);
    assert!(created.get("status").is_none(), "status is written through the status subresource only");
    let got = b.store.get(Kind::ServiceInstance, &b.ns("team-a"), "hdfs-1").await.unwrap().unwrap();
    assert_eq!(got, created);
    assert!(b.store.get(Kind::ServiceInstance, &b.ns("team-b"), "hdfs-1").await.unwrap().is_none());
}

async fn create_refuses_duplicates_and_bad_names(b: &Backend) {
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "dup")).await.unwrap();
    let err = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "dup")).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    // The same name in another namespace is another object.
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-b"), "dup")).await.unwrap();

    let err = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "Bad_Name")).await.unwrap_err();
    let StoreError::Invalid { causes, .. } = &err else { panic!("{err}") };
    assert_eq!(causes[0].field, "metadata.name");
    let mut no_ns = instance("x", "y");
    no_ns["metadata"].as_object_mut().unwrap().remove("namespace");
    let err = b.store.create(Kind::ServiceInstance, no_ns).await.unwrap_err();
    assert!(err.to_string().contains("metadata.namespace"), "{err}");
    let err = b
        .store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "b", "namespace": "x"}, "spec": {"url": "http://127.0.0.1"}}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cluster-scoped"), "{err}");
    let err = b
        .store
        .create(Kind::ServiceInstance, json!({"kind": "ServiceBinding", "metadata": {"name": "k", "namespace": "n"}}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be ServiceInstance"), "{err}");
}

async fn generate_name_makes_a_unique_name(b: &Backend) {
    let mut names = std::collections::HashSet::new();
    for _ in 0..5 {
        let created = b
            .store
            .create(
                Kind::ServiceInstance,
                json!({"metadata": {"generateName": "kafka-", "namespace": b.ns("team-a")}, "spec": {}}),
            )
            .await
            .unwrap();
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        assert!(name.starts_with("kafka-") && name.len() == "kafka-".len() + 5, "{name}");
        assert!(names.insert(name));
    }
}

async fn update_checks_resource_version_and_bumps_generation_on_spec_change(b: &Backend) {
    let v1 = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "i")).await.unwrap();
    let mut change = v1.clone();
    change["spec"]["parameters"]["storageSpaceQuota"] = json!(4096);
    let v2 = b.store.update(Kind::ServiceInstance, change.clone()).await.unwrap();
    assert!(rv(&v2) > rv(&v1));
    assert_eq!(v2["metadata"]["generation"], 2);
    assert_eq!(v2["metadata"]["uid"], v1["metadata"]["uid"]);

    // A writer still holding v1 loses.
    change["spec"]["parameters"]["storageSpaceQuota"] = json!(8192);
    let err = b.store.update(Kind::ServiceInstance, change).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");

    // Labels are metadata: no new generation.
    let mut relabel = v2.clone();
    relabel["metadata"]["labels"]["tier"] = json!("gold");
    let v3 = b.store.update(Kind::ServiceInstance, relabel).await.unwrap();
    assert_eq!(v3["metadata"]["generation"], 2);
    assert_eq!(v3["metadata"]["labels"]["tier"], "gold");

    // Immutable metadata cannot be rewritten by an update.
    let mut forged = v3.clone();
    forged["metadata"]["creationTimestamp"] = json!("1999-01-01T00:00:00Z");
    forged["metadata"]["generation"] = json!(99);
    let v4 = b.store.update(Kind::ServiceInstance, forged).await.unwrap();
    assert_eq!(v4["metadata"]["creationTimestamp"], v1["metadata"]["creationTimestamp"]);
    assert_eq!(v4["metadata"]["generation"], 2);

    let mut ghost = instance(&b.ns("team-a"), "ghost");
    ghost["metadata"]["resourceVersion"] = json!("1");
    assert!(matches!(b.store.update(Kind::ServiceInstance, ghost).await.unwrap_err(), StoreError::NotFound { .. }));
}

async fn update_keeps_status_and_status_update_keeps_spec(b: &Backend) {
    let v1 = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "s")).await.unwrap();
    let mut with_status = v1.clone();
    with_status["status"] = json!({"conditions": [{"type": "Ready", "status": "False", "reason": "Provisioning"}], "asyncOpInProgress": true});
    with_status["spec"]["parameters"] = json!({"ignored": true});
    let v2 = b.store.update_status(Kind::ServiceInstance, with_status).await.unwrap();
    assert_eq!(v2["status"]["conditions"][0]["reason"], "Provisioning");
    assert_eq!(v2["spec"], v1["spec"], "a status update never changes the spec");
    assert_eq!(v2["metadata"]["generation"], 1);

    let mut spec_change = v2.clone();
    spec_change["status"] = json!({});
    spec_change["spec"]["parameters"]["storageSpaceQuota"] = json!(1024);
    let v3 = b.store.update(Kind::ServiceInstance, spec_change).await.unwrap();
    assert_eq!(v3["status"], v2["status"], "an update never changes the status");

    let mut stale = v2.clone();
    stale["status"]["asyncOpInProgress"] = json!(false);
    assert!(matches!(
        b.store.update_status(Kind::ServiceInstance, stale).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
}

async fn no_op_writes_do_not_bump_the_version(b: &Backend) {
    let v1 = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "same")).await.unwrap();
    let v2 = b.store.update(Kind::ServiceInstance, v1.clone()).await.unwrap();
    assert_eq!(rv(&v2), rv(&v1));
    let before = b.store.resource_version().await.unwrap();
    let v3 = b.store.update_status(Kind::ServiceInstance, v1.clone()).await.unwrap();
    assert_eq!(rv(&v3), rv(&v1));
    let now = b.store.get(Kind::ServiceInstance, &b.ns("team-a"), "same").await.unwrap().unwrap();
    assert_eq!(rv(&now), rv(&v1), "nothing was written");
    if b.exclusive_versions {
        assert_eq!(b.store.resource_version().await.unwrap(), before);
    }
}

async fn delete_without_finalizers_removes(b: &Backend) {
    let created = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "d")).await.unwrap();
    let err = b.store.delete(Kind::ServiceInstance, &b.ns("team-a"), "d", Some("not-the-uid")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "a uid precondition protects re-created objects");
    let Deleted::Gone(last) =
        b.store.delete(Kind::ServiceInstance, &b.ns("team-a"), "d", created["metadata"]["uid"].as_str()).await.unwrap()
    else {
        panic!("no finalizers: deleted at once")
    };
    // The SQL stores write the deletion as a new version; an API server answers a finished
    // delete with a bare Status, so its last state is the object as read just before.
    assert!(rv(&last) >= rv(&created));
    assert_eq!(last["metadata"]["uid"], created["metadata"]["uid"]);
    assert!(b.store.get(Kind::ServiceInstance, &b.ns("team-a"), "d").await.unwrap().is_none());
    assert!(matches!(
        b.store.delete(Kind::ServiceInstance, &b.ns("team-a"), "d", None).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
}

async fn finalizers_hold_deletion_until_removed(b: &Backend) {
    let mut obj = instance(&b.ns("team-a"), "f");
    obj["metadata"]["finalizers"] = json!(["kubernetes-incubator/service-catalog"]);
    b.store.create(Kind::ServiceInstance, obj).await.unwrap();
    let Deleted::Pending(marked) = b.store.delete(Kind::ServiceInstance, &b.ns("team-a"), "f", None).await.unwrap()
    else {
        panic!("finalizers hold the object")
    };
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(marked["metadata"]["generation"], 2, "deletion is a change the controller must see");
    let Deleted::Pending(again) = b.store.delete(Kind::ServiceInstance, &b.ns("team-a"), "f", None).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(again["metadata"]["deletionTimestamp"], marked["metadata"]["deletionTimestamp"]);
    assert_eq!(rv(&again), rv(&marked), "a second delete changes nothing");

    let mut release = marked.clone();
    release["metadata"]["finalizers"] = json!([]);
    b.store.update(Kind::ServiceInstance, release).await.unwrap();
    assert!(
        b.store.get(Kind::ServiceInstance, &b.ns("team-a"), "f").await.unwrap().is_none(),
        "removing the last finalizer deletes"
    );
}

async fn list_filters_by_namespace_labels_and_name(b: &Backend) {
    for (ns, name) in [("team-a", "one"), ("team-a", "two"), ("team-b", "three")] {
        b.store.create(Kind::ServiceInstance, instance(&b.ns(ns), name)).await.unwrap();
    }
    b.store
        .create(
            Kind::ServiceBinding,
            json!({"metadata": {"name": "one", "namespace": b.ns("team-a")}, "spec": {"instanceRef": {"name": "one"}}}),
        )
        .await
        .unwrap();
    let names =
        |list: &[Value]| list.iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    let all = b.store.list(Kind::ServiceInstance, &ListQuery::default()).await.unwrap();
    assert_eq!(names(&all.items), ["one", "two", "three"]);
    let newest = b.store.resource_version().await.unwrap();
    if b.exclusive_versions {
        assert_eq!(all.resource_version, newest);
    } else {
        // Other tests write to the same API server: the list's version is at most the newest.
        assert!(all.resource_version <= newest && all.resource_version > 0);
    }
    let team_a = b
        .store
        .list(Kind::ServiceInstance, &ListQuery { namespace: Some(b.ns("team-a")), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(names(&team_a.items), ["one", "two"]);
    let labelled = b
        .store
        .list(
            Kind::ServiceInstance,
            &ListQuery {
                labels: LabelSelector::parse(&format!("team in ({})", b.ns("team-b"))).unwrap(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&labelled.items), ["three"]);
    let by_name = b
        .store
        .list(Kind::ServiceInstance, &ListQuery { name: Some("two".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(names(&by_name.items), ["two"]);
}

async fn list_pages_with_limit_and_continue(b: &Backend) {
    for i in 0..25 {
        b.store
            .create(
                Kind::ServiceInstance,
                instance(&b.ns(if i % 2 == 0 { "team-a" } else { "team-b" }), &format!("i-{i:02}")),
            )
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = b
            .store
            .list(
                Kind::ServiceInstance,
                &ListQuery { limit: Some(7), continue_token: token.clone(), ..Default::default() },
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 7);
        seen.extend(page.items.iter().map(|o| {
            format!("{}/{}", o["metadata"]["namespace"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap())
        }));
        pages += 1;
        match page.continue_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen.len(), 25);
    assert_eq!(sorted, seen, "every object exactly once, in order");
    let err = b
        .store
        .list(Kind::ServiceInstance, &ListQuery { continue_token: Some("garbage!".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("continue"), "{err}");
}

async fn next_event(
    stream: &mut futures::stream::BoxStream<'static, Result<server::store::WatchEvent, StoreError>>,
) -> server::store::WatchEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10 s")
        .expect("stream open")
        .expect("no error")
}

async fn watch_from_a_version_sees_every_change_in_order(b: &Backend) {
    let start = b.store.resource_version().await.unwrap();
    let mut stream = b
        .store
        .watch(WatchQuery {
            kind: Some(Kind::ServiceInstance),
            namespace: Some(b.ns("team-a")),
            resource_version: Some(start),
            ..Default::default()
        })
        .await
        .unwrap();
    let created = b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "w")).await.unwrap();
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-b"), "other-namespace")).await.unwrap();
    b.store
        .create(
            Kind::ServiceBinding,
            json!({"metadata": {"name": "other-kind", "namespace": b.ns("team-a")}, "spec": {"instanceRef": {"name": "w"}}}),
        )
        .await
        .unwrap();
    let mut changed = created.clone();
    changed["spec"]["parameters"]["storageSpaceQuota"] = json!(3000);
    let updated = b.store.update(Kind::ServiceInstance, changed).await.unwrap();
    b.store.delete(Kind::ServiceInstance, &b.ns("team-a"), "w", None).await.unwrap();

    let e1 = next_event(&mut stream).await;
    assert_eq!((e1.event_type, rv(&e1.object)), (EventType::Added, rv(&created)));
    let e2 = next_event(&mut stream).await;
    assert_eq!((e2.event_type, rv(&e2.object)), (EventType::Modified, rv(&updated)));
    assert_eq!(e2.object["spec"]["parameters"]["storageSpaceQuota"], 3000);
    let e3 = next_event(&mut stream).await;
    assert_eq!(e3.event_type, EventType::Deleted);
    assert_eq!(e3.object["metadata"]["name"], "w");

    // A second watch resuming from the first event's version replays the rest, in order.
    let mut resumed = b
        .store
        .watch(WatchQuery {
            kind: Some(Kind::ServiceInstance),
            namespace: Some(b.ns("team-a")),
            resource_version: Some(e1.resource_version),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next_event(&mut resumed).await.resource_version, e2.resource_version);
    assert_eq!(next_event(&mut resumed).await.resource_version, e3.resource_version);
}

async fn watch_without_a_version_starts_with_the_current_state(b: &Backend) {
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "existing-1")).await.unwrap();
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "existing-2")).await.unwrap();
    let mut stream =
        b.store.watch(WatchQuery { kind: Some(Kind::ServiceInstance), ..Default::default() }).await.unwrap();
    let first = next_event(&mut stream).await;
    let second = next_event(&mut stream).await;
    assert_eq!((first.event_type, second.event_type), (EventType::Added, EventType::Added));
    assert_eq!(first.object["metadata"]["name"], "existing-1");
    assert_eq!(second.object["metadata"]["name"], "existing-2");
    b.store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "new")).await.unwrap();
    let third = next_event(&mut stream).await;
    assert_eq!(third.object["metadata"]["name"], "new");
}

async fn watch_from_a_compacted_version_is_gone(b: &Backend) {
    let store = b.sql().store.clone().with_retention(10);
    let start = store.resource_version().await.unwrap();
    // Enough writes to pass a compaction point (every 1024 versions).
    let target = (start / 1024 + 1) * 1024 + 1;
    let mut obj = store.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "churn")).await.unwrap();
    let mut n = 0;
    while store.resource_version().await.unwrap() < target {
        n += 1;
        obj["metadata"]["labels"]["n"] = json!(n.to_string());
        obj = store.update(Kind::ServiceInstance, obj).await.unwrap();
    }
    let err =
        store.watch(WatchQuery { resource_version: Some(start), ..Default::default() }).await.err().expect("too old");
    assert!(matches!(err, StoreError::Gone { .. }), "{err}");
    // A recent version still resumes.
    let recent = store.resource_version().await.unwrap() - 2;
    assert!(store.watch(WatchQuery { resource_version: Some(recent), ..Default::default() }).await.is_ok());
}

/// A Secret with `stringData` and `data`: what every backend stores.
fn creds_secret(b: &Backend) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "hdfs-creds", "namespace": b.ns("team-a")},
        "stringData": {"password": "correct-horse-battery"},
        "data": {"user": "aGRmcy11c2Vy"}
    })
}

async fn secrets_merge_string_data_and_refuse_bad_base64(b: &Backend) {
    let created = b.store.create(Kind::Secret, creds_secret(b)).await.unwrap();
    assert_eq!(created["data"]["password"], "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5");
    assert!(created.get("stringData").is_none());
    let read = b.store.get(Kind::Secret, &b.ns("team-a"), "hdfs-creds").await.unwrap().unwrap();
    assert_eq!(read["data"]["user"], "aGRmcy11c2Vy");
    assert_eq!(read["data"]["password"], "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5");
    let err = b
        .store
        .create(Kind::Secret, json!({"metadata": {"name": "bad", "namespace": b.ns("team-a")}, "data": {"k": "%%%"}}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("base64"), "{err}");
}

async fn secrets_are_encrypted_at_rest(b: &Backend) {
    b.store.create(Kind::Secret, creds_secret(b)).await.unwrap();
    let raw: Vec<String> = match &b.sql().db {
        Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT body FROM resources UNION ALL SELECT body FROM resource_log")
                .fetch_all(pool)
                .await
                .unwrap()
        }
        Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT body FROM resources UNION ALL SELECT body FROM resource_log")
                .fetch_all(pool)
                .await
                .unwrap()
        }
    };
    assert!(!raw.is_empty());
    for body in raw {
        for plaintext in ["correct-horse-battery", "Y29ycmVjdC1ob3JzZS1iYXR0ZXJ5", "aGRmcy11c2Vy"] {
            assert!(!body.contains(plaintext), "plaintext in the database: {body}");
        }
    }
}

async fn concurrent_writers_never_lose_an_update(b: &Backend) {
    let mut obj = instance(&b.ns("team-a"), "counter");
    obj["metadata"]["annotations"] = json!({"count": "0"});
    let created = b.store.create(Kind::ServiceInstance, obj).await.unwrap();
    let mut stream = b
        .store
        .watch(WatchQuery {
            kind: Some(Kind::ServiceInstance),
            name: Some("counter".into()),
            resource_version: Some(rv(&created)),
            ..Default::default()
        })
        .await
        .unwrap();
    let store: Arc<dyn ResourceStore> = b.store.clone();
    let namespace = b.ns("team-a");
    let writers = (0..8).map(|_| {
        let store = store.clone();
        let namespace = namespace.clone();
        tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..10 {
                loop {
                    let mut current = store.get(Kind::ServiceInstance, &namespace, "counter").await.unwrap().unwrap();
                    let n: u64 = current["metadata"]["annotations"]["count"].as_str().unwrap().parse().unwrap();
                    current["metadata"]["annotations"]["count"] = json!((n + 1).to_string());
                    match store.update(Kind::ServiceInstance, current).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            conflicts
        })
    });
    let conflicts: u64 = futures::future::join_all(writers).await.into_iter().map(Result::unwrap).sum();
    let last = b.store.get(Kind::ServiceInstance, &b.ns("team-a"), "counter").await.unwrap().unwrap();
    assert_eq!(last["metadata"]["annotations"]["count"], "80", "{conflicts} conflicts were retried");
    let mut previous = rv(&created);
    for expected in 1..=80u64 {
        let event = next_event(&mut stream).await;
        assert!(event.resource_version > previous, "versions strictly increase");
        previous = event.resource_version;
        assert_eq!(
            event.object["metadata"]["annotations"]["count"],
            expected.to_string(),
            "every version seen once, in order"
        );
    }
}

/// A watch of every instance on this store, from its current version on.
async fn watch_instances_from_now(
    b: &Backend,
) -> futures::stream::BoxStream<'static, Result<server::store::WatchEvent, StoreError>> {
    let start = b.store.resource_version().await.unwrap();
    b.store
        .watch(WatchQuery { kind: Some(Kind::ServiceInstance), resource_version: Some(start), ..Default::default() })
        .await
        .unwrap()
}

async fn another_process_writes_reach_this_ones_watch(b: &Backend) {
    let other = (b.other)().await;
    let mut stream = watch_instances_from_now(b).await;
    let created = other.create(Kind::ServiceInstance, instance(&b.ns("team-a"), "from-elsewhere")).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!(event.event_type, EventType::Added);
    assert_eq!(event.resource_version, rv(&created));
    let mut changed = created.clone();
    changed["metadata"]["labels"]["moved"] = json!("yes");
    other.update(Kind::ServiceInstance, changed).await.unwrap();
    assert_eq!(next_event(&mut stream).await.event_type, EventType::Modified);
}

/// This store's writes and another process's, made at the same time: a watch on this store gets
/// every one of them exactly once, in version order — its own through the writer's broadcast,
/// the other's through the database (NOTIFY or polling), the gaps between read from the log.
async fn both_processes_writes_at_once_reach_a_watch_once_each_in_order(b: &Backend) {
    let other = (b.other)().await;
    let mut stream = watch_instances_from_now(b).await;
    let namespace = b.ns("team-a");
    let writes = |store: Arc<dyn ResourceStore>, prefix: &'static str| {
        let namespace = namespace.clone();
        tokio::spawn(async move {
            let mut versions = Vec::new();
            for i in 0..40 {
                let created = store.create(Kind::ServiceInstance, instance(&namespace, &format!("{prefix}-{i}"))).await;
                versions.push(rv(&created.unwrap()));
            }
            versions
        })
    };
    let (here, there) = tokio::join!(writes(b.store.clone(), "here"), writes(other.clone(), "there"));
    let mut written: Vec<u64> = here.unwrap().into_iter().chain(there.unwrap()).collect();
    written.sort_unstable();
    // The last write comes from the other process alone: nothing of this one's follows it.
    let last = other.create(Kind::ServiceInstance, instance(&namespace, "there-last")).await.unwrap();
    written.push(rv(&last));
    let mut seen = Vec::new();
    while seen.len() < written.len() {
        let event = next_event(&mut stream).await;
        assert_eq!(event.event_type, EventType::Added);
        assert!(seen.last().is_none_or(|previous| event.resource_version > *previous), "versions strictly increase");
        seen.push(event.resource_version);
    }
    assert_eq!(seen, written, "every write seen once, in order");
}
