//! ServiceInstance: a request for one provisioned service, and what the controller observed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Condition, LocalObjectReference, Object, UserInfo};

pub type ServiceInstance = Object<ServiceInstanceSpec, ServiceInstanceStatus>;

/// Which class and plan an instance (or an update) names (upstream `PlanReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlanReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_class_external_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_plan_external_name: Option<String>,
    #[serde(default, rename = "clusterServiceClassExternalID", skip_serializing_if = "Option::is_none")]
    pub cluster_service_class_external_id: Option<String>,
    #[serde(default, rename = "clusterServicePlanExternalID", skip_serializing_if = "Option::is_none")]
    pub cluster_service_plan_external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_plan_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_class_external_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_plan_external_name: Option<String>,
    #[serde(default, rename = "serviceClassExternalID", skip_serializing_if = "Option::is_none")]
    pub service_class_external_id: Option<String>,
    #[serde(default, rename = "servicePlanExternalID", skip_serializing_if = "Option::is_none")]
    pub service_plan_external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_plan_name: Option<String>,
}

/// `parametersFrom`: parameters read from a key of a Secret in the same namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ParametersFromSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyReference>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct SecretKeyReference {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceInstanceSpec {
    #[serde(flatten)]
    pub plan: PlanReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_class_ref: Option<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_service_plan_ref: Option<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_class_ref: Option<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_plan_ref: Option<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters_from: Vec<ParametersFromSource>,
    /// The OSB instance id; set once, never changed.
    #[serde(default, rename = "externalID", skip_serializing_if = "String::is_empty")]
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
    /// Bumping this asks for an update call even when nothing else changed.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub update_requests: i64,
}

/// The operation in flight (upstream `ServiceInstanceOperation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum InstanceOperation {
    Provision,
    Update,
    Deprovision,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum ProvisionStatus {
    #[default]
    #[serde(rename = "")]
    None,
    Provisioned,
    NotProvisioned,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum DeprovisionStatus {
    #[default]
    NotRequired,
    Required,
    Succeeded,
    Failed,
}

/// What was (or is being) sent to the broker: plan, parameters and who asked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct InstancePropertiesState {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster_service_plan_external_name: String,
    #[serde(default, rename = "clusterServicePlanExternalID", skip_serializing_if = "String::is_empty")]
    pub cluster_service_plan_external_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_plan_external_name: String,
    #[serde(default, rename = "servicePlanExternalID", skip_serializing_if = "String::is_empty")]
    pub service_plan_external_id: String,
    /// Parameters as sent, with values that came from Secrets replaced by `<redacted>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parameter_checksum: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_info_version: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceInstanceStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub async_op_in_progress: bool,
    #[serde(default)]
    pub orphan_mitigation_in_progress: bool,
    /// The broker's `operation` value of the async operation in flight, echoed when polling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<String>,
    #[serde(default, rename = "dashboardURL", skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<InstanceOperation>,
    #[serde(default)]
    pub reconciled_generation: i64,
    #[serde(default)]
    pub observed_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_properties: Option<InstancePropertiesState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_properties: Option<InstancePropertiesState>,
    #[serde(default)]
    pub provision_status: ProvisionStatus,
    #[serde(default)]
    pub deprovision_status: DeprovisionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provision_parameters: Option<Value>,
    /// The reason of the last condition, kept when conditions are rewritten (upstream field).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_condition_state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_specified_plan_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_specified_class_name: String,
    /// When the next retry or poll is due (RFC 3339), so a restart honours backoff and Retry-After.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_time: Option<String>,
    /// Failed attempts of the current operation, for backoff.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Provisions that ended in orphan mitigation since the last success; the controller gives
    /// up when they reach its limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_provisions: u32,
    /// History of condition changes (newest last, bounded), for the instance page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Condition>,
}

pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}

pub(crate) fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl ServiceInstanceSpec {
    /// The class name the user asked for, whichever field carries it.
    pub fn class_external_name(&self) -> Option<&str> {
        self.plan.cluster_service_class_external_name.as_deref().or(self.plan.service_class_external_name.as_deref())
    }

    /// The plan name the user asked for, whichever field carries it.
    pub fn plan_external_name(&self) -> Option<&str> {
        self.plan.cluster_service_plan_external_name.as_deref().or(self.plan.service_plan_external_name.as_deref())
    }
}
