//! The ServiceBinding state machine: what to do next, and how a broker's answer changes the
//! status. Pure, like the instance's.

use std::time::Duration;

use app::model::{BindingOperation, ConditionStatus, ServiceBinding, UnbindStatus, condition};
use jiff::Timestamp;

use crate::{
    controller::{
        conditions::{self, reason},
        instance::{
            decide::FINALIZER,
            outcome::{Requeue, describe, human},
        },
        timing::{self, Timing},
    },
    osb::outcome::{Outcome, Reply},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    AddFinalizer,
    Bind,
    Poll,
    Unbind {
        orphan_mitigation: bool,
    },
    /// Unbound (or never bound): delete the credentials Secret, then the finalizer.
    Release,
    WaitUntil(Timestamp),
    Nothing,
}

fn generation(b: &ServiceBinding) -> i64 {
    b.metadata.generation.unwrap_or(1)
}

pub fn next_action(b: &ServiceBinding, now: Timestamp) -> Action {
    let s = &b.status;
    let has_finalizer = b.metadata.finalizers.iter().any(|f| f == FINALIZER);
    let scheduled = timing::parse(s.next_attempt_time.as_deref()).filter(|at| *at > now);
    let when_due = |a: Action| scheduled.map_or(a, Action::WaitUntil);
    if b.metadata.deletion_timestamp.is_some() {
        if !has_finalizer {
            return Action::Nothing;
        }
        if s.async_op_in_progress {
            return when_due(Action::Poll);
        }
        return match s.unbind_status {
            UnbindStatus::Required | UnbindStatus::Failed => when_due(Action::Unbind { orphan_mitigation: false }),
            UnbindStatus::NotRequired | UnbindStatus::Succeeded => Action::Release,
        };
    }
    if !has_finalizer {
        return Action::AddFinalizer;
    }
    if s.async_op_in_progress {
        return when_due(Action::Poll);
    }
    if s.orphan_mitigation_in_progress {
        return when_due(Action::Unbind { orphan_mitigation: true });
    }
    let settled = s.reconciled_generation >= generation(b);
    if settled
        && (condition::is_true(&s.conditions, condition::READY) || condition::is_true(&s.conditions, condition::FAILED))
    {
        return Action::Nothing;
    }
    when_due(Action::Bind)
}

fn set_ready(b: &mut ServiceBinding, status: ConditionStatus, reason: &str, message: &str, now: &str) {
    let s = &mut b.status;
    conditions::set(&mut s.conditions, &mut s.history, condition::READY, status, reason, message, now);
}

/// Records a bind about to be sent.
pub fn begin_bind(b: &mut ServiceBinding, now: Timestamp) {
    let now_s = timing::format(now);
    let s = &mut b.status;
    if s.current_operation != Some(BindingOperation::Bind) || s.operation_start_time.is_none() {
        s.operation_start_time = Some(now_s.clone());
    }
    s.current_operation = Some(BindingOperation::Bind);
    s.unbind_status = UnbindStatus::Required;
    s.next_attempt_time = None;
    conditions::clear(&mut s.conditions, condition::FAILED);
    set_ready(b, ConditionStatus::False, reason::BINDING_PENDING, "The binding is being created", &now_s);
}

pub fn begin_unbind(b: &mut ServiceBinding, orphan_mitigation: bool, now: Timestamp) {
    let now_s = timing::format(now);
    let s = &mut b.status;
    if s.current_operation != Some(BindingOperation::Unbind) || s.operation_start_time.is_none() {
        s.operation_start_time = Some(now_s.clone());
    }
    s.current_operation = Some(BindingOperation::Unbind);
    s.next_attempt_time = None;
    if !orphan_mitigation {
        set_ready(b, ConditionStatus::False, reason::UNBINDING, "The binding is being deleted", &now_s);
    }
}

/// Why the instance cannot be bound yet (not Ready, missing): wait and retry.
pub fn wait_for_instance(
    b: &mut ServiceBinding,
    reason: &str,
    message: &str,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    let now_s = timing::format(now);
    b.status.attempts = b.status.attempts.saturating_add(1);
    let delay = timing.backoff(b.status.attempts.min(8));
    b.status.next_attempt_time = Some(timing::after(now, delay));
    set_ready(b, ConditionStatus::False, reason, message, &now_s);
    Some(delay)
}

fn finish(b: &mut ServiceBinding) {
    let s = &mut b.status;
    s.current_operation = None;
    s.async_op_in_progress = false;
    s.last_operation = None;
    s.operation_start_time = None;
    s.next_attempt_time = None;
    s.attempts = 0;
}

/// The credentials are in their Secret: the binding is ready.
pub fn bound(b: &mut ServiceBinding, now: Timestamp) {
    let now_s = timing::format(now);
    finish(b);
    b.status.reconciled_generation = generation(b);
    if let Some(props) = b.status.in_progress_properties.take() {
        b.status.external_properties = Some(props);
    }
    b.status.failed_binds = 0;
    conditions::clear(&mut b.status.conditions, condition::FAILED);
    set_ready(b, ConditionStatus::True, reason::BOUND, "Injected bind result", &now_s);
}

