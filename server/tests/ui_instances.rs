//! Requesting, showing, changing, deleting and abandoning instances, and bindings with their
//! credentials, through the UI's server functions and pages (no controller: the test plays it).

mod common;

use app::model::{Kind, ServiceBinding, ServiceInstance};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::{TestApp, seed, ui::quiet_app};
use serde_json::{Value, json};
use server::store::TypedStore;

async fn request(app: &TestApp, name: &str, namespace: &str, parameters: Value) -> Value {
    let (status, answer) = app
        .call_json(
            "request_instance",
            json!({"request": {"namespace": namespace, "name": name, "class": "svc-hdfs", "plan": "shared", "parameters": parameters}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn instance(app: &TestApp, namespace: &str, name: &str) -> ServiceInstance {
    TypedStore::new(app.store.clone()).get::<ServiceInstance>(namespace, name).await.unwrap().expect("instance exists")
}

/// Writes a status the way the controller would.
async fn set_status(app: &TestApp, namespace: &str, name: &str, status: Value) {
    let mut object = app.store.get(Kind::ServiceInstance, namespace, name).await.unwrap().unwrap();
    object["status"] = status;
    app.store.update_status(Kind::ServiceInstance, object).await.unwrap();
}

#[tokio::test]
async fn a_request_is_checked_again_on_the_server_and_becomes_an_instance() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;

    // Out of range: refused, with the message at the field's pointer.
    let answer = request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 999999})).await;
    let fields = &answer["Rejected"]["fields"]["entries"];
    assert!(fields["/storageSpaceQuota"][0].as_str().unwrap().contains("102,400"), "{answer}");
    // A bad name and a bad namespace are refused with the input named.
    let answer = request(&app, "Logs_1", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 2048})).await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "name", "{answer}");
    let answer = request(&app, "logs", "Team A", json!({"namespaceQuota": 10000, "storageSpaceQuota": 2048})).await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "namespace", "{answer}");
    // A removed class and an unknown plan are refused.
    let (_, answer) = app
        .call_json("request_instance", json!({"request": {"namespace": "team-a", "name": "x", "class": "svc-old", "plan": "legacy", "parameters": {}}}))
        .await;
    assert!(answer["Rejected"]["message"].as_str().unwrap().contains("no longer offers"), "{answer}");

    let answer = request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})).await;
    assert_eq!(answer, json!({"Done": {"namespace": "team-a", "name": "logs"}}));
    let created = instance(&app, "team-a", "logs").await;
    assert_eq!(created.spec.class_external_name(), Some("hdfs"));
    assert_eq!(created.spec.plan_external_name(), Some("shared"));
    assert_eq!(created.spec.parameters, Some(json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})));
    assert_eq!(created.spec.user_info.as_ref().unwrap().username, "admin");
    assert_eq!(created.spec.external_id.len(), 36, "the OSB instance id is fixed at creation");

    // The same name again in the same team is refused on the name field.
    let answer = request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})).await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "name", "{answer}");
    let (_, namespaces) = app.call_form("namespaces", &[]).await;
    assert_eq!(namespaces, json!(["team-a"]));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_instance_page_shows_status_conditions_and_history_with_broker_text_escaped() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})).await;
    let failed = json!({"type": "Failed", "status": "True", "lastTransitionTime": "2026-01-01T00:00:02Z",
                        "reason": "ProvisionCallFailed", "message": "Quota <b>exceeded</b> on cluster"});
    set_status(&app, "team-a", "logs", json!({
        "conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:00:02Z", "reason": "ProvisionCallFailed", "message": "Quota <b>exceeded</b> on cluster"},
            failed
        ],
        "history": [{"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:00:01Z", "reason": "Provisioning", "message": "The instance is being provisioned"}, failed],
        "dashboardURL": "javascript:alert(1)",
        "reconciledGeneration": 1
    }))
    .await;
    let (status, html) = app.page("/instances/team-a/logs").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-phase=\"failed\""), "status panel not failed");
    assert!(html.contains("Quota &lt;b&gt;exceeded&lt;/b&gt; on cluster"), "broker message missing or unescaped");
    assert!(!html.contains("<b>exceeded</b>"));
    assert!(!html.contains("href=\"javascript:"), "a javascript: dashboard URL became a link");
    for expected in
        ["ProvisionCallFailed", "The instance is being provisioned", "4,096 GB", "HDFS storage (GB)", "SHARED (shared)"]
    {
        assert!(html.contains(expected), "instance page lacks {expected:?}");
    }
    // No credentials in the page, ever.
    assert!(!html.contains("credential-values"));
    let (_, list) = app.page("/instances?status=failed").await;
    assert!(list.contains("data-instance=\"team-a/logs\""));
    let (_, list) = app.page("/instances?status=ready").await;
    assert!(!list.contains("data-instance=\"team-a/logs\""));
    let (status, _) = app.page("/instances/team-a/missing").await;
    assert_eq!(status, 404);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn updates_merge_parameters_check_the_update_schema_and_refuse_stale_versions() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})).await;
    let before = instance(&app, "team-a", "logs").await;
    let rv = before.metadata.resource_version.clone().unwrap();
    let update = |parameters: Value, rv: &str, plan: &str| json!({"update": {"namespace": "team-a", "name": "logs", "plan": plan, "parameters": parameters, "resource_version": rv}});
    let (_, answer) = app.call_json("update_instance", update(json!({"storageSpaceQuota": 1}), &rv, "shared")).await;
    assert!(answer["Rejected"]["fields"]["entries"]["/storageSpaceQuota"].is_array(), "{answer}");
    let (_, answer) = app.call_json("update_instance", update(json!({"storageSpaceQuota": 8192}), &rv, "shared")).await;
    assert_eq!(answer["Done"]["name"], "logs", "{answer}");
    let after = instance(&app, "team-a", "logs").await;
    assert_eq!(
        after.spec.parameters,
        Some(json!({"namespaceQuota": 10000, "storageSpaceQuota": 8192})),
        "kept what the update form does not name"
    );
    assert_eq!(after.metadata.generation, Some(2));
    // The page's version is now stale: a second edit from it is a conflict, not an overwrite.
    let (_, answer) = app.call_json("update_instance", update(json!({"storageSpaceQuota": 9000}), &rv, "shared")).await;
    assert!(answer["Rejected"]["message"].as_str().unwrap().contains("changed"), "{answer}");
    // A plan change.
    let rv = after.metadata.resource_version.unwrap();
    let (_, answer) = app.call_json("update_instance", update(json!({}), &rv, "dedicated")).await;
    assert_eq!(answer["Done"]["name"], "logs", "{answer}");
    assert_eq!(instance(&app, "team-a", "logs").await.spec.plan_external_name(), Some("dedicated"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bindings_are_created_their_credentials_read_only_on_request_and_deleted() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})).await;
    let bind = |name: &str, parameters: Value| json!({"request": {"namespace": "team-a", "instance": "logs", "name": name, "parameters": parameters}});
    let (_, answer) = app.call_json("create_binding", bind("app-creds", json!({"accessMode": "everything"}))).await;
    assert!(answer["Rejected"]["fields"]["entries"]["/accessMode"].is_array(), "{answer}");
    let (_, answer) = app.call_json("create_binding", bind("app-creds", json!({"accessMode": "read-only"}))).await;
    assert_eq!(answer["Done"]["name"], "app-creds", "{answer}");
    let binding =
        TypedStore::new(app.store.clone()).get::<ServiceBinding>("team-a", "app-creds").await.unwrap().unwrap();
    assert_eq!(binding.spec.instance_ref.name, "logs");
    assert_eq!(binding.spec.secret_name, "app-creds");

    // Before the controller has written the Secret: a clear answer.
    let (status, answer) =
        app.call_form("reveal_credentials", &[("namespace", "team-a"), ("binding", "app-creds")]).await;
    assert_eq!(status, 500);
    assert!(answer.to_string().contains("not there yet"), "{answer}");
    app.store
        .create(
            Kind::Secret,
            json!({"metadata": {"name": "app-creds", "namespace": "team-a"},
                   "data": {"uri": B64.encode("hdfs://nn:8020/logs"), "password": B64.encode("s3cr3t")}}),
        )
        .await
        .unwrap();
    let (status, creds) =
        app.call_form("reveal_credentials", &[("namespace", "team-a"), ("binding", "app-creds")]).await;
    assert_eq!(status, 200, "{creds}");
    let entries = creds["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["key"] == "password" && e["text"] == "s3cr3t"));
    // The page never carries them.
    let (_, html) = app.page("/instances/team-a/logs").await;
    assert!(!html.contains("s3cr3t") && html.contains("app-creds"));

    let (_, answer) = app.call_form("delete_binding", &[("namespace", "team-a"), ("name", "app-creds")]).await;
    assert_eq!(answer, json!({"Done": null}));
    // Marked for deletion; the catalog's finalizer keeps it until the controller has unbound it.
    let deleted = app.store.get(Kind::ServiceBinding, "team-a", "app-creds").await.unwrap().unwrap();
    assert!(deleted["metadata"]["deletionTimestamp"].is_string(), "{deleted}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn delete_marks_for_deletion_and_abandon_lets_go_without_the_broker() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    request(&app, "logs", "team-a", json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096})).await;
    // The controller would have added its finalizer, and a binding with one.
    let mut object = app.store.get(Kind::ServiceInstance, "team-a", "logs").await.unwrap().unwrap();
    object["metadata"]["finalizers"] = json!([server::portal::FINALIZER]);
    app.store.update(Kind::ServiceInstance, object).await.unwrap();
    app.store
        .create(
            Kind::ServiceBinding,
            json!({"metadata": {"name": "b1", "namespace": "team-a", "finalizers": [server::portal::FINALIZER]},
                   "spec": {"instanceRef": {"name": "logs"}, "secretName": "b1", "externalID": "bind-1"}}),
        )
        .await
        .unwrap();

    let (_, answer) = app.call_form("delete_instance", &[("namespace", "team-a"), ("name", "logs")]).await;
    assert_eq!(answer, json!({"Done": null}));
    let deleting = instance(&app, "team-a", "logs").await;
    assert!(deleting.metadata.deletion_timestamp.is_some(), "the finalizer holds it until the broker lets go");
    let binding = app.store.get(Kind::ServiceBinding, "team-a", "b1").await.unwrap().unwrap();
    assert!(binding.pointer("/metadata/deletionTimestamp").is_some(), "its bindings are deleted with it");
    let (_, html) = app.page("/instances/team-a/logs").await;
    assert!(html.contains("data-testid=\"deletion\"") && html.contains("Abandon"));

    let (_, answer) = app.call_form("abandon_instance", &[("namespace", "team-a"), ("name", "logs")]).await;
    assert_eq!(answer, json!({"Done": null}));
    assert!(app.store.get(Kind::ServiceInstance, "team-a", "logs").await.unwrap().is_none());
    assert!(app.store.get(Kind::ServiceBinding, "team-a", "b1").await.unwrap().is_none());
    app.stop().await.unwrap();
}

/// Thousands of instances: the list renders one page of 100 with a pager, the filters (name,
/// team) run on the server over all of them, and a page past the end shows the last one.
#[tokio::test]
async fn the_list_pages_and_filters_on_the_server() {
    let app = quiet_app().await;
    for i in 0..250 {
        let namespace = if i % 5 == 0 { "team-b" } else { "team-a" };
        let object = json!({"metadata": {"name": format!("db-{i:03}"), "namespace": namespace},
            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}});
        app.store.create(Kind::ServiceInstance, object).await.unwrap();
    }
    let rows = |html: &str| html.matches("data-testid=\"instance-row\"").count();
    let (status, first) = app.page("/instances").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&first), 100, "one page of rows");
    assert!(first.contains("Showing 1–100 of 250"), "the pager counts all of them");
    assert!(first.contains("href=\"/instances?page=2\""), "a link to the next page");
    assert!(first.contains("data-instance=\"team-a/db-001\"") && !first.contains("data-instance=\"team-b/db-000\""));
    let (_, last) = app.page("/instances?page=3").await;
    assert_eq!(rows(&last), 50);
    assert!(last.contains("Showing 201–250 of 250") && last.contains("data-instance=\"team-b/db-245\""));
    let (_, beyond) = app.page("/instances?page=99").await;
    assert!(beyond.contains("Showing 201–250 of 250"), "past the end: the last page");
    // Filters apply to every instance, not just the page in hand.
    let (_, team_b) = app.page("/instances?team=team-b").await;
    assert_eq!(rows(&team_b), 50);
    assert!(!team_b.contains("instances-pager"), "50 rows need no pager");
    let (_, search) = app.page("/instances?search=DB-24").await;
    assert_eq!(rows(&search), 10, "db-240 … db-249, any case");
    let (_, none) = app.page("/instances?search=nothing-like-this").await;
    assert!(none.contains("No instance matches these filters."));
    // Changes made beside the portal (kubectl, the controller) show on the very next read.
    for i in (0..250).step_by(25) {
        let namespace = if i % 5 == 0 { "team-b" } else { "team-a" };
        let name = format!("db-{i:03}");
        app.store.delete(Kind::ServiceInstance, namespace, &name, None).await.unwrap();
        let (_, marked) = app.page("/instances?status=deprovisioning").await;
        assert!(marked.contains(&format!("data-instance=\"{namespace}/{name}\"")), "{name} shows as deleting at once");
        // The finalizer's owner lets go: the instance is gone.
        let mut object = app.store.get(Kind::ServiceInstance, namespace, &name).await.unwrap().unwrap();
        object["metadata"]["finalizers"] = json!([]);
        app.store.update(Kind::ServiceInstance, object).await.unwrap();
        let (_, after) = app.page("/instances").await;
        let left = 250 - (i / 25 + 1);
        assert!(after.contains(&format!("of {left}")), "deleting {name} leaves {left}");
    }
    app.store
        .create(
            Kind::ServiceInstance,
            json!({"metadata": {"name": "aaa-new", "namespace": "team-a"},
                "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}}),
        )
        .await
        .unwrap();
    let (_, first) = app.page("/instances").await;
    assert!(first.contains("data-instance=\"team-a/aaa-new\""), "a new instance is listed at once, in order");
    app.stop().await.unwrap();
}
