//! ServiceBinding: credentials for one instance, delivered as a Secret.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Condition, LocalObjectReference, Object, ObjectReference, ParametersFromSource, UserInfo, instance::is_zero,
};

pub type ServiceBinding = Object<ServiceBindingSpec, ServiceBindingStatus>;

/// One change applied to the broker's credentials before they are written to the Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecretTransform {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rename_key: Option<RenameKeyTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_key: Option<AddKeyTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_keys_from: Option<AddKeysFromTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_key: Option<RemoveKeyTransform>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct RenameKeyTransform {
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AddKeyTransform {
    pub key: String,
    /// base64 bytes, as upstream serialises `[]byte`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// A simple JSONPath (`{.a.b}`) into the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path_expression: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AddKeysFromTransform {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<ObjectReference>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct RemoveKeyTransform {
    pub key: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceBindingSpec {
    pub instance_ref: LocalObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters_from: Vec<ParametersFromSource>,
    /// Defaults to the binding's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_transforms: Vec<SecretTransform>,
    #[serde(default, rename = "externalID", skip_serializing_if = "String::is_empty")]
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum BindingOperation {
    Bind,
    Unbind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub enum UnbindStatus {
    #[default]
    NotRequired,
    Required,
    Succeeded,
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BindingPropertiesState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parameter_checksum: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_info: Option<UserInfo>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceBindingStatus {
    #[serde(default)]
    pub conditions: Vec<Condition>,
    #[serde(default)]
    pub async_op_in_progress: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_operation: Option<BindingOperation>,
    #[serde(default)]
    pub reconciled_generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_properties: Option<BindingPropertiesState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_properties: Option<BindingPropertiesState>,
    #[serde(default)]
    pub orphan_mitigation_in_progress: bool,
    #[serde(default)]
    pub unbind_status: UnbindStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_condition_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_time: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// Binds that ended in orphan mitigation since the last success; the controller gives up
    /// when they reach its limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_binds: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Condition>,
}

impl ServiceBindingSpec {
    /// The Secret the credentials land in: `secretName`, or the binding's own name.
    pub fn effective_secret_name<'a>(&'a self, binding_name: &'a str) -> &'a str {
        if self.secret_name.is_empty() { binding_name } else { &self.secret_name }
    }
}
