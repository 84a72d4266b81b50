//! The fault matrix for the operations after creation: every fault the built-in broker can make ×
//! update, deprovision and unbind × a synchronous and an asynchronous broker, driven by the real
//! controller over real HTTP. (Provision and bind: `fault_scenarios.rs`.)
//!
//! Each case checks the condition and reason the object ends in, the broker's message reaching the
//! user, that no orphan-mitigation call is made (OSB asks for it only after provision and bind),
//! and, for deletes, that the object is kept while the broker refuses and goes away once the broker
//! recovers — with the broker holding nothing afterwards.
//!
//! Broker-wide faults apply to whichever request comes next, so each lane (a broker mode × an
//! operation) gets its own broker and portal and walks its faults one after another; the lanes
//! run side by side.

mod common;
mod osb_support;

use std::{fmt::Write as _, time::Duration};

use app::model::{Condition, ConditionStatus, Kind, ServiceBinding, ServiceInstance, condition};
use common::{TestApp, eventually};
use osb_support::{RunningBroker, clear_fault, quick_config, set_fault};
use serde_json::{Value, json};
use server::store::TypedStore;

const NS: &str = "matrix";

/// How a case must end while the fault lasts.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    /// The operation succeeded (for deletes: the object is gone).
    Done,
    /// Retried: Ready is False with this reason (the call is repeated with backoff).
    Retrying(&'static str),
    /// `Failed` is True with this reason.
    Failed(&'static str),
    /// The broker's operation is still running.
    InProgress,
}

/// Every fault that applies to an operation on an existing object (the catalog faults don't).
const FAULTS: [&str; 13] = [
    "timeout",
    "server-error",
    "bad-json",
    "invalid-status",
    "async-fail",
    "async-never",
    "bad-request",
    "conflict",
    "gone",
    "async-required",
    "concurrency-error",
    "requires-app",
    "maintenance-info-conflict",
];

/// Transient answers (no answer, a 5xx, a malformed or disallowed answer, a concurrency error)
/// are retried; a clear refusal is a failure; a `410 Gone` on a delete means "already deleted".
fn expected(op: Op, fault: &str) -> End {
    use End::*;
    let transient = matches!(fault, "timeout" | "server-error" | "bad-json" | "invalid-status" | "concurrency-error");
    match op {
        Op::Update => match fault {
            "async-never" => InProgress,
            // An update that keeps failing in a transient way is given up after the attempts.
            _ if transient || fault == "gone" => Failed("ReconciliationRetryTimeout"),
            _ => Failed("UpdateInstanceCallFailed"),
        },
        Op::Deprovision | Op::Unbind => match fault {
            "gone" => Done,
            // The broker deleted, then spoiled its answer: the retry is told 410 Gone, which ends it.
            _ if spoils_after_doing(fault) => Done,
            "async-never" => InProgress,
            // A delete is never given up: it keeps being retried (an admin may abandon it).
            _ if transient && op == Op::Deprovision => Retrying("ErrorCallingDeprovision"),
            _ if transient => Retrying("ErrorCallingUnbind"),
            _ if op == Op::Deprovision => Failed("DeprovisionCallFailed"),
            _ => Failed("UnbindCallFailed"),
        },
    }
}

/// The faults after which the built-in broker has still done what it was asked.
fn spoils_after_doing(fault: &str) -> bool {
    matches!(fault, "timeout" | "server-error" | "bad-json" | "invalid-status")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Update,
    Deprovision,
    Unbind,
}

impl Op {
    fn endpoint(self) -> &'static str {
        match self {
            Op::Update => "update",
            Op::Deprovision => "deprovision",
            Op::Unbind => "unbind",
        }
    }
}

fn settled(conditions: &[Condition], end: End, in_progress: bool) -> bool {
    let has = |kind: &str, status: ConditionStatus, reason: &str| {
        condition::find(conditions, kind).is_some_and(|c| c.status == status && c.reason == reason)
    };
    match end {
        End::Done => false,
        End::Retrying(reason) => has(condition::READY, ConditionStatus::False, reason),
        End::Failed(reason) => has(condition::FAILED, ConditionStatus::True, reason),
        End::InProgress => in_progress,
    }
}

fn message_of(conditions: &[Condition], end: End) -> String {
    let kind = if matches!(end, End::Failed(_)) { condition::FAILED } else { condition::READY };
    condition::find(conditions, kind).map(|c| c.message.clone()).unwrap_or_default()
}

/// Whether the broker still holds `path` (an instance or binding), asked directly.
async fn broker_holds(broker: &str, path: &str) -> bool {
    let status = reqwest::Client::new()
        .get(format!("{broker}/v2/{path}"))
        .header("X-Broker-API-Version", "2.17")
        .send()
        .await
        .unwrap()
        .status();
    status.is_success()
}

struct Lane {
    app: TestApp,
    broker: RunningBroker,
    typed: TypedStore,
    _dir: tempfile::TempDir,
}

