//! How a broker's answer changes a ServiceInstance's status. Pure: the reply and the time are
//! arguments; the return value is when to look again.
//!
//! Orphan mitigation follows OSB 2.17 exactly (`Reply::requires_orphan_mitigation`): only after a
//! provision that timed out, lost its connection, answered 5xx, another 2xx than 200/201/202, or a
//! malformed 201/202 — never after an update, a 408 or another 4xx.

use std::time::Duration;

use app::model::{ConditionStatus, DeprovisionStatus, InstanceOperation, ProvisionStatus, ServiceInstance, condition};
use jiff::Timestamp;

use crate::{
    controller::{
        conditions::{self, reason},
        timing::{self, Timing},
    },
    osb::outcome::{Outcome, Reply},
};

/// When to reconcile again (`None`: only when the object changes).
pub type Requeue = Option<Duration>;

/// The broker's answer in words for a condition message. Broker text is quoted verbatim
/// (the UI escapes it).
pub fn describe<T>(outcome: &Outcome<T>) -> String {
    let text = |d: &Option<String>| {
        d.as_deref().filter(|s| !s.trim().is_empty()).map(|s| format!(": {s}")).unwrap_or_default()
    };
    match outcome {
        Outcome::Done { status, .. } => format!("the broker answered {status}"),
        Outcome::Accepted { .. } => "the broker accepted the request and works on it asynchronously".into(),
        Outcome::Gone => "the broker no longer knows it (410 Gone)".into(),
        Outcome::NotFound { description } => format!("the broker answered 404 Not Found{}", text(description)),
        Outcome::InProgress { description } => format!("in progress{}", text(description)),
        Outcome::Succeeded { description } => format!("succeeded{}", text(description)),
        Outcome::Failed { description, .. } => format!("the broker reports the operation failed{}", text(description)),
        Outcome::AsyncRequired { description } => {
            format!("the broker requires asynchronous operation (AsyncRequired){}", text(description))
        }
        Outcome::ConcurrencyError { description } => {
            format!("the broker is busy with another operation on it (ConcurrencyError){}", text(description))
        }
        Outcome::RequiresApp { description } => {
            format!("the broker requires an application (RequiresApp){}", text(description))
        }
        Outcome::MaintenanceInfoConflict { description } => {
            format!(
                "the plan's maintenance version does not match the broker's (MaintenanceInfoConflict){}",
                text(description)
            )
        }
        Outcome::BadRequest { status, error, description } => {
            let code = error.as_deref().map(|e| format!(" {e}")).unwrap_or_default();
            format!("the broker refused the request ({status}{code}){}", text(description))
        }
        Outcome::Conflict { description } => format!("the broker reports a conflict (409){}", text(description)),
        Outcome::ServerError { status, description } => format!("the broker failed with {status}{}", text(description)),
        Outcome::UnexpectedStatus { status } => format!("the broker answered {status}, which OSB does not allow here"),
        Outcome::Timeout => "the broker did not answer in time".into(),
        Outcome::Unreachable { reason } => format!("cannot reach the broker: {reason}"),
        Outcome::ConnectionLost { reason } => format!("the connection to the broker broke: {reason}"),
        Outcome::Malformed { status, reason } => format!("the broker's {status} answer is malformed: {reason}"),
    }
}

/// A failure worth retrying: the broker was not reached, was busy, or gave an answer that
/// says nothing final.
fn is_transient<T>(outcome: &Outcome<T>) -> bool {
    match outcome {
        Outcome::Timeout
        | Outcome::Unreachable { .. }
        | Outcome::ConnectionLost { .. }
        | Outcome::ServerError { .. }
        | Outcome::ConcurrencyError { .. }
        | Outcome::Malformed { .. }
        | Outcome::UnexpectedStatus { .. }
        | Outcome::NotFound { .. }
        | Outcome::InProgress { .. }
        | Outcome::Succeeded { .. }
        | Outcome::Failed { .. }
        | Outcome::Gone => true,
        Outcome::BadRequest { status, .. } => matches!(status, 408 | 429),
        _ => false,
    }
}

