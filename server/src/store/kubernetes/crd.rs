//! The catalog's CustomResourceDefinitions, generated from the Rust model: the JSON schemas of
//! each kind's spec and status come from `schemars` (the model's serde attributes decide field
//! names and optionality), made structural the way kube-derive does it, plus what only the
//! CRD knows (printer columns, short names, categories, immutable fields as CEL rules).
//!
//! The YAML under `deploy/crds/` is this module's output; `crds_in_deploy_match_the_model`
//! fails when the two drift (`QM_UPDATE_CRDS=1 cargo test -p quartermaster-server crds_in`
//! rewrites them).

use app::model::{self, Kind};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

/// Every kind that is a CRD (all but core `v1` Secrets).
pub const CRD_KINDS: [Kind; 8] = [
    Kind::ClusterServiceBroker,
    Kind::ServiceBroker,
    Kind::ClusterServiceClass,
    Kind::ServiceClass,
    Kind::ClusterServicePlan,
    Kind::ServicePlan,
    Kind::ServiceInstance,
    Kind::ServiceBinding,
];

/// `kubectl get servicecatalog` lists every kind of the catalog.
pub const CATEGORY: &str = "servicecatalog";

/// The structural JSON schema of `T`, as kube-derive generates it for a CRD.
fn schema_of<T: JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(map) = schema.as_object_mut() {
        map.remove("title");
    }
    make_structural(&mut schema);
    schema
}

/// Free JSON (parameters, schemas, metadata) becomes `x-kubernetes-preserve-unknown-fields`;
/// serde defaults stay out of the schema (the API server would write them into objects, which
/// the embedded store never does).
fn make_structural(schema: &mut Value) {
    if let Value::Bool(true) = schema {
        *schema = json!({"x-kubernetes-preserve-unknown-fields": true});
        return;
    }
    let Some(map) = schema.as_object_mut() else { return };
    map.remove("default");
    // Kubernetes knows int32/int64, not Rust's unsigned formats (`minimum: 0` stays).
    if map.get("format").and_then(Value::as_str).is_some_and(|f| f.starts_with("uint")) {
        map.remove("format");
    }
    let shaped = ["type", "properties", "items", "enum", "anyOf", "oneOf", "allOf", "$ref"];
    if !shaped.iter().any(|k| map.contains_key(*k)) && !map.contains_key("x-kubernetes-preserve-unknown-fields") {
        map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
    }
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        props.values_mut().for_each(make_structural);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = map.get_mut(key) {
            make_structural(sub);
        }
    }
}

fn spec_and_status(kind: Kind) -> (Value, Value) {
    use model::*;
    match kind {
        Kind::ClusterServiceBroker => (schema_of::<ClusterServiceBrokerSpec>(), schema_of::<ServiceBrokerStatus>()),
        Kind::ServiceBroker => (schema_of::<ServiceBrokerSpec>(), schema_of::<ServiceBrokerStatus>()),
        Kind::ClusterServiceClass => (schema_of::<ClusterServiceClassSpec>(), schema_of::<ServiceClassStatus>()),
        Kind::ServiceClass => (schema_of::<ServiceClassSpec>(), schema_of::<ServiceClassStatus>()),
        Kind::ClusterServicePlan => (schema_of::<ClusterServicePlanSpec>(), schema_of::<ServicePlanStatus>()),
        Kind::ServicePlan => (schema_of::<ServicePlanSpec>(), schema_of::<ServicePlanStatus>()),
        Kind::ServiceInstance => (schema_of::<ServiceInstanceSpec>(), schema_of::<ServiceInstanceStatus>()),
        Kind::ServiceBinding => (schema_of::<ServiceBindingSpec>(), schema_of::<ServiceBindingStatus>()),
        Kind::Secret => (json!({}), json!({})),
    }
}

/// Fields that never change once set, enforced by the API server with CEL transition rules
/// (the embedded store checks the same in `object::check_immutable`). An empty value may be
/// filled in once: objects created with kubectl get their OSB id from the controller.
fn immutable_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::ServiceInstance => &["externalID"],
        Kind::ServiceBinding => &["externalID", "secretName"],
        _ => &[],
    }
}

