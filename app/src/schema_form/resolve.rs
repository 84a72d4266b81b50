//! Local `$ref` resolution and the merging of schemas that apply together (`allOf`, the schema
//! around a `oneOf` with each of its branches). Merging serves the form only: what to show and
//! which defaults to fill. The validator always checks against the schema as served.

use serde_json::{Map, Value};

/// Why a `$ref` could not be followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefProblem {
    /// Points outside the document (another file or URL); not loaded, by design.
    External(String),
    /// Points inside the document, at nothing.
    Missing(String),
    /// Leads back to itself.
    Cycle(String),
}

impl RefProblem {
    pub fn describe(&self) -> String {
        match self {
            RefProblem::External(r) => format!("refers to another document ({r}), which is not loaded"),
            RefProblem::Missing(r) => format!("refers to {r}, which the schema does not define"),
            RefProblem::Cycle(r) => format!("is recursive (through {r}) and cannot be shown as a form"),
        }
    }
}

/// Finds the target of a local reference (`#`, `#/definitions/x`, percent-encoded or not).
pub fn lookup<'r>(root: &'r Value, reference: &str) -> Result<&'r Value, RefProblem> {
    let Some(fragment) = reference.strip_prefix('#') else {
        return Err(RefProblem::External(reference.to_string()));
    };
    let decoded = percent_decode(fragment);
    if !decoded.is_empty() && !decoded.starts_with('/') {
        // A plain-name fragment (`#foo`, from an `id`): not supported, treated as missing.
        return Err(RefProblem::Missing(reference.to_string()));
    }
    root.pointer(&decoded).ok_or_else(|| RefProblem::Missing(reference.to_string()))
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Follows `$ref` until a schema without one; returns it and the references passed through.
/// `active` holds the references being expanded further up the tree: meeting one is a cycle.
pub fn follow<'r>(
    root: &'r Value,
    schema: &'r Value,
    active: &[String],
) -> Result<(&'r Value, Vec<String>), RefProblem> {
    let mut current = schema;
    let mut passed: Vec<String> = Vec::new();
    while let Some(reference) = current.get("$ref").and_then(Value::as_str) {
        if active.iter().any(|r| r == reference) || passed.iter().any(|r| r == reference) {
            return Err(RefProblem::Cycle(reference.to_string()));
        }
        passed.push(reference.to_string());
        current = lookup(root, reference)?;
    }
    Ok((current, passed))
}

/// The schema with its `allOf` members folded in (members' own refs followed, nested `allOf`s
/// flattened). Fails when the members cannot be shown as one form (conflicting types, two
/// different choices of shape).
pub fn flatten_all_of(root: &Value, schema: &Value, active: &[String]) -> Result<Value, String> {
    let Some(members) = schema.get("allOf").and_then(Value::as_array) else {
        return Ok(schema.clone());
    };
    let mut merged = schema.clone();
    if let Some(map) = merged.as_object_mut() {
        map.remove("allOf");
    }
    for member in members {
        let (target, passed) =
            follow(root, member, active).map_err(|p| format!("A part of this setting {}", p.describe()))?;
        let mut deeper: Vec<String> = active.to_vec();
        deeper.extend(passed);
        let flat = flatten_all_of(root, target, &deeper)?;
        merged = merge(&merged, &flat)?;
    }
    Ok(merged)
}

