//! The OSB 2.17 catalog (`GET /v2/catalog`) as typed wire types, and a tolerant parser.
//!
//! Every object keeps the fields this module does not name in `extra`, so nothing a broker sends is
//! lost. The parser reads the body as JSON first and then each service and each plan on its own: a
//! wrong type in one of them drops that one and becomes a [`CatalogProblem`]; the rest stays usable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::checks;

/// The whole catalog. Also what the built-in broker serves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub services: Vec<Service>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Service Offering.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    pub bindable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances_retrievable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindings_retrievable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_context_updates: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_updateable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ServiceMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_client: Option<Value>,
    #[serde(default)]
    pub plans: Vec<Plan>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The metadata conventions of the OSB profile for services (all optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Service Plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PlanMetadata>,
    /// OSB: absent means free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free: Option<bool>,
    /// Absent means the service's `bindable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bindable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_rotatable: Option<bool>,
    /// Absent means the service's `plan_updateable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_updateable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemas: Option<Schemas>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_polling_duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_info: Option<MaintenanceInfo>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Plan {
    pub fn is_free(&self) -> bool {
        self.free.unwrap_or(true)
    }

    pub fn is_bindable(&self, service: &Service) -> bool {
        self.bindable.unwrap_or(service.bindable)
    }

    pub fn is_updateable(&self, service: &Service) -> bool {
        self.plan_updateable.or(service.plan_updateable).unwrap_or(false)
    }

    pub fn schema(&self, slot: SchemaSlot) -> Option<&Value> {
        let schemas = self.schemas.as_ref()?;
        let params = match slot {
            SchemaSlot::InstanceCreate => schemas.service_instance.as_ref()?.create.as_ref()?,
            SchemaSlot::InstanceUpdate => schemas.service_instance.as_ref()?.update.as_ref()?,
            SchemaSlot::BindingCreate => schemas.service_binding.as_ref()?.create.as_ref()?,
        };
        params.parameters.as_ref()
    }

    /// Empties one schema slot (used when a schema is refused).
    pub fn drop_schema(&mut self, slot: SchemaSlot) {
        let Some(schemas) = self.schemas.as_mut() else { return };
        let params = match slot {
            SchemaSlot::InstanceCreate => schemas.service_instance.as_mut().and_then(|s| s.create.as_mut()),
            SchemaSlot::InstanceUpdate => schemas.service_instance.as_mut().and_then(|s| s.update.as_mut()),
            SchemaSlot::BindingCreate => schemas.service_binding.as_mut().and_then(|s| s.create.as_mut()),
        };
        if let Some(params) = params {
            params.parameters = None;
        }
    }
}

