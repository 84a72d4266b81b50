//! Checks on a parsed catalog: plan schemas (size, external `$ref`, meta-schema) and duplicate ids
//! and names. Each finding becomes a [`CatalogProblem`] placed on the service or plan concerned.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::catalog::{CatalogProblem, Plan, SchemaSlot, Service, Severity, plan_label, problem_at, service_label};

/// The largest schema accepted, serialized (OSB platforms commonly refuse larger ones).
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// How many meta-schema violations one problem message lists.
const MAX_LISTED_VIOLATIONS: usize = 3;

/// Checks the three schema slots of a plan. Schemas that are too large, not objects, or that point
/// outside themselves with `$ref` are refused (the slot is emptied, an error recorded); schemas that
/// break their meta-schema are kept with a warning, since real brokers serve such schemas and forms
/// can still be drawn from them.
pub(crate) fn check_plan_schemas(
    plan: &mut Plan,
    label: &str,
    at: &CatalogProblem,
    problems: &mut Vec<CatalogProblem>,
) {
    for slot in SchemaSlot::ALL {
        let Some(schema) = plan.schema(slot) else { continue };
        let place = format!("{label}, {}", slot.label());
        let problem =
            |severity, message: String| CatalogProblem { severity, schema: Some(slot), message, ..at.clone() };
        match check_schema(schema) {
            SchemaVerdict::Accepted => {}
            SchemaVerdict::Warned(reason) => problems.push(problem(Severity::Warning, format!("{place}: {reason}"))),
            SchemaVerdict::Refused(reason) => {
                problems.push(problem(Severity::Error, format!("{place}: {reason}; the schema was refused")));
                plan.drop_schema(slot);
            }
        }
    }
}

/// What [`check_schema`] decided about one schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaVerdict {
    Accepted,
    /// Usable, with a caveat for people (e.g. it breaks its meta-schema).
    Warned(String),
    /// Not to be used at all.
    Refused(String),
}

/// Checks one plan parameter schema: size, external references, then its meta-schema (draft-04
/// unless `$schema` names another draft).
pub fn check_schema(schema: &Value) -> SchemaVerdict {
    if !schema.is_object() {
        return SchemaVerdict::Refused(format!("a schema must be a JSON object, this one is {}", kind(schema)));
    }
    if mentions(schema, super::catalog::TOO_DEEP) {
        return SchemaVerdict::Refused(format!(
            "it nests deeper than a catalog may ({} levels of objects and arrays in all)",
            super::catalog::MAX_NESTING
        ));
    }
    let size = serde_json::to_vec(schema).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return SchemaVerdict::Refused(format!("it is {size} bytes, more than the limit of {MAX_SCHEMA_BYTES} bytes"));
    }
    let mut external = Vec::new();
    find_external_refs(schema, "", &mut external);
    if let Some((pointer, target)) = external.first() {
        let more = if external.len() > 1 { format!(" (and {} more)", external.len() - 1) } else { String::new() };
        return SchemaVerdict::Refused(format!(
            "it refers outside itself with $ref {target:?} at {}{more}; only references within the schema (\"#…\") are allowed",
            if pointer.is_empty() { "the root" } else { pointer }
        ));
    }
    let draft = match schema.get("$schema") {
        None => jsonschema::Draft::Draft4,
        Some(Value::String(uri)) => match draft_for(uri) {
            Some(draft) => draft,
            None => {
                return SchemaVerdict::Warned(format!(
                    "its $schema {uri:?} is not a JSON Schema draft this portal knows; it was not checked"
                ));
            }
        },
        Some(other) => return SchemaVerdict::Warned(format!("its $schema is {} instead of a URI", kind(other))),
    };
    let validator = meta_validator(draft);
    let violations: Vec<String> = validator
        .iter_errors(schema)
        .take(MAX_LISTED_VIOLATIONS + 1)
        .map(|e| {
            let path = e.instance_path().to_string();
            format!("at {}: {e}", if path.is_empty() { "the root".to_string() } else { path })
        })
        .collect();
    if !violations.is_empty() {
        let shown = violations.iter().take(MAX_LISTED_VIOLATIONS).cloned().collect::<Vec<_>>().join("; ");
        let more = if violations.len() > MAX_LISTED_VIOLATIONS { "; …" } else { "" };
        return SchemaVerdict::Warned(format!("it is not a valid {} schema ({shown}{more})", draft_name(draft)));
    }
    if let Err(e) = jsonschema::options().with_draft(draft).build(schema) {
        return SchemaVerdict::Warned(format!("parameters cannot be checked against it: {e}"));
    }
    SchemaVerdict::Accepted
}

