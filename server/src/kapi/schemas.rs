//! The kinds' schemas, printer columns and names, read from the CRDs that are generated from the
//! Rust model (`deploy/crds/*.yaml`, kept in step by a drift test) — one source for the
//! Kubernetes backend, `/openapi/v2`, `/openapi/v3`, `kubectl explain` and the API's own checks.

use std::{collections::HashMap, sync::LazyLock};

use app::model::Kind;
use serde_json::{Map, Value, json};

use crate::store::FieldCause;

/// What the API knows about one kind.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: Kind,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// `openAPIV3Schema` of the kind.
    pub schema: Value,
    /// Printer columns after the name (`additionalPrinterColumns`).
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub type_: String,
    pub json_path: String,
    pub priority: i64,
    pub description: String,
}

const CRDS: [&str; 8] = [
    include_str!("../../../deploy/crds/clusterservicebrokers.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/servicebrokers.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/clusterserviceclasses.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/serviceclasses.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/clusterserviceplans.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/serviceplans.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/serviceinstances.servicecatalog.k8s.io.yaml"),
    include_str!("../../../deploy/crds/servicebindings.servicecatalog.k8s.io.yaml"),
];

static KINDS: LazyLock<HashMap<Kind, KindInfo>> = LazyLock::new(|| {
    let mut kinds: HashMap<Kind, KindInfo> = CRDS
        .iter()
        .map(|text| {
            let crd: Value = serde_saphyr::from_str(text).expect("the CRDs compiled into the binary are YAML");
            let info = from_crd(&crd).expect("the CRDs compiled into the binary name a known kind");
            (info.kind, info)
        })
        .collect();
    kinds.insert(Kind::Secret, secret_info());
    kinds
});

fn from_crd(crd: &Value) -> Option<KindInfo> {
    let kind = Kind::parse(crd.pointer("/spec/names/kind")?.as_str()?)?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    };
    let version = crd.pointer("/spec/versions/0")?;
    let columns = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|columns| {
            columns
                .iter()
                .map(|c| Column {
                    name: c["name"].as_str().unwrap_or_default().to_string(),
                    type_: c["type"].as_str().unwrap_or("string").to_string(),
                    json_path: c["jsonPath"].as_str().unwrap_or_default().to_string(),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    description: c["description"].as_str().unwrap_or_default().to_string(),
                })
                .collect()
        })
        .unwrap_or_else(|| vec![age_column()]);
    Some(KindInfo {
        kind,
        singular: crd.pointer("/spec/names/singular")?.as_str()?.to_string(),
        short_names: strings(crd.pointer("/spec/names/shortNames")),
        categories: strings(crd.pointer("/spec/names/categories")),
        schema: version.pointer("/schema/openAPIV3Schema")?.clone(),
        columns,
    })
}

fn age_column() -> Column {
    Column {
        name: "Age".into(),
        type_: "date".into(),
        json_path: ".metadata.creationTimestamp".into(),
        priority: 0,
        description: "CreationTimestamp is when the object was created.".into(),
    }
}

/// Core `v1` Secret: the part of its schema the catalog uses.
fn secret_info() -> KindInfo {
    KindInfo {
        kind: Kind::Secret,
        singular: "secret".into(),
        short_names: Vec::new(),
        categories: Vec::new(),
        schema: json!({
            "description": "Secret holds secret data of a certain type: binding credentials, broker credentials, parameters.",
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "data": {"description": "Base64-encoded values by key.", "type": "object", "additionalProperties": {"type": "string"}},
                "stringData": {"description": "Write-only plain values, merged into data on write.", "type": "object", "additionalProperties": {"type": "string"}},
                "type": {"type": "string", "description": "Used to facilitate programmatic handling of secret data."},
                "immutable": {"type": "boolean"}
            }
        }),
        columns: vec![
            Column {
                name: "Type".into(),
                type_: "string".into(),
                json_path: ".type".into(),
                priority: 0,
                description: "The type of the secret.".into(),
            },
            Column {
                name: "Data".into(),
                type_: "integer".into(),
                json_path: "#data".into(),
                priority: 0,
                description: "The number of keys in data.".into(),
            },
            age_column(),
        ],
    }
}

pub fn info(kind: Kind) -> &'static KindInfo {
    KINDS.get(&kind).expect("every kind has its schema")
}

/// Fields Kubernetes accepts in `metadata`.
const OBJECT_META: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// What a structural check found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Fields the schema does not declare (`spec.foo`).
    pub unknown: Vec<String>,
    /// Values of the wrong type or outside an enum.
    pub invalid: Vec<FieldCause>,
}