fn set_ready(instance: &mut ServiceInstance, status: ConditionStatus, reason: &str, message: &str, now: &str) {
    let s = &mut instance.status;
    conditions::set(&mut s.conditions, &mut s.history, condition::READY, status, reason, message, now);
}

fn set_failed(instance: &mut ServiceInstance, reason: &str, message: &str, now: &str) {
    let s = &mut instance.status;
    conditions::set(&mut s.conditions, &mut s.history, condition::FAILED, ConditionStatus::True, reason, message, now);
}

/// The operation is over (either way): clear what tracked it.
fn finish_operation(instance: &mut ServiceInstance) {
    let s = &mut instance.status;
    s.current_operation = None;
    s.async_op_in_progress = false;
    s.last_operation = None;
    s.operation_start_time = None;
    s.next_attempt_time = None;
    s.attempts = 0;
}

fn succeeded(instance: &mut ServiceInstance, dashboard_url: Option<String>, timing: &Timing, at: Timestamp) -> Requeue {
    let now_s = timing::format(at);
    let now = &now_s;
    let operation = instance.status.current_operation;
    let observed = instance.status.observed_generation.max(1);
    match operation {
        Some(InstanceOperation::Deprovision) => {
            let om = instance.status.orphan_mitigation_in_progress;
            instance.status.deprovision_status = DeprovisionStatus::Succeeded;
            instance.status.provision_status = ProvisionStatus::NotProvisioned;
            instance.status.external_properties = None;
            if om {
                return orphan_mitigation_done(instance, timing, at);
            }
            finish_operation(instance);
            set_ready(
                instance,
                ConditionStatus::False,
                reason::DEPROVISIONED,
                "The instance was deprovisioned successfully",
                now,
            );
            None
        }
        Some(op) => {
            let s = &mut instance.status;
            s.provision_status = ProvisionStatus::Provisioned;
            if let Some(props) = s.in_progress_properties.take() {
                s.external_properties = Some(props);
            }
            if dashboard_url.is_some() {
                s.dashboard_url = dashboard_url;
            }
            s.reconciled_generation = observed;
            s.failed_provisions = 0;
            finish_operation(instance);
            conditions::clear(&mut instance.status.conditions, condition::FAILED);
            let (reason, message) = if op == InstanceOperation::Update {
                (reason::UPDATED, "The instance was updated successfully")
            } else {
                (reason::PROVISIONED, "The instance was provisioned successfully")
            };
            set_ready(instance, ConditionStatus::True, reason, message, now);
            None
        }
        None => None,
    }
}

/// Orphan mitigation removed what an ambiguous provision may have left: try provisioning again
/// after a backoff, or give up when the attempts are spent.
fn orphan_mitigation_done(instance: &mut ServiceInstance, timing: &Timing, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    let s = &mut instance.status;
    s.orphan_mitigation_in_progress = false;
    s.async_op_in_progress = false;
    s.last_operation = None;
    s.operation_start_time = None;
    s.attempts = 0;
    s.failed_provisions += 1;
    conditions::set(
        &mut s.conditions,
        &mut s.history,
        condition::ORPHAN_MITIGATION,
        ConditionStatus::False,
        reason::ORPHAN_MITIGATION_OK,
        "Orphan mitigation was completed successfully",
        &now_s,
    );
    let failures = s.failed_provisions;
    if failures >= timing.max_attempts {
        s.current_operation = Some(InstanceOperation::Provision);
        let message = format!(
            "Provisioning failed {failures} times; each time the broker's answer was ambiguous and what it created was removed"
        );
        return give_up(instance, reason::RETRIES_EXHAUSTED, &message, timing, now);
    }
    s.current_operation = None;
    s.in_progress_properties = None;
    let delay = timing.backoff(failures);
    s.next_attempt_time = Some(timing::after(now, delay));
    Some(delay)
}

