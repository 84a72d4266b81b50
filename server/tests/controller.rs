//! The controller against the built-in broker, over real HTTP: relist, provision, bind, update,
//! unbind, deprovision, and the broker's faults ending in explained states.

mod common;

use app::model::{Kind, ServiceBinding, ServiceInstance, condition};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::{TestApp, eventually};
use serde_json::{Value, json};
use server::store::{ListQuery, TypedStore};

fn typed(app: &TestApp) -> TypedStore {
    TypedStore::new(app.store.clone())
}

async fn catalog_ready(app: &TestApp) {
    eventually(30, "the built-in broker's catalog", || async {
        let broker = app.store.get(Kind::ClusterServiceBroker, "", "builtin-broker").await.unwrap()?;
        let ready = broker.pointer("/status/conditions/0/status") == Some(&json!("True"));
        let classes = app.store.list(Kind::ClusterServiceClass, &ListQuery::default()).await.unwrap().items.len();
        (ready && classes >= 9).then_some(())
    })
    .await;
}

/// An HDFS instance on the shared plan; `parameters` adds to the required ones.
fn hdfs_instance(name: &str, extra: Value) -> Value {
    let mut parameters = json!({"namespaceQuota": 10000, "storageSpaceQuota": 2048});
    for (k, v) in extra.as_object().unwrap() {
        parameters[k] = v.clone();
    }
    json!({
        "apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceInstance",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared", "parameters": parameters,
                 "userInfo": {"username": "alice", "uid": "u-1", "groups": ["team-a"]}}
    })
}

/// The instance once `done` says it has settled.
async fn wait_instance(
    app: &TestApp,
    name: &str,
    what: &str,
    done: impl Fn(&ServiceInstance) -> bool,
) -> ServiceInstance {
    let store = typed(app);
    eventually(60, what, || {
        let store = store.clone();
        let done = &done;
        async move { store.get::<ServiceInstance>("team-a", name).await.unwrap().filter(|i| done(i)) }
    })
    .await
}

