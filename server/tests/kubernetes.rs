//! `--cluster kubernetes`: the portal against a real API server (KUBECONFIG or kubelite), driven
//! the way a platform user would, with kubectl: a ServiceInstance applied with kubectl is
//! provisioned on the built-in broker and shows Ready in `kubectl get`; a ServiceBinding brings
//! a real Secret into the namespace (owned by the binding); deletes go through the finalizers.
//! Without an API server the test prints `SKIP` and passes.
#![cfg(feature = "kubernetes")]

mod common;
mod osb_support;

use std::time::Duration;

use app::model::Kind;
use common::{TestApp, eventually, kubelite};
use serde_json::Value;
use server::config::DatabaseUrl;

fn instance_yaml(namespace: &str) -> String {
    format!(
        "apiVersion: servicecatalog.k8s.io/v1beta1\n\
         kind: ServiceInstance\n\
         metadata:\n  name: analytics\n  namespace: {namespace}\n\
         spec:\n  clusterServiceClassExternalName: hdfs\n  clusterServicePlanExternalName: shared\n\
         \x20 parameters:\n    namespaceQuota: 10000\n    storageSpaceQuota: 2048\n"
    )
}

fn binding_yaml(namespace: &str) -> String {
    format!(
        "apiVersion: servicecatalog.k8s.io/v1beta1\n\
         kind: ServiceBinding\n\
         metadata:\n  name: analytics-creds\n  namespace: {namespace}\n\
         spec:\n  instanceRef:\n    name: analytics\n  secretTransforms:\n  - addKey:\n      key: TEAM\n      stringValue: data\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_objects_are_provisioned_bound_and_cleaned_up_through_finalizers() {
    let Some(cluster) = kubelite::cluster("kubectl_objects_are_provisioned_bound_and_cleaned_up") else { return };
    let client = cluster.client().await;
    cluster.install_crds(&client).await;
    let namespaces = cluster.namespaces(&client, &["team-a"]).await;
    let ns = namespaces.name("team-a");
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |config| {
        config.cluster = cluster.portal_settings(&namespaces, &ns);
    })
    .await;

    // The built-in broker registered itself as a ClusterServiceBroker; its catalog arrives.
    eventually(60, "the built-in broker's classes in the API server", || async {
        let out = cluster.try_kubectl(&["get", "clusterserviceclasses", "-o", "name"], None).1;
        out.lines().any(|l| !l.is_empty()).then_some(())
    })
    .await;

    // What a browser's instances page receives: the portal's live stream, opened before kubectl acts.
    let live = app.client.get(app.url(&format!("/live/instances?namespace={ns}"))).send().await.unwrap();
    assert_eq!(live.status(), 200, "the live stream opens");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = tokio::spawn({
        let seen = seen.clone();
        let mut body = live.bytes_stream();
        async move {
            use futures::StreamExt;
            while let Some(Ok(chunk)) = body.next().await {
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk));
            }
        }
    });

    cluster.kubectl(&["apply", "-f", "-"], Some(&instance_yaml(&ns)));
    let ready = r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#;
    eventually(90, "kubectl to show the instance Ready", || async {
        let (_, out, _) = cluster.try_kubectl(&["get", "serviceinstance", "analytics", "-n", &ns, "-o", ready], None);
        (out.trim() == "True").then_some(())
    })
    .await;
    // The printer columns: class, plan, Ready and the reason (kubectl's own table).
    let table = cluster.kubectl(&["get", "si", "-n", &ns], None);
    let row = table.lines().find(|l| l.starts_with("analytics")).unwrap_or_else(|| panic!("{table}"));
    for expected in ["hdfs", "shared", "True", "ProvisionedSuccessfully"] {
        assert!(row.contains(expected), "{expected} missing in `kubectl get si`:\n{table}");
    }
    eventually(30, "the live stream to carry the kubectl-made instance going Ready", || async {
        let text = seen.lock().unwrap().clone();
        text.split("\n\n")
            .any(|event| {
                event.contains("ServiceInstance")
                    && event.contains("\"name\":\"analytics\"")
                    && event.contains("ProvisionedSuccessfully")
            })
            .then_some(())
    })
    .await;
    reader.abort();
    let instance = app.store.get(Kind::ServiceInstance, &ns, "analytics").await.unwrap().expect("instance");
    let external_id = instance.pointer("/spec/externalID").and_then(Value::as_str).unwrap_or_default().to_string();
    assert_eq!(external_id.len(), 36, "the controller gave the kubectl-made instance its OSB id");

    cluster.kubectl(&["apply", "-f", "-"], Some(&binding_yaml(&ns)));
    let secret = eventually(90, "the binding's Secret in the namespace", || async {
        let (ok, out, _) = cluster.try_kubectl(&["get", "secret", "analytics-creds", "-n", &ns, "-o", "json"], None);
        ok.then(|| serde_json::from_str::<Value>(&out).ok()).flatten()
    })
    .await;
    let binding = app.store.get(Kind::ServiceBinding, &ns, "analytics-creds").await.unwrap().expect("binding");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "ServiceBinding");
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], binding["metadata"]["uid"]);
    assert_eq!(secret["data"]["TEAM"], "ZGF0YQ==", "secretTransforms applied");
    assert!(secret["data"].as_object().is_some_and(|d| d.len() > 1), "credentials: {secret}");
    eventually(60, "the binding to show Ready", || async {
        let (_, out, _) =
            cluster.try_kubectl(&["get", "servicebinding", "analytics-creds", "-n", &ns, "-o", ready], None);
        (out.trim() == "True").then_some(())
    })
    .await;

    // Deletes: the finalizers hold each object until the broker has let go, then it is gone,
    // and the Secret with the binding.
    cluster.kubectl(&["delete", "servicebinding", "analytics-creds", "-n", &ns, "--wait=false"], None);
    eventually(60, "the binding and its Secret to be gone", || async {
        let binding = cluster.try_kubectl(&["get", "servicebinding", "analytics-creds", "-n", &ns], None).0;
        let secret = cluster.try_kubectl(&["get", "secret", "analytics-creds", "-n", &ns], None).0;
        (!binding && !secret).then_some(())
    })
    .await;
    cluster.kubectl(&["delete", "serviceinstance", "analytics", "-n", &ns, "--wait=false"], None);
    eventually(60, "the instance to be gone", || async {
        (!cluster.try_kubectl(&["get", "serviceinstance", "analytics", "-n", &ns], None).0).then_some(())
    })
    .await;
    let at_broker = app.broker_get(&format!("/v2/service_instances/{external_id}")).send().await.unwrap().status();
    assert!(at_broker.is_client_error(), "deprovisioned at the broker: {at_broker}");
    app.stop().await.unwrap();
}

