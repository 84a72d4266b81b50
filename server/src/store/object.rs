//! Reading and shaping the metadata of objects held as JSON.

use app::model::{Kind, validate_dns1123_label, validate_dns1123_subdomain};
use serde_json::{Map, Value, json};

use super::{FieldCause, Result, StoreError};

/// The identity of an object in the store.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub kind: Kind,
    /// `""` for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
}

pub fn meta(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

fn meta_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    object["metadata"].as_object_mut().expect("metadata was just made an object")
}

pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    meta(object).and_then(|m| m.get(field)).and_then(Value::as_str)
}

pub fn set_meta(object: &mut Value, field: &str, value: Value) {
    meta_mut(object).insert(field.to_string(), value);
}

pub fn remove_meta(object: &mut Value, field: &str) {
    meta_mut(object).remove(field);
}

pub fn name(object: &Value) -> &str {
    meta_str(object, "name").unwrap_or_default()
}

pub fn namespace(object: &Value) -> &str {
    meta_str(object, "namespace").unwrap_or_default()
}

pub fn uid(object: &Value) -> &str {
    meta_str(object, "uid").unwrap_or_default()
}

pub fn finalizers(object: &Value) -> Vec<String> {
    meta(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn is_deleting(object: &Value) -> bool {
    meta_str(object, "deletionTimestamp").is_some()
}

pub fn labels(object: &Value) -> Map<String, Value> {
    meta(object).and_then(|m| m.get("labels")).and_then(Value::as_object).cloned().unwrap_or_default()
}

/// The resourceVersion a writer claims to have read; `None` when absent (unconditional write).
pub fn claimed_resource_version(kind: Kind, object: &Value) -> Result<Option<u64>> {
    match meta(object).and_then(|m| m.get("resourceVersion")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            StoreError::invalid(
                kind,
                name(object),
                "metadata.resourceVersion",
                format!("{s:?} is not a resource version"),
            )
        }),
        Some(_) => Err(StoreError::invalid(kind, name(object), "metadata.resourceVersion", "must be a string")),
    }
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now()).to_string()
}

/// Checks the shape every stored object needs, and returns its key.
pub fn validate_for_write(kind: Kind, object: &Value) -> Result<Key> {
    let mut causes = Vec::new();
    if !object.is_object() {
        return Err(StoreError::invalid(kind, "", "", "the object must be a JSON object"));
    }
    if let Some(k) = object.get("kind").and_then(Value::as_str)
        && k != kind.as_str()
    {
        causes.push(FieldCause { field: "kind".into(), message: format!("must be {kind}, not {k:?}") });
    }
    if let Some(v) = object.get("apiVersion").and_then(Value::as_str)
        && v != kind.api_version()
    {
        causes.push(FieldCause {
            field: "apiVersion".into(),
            message: format!("must be {}, not {v:?}", kind.api_version()),
        });
    }
    let name = name(object).to_string();
    if let Err(e) = validate_dns1123_subdomain(&name) {
        causes.push(FieldCause { field: "metadata.name".into(), message: e.0 });
    }
    let namespace = namespace(object).to_string();
    if kind.namespaced() {
        if let Err(e) = validate_dns1123_label(&namespace) {
            causes.push(FieldCause { field: "metadata.namespace".into(), message: e.0 });
        }
    } else if !namespace.is_empty() {
        causes.push(FieldCause {
            field: "metadata.namespace".into(),
            message: format!("{kind} is cluster-scoped and takes no namespace"),
        });
    }
    for (field, check) in [("spec", kind != Kind::Secret), ("status", kind != Kind::Secret)] {
        if check && object.get(field).is_some_and(|v| !v.is_object() && !v.is_null()) {
            causes.push(FieldCause { field: field.into(), message: "must be an object".into() });
        }
    }
    if causes.is_empty() { Ok(Key { kind, namespace, name }) } else { Err(StoreError::Invalid { kind, name, causes }) }
}

/// Fills `apiVersion` and `kind` when a writer left them out.
pub fn fill_type_meta(kind: Kind, object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.entry("apiVersion").or_insert_with(|| Value::String(kind.api_version().to_string()));
        map.entry("kind").or_insert_with(|| Value::String(kind.as_str().to_string()));
    }
}

/// A random suffix for `generateName`, as Kubernetes makes them (5 characters, no vowels).
pub fn generated_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes.iter().take(5).map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// Applies `generateName` when `name` is empty.
pub fn apply_generate_name(object: &mut Value) {
    if name(object).is_empty()
        && let Some(prefix) = meta_str(object, "generateName").map(str::to_string)
    {
        set_meta(object, "name", Value::String(format!("{prefix}{}", generated_suffix())));
    }
}

/// Parts of an object that make up its "spec" for generation purposes: everything but
/// metadata and status, with nulls and empty lists and maps dropped (a client that writes
/// `"parametersFrom": []` has changed nothing).
pub fn spec_part(object: &Value) -> Value {
    fn prune(value: &Value) -> Option<Value> {
        match value {
            Value::Null => None,
            Value::Array(items) if items.is_empty() => None,
            Value::Object(map) => {
                let pruned: Map<String, Value> =
                    map.iter().filter_map(|(k, v)| prune(v).map(|v| (k.clone(), v))).collect();
                (!pruned.is_empty()).then_some(Value::Object(pruned))
            }
            other => Some(other.clone()),
        }
    }
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
        map.remove("apiVersion");
        map.remove("kind");
    }
    prune(&copy).unwrap_or(Value::Null)
}

pub fn generation(object: &Value) -> i64 {
    meta(object).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(0)
}

/// The finalizer that keeps instances and bindings until the broker has let go of them.
pub const CATALOG_FINALIZER: &str = "kubernetes-incubator/service-catalog";

/// Defaults the API server fills on create (as upstream's did): an OSB id for instances and
/// bindings, a binding's Secret name, and the catalog finalizer (unless the writer gave a list
/// of finalizers, even an empty one).
pub fn apply_create_defaults(kind: Kind, object: &mut Value) {
    if !matches!(kind, Kind::ServiceInstance | Kind::ServiceBinding) {
        return;
    }
    if meta(object).is_none_or(|m| !m.contains_key("finalizers")) {
        set_meta(object, "finalizers", json!([CATALOG_FINALIZER]));
    }
    if !object.get("spec").is_some_and(Value::is_object) {
        object["spec"] = json!({});
    }
    let empty = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
    if empty(object["spec"].get("externalID")) {
        object["spec"]["externalID"] = Value::String(uuid::Uuid::new_v4().to_string());
    }
    if kind == Kind::ServiceBinding && empty(object["spec"].get("secretName")) {
        object["spec"]["secretName"] = Value::String(name(object).to_string());
    }
}

/// Fields that never change once set (the OSB id the broker knows the object by).
pub fn check_immutable(kind: Kind, existing: &Value, incoming: &Value) -> Result<()> {
    if matches!(kind, Kind::ServiceInstance | Kind::ServiceBinding) {
        let before = existing.pointer("/spec/externalID").and_then(Value::as_str).unwrap_or_default();
        let after = incoming.pointer("/spec/externalID").and_then(Value::as_str).unwrap_or_default();
        if before != after {
            return Err(StoreError::invalid(kind, name(incoming), "spec.externalID", "field is immutable"));
        }
    }
    if kind == Kind::ServiceBinding {
        for field in ["instanceRef", "secretName"] {
            if existing.pointer(&format!("/spec/{field}")) != incoming.pointer(&format!("/spec/{field}")) {
                return Err(StoreError::invalid(kind, name(incoming), &format!("spec.{field}"), "field is immutable"));
            }
        }
    }
    Ok(())
}