/// Schedules a retry, or gives up after `timing.max_attempts`.
fn retry(instance: &mut ServiceInstance, reason: &str, message: String, timing: &Timing, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    instance.status.attempts += 1;
    let attempts = instance.status.attempts;
    let ready = if instance.status.provision_status == ProvisionStatus::Provisioned
        && instance.status.current_operation == Some(InstanceOperation::Update)
    {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    // Deprovisions (deletes and orphan mitigation) are retried until they succeed, as OSB asks.
    let deprovisioning = instance.status.current_operation == Some(InstanceOperation::Deprovision);
    if attempts >= timing.max_attempts && !deprovisioning {
        let message = format!("{message} (gave up after {attempts} attempts)");
        return give_up(instance, reason::RETRIES_EXHAUSTED, &message, timing, now);
    }
    let delay = timing.backoff(attempts);
    instance.status.next_attempt_time = Some(timing::after(now, delay));
    let message = format!("{message}; retrying in {}", human(delay));
    set_ready(instance, ready, reason, &message, &now_s);
    Some(delay)
}

/// The current operation failed for good (until the spec changes or, for deletes, a later retry).
fn give_up(instance: &mut ServiceInstance, reason: &str, message: &str, timing: &Timing, now: Timestamp) -> Requeue {
    let now_s = timing::format(now);
    let operation = instance.status.current_operation;
    let observed = instance.status.observed_generation.max(1);
    match operation {
        Some(InstanceOperation::Deprovision) => {
            // A delete never gives up by itself: keep retrying slowly; an admin can abandon it.
            let s = &mut instance.status;
            s.deprovision_status = DeprovisionStatus::Failed;
            s.async_op_in_progress = false;
            s.last_operation = None;
            s.attempts = 0;
            if s.orphan_mitigation_in_progress {
                s.orphan_mitigation_in_progress = false;
                s.current_operation = None;
                let message = format!(
                    "{message}. Orphan mitigation failed: the broker may still hold resources for this instance."
                );
                conditions::set(
                    &mut s.conditions,
                    &mut s.history,
                    condition::ORPHAN_MITIGATION,
                    ConditionStatus::False,
                    reason,
                    &message,
                    &now_s,
                );
                set_failed(instance, reason, &message, &now_s);
                instance.status.reconciled_generation = observed;
                return None;
            }
            let delay = timing.backoff_max;
            s.next_attempt_time = Some(timing::after(now, delay));
            set_ready(instance, ConditionStatus::False, reason, message, &now_s);
            set_failed(instance, reason, message, &now_s);
            Some(delay)
        }
        _ => {
            let provisioned = instance.status.provision_status == ProvisionStatus::Provisioned;
            finish_operation(instance);
            instance.status.in_progress_properties = None;
            instance.status.reconciled_generation = observed;
            let ready = if provisioned { ConditionStatus::True } else { ConditionStatus::False };
            set_ready(instance, ready, reason, message, &now_s);
            set_failed(instance, reason, message, &now_s);
            None
        }
    }
}

fn start_orphan_mitigation(instance: &mut ServiceInstance, reason: &str, message: &str, now: &str) -> Requeue {
    let s = &mut instance.status;
    s.orphan_mitigation_in_progress = true;
    s.async_op_in_progress = false;
    s.last_operation = None;
    s.deprovision_status = DeprovisionStatus::Required;
    conditions::set(
        &mut s.conditions,
        &mut s.history,
        condition::ORPHAN_MITIGATION,
        ConditionStatus::True,
        reason::START_ORPHAN_MITIGATION,
        "The provision call failed with an ambiguous error; deprovisioning the instance to clean up what the broker may have created",
        now,
    );
    set_ready(instance, ConditionStatus::False, reason, message, now);
    Some(Duration::ZERO)
}

fn go_async(
    instance: &mut ServiceInstance,
    operation: Option<String>,
    dashboard_url: Option<String>,
    retry_after: Option<Duration>,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    let s = &mut instance.status;
    s.async_op_in_progress = true;
    s.last_operation = operation;
    if dashboard_url.is_some() {
        s.dashboard_url = dashboard_url;
    }
    let delay = timing.poll_delay(retry_after);
    s.next_attempt_time = Some(timing::after(now, delay));
    Some(delay)
}

/// The answer to a provision.
pub fn provision_replied<T>(
    instance: &mut ServiceInstance,
    reply: &Reply<T>,
    dashboard_url: Option<String>,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    let now_s = timing::format(now);
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Done { .. } => succeeded(instance, dashboard_url, timing, now),
        Outcome::Accepted { operation, dashboard_url } => {
            set_ready(
                instance,
                ConditionStatus::False,
                reason::PROVISIONING,
                "The instance is being provisioned asynchronously",
                &now_s,
            );
            go_async(instance, operation.clone(), dashboard_url.clone(), reply.retry_after, timing, now)
        }
        _ if reply.requires_orphan_mitigation() => {
            let reason = if matches!(reply.outcome, Outcome::Timeout | Outcome::ConnectionLost { .. }) {
                reason::ERROR_CALLING_PROVISION
            } else {
                reason::PROVISION_CALL_FAILED
            };
            start_orphan_mitigation(instance, reason, &format!("Provision call failed: {words}"), &now_s)
        }
        outcome if is_transient(outcome) => {
            retry(instance, reason::ERROR_CALLING_PROVISION, format!("Error provisioning: {words}"), timing, now)
        }
        _ => {
            instance.status.deprovision_status = DeprovisionStatus::NotRequired;
            give_up(instance, reason::PROVISION_CALL_FAILED, &format!("Provision call failed: {words}"), timing, now)
        }
    }
}

