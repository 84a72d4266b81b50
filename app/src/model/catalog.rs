//! Brokers, classes and plans (what a broker's catalog becomes in the store).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Condition, LocalObjectReference, Object, ObjectReference};

pub type ClusterServiceBroker = Object<ClusterServiceBrokerSpec, ServiceBrokerStatus>;
pub type ServiceBroker = Object<ServiceBrokerSpec, ServiceBrokerStatus>;
pub type ClusterServiceClass = Object<ClusterServiceClassSpec, ServiceClassStatus>;
pub type ServiceClass = Object<ServiceClassSpec, ServiceClassStatus>;
pub type ClusterServicePlan = Object<ClusterServicePlanSpec, ServicePlanStatus>;
pub type ServicePlan = Object<ServicePlanSpec, ServicePlanStatus>;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum RelistBehavior {
    #[default]
    Duration,
    Manual,
}

/// Fields shared by both broker kinds (upstream `CommonServiceBrokerSpec`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommonServiceBrokerSpec {
    pub url: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    /// PEM bundle, base64-encoded as upstream serialises `[]byte`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_bundle: String,
    #[serde(default)]
    pub relist_behavior: RelistBehavior,
    /// A Go duration such as `15m0s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relist_duration: Option<String>,
    #[serde(default)]
    pub relist_requests: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterBasicAuthConfig {
    pub secret_ref: ObjectReference,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterServiceBrokerAuthInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<ClusterBasicAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<ClusterBasicAuthConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LocalSecretAuthConfig {
    pub secret_ref: LocalObjectReference,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceBrokerAuthInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<LocalSecretAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<LocalSecretAuthConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterServiceBrokerSpec {
    #[serde(flatten)]
    pub common: CommonServiceBrokerSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_info: Option<ClusterServiceBrokerAuthInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceBrokerSpec {
    #[serde(flatten)]
    pub common: CommonServiceBrokerSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_info: Option<ServiceBrokerAuthInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceBrokerStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub reconciled_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_catalog_retrieval_time: Option<String>,
    /// The `relistRequests` value last acted on (a bump asks for a relist).
    #[serde(default)]
    pub observed_relist_requests: i64,
    /// Readable problems found in the broker's last catalog, one per service or plan
    /// (an extension: upstream only had the condition message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub catalog_problems: Vec<CatalogProblem>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CatalogProblem {
    /// e.g. `service "hdfs" plan "large"`.
    pub location: String,
    pub message: String,
}

/// Display metadata a broker sends for a service (OSB `metadata`, kept whole in `externalMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommonServiceClassSpec {
    pub external_name: String,
    #[serde(rename = "externalID")]
    pub external_id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub bindable: bool,
    #[serde(default)]
    pub binding_retrievable: bool,
    #[serde(default)]
    pub instances_retrievable: bool,
    #[serde(default)]
    pub plan_updatable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provision_parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_context_updates: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterServiceClassSpec {
    #[serde(flatten)]
    pub common: CommonServiceClassSpec,
    pub cluster_service_broker_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceClassSpec {
    #[serde(flatten)]
    pub common: CommonServiceClassSpec,
    pub service_broker_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceClassStatus {
    #[serde(default)]
    pub removed_from_broker_catalog: bool,
}

/// OSB `maintenance_info` of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct MaintenanceInfo {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommonServicePlanSpec {
    pub external_name: String,
    #[serde(rename = "externalID")]
    pub external_id: String,
    #[serde(default)]
    pub description: String,
    /// Overrides the class's `bindable` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindable: Option<bool>,
    #[serde(default)]
    pub free: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_updatable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_create_parameter_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_update_parameter_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_binding_create_parameter_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_binding_create_response_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provision_parameters: Option<Value>,
    #[serde(default, rename = "maintenanceInfo", skip_serializing_if = "Option::is_none")]
    pub maintenance_info: Option<MaintenanceInfo>,
    /// Seconds the platform polls an async operation before giving up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_polling_duration: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClusterServicePlanSpec {
    #[serde(flatten)]
    pub common: CommonServicePlanSpec,
    pub cluster_service_broker_name: String,
    pub cluster_service_class_ref: LocalObjectReference,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanSpec {
    #[serde(flatten)]
    pub common: CommonServicePlanSpec,
    pub service_broker_name: String,
    pub service_class_ref: LocalObjectReference,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServicePlanStatus {
    #[serde(default)]
    pub removed_from_broker_catalog: bool,
    /// Readable problems with this plan's schemas (too large, external `$ref`, invalid);
    /// the plan stays usable where it can be.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}