fn immutability_rules(kind: Kind) -> Vec<Value> {
    let mut rules: Vec<Value> = immutable_fields(kind)
        .iter()
        .map(|f| {
            json!({
                "rule": format!("!has(oldSelf.{f}) || oldSelf.{f} == '' || (has(self.{f}) && self.{f} == oldSelf.{f})"),
                "message": format!("spec.{f} is immutable"),
            })
        })
        .collect();
    if kind == Kind::ServiceBinding {
        rules.push(
            json!({"rule": "self.instanceRef == oldSelf.instanceRef", "message": "spec.instanceRef is immutable"}),
        );
    }
    rules
}

fn column(name: &str, json_path: &str, type_: &str) -> Value {
    json!({"name": name, "type": type_, "jsonPath": json_path})
}

fn age() -> Value {
    column("Age", ".metadata.creationTimestamp", "date")
}

const READY: &str = ".status.conditions[?(@.type==\"Ready\")].status";
const REASON: &str = ".status.conditions[?(@.type==\"Ready\")].reason";

/// What `kubectl get` shows for each kind.
fn printer_columns(kind: Kind) -> Vec<Value> {
    let cluster = !kind.namespaced();
    let broker = if cluster { ".spec.clusterServiceBrokerName" } else { ".spec.serviceBrokerName" };
    match kind {
        Kind::ClusterServiceBroker | Kind::ServiceBroker => vec![
            column("URL", ".spec.url", "string"),
            column("Ready", READY, "string"),
            column("Status", REASON, "string"),
            age(),
        ],
        Kind::ClusterServiceClass | Kind::ServiceClass => vec![
            column("External-Name", ".spec.externalName", "string"),
            column("Broker", broker, "string"),
            column("Removed", ".status.removedFromBrokerCatalog", "boolean"),
            age(),
        ],
        Kind::ClusterServicePlan | Kind::ServicePlan => {
            let class = if cluster { ".spec.clusterServiceClassRef.name" } else { ".spec.serviceClassRef.name" };
            vec![
                column("External-Name", ".spec.externalName", "string"),
                column("Broker", broker, "string"),
                column("Class", class, "string"),
                column("Free", ".spec.free", "boolean"),
                age(),
            ]
        }
        Kind::ServiceInstance => vec![
            column("Class", ".spec.clusterServiceClassExternalName", "string"),
            column("Plan", ".spec.clusterServicePlanExternalName", "string"),
            column("Ready", READY, "string"),
            column("Status", REASON, "string"),
            age(),
            json!({"name": "Namespaced-Class", "type": "string", "jsonPath": ".spec.serviceClassExternalName", "priority": 1}),
            json!({"name": "Namespaced-Plan", "type": "string", "jsonPath": ".spec.servicePlanExternalName", "priority": 1}),
            json!({"name": "Dashboard", "type": "string", "jsonPath": ".status.dashboardURL", "priority": 1}),
        ],
        Kind::ServiceBinding => vec![
            column("Instance", ".spec.instanceRef.name", "string"),
            column("Secret", ".spec.secretName", "string"),
            column("Ready", READY, "string"),
            column("Status", REASON, "string"),
            age(),
        ],
        Kind::Secret => Vec::new(),
    }
}

/// The CRD of one catalog kind as JSON.
pub fn crd_json(kind: Kind) -> Value {
    let (mut spec, mut status) = spec_and_status(kind);
    // (schemars would describe them by a flattened part's doc comment)
    spec["description"] = json!(format!("What the {} asks for.", kind.as_str()));
    status["description"] = json!(format!("What the controller last observed of the {}.", kind.as_str()));
    let rules = immutability_rules(kind);
    if !rules.is_empty() {
        spec["x-kubernetes-validations"] = Value::Array(rules);
    }
    let mut properties = Map::new();
    properties.insert("apiVersion".into(), json!({"type": "string"}));
    properties.insert("kind".into(), json!({"type": "string"}));
    properties.insert("metadata".into(), json!({"type": "object"}));
    properties.insert("spec".into(), spec);
    properties.insert("status".into(), status);
    let singular = kind.as_str().to_ascii_lowercase();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{}.{}", kind.plural(), model::GROUP),
            "labels": {"app.kubernetes.io/name": "quartermaster", "app.kubernetes.io/component": "crd"},
            // `*.k8s.io` groups are protected: the API server wants this annotation. The
            // Service Catalog API was never approved (it lived as an aggregated API); its value
            // says so, which the API server accepts.
            "annotations": {"api-approved.kubernetes.io": "unapproved, Kubernetes Service Catalog API kept by Quartermaster"},
        },
        "spec": {
            "group": model::GROUP,
            "names": {
                "kind": kind.as_str(),
                "listKind": format!("{}List", kind.as_str()),
                "plural": kind.plural(),
                "singular": singular,
                "shortNames": kind.short_names(),
                "categories": [CATEGORY],
            },
            "scope": if kind.namespaced() { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": model::VERSION,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "description": format!("{} of the Open Service Broker catalog ({}).", kind.as_str(), model::API_VERSION),
                    "type": "object",
                    "properties": properties,
                }},
                "subresources": {"status": {}},
                "additionalPrinterColumns": printer_columns(kind),
            }],
        },
    })
}

