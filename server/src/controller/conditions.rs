//! Writing conditions the way upstream Service Catalog does, with a bounded history of changes
//! for the instance and binding pages.

use app::model::{Condition, ConditionStatus, condition};

/// Condition changes kept per object.
const HISTORY: usize = 50;

/// Sets a condition; when its status, reason or message changed, records it in `history`.
pub fn set(
    conditions: &mut Vec<Condition>,
    history: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: &str,
) {
    let changed = condition::find(conditions, type_)
        .is_none_or(|c| c.status != status || c.reason != reason || c.message != message);
    let new = Condition {
        type_: type_.to_string(),
        status,
        last_transition_time: now.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
    };
    condition::set(conditions, new.clone());
    let repeats_last = history.last().is_some_and(|last| last.reason == new.reason && last.message == new.message);
    if changed && !repeats_last {
        history.push(new);
        if history.len() > HISTORY {
            let excess = history.len() - HISTORY;
            history.drain(..excess);
        }
    }
}

pub fn clear(conditions: &mut Vec<Condition>, type_: &str) {
    condition::remove(conditions, type_);
}

/// Upstream's condition reasons (and a few of the portal's own).
pub mod reason {
    pub const PROVISIONING: &str = "Provisioning";
    pub const PROVISIONED: &str = "ProvisionedSuccessfully";
    pub const ERROR_CALLING_PROVISION: &str = "ErrorCallingProvision";
    pub const PROVISION_CALL_FAILED: &str = "ProvisionCallFailed";
    pub const UPDATING: &str = "UpdatingInstance";
    pub const UPDATED: &str = "InstanceUpdatedSuccessfully";
    pub const ERROR_CALLING_UPDATE: &str = "ErrorCallingUpdateInstance";
    pub const UPDATE_CALL_FAILED: &str = "UpdateInstanceCallFailed";
    pub const DEPROVISIONING: &str = "Deprovisioning";
    pub const DEPROVISIONED: &str = "DeprovisionedSuccessfully";
    pub const ERROR_CALLING_DEPROVISION: &str = "ErrorCallingDeprovision";
    pub const DEPROVISION_CALL_FAILED: &str = "DeprovisionCallFailed";
    pub const ERROR_POLLING: &str = "ErrorPollingLastOperation";
    pub const ASYNC_TIMEOUT: &str = "ErrorAsyncOperationTimeout";
    pub const START_ORPHAN_MITIGATION: &str = "StartingInstanceOrphanMitigation";
    pub const ORPHAN_MITIGATION_OK: &str = "OrphanMitigationSuccessful";
    pub const RETRIES_EXHAUSTED: &str = "ReconciliationRetryTimeout";
    pub const NONEXISTENT_CLASS: &str = "ReferencesNonexistentServiceClass";
    pub const NONEXISTENT_PLAN: &str = "ReferencesNonexistentServicePlan";
    pub const NONEXISTENT_BROKER: &str = "ReferencesNonexistentBroker";
    pub const INVALID_PARAMETERS: &str = "ErrorWithParameters";
    pub const BINDING_PENDING: &str = "Binding";
    pub const BOUND: &str = "InjectedBindResult";
    pub const ERROR_CALLING_BIND: &str = "ErrorCallingBind";
    pub const BIND_CALL_FAILED: &str = "BindCallFailed";
    pub const UNBINDING: &str = "Unbinding";
    pub const UNBOUND: &str = "UnboundSuccessfully";
    pub const ERROR_CALLING_UNBIND: &str = "ErrorCallingUnbind";
    pub const UNBIND_CALL_FAILED: &str = "UnbindCallFailed";
    pub const INSTANCE_NOT_READY: &str = "ErrorInstanceNotReady";
    pub const NONEXISTENT_INSTANCE: &str = "ReferencesNonexistentInstance";
    pub const NOT_BINDABLE: &str = "ErrorNonbindableServiceClass";
    pub const ERROR_INJECTING: &str = "ErrorInjectingBindResult";
    pub const START_BINDING_ORPHAN_MITIGATION: &str = "StartingOrphanMitigation";
    pub const FETCHED_CATALOG: &str = "FetchedCatalog";
    pub const ERROR_FETCHING_CATALOG: &str = "ErrorFetchingCatalog";
    pub const ERROR_SYNCING_CATALOG: &str = "ErrorSyncingCatalog";
}