/// The metadata conventions of the OSB profile for plans (all optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bullets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub costs: Vec<Cost>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"amount": {"usd": 99.0}, "unit": "MONTHLY"}`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub amount: BTreeMap<String, f64>,
    pub unit: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceInfo {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Schemas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_instance: Option<ServiceInstanceSchemas>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_binding: Option<ServiceBindingSchemas>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceInstanceSchemas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<InputParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<InputParameters>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceBindingSchemas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<InputParameters>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"parameters": <JSON schema>}`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InputParameters {
    pub fn schema(schema: Value) -> Option<Self> {
        Some(Self { parameters: Some(schema), extra: Map::new() })
    }
}

/// The three places a plan carries a JSON schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaSlot {
    InstanceCreate,
    InstanceUpdate,
    BindingCreate,
}

impl SchemaSlot {
    pub const ALL: [SchemaSlot; 3] = [Self::InstanceCreate, Self::InstanceUpdate, Self::BindingCreate];

    /// Where the schema sits in the catalog JSON.
    pub fn json_path(self) -> &'static str {
        match self {
            Self::InstanceCreate => "schemas.service_instance.create.parameters",
            Self::InstanceUpdate => "schemas.service_instance.update.parameters",
            Self::BindingCreate => "schemas.service_binding.create.parameters",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::InstanceCreate => "instance create schema",
            Self::InstanceUpdate => "instance update schema",
            Self::BindingCreate => "binding create schema",
        }
    }
}

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The thing named in the location was dropped or refused (a service, a plan, a schema).
    Error,
    /// Kept as it is, but it may not work everywhere (e.g. a schema that breaks its meta-schema).
    Warning,
}

/// Something wrong in a broker's catalog, placed as precisely as the catalog allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogProblem {
    pub severity: Severity,
    /// Index of the service in `services`, if the problem is inside one.
    pub service_index: Option<usize>,
    pub service_id: Option<String>,
    pub service_name: Option<String>,
    pub plan_index: Option<usize>,
    pub plan_id: Option<String>,
    pub plan_name: Option<String>,
    /// The schema slot concerned, if any.
    pub schema: Option<SchemaSlot>,
    /// A sentence for a person, naming the place and what is wrong.
    pub message: String,
}

impl CatalogProblem {
    /// Whether this problem concerns the plan with this id.
    pub fn is_about_plan(&self, plan_id: &str) -> bool {
        self.plan_id.as_deref() == Some(plan_id)
    }
}

impl std::fmt::Display for CatalogProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A catalog as read from a broker: what is usable, and what was wrong.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedCatalog {
    /// Services and plans that parsed; plans whose schemas were refused have that slot emptied.
    pub catalog: Catalog,
    pub problems: Vec<CatalogProblem>,
}

impl ParsedCatalog {
    pub fn problems_for_plan<'a>(&'a self, plan_id: &'a str) -> impl Iterator<Item = &'a CatalogProblem> + 'a {
        self.problems.iter().filter(move |p| p.is_about_plan(plan_id))
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// Why a catalog could not be read at all (the body is not a JSON object with a `services` array).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CatalogUnreadable(pub String);

/// How deep objects and arrays may nest in a catalog body (the body itself is level 1; a plan's
/// schema starts at level 9). Deeper parts are cut off (see [`TOO_DEEP`]) before parsing, so one
/// over-deep schema costs its plan a problem instead of costing the whole catalog.
pub const MAX_NESTING: usize = 100;

/// What stands in for a part of the catalog nested deeper than [`MAX_NESTING`].
pub const TOO_DEEP: &str = "$quartermaster:nested-too-deep";

/// Replaces every object or array that would open at level `max + 1` with the string
/// [`TOO_DEEP`], in one pass over the bytes without recursion (a hostile body cannot exhaust the
/// stack). Borrows the body when nothing is that deep. Malformed JSON is left for the parser.
fn cut_deep_nesting(body: &[u8], max: usize) -> std::borrow::Cow<'_, [u8]> {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest <= max {
        return std::borrow::Cow::Borrowed(body);
    }
    let marker = format!("\"{TOO_DEEP}\"");
    let mut out = Vec::with_capacity(body.len());
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    // The level at which the part being cut off opened.
    let mut cutting: Option<usize> = None;
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            if cutting.is_none() {
                out.push(b);
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                if cutting.is_none() && depth == max {
                    cutting = Some(depth);
                    out.extend_from_slice(marker.as_bytes());
                }
                depth += 1;
                if cutting.is_some() {
                    continue;
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if let Some(level) = cutting {
                    if depth == level {
                        cutting = None;
                    }
                    continue;
                }
            }
            _ => {}
        }
        if cutting.is_none() {
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Reads a catalog body: the whole must be a JSON object with a `services` array; each service and
/// plan is then parsed and checked on its own.
pub fn parse_catalog(body: &[u8]) -> Result<ParsedCatalog, CatalogUnreadable> {
    let body = cut_deep_nesting(body, MAX_NESTING);
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| CatalogUnreadable(format!("the catalog is not valid JSON: {e}")))?;
    parse_catalog_value(value)
}

pub fn parse_catalog_value(value: Value) -> Result<ParsedCatalog, CatalogUnreadable> {
    let Value::Object(mut root) = value else {
        return Err(CatalogUnreadable("the catalog is not a JSON object".into()));
    };
    let services = match root.remove("services") {
        Some(Value::Array(services)) => services,
        Some(other) => {
            return Err(CatalogUnreadable(format!("`services` is {}, not an array", json_kind(&other))));
        }
        None => return Err(CatalogUnreadable("the catalog has no `services` array".into())),
    };
    let mut problems = Vec::new();
    let mut parsed = Vec::with_capacity(services.len());
    for (index, raw) in services.into_iter().enumerate() {
        if let Some(service) = parse_service(index, raw, &mut problems) {
            parsed.push((index, service));
        }
    }
    let services = checks::check_catalog(parsed, &mut problems);
    Ok(ParsedCatalog { catalog: Catalog { services, extra: root }, problems })
}

/// Parses one service and its plans; `None` (and a problem) when the service itself is unusable.
fn parse_service(index: usize, raw: Value, problems: &mut Vec<CatalogProblem>) -> Option<(Service, Vec<usize>)> {
    let Value::Object(mut object) = raw else {
        problems.push(CatalogProblem {
            message: format!("service #{} is {}, not an object; it was skipped", index + 1, json_kind(&raw)),
            ..problem_at(index, None, None)
        });
        return None;
    };
    let id = object.get("id").and_then(Value::as_str).map(str::to_string);
    let name = object.get("name").and_then(Value::as_str).map(str::to_string);
    let here = |p: CatalogProblem| CatalogProblem { service_id: id.clone(), service_name: name.clone(), ..p };
    let plans = object.remove("plans");
    let metadata = object.remove("metadata");
    let mut service: Service = match serde_json::from_value(Value::Object(object)) {
        Ok(service) => service,
        Err(e) => {
            problems.push(here(CatalogProblem {
                message: format!(
                    "{}: {e}; the service and its plans were skipped",
                    service_label(index, name.as_deref())
                ),
                ..problem_at(index, None, None)
            }));
            return None;
        }
    };
    service.metadata = match metadata {
        None | Some(Value::Null) => None,
        Some(raw) => match serde_json::from_value::<ServiceMetadata>(raw.clone()) {
            Ok(metadata) => Some(metadata),
            Err(e) => {
                problems.push(here(CatalogProblem {
                    severity: Severity::Warning,
                    message: format!("{}: metadata ignored: {e}", service_label(index, name.as_deref())),
                    ..problem_at(index, None, None)
                }));
                service.extra.insert("metadata".into(), raw);
                None
            }
        },
    };
    let raw_plans = match plans {
        Some(Value::Array(plans)) => plans,
        other => {
            let what = other.as_ref().map_or("missing", json_kind);
            problems.push(here(CatalogProblem {
                message: format!(
                    "{}: `plans` is {what}, not an array; the service was skipped",
                    service_label(index, name.as_deref())
                ),
                ..problem_at(index, None, None)
            }));
            return None;
        }
    };
    let mut plan_indexes = Vec::with_capacity(raw_plans.len());
    for (plan_index, raw) in raw_plans.into_iter().enumerate() {
        let before = problems.len();
        if let Some(plan) = parse_plan(index, name.as_deref(), plan_index, raw, problems) {
            service.plans.push(plan);
            plan_indexes.push(plan_index);
        }
        for p in &mut problems[before..] {
            p.service_id.clone_from(&id);
            p.service_name.clone_from(&name);
        }
    }
    Some((service, plan_indexes))
}

fn parse_plan(
    service_index: usize,
    service_name: Option<&str>,
    index: usize,
    raw: Value,
    problems: &mut Vec<CatalogProblem>,
) -> Option<Plan> {
    let at = problem_at(service_index, Some(index), None);
    let service = service_label(service_index, service_name);
    let Value::Object(mut object) = raw else {
        problems.push(CatalogProblem {
            message: format!(
                "{service}, plan #{}: {} instead of an object; the plan was skipped",
                index + 1,
                json_kind(&raw)
            ),
            ..at
        });
        return None;
    };
    let id = object.get("id").and_then(Value::as_str).map(str::to_string);
    let name = object.get("name").and_then(Value::as_str).map(str::to_string);
    let label = format!("{service}, {}", plan_label(index, name.as_deref()));
    let at = CatalogProblem { plan_id: id, plan_name: name, ..at };
    let metadata = object.remove("metadata");
    let mut plan: Plan = match serde_json::from_value(Value::Object(object)) {
        Ok(plan) => plan,
        Err(e) => {
            problems.push(CatalogProblem { message: format!("{label}: {e}; the plan was skipped"), ..at });
            return None;
        }
    };
    plan.metadata = match metadata {
        None | Some(Value::Null) => None,
        Some(raw) => match serde_json::from_value::<PlanMetadata>(raw.clone()) {
            Ok(metadata) => Some(metadata),
            Err(e) => {
                problems.push(CatalogProblem {
                    severity: Severity::Warning,
                    message: format!("{label}: metadata ignored: {e}"),
                    ..at.clone()
                });
                plan.extra.insert("metadata".into(), raw);
                None
            }
        },
    };
    checks::check_plan_schemas(&mut plan, &label, &at, problems);
    Some(plan)
}

pub(crate) fn problem_at(
    service_index: usize,
    plan_index: Option<usize>,
    schema: Option<SchemaSlot>,
) -> CatalogProblem {
    CatalogProblem {
        severity: Severity::Error,
        service_index: Some(service_index),
        service_id: None,
        service_name: None,
        plan_index,
        plan_id: None,
        plan_name: None,
        schema,
        message: String::new(),
    }
}

pub(crate) fn service_label(index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("service {name:?}"),
        None => format!("service #{}", index + 1),
    }
}

pub(crate) fn plan_label(index: usize, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("plan {name:?}"),
        None => format!("plan #{}", index + 1),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod nesting_tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> Value {
        let mut schema = json!({"type": "string"});
        for _ in 0..levels {
            schema = json!({"type": "object", "properties": {"n": schema}});
        }
        schema
    }

    fn catalog_text(deep_levels: usize) -> String {
        // serde_json itself cannot build such a deep value (its own limits), so the deep schema is
        // spliced in as text.
        let deep = "{\"type\":\"object\",\"properties\":{\"n\":".repeat(deep_levels) + "{}" + &"}}".repeat(deep_levels);
        let catalog = json!({"services": [{"id": "s1", "name": "svc", "description": "d", "bindable": false, "plans": [
            {"id": "ok", "name": "fine", "description": "d", "schemas": {"service_instance": {"create": {"parameters": nested(3)}}}},
            {"id": "deep", "name": "deep", "description": "d", "schemas": {"service_instance": {"create": {"parameters": "DEEP"}}}}
        ]}]});
        catalog.to_string().replace("\"DEEP\"", &deep)
    }

    #[test]
    fn an_over_deep_schema_costs_its_plan_not_the_catalog() {
        for levels in [200, 100_000] {
            let parsed = parse_catalog(catalog_text(levels).as_bytes()).expect("the catalog stays readable");
            let plans = &parsed.catalog.services[0].plans;
            assert_eq!(plans.len(), 2, "both plans are listed");
            assert!(plans[0].schema(SchemaSlot::InstanceCreate).is_some(), "the sound plan keeps its schema");
            assert!(plans[1].schema(SchemaSlot::InstanceCreate).is_none(), "the deep schema is refused");
            let problem = parsed.problems_for_plan("deep").next().expect("a problem on the deep plan");
            assert_eq!(problem.severity, Severity::Error);
            assert!(problem.message.contains("nests deeper"), "{}", problem.message);
            assert_eq!(parsed.problems_for_plan("ok").count(), 0);
        }
    }

    #[test]
    fn cutting_respects_strings_and_leaves_shallow_bodies_alone() {
        let shallow = br#"{"a": "[[[{{{", "b": ["\"]]", {"c": 1}]}"#;
        assert!(matches!(cut_deep_nesting(shallow, 3), std::borrow::Cow::Borrowed(_)));
        let cut = cut_deep_nesting(br#"{"a": {"b": {"c": "x]}"}, "d": [1]}, "e": "}{"}"#, 2);
        let value: Value = serde_json::from_slice(&cut).expect("still JSON");
        assert_eq!(value, json!({"a": {"b": TOO_DEEP, "d": TOO_DEEP}, "e": "}{"}));
        // A body of nothing but brackets neither overflows the stack nor parses.
        let brackets = vec![b'['; 1_000_000];
        assert!(parse_catalog(&brackets).is_err());
    }
}
