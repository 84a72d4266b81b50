//! Tables: every OSB outcome in every phase of an instance, and what the status becomes.

use std::time::Duration;

use app::model::{ConditionStatus, DeprovisionStatus, InstanceOperation, ProvisionStatus, ServiceInstance, condition};
use jiff::Timestamp;

use super::*;
use crate::{
    controller::instance::decide::{self, Action, Sending},
    osb::outcome::{Call, Outcome, Reply},
};

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn timing() -> Timing {
    Timing { max_attempts: 3, ..Timing::fast() }
}

fn reply(call: Call, outcome: Outcome<()>) -> Reply<()> {
    Reply { call, outcome, retry_after: None, request_identity: "r".into() }
}

fn fresh() -> ServiceInstance {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "i", "namespace": "team-a", "generation": 1, "finalizers": [decide::FINALIZER]},
        "spec": {"externalID": "id-1"}
    }))
    .unwrap()
}

fn provisioning() -> ServiceInstance {
    let mut i = fresh();
    decide::begin(&mut i, InstanceOperation::Provision, Sending::default(), now());
    i
}

fn provisioned() -> ServiceInstance {
    let mut i = provisioning();
    provision_replied(&mut i, &reply(Call::Provision, Outcome::Done { status: 201, body: () }), None, &timing(), now());
    i
}

fn updating() -> ServiceInstance {
    let mut i = provisioned();
    i.metadata.generation = Some(2);
    decide::begin(&mut i, InstanceOperation::Update, Sending::default(), now());
    i
}

fn deprovisioning() -> ServiceInstance {
    let mut i = provisioned();
    i.metadata.deletion_timestamp = Some("2026-06-01T12:00:00Z".into());
    decide::begin_deprovision(&mut i, false, now());
    i
}

/// Every outcome a broker call can end in.
fn all_outcomes() -> Vec<(&'static str, Outcome<()>)> {
    let d = || Some("broker says <b>no</b>".to_string());
    vec![
        ("done", Outcome::Done { status: 201, body: () }),
        ("accepted", Outcome::Accepted { operation: Some("op-1".into()), dashboard_url: None }),
        ("gone", Outcome::Gone),
        ("not_found", Outcome::NotFound { description: d() }),
        ("in_progress", Outcome::InProgress { description: d() }),
        ("succeeded", Outcome::Succeeded { description: None }),
        ("failed", Outcome::Failed { description: d(), instance_usable: None, update_repeatable: None }),
        ("async_required", Outcome::AsyncRequired { description: d() }),
        ("concurrency", Outcome::ConcurrencyError { description: d() }),
        ("requires_app", Outcome::RequiresApp { description: d() }),
        ("maintenance", Outcome::MaintenanceInfoConflict { description: d() }),
        ("bad_request", Outcome::BadRequest { status: 400, error: None, description: d() }),
        ("request_timeout_408", Outcome::BadRequest { status: 408, error: None, description: None }),
        ("conflict", Outcome::Conflict { description: d() }),
        ("server_error", Outcome::ServerError { status: 500, description: d() }),
        ("status_204", Outcome::UnexpectedStatus { status: 204 }),
        ("status_302", Outcome::UnexpectedStatus { status: 302 }),
        ("timeout", Outcome::Timeout),
        ("unreachable", Outcome::Unreachable { reason: "connection refused".into() }),
        ("connection_lost", Outcome::ConnectionLost { reason: "reset".into() }),
        ("malformed_201", Outcome::Malformed { status: 201, reason: "not JSON".into() }),
        ("malformed_200", Outcome::Malformed { status: 200, reason: "not JSON".into() }),
    ]
}

/// The observable result of one transition.
#[derive(Debug, PartialEq)]
struct Seen {
    ready: Option<(ConditionStatus, String)>,
    failed: bool,
    orphan_mitigation: bool,
    asynchronous: bool,
    provision: ProvisionStatus,
    deprovision: DeprovisionStatus,
    requeue: bool,
}

fn seen(i: &ServiceInstance, requeue: Requeue) -> Seen {
    let s = &i.status;
    Seen {
        ready: condition::find(&s.conditions, condition::READY).map(|c| (c.status, c.reason.clone())),
        failed: condition::is_true(&s.conditions, condition::FAILED),
        orphan_mitigation: s.orphan_mitigation_in_progress,
        asynchronous: s.async_op_in_progress,
        provision: s.provision_status,
        deprovision: s.deprovision_status,
        requeue: requeue.is_some(),
    }
}