/// Whether `needle` is one of the strings in `value` (a value or a key).
fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s == needle,
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.iter().any(|(k, v)| k == needle || mentions(v, needle)),
        _ => false,
    }
}

fn meta_validator(draft: jsonschema::Draft) -> jsonschema::meta::MetaValidator<'static> {
    match draft {
        jsonschema::Draft::Draft6 => jsonschema::draft6::meta::validator(),
        jsonschema::Draft::Draft7 => jsonschema::draft7::meta::validator(),
        jsonschema::Draft::Draft201909 => jsonschema::draft201909::meta::validator(),
        jsonschema::Draft::Draft202012 => jsonschema::draft202012::meta::validator(),
        _ => jsonschema::draft4::meta::validator(),
    }
}

fn draft_for(uri: &str) -> Option<jsonschema::Draft> {
    let uri = uri.trim_end_matches('#').trim_start_matches("https://").trim_start_matches("http://");
    match uri {
        "json-schema.org/draft-04/schema" | "json-schema.org/schema" => Some(jsonschema::Draft::Draft4),
        "json-schema.org/draft-06/schema" => Some(jsonschema::Draft::Draft6),
        "json-schema.org/draft-07/schema" => Some(jsonschema::Draft::Draft7),
        "json-schema.org/draft/2019-09/schema" => Some(jsonschema::Draft::Draft201909),
        "json-schema.org/draft/2020-12/schema" => Some(jsonschema::Draft::Draft202012),
        _ => None,
    }
}

fn draft_name(draft: jsonschema::Draft) -> &'static str {
    match draft {
        jsonschema::Draft::Draft6 => "draft-06",
        jsonschema::Draft::Draft7 => "draft-07",
        jsonschema::Draft::Draft201909 => "draft 2019-09",
        jsonschema::Draft::Draft202012 => "draft 2020-12",
        _ => "draft-04",
    }
}

/// Collects `$ref`s that do not start with `#` (anything else would be fetched from elsewhere).
fn find_external_refs(value: &Value, pointer: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                if key == "$ref"
                    && let Value::String(target) = child
                    && !target.starts_with('#')
                {
                    found.push((child_pointer.clone(), target.clone()));
                }
                find_external_refs(child, &child_pointer, found);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                find_external_refs(child, &format!("{pointer}/{i}"), found);
            }
        }
        _ => {}
    }
}

fn kind(value: &Value) -> &'static str {
    super::catalog::json_kind(value)
}