/// Changes an instance's spec the way kubectl does: read, change, write; again on a conflict.
async fn edit_instance(app: &TestApp, name: &str, change: impl Fn(&mut ServiceInstance)) {
    let store = typed(app);
    for _ in 0..20 {
        let mut current = store.get::<ServiceInstance>("team-a", name).await.unwrap().unwrap();
        change(&mut current);
        match store.update(&current).await {
            Ok(_) => return,
            Err(server::store::StoreError::Conflict { .. }) => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("20 conflicts in a row editing {name}");
}

fn ready_reason(i: &ServiceInstance) -> (bool, String) {
    let c = condition::find(&i.status.conditions, condition::READY);
    (c.is_some_and(|c| c.status == app::model::ConditionStatus::True), c.map(|c| c.reason.clone()).unwrap_or_default())
}

/// What the built-in broker holds for an instance id.
async fn broker_instance(app: &TestApp, id: &str) -> reqwest::StatusCode {
    app.broker_get(&format!("/v2/service_instances/{id}")).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_builtin_broker_is_registered_and_its_catalog_synced() {
    let app = TestApp::spawn().await;
    catalog_ready(&app).await;
    let classes = app.store.list(Kind::ClusterServiceClass, &ListQuery::default()).await.unwrap().items;
    let hdfs = classes.iter().find(|c| c["spec"]["externalName"] == "hdfs").expect("hdfs class");
    assert_eq!(hdfs["spec"]["clusterServiceBrokerName"], "builtin-broker");
    assert_ne!(hdfs["status"]["removedFromBrokerCatalog"], true, "offered");
    let plans = app.store.list(Kind::ClusterServicePlan, &ListQuery::default()).await.unwrap().items;
    let shared = plans.iter().find(|p| p["spec"]["externalID"] == "hdfs-shared-7c1e").expect("hdfs shared plan");
    let schema = &shared["spec"]["instanceCreateParameterSchema"];
    assert_eq!(schema["properties"]["storageSpaceQuota"]["minimum"], 1024);
    assert_eq!(schema["properties"]["storageSpaceQuota"]["maximum"], 102400);
    let broker = app.store.get(Kind::ClusterServiceBroker, "", "builtin-broker").await.unwrap().unwrap();
    assert_eq!(broker["status"]["conditions"][0]["reason"], "FetchedCatalog");
    assert!(
        broker["metadata"]["finalizers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "kubernetes-incubator/service-catalog")
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_is_provisioned_bound_updated_unbound_and_deprovisioned() {
    let app = TestApp::spawn().await;
    catalog_ready(&app).await;
    app.store
        .create(Kind::ServiceInstance, hdfs_instance("analytics", json!({"storageSpaceQuota": 2048})))
        .await
        .unwrap();
    let ready = wait_instance(&app, "analytics", "Ready", |i| ready_reason(i).0).await;
    assert_eq!(ready_reason(&ready).1, "ProvisionedSuccessfully");
    let reasons: Vec<_> = ready.status.history.iter().map(|c| c.reason.as_str()).collect();
    assert!(reasons.contains(&"Provisioning"), "{reasons:?}");
    let id = ready.spec.external_id.clone();
    assert_eq!(broker_instance(&app, &id).await, 200);
    assert_eq!(ready.status.external_properties.as_ref().unwrap().cluster_service_plan_external_id, "hdfs-shared-7c1e");

    // Bind: credentials land in the Secret named by the binding.
    let binding = json!({
        "apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceBinding",
        "metadata": {"name": "analytics-creds", "namespace": "team-a"},
        "spec": {"instanceRef": {"name": "analytics"}, "secretTransforms": [{"addKey": {"key": "PLATFORM", "stringValue": "quartermaster"}}]}
    });
    app.store.create(Kind::ServiceBinding, binding).await.unwrap();
    let store = typed(&app);
    eventually(60, "the binding to be ready", || {
        let store = store.clone();
        async move {
            let b = store.get::<ServiceBinding>("team-a", "analytics-creds").await.unwrap()?;
            condition::is_true(&b.status.conditions, condition::READY).then_some(b)
        }
    })
    .await;
    let secret = app.store.get(Kind::Secret, "team-a", "analytics-creds").await.unwrap().expect("credentials Secret");
    let data = secret["data"].as_object().unwrap();
    assert_eq!(B64.decode(data["PLATFORM"].as_str().unwrap()).unwrap(), b"quartermaster");
    assert!(
        data.keys().any(|k| k.contains("uri") || k.contains("url")),
        "believable credentials: {:?}",
        data.keys().collect::<Vec<_>>()
    );
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "ServiceBinding");

    // Update the parameters: the broker gets an update, the instance stays usable.
    edit_instance(&app, "analytics", |i| {
        i.spec.parameters = Some(json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096}))
    })
    .await;
    let updated =
        wait_instance(&app, "analytics", "the update", |i| ready_reason(i).1 == "InstanceUpdatedSuccessfully").await;
    assert_eq!(updated.status.reconciled_generation, 2);
    assert_eq!(
        updated.status.external_properties.as_ref().unwrap().parameters,
        Some(json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096}))
    );

    // Unbind: the Secret goes with the binding.
    app.store.delete(Kind::ServiceBinding, "team-a", "analytics-creds", None).await.unwrap();
    eventually(60, "the binding to be gone", || async {
        app.store.get(Kind::ServiceBinding, "team-a", "analytics-creds").await.unwrap().is_none().then_some(())
    })
    .await;
    assert!(app.store.get(Kind::Secret, "team-a", "analytics-creds").await.unwrap().is_none());

    // Deprovision: gone from the store and from the broker.
    app.store.delete(Kind::ServiceInstance, "team-a", "analytics", None).await.unwrap();
    eventually(60, "the instance to be gone", || async {
        app.store.get(Kind::ServiceInstance, "team-a", "analytics").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_ne!(broker_instance(&app, &id).await, 200, "the broker no longer has it");

    // The work shows in the metrics.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("quartermaster_reconciles_total{kind=\"ServiceInstance\"}"), "{metrics}");
    assert!(metrics.contains("call=\"provision\""), "{metrics}");
    assert!(metrics.contains("quartermaster_work_queue_depth"), "{metrics}");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_refusal_is_final_and_explained() {
    let app = TestApp::spawn().await;
    catalog_ready(&app).await;
    app.store.create(Kind::ServiceInstance, hdfs_instance("refused", json!({"_fault": "bad-request"}))).await.unwrap();
    let failed =
        wait_instance(&app, "refused", "Failed", |i| condition::is_true(&i.status.conditions, condition::FAILED)).await;
    let c = condition::find(&failed.status.conditions, condition::FAILED).unwrap();
    assert_eq!(c.reason, "ProvisionCallFailed");
    assert!(c.message.starts_with("Provision call failed: the broker refused the request (400"), "{}", c.message);
    assert!(!failed.status.orphan_mitigation_in_progress);
    // Out-of-range parameters are refused by the broker's own schema check, with the field named.
    app.store
        .create(Kind::ServiceInstance, hdfs_instance("too-big", json!({"storageSpaceQuota": 999_999})))
        .await
        .unwrap();
    let failed =
        wait_instance(&app, "too-big", "Failed", |i| condition::is_true(&i.status.conditions, condition::FAILED)).await;
    let message = &condition::find(&failed.status.conditions, condition::FAILED).unwrap().message;
    assert!(message.contains("storageSpaceQuota"), "{message}");
    // Deleting a refused instance needs no broker call.
    app.store.delete(Kind::ServiceInstance, "team-a", "refused", None).await.unwrap();
    eventually(30, "the refused instance to be gone", || async {
        app.store.get(Kind::ServiceInstance, "team-a", "refused").await.unwrap().is_none().then_some(())
    })
    .await;
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_provision_is_orphan_mitigated_and_nothing_is_left_behind() {
    let app = TestApp::spawn().await;
    catalog_ready(&app).await;
    // Every provision of this instance answers 500 after creating it: orphan mitigation each time,
    // until the attempts are spent.
    app.store.create(Kind::ServiceInstance, hdfs_instance("flaky", json!({"_fault": "server-error"}))).await.unwrap();
    let failed =
        wait_instance(&app, "flaky", "giving up", |i| condition::is_true(&i.status.conditions, condition::FAILED))
            .await;
    let reasons: Vec<_> = failed.status.history.iter().map(|c| c.reason.as_str()).collect();
    let messages: Vec<_> = failed.status.history.iter().map(|c| c.message.as_str()).collect();
    assert!(reasons.contains(&"StartingInstanceOrphanMitigation"), "{reasons:?} {messages:#?}");
    assert!(reasons.contains(&"OrphanMitigationSuccessful"), "{reasons:?} {messages:#?}");
    let failed_reason = &condition::find(&failed.status.conditions, condition::FAILED).unwrap().reason;
    assert_eq!(failed_reason, "ReconciliationRetryTimeout");
    assert_ne!(broker_instance(&app, &failed.spec.external_id).await, 200, "the orphans were cleaned up");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_failure_is_shown_with_the_brokers_words() {
    let app = TestApp::spawn().await;
    catalog_ready(&app).await;
    app.store.create(Kind::ServiceInstance, hdfs_instance("doomed", json!({"_fault": "async-fail"}))).await.unwrap();
    let failed =
        wait_instance(&app, "doomed", "Failed", |i| condition::is_true(&i.status.conditions, condition::FAILED)).await;
    let c = condition::find(&failed.status.conditions, condition::FAILED).unwrap();
    assert_eq!(c.reason, "ProvisionCallFailed");
    assert!(c.message.contains("the broker reports the operation failed"), "{}", c.message);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_plan_is_explained_and_picked_up_when_named_right() {
    let app = TestApp::spawn().await;
    catalog_ready(&app).await;
    let mut instance = hdfs_instance("typo", json!({}));
    instance["spec"]["clusterServicePlanExternalName"] = json!("shraed");
    app.store.create(Kind::ServiceInstance, instance).await.unwrap();
    let waiting =
        wait_instance(&app, "typo", "the plan error", |i| ready_reason(i).1 == "ReferencesNonexistentServicePlan")
            .await;
    let message = &condition::find(&waiting.status.conditions, condition::READY).unwrap().message;
    assert!(message.contains("\"shraed\""), "{message}");
    edit_instance(&app, "typo", |i| i.spec.plan.cluster_service_plan_external_name = Some("shared".into())).await;
    wait_instance(&app, "typo", "Ready after the fix", |i| ready_reason(i).0).await;
    app.stop().await.unwrap();
}

/// The periodic resync: a change the store's watch never delivers (written straight into the
/// portal's database, bypassing the change log and its notifications, as a restore or a hand
/// repair would) is still reconciled, because every object is listed again each resync period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_watch_never_saw_is_reconciled_at_the_next_resync() {
    let resync = std::time::Duration::from_secs(1);
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.controller.as_mut().expect("the controller runs").timing.resync = resync;
    })
    .await;
    catalog_ready(&app).await;
    app.store.create(Kind::ServiceInstance, hdfs_instance("quiet", json!({}))).await.unwrap();
    let ready = wait_instance(&app, "quiet", "Ready", |i| ready_reason(i).0).await;
    assert_eq!(ready.status.reconciled_generation, 1);

    // A new spec (generation 2, a larger quota) written into the resources table only: no
    // change-log entry, no new resource version, so neither this process's watch nor the
    // other-process poller can see it.
    let url = server::config::Config::for_tests(app.data_dir.path()).database;
    let db = server::db::Database::connect(&url).await.unwrap();
    let server::db::Database::Sqlite(pool) = &db else { panic!("the test portal runs on SQLite") };
    const WHERE: &str = "WHERE kind = 'ServiceInstance' AND namespace = 'team-a' AND name = 'quiet'";
    let (body, rv_before): (String, i64) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT body, rv FROM resources {WHERE}")))
            .fetch_one(pool)
            .await
            .unwrap();
    let mut object: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(object["metadata"]["generation"], 1, "{object}");
    object["metadata"]["generation"] = json!(2);
    object["spec"]["parameters"]["storageSpaceQuota"] = json!(4096);
    let newest_before: i64 = sqlx::query_scalar("SELECT rv FROM resource_version").fetch_one(pool).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE resources SET body = $1 {WHERE}")))
        .bind(object.to_string())
        .execute(pool)
        .await
        .unwrap();
    let newest_after: i64 = sqlx::query_scalar("SELECT rv FROM resource_version").fetch_one(pool).await.unwrap();
    assert_eq!(newest_before, newest_after, "the write left no trace a watch could follow");
    let written = std::time::Instant::now();

    // Within a few resync periods the controller has sent the update and recorded it.
    let store = typed(&app);
    let updated = eventually(15, "the unwatched change to be reconciled by a resync", || {
        let store = store.clone();
        async move {
            let i = store.get::<ServiceInstance>("team-a", "quiet").await.unwrap()?;
            (i.status.reconciled_generation == 2 && ready_reason(&i).1 == "InstanceUpdatedSuccessfully").then_some(i)
        }
    })
    .await;
    assert!(written.elapsed() < resync * 10, "picked up after {:?}", written.elapsed());
    assert!(updated.metadata.resource_version.as_deref().unwrap().parse::<i64>().unwrap() > rv_before);
    assert_eq!(
        updated.status.external_properties.as_ref().unwrap().parameters,
        Some(json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096}))
    );
    db.close().await;
    app.stop().await.unwrap();
}
