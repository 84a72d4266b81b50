//! The built-in broker keeps its records in its SQLite file: killed and started again on the same
//! file, it still knows every instance, binding and credential, and operations started before
//! the restart end as they were meant to after it.

mod osb_support;

use std::time::Duration;

use osb_support::*;
use serde_json::json;
use server::osb::{LastOperationQuery, Outcome, wire::UpdateRequest};

/// Long enough that the operations are still running when the first broker dies.
const ASYNC_DELAY: Duration = Duration::from_secs(2);

fn op_query(operation: Option<String>) -> LastOperationQuery {
    LastOperationQuery { operation, ..LastOperationQuery::default() }
}

#[tokio::test]
async fn a_restarted_broker_knows_everything_and_finishes_what_it_started() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broker.db");
    let (service_id, plan_id) = ids("hdfs", "shared");

    let first = RunningBroker::start(quick_config(true, ASYNC_DELAY), &path).await;
    let before = client(&first.url);
    // Synchronous: an instance and a binding with its credentials.
    let sync_provision = hdfs_provision(json!({"_async": false}));
    let reply = before.provision("sync-i", &sync_provision, None).await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 201, .. }), "{:?}", reply.outcome);
    let sync_bind = hdfs_bind(json!({"_async": false}));
    let Outcome::Done { status: 201, body } = before.bind("sync-i", "sync-b", &sync_bind, None).await.outcome else {
        panic!("sync bind")
    };
    let credentials = body.credentials.expect("credentials");
    // Asynchronous, still running at the restart: a provision, a bind, an update; and two that end
    // otherwise: one that fails, one that never finishes.
    let provision = hdfs_provision(json!({}));
    let Outcome::Accepted { operation: provision_op, .. } = before.provision("async-i", &provision, None).await.outcome
    else {
        panic!("async provision")
    };
    let Outcome::Accepted { operation: bind_op, .. } =
        before.bind("sync-i", "async-b", &hdfs_bind(json!({})), None).await.outcome
    else {
        panic!("async bind")
    };
    let update = UpdateRequest {
        service_id: service_id.clone(),
        parameters: params(json!({"storageSpaceQuota": 4096})),
        ..UpdateRequest::default()
    };
    let Outcome::Accepted { operation: update_op, .. } = before.update("sync-i", &update, None).await.outcome else {
        panic!("async update")
    };
    let failing = hdfs_provision(json!({"_fault": "async-fail"}));
    let Outcome::Accepted { operation: fail_op, .. } = before.provision("fail-i", &failing, None).await.outcome else {
        panic!("failing provision")
    };
    let never = hdfs_provision(json!({"_fault": "async-never"}));
    let Outcome::Accepted { operation: never_op, .. } = before.provision("never-i", &never, None).await.outcome else {
        panic!("never-ending provision")
    };
    let running = before.last_operation("async-i", &op_query(provision_op.clone()), None).await.outcome;
    assert!(matches!(running, Outcome::InProgress { .. }), "still running before the restart: {running:?}");

    drop(before);
    first.kill().await;
    // New operations of the second broker are quick; the ones already running keep their own time.
    let second = RunningBroker::start(quick_config(true, Duration::from_millis(100)), &path).await;
    let after = client(&second.url);

    // What was done synchronously is all there, credentials included (the instance itself is
    // being updated: fetching it is a ConcurrencyError until the update ends).
    let busy = after.fetch_instance("sync-i", None, None, None).await.outcome;
    assert!(matches!(busy, Outcome::ConcurrencyError { .. }), "{busy:?}");
    let binding = after.fetch_binding("sync-i", "sync-b", None, None, None).await.outcome.into_done().expect("binding");
    assert_eq!(binding.credentials.as_ref(), Some(&credentials));
    let again = after.bind("sync-i", "sync-b", &sync_bind, None).await.outcome;
    assert!(matches!(&again, Outcome::Done { status: 200, body } if body.credentials.as_ref() == Some(&credentials)));

    // What was running finishes, with its effects.
    let query = op_query(provision_op.clone());
    let done = poll_until_settled(|| after.last_operation("async-i", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome);
    assert!(after.fetch_instance("async-i", None, None, None).await.outcome.into_done().is_some());
    let query = op_query(bind_op);
    let done = poll_until_settled(|| after.binding_last_operation("sync-i", "async-b", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome);
    let async_binding = after.fetch_binding("sync-i", "async-b", None, None, None).await.outcome.into_done();
    assert!(async_binding.and_then(|b| b.credentials).is_some_and(|c| c["uri"].is_string()));
    let query = op_query(update_op);
    let done = poll_until_settled(|| after.last_operation("sync-i", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome);
    let updated = after.fetch_instance("sync-i", None, None, None).await.outcome.into_done().expect("updated");
    let parameters = updated.parameters.expect("parameters");
    assert_eq!(
        (parameters["storageSpaceQuota"].clone(), parameters["namespaceQuota"].clone()),
        (json!(4096), json!(5000))
    );
    let query = op_query(fail_op);
    let failed = poll_until_settled(|| after.last_operation("fail-i", &query, None)).await;
    assert!(matches!(failed.outcome, Outcome::Failed { .. }), "{:?}", failed.outcome);
    let never = after.last_operation("never-i", &op_query(never_op), None).await.outcome;
    assert!(matches!(never, Outcome::InProgress { .. }), "{never:?}");

    // Identical re-provisions answer 200; deprovisions work and take the bindings along.
    let provision = after.provision("async-i", &provision, None).await.outcome;
    assert!(matches!(provision, Outcome::Done { status: 200, .. }), "{provision:?}");
    let sync_provision = hdfs_provision(json!({"storageSpaceQuota": 4096}));
    let provision = after.provision("sync-i", &sync_provision, None).await.outcome;
    assert!(matches!(provision, Outcome::Done { status: 200, .. }), "the updated instance: {provision:?}");
    for id in ["sync-i", "async-i"] {
        let Outcome::Accepted { operation, .. } = after.deprovision(id, &service_id, &plan_id, None).await.outcome
        else {
            panic!("deprovision {id}")
        };
        let query = op_query(operation);
        let done = poll_until_settled(|| after.last_operation(id, &query, None)).await;
        assert!(matches!(done.outcome, Outcome::Succeeded { .. } | Outcome::Gone), "{id}: {:?}", done.outcome);
        assert_eq!(after.deprovision(id, &service_id, &plan_id, None).await.outcome, Outcome::Gone);
        assert!(matches!(after.fetch_instance(id, None, None, None).await.outcome, Outcome::NotFound { .. }));
    }
    let gone = after.fetch_binding("sync-i", "sync-b", None, None, None).await.outcome;
    assert!(matches!(gone, Outcome::NotFound { .. }), "{gone:?}");
    second.kill().await;
}
