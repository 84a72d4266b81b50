//! Conditions as upstream Service Catalog writes them on brokers, instances and bindings.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// One condition (`Ready`, `Failed`, `OrphanMitigation`, `FetchedCatalog`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    #[serde(default)]
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

pub const READY: &str = "Ready";
pub const FAILED: &str = "Failed";
pub const ORPHAN_MITIGATION: &str = "OrphanMitigation";

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of this type is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == ConditionStatus::True)
}

/// Sets a condition, keeping its transition time when the status did not change (as upstream).
pub fn set(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(existing) => {
            let keep_time = existing.status == new.status && !existing.last_transition_time.is_empty();
            let time = if keep_time { existing.last_transition_time.clone() } else { new.last_transition_time.clone() };
            *existing = Condition { last_transition_time: time, ..new };
        }
        None => conditions.push(new),
    }
}

/// Removes a condition by type.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(status: ConditionStatus, time: &str, reason: &str) -> Condition {
        Condition {
            type_: READY.into(),
            status,
            last_transition_time: time.into(),
            reason: reason.into(),
            message: String::new(),
        }
    }

    #[test]
    fn transition_time_moves_only_when_status_changes() {
        let mut conditions = vec![];
        set(&mut conditions, cond(ConditionStatus::False, "t1", "Provisioning"));
        set(&mut conditions, cond(ConditionStatus::False, "t2", "Provisioning"));
        assert_eq!(conditions[0].last_transition_time, "t1");
        set(&mut conditions, cond(ConditionStatus::True, "t3", "ProvisionedSuccessfully"));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, "t3");
        assert!(is_true(&conditions, READY));
        remove(&mut conditions, READY);
        assert!(find(&conditions, READY).is_none());
    }

    #[test]
    fn serialises_like_upstream() {
        let json = serde_json::to_value(cond(ConditionStatus::True, "2026-01-01T00:00:00Z", "Ok")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "Ok"})
        );
    }
}
