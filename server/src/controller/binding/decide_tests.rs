//! Tables: every OSB outcome for bind, unbind and their polls.

use std::time::Duration;

use app::model::{ConditionStatus, ServiceBinding, UnbindStatus, condition};
use jiff::Timestamp;

use super::*;
use crate::osb::outcome::{Call, Outcome, Reply};

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn reply(call: Call, outcome: Outcome<()>) -> Reply<()> {
    Reply { call, outcome, retry_after: None, request_identity: "r".into() }
}

fn binding() -> ServiceBinding {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "b", "namespace": "team-a", "generation": 1, "finalizers": [FINALIZER]},
        "spec": {"instanceRef": {"name": "i"}, "externalID": "b-1", "secretName": "b"}
    }))
    .unwrap()
}

fn outcomes() -> Vec<(&'static str, Outcome<()>)> {
    vec![
        ("done", Outcome::Done { status: 201, body: () }),
        ("accepted", Outcome::Accepted { operation: Some("op".into()), dashboard_url: None }),
        ("gone", Outcome::Gone),
        ("bad_request", Outcome::BadRequest { status: 400, error: None, description: Some("nope".into()) }),
        ("408", Outcome::BadRequest { status: 408, error: None, description: None }),
        ("conflict", Outcome::Conflict { description: None }),
        ("requires_app", Outcome::RequiresApp { description: None }),
        ("concurrency", Outcome::ConcurrencyError { description: None }),
        ("server_error", Outcome::ServerError { status: 502, description: None }),
        ("timeout", Outcome::Timeout),
        ("connection_lost", Outcome::ConnectionLost { reason: "reset".into() }),
        ("unreachable", Outcome::Unreachable { reason: "refused".into() }),
        ("status_204", Outcome::UnexpectedStatus { status: 204 }),
        ("malformed_201", Outcome::Malformed { status: 201, reason: "x".into() }),
        ("malformed_200", Outcome::Malformed { status: 200, reason: "x".into() }),
    ]
}

#[test]
fn bind_outcomes() {
    for (name, outcome) in outcomes() {
        let mut b = binding();
        begin_bind(&mut b, now());
        assert_eq!(b.status.unbind_status, UnbindStatus::Required, "recorded before sending");
        let (requeue, after) = bind_replied(&mut b, &reply(Call::Bind, outcome), &Timing::fast(), now());
        let om = b.status.orphan_mitigation_in_progress;
        let failed = condition::is_true(&b.status.conditions, condition::FAILED);
        match name {
            "done" => assert_eq!(after, AfterBind::InjectCredentials),
            "accepted" => assert!(b.status.async_op_in_progress && requeue.is_some()),
            "timeout" | "connection_lost" | "server_error" | "status_204" | "malformed_201" => {
                assert!(om, "{name}: orphan mitigation");
                assert_eq!(next_action(&b, now()), Action::Unbind { orphan_mitigation: true });
            }
            "bad_request" | "conflict" | "requires_app" => {
                assert!(failed && !om, "{name}: final");
                assert_eq!(b.status.unbind_status, UnbindStatus::NotRequired);
                assert_eq!(next_action(&b, now()), Action::Nothing);
            }
            _ => {
                assert!(!failed && !om && requeue.is_some(), "{name}: retried");
                assert!(matches!(next_action(&b, now()), Action::WaitUntil(_)));
            }
        }
        if !matches!(name, "timeout" | "connection_lost" | "server_error" | "status_204" | "malformed_201") {
            assert!(!om, "{name}: no orphan mitigation");
        }
    }
}

#[test]
fn unbind_outcomes() {
    for (name, outcome) in outcomes() {
        let mut b = binding();
        begin_bind(&mut b, now());
        bound(&mut b, now());
        b.metadata.deletion_timestamp = Some("2026-06-01T12:00:00Z".into());
        assert_eq!(next_action(&b, now()), Action::Unbind { orphan_mitigation: false });
        begin_unbind(&mut b, false, now());
        unbind_replied(&mut b, &reply(Call::Unbind, outcome), &Timing::fast(), now());
        match name {
            "done" | "gone" => assert_eq!(next_action(&b, now()), Action::Release),
            "accepted" => assert!(b.status.async_op_in_progress),
            _ => {
                assert!(!b.status.orphan_mitigation_in_progress, "{name}: never orphan mitigation after unbind");
                assert_ne!(
                    next_action(&b, now()),
                    Action::Release,
                    "{name}: credentials are not dropped while the broker holds them"
                );
            }
        }
    }
}

#[test]
fn async_bind_fetches_credentials_when_done() {
    let mut b = binding();
    begin_bind(&mut b, now());
    bind_replied(
        &mut b,
        &reply(Call::Bind, Outcome::Accepted { operation: Some("op".into()), dashboard_url: None }),
        &Timing::fast(),
        now(),
    );
    let (requeue, after) = poll_replied(
        &mut b,
        &reply(Call::BindingLastOperation, Outcome::InProgress { description: None }),
        Duration::from_secs(60),
        &Timing::fast(),
        now(),
    );
    assert!(requeue.is_some() && after == AfterBind::Nothing);
    let (_, after) = poll_replied(
        &mut b,
        &reply(Call::BindingLastOperation, Outcome::Succeeded { description: None }),
        Duration::from_secs(60),
        &Timing::fast(),
        now(),
    );
    assert_eq!(after, AfterBind::FetchCredentials);
    bound(&mut b, now());
    let ready = condition::find(&b.status.conditions, condition::READY).unwrap();
    assert_eq!((ready.status, ready.reason.as_str()), (ConditionStatus::True, "InjectedBindResult"));
    assert!(!b.status.async_op_in_progress);
    assert_eq!(next_action(&b, now()), Action::Nothing);
}

#[test]
fn orphan_mitigation_then_bind_again() {
    let mut b = binding();
    begin_bind(&mut b, now());
    bind_replied(&mut b, &reply(Call::Bind, Outcome::Timeout), &Timing::fast(), now());
    begin_unbind(&mut b, true, now());
    unbind_replied(&mut b, &reply(Call::Unbind, Outcome::Done { status: 200, body: () }), &Timing::fast(), now());
    assert!(!b.status.orphan_mitigation_in_progress);
    assert!(matches!(next_action(&b, now()), Action::WaitUntil(_)), "after a backoff");
    assert_eq!(next_action(&b, "2026-06-01T13:00:00Z".parse().unwrap()), Action::Bind);
}

#[test]
fn binds_that_keep_ending_in_orphan_mitigation_are_given_up() {
    let t = Timing::fast();
    let mut b = binding();
    for _ in 0..t.max_attempts {
        begin_bind(&mut b, now());
        bind_replied(&mut b, &reply(Call::Bind, Outcome::ServerError { status: 500, description: None }), &t, now());
        begin_unbind(&mut b, true, now());
        unbind_replied(&mut b, &reply(Call::Unbind, Outcome::Done { status: 200, body: () }), &t, now());
    }
    let failed = condition::find(&b.status.conditions, condition::FAILED).expect("given up");
    assert_eq!(failed.reason, "ReconciliationRetryTimeout");
    assert_eq!(next_action(&b, "2026-06-02T00:00:00Z".parse().unwrap()), Action::Nothing);
}