/// Both schemas apply: one schema that shows the union of their fields and the tighter of their
/// limits. `base` wins for texts (title, description) and anything else set on both.
pub fn merge(base: &Value, other: &Value) -> Result<Value, String> {
    let (Some(a), Some(b)) = (base.as_object(), other.as_object()) else {
        return match (base, other) {
            (Value::Bool(true), _) => Ok(other.clone()),
            (_, Value::Bool(true)) => Ok(base.clone()),
            _ => Err("combines schemas that allow nothing".to_string()),
        };
    };
    let mut out: Map<String, Value> = a.clone();
    for (key, theirs) in b {
        let Some(ours) = a.get(key) else {
            out.insert(key.clone(), theirs.clone());
            continue;
        };
        let merged = match key.as_str() {
            "properties" | "patternProperties" => merge_property_maps(ours, theirs)?,
            "required" => union_strings(ours, theirs),
            "type" => intersect_types(ours, theirs)?,
            "enum" => intersect_enum(ours, theirs),
            "minimum" | "minLength" | "minItems" | "minProperties" => pick_number(ours, theirs, f64::max),
            "maximum" | "maxLength" | "maxItems" | "maxProperties" => pick_number(ours, theirs, f64::min),
            "items" if ours.is_object() && theirs.is_object() => merge(ours, theirs)?,
            "additionalProperties" if ours == &Value::Bool(false) || theirs == &Value::Bool(false) => {
                Value::Bool(false)
            }
            "additionalProperties" if ours.is_object() && theirs.is_object() => merge(ours, theirs)?,
            "oneOf" | "anyOf" if ours != theirs => {
                return Err(format!("combines two different choices of shape (two \u{201c}{key}\u{201d})"));
            }
            _ => ours.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Ok(Value::Object(out))
}

fn merge_property_maps(ours: &Value, theirs: &Value) -> Result<Value, String> {
    let (Some(a), Some(b)) = (ours.as_object(), theirs.as_object()) else { return Ok(ours.clone()) };
    let mut out = a.clone();
    for (name, schema) in b {
        let merged = match a.get(name) {
            Some(existing) if existing.get("$ref").is_none() && schema.get("$ref").is_none() => {
                merge(existing, schema)?
            }
            Some(existing) => existing.clone(),
            None => schema.clone(),
        };
        out.insert(name.clone(), merged);
    }
    Ok(Value::Object(out))
}

fn union_strings(ours: &Value, theirs: &Value) -> Value {
    let mut out: Vec<Value> = ours.as_array().cloned().unwrap_or_default();
    for v in theirs.as_array().into_iter().flatten() {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Value::Array(out)
}

fn type_set(t: &Value) -> Vec<String> {
    match t {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

fn intersect_types(ours: &Value, theirs: &Value) -> Result<Value, String> {
    let a = type_set(ours);
    let b = type_set(theirs);
    let both: Vec<String> = a
        .iter()
        .filter(|t| b.contains(t) || (t.as_str() == "integer" && b.iter().any(|x| x == "number")))
        .cloned()
        .chain(b.iter().filter(|t| t.as_str() == "integer" && a.iter().any(|x| x == "number")).cloned())
        .collect();
    match both.as_slice() {
        [] => Err(format!("combines conflicting types ({} and {})", a.join("/"), b.join("/"))),
        [one] => Ok(Value::String(one.clone())),
        many => Ok(Value::Array(many.iter().cloned().map(Value::String).collect())),
    }
}

fn intersect_enum(ours: &Value, theirs: &Value) -> Value {
    match (ours.as_array(), theirs.as_array()) {
        (Some(a), Some(b)) => Value::Array(a.iter().filter(|v| b.contains(v)).cloned().collect()),
        _ => ours.clone(),
    }
}

fn pick_number(ours: &Value, theirs: &Value, pick: fn(f64, f64) -> f64) -> Value {
    match (ours.as_f64(), theirs.as_f64()) {
        (Some(a), Some(b)) => {
            let chosen = pick(a, b);
            if chosen == a { ours.clone() } else { theirs.clone() }
        }
        _ => ours.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn looks_up_local_references() {
        let root = json!({"definitions": {"a b": {"type": "string"}, "x": {"$ref": "#/definitions/y"}, "y": {"$ref": "#/definitions/x"}}});
        assert_eq!(lookup(&root, "#/definitions/a%20b"), Ok(&json!({"type": "string"})));
        assert_eq!(lookup(&root, "#"), Ok(&root));
        assert!(matches!(lookup(&root, "other.json#/x"), Err(RefProblem::External(_))));
        assert!(matches!(lookup(&root, "#/definitions/nope"), Err(RefProblem::Missing(_))));
        let start = json!({"$ref": "#/definitions/x"});
        assert!(matches!(follow(&root, &start, &[]), Err(RefProblem::Cycle(_))));
    }

    #[test]
    fn merges_all_of_members() {
        let root =
            json!({"definitions": {"named": {"properties": {"name": {"type": "string"}}, "required": ["name"]}}});
        let schema = json!({
            "type": "object",
            "allOf": [
                {"$ref": "#/definitions/named"},
                {"properties": {"size": {"type": "integer", "maximum": 10}}, "required": ["size"]},
                {"properties": {"size": {"maximum": 5}}}
            ]
        });
        let flat = flatten_all_of(&root, &schema, &[]).unwrap();
        assert_eq!(flat["required"], json!(["name", "size"]));
        assert_eq!(flat["properties"]["size"]["maximum"], json!(5));
        assert_eq!(flat["type"], json!("object"));
    }

    #[test]
    fn conflicting_types_do_not_merge() {
        assert!(merge(&json!({"type": "string"}), &json!({"type": "object"})).is_err());
        assert_eq!(merge(&json!({"type": "number"}), &json!({"type": "integer"})).unwrap()["type"], json!("integer"));
    }
}