/// Drops services and plans that repeat an id or name (the first one wins) or have an empty id or
/// name, and records why.
pub(crate) fn check_catalog(
    parsed: Vec<(usize, (Service, Vec<usize>))>,
    problems: &mut Vec<CatalogProblem>,
) -> Vec<Service> {
    let mut service_ids: HashMap<String, String> = HashMap::new();
    let mut service_names: HashSet<String> = HashSet::new();
    // Plan ids must be unique in the whole catalog: the platform refers to a plan by id alone.
    let mut plan_ids: HashMap<String, String> = HashMap::new();
    let mut kept = Vec::with_capacity(parsed.len());
    for (index, (mut service, plan_indexes)) in parsed {
        let label = service_label(index, Some(&service.name));
        let at = CatalogProblem {
            service_id: Some(service.id.clone()),
            service_name: Some(service.name.clone()),
            ..problem_at(index, None, None)
        };
        let refuse =
            |message: String| CatalogProblem { message: format!("{message}; the service was skipped"), ..at.clone() };
        if service.id.is_empty() || service.name.is_empty() {
            problems.push(refuse(format!("{label}: an empty id or name")));
            continue;
        }
        if let Some(first) = service_ids.get(&service.id) {
            problems.push(refuse(format!("{label}: its id {:?} is already used by service {first:?}", service.id)));
            continue;
        }
        if !service_names.insert(service.name.clone()) {
            problems.push(refuse(format!("{label}: another service already has this name")));
            continue;
        }
        service_ids.insert(service.id.clone(), service.name.clone());

        let mut plan_names: HashSet<String> = HashSet::new();
        let plans = std::mem::take(&mut service.plans);
        for (plan, plan_index) in plans.into_iter().zip(plan_indexes) {
            let plan_label = format!("{label}, {}", plan_label(plan_index, Some(&plan.name)));
            let refuse = |message: String| CatalogProblem {
                plan_index: Some(plan_index),
                plan_id: Some(plan.id.clone()),
                plan_name: Some(plan.name.clone()),
                message: format!("{plan_label}: {message}; the plan was skipped"),
                ..at.clone()
            };
            if plan.id.is_empty() || plan.name.is_empty() {
                problems.push(refuse("an empty id or name".into()));
            } else if let Some(first) = plan_ids.get(&plan.id) {
                problems.push(refuse(format!("its id {:?} is already used by {first}", plan.id)));
            } else if !plan_names.insert(plan.name.clone()) {
                problems.push(refuse("another plan of this service already has this name".into()));
            } else {
                plan_ids.insert(plan.id.clone(), plan_label);
                service.plans.push(plan);
            }
        }
        if service.plans.is_empty() {
            problems.push(CatalogProblem {
                severity: Severity::Warning,
                message: format!("{label}: no usable plan"),
                ..at.clone()
            });
        }
        kept.push(service);
    }
    kept
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn small_internal_draft4_schemas_are_accepted() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "definitions": {"gb": {"type": "integer", "minimum": 1}},
            "properties": {"size": {"$ref": "#/definitions/gb"}, "_controlsOrder": {"type": "string"}},
            "_controlsOrder": ["size"]
        });
        assert_eq!(check_schema(&schema), SchemaVerdict::Accepted);
    }

    #[test]
    fn external_refs_are_refused_with_their_place() {
        let schema = json!({"type": "object", "properties": {"a": {"$ref": "https://example.org/s.json"}}});
        let SchemaVerdict::Refused(reason) = check_schema(&schema) else { panic!("accepted") };
        assert!(reason.contains("/properties/a/$ref"), "{reason}");
        assert!(reason.contains("https://example.org/s.json"), "{reason}");
    }

    #[test]
    fn oversized_schemas_are_refused() {
        let big = "x".repeat(MAX_SCHEMA_BYTES);
        let SchemaVerdict::Refused(reason) = check_schema(&json!({"description": big})) else { panic!("accepted") };
        assert!(reason.contains("65536"), "{reason}");
    }

    #[test]
    fn meta_schema_violations_are_warnings_naming_the_place() {
        let schema = json!({"type": "object", "properties": {"db": {"type": "Database"}}});
        let SchemaVerdict::Warned(reason) = check_schema(&schema) else { panic!("not warned") };
        assert!(reason.contains("draft-04"), "{reason}");
        assert!(reason.contains("/properties/db/type"), "{reason}");
    }

    #[test]
    fn non_objects_and_unknown_drafts() {
        assert!(matches!(check_schema(&json!([1])), SchemaVerdict::Refused(_)));
        assert!(matches!(check_schema(&json!({"$schema": "urn:mine"})), SchemaVerdict::Warned(_)));
        assert_eq!(
            check_schema(&json!({"$schema": "https://json-schema.org/draft/2020-12/schema"})),
            SchemaVerdict::Accepted
        );
    }
}