/// Checks `object` against the kind's schema. With `prune`, unknown fields are removed (what an
/// API server does for `fieldValidation=Ignore|Warn`).
pub fn check(kind: Kind, object: &mut Value, prune: bool) -> Findings {
    let mut findings = Findings::default();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let unknown: Vec<String> = meta.keys().filter(|k| !OBJECT_META.contains(&k.as_str())).cloned().collect();
        for key in unknown {
            if prune {
                meta.remove(&key);
            }
            findings.unknown.push(format!("metadata.{key}"));
        }
        for map in ["labels", "annotations"] {
            if let Some(value) = meta.get(map)
                && !value.is_null()
                && !value.as_object().is_some_and(|m| m.values().all(Value::is_string))
            {
                findings.invalid.push(FieldCause {
                    field: format!("metadata.{map}"),
                    message: "Invalid value: must be a map of strings to strings".into(),
                });
            }
        }
    }
    let schema = &info(kind).schema;
    walk(schema, object, "", prune, &mut findings, true);
    findings
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(schema: &Value, value: &mut Value, path: &str, prune: bool, findings: &mut Findings, root: bool) {
    if value.is_null() {
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let fits = actual == expected || (expected == "number" && actual == "integer");
        if !fits {
            findings.invalid.push(FieldCause {
                field: path.to_string(),
                message: format!(
                    "Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""
                ),
            });
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let listed: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        findings.invalid.push(FieldCause {
            field: path.to_string(),
            message: format!("Unsupported value: {value}: supported values: {}", listed.join(", ")),
        });
    }
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true);
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        findings.invalid.push(FieldCause { field: join(path, name), message: "Required value".into() });
                    }
                }
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_path = join(path, &key);
                if root && key == "metadata" {
                    continue;
                }
                let child_schema = properties.and_then(|p| p.get(&key)).or(additional.filter(|a| a.is_object()));
                match child_schema {
                    Some(child_schema) => {
                        if let Some(child) = map.get_mut(&key) {
                            walk(child_schema, child, &child_path, prune, findings, false);
                        }
                    }
                    None if preserve || additional == Some(&Value::Bool(true)) => {}
                    None if properties.is_none() && additional.is_none() && schema.get("type").is_none() => {}
                    None => {
                        findings.unknown.push(child_path);
                        if prune {
                            map.remove(&key);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(item_schema, item, &format!("{path}[{i}]"), prune, findings, false);
                }
            }
        }
        _ => {}
    }
}

/// The name OpenAPI documents give the kind's schema.
pub fn definition_name(kind: Kind) -> String {
    match kind {
        Kind::Secret => "io.k8s.api.core.v1.Secret".into(),
        other => format!("io.k8s.servicecatalog.v1beta1.{}", other.as_str()),
    }
}

fn gvk(kind: Kind) -> Value {
    let (group, version) = match kind {
        Kind::Secret => ("", "v1"),
        _ => (super::GROUP, super::VERSION),
    };
    json!({"group": group, "version": version, "kind": kind.as_str()})
}

/// The schema of a kind as an OpenAPI definition: the CRD's schema, with the group-version-kind
/// `kubectl explain` looks for.
fn definition(kind: Kind) -> Value {
    let mut schema = info(kind).schema.clone();
    if let Some(map) = schema.as_object_mut() {
        map.insert("x-kubernetes-group-version-kind".into(), json!([gvk(kind)]));
        map.entry("type").or_insert(json!("object"));
    }
    schema
}

fn list_definition(kind: Kind, reference: &str) -> Value {
    let mut list_gvk = gvk(kind);
    list_gvk["kind"] = json!(format!("{}List", kind.as_str()));
    json!({
        "description": format!("A list of {}.", kind.plural()),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "items": {"type": "array", "items": {"$ref": format!("{reference}{}", definition_name(kind))}}
        },
        "x-kubernetes-group-version-kind": [list_gvk]
    })
}

fn query_parameter(name: &str, description: &str, v3: bool) -> Value {
    if v3 {
        json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
    } else {
        json!({"name": name, "in": "query", "description": description, "type": "string", "uniqueItems": true})
    }
}