async fn lane(asynchronous: bool) -> Lane {
    let dir = tempfile::tempdir().unwrap();
    let broker =
        RunningBroker::start(quick_config(asynchronous, Duration::from_millis(200)), &dir.path().join("b.db")).await;
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| c.builtin_broker = false).await;
    let typed = TypedStore::new(app.store.clone());
    common::register_broker(&app, json!({"name": "faulty"}), &broker.url).await;
    Lane { app, broker, typed, _dir: dir }
}

async fn ready_instance(l: &Lane, name: &str, class: &str, parameters: Value) -> ServiceInstance {
    let body = json!({"metadata": {"name": name, "namespace": NS},
        "spec": {"clusterServiceClassExternalName": class, "clusterServicePlanExternalName": "shared", "parameters": parameters}});
    l.app.store.create(Kind::ServiceInstance, body).await.unwrap();
    eventually(60, &format!("instance {name} Ready"), || async {
        let i = l.typed.get::<ServiceInstance>(NS, name).await.unwrap()?;
        condition::is_true(&i.status.conditions, condition::READY).then_some(i)
    })
    .await
}

async fn ready_binding(l: &Lane, name: &str) -> ServiceBinding {
    ready_instance(l, name, "kafka", json!({"partitions": 3})).await;
    let body = json!({"metadata": {"name": name, "namespace": NS}, "spec": {"instanceRef": {"name": name}}});
    l.app.store.create(Kind::ServiceBinding, body).await.unwrap();
    eventually(60, &format!("binding {name} Ready"), || async {
        let b = l.typed.get::<ServiceBinding>(NS, name).await.unwrap()?;
        condition::is_true(&b.status.conditions, condition::READY).then_some(b)
    })
    .await
}

/// One row of the printed table.
fn row(out: &mut String, mode: &str, op: Op, fault: &str, end: End, message: &str) {
    let mut short: String = message.chars().take(70).collect();
    if message.chars().count() > 70 {
        short.push('…');
    }
    let _ = writeln!(out, "{mode:5} {:12} {fault:26} {:40} {short}", op.endpoint(), format!("{end:?}"));
}

/// Updates: the fault rides in the request's parameters, so all cases run at once on one broker.
async fn update_lane(asynchronous: bool) -> String {
    let mode = if asynchronous { "async" } else { "sync" };
    let l = lane(asynchronous).await;
    let mut out = String::new();
    for fault in FAULTS {
        ready_instance(&l, &format!("u-{fault}"), "hdfs", json!({"namespaceQuota": 10000, "storageSpaceQuota": 2048}))
            .await;
    }
    for fault in FAULTS {
        let name = format!("u-{fault}");
        let mut current = l.app.store.get(Kind::ServiceInstance, NS, &name).await.unwrap().unwrap();
        current["spec"]["parameters"] = json!({"namespaceQuota": 10000, "storageSpaceQuota": 4096, "_fault": fault});
        l.app.store.update(Kind::ServiceInstance, current).await.unwrap();
    }
    for fault in FAULTS {
        let name = format!("u-{fault}");
        let end = expected(Op::Update, fault);
        let i = eventually(120, &format!("{mode} update with {fault} to end {end:?}"), || async {
            let i = l.typed.get::<ServiceInstance>(NS, &name).await.unwrap()?;
            settled(&i.status.conditions, end, i.status.async_op_in_progress).then_some(i)
        })
        .await;
        let message = message_of(&i.status.conditions, end);
        if end != End::InProgress {
            assert!(message.len() > 20, "{mode} update {fault}: a readable message: {message:?}");
        }
        // A failed update leaves the instance as it was, still usable.
        assert_eq!(i.status.provision_status, app::model::ProvisionStatus::Provisioned, "{mode} update {fault}");
        row(&mut out, mode, Op::Update, fault, end, &message);
    }
    let log = common::broker_requests(&l.broker.url).await;
    for fault in FAULTS {
        let id = l.typed.get::<ServiceInstance>(NS, &format!("u-{fault}")).await.unwrap().unwrap().spec.external_id;
        assert_eq!(
            common::calls(&log, "DELETE", &id),
            0,
            "{mode} update {fault}: no orphan mitigation after an update"
        );
        assert!(common::calls(&log, "PATCH", &id) >= 1, "{mode} update {fault}: the update reached the broker");
    }
    // A successful update after a failed one: the next spec change goes through.
    let name = "u-bad-request";
    let mut current = l.app.store.get(Kind::ServiceInstance, NS, name).await.unwrap().unwrap();
    current["spec"]["parameters"] = json!({"namespaceQuota": 10000, "storageSpaceQuota": 8192});
    l.app.store.update(Kind::ServiceInstance, current).await.unwrap();
    eventually(60, "a corrected update to succeed", || async {
        let i = l.typed.get::<ServiceInstance>(NS, name).await.unwrap()?;
        let ok = condition::find(&i.status.conditions, condition::READY)
            .is_some_and(|c| c.status == ConditionStatus::True && c.reason == "InstanceUpdatedSuccessfully");
        ok.then_some(())
    })
    .await;
    l.app.stop().await.unwrap();
    out
}

