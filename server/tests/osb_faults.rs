//! Every fault the built-in broker can inject, classified by the client into the right outcome
//! with the right orphan-mitigation flag (over real HTTP on loopback).

mod osb_support;

use std::time::Duration;

use osb_support::*;
use serde_json::json;
use server::{
    broker::{BrokerConfig, Fault, FaultRule},
    osb::{LastOperationQuery, Outcome, wire::UpdateRequest},
};

/// (fault, outcome kind, orphan mitigation required) for a provision or a bind.
const CREATE_CASES: [(&str, &str, bool); 11] = [
    ("timeout", "timeout", true),
    ("server-error", "server_error", true),
    ("bad-json", "malformed", true),
    ("invalid-status", "unexpected_status", true),
    ("bad-request", "bad_request", false),
    ("conflict", "conflict", false),
    ("gone", "gone", false),
    ("async-required", "async_required", false),
    ("concurrency-error", "concurrency_error", false),
    ("requires-app", "requires_app", false),
    ("maintenance-info-conflict", "maintenance_info_conflict", false),
];

#[tokio::test]
async fn provision_faults_are_classified_with_orphan_mitigation() {
    let url = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&url);
    for (fault, kind, orphan) in CREATE_CASES {
        let id = format!("p-{fault}");
        let reply = client.provision(&id, &hdfs_provision(json!({"_fault": fault})), None).await;
        assert_eq!(reply.outcome.kind(), kind, "provision with {fault}: {:?}", reply.outcome);
        assert_eq!(reply.requires_orphan_mitigation(), orphan, "provision with {fault}");
        if fault == "bad-json" {
            assert!(matches!(reply.outcome, Outcome::Malformed { status: 201, .. }), "{:?}", reply.outcome);
        }
        if let Some(description) = reply.outcome.description() {
            assert!(description.contains("injected fault"), "{fault}: the broker's text is passed on: {description}");
        }
        // Where OSB asks for orphan mitigation, the broker really did leave something behind.
        let exists = !matches!(client.fetch_instance(&id, None, None, None).await.outcome, Outcome::NotFound { .. });
        assert_eq!(exists, orphan, "{fault}: instance left behind");
        if orphan {
            let (service_id, plan_id) = ids("hdfs", "shared");
            let cleanup = client.deprovision(&id, &service_id, &plan_id, None).await.outcome;
            assert!(matches!(cleanup, Outcome::Done { status: 200, .. }), "{fault}: {cleanup:?}");
        }
    }
}

#[tokio::test]
async fn async_faults_fail_or_never_finish() {
    let url = spawn_broker(quick_config(true, Duration::from_millis(50))).await;
    let client = client(&url);
    let reply = client.provision("a-bad-json", &hdfs_provision(json!({"_fault": "bad-json"})), None).await;
    assert!(matches!(reply.outcome, Outcome::Malformed { status: 202, .. }), "{:?}", reply.outcome);
    assert!(reply.requires_orphan_mitigation());

    let reply = client.provision("a-fail", &hdfs_provision(json!({"_fault": "async-fail"})), None).await;
    let Outcome::Accepted { operation, .. } = reply.outcome else { panic!("{:?}", reply.outcome) };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.last_operation("a-fail", &query, None)).await;
    let Outcome::Failed { description: Some(description), instance_usable, update_repeatable } = &done.outcome else {
        panic!("{:?}", done.outcome)
    };
    assert!(description.contains("failed"), "{description}");
    assert_eq!((*instance_usable, *update_repeatable), (Some(true), Some(true)));
    assert!(!done.requires_orphan_mitigation());

    let reply = client.provision("a-never", &hdfs_provision(json!({"_fault": "async-never"})), None).await;
    let Outcome::Accepted { operation, .. } = reply.outcome else { panic!("{:?}", reply.outcome) };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    // Well past the configured delay, still in progress, every time, each with Retry-After.
    for _ in 0..5 {
        let reply = client.last_operation("a-never", &query, None).await;
        assert!(matches!(reply.outcome, Outcome::InProgress { .. }), "{:?}", reply.outcome);
        assert_eq!(reply.retry_after, Some(Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }

    // A failing asynchronous bind.
    let reply = client.provision("a-ok", &hdfs_provision(json!({"_async": false})), None).await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 201, .. }), "{:?}", reply.outcome);
    let reply = client.bind("a-ok", "b-fail", &hdfs_bind(json!({"_fault": "async-fail"})), None).await;
    let Outcome::Accepted { operation, .. } = reply.outcome else { panic!("{:?}", reply.outcome) };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.binding_last_operation("a-ok", "b-fail", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Failed { .. }), "{:?}", done.outcome);
}

#[tokio::test]
async fn bind_faults_are_classified_with_orphan_mitigation() {
    let url = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&url);
    let reply = client.provision("i", &hdfs_provision(json!({})), None).await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 201, .. }), "{:?}", reply.outcome);
    for (fault, kind, orphan) in CREATE_CASES {
        let id = format!("b-{fault}");
        let reply = client.bind("i", &id, &hdfs_bind(json!({"_fault": fault})), None).await;
        assert_eq!(reply.outcome.kind(), kind, "bind with {fault}: {:?}", reply.outcome);
        assert_eq!(reply.requires_orphan_mitigation(), orphan, "bind with {fault}");
        let exists = client.fetch_binding("i", &id, None, None, None).await.outcome.into_done().is_some();
        assert_eq!(exists, orphan, "{fault}: binding left behind");
    }
}

