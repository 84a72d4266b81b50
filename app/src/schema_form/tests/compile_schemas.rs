//! Whole-schema features: references, composition, conditions, broken and hostile schemas.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

#[test]
fn local_refs_and_definitions_are_followed() {
    let model = compile(&json!({
        "definitions": {"size": {"type": "integer", "title": "Size (GB)", "minimum": 1, "maximum": 64}},
        "properties": {"disk": {"$ref": "#/definitions/size", "description": "Disk for data"}}
    }));
    let disk = field(&model, &["disk"]);
    assert_eq!(disk.widget_name(), "slider");
    assert_eq!(disk.label, "Size (GB)");
    assert_eq!(disk.help.as_deref(), Some("Disk for data"));
}

#[test]
fn cyclic_refs_become_json_with_a_note_without_hanging() {
    let started = Instant::now();
    let model = compile(&json!({
        "definitions": {
            "node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}}},
            "a": {"$ref": "#/definitions/b"},
            "b": {"$ref": "#/definitions/a"}
        },
        "properties": {"tree": {"$ref": "#/definitions/node"}, "loop": {"$ref": "#/definitions/a"}, "self": {"$ref": "#"}}
    }));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(field(&model, &["tree", "name"]).widget_name(), "text");
    let children = field(&model, &["tree", "children", "[]"]);
    assert_eq!(children.widget_name(), "JSON");
    assert!(children.note.as_deref().is_some_and(|n| n.contains("recursive")), "{:?}", children.note);
    assert_eq!(field(&model, &["loop"]).widget_name(), "JSON");
    assert_eq!(field(&model, &["self"]).widget_name(), "JSON");
    // The validator does not loop either.
    let errors =
        validate_value(&model.schema, &json!({"tree": {"children": [{"children": [{"name": 5}]}]}, "loop": 1}));
    assert_eq!(errors.at("/tree/children/0/children/0/name"), ["Must be text".to_string()]);
}

#[test]
fn exponential_shared_refs_stay_bounded() {
    let mut definitions = serde_json::Map::new();
    definitions.insert("d0".into(), json!({"type": "string"}));
    for i in 1..40 {
        let prev = format!("#/definitions/d{}", i - 1);
        definitions.insert(
            format!("d{i}"),
            json!({"type": "object", "properties": {"l": {"$ref": prev}, "r": {"$ref": prev}}}),
        );
    }
    let started = Instant::now();
    let model = compile(&json!({"definitions": definitions, "properties": {"x": {"$ref": "#/definitions/d39"}}}));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(model.walk().len() < 20_000);
}

#[test]
fn external_and_missing_refs_become_json() {
    let model = compile(&json!({"properties": {
        "ext": {"$ref": "https://example.com/schema.json#/x"},
        "gone": {"$ref": "#/definitions/nope"}
    }}));
    assert!(field(&model, &["ext"]).note.as_deref().is_some_and(|n| n.contains("another document")));
    assert!(field(&model, &["gone"]).note.as_deref().is_some_and(|n| n.contains("does not define")));
}

#[test]
fn all_of_is_merged() {
    let model = compile(&json!({
        "type": "object",
        "properties": {"foo": {"type": "string"}, "bar": {"type": "string"}},
        "allOf": [{"required": ["foo"]}, {"required": ["bar"]}, {"properties": {"baz": {"type": "integer"}}}]
    }));
    assert!(field(&model, &["foo"]).required && field(&model, &["bar"]).required);
    assert_eq!(field(&model, &["baz"]).widget_name(), "number");
    let model = compile(&json!({"properties": {"x": {"allOf": [{"type": "string"}, {"type": "object"}]}}}));
    assert_eq!(field(&model, &["x"]).widget_name(), "JSON");
}

#[test]
fn if_then_else_and_dependencies_give_conditional_fields() {
    let model = compile(&json!({
        "type": "object",
        "properties": {"tier": {"enum": ["basic", "premium"]}, "backup": {"type": "boolean"}},
        "if": {"properties": {"tier": {"const": "premium"}}, "required": ["tier"]},
        "then": {"properties": {"replicas": {"type": "integer"}}, "required": ["replicas"]},
        "else": {"properties": {"note": {"type": "string"}}},
        "dependencies": {"backup": {"properties": {"retentionDays": {"type": "integer", "title": "Retention (days)"}}}}
    }));
    let replicas = field(&model, &["replicas"]);
    assert!(replicas.required);
    assert!(matches!(replicas.condition, Some(Condition::Matches(_, true))));
    assert!(matches!(field(&model, &["note"]).condition, Some(Condition::Matches(_, false))));
    assert!(matches!(&field(&model, &["retentionDays"]).condition, Some(Condition::Present(k)) if k == "backup"));
}

#[test]
fn wrong_types_from_brokers_are_shown_by_their_other_keywords() {
    let model = compile(&json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "Database",
        "properties": {"name": {"type": "string"}, "expiryTime": {"description": "Expiry", "type": "date"}}
    }));
    assert_eq!(model.root.widget_name(), "group");
    assert!(model.root.note.as_deref().is_some_and(|n| n.contains("Database")));
    let expiry = field(&model, &["expiryTime"]);
    assert_eq!(expiry.widget_name(), "text");
    assert!(expiry.note.as_deref().is_some_and(|n| n.contains("date")));
}

#[test]
fn a_ten_thousand_value_enum_compiles_quickly() {
    let values: Vec<String> = (0..10_000).map(|i| format!("value-{i}")).collect();
    let numbers: Vec<i64> = (0..10_000).collect();
    let started = Instant::now();
    let model = compile(&json!({"properties": {"big": {"type": "string", "enum": values}, "nums": {"enum": numbers}}}));
    let errors = validate(&model, &json!({"big": "value-9999", "nums": 10_001}));
    assert!(started.elapsed() < Duration::from_secs(2));
    let FieldKind::Text(t) = &field(&model, &["big"]).kind else {
        panic!("a long string enum is a text with suggestions")
    };
    assert_eq!(t.suggestions.len(), 10_000);
    assert_eq!(field(&model, &["nums"]).widget_name(), "select");
    assert!(errors.at("/big").is_empty());
    assert!(errors.at("/nums")[0].contains("10,000 choices"), "{errors:?}");
}

#[test]
fn unusable_parts_become_json_never_panics() {
    for schema in [
        json!(null),
        json!(true),
        json!(false),
        json!(42),
        json!({"properties": {"a": 1, "b": false, "c": true, "d": {"type": ["string", "integer"]}}}),
        json!({"properties": {"e": {"enum": []}, "f": {"enum": "x"}, "g": {"oneOf": []}, "h": {"items": [1]}}}),
        json!({"properties": {"p": {"type": "object", "patternProperties": {"^a": {"type": "string"}, "^b": {"type": "integer"}}}}}),
        json!({"type": "object", "properties": {"x": {"type": "string", "pattern": "(?<=["}}}),
    ] {
        let model = compile(&schema);
        let value = initial_value(&model);
        let _ = validate(&model, &value);
        let _ = to_parameters(&model, &value);
    }
    let model = compile(
        &json!({"properties": {"d": {"type": ["string", "integer"]}, "x": {"type": "string", "pattern": "(?<=["}}}),
    );
    assert_eq!(field(&model, &["d"]).widget_name(), "JSON");
    let FieldKind::Text(text) = &field(&model, &["x"]).kind else { panic!() };
    assert!(!pattern::is_checkable(text.pattern.as_deref().unwrap_or_default()));
    assert_eq!(compile(&json!(false)).root.widget_name(), "JSON");
}
