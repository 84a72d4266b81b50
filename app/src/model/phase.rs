//! The one word a person reads about an instance or a binding ("Ready", "Provisioning", …),
//! derived from its conditions, operation in flight, deletion and orphan mitigation. Every page
//! and the live updates use these functions, so a status reads the same everywhere.

use serde::{Deserialize, Serialize};

use super::{
    BindingOperation, Condition, ConditionStatus, DeprovisionStatus, InstanceOperation, ServiceBinding,
    ServiceInstance, UnbindStatus, condition,
};

/// Where an instance or binding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    Ready,
    Provisioning,
    Updating,
    Deprovisioning,
    Binding,
    Unbinding,
    PendingApproval,
    Failed,
    OrphanMitigation,
}

/// The colour family of a phase; the badge pairs it with a word and an icon, never colour alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Green,
    Blue,
    Amber,
    Red,
    Purple,
}

impl Phase {
    pub const ALL: [Phase; 9] = [
        Phase::Ready,
        Phase::Provisioning,
        Phase::Updating,
        Phase::Deprovisioning,
        Phase::Binding,
        Phase::Unbinding,
        Phase::PendingApproval,
        Phase::Failed,
        Phase::OrphanMitigation,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Phase::Ready => "Ready",
            Phase::Provisioning => "Provisioning",
            Phase::Updating => "Updating",
            Phase::Deprovisioning => "Deprovisioning",
            Phase::Binding => "Binding",
            Phase::Unbinding => "Unbinding",
            Phase::PendingApproval => "Pending approval",
            Phase::Failed => "Failed",
            Phase::OrphanMitigation => "Orphan mitigation",
        }
    }

    /// A stable lower-case key, for URLs (`?status=failed`) and test hooks.
    pub fn key(self) -> &'static str {
        match self {
            Phase::Ready => "ready",
            Phase::Provisioning => "provisioning",
            Phase::Updating => "updating",
            Phase::Deprovisioning => "deprovisioning",
            Phase::Binding => "binding",
            Phase::Unbinding => "unbinding",
            Phase::PendingApproval => "pending-approval",
            Phase::Failed => "failed",
            Phase::OrphanMitigation => "orphan-mitigation",
        }
    }

    pub fn from_key(key: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.key() == key)
    }

    pub fn tone(self) -> Tone {
        match self {
            Phase::Ready => Tone::Green,
            Phase::Provisioning | Phase::Updating | Phase::Deprovisioning | Phase::Binding | Phase::Unbinding => {
                Tone::Blue
            }
            Phase::PendingApproval => Tone::Amber,
            Phase::Failed => Tone::Red,
            Phase::OrphanMitigation => Tone::Purple,
        }
    }

    /// Whether something is happening right now (the badge animates).
    pub fn busy(self) -> bool {
        self.tone() == Tone::Blue || self == Phase::OrphanMitigation
    }
}

/// A phase with the reason and message that explain it (the broker's words, untrusted text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusLine {
    pub phase: Phase,
    pub reason: String,
    pub message: String,
    /// The object is being deleted (a failed phase then means a failed deletion).
    pub deleting: bool,
}

impl StatusLine {
    fn new(phase: Phase, explained_by: Option<&Condition>, deleting: bool) -> Self {
        Self {
            phase,
            reason: explained_by.map(|c| c.reason.clone()).unwrap_or_default(),
            message: explained_by.map(|c| c.message.clone()).unwrap_or_default(),
            deleting,
        }
    }

    /// What the badge says: "Failed" becomes "Deletion failed" while deleting.
    pub fn headline(&self) -> &'static str {
        if self.deleting && self.phase == Phase::Failed { "Deletion failed" } else { self.phase.label() }
    }
}

/// Reasons that say the last call went wrong (the controller retries or has given up).
pub fn is_error_reason(reason: &str) -> bool {
    reason.starts_with("Error")
        || reason.ends_with("CallFailed")
        || reason.starts_with("ReferencesNonexistent")
        || reason == "ReconciliationRetryTimeout"
}

fn true_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    condition::find(conditions, type_).filter(|c| c.status == ConditionStatus::True)
}