/// The answer to an update. Updates never need orphan mitigation.
pub fn update_replied<T>(
    instance: &mut ServiceInstance,
    reply: &Reply<T>,
    dashboard_url: Option<String>,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    let now_s = timing::format(now);
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Done { .. } => succeeded(instance, dashboard_url, timing, now),
        Outcome::Accepted { operation, dashboard_url } => {
            set_ready(
                instance,
                ConditionStatus::True,
                reason::UPDATING,
                "The instance is being updated asynchronously",
                &now_s,
            );
            go_async(instance, operation.clone(), dashboard_url.clone(), reply.retry_after, timing, now)
        }
        outcome if is_transient(outcome) => {
            retry(instance, reason::ERROR_CALLING_UPDATE, format!("Error updating: {words}"), timing, now)
        }
        _ => give_up(instance, reason::UPDATE_CALL_FAILED, &format!("Update call failed: {words}"), timing, now),
    }
}

/// The answer to a deprovision (for a delete, or as orphan mitigation).
pub fn deprovision_replied<T>(
    instance: &mut ServiceInstance,
    reply: &Reply<T>,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    let now_s = timing::format(now);
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Done { .. } | Outcome::Gone => succeeded(instance, None, timing, now),
        Outcome::Accepted { operation, .. } => {
            if !instance.status.orphan_mitigation_in_progress {
                set_ready(
                    instance,
                    ConditionStatus::False,
                    reason::DEPROVISIONING,
                    "The instance is being deprovisioned asynchronously",
                    &now_s,
                );
            }
            go_async(instance, operation.clone(), None, reply.retry_after, timing, now)
        }
        outcome if is_transient(outcome) => {
            retry(instance, reason::ERROR_CALLING_DEPROVISION, format!("Error deprovisioning: {words}"), timing, now)
        }
        _ => give_up(
            instance,
            reason::DEPROVISION_CALL_FAILED,
            &format!("Deprovision call failed: {words}"),
            timing,
            now,
        ),
    }
}