fn is_transient<T>(o: &Outcome<T>) -> bool {
    !matches!(
        o,
        Outcome::AsyncRequired { .. }
            | Outcome::RequiresApp { .. }
            | Outcome::MaintenanceInfoConflict { .. }
            | Outcome::Conflict { .. }
            | Outcome::BadRequest { status: 400..=407 | 409..=428 | 430..=499, .. }
    )
}

fn retry(b: &mut ServiceBinding, reason: &str, message: String, timing: &Timing, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    b.status.attempts += 1;
    if b.status.attempts >= timing.max_attempts && b.status.current_operation == Some(BindingOperation::Bind) {
        let message = format!("{message} (gave up after {} attempts)", b.status.attempts);
        return fail(b, reason::RETRIES_EXHAUSTED, &message, timing, now);
    }
    let delay = timing.backoff(b.status.attempts);
    b.status.next_attempt_time = Some(timing::after(now, delay));
    set_ready(b, ConditionStatus::False, reason, &format!("{message}; retrying in {}", human(delay)), &now_s);
    Some(delay)
}

fn fail(b: &mut ServiceBinding, reason: &str, message: &str, timing: &Timing, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    let unbinding = b.status.current_operation == Some(BindingOperation::Unbind);
    let s = &mut b.status;
    conditions::set(
        &mut s.conditions,
        &mut s.history,
        condition::FAILED,
        ConditionStatus::True,
        reason,
        message,
        &now_s,
    );
    conditions::set(
        &mut s.conditions,
        &mut s.history,
        condition::READY,
        ConditionStatus::False,
        reason,
        message,
        &now_s,
    );
    if unbinding {
        s.async_op_in_progress = false;
        s.last_operation = None;
        s.attempts = 0;
        if s.orphan_mitigation_in_progress {
            s.orphan_mitigation_in_progress = false;
            s.current_operation = None;
            s.reconciled_generation = b.metadata.generation.unwrap_or(1);
            return None;
        }
        s.unbind_status = UnbindStatus::Failed;
        let delay = timing.backoff_max;
        s.next_attempt_time = Some(timing::after(now, delay));
        return Some(delay);
    }
    finish(b);
    b.status.in_progress_properties = None;
    b.status.reconciled_generation = generation(b);
    None
}

fn start_orphan_mitigation(b: &mut ServiceBinding, message: &str, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    let s = &mut b.status;
    s.orphan_mitigation_in_progress = true;
    s.async_op_in_progress = false;
    s.last_operation = None;
    s.unbind_status = UnbindStatus::Required;
    conditions::set(
        &mut s.conditions,
        &mut s.history,
        condition::ORPHAN_MITIGATION,
        ConditionStatus::True,
        reason::START_BINDING_ORPHAN_MITIGATION,
        "The bind call failed with an ambiguous error; unbinding to clean up what the broker may have created",
        &now_s,
    );
    set_ready(b, ConditionStatus::False, reason::BIND_CALL_FAILED, message, &now_s);
    Some(Duration::ZERO)
}

fn go_async(
    b: &mut ServiceBinding,
    operation: Option<String>,
    retry_after: Option<Duration>,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    b.status.async_op_in_progress = true;
    b.status.last_operation = operation;
    let delay = timing.poll_delay(retry_after);
    b.status.next_attempt_time = Some(timing::after(now, delay));
    Some(delay)
}

/// What the runner must do after a bind answer besides writing the status.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterBind {
    /// Write these credentials to the Secret, then mark the binding bound.
    InjectCredentials,
    /// Fetch the binding (`GET`) for its credentials, then inject them.
    FetchCredentials,
    Nothing,
}

pub fn bind_replied<T>(
    b: &mut ServiceBinding,
    reply: &Reply<T>,
    timing: &Timing,
    now: Timestamp,
) -> (Requeue, AfterBind) {
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Done { .. } => (None, AfterBind::InjectCredentials),
        Outcome::Accepted { operation, .. } => {
            set_ready(
                b,
                ConditionStatus::False,
                reason::BINDING_PENDING,
                "The binding is being created asynchronously",
                &timing::format(now),
            );
            (go_async(b, operation.clone(), reply.retry_after, timing, now), AfterBind::Nothing)
        }
        _ if reply.requires_orphan_mitigation() => {
            (start_orphan_mitigation(b, &format!("Bind call failed: {words}"), now), AfterBind::Nothing)
        }
        o if is_transient(o) => {
            (retry(b, reason::ERROR_CALLING_BIND, format!("Error binding: {words}"), timing, now), AfterBind::Nothing)
        }
        _ => {
            b.status.unbind_status = UnbindStatus::NotRequired;
            (fail(b, reason::BIND_CALL_FAILED, &format!("Bind call failed: {words}"), timing, now), AfterBind::Nothing)
        }
    }
}