/// The status of an instance. Order matters: orphan mitigation, then deletion, then the
/// operation in flight, then the outcome of the last one.
pub fn instance_status(instance: &ServiceInstance) -> StatusLine {
    let s = &instance.status;
    let ready = condition::find(&s.conditions, condition::READY);
    let failed = true_condition(&s.conditions, condition::FAILED);
    let deleting = instance.metadata.deletion_timestamp.is_some();

    if s.orphan_mitigation_in_progress {
        let why = condition::find(&s.conditions, condition::ORPHAN_MITIGATION).or(ready);
        return StatusLine::new(Phase::OrphanMitigation, why, deleting);
    }
    if let Some(om) = true_condition(&s.conditions, condition::ORPHAN_MITIGATION) {
        return StatusLine::new(Phase::OrphanMitigation, Some(om), deleting);
    }
    if deleting {
        let deletion_failed = failed.is_some()
            || s.deprovision_status == DeprovisionStatus::Failed
            || ready.is_some_and(|c| is_error_reason(&c.reason));
        return if deletion_failed {
            StatusLine::new(Phase::Failed, failed.or(ready), true)
        } else {
            StatusLine::new(Phase::Deprovisioning, ready, true)
        };
    }
    match s.current_operation {
        Some(InstanceOperation::Provision) => return StatusLine::new(Phase::Provisioning, ready, false),
        Some(InstanceOperation::Update) => return StatusLine::new(Phase::Updating, ready, false),
        Some(InstanceOperation::Deprovision) => return StatusLine::new(Phase::Deprovisioning, ready, false),
        None => {}
    }
    if let Some(failed) = failed {
        return StatusLine::new(Phase::Failed, Some(failed), false);
    }
    if ready.is_some_and(|c| c.status == ConditionStatus::True) {
        // A spec change the controller has not acted on yet is an update on its way.
        let generation = instance.metadata.generation.unwrap_or(1);
        let phase = if generation > s.reconciled_generation && s.reconciled_generation > 0 {
            Phase::Updating
        } else {
            Phase::Ready
        };
        return StatusLine::new(phase, ready, false);
    }
    StatusLine::new(Phase::Provisioning, ready, false)
}

