//! Request and response bodies of the OSB 2.17 calls other than the catalog, the Context object and
//! the originating identity. Unknown fields are kept in `extra`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalog::MaintenanceInfo;

/// The Kubernetes profile's Context object, sent with provision, update and bind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// Always `kubernetes` when the portal sends it.
    pub platform: String,
    pub namespace: String,
    pub clusterid: String,
    pub instance_name: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Context {
    pub fn kubernetes(namespace: &str, clusterid: &str, instance_name: &str) -> Self {
        Self {
            platform: "kubernetes".into(),
            namespace: namespace.into(),
            clusterid: clusterid.into(),
            instance_name: instance_name.into(),
            extra: Map::new(),
        }
    }
}

/// The user on whose behalf the platform calls, sent as `X-Broker-API-Originating-Identity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginatingIdentity {
    pub username: String,
    pub uid: String,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OriginatingIdentity {
    pub fn new(username: &str, uid: &str, groups: &[&str]) -> Self {
        Self {
            username: username.into(),
            uid: uid.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            extra: Map::new(),
        }
    }

    /// The header value: `kubernetes <base64 of the JSON object>`.
    pub fn header_value(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("kubernetes {}", base64::engine::general_purpose::STANDARD.encode(json))
    }

    /// Reads a header value; returns the platform and the identity.
    pub fn parse_header(value: &str) -> Result<(String, Self), String> {
        let (platform, encoded) =
            value.split_once(' ').ok_or_else(|| "expected \"<platform> <base64 JSON>\"".to_string())?;
        let json = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("the identity is not base64: {e}"))?;
        let identity: Self =
            serde_json::from_slice(&json).map_err(|e| format!("the identity is not the expected JSON: {e}"))?;
        Ok((platform.to_string(), identity))
    }
}

/// `PUT /v2/service_instances/:instance_id`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvisionRequest {
    pub service_id: String,
    pub plan_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// Deprecated by OSB but still required by some brokers; the portal sends the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_info: Option<MaintenanceInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 200/201/202 body of a provision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvisionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<InstanceMetadata>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// OSB 2.16 instance metadata (labels and attributes the broker attaches).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceMetadata {
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PATCH /v2/service_instances/:instance_id`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateRequest {
    pub service_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_values: Option<PreviousValues>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_info: Option<MaintenanceInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PreviousValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_info: Option<MaintenanceInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 200/202 body of an update: the same fields as a provision's.
pub type UpdateResponse = ProvisionResponse;

/// Body of deprovision, unbind (200/202) and of an async bind's 202: at most an operation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /v2/service_instances/:instance_id` 200 body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FetchInstanceResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_info: Option<MaintenanceInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<InstanceMetadata>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT /v2/service_instances/:instance_id/service_bindings/:binding_id`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BindRequest {
    pub service_id: String,
    pub plan_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_guid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_resource: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predecessor_binding_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// 200/201 body of a bind, and the 200 body of fetching a binding.
///
/// `Debug` hides the credentials: this type travels through logs' reach.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BindResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syslog_drain_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_service_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Vec<Value>>,
    /// Only in fetch responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BindingMetadata>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for BindResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindResponse")
            .field("credentials", &self.credentials.as_ref().map(|c| format!("<{} keys hidden>", c.len())))
            .field("syslog_drain_url", &self.syslog_drain_url)
            .field("route_service_url", &self.route_service_url)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BindingMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The three OSB operation states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationState {
    #[serde(rename = "in progress")]
    InProgress,
    #[serde(rename = "succeeded")]
    Succeeded,
    #[serde(rename = "failed")]
    Failed,
}

/// `GET …/last_operation` 200 body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastOperationResponse {
    pub state: OperationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// OSB 2.16: whether the instance can still be used after a failed update or deprovision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_usable: Option<bool>,
    /// OSB 2.16: whether a failed update can be repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_repeatable: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A broker's error body: `{"error": "AsyncRequired", "description": "…"}`, both optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_usable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_repeatable: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorBody {
    pub fn new(error: Option<&str>, description: impl Into<String>) -> Self {
        Self { error: error.map(str::to_string), description: Some(description.into()), ..Self::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn originating_identity_round_trips_through_its_header() {
        let identity = OriginatingIdentity::new("alice", "uid-1", &["team-a", "system:authenticated"]);
        let header = identity.header_value();
        assert!(header.starts_with("kubernetes "));
        let (platform, back) = OriginatingIdentity::parse_header(&header).unwrap();
        assert_eq!(platform, "kubernetes");
        assert_eq!(back, identity);
        assert!(OriginatingIdentity::parse_header("kubernetes !!!").is_err());
        assert!(OriginatingIdentity::parse_header("nospace").is_err());
    }

    #[test]
    fn context_has_the_kubernetes_shape() {
        let json = serde_json::to_value(Context::kubernetes("team-a", "c-1", "hdfs-1")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"platform": "kubernetes", "namespace": "team-a", "clusterid": "c-1", "instance_name": "hdfs-1"})
        );
    }

    #[test]
    fn bind_response_debug_hides_credentials() {
        let mut credentials = Map::new();
        credentials.insert("password".into(), Value::String("hunter2".into()));
        let response = BindResponse { credentials: Some(credentials), ..BindResponse::default() };
        let debug = format!("{response:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