/// The CRD of one catalog kind, typed (what the API server receives).
pub fn crd(kind: Kind) -> Result<CustomResourceDefinition, serde_json::Error> {
    serde_json::from_value(crd_json(kind))
}

/// The name of the file under `deploy/crds/` that holds a kind's CRD.
pub fn file_name(kind: Kind) -> String {
    format!("{}.{}.yaml", kind.plural(), model::GROUP)
}

/// The YAML checked in under `deploy/crds/`.
pub fn crd_yaml(kind: Kind) -> Result<String, String> {
    let typed = crd(kind).map_err(|e| format!("{kind} CRD does not fit the CRD type: {e}"))?;
    let body = serde_saphyr::to_string(&typed).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Generated from the Rust model by `quartermaster crds`; do not edit by hand.\n\
         # A test fails when this file drifts from the model.\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn deploy_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds")
    }

    #[test]
    fn crds_in_deploy_match_the_model() {
        let update = std::env::var("QM_UPDATE_CRDS").as_deref() == Ok("1");
        let mut drifted = Vec::new();
        for kind in CRD_KINDS {
            let path = deploy_dir().join(file_name(kind));
            let generated = crd_yaml(kind).unwrap();
            if update {
                std::fs::create_dir_all(deploy_dir()).unwrap();
                std::fs::write(&path, &generated).unwrap();
            }
            if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
                drifted.push(path.display().to_string());
            }
        }
        assert!(
            drifted.is_empty(),
            "these CRDs differ from the model: {drifted:?}; regenerate them with \
             `QM_UPDATE_CRDS=1 cargo test -p quartermaster-server crds_in_deploy_match_the_model` \
             (or `quartermaster crds --write deploy/crds`)"
        );
    }

    /// Walks a schema and returns the paths of nodes a structural schema forbids.
    fn non_structural(schema: &Value, path: &str, found: &mut Vec<String>) {
        let Some(map) = schema.as_object() else {
            found.push(format!("{path}: not an object"));
            return;
        };
        let preserved = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if !map.contains_key("type") && !preserved {
            found.push(format!("{path}: no type"));
        }
        for forbidden in ["$ref", "anyOf", "oneOf", "allOf", "default"] {
            if map.contains_key(forbidden) {
                found.push(format!("{path}: has {forbidden}"));
            }
        }
        if let Some(props) = map.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                non_structural(v, &format!("{path}.{k}"), found);
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(sub) = map.get(key).filter(|v| v.is_object()) {
                non_structural(sub, &format!("{path}[{key}]"), found);
            }
        }
    }

    #[test]
    fn schemas_are_structural_and_keep_free_json() {
        for kind in CRD_KINDS {
            let json = crd_json(kind);
            let schema = &json["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
            let mut found = Vec::new();
            non_structural(schema, kind.as_str(), &mut found);
            assert!(found.is_empty(), "{found:#?}");
            assert!(crd(kind).is_ok());
        }
        let instance = crd_json(Kind::ServiceInstance);
        let spec = &instance["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["properties"]["parameters"]["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(spec["properties"]["clusterServiceClassExternalName"]["type"], "string");
        let plan = crd_json(Kind::ClusterServicePlan);
        let plan_spec = &plan["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(
            plan_spec["properties"]["instanceCreateParameterSchema"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        assert_eq!(instance["spec"]["names"]["shortNames"], json!(["si"]));
        assert_eq!(instance["spec"]["versions"][0]["subresources"], json!({"status": {}}));
    }
}