/// What a kind of result looks like, compactly: (ready, reason, failed, om, async, requeue).
type Expect = (ConditionStatus, &'static str, bool, bool, bool, bool);

const T: ConditionStatus = ConditionStatus::True;
const F: ConditionStatus = ConditionStatus::False;

fn check(phase: &str, name: &str, i: &ServiceInstance, requeue: Requeue, expect: Expect) {
    let s = seen(i, requeue);
    let (ready, reason, failed, om, asynchronous, requeue) = expect;
    assert_eq!(s.ready, Some((ready, reason.to_string())), "{phase}/{name}: Ready");
    assert_eq!(s.failed, failed, "{phase}/{name}: Failed");
    assert_eq!(s.orphan_mitigation, om, "{phase}/{name}: orphan mitigation");
    assert_eq!(s.asynchronous, asynchronous, "{phase}/{name}: async");
    assert_eq!(s.requeue, requeue, "{phase}/{name}: requeue");
}

#[test]
fn provision_outcomes() {
    use reason::*;
    for (name, outcome) in all_outcomes() {
        let mut i = provisioning();
        let r = provision_replied(&mut i, &reply(Call::Provision, outcome), None, &timing(), now());
        let expect: Expect = match name {
            "done" => (T, PROVISIONED, false, false, false, false),
            "accepted" => (F, PROVISIONING, false, false, true, true),
            // Exactly the cases OSB names for orphan mitigation:
            "timeout" | "connection_lost" => (F, ERROR_CALLING_PROVISION, false, true, false, true),
            "server_error" | "status_204" | "malformed_201" => (F, PROVISION_CALL_FAILED, false, true, false, true),
            // The broker said no: final, nothing to clean up.
            "async_required" | "requires_app" | "maintenance" | "bad_request" | "conflict" => {
                (F, PROVISION_CALL_FAILED, true, false, false, false)
            }
            // Nothing final: retry with backoff, no mitigation.
            _ => (F, ERROR_CALLING_PROVISION, false, false, false, true),
        };
        check("provision", name, &i, r, expect);
        if expect.3 {
            assert_eq!(decide::next_action(&i, now()), Action::Deprovision { orphan_mitigation: true }, "{name}");
            assert_eq!(i.status.deprovision_status, DeprovisionStatus::Required);
        }
        if expect.2 {
            assert_eq!(
                i.status.deprovision_status,
                DeprovisionStatus::NotRequired,
                "{name}: the broker refused, holds nothing"
            );
            assert_eq!(decide::next_action(&i, now()), Action::Nothing, "{name}: final until the spec changes");
            let message = &condition::find(&i.status.conditions, condition::FAILED).unwrap().message;
            assert!(message.contains("broker says <b>no</b>"), "{name}: the broker's words, verbatim: {message}");
        }
    }
}

#[test]
fn update_outcomes_never_start_orphan_mitigation() {
    use reason::*;
    for (name, outcome) in all_outcomes() {
        let mut i = updating();
        let r = update_replied(&mut i, &reply(Call::Update, outcome), None, &timing(), now());
        let expect: Expect = match name {
            "done" => (T, UPDATED, false, false, false, false),
            "accepted" => (T, UPDATING, false, false, true, true),
            "async_required" | "requires_app" | "maintenance" | "bad_request" | "conflict" => {
                (T, UPDATE_CALL_FAILED, true, false, false, false)
            }
            _ => (T, ERROR_CALLING_UPDATE, false, false, false, true),
        };
        check("update", name, &i, r, expect);
        assert_eq!(i.status.provision_status, ProvisionStatus::Provisioned, "{name}: still provisioned");
    }
}

#[test]
fn deprovision_outcomes() {
    use reason::*;
    for (name, outcome) in all_outcomes() {
        let mut i = deprovisioning();
        let r = deprovision_replied(&mut i, &reply(Call::Deprovision, outcome), &timing(), now());
        let expect: Expect = match name {
            "done" | "gone" => (F, DEPROVISIONED, false, false, false, false),
            "accepted" => (F, DEPROVISIONING, false, false, true, true),
            "async_required" | "requires_app" | "maintenance" | "bad_request" | "conflict" => {
                (F, DEPROVISION_CALL_FAILED, true, false, false, true)
            }
            _ => (F, ERROR_CALLING_DEPROVISION, false, false, false, true),
        };
        check("deprovision", name, &i, r, expect);
        match name {
            "done" | "gone" => {
                assert_eq!(i.status.deprovision_status, DeprovisionStatus::Succeeded);
                assert_eq!(decide::next_action(&i, now()), Action::RemoveFinalizer);
            }
            "accepted" => assert_eq!(i.status.last_operation.as_deref(), Some("op-1")),
            _ => assert_ne!(
                decide::next_action(&i, now()),
                Action::RemoveFinalizer,
                "{name}: a delete never drops what the broker holds"
            ),
        }
    }
}

#[test]
fn orphan_mitigation_then_a_new_provision() {
    let mut i = provisioning();
    provision_replied(&mut i, &reply(Call::Provision, Outcome::Timeout), None, &timing(), now());
    decide::begin_deprovision(&mut i, true, now());
    let r = deprovision_replied(
        &mut i,
        &reply(Call::Deprovision, Outcome::Done { status: 200, body: () }),
        &timing(),
        now(),
    );
    assert!(!i.status.orphan_mitigation_in_progress);
    let om = condition::find(&i.status.conditions, condition::ORPHAN_MITIGATION).unwrap();
    assert_eq!((om.status, om.reason.as_str()), (F, reason::ORPHAN_MITIGATION_OK));
    assert!(r.is_some(), "provisioning is tried again after a backoff");
    assert!(matches!(decide::next_action(&i, now()), Action::WaitUntil(_)));
    let later: Timestamp = "2026-06-01T13:00:00Z".parse().unwrap();
    assert_eq!(decide::next_action(&i, later), Action::Provision);
    assert_eq!(i.status.failed_provisions, 1);
}

#[test]
fn provisions_that_keep_ending_in_orphan_mitigation_are_given_up() {
    let t = timing();
    let mut i = provisioning();
    for round in 1..=t.max_attempts {
        decide::begin(&mut i, InstanceOperation::Provision, Sending::default(), now());
        provision_replied(&mut i, &reply(Call::Provision, Outcome::Timeout), None, &t, now());
        decide::begin_deprovision(&mut i, true, now());
        // The broker is still busy with the provision at first: orphan mitigation waits, never gives up.
        for _ in 0..t.max_attempts + 2 {
            deprovision_replied(
                &mut i,
                &reply(Call::Deprovision, Outcome::ConcurrencyError { description: None }),
                &t,
                now(),
            );
            assert!(i.status.orphan_mitigation_in_progress, "round {round}: still mitigating");
            assert!(!condition::is_true(&i.status.conditions, condition::FAILED));
        }
        deprovision_replied(&mut i, &reply(Call::Deprovision, Outcome::Gone), &t, now());
    }
    let failed = condition::find(&i.status.conditions, condition::FAILED).expect("given up");
    assert_eq!(failed.reason, reason::RETRIES_EXHAUSTED);
    assert!(failed.message.contains("3 times"), "{}", failed.message);
    assert_eq!(decide::next_action(&i, "2026-06-02T00:00:00Z".parse().unwrap()), Action::Nothing);
}

#[test]
fn orphan_mitigation_that_fails_for_good_says_what_may_be_left() {
    let mut i = provisioning();
    provision_replied(
        &mut i,
        &reply(Call::Provision, Outcome::ServerError { status: 503, description: None }),
        None,
        &timing(),
        now(),
    );
    decide::begin_deprovision(&mut i, true, now());
    deprovision_replied(
        &mut i,
        &reply(Call::Deprovision, Outcome::BadRequest { status: 400, error: None, description: None }),
        &timing(),
        now(),
    );
    assert!(!i.status.orphan_mitigation_in_progress);
    let failed = condition::find(&i.status.conditions, condition::FAILED).unwrap();
    assert!(failed.message.contains("may still hold resources"), "{}", failed.message);
    assert_eq!(decide::next_action(&i, now()), Action::Nothing);
}

#[test]
fn poll_outcomes_for_each_operation() {
    use reason::*;
    type Phase = (&'static str, fn() -> ServiceInstance, InstanceOperation);
    let phases: [Phase; 3] = [
        ("provision", provisioning, InstanceOperation::Provision),
        ("update", updating, InstanceOperation::Update),
        ("deprovision", deprovisioning, InstanceOperation::Deprovision),
    ];
    for (phase, make, op) in phases {
        for (name, outcome) in all_outcomes() {
            let mut i = make();
            i.status.async_op_in_progress = true;
            i.status.last_operation = Some("op-1".into());
            let r = poll_replied(
                &mut i,
                &reply(Call::InstanceLastOperation, outcome),
                Duration::from_secs(3600),
                &timing(),
                now(),
            );
            let usable = if op == InstanceOperation::Update { T } else { F };
            let (done_reason, progress_reason, failed_reason) = match op {
                InstanceOperation::Provision => (PROVISIONED, PROVISIONING, PROVISION_CALL_FAILED),
                InstanceOperation::Update => (UPDATED, UPDATING, UPDATE_CALL_FAILED),
                InstanceOperation::Deprovision => (DEPROVISIONED, DEPROVISIONING, DEPROVISION_CALL_FAILED),
            };
            let done_ready = if op == InstanceOperation::Deprovision { F } else { T };
            let delete_retries = op == InstanceOperation::Deprovision;
            let expect: Expect = match name {
                "succeeded" => (done_ready, done_reason, false, false, false, false),
                "gone" if op == InstanceOperation::Deprovision => (F, DEPROVISIONED, false, false, false, false),
                "failed" | "gone" => (usable, failed_reason, true, false, false, delete_retries),
                "in_progress" => (usable, progress_reason, false, false, true, true),
                _ => (usable, ERROR_POLLING, false, false, true, true),
            };
            check(&format!("poll {phase}"), name, &i, r, expect);
            if name == "in_progress" {
                let ready = condition::find(&i.status.conditions, condition::READY).unwrap();
                assert!(ready.message.contains("broker says <b>no</b>"), "the broker's progress text is shown");
                assert_eq!(i.status.last_operation.as_deref(), Some("op-1"), "the operation is kept for the next poll");
            }
        }
    }
}

#[test]
fn polling_past_the_maximum_duration() {
    let in_progress = || reply(Call::InstanceLastOperation, Outcome::InProgress { description: None });
    let later: Timestamp = "2026-06-01T13:00:01Z".parse().unwrap();
    let mut i = provisioning();
    i.status.async_op_in_progress = true;
    poll_replied(&mut i, &in_progress(), Duration::from_secs(3600), &timing(), later);
    assert!(i.status.orphan_mitigation_in_progress, "a provision that never ends is cleaned up");
    assert_eq!(condition::find(&i.status.conditions, condition::READY).unwrap().reason, reason::ASYNC_TIMEOUT);

    let mut u = updating();
    u.status.async_op_in_progress = true;
    poll_replied(&mut u, &in_progress(), Duration::from_secs(3600), &timing(), later);
    assert!(!u.status.orphan_mitigation_in_progress, "never after an update");
    assert!(condition::is_true(&u.status.conditions, condition::FAILED));
}

#[test]
fn retries_give_up_after_the_configured_attempts() {
    let t = timing();
    let mut i = provisioning();
    for attempt in 1..t.max_attempts {
        let r = provision_replied(
            &mut i,
            &reply(Call::Provision, Outcome::Unreachable { reason: "refused".into() }),
            None,
            &t,
            now(),
        );
        assert!(r.is_some(), "attempt {attempt} is retried");
        assert!(i.status.next_attempt_time.is_some());
        assert!(matches!(decide::next_action(&i, now()), Action::WaitUntil(_)));
    }
    let r = provision_replied(
        &mut i,
        &reply(Call::Provision, Outcome::Unreachable { reason: "refused".into() }),
        None,
        &t,
        now(),
    );
    assert_eq!(r, None);
    let failed = condition::find(&i.status.conditions, condition::FAILED).unwrap();
    assert_eq!(failed.reason, reason::RETRIES_EXHAUSTED);
    assert!(failed.message.contains("cannot reach the broker: refused"), "{}", failed.message);
}

#[test]
fn retry_after_sets_the_next_poll() {
    let mut i = provisioning();
    let mut r = reply(
        Call::Provision,
        Outcome::Accepted { operation: Some("op".into()), dashboard_url: Some("https://dash".into()) },
    );
    r.retry_after = Some(Duration::from_millis(300));
    let requeue = provision_replied(&mut i, &r, None, &timing(), now());
    assert_eq!(requeue, Some(Duration::from_millis(300)));
    assert_eq!(i.status.dashboard_url.as_deref(), Some("https://dash"));
    assert_eq!(i.status.next_attempt_time.as_deref(), Some("2026-06-01T12:00:00.3Z"));
}

#[test]
fn success_records_what_the_broker_now_holds() {
    let mut i = fresh();
    let mut sending = Sending::default();
    sending.properties.cluster_service_plan_external_name = "small".into();
    sending.properties.parameter_checksum = "abc".into();
    decide::begin(&mut i, InstanceOperation::Provision, sending, now());
    provision_replied(
        &mut i,
        &reply(Call::Provision, Outcome::Done { status: 201, body: () }),
        Some("https://d".into()),
        &timing(),
        now(),
    );
    let s = &i.status;
    assert_eq!(s.external_properties.as_ref().unwrap().cluster_service_plan_external_name, "small");
    assert!(s.in_progress_properties.is_none() && s.current_operation.is_none() && s.operation_start_time.is_none());
    assert_eq!(s.reconciled_generation, 1);
    assert_eq!(s.dashboard_url.as_deref(), Some("https://d"));
    assert_eq!(
        s.history.iter().map(|c| c.reason.as_str()).collect::<Vec<_>>(),
        [reason::PROVISIONING, reason::PROVISIONED]
    );
}
