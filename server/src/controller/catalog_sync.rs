//! A broker's catalog as the class and plan objects it should produce. Pure.

use std::collections::BTreeMap;

use app::model::{Kind, validate_dns1123_label, validate_dns1123_subdomain};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::osb::catalog::{ParsedCatalog, SchemaSlot, Severity};

/// Where a broker's classes and plans live: cluster-wide, or in the broker's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Cluster,
    Namespace(String),
}

impl Scope {
    pub fn broker_kind(&self) -> Kind {
        if *self == Scope::Cluster { Kind::ClusterServiceBroker } else { Kind::ServiceBroker }
    }
    pub fn class_kind(&self) -> Kind {
        if *self == Scope::Cluster { Kind::ClusterServiceClass } else { Kind::ServiceClass }
    }
    pub fn plan_kind(&self) -> Kind {
        if *self == Scope::Cluster { Kind::ClusterServicePlan } else { Kind::ServicePlan }
    }
    pub fn namespace(&self) -> &str {
        match self {
            Scope::Cluster => "",
            Scope::Namespace(ns) => ns,
        }
    }
    /// `clusterServiceBrokerName` or `serviceBrokerName`.
    pub fn broker_field(&self) -> &'static str {
        if *self == Scope::Cluster { "clusterServiceBrokerName" } else { "serviceBrokerName" }
    }
    pub fn class_ref_field(&self) -> &'static str {
        if *self == Scope::Cluster { "clusterServiceClassRef" } else { "serviceClassRef" }
    }
    /// Label naming the broker of a class or plan.
    pub fn broker_label(&self) -> &'static str {
        if *self == Scope::Cluster {
            "servicecatalog.k8s.io/spec.clusterServiceBrokerName"
        } else {
            "servicecatalog.k8s.io/spec.serviceBrokerName"
        }
    }
    /// Label naming the class of a plan.
    pub fn class_label(&self) -> &'static str {
        if *self == Scope::Cluster {
            "servicecatalog.k8s.io/spec.clusterServiceClassRef.name"
        } else {
            "servicecatalog.k8s.io/spec.serviceClassRef.name"
        }
    }
}

pub const EXTERNAL_NAME_LABEL: &str = "servicecatalog.k8s.io/spec.externalName";

fn short_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// An object name for an OSB id: the id itself when it is a valid name (as upstream did), else a
/// sanitised form with a hash of the id, so distinct ids never collide.
pub fn object_name(external_id: &str) -> String {
    if validate_dns1123_subdomain(external_id).is_ok() {
        return external_id.to_string();
    }
    let mut cleaned: String = external_id
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' { c } else { '-' })
        .collect();
    cleaned.truncate(200);
    let cleaned = cleaned.trim_matches(|c: char| c == '-' || c == '.');
    let hash = short_hash(external_id);
    if cleaned.is_empty() { format!("x-{hash}") } else { format!("{cleaned}-{hash}") }
}

/// A label value for any string: itself when valid (≤ 63 characters), else a hash.
pub fn label_value(s: &str) -> String {
    let valid = s.len() <= 63
        && (s.is_empty()
            || (s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && s.starts_with(|c: char| c.is_ascii_alphanumeric())
                && s.ends_with(|c: char| c.is_ascii_alphanumeric())));
    if valid { s.to_string() } else { format!("h-{}", short_hash(s)) }
}

/// The class and plan objects a catalog should produce, keyed by object name, with each
/// plan's problems (for its status).
#[derive(Debug, Default)]
pub struct Desired {
    pub classes: BTreeMap<String, Value>,
    pub plans: BTreeMap<String, (Value, Vec<String>)>,
    /// Problems not tied to one plan (services dropped, duplicate service ids, …).
    pub broker_problems: Vec<(String, String)>,
}

fn insert_opt(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value.filter(|v| !v.is_null()) {
        map.insert(key.to_string(), v);
    }
}

