//! The built-in broker's catalog: builders for services and plans, the per-version view older
//! clients get, and the "huge catalog" fault.

use serde_json::{Map, Value, json};

use crate::osb::catalog::{
    Catalog, Cost, InputParameters, MaintenanceInfo, Plan, PlanMetadata, Schemas, Service, ServiceBindingSchemas,
    ServiceInstanceSchemas, ServiceMetadata,
};

use super::{icons, services};

/// The categories the portal can filter by: every service has one, as its first tag and as
/// `metadata.category` (its other tags may name further categories: Kafka is also `messaging`).
pub const CATEGORIES: [&str; 7] = ["storage", "sql", "nosql", "streaming", "messaging", "compute", "cache"];

/// The full OSB 2.17 catalog of a broker reachable at `public_url` (icons are absolute URLs under it).
pub fn catalog(public_url: &str) -> Catalog {
    let mut services = services::all();
    for service in &mut services {
        if let Some(metadata) = service.metadata.as_mut() {
            metadata.image_url = Some(icons::url(public_url, &service.name));
        }
    }
    Catalog { services, extra: Map::new() }
}

/// The catalog as a client announcing OSB `2.<minor>` may see it: fields its version does not
/// define are left out.
pub fn catalog_json_for(catalog: &Catalog, minor: u32) -> Value {
    let mut value = serde_json::to_value(catalog).unwrap_or_else(|_| json!({"services": []}));
    if let Some(services) = value.get_mut("services").and_then(Value::as_array_mut) {
        for service in services {
            strip_service(service, minor);
        }
    }
    value
}

fn strip_service(service: &mut Value, minor: u32) {
    let Some(object) = service.as_object_mut() else { return };
    // Which version added what: the OSB spec's release notes (2.14: fetching instances and
    // bindings; 2.15: context updates, plan_updateable on plans, the polling timeout and
    // maintenance_info with its description; 2.17: binding rotation).
    if minor < 14 {
        object.remove("instances_retrievable");
        object.remove("bindings_retrievable");
    }
    if minor < 15 {
        object.remove("allow_context_updates");
    }
    if let Some(plans) = object.get_mut("plans").and_then(Value::as_array_mut) {
        for plan in plans.iter_mut().filter_map(Value::as_object_mut) {
            if minor < 15 {
                plan.remove("maintenance_info");
                plan.remove("maximum_polling_duration");
                plan.remove("plan_updateable");
            }
            if minor < 17 {
                plan.remove("binding_rotatable");
            }
        }
    }
}

/// A catalog of several megabytes: the real services, repeated under new ids and names.
pub fn huge_catalog(catalog: &Catalog, copies: usize) -> Catalog {
    let mut services = Vec::with_capacity(catalog.services.len() * copies);
    for copy in 0..copies {
        for service in &catalog.services {
            let mut service = service.clone();
            service.id = format!("{}-copy-{copy}", service.id);
            service.name = format!("{}-copy-{copy}", service.name);
            for plan in &mut service.plans {
                plan.id = format!("{}-copy-{copy}", plan.id);
            }
            services.push(service);
        }
    }
    Catalog { services, extra: Map::new() }
}

/// A service's display data.
pub struct ServiceSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub long_description: &'static str,
    /// One of [`CATEGORIES`].
    pub category: &'static str,
    /// More tags (technology, family): `hadoop`, `kafka`, `batch`, …
    pub tags: &'static [&'static str],
    pub documentation_url: &'static str,
    pub bindable: bool,
}

impl ServiceSpec {
    pub fn build(self, plans: Vec<Plan>) -> Service {
        Service {
            id: self.id.into(),
            name: self.name.into(),
            description: self.description.into(),
            tags: std::iter::once(&self.category)
                .chain(self.tags.iter().filter(|t| **t != self.category))
                .map(|t| t.to_string())
                .collect(),
            requires: Vec::new(),
            bindable: self.bindable,
            instances_retrievable: Some(true),
            bindings_retrievable: Some(true),
            allow_context_updates: Some(true),
            plan_updateable: Some(true),
            metadata: Some(ServiceMetadata {
                display_name: Some(self.display_name.into()),
                // Set by `catalog()`, which knows the broker's public URL.
                image_url: None,
                long_description: Some(self.long_description.into()),
                provider_display_name: Some("Quartermaster capability center".into()),
                documentation_url: Some(self.documentation_url.into()),
                support_url: Some("mailto:platform-team@example.com".into()),
                extra: Map::from_iter([("category".to_string(), Value::from(self.category))]),
            }),
            dashboard_client: None,
            plans,
            extra: Map::new(),
        }
    }
}

