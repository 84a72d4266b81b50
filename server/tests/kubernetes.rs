//! `--cluster kubernetes`: the portal against a real API server (KUBECONFIG or kubelite), driven
//! the way a platform user would, with kubectl: a ServiceInstance applied with kubectl is
//! provisioned on the built-in broker and shows Ready in `kubectl get`; a ServiceBinding brings
//! a real Secret into the namespace (owned by the binding); deletes go through the finalizers.
//! Without an API server the test prints `SKIP` and passes.
#![cfg(feature = "kubernetes")]

mod common;

use std::time::Duration;

use app::model::Kind;
use common::{TestApp, eventually, kubelite};
use serde_json::Value;
use server::config::{Cluster, KubernetesConfig};

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
        config.cluster = Cluster::Kubernetes(KubernetesConfig {
            kubeconfig: Some(cluster.kubeconfig.clone()),
            team_namespaces: Some(namespaces.selector()),
            leader_election_namespace: Some(ns.clone()),
            lease_name: "quartermaster-controller".into(),
            lease_duration: Duration::from_secs(3),
        });
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
    let at_broker = app
        .client
        .get(app.url(&format!("/broker/v2/service_instances/{external_id}")))
        .header("X-Broker-API-Version", "2.17")
        .send()
        .await
        .unwrap()
        .status();
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