pub fn desired(scope: &Scope, broker_name: &str, parsed: &ParsedCatalog) -> Desired {
    let mut out = Desired::default();
    let ns = scope.namespace();
    let broker_label = label_value(broker_name);
    for service in &parsed.catalog.services {
        let class_name = object_name(&service.id);
        let mut spec = Map::new();
        spec.insert("externalName".into(), json!(service.name));
        spec.insert("externalID".into(), json!(service.id));
        spec.insert("description".into(), json!(service.description));
        spec.insert("bindable".into(), json!(service.bindable));
        spec.insert("bindingRetrievable".into(), json!(service.bindings_retrievable.unwrap_or(false)));
        spec.insert("instancesRetrievable".into(), json!(service.instances_retrievable.unwrap_or(false)));
        spec.insert("planUpdatable".into(), json!(service.plan_updateable.unwrap_or(false)));
        if service.allow_context_updates == Some(true) {
            spec.insert("allowContextUpdates".into(), json!(true));
        }
        insert_opt(&mut spec, "externalMetadata", service.metadata.as_ref().and_then(|m| serde_json::to_value(m).ok()));
        if !service.tags.is_empty() {
            spec.insert("tags".into(), json!(service.tags));
        }
        if !service.requires.is_empty() {
            spec.insert("requires".into(), json!(service.requires));
        }
        spec.insert(scope.broker_field().into(), json!(broker_name));
        let mut metadata = json!({
            "name": class_name,
            "labels": {scope.broker_label(): broker_label, EXTERNAL_NAME_LABEL: label_value(&service.name)}
        });
        if !ns.is_empty() {
            metadata["namespace"] = json!(ns);
        }
        out.classes.insert(
            class_name.clone(),
            json!({"apiVersion": scope.class_kind().api_version(), "kind": scope.class_kind().as_str(), "metadata": metadata, "spec": spec}),
        );

        for plan in &service.plans {
            let plan_name = object_name(&plan.id);
            let mut spec = Map::new();
            spec.insert("externalName".into(), json!(plan.name));
            spec.insert("externalID".into(), json!(plan.id));
            spec.insert("description".into(), json!(plan.description));
            spec.insert("free".into(), json!(plan.is_free()));
            insert_opt(&mut spec, "bindable", plan.bindable.map(Value::Bool));
            insert_opt(&mut spec, "planUpdatable", plan.plan_updateable.map(Value::Bool));
            insert_opt(
                &mut spec,
                "externalMetadata",
                plan.metadata.as_ref().and_then(|m| serde_json::to_value(m).ok()),
            );
            insert_opt(&mut spec, "instanceCreateParameterSchema", plan.schema(SchemaSlot::InstanceCreate).cloned());
            insert_opt(&mut spec, "instanceUpdateParameterSchema", plan.schema(SchemaSlot::InstanceUpdate).cloned());
            insert_opt(
                &mut spec,
                "serviceBindingCreateParameterSchema",
                plan.schema(SchemaSlot::BindingCreate).cloned(),
            );
            insert_opt(
                &mut spec,
                "maintenanceInfo",
                plan.maintenance_info.as_ref().map(|m| json!({"version": m.version, "description": m.description})),
            );
            insert_opt(&mut spec, "maximumPollingDuration", plan.maximum_polling_duration.map(|d| json!(d)));
            spec.insert(scope.broker_field().into(), json!(broker_name));
            spec.insert(scope.class_ref_field().into(), json!({"name": class_name}));
            let mut metadata = json!({
                "name": plan_name,
                "labels": {
                    scope.broker_label(): broker_label,
                    scope.class_label(): label_value(&class_name),
                    EXTERNAL_NAME_LABEL: label_value(&plan.name),
                }
            });
            if !ns.is_empty() {
                metadata["namespace"] = json!(ns);
            }
            let problems = parsed.problems_for_plan(&plan.id).map(|p| p.message.clone()).collect();
            out.plans.insert(
                plan_name,
                (
                    json!({"apiVersion": scope.plan_kind().api_version(), "kind": scope.plan_kind().as_str(), "metadata": metadata, "spec": spec}),
                    problems,
                ),
            );
        }
    }
    for problem in &parsed.problems {
        let location = match (&problem.service_name, &problem.plan_name) {
            (Some(s), Some(p)) => format!("service {s:?} plan {p:?}"),
            (Some(s), None) => format!("service {s:?}"),
            (None, _) => "catalog".to_string(),
        };
        let severity = if problem.severity == Severity::Error { "error" } else { "warning" };
        out.broker_problems.push((location, format!("{severity}: {}", problem.message)));
    }
    out
}