/// A plan's data.
pub struct PlanSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub bullets: &'static [&'static str],
    /// Monthly price in USD; `None` for a free plan.
    pub monthly_usd: Option<f64>,
    pub create: Value,
    pub update: Value,
    pub bind: Option<Value>,
    pub maintenance: (&'static str, &'static str),
}

impl PlanSpec {
    pub fn build(self) -> Plan {
        let costs = self
            .monthly_usd
            .map(|usd| vec![Cost { amount: [("usd".to_string(), usd)].into_iter().collect(), unit: "MONTHLY".into() }])
            .unwrap_or_default();
        Plan {
            id: self.id.into(),
            name: self.name.into(),
            description: self.description.into(),
            metadata: Some(PlanMetadata {
                display_name: Some(self.display_name.into()),
                bullets: self.bullets.iter().map(|b| b.to_string()).collect(),
                costs,
                extra: Map::new(),
            }),
            free: Some(self.monthly_usd.is_none()),
            bindable: None,
            binding_rotatable: Some(false),
            plan_updateable: Some(true),
            schemas: Some(Schemas {
                service_instance: Some(ServiceInstanceSchemas {
                    create: InputParameters::schema(self.create),
                    update: InputParameters::schema(self.update),
                    extra: Map::new(),
                }),
                service_binding: self
                    .bind
                    .map(|bind| ServiceBindingSchemas { create: InputParameters::schema(bind), extra: Map::new() }),
                extra: Map::new(),
            }),
            maximum_polling_duration: Some(3600),
            maintenance_info: Some(MaintenanceInfo {
                version: self.maintenance.0.into(),
                description: Some(self.maintenance.1.into()),
                extra: Map::new(),
            }),
            extra: Map::new(),
        }
    }
}

/// A draft-04 object schema.
pub fn object_schema(title: &str, properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut schema = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "title": title,
        "properties": properties.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>(),
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// A bounded integer with its unit in the title, e.g. "HDFS storage (GB)".
pub fn integer(title: &str, description: &str, minimum: i64, maximum: i64, default: i64) -> Value {
    json!({"type": "integer", "title": title, "description": description,
           "minimum": minimum, "maximum": maximum, "default": default})
}

/// The same bounded integer without a default (update schemas: absent means unchanged).
pub fn integer_no_default(title: &str, description: &str, minimum: i64, maximum: i64) -> Value {
    json!({"type": "integer", "title": title, "description": description, "minimum": minimum, "maximum": maximum})
}

pub fn choice(title: &str, description: &str, values: &[&str], default: &str) -> Value {
    json!({"type": "string", "title": title, "description": description, "enum": values, "default": default})
}

pub fn name_pattern(title: &str, description: &str) -> Value {
    json!({"type": "string", "title": title, "description": description,
           "pattern": "^[a-z][a-z0-9_]{0,62}$", "maxLength": 63})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osb::{Severity, parse_catalog};

    #[test]
    fn the_catalog_passes_the_clients_own_checks() {
        let body = serde_json::to_vec(&catalog("http://127.0.0.1:8090")).unwrap();
        let parsed = parse_catalog(&body).unwrap();
        assert!(parsed.problems.is_empty(), "{:#?}", parsed.problems);
        assert!(parsed.catalog.services.len() >= 9);
        for service in &parsed.catalog.services {
            assert!(service.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            for plan in &service.plans {
                assert!(plan.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            }
        }
        let _ = Severity::Error;
    }

    #[test]
    fn every_service_has_a_category_tags_and_an_absolute_icon_url() {
        for service in catalog("https://qm.example.com/broker").services {
            assert!(CATEGORIES.contains(&service.tags[0].as_str()), "{}: the category comes first", service.name);
            assert!(service.tags.len() >= 3, "{}: {:?}", service.name, service.tags);
            let unique: std::collections::HashSet<_> = service.tags.iter().collect();
            assert_eq!(unique.len(), service.tags.len(), "{}: {:?}", service.name, service.tags);
            let metadata = service.metadata.expect("metadata");
            assert_eq!(metadata.extra["category"], service.tags[0].as_str());
            assert_eq!(
                metadata.image_url.as_deref(),
                Some(format!("https://qm.example.com/broker/icons/{}.svg", service.name).as_str())
            );
        }
    }

    #[test]
    fn older_clients_do_not_see_newer_fields() {
        let catalog = catalog("http://127.0.0.1:8090");
        let v13 = catalog_json_for(&catalog, 13).to_string();
        assert!(!v13.contains("maintenance_info"));
        assert!(!v13.contains("maximum_polling_duration"));
        assert!(!v13.contains("instances_retrievable"));
        let v17 = catalog_json_for(&catalog, 17).to_string();
        assert!(v17.contains("maintenance_info") && v17.contains("maximum_polling_duration"));
    }
}
