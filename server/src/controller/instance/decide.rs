//! What to do next with a ServiceInstance, and how its status looks just before the broker is
//! called. Pure: no I/O, no clock (the time is an argument).
//!
//! Every call to a broker is recorded in the status *before* it is sent (`currentOperation`,
//! `inProgressProperties`, `deprovisionStatus: Required`), so a crash at any point resumes
//! with the same call for the same OSB instance id — which brokers answer idempotently — and
//! never with a second instance.

use app::model::{
    ConditionStatus, DeprovisionStatus, InstanceOperation, InstancePropertiesState, ProvisionStatus, ServiceInstance,
    condition,
};
use jiff::Timestamp;

use crate::controller::{
    conditions::{self, reason},
    timing,
};

/// The finalizer that keeps an instance (or binding) until the broker has let go of it.
pub const FINALIZER: &str = "kubernetes-incubator/service-catalog";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Add the finalizer first, so a delete can never skip deprovisioning.
    AddFinalizer,
    Provision,
    Update,
    /// Ask `last_operation` about the operation in flight.
    Poll,
    /// Deprovision: for a delete, or (`orphan_mitigation`) to clean up an ambiguous provision.
    Deprovision {
        orphan_mitigation: bool,
    },
    /// The broker holds nothing any more: let the delete finish.
    RemoveFinalizer,
    /// A retry or poll is scheduled later; come back then.
    WaitUntil(Timestamp),
    /// Nothing to do until the object changes.
    Nothing,
}

fn has_finalizer(instance: &ServiceInstance) -> bool {
    instance.metadata.finalizers.iter().any(|f| f == FINALIZER)
}

fn generation(instance: &ServiceInstance) -> i64 {
    instance.metadata.generation.unwrap_or(1)
}

/// The next step for this instance.
pub fn next_action(instance: &ServiceInstance, now: Timestamp) -> Action {
    let s = &instance.status;
    let scheduled = timing::parse(s.next_attempt_time.as_deref()).filter(|at| *at > now);
    let when_due = |action: Action| scheduled.map_or(action, Action::WaitUntil);

    if instance.metadata.deletion_timestamp.is_some() {
        if !has_finalizer(instance) {
            return Action::Nothing;
        }
        if s.async_op_in_progress {
            return when_due(Action::Poll);
        }
        return match s.deprovision_status {
            DeprovisionStatus::Required | DeprovisionStatus::Failed => {
                when_due(Action::Deprovision { orphan_mitigation: false })
            }
            DeprovisionStatus::NotRequired | DeprovisionStatus::Succeeded => Action::RemoveFinalizer,
        };
    }
    if !has_finalizer(instance) {
        return Action::AddFinalizer;
    }
    if s.async_op_in_progress {
        return when_due(Action::Poll);
    }
    if s.orphan_mitigation_in_progress {
        return when_due(Action::Deprovision { orphan_mitigation: true });
    }
    let failed_for_this_generation =
        condition::is_true(&s.conditions, condition::FAILED) && s.reconciled_generation >= generation(instance);
    match s.provision_status {
        ProvisionStatus::Provisioned => {
            let spec_changed = generation(instance) > s.reconciled_generation;
            let update_recorded = s.current_operation == Some(InstanceOperation::Update);
            if (spec_changed && !failed_for_this_generation) || update_recorded {
                when_due(Action::Update)
            } else {
                Action::Nothing
            }
        }
        ProvisionStatus::None | ProvisionStatus::NotProvisioned => {
            if failed_for_this_generation {
                Action::Nothing
            } else {
                when_due(Action::Provision)
            }
        }
    }
}

/// What is about to be sent, as recorded in `inProgressProperties`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sending {
    pub properties: InstancePropertiesState,
}