/// Deletes: a broker-wide fault on the DELETE, one case after another; then the fault is lifted
/// and the delete must finish by itself.
async fn delete_lane(asynchronous: bool, op: Op) -> String {
    let mode = if asynchronous { "async" } else { "sync" };
    let l = lane(asynchronous).await;
    let mut out = String::new();
    for fault in FAULTS {
        let name = format!("d-{fault}");
        let (kind, path) = match op {
            Op::Deprovision => {
                let i = ready_instance(&l, &name, "hdfs", json!({"namespaceQuota": 10000, "storageSpaceQuota": 2048}))
                    .await;
                (Kind::ServiceInstance, format!("service_instances/{}", i.spec.external_id))
            }
            _ => {
                let b = ready_binding(&l, &name).await;
                let instance =
                    l.typed.get::<ServiceInstance>(NS, &name).await.unwrap().unwrap().spec.external_id.to_string();
                (Kind::ServiceBinding, format!("service_instances/{instance}/service_bindings/{}", b.spec.external_id))
            }
        };
        set_fault(&l.broker.url, json!({"fault": fault, "on": op.endpoint()})).await;
        l.app.store.delete(kind, NS, &name, None).await.unwrap();
        let end = expected(op, fault);
        let get_conditions = || async {
            let o = l.app.store.get(kind, NS, &name).await.unwrap()?;
            let status = &o["status"];
            let conditions: Vec<Condition> = serde_json::from_value(status["conditions"].clone()).unwrap_or_default();
            Some((conditions, status["asyncOpInProgress"].as_bool().unwrap_or(false)))
        };
        let message = if end == End::Done {
            eventually(60, &format!("{mode} {op:?} with {fault}: the object to go"), || async {
                get_conditions().await.is_none().then_some(())
            })
            .await;
            String::new()
        } else {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
            let conditions = loop {
                let object = l.app.store.get(kind, NS, &name).await.unwrap();
                if let Some((conditions, in_progress)) = get_conditions().await
                    && settled(&conditions, end, in_progress)
                {
                    break conditions;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{mode} {op:?} with {fault} did not end {end:?}; last seen: {}",
                    object.map(|o| o["status"].to_string()).unwrap_or_else(|| "gone".into())
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            let message = message_of(&conditions, end);
            if end != End::InProgress {
                assert!(message.len() > 20, "{mode} {op:?} {fault}: a readable message: {message:?}");
            }
            // While the broker refuses, the object (and its finalizer) stays: nothing is forgotten.
            assert!(get_conditions().await.is_some(), "{mode} {op:?} {fault}: kept while the broker refuses");
            message
        };
        row(&mut out, mode, op, fault, end, &message);
        clear_fault(&l.broker.url).await;
        let deletes = common::calls(&common::broker_requests(&l.broker.url).await, "DELETE", &path);
        if fault == "gone" {
            // The broker said it no longer had it; the platform believes it and sends nothing more.
            assert_eq!(deletes, 1, "{mode} {op:?} gone: one DELETE");
        } else if spoils_after_doing(fault) {
            // The spoiled answer was not believed: the DELETE was sent again (and answered 410).
            assert!(deletes >= 2, "{mode} {op:?} {fault}: retried ({deletes} DELETEs)");
            assert!(!broker_holds(&l.broker.url, &path).await, "{mode} {op:?} {fault}: the broker let go of {path}");
        } else if fault != "async-never" {
            // The broker recovered: the retried delete finishes, and the broker holds nothing.
            eventually(60, &format!("{mode} {op:?} after {fault} lifted: the object to go"), || async {
                get_conditions().await.is_none().then_some(())
            })
            .await;
            assert!(!broker_holds(&l.broker.url, &path).await, "{mode} {op:?} {fault}: the broker let go of {path}");
        }
    }
    // Each object was created exactly once (no orphan mitigation, no second provision or bind).
    let log = common::broker_requests(&l.broker.url).await;
    let binds = common::calls(&log, "PUT", "/service_bindings/");
    let provisions = common::calls(&log, "PUT", "/service_instances/") - binds;
    assert_eq!(provisions, FAULTS.len(), "{mode} {op:?}: each instance provisioned once");
    assert_eq!(binds, if op == Op::Unbind { FAULTS.len() } else { 0 }, "{mode} {op:?}: each binding bound once");
    l.app.stop().await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_on_update_deprovision_and_unbind_sync_and_async() {
    let lanes = futures::future::join_all([
        Box::pin(update_lane(false)) as std::pin::Pin<Box<dyn Future<Output = String> + Send>>,
        Box::pin(update_lane(true)),
        Box::pin(delete_lane(false, Op::Deprovision)),
        Box::pin(delete_lane(true, Op::Deprovision)),
        Box::pin(delete_lane(false, Op::Unbind)),
        Box::pin(delete_lane(true, Op::Unbind)),
    ])
    .await;
    println!("mode  operation    fault                      ends in (while the fault lasts)          message");
    for lane in lanes {
        print!("{lane}");
    }
}
