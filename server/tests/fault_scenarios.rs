//! Every fault the broker can be told to make, on provision and on bind, driven by the real
//! controller against a real broker over HTTP: each ends in the expected condition, and orphan
//! mitigation (a DELETE the portal sends on its own) happens exactly when OSB says so.

mod common;
mod osb_support;

use std::time::Duration;

use app::model::{Condition, ConditionStatus, Kind, ServiceBinding, ServiceInstance, condition};
use common::{TestApp, eventually};
use osb_support::{RunningBroker, quick_config};
use serde_json::{Value, json};
use server::store::TypedStore;

/// How a scenario must end.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Ready,
    /// `Failed` with this reason.
    Failed(&'static str),
    /// Still waiting on the broker (an operation that never finishes).
    InProgress,
}

struct Scenario {
    fault: &'static str,
    end: End,
    /// Whether OSB requires orphan mitigation after the first answer.
    orphan_mitigation: bool,
}

const fn s(fault: &'static str, end: End, orphan_mitigation: bool) -> Scenario {
    Scenario { fault, end, orphan_mitigation }
}

fn provision_scenarios() -> Vec<Scenario> {
    use End::*;
    vec![
        s("none", Ready, false),
        s("timeout", Failed("ReconciliationRetryTimeout"), true),
        s("server-error", Failed("ReconciliationRetryTimeout"), true),
        s("bad-json", Failed("ReconciliationRetryTimeout"), true),
        s("invalid-status", Failed("ReconciliationRetryTimeout"), true),
        s("async-fail", Failed("ProvisionCallFailed"), false),
        s("async-never", InProgress, false),
        s("bad-request", Failed("ProvisionCallFailed"), false),
        s("conflict", Failed("ProvisionCallFailed"), false),
        s("async-required", Failed("ProvisionCallFailed"), false),
        s("requires-app", Failed("ProvisionCallFailed"), false),
        s("maintenance-info-conflict", Failed("ProvisionCallFailed"), false),
        s("concurrency-error", Failed("ReconciliationRetryTimeout"), false),
        s("gone", Failed("ReconciliationRetryTimeout"), false),
    ]
}

fn bind_scenarios() -> Vec<Scenario> {
    use End::*;
    vec![
        s("none", Ready, false),
        s("timeout", Failed("ReconciliationRetryTimeout"), true),
        s("server-error", Failed("ReconciliationRetryTimeout"), true),
        s("bad-json", Failed("ReconciliationRetryTimeout"), true),
        s("async-fail", Failed("BindCallFailed"), false),
        s("bad-request", Failed("BindCallFailed"), false),
        s("conflict", Failed("BindCallFailed"), false),
        s("requires-app", Failed("BindCallFailed"), false),
    ]
}

fn name(prefix: &str, fault: &str) -> String {
    format!("{prefix}-{fault}")
}

fn settled(conditions: &[Condition], end: End, async_in_progress: bool) -> bool {
    match end {
        End::Ready => condition::is_true(conditions, condition::READY),
        End::Failed(reason) => condition::find(conditions, condition::FAILED)
            .is_some_and(|c| c.status == ConditionStatus::True && c.reason == reason),
        End::InProgress => async_in_progress,
    }
}