/// Leader election on a real Lease: one holder at a time, a takeover only once the holder has
/// stopped renewing for the lease's duration, a released Lease taken at once, and of two
/// candidates racing for a free Lease exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_hands_the_lease_over_on_expiry_and_release() {
    use server::controller::leader::{Elector, LeaderConfig};
    let Some(cluster) = kubelite::cluster("leader_election_hands_the_lease_over") else { return };
    let client = cluster.client().await;
    let ns = cluster.namespaces(&client, &["election"]).await.name("election");
    let lease = Duration::from_secs(2);
    let config = |lease_name: &str, identity: &str| LeaderConfig {
        namespace: ns.clone(),
        lease_name: lease_name.into(),
        identity: identity.into(),
        lease_duration: lease,
    };
    let mut a = Elector::new(client.clone(), config("leader", "a"));
    let mut b = Elector::new(client.clone(), config("leader", "b"));
    assert!(a.try_acquire_or_renew().await.unwrap(), "a creates the lease");
    assert!(!b.try_acquire_or_renew().await.unwrap(), "b sees it held");
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
    assert!(!b.try_acquire_or_renew().await.unwrap(), "a renewal is no expiry");

    // a stops renewing: b takes over once the lease has not changed for its duration.
    let since = std::time::Instant::now();
    loop {
        if b.try_acquire_or_renew().await.unwrap() {
            break;
        }
        assert!(since.elapsed() < Duration::from_secs(15), "b never took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = since.elapsed();
    assert!(waited >= lease - Duration::from_millis(300), "b took over after only {waited:?}");
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a has lost it");
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> = kube::Api::namespaced(client.clone(), &ns);
    let spec = leases.get("leader").await.unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));

    // A released lease is taken at once.
    b.release().await;
    assert!(a.try_acquire_or_renew().await.unwrap(), "a takes a released lease without waiting");

    // Two candidates racing for a free lease: one wins, the other gets the conflict.
    let mut c = Elector::new(client.clone(), config("race", "c"));
    let mut d = Elector::new(client.clone(), config("race", "d"));
    let (c_won, d_won) = tokio::join!(c.try_acquire_or_renew(), d.try_acquire_or_renew());
    assert!(c_won.unwrap() ^ d_won.unwrap(), "exactly one of two racing candidates leads");
}