#[tokio::test]
async fn update_faults_never_require_orphan_mitigation() {
    let url = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&url);
    let provision = hdfs_provision(json!({}));
    assert!(matches!(client.provision("u", &provision, None).await.outcome, Outcome::Done { .. }));
    let cases = [
        ("timeout", "timeout"),
        ("server-error", "server_error"),
        ("bad-json", "malformed"),
        ("invalid-status", "unexpected_status"),
        ("concurrency-error", "concurrency_error"),
        ("maintenance-info-conflict", "maintenance_info_conflict"),
    ];
    for (fault, kind) in cases {
        let update = UpdateRequest {
            service_id: provision.service_id.clone(),
            parameters: params(json!({"_fault": fault})),
            ..UpdateRequest::default()
        };
        let reply = client.update("u", &update, None).await;
        assert_eq!(reply.outcome.kind(), kind, "update with {fault}: {:?}", reply.outcome);
        assert!(!reply.requires_orphan_mitigation(), "update with {fault}");
    }
}

#[tokio::test]
async fn broker_wide_faults_hit_deletes_polls_fetches_and_the_catalog() {
    let url = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&url);
    let (service_id, plan_id) = ids("hdfs", "shared");
    assert!(matches!(client.provision("w", &hdfs_provision(json!({})), None).await.outcome, Outcome::Done { .. }));
    assert!(matches!(client.bind("w", "wb", &hdfs_bind(json!({})), None).await.outcome, Outcome::Done { .. }));

    set_fault(&url, json!({"fault": "server-error", "on": "unbind", "times": 1})).await;
    let reply = client.unbind("w", "wb", &service_id, &plan_id, None).await;
    assert_eq!(reply.outcome.kind(), "server_error");
    assert!(!reply.requires_orphan_mitigation(), "never after an unbind");
    // The broker unbound before failing (that is what makes the fault nasty): the next try is Gone.
    assert_eq!(client.unbind("w", "wb", &service_id, &plan_id, None).await.outcome, Outcome::Gone);
    assert!(matches!(client.bind("w", "wb2", &hdfs_bind(json!({})), None).await.outcome, Outcome::Done { .. }));
    set_fault(&url, json!({"fault": "timeout", "on": "unbind", "times": 1})).await;
    let reply = client.unbind("w", "wb2", &service_id, &plan_id, None).await;
    assert_eq!(reply.outcome, Outcome::Timeout);
    assert!(!reply.requires_orphan_mitigation());
    // The rule was used up: the next unbind reaches the broker (the timed-out one had unbound).
    assert_eq!(client.unbind("w", "wb2", &service_id, &plan_id, None).await.outcome, Outcome::Gone);

    set_fault(&url, json!({"fault": "gone", "on": "fetch-instance"})).await;
    assert_eq!(client.fetch_instance("w", None, None, None).await.outcome, Outcome::Gone);
    set_fault(&url, json!({"fault": "server-error", "on": "last-operation"})).await;
    let reply = client.last_operation("w", &LastOperationQuery::default(), None).await;
    assert_eq!(reply.outcome.kind(), "server_error");
    set_fault(&url, json!({"fault": "concurrency-error", "on": "deprovision", "times": 1})).await;
    let reply = client.deprovision("w", &service_id, &plan_id, None).await;
    assert_eq!(reply.outcome.kind(), "concurrency_error");
    clear_fault(&url).await;
    assert!(matches!(client.deprovision("w", &service_id, &plan_id, None).await.outcome, Outcome::Done { .. }));

    set_fault(&url, json!({"fault": "slow-catalog"})).await;
    assert_eq!(client.catalog().await.outcome, Outcome::Timeout);
    set_fault(&url, json!({"fault": "bad-json", "on": "catalog"})).await;
    assert!(matches!(client.catalog().await.outcome, Outcome::Malformed { status: 200, .. }));
    set_fault(&url, json!({"fault": "huge-catalog"})).await;
    let slow_client = server::osb::OsbClient::new(server::osb::ClientConfig {
        request_timeout: Duration::from_secs(30),
        ..client_config(&url)
    })
    .expect("client");
    let Outcome::Malformed { status: 200, reason } = slow_client.catalog().await.outcome else {
        panic!("huge catalog read")
    };
    assert!(reason.contains("larger than"), "{reason}");

    // Unknown fault names are refused plainly.
    let unknown = client.provision("x", &hdfs_provision(json!({"_fault": "meteor"})), None).await;
    assert!(matches!(&unknown.outcome, Outcome::BadRequest { description: Some(d), .. } if d.contains("server-error")));
}

#[tokio::test]
async fn a_configured_fault_applies_from_the_start() {
    let config = BrokerConfig {
        fault: Some(FaultRule { fault: Fault::ServerError, on: None, times: Some(1) }),
        ..quick_config(false, Duration::ZERO)
    };
    let url = spawn_broker(config).await;
    let client = client(&url);
    assert_eq!(client.catalog().await.outcome.kind(), "server_error");
    assert!(matches!(client.catalog().await.outcome, Outcome::Done { .. }));
}