/// Records a provision or update about to be sent.
pub fn begin(instance: &mut ServiceInstance, operation: InstanceOperation, sending: Sending, now: Timestamp) {
    let now_s = timing::format(now);
    let s = &mut instance.status;
    let same_operation = s.current_operation == Some(operation);
    s.current_operation = Some(operation);
    s.in_progress_properties = Some(sending.properties);
    if !same_operation || s.operation_start_time.is_none() {
        s.operation_start_time = Some(now_s.clone());
    }
    s.observed_generation = instance.metadata.generation.unwrap_or(1);
    s.next_attempt_time = None;
    // From now on the broker may hold something for this id: a delete must deprovision.
    if operation == InstanceOperation::Provision {
        s.deprovision_status = DeprovisionStatus::Required;
    }
    conditions::clear(&mut s.conditions, condition::FAILED);
    let (reason, message) = match operation {
        InstanceOperation::Provision => (reason::PROVISIONING, "The instance is being provisioned"),
        InstanceOperation::Update => (reason::UPDATING, "The instance is being updated"),
        InstanceOperation::Deprovision => (reason::DEPROVISIONING, "The instance is being deprovisioned"),
    };
    let ready = if operation == InstanceOperation::Update && s.provision_status == ProvisionStatus::Provisioned {
        // The instance stays usable while the broker updates it.
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    conditions::set(&mut s.conditions, &mut s.history, condition::READY, ready, reason, message, &now_s);
}

/// Records a deprovision about to be sent.
pub fn begin_deprovision(instance: &mut ServiceInstance, orphan_mitigation: bool, now: Timestamp) {
    let now_s = timing::format(now);
    let s = &mut instance.status;
    if s.current_operation != Some(InstanceOperation::Deprovision) || s.operation_start_time.is_none() {
        s.operation_start_time = Some(now_s.clone());
    }
    s.current_operation = Some(InstanceOperation::Deprovision);
    s.next_attempt_time = None;
    if orphan_mitigation {
        // The condition set when mitigation started explains it; keep Ready as it is.
        return;
    }
    conditions::set(
        &mut s.conditions,
        &mut s.history,
        condition::READY,
        ConditionStatus::False,
        reason::DEPROVISIONING,
        "The instance is being deprovisioned",
        &now_s,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    fn instance() -> ServiceInstance {
        let mut i: ServiceInstance = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "i", "namespace": "team-a", "generation": 1, "finalizers": [FINALIZER]},
            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "small", "externalID": "id-1"}
        }))
        .unwrap();
        i.status.observed_generation = 1;
        i
    }

    #[test]
    fn a_new_instance_gets_the_finalizer_then_is_provisioned() {
        let mut i = instance();
        i.metadata.finalizers.clear();
        assert_eq!(next_action(&i, now()), Action::AddFinalizer);
        assert_eq!(next_action(&instance(), now()), Action::Provision);
    }

    #[test]
    fn a_recorded_provision_is_resent_after_a_crash() {
        let mut i = instance();
        begin(&mut i, InstanceOperation::Provision, Sending::default(), now());
        assert_eq!(i.status.deprovision_status, DeprovisionStatus::Required, "recorded before sending");
        assert_eq!(next_action(&i, now()), Action::Provision);
        // …and deleting it now still deprovisions, since the broker may have it.
        i.metadata.deletion_timestamp = Some("2026-06-01T12:00:01Z".into());
        assert_eq!(next_action(&i, now()), Action::Deprovision { orphan_mitigation: false });
    }

    #[test]
    fn async_operations_are_polled_when_due() {
        let mut i = instance();
        i.status.async_op_in_progress = true;
        assert_eq!(next_action(&i, now()), Action::Poll);
        i.status.next_attempt_time = Some("2026-06-01T12:00:05Z".into());
        assert_eq!(next_action(&i, now()), Action::WaitUntil("2026-06-01T12:00:05Z".parse().unwrap()));
        i.status.next_attempt_time = Some("2026-06-01T11:59:00Z".into());
        assert_eq!(next_action(&i, now()), Action::Poll, "a past schedule is due");
    }

    #[test]
    fn orphan_mitigation_deprovisions_before_anything_else() {
        let mut i = instance();
        i.status.orphan_mitigation_in_progress = true;
        i.metadata.generation = Some(2);
        assert_eq!(next_action(&i, now()), Action::Deprovision { orphan_mitigation: true });
    }

    #[test]
    fn a_provisioned_instance_is_updated_when_its_spec_changes() {
        let mut i = instance();
        i.status.provision_status = ProvisionStatus::Provisioned;
        i.status.reconciled_generation = 1;
        assert_eq!(next_action(&i, now()), Action::Nothing);
        i.metadata.generation = Some(2);
        assert_eq!(next_action(&i, now()), Action::Update);
        begin(&mut i, InstanceOperation::Update, Sending::default(), now());
        assert!(condition::is_true(&i.status.conditions, condition::READY), "usable while updating");
    }

    #[test]
    fn a_failure_is_final_until_the_spec_changes() {
        let mut i = instance();
        i.status.reconciled_generation = 1;
        conditions::set(
            &mut i.status.conditions,
            &mut i.status.history,
            condition::FAILED,
            ConditionStatus::True,
            "ProvisionCallFailed",
            "no",
            "t",
        );
        assert_eq!(next_action(&i, now()), Action::Nothing);
        i.metadata.generation = Some(2);
        assert_eq!(next_action(&i, now()), Action::Provision);
        begin(&mut i, InstanceOperation::Provision, Sending::default(), now());
        assert!(condition::find(&i.status.conditions, condition::FAILED).is_none(), "a new attempt clears Failed");
    }

    #[test]
    fn deletion_deprovisions_only_what_the_broker_may_hold() {
        let mut i = instance();
        i.metadata.deletion_timestamp = Some("2026-06-01T12:00:00Z".into());
        assert_eq!(next_action(&i, now()), Action::RemoveFinalizer, "never provisioned: nothing to deprovision");
        i.status.deprovision_status = DeprovisionStatus::Required;
        assert_eq!(next_action(&i, now()), Action::Deprovision { orphan_mitigation: false });
        i.status.deprovision_status = DeprovisionStatus::Failed;
        assert_eq!(
            next_action(&i, now()),
            Action::Deprovision { orphan_mitigation: false },
            "failed deprovisions are retried"
        );
        i.status.deprovision_status = DeprovisionStatus::Succeeded;
        assert_eq!(next_action(&i, now()), Action::RemoveFinalizer);
        i.metadata.finalizers.clear();
        assert_eq!(next_action(&i, now()), Action::Nothing);
    }

    #[test]
    fn a_delete_during_an_async_provision_waits_for_it() {
        let mut i = instance();
        i.status.async_op_in_progress = true;
        i.status.current_operation = Some(InstanceOperation::Provision);
        i.metadata.deletion_timestamp = Some("2026-06-01T12:00:00Z".into());
        assert_eq!(next_action(&i, now()), Action::Poll);
    }

    #[test]
    fn begin_keeps_the_start_time_of_a_resent_operation() {
        let mut i = instance();
        begin(&mut i, InstanceOperation::Provision, Sending::default(), now());
        let later: Timestamp = "2026-06-01T12:05:00Z".parse().unwrap();
        begin(&mut i, InstanceOperation::Provision, Sending::default(), later);
        assert_eq!(i.status.operation_start_time.as_deref(), Some("2026-06-01T12:00:00Z"));
        begin_deprovision(&mut i, false, later);
        assert_eq!(i.status.operation_start_time.as_deref(), Some("2026-06-01T12:05:00Z"));
    }
}