fn parameters(fault: &str) -> Value {
    let mut p = json!({"namespaceQuota": 10000, "storageSpaceQuota": 2048});
    if fault != "none" {
        p["_fault"] = json!(fault);
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broker_fault_on_provision_and_bind_ends_explained() {
    let broker_dir = tempfile::tempdir().unwrap();
    let broker =
        RunningBroker::start(quick_config(true, Duration::from_millis(300)), &broker_dir.path().join("broker.db"))
            .await;
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| c.builtin_broker = false).await;
    let typed = TypedStore::new(app.store.clone());
    common::register_broker(&app, json!({"name": "faulty"}), &broker.url).await;

    // Provision: every fault at once, each on its own instance.
    for sc in provision_scenarios() {
        let instance = json!({"metadata": {"name": name("p", sc.fault), "namespace": "faults"},
            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared", "parameters": parameters(sc.fault)}});
        app.store.create(Kind::ServiceInstance, instance).await.unwrap();
    }
    // The instances the bindings go on.
    for sc in bind_scenarios() {
        let instance = json!({"metadata": {"name": name("b", sc.fault), "namespace": "faults"},
            "spec": {"clusterServiceClassExternalName": "kafka", "clusterServicePlanExternalName": "shared",
                     "parameters": {"partitions": 3}}});
        app.store.create(Kind::ServiceInstance, instance).await.unwrap();
        let mut params = json!({});
        if sc.fault != "none" {
            params["_fault"] = json!(sc.fault);
        }
        let binding = json!({"metadata": {"name": name("b", sc.fault), "namespace": "faults"},
            "spec": {"instanceRef": {"name": name("b", sc.fault)}, "parameters": params}});
        app.store.create(Kind::ServiceBinding, binding).await.unwrap();
    }

    for sc in provision_scenarios() {
        let n = name("p", sc.fault);
        let instance = eventually(120, &format!("instance {n} to end {:?}", sc.end), || async {
            let i = typed.get::<ServiceInstance>("faults", &n).await.unwrap()?;
            settled(&i.status.conditions, sc.end, i.status.async_op_in_progress).then_some(i)
        })
        .await;
        let reasons: Vec<&str> = instance.status.history.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(reasons.contains(&"StartingInstanceOrphanMitigation"), sc.orphan_mitigation, "{n}: {reasons:?}");
        if let End::Failed(_) = sc.end {
            let message = &condition::find(&instance.status.conditions, condition::FAILED).unwrap().message;
            assert!(message.len() > 20, "{n}: a readable message: {message:?}");
        }
    }
    for sc in bind_scenarios() {
        let n = name("b", sc.fault);
        let binding = eventually(120, &format!("binding {n} to end {:?}", sc.end), || async {
            let b = typed.get::<ServiceBinding>("faults", &n).await.unwrap()?;
            settled(&b.status.conditions, sc.end, b.status.async_op_in_progress).then_some(b)
        })
        .await;
        let reasons: Vec<&str> = binding.status.history.iter().map(|c| c.reason.as_str()).collect();
        assert_eq!(reasons.contains(&"StartingOrphanMitigation"), sc.orphan_mitigation, "{n}: {reasons:?}");
        let secret = app.store.get(Kind::Secret, "faults", &n).await.unwrap();
        assert_eq!(secret.is_some(), sc.end == End::Ready, "{n}: credentials only for a ready binding");
    }

    // What the broker itself saw: DELETEs (deprovision / unbind) only where orphan mitigation was due.
    let log = common::broker_requests(&broker.url).await;
    for sc in provision_scenarios() {
        let id = typed.get::<ServiceInstance>("faults", &name("p", sc.fault)).await.unwrap().unwrap().spec.external_id;
        let deletes = common::calls(&log, "DELETE", &format!("/service_instances/{id}"));
        assert_eq!(deletes > 0, sc.orphan_mitigation, "provision {}: {deletes} deprovision calls", sc.fault);
        if sc.orphan_mitigation {
            let status = reqwest::Client::new()
                .get(format!("{}/v2/service_instances/{id}", broker.url))
                .header("X-Broker-API-Version", "2.17")
                .send()
                .await
                .unwrap()
                .status();
            assert_ne!(status, 200, "provision {}: no orphan left at the broker", sc.fault);
        }
    }
    for sc in bind_scenarios() {
        let id = typed.get::<ServiceBinding>("faults", &name("b", sc.fault)).await.unwrap().unwrap().spec.external_id;
        let deletes = common::calls(&log, "DELETE", &format!("/service_bindings/{id}"));
        assert_eq!(deletes > 0, sc.orphan_mitigation, "bind {}: {deletes} unbind calls", sc.fault);
    }
    app.stop().await.unwrap();
}

/// A broker's `quartermaster.io/max-calls-per-second` annotation bounds how fast the portal calls
/// it: however many instances are asked for at once, no window of a second sees more calls than
/// the bucket (2) plus the rate (2 a second) allows, and the waits are counted in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brokers_rate_limit_bounds_the_calls_it_gets() {
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = RunningBroker::start(quick_config(false, Duration::ZERO), &broker_dir.path().join("broker.db")).await;
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| c.builtin_broker = false).await;
    let typed = TypedStore::new(app.store.clone());
    let gentle = json!({"name": "gentle", "annotations": {"quartermaster.io/max-calls-per-second": "2"}});
    common::register_broker(&app, gentle, &broker.url).await;
    let names: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    for n in &names {
        let instance = json!({"metadata": {"name": n, "namespace": "rate"},
            "spec": {"clusterServiceClassExternalName": "kafka", "clusterServicePlanExternalName": "shared",
                     "parameters": {"partitions": 3}}});
        app.store.create(Kind::ServiceInstance, instance).await.unwrap();
    }
    eventually(60, "every instance ready", || async {
        for n in &names {
            let i = typed.get::<ServiceInstance>("rate", n).await.unwrap().unwrap();
            if !condition::is_true(&i.status.conditions, condition::READY) {
                return None;
            }
        }
        Some(())
    })
    .await;

    let log = common::broker_requests(&broker.url).await;
    let mut times: Vec<u64> = log
        .iter()
        .filter(|r| r["path"].as_str().unwrap_or_default().starts_with("/v2/"))
        .map(|r| r["received_ms"].as_u64().unwrap())
        .collect();
    times.sort_unstable();
    assert!(times.len() >= 11, "a catalog fetch and ten provisions: {times:?}");
    // GCRA: in any second at most burst (2) + rate (2) calls start; 500 ms of slack for the
    // loopback's jitter between sending and arriving.
    for (i, start) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|t| **t < start + 1000).count();
        assert!(in_window <= 5, "{in_window} calls within a second from {start}: {times:?}");
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let waited = common::metric_value(&metrics, "quartermaster_broker_calls_rate_limited_total{broker=\"gentle\"}")
        .unwrap_or_else(|| panic!("no rate-limit counter for the broker:\n{metrics}"));
    assert!(waited >= 5.0, "at least the calls beyond the first second waited: {waited}");

    // A limit that is not a number is refused on the broker, with the annotation named.
    app.store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "garbled", "annotations": {"quartermaster.io/max-calls-per-second": "fast"}},
                   "spec": {"url": broker.url, "relistBehavior": "Manual"}}),
        )
        .await
        .unwrap();
    eventually(30, "the refusal on the broker", || async {
        let b = app.store.get(Kind::ClusterServiceBroker, "", "garbled").await.unwrap().unwrap();
        let text = b["status"]["conditions"].to_string();
        text.contains("quartermaster.io/max-calls-per-second").then_some(())
    })
    .await;
    app.stop().await.unwrap();
}