/// The status of a binding, by the same rules.
pub fn binding_status(binding: &ServiceBinding) -> StatusLine {
    let s = &binding.status;
    let ready = condition::find(&s.conditions, condition::READY);
    let failed = true_condition(&s.conditions, condition::FAILED);
    let deleting = binding.metadata.deletion_timestamp.is_some();

    if s.orphan_mitigation_in_progress {
        return StatusLine::new(Phase::OrphanMitigation, ready, deleting);
    }
    if deleting {
        let unbind_failed = failed.is_some()
            || s.unbind_status == UnbindStatus::Failed
            || ready.is_some_and(|c| is_error_reason(&c.reason));
        return if unbind_failed {
            StatusLine::new(Phase::Failed, failed.or(ready), true)
        } else {
            StatusLine::new(Phase::Unbinding, ready, true)
        };
    }
    match s.current_operation {
        Some(BindingOperation::Bind) => return StatusLine::new(Phase::Binding, ready, false),
        Some(BindingOperation::Unbind) => return StatusLine::new(Phase::Unbinding, ready, false),
        None => {}
    }
    if let Some(failed) = failed {
        return StatusLine::new(Phase::Failed, Some(failed), false);
    }
    if ready.is_some_and(|c| c.status == ConditionStatus::True) {
        return StatusLine::new(Phase::Ready, ready, false);
    }
    StatusLine::new(Phase::Binding, ready, false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn instance(value: serde_json::Value) -> ServiceInstance {
        serde_json::from_value(value).unwrap()
    }

    fn cond(type_: &str, status: &str, reason: &str, message: &str) -> serde_json::Value {
        json!({"type": type_, "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": reason, "message": message})
    }

    #[test]
    fn a_new_instance_is_provisioning() {
        let i = instance(json!({"metadata": {"name": "a", "generation": 1}}));
        assert_eq!(instance_status(&i).phase, Phase::Provisioning);
    }

    #[test]
    fn instance_phases_follow_operation_conditions_and_deletion() {
        let provisioning = instance(json!({
            "metadata": {"name": "a", "generation": 1},
            "status": {"currentOperation": "Provision", "asyncOpInProgress": true,
                       "conditions": [cond("Ready", "False", "Provisioning", "The instance is being provisioned")]}
        }));
        let line = instance_status(&provisioning);
        assert_eq!((line.phase, line.reason.as_str()), (Phase::Provisioning, "Provisioning"));

        let ready = instance(json!({
            "metadata": {"name": "a", "generation": 1},
            "status": {"reconciledGeneration": 1, "provisionStatus": "Provisioned",
                       "conditions": [cond("Ready", "True", "ProvisionedSuccessfully", "ok")]}
        }));
        assert_eq!(instance_status(&ready).phase, Phase::Ready);

        let mut edited = ready.clone();
        edited.metadata.generation = Some(2);
        assert_eq!(instance_status(&edited).phase, Phase::Updating, "a spec change not yet acted on");

        let updating = instance(json!({
            "metadata": {"name": "a", "generation": 2},
            "status": {"currentOperation": "Update", "reconciledGeneration": 1,
                       "conditions": [cond("Ready", "True", "UpdatingInstance", "")]}
        }));
        assert_eq!(instance_status(&updating).phase, Phase::Updating);

        let failed = instance(json!({
            "metadata": {"name": "a", "generation": 1},
            "status": {"reconciledGeneration": 1, "conditions": [
                cond("Ready", "False", "ProvisionCallFailed", "Provision call failed: <b>quota</b>"),
                cond("Failed", "True", "ProvisionCallFailed", "Provision call failed: <b>quota</b>")]}
        }));
        let line = instance_status(&failed);
        assert_eq!(line.phase, Phase::Failed);
        assert_eq!(line.message, "Provision call failed: <b>quota</b>", "the broker's words, kept verbatim");
        assert_eq!(line.headline(), "Failed");

        let mut deleting = ready.clone();
        deleting.metadata.deletion_timestamp = Some("2026-01-01T00:00:01Z".into());
        assert_eq!(instance_status(&deleting).phase, Phase::Deprovisioning);
        deleting.status.deprovision_status = DeprovisionStatus::Failed;
        let line = instance_status(&deleting);
        assert_eq!((line.phase, line.headline()), (Phase::Failed, "Deletion failed"));

        let orphan = instance(json!({
            "metadata": {"name": "a", "generation": 1},
            "status": {"orphanMitigationInProgress": true, "currentOperation": "Deprovision",
                       "conditions": [cond("OrphanMitigation", "True", "StartingInstanceOrphanMitigation", "The broker answered 500")]}
        }));
        let line = instance_status(&orphan);
        assert_eq!(line.phase, Phase::OrphanMitigation);
        assert_eq!(line.message, "The broker answered 500");
    }

    #[test]
    fn binding_phases() {
        let b: ServiceBinding = serde_json::from_value(json!({"metadata": {"name": "b"}})).unwrap();
        assert_eq!(binding_status(&b).phase, Phase::Binding);
        let ready: ServiceBinding = serde_json::from_value(json!({
            "metadata": {"name": "b"},
            "status": {"conditions": [cond("Ready", "True", "InjectedBindResult", "")]}
        }))
        .unwrap();
        assert_eq!(binding_status(&ready).phase, Phase::Ready);
        let mut unbinding = ready.clone();
        unbinding.metadata.deletion_timestamp = Some("t".into());
        assert_eq!(binding_status(&unbinding).phase, Phase::Unbinding);
        unbinding.status.unbind_status = UnbindStatus::Failed;
        assert_eq!(binding_status(&unbinding).headline(), "Deletion failed");
    }

    #[test]
    fn phases_have_keys_and_tones() {
        for phase in Phase::ALL {
            assert_eq!(Phase::from_key(phase.key()), Some(phase));
        }
        assert!(Phase::Provisioning.busy());
        assert!(!Phase::Ready.busy());
        assert_eq!(Phase::OrphanMitigation.tone(), Tone::Purple);
    }
}