/// The operations on one kind's paths, with the parameters kubectl probes for (`fieldValidation`
/// tells it the server validates fields itself, so it skips client-side validation).
fn paths_for(kind: Kind, v3: bool, reference: &str) -> Vec<(String, Value)> {
    let prefix = match kind {
        Kind::Secret => "/api/v1".to_string(),
        _ => format!("/apis/{}/{}", super::GROUP, super::VERSION),
    };
    let plural = kind.plural();
    let (collection, item) = if kind.namespaced() {
        (
            format!("{prefix}/namespaces/{{namespace}}/{plural}"),
            format!("{prefix}/namespaces/{{namespace}}/{plural}/{{name}}"),
        )
    } else {
        (format!("{prefix}/{plural}"), format!("{prefix}/{plural}/{{name}}"))
    };
    let object_ref = json!({"$ref": format!("{reference}{}", definition_name(kind))});
    let list_ref = json!({"$ref": format!("{reference}{}List", definition_name(kind))});
    let response = |schema: &Value| {
        if v3 {
            json!({"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}})
        } else {
            json!({"200": {"description": "OK", "schema": schema}})
        }
    };
    let write_params: Vec<Value> = [
        ("dryRun", "When present, indicates that modifications should not be persisted (All)."),
        ("fieldManager", "A name associated with the actor or entity that is making these changes."),
        ("fieldValidation", "Ignore, Warn or Strict: what to do with unknown or duplicate fields."),
    ]
    .iter()
    .map(|(n, d)| query_parameter(n, d, v3))
    .collect();
    let op = |action: &str, id: &str, params: &[Value], schema: &Value| {
        json!({
            "operationId": format!("{id}{}", kind.as_str()),
            "parameters": params,
            "responses": response(schema),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk(kind),
        })
    };
    let mut scope: Vec<Value> = vec![];
    if kind.namespaced() {
        scope.push(if v3 {
            json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}})
        } else {
            json!({"name": "namespace", "in": "path", "required": true, "type": "string"})
        });
    }
    let mut named = scope.clone();
    named.push(if v3 {
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}})
    } else {
        json!({"name": "name", "in": "path", "required": true, "type": "string"})
    });
    let collection_ops = json!({
        "get": op("list", "list", &[], &list_ref),
        "post": op("post", "create", &write_params, &object_ref),
        "parameters": scope,
    });
    let item_ops = json!({
        "get": op("get", "read", &[], &object_ref),
        "put": op("put", "replace", &write_params, &object_ref),
        "patch": op("patch", "patch", &write_params, &object_ref),
        "delete": op("delete", "delete", &write_params[..1], &object_ref),
        "parameters": named,
    });
    let mut paths = vec![(collection, collection_ops), (item.clone(), item_ops)];
    if kind != Kind::Secret {
        let status_ops = json!({
            "get": op("get", "readStatus", &[], &object_ref),
            "put": op("put", "replaceStatus", &write_params, &object_ref),
            "patch": op("patch", "patchStatus", &write_params, &object_ref),
            "parameters": named,
        });
        paths.push((format!("{item}/status"), status_ops));
    }
    paths
}

fn catalog_kinds() -> impl Iterator<Item = Kind> {
    Kind::ALL.into_iter().filter(|k| *k != Kind::Secret)
}

/// `/openapi/v2`: every kind the API serves, in one Swagger document.
pub fn openapi_v2() -> Value {
    let reference = "#/definitions/";
    let mut definitions = Map::new();
    let mut paths = Map::new();
    for kind in Kind::ALL {
        definitions.insert(definition_name(kind), definition(kind));
        definitions.insert(format!("{}List", definition_name(kind)), list_definition(kind, reference));
        paths.extend(paths_for(kind, false, reference));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Quartermaster (servicecatalog.k8s.io)", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "definitions": definitions,
    })
}

/// `/openapi/v3/<group path>`: one group-version's document.
pub fn openapi_v3(core: bool) -> Value {
    let reference = "#/components/schemas/";
    let kinds: Vec<Kind> = if core { vec![Kind::Secret] } else { catalog_kinds().collect() };
    let mut schemas = Map::new();
    let mut paths = Map::new();
    for kind in kinds {
        schemas.insert(definition_name(kind), definition(kind));
        schemas.insert(format!("{}List", definition_name(kind)), list_definition(kind, reference));
        paths.extend(paths_for(kind, true, reference));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Quartermaster (servicecatalog.k8s.io)", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_schema_and_columns() {
        for kind in Kind::ALL {
            let info = info(kind);
            assert!(info.schema.get("properties").is_some(), "{kind}");
            assert!(info.columns.iter().any(|c| c.name == "Age"), "{kind}");
        }
        assert_eq!(info(Kind::ServiceInstance).short_names, ["si"]);
        assert!(info(Kind::ServiceInstance).categories.contains(&"servicecatalog".to_string()));
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_found_and_pruned() {
        let mut object = json!({
            "apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceInstance",
            "metadata": {"name": "a", "bogus": 1},
            "spec": {"clusterServicePlanExternalName": 5, "parameters": {"anything": {"goes": true}}, "colour": "red"},
        });
        let findings = check(Kind::ServiceInstance, &mut object, false);
        assert_eq!(findings.unknown, ["metadata.bogus", "spec.colour"]);
        assert_eq!(findings.invalid.len(), 1);
        assert_eq!(findings.invalid[0].field, "spec.clusterServicePlanExternalName");
        check(Kind::ServiceInstance, &mut object, true);
        assert!(object["spec"].get("colour").is_none());
        assert_eq!(object["spec"]["parameters"]["anything"]["goes"], true);
    }

    #[test]
    fn openapi_documents_carry_group_version_kinds() {
        let v3 = openapi_v3(false);
        let si = &v3["components"]["schemas"]["io.k8s.servicecatalog.v1beta1.ServiceInstance"];
        assert_eq!(si["x-kubernetes-group-version-kind"][0]["kind"], "ServiceInstance");
        let patch =
            &v3["paths"]["/apis/servicecatalog.k8s.io/v1beta1/namespaces/{namespace}/serviceinstances/{name}"]["patch"];
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
        assert!(openapi_v2()["definitions"]["io.k8s.api.core.v1.Secret"].is_object());
    }
}