/// `--cluster kubernetes` with the portal's own records on PostgreSQL: the catalog's objects live
/// in the API server (the controller provisions from there), while accounts, API tokens and
/// sessions are rows in PostgreSQL, which holds no catalog object. A second portal on a fresh
/// data directory and the same database and API server still knows the first one's session and
/// token, and sees the instance: nothing lived in the first portal's local files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_kubernetes_the_portal_records_live_in_postgres_and_the_catalog_in_the_api_server() {
    let test = "with_kubernetes_the_portal_records_live_in_postgres";
    let Some(cluster) = kubelite::cluster(test) else { return };
    let Some(database) = common::postgres::fresh_database(test).await else { return };
    let client = cluster.client().await;
    cluster.install_crds(&client).await;
    let namespaces = cluster.namespaces(&client, &["pg-team"]).await;
    let ns = namespaces.name("pg-team");
    let adjust = |config: &mut server::config::Config| {
        config.database = DatabaseUrl::parse(&database).unwrap();
        // A namespaced broker of the test's own, so no cluster-scoped object is shared with
        // other tests on the same API server.
        config.builtin_broker = false;
        config.cluster = cluster.portal_settings(&namespaces, &ns);
    };
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), adjust).await;
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = osb_support::RunningBroker::start(
        osb_support::quick_config(false, Duration::ZERO),
        &broker_dir.path().join("broker.db"),
    )
    .await;

    // The catalog's objects go to the API server, and the controller works from there.
    let broker_object = serde_json::json!({"metadata": {"name": "hadoop", "namespace": ns},
                                           "spec": {"url": broker.url, "relistBehavior": "Manual"}});
    app.store.create(Kind::ServiceBroker, broker_object).await.unwrap();
    let instance = serde_json::json!({
        "metadata": {"name": "analytics", "namespace": ns},
        "spec": {"serviceClassExternalName": "hdfs", "servicePlanExternalName": "shared",
                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
    });
    eventually(60, "the broker's classes in the namespace", || async {
        let out = cluster.try_kubectl(&["get", "serviceclasses", "-n", &ns, "-o", "name"], None).1;
        out.lines().any(|l| !l.is_empty()).then_some(())
    })
    .await;
    app.store.create(Kind::ServiceInstance, instance).await.unwrap();
    let ready = r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#;
    eventually(90, "kubectl to show the instance Ready", || async {
        let (_, out, _) = cluster.try_kubectl(&["get", "serviceinstance", "analytics", "-n", &ns, "-o", ready], None);
        (out.trim() == "True").then_some(())
    })
    .await;

    // A sign-in through the login form: its session is a row in PostgreSQL.
    let login = app
        .anonymous
        .post(app.url("/auth/login"))
        .header(reqwest::header::ORIGIN, app.origin())
        .form(&[("username", "admin"), ("password", common::ADMIN_PASSWORD), ("next", "/instances")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303, "the admin signs in");
    let cookie = common::people::session_cookie(&login).expect("a session cookie");

    let pg = sqlx::PgPool::connect(&database).await.unwrap();
    let count = |sql: &'static str| {
        let pg = pg.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pg).await.unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM users WHERE username = 'admin' AND platform_admin").await, 1);
    assert_eq!(count("SELECT count(*) FROM teams WHERE name = 'team-a'").await, 1);
    assert!(count("SELECT count(*) FROM api_tokens").await >= 1, "the admin's API token");
    assert!(count("SELECT count(*) FROM sessions").await >= 1, "the signed-in session");
    assert_eq!(count("SELECT count(*) FROM resources").await, 0, "no catalog object in PostgreSQL");
    pg.close().await;

    // Another portal on a fresh data directory: the same people, sessions and catalog.
    let token = app.admin_token.clone();
    app.stop().await.unwrap();
    let again = TestApp::spawn_with(tempfile::tempdir().unwrap(), adjust).await;
    let metrics = again.anonymous.get(again.url("/metrics")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(metrics.status(), 200, "the first portal's API token still authorizes");
    let page =
        again.anonymous.get(again.url("/instances")).header(reqwest::header::COOKIE, &cookie).send().await.unwrap();
    assert_eq!(page.status(), 200, "the first portal's session is still signed in");
    let seen = again.store.get(Kind::ServiceInstance, &ns, "analytics").await.unwrap().expect("the instance");
    let conditions = seen.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    assert!(conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"), "{seen}");
    again.stop().await.unwrap();
}