pub fn unbind_replied<T>(b: &mut ServiceBinding, reply: &Reply<T>, timing: &Timing, now: Timestamp) -> Requeue {
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Done { .. } | Outcome::Gone => unbound(b, timing, now),
        Outcome::Accepted { operation, .. } => go_async(b, operation.clone(), reply.retry_after, timing, now),
        o if is_transient(o) => {
            retry(b, reason::ERROR_CALLING_UNBIND, format!("Error unbinding: {words}"), timing, now)
        }
        _ => fail(b, reason::UNBIND_CALL_FAILED, &format!("Unbind call failed: {words}"), timing, now),
    }
}

fn unbound(b: &mut ServiceBinding, timing: &Timing, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    let om = b.status.orphan_mitigation_in_progress;
    finish(b);
    b.status.unbind_status = UnbindStatus::Succeeded;
    b.status.external_properties = None;
    if om {
        let s = &mut b.status;
        s.orphan_mitigation_in_progress = false;
        s.in_progress_properties = None;
        conditions::set(
            &mut s.conditions,
            &mut s.history,
            condition::ORPHAN_MITIGATION,
            ConditionStatus::False,
            reason::ORPHAN_MITIGATION_OK,
            "Orphan mitigation was completed successfully",
            &now_s,
        );
        // Bind again after a backoff, or give up when the attempts are spent.
        s.failed_binds += 1;
        let failures = s.failed_binds;
        if failures >= timing.max_attempts {
            let message = format!(
                "Binding failed {failures} times; each time the broker's answer was ambiguous and what it created was removed"
            );
            s.reconciled_generation = b.metadata.generation.unwrap_or(1);
            let s = &mut b.status;
            s.unbind_status = UnbindStatus::NotRequired;
            conditions::set(
                &mut s.conditions,
                &mut s.history,
                condition::FAILED,
                ConditionStatus::True,
                reason::RETRIES_EXHAUSTED,
                &message,
                &now_s,
            );
            conditions::set(
                &mut s.conditions,
                &mut s.history,
                condition::READY,
                ConditionStatus::False,
                reason::RETRIES_EXHAUSTED,
                &message,
                &now_s,
            );
            return None;
        }
        let delay = timing.backoff(failures);
        s.next_attempt_time = Some(timing::after(now, delay));
        return Some(delay);
    }
    set_ready(b, ConditionStatus::False, reason::UNBOUND, "The binding was deleted at the broker", &now_s);
    None
}

/// The answer to `last_operation` for the binding's bind or unbind.
pub fn poll_replied<T>(
    b: &mut ServiceBinding,
    reply: &Reply<T>,
    max_polling: Duration,
    timing: &Timing,
    now: Timestamp,
) -> (Requeue, AfterBind) {
    let unbinding = b.status.current_operation == Some(BindingOperation::Unbind);
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Succeeded { .. } if unbinding => (unbound(b, timing, now), AfterBind::Nothing),
        Outcome::Gone if unbinding => (unbound(b, timing, now), AfterBind::Nothing),
        Outcome::Succeeded { .. } => (None, AfterBind::FetchCredentials),
        Outcome::Failed { .. } | Outcome::Gone => {
            let reason = if unbinding { reason::UNBIND_CALL_FAILED } else { reason::BIND_CALL_FAILED };
            if !unbinding {
                b.status.async_op_in_progress = false;
            }
            (
                fail(
                    b,
                    reason,
                    &format!("{} failed: {words}", if unbinding { "Unbinding" } else { "Binding" }),
                    timing,
                    now,
                ),
                AfterBind::Nothing,
            )
        }
        other => {
            if timing::since(now, b.status.operation_start_time.as_deref()) > max_polling {
                let message = format!(
                    "The operation did not finish within the plan's maximum polling duration ({})",
                    human(max_polling)
                );
                if !unbinding && !b.status.orphan_mitigation_in_progress {
                    return (start_orphan_mitigation(b, &message, now), AfterBind::Nothing);
                }
                return (fail(b, reason::ASYNC_TIMEOUT, &message, timing, now), AfterBind::Nothing);
            }
            let delay = if matches!(other, Outcome::InProgress { .. }) {
                timing.poll_delay(reply.retry_after)
            } else {
                b.status.attempts = b.status.attempts.saturating_add(1);
                timing.backoff(b.status.attempts)
            };
            b.status.next_attempt_time = Some(timing::after(now, delay));
            (Some(delay), AfterBind::Nothing)
        }
    }
}

/// Credentials could not be written to the Secret: say so and retry.
pub fn injection_failed(b: &mut ServiceBinding, message: &str, timing: &Timing, now: Timestamp) -> Requeue {
    b.status.async_op_in_progress = false;
    retry(b, reason::ERROR_INJECTING, format!("Error injecting the bind result: {message}"), timing, now)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
