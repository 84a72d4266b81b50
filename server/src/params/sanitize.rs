//! Making a broker's schema acceptable to the `jsonschema` crate: choosing the draft, setting
//! aside what is invalid against the meta-schema and `$ref`s that cannot be followed, and saying
//! what was set aside.

use app::schema_form::pointer;
use app::schema_form::resolve::lookup;
use jsonschema::Draft;
use serde::Serialize;
use serde_json::{Map, Value};

/// A part of a plan's schema that is not valid, and was left out of the checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SchemaProblem {
    /// Where in the schema (a JSON pointer into the schema document).
    pub pointer: String,
    pub message: String,
}

/// Keywords whose value is a schema.
const SCHEMA_VALUED: &[&str] =
    &["additionalItems", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames", "items"];
/// Keywords whose value is a list of schemas.
const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "items"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAPS: &[&str] = &["properties", "patternProperties", "definitions", "dependencies"];

/// The schema as it will be compiled, the draft to compile it with, and what was set aside.
///
/// Draft 7 unless the schema uses draft-04's boolean `exclusiveMinimum/Maximum`: brokers declare
/// draft-04 but use `const`, `propertyNames` and `if/then/else`, which draft 4 would ignore; the
/// rest of draft-04 means the same in draft 7.
pub fn prepare(schema: &Value) -> (Value, Draft, Vec<SchemaProblem>) {
    let mut repaired = schema.clone();
    if let Some(map) = repaired.as_object_mut() {
        map.remove("$schema");
    }
    let mut problems = Vec::new();
    if !repaired.is_object() && !repaired.is_boolean() {
        problems.push(SchemaProblem { pointer: String::new(), message: "the schema is not an object".into() });
        repaired = Value::Object(Map::new());
    }
    let draft = if uses_boolean_exclusive(&repaired) { Draft::Draft4 } else { Draft::Draft7 };
    let snapshot = repaired.clone();
    drop_unfollowable_refs(&snapshot, &mut repaired, "", &mut problems);
    let meta = match draft {
        Draft::Draft4 => jsonschema::draft4::meta::validator(),
        _ => jsonschema::draft7::meta::validator(),
    };
    for _ in 0..super::MAX_REPAIRS {
        let found: Vec<(String, String)> =
            meta.iter_errors(&repaired).map(|e| (e.instance_path().as_str().to_string(), e.to_string())).collect();
        let Some((at, message)) = found.into_iter().next() else { break };
        if !set_aside(&mut repaired, &at) {
            break;
        }
        problems.push(SchemaProblem { pointer: at, message });
    }
    (repaired, draft, problems)
}

fn uses_boolean_exclusive(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (matches!(k.as_str(), "exclusiveMinimum" | "exclusiveMaximum") && v.is_boolean())
                || uses_boolean_exclusive(v)
        }),
        Value::Array(items) => items.iter().any(uses_boolean_exclusive),
        _ => false,
    }
}

/// Replaces `$ref`s to other documents, and to nothing, by an empty schema.
fn drop_unfollowable_refs(root: &Value, node: &mut Value, at: &str, problems: &mut Vec<SchemaProblem>) {
    match node {
        Value::Object(map) => {
            if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                if let Err(problem) = lookup(root, reference) {
                    problems.push(SchemaProblem {
                        pointer: at.to_string(),
                        message: format!("$ref {}", problem.describe()),
                    });
                    map.clear();
                    return;
                }
            } else if map.get("$ref").is_some() {
                problems.push(SchemaProblem { pointer: at.to_string(), message: "$ref is not a string".into() });
                map.clear();
                return;
            }
            for (key, child) in map.iter_mut() {
                drop_unfollowable_refs(root, child, &pointer::child(at, key), problems);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                drop_unfollowable_refs(root, child, &pointer::item(at, i), problems);
            }
        }
        _ => {}
    }
}

/// Removes the keyword a meta-schema error at `at` (a pointer into the schema) is about, or
/// empties the subschema it points at. Returns whether anything changed.
pub fn set_aside(schema: &mut Value, at: &str) -> bool {
    let tokens = pointer::tokens(at);
    // Walk down schema positions; stop at the first keyword that is not a way into subschemas.
    let mut schema_at = String::new();
    let mut i = 0;
    while i < tokens.len() {
        let keyword = tokens[i].as_str();
        let value = schema.pointer(&pointer::child(&schema_at, keyword));
        let next = tokens.get(i + 1);
        let into = if SCHEMA_MAPS.contains(&keyword) && value.is_some_and(Value::is_object) {
            next.map(|name| pointer::child(&pointer::child(&schema_at, keyword), name))
        } else if SCHEMA_LISTS.contains(&keyword) && value.is_some_and(Value::is_array) {
            next.filter(|n| n.parse::<usize>().is_ok()).map(|n| pointer::child(&pointer::child(&schema_at, keyword), n))
        } else if SCHEMA_VALUED.contains(&keyword) && value.is_some_and(|v| v.is_object() || v.is_boolean()) {
            i += 1;
            schema_at = pointer::child(&schema_at, keyword);
            continue;
        } else {
            // A plain keyword with a bad value: remove it.
            return remove_keyword(schema, &schema_at, keyword);
        };
        match into {
            Some(next_schema) => {
                schema_at = next_schema;
                i += 2;
            }
            // The error is about the whole map or list: remove that keyword.
            None => return remove_keyword(schema, &schema_at, keyword),
        }
    }
    // The error is about a whole subschema: make it accept anything.
    match schema.pointer_mut(&schema_at) {
        Some(slot) if slot != &Value::Object(Map::new()) && !schema_at.is_empty() => {
            *slot = Value::Object(Map::new());
            true
        }
        Some(Value::Object(map)) if schema_at.is_empty() && !map.is_empty() => {
            map.clear();
            true
        }
        _ => false,
    }
}

fn remove_keyword(schema: &mut Value, schema_at: &str, keyword: &str) -> bool {
    schema.pointer_mut(schema_at).and_then(Value::as_object_mut).is_some_and(|map| map.shift_remove(keyword).is_some())
}