/// The answer to `last_operation`. `max_polling` is the plan's `maximum_polling_duration`.
pub fn poll_replied<T>(
    instance: &mut ServiceInstance,
    reply: &Reply<T>,
    max_polling: Duration,
    timing: &Timing,
    now: Timestamp,
) -> Requeue {
    let now_s = timing::format(now);
    let operation = instance.status.current_operation.unwrap_or(InstanceOperation::Provision);
    let words = describe(&reply.outcome);
    match &reply.outcome {
        Outcome::Succeeded { .. } => succeeded(instance, None, timing, now),
        Outcome::Gone if operation == InstanceOperation::Deprovision => succeeded(instance, None, timing, now),
        Outcome::Failed { .. } | Outcome::Gone => {
            let reason = match operation {
                InstanceOperation::Provision => reason::PROVISION_CALL_FAILED,
                InstanceOperation::Update => reason::UPDATE_CALL_FAILED,
                InstanceOperation::Deprovision => reason::DEPROVISION_CALL_FAILED,
            };
            let verb = operation_verb(operation);
            if instance.status.orphan_mitigation_in_progress {
                return give_up(
                    instance,
                    reason,
                    &format!("Deprovision (orphan mitigation) failed: {words}"),
                    timing,
                    now,
                );
            }
            give_up(instance, reason, &format!("{verb} failed: {words}"), timing, now)
        }
        outcome => {
            let elapsed = timing::since(now, instance.status.operation_start_time.as_deref());
            if elapsed > max_polling {
                let message = format!(
                    "{} did not finish within the plan's maximum polling duration ({})",
                    operation_verb(operation),
                    human(max_polling)
                );
                return match operation {
                    InstanceOperation::Provision if !instance.status.orphan_mitigation_in_progress => {
                        start_orphan_mitigation(instance, reason::ASYNC_TIMEOUT, &message, &now_s)
                    }
                    _ => give_up(instance, reason::ASYNC_TIMEOUT, &message, timing, now),
                };
            }
            if let Outcome::InProgress { description } = outcome {
                let (reason, base) = match operation {
                    InstanceOperation::Provision => {
                        (reason::PROVISIONING, "The instance is being provisioned asynchronously")
                    }
                    InstanceOperation::Update => (reason::UPDATING, "The instance is being updated asynchronously"),
                    InstanceOperation::Deprovision => {
                        (reason::DEPROVISIONING, "The instance is being deprovisioned asynchronously")
                    }
                };
                let message = match description.as_deref().filter(|d| !d.trim().is_empty()) {
                    Some(d) => format!("{base}: {d}"),
                    None => base.to_string(),
                };
                if !instance.status.orphan_mitigation_in_progress {
                    let ready = if operation == InstanceOperation::Update {
                        ConditionStatus::True
                    } else {
                        ConditionStatus::False
                    };
                    set_ready(instance, ready, reason, &message, &now_s);
                }
                let delay = timing.poll_delay(reply.retry_after);
                instance.status.next_attempt_time = Some(timing::after(now, delay));
                return Some(delay);
            }
            // The poll itself failed: poll again after a backoff (the operation is still in flight).
            instance.status.attempts = instance.status.attempts.saturating_add(1);
            let delay = timing.backoff(instance.status.attempts);
            instance.status.next_attempt_time = Some(timing::after(now, delay));
            if !instance.status.orphan_mitigation_in_progress {
                let ready =
                    if operation == InstanceOperation::Update { ConditionStatus::True } else { ConditionStatus::False };
                let message = format!("Error polling the last operation: {words}; polling again in {}", human(delay));
                set_ready(instance, ready, reason::ERROR_POLLING, &message, &now_s);
            }
            Some(delay)
        }
    }
}

fn operation_verb(operation: InstanceOperation) -> &'static str {
    match operation {
        InstanceOperation::Provision => "Provisioning",
        InstanceOperation::Update => "Updating",
        InstanceOperation::Deprovision => "Deprovisioning",
    }
}

/// "3 s", "2 min", "1 h" — for messages.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{} ms", d.as_millis())
    } else if secs < 120.0 {
        format!("{} s", secs.round() as u64)
    } else if secs < 7200.0 {
        format!("{} min", (secs / 60.0).round() as u64)
    } else if secs < 172_800.0 {
        format!("{} h", (secs / 3600.0).round() as u64)
    } else {
        format!("{} days", (secs / 86_400.0).round() as u64)
    }
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