/// Parses a Go duration (`15m0s`, `1h30m`, `500ms`, `30s`).
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(std::time::Duration::from_secs_f64(total))
}

/// Namespaces are DNS-1123 labels; a ServiceBroker's scope is its namespace.
pub fn scope_for(kind: Kind, namespace: &str) -> Option<Scope> {
    match kind {
        Kind::ClusterServiceBroker => Some(Scope::Cluster),
        Kind::ServiceBroker if validate_dns1123_label(namespace).is_ok() => {
            Some(Scope::Namespace(namespace.to_string()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osb::catalog::parse_catalog_value;

    #[test]
    fn names_come_from_ids_and_never_collide() {
        assert_eq!(object_name("hdfs-shared"), "hdfs-shared");
        assert_eq!(object_name("0f5c9a2e-0b5e-4a35-9a3c-2cbd2b9b8e11"), "0f5c9a2e-0b5e-4a35-9a3c-2cbd2b9b8e11");
        let a = object_name("Azure_SQL");
        let b = object_name("azure-sql");
        assert!(validate_dns1123_subdomain(&a).is_ok(), "{a}");
        assert_ne!(a, b);
        assert!(validate_dns1123_subdomain(&object_name("___")).is_ok());
        assert_eq!(label_value("small"), "small");
        assert!(label_value(&"x".repeat(80)).starts_with("h-"));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("15m0s"), Some(std::time::Duration::from_secs(900)));
        assert_eq!(parse_go_duration("1h30m"), Some(std::time::Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("500ms"), Some(std::time::Duration::from_millis(500)));
        assert_eq!(parse_go_duration("10x"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn a_catalog_becomes_classes_and_plans_with_their_problems() {
        let parsed = parse_catalog_value(json!({"services": [{
            "id": "svc-1", "name": "hdfs", "description": "HDFS", "bindable": true, "tags": ["hadoop"],
            "metadata": {"displayName": "HDFS"},
            "plans": [
                {"id": "plan-1", "name": "small", "description": "s", "free": false,
                 "schemas": {"service_instance": {"create": {"parameters": {"type": "object", "properties": {"x": {"$ref": "http://evil/x"}}}}}}},
                {"id": "plan-2", "name": "large", "description": "l", "maintenance_info": {"version": "1.2.0"}, "maximum_polling_duration": 600}
            ]
        }]}))
        .unwrap();
        let d = desired(&Scope::Cluster, "demo", &parsed);
        let class = &d.classes["svc-1"];
        assert_eq!(class["spec"]["externalName"], "hdfs");
        assert_eq!(class["spec"]["clusterServiceBrokerName"], "demo");
        assert_eq!(class["metadata"]["labels"][Scope::Cluster.broker_label()], "demo");
        let (large, problems) = &d.plans["plan-2"];
        assert_eq!(large["spec"]["clusterServiceClassRef"]["name"], "svc-1");
        assert_eq!(large["spec"]["maintenanceInfo"]["version"], "1.2.0");
        assert_eq!(large["spec"]["maximumPollingDuration"], 600);
        assert_eq!(large["spec"]["free"], true);
        assert!(problems.is_empty());
        let (small, problems) = &d.plans["plan-1"];
        assert!(small["spec"].get("instanceCreateParameterSchema").is_none(), "a refused schema is not offered");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(!d.broker_problems.is_empty());

        let ns = desired(&Scope::Namespace("team-a".into()), "their-broker", &parsed);
        assert_eq!(ns.classes["svc-1"]["kind"], "ServiceClass");
        assert_eq!(ns.classes["svc-1"]["metadata"]["namespace"], "team-a");
        assert_eq!(ns.plans["plan-1"].0["spec"]["serviceClassRef"]["name"], "svc-1");
    }
}
