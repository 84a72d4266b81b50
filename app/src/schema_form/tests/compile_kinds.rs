//! One small schema per widget kind.

use serde_json::json;

use super::*;

fn top(schema: serde_json::Value, key: &str) -> Field {
    let model = compile(&schema);
    field(&model, &[key]).clone()
}

#[test]
fn strings_are_text_and_secrets_are_masked() {
    let model = compile(&json!({"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 30, "title": "Name", "description": "Shown <b>everywhere</b>", "examples": ["db-1"]},
        "adminPassword": {"type": "string"},
        "token": {"type": "string", "writeOnly": true},
        "pin": {"type": "string", "format": "password"},
        "secretName": {"type": "string"},
    }, "required": ["name"]}));
    let name = field(&model, &["name"]);
    assert_eq!(name.widget_name(), "text");
    assert!(name.required);
    assert_eq!(name.help.as_deref(), Some("Shown everywhere"));
    assert_eq!(name.placeholder.as_deref(), Some("db-1"));
    let FieldKind::Text(spec) = &name.kind else { panic!() };
    assert_eq!((spec.min_length, spec.max_length), (Some(1), Some(30)));
    for secret in ["adminPassword", "token", "pin"] {
        assert_eq!(field(&model, &[secret]).widget_name(), "secret", "{secret}");
    }
    assert_eq!(field(&model, &["secretName"]).widget_name(), "text");
    assert_eq!(field(&model, &["adminPassword"]).label, "Admin password");
}

#[test]
fn bounded_numbers_are_sliders_with_units() {
    let f = top(
        json!({"properties": {"storageSpaceQuota": {"type": "integer", "title": "HDFS storage (GB)", "minimum": 1024, "maximum": 102400, "default": 2048}}}),
        "storageSpaceQuota",
    );
    let FieldKind::Number(n) = &f.kind else { panic!("{f:?}") };
    assert!(n.slider && n.integer);
    assert_eq!((n.minimum, n.maximum, n.step), (Some(1024.0), Some(102400.0), Some(1.0)));
    assert_eq!(n.unit.as_deref(), Some("GB"));
    let f = top(
        json!({"properties": {"q": {"type": "integer", "description": "Namespace quota in files", "minimum": 1000, "maximum": 100000}}}),
        "q",
    );
    let FieldKind::Number(n) = &f.kind else { panic!() };
    assert_eq!(n.unit.as_deref(), Some("files"));
}

#[test]
fn numbers_keep_steps_and_exclusive_bounds_of_both_drafts() {
    let f = top(
        json!({"properties": {"x": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "multipleOf": 0.5}}}),
        "x",
    );
    let FieldKind::Number(n) = &f.kind else { panic!() };
    assert!(!n.slider && n.exclusive_minimum && !n.integer);
    assert_eq!(n.step, Some(0.5));
    assert_eq!(f.widget_name(), "number");
    let f = top(json!({"properties": {"x": {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 5}}}), "x");
    let FieldKind::Number(n) = &f.kind else { panic!() };
    assert_eq!((n.minimum, n.maximum, n.exclusive_minimum, n.exclusive_maximum), (Some(1.0), Some(5.0), true, true));
}

#[test]
fn booleans_are_toggles() {
    assert_eq!(top(json!({"properties": {"ha": {"type": "boolean", "default": true}}}), "ha").widget_name(), "toggle");
}

#[test]
fn short_enums_are_radios_long_ones_selects_with_broker_labels() {
    let f = top(json!({"properties": {"c": {"type": "string", "enum": ["red", "amber", "green"]}}}), "c");
    assert_eq!(f.widget_name(), "radio");
    let f = top(
        json!({"properties": {"r": {"type": "string", "enum": ["a", "b", "c", "d", "e"], "_enumDisplayName": {"a": "Alpha (A)"}}}}),
        "r",
    );
    assert_eq!(f.widget_name(), "select");
    let FieldKind::Choice(c) = &f.kind else { panic!() };
    assert_eq!(c.options[0].label, "Alpha (A)");
    assert_eq!(c.options[1].label, "b");
    let f = top(json!({"properties": {"ch": {"enum": ["", "fast"]}}}), "ch");
    let FieldKind::Choice(c) = &f.kind else { panic!() };
    assert_eq!(c.options[0].label, "(none)");
}

#[test]
fn one_of_labelled_constants_is_a_choice() {
    let f = top(
        json!({"properties": {"cidr": {"type": "string", "default": "28", "oneOf": [
            {"description": "/28 vNet with 6 addresses", "enum": ["28"]},
            {"title": "/27", "const": "27"},
            {"enum": ["26"]}
        ]}}}),
        "cidr",
    );
    let FieldKind::Choice(c) = &f.kind else { panic!("{f:?}") };
    let labels: Vec<&str> = c.options.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["/28 vNet with 6 addresses", "/27", "26"]);
}

#[test]
fn nested_objects_are_groups() {
    let model = compile(
        &json!({"properties": {"networking": {"type": "object", "properties": {"nodes": {"type": "string"}}, "required": ["nodes"]}}}),
    );
    assert_eq!(field(&model, &["networking"]).widget_name(), "group");
    assert!(field(&model, &["networking", "nodes"]).required);
}

#[test]
fn arrays_of_scalars_objects_and_choices() {
    let model = compile(&json!({"properties": {
        "admins": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true},
        "pools": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        "zones": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": true},
        "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        "anything": {"type": "array"},
    }}));
    let admins = field(&model, &["admins"]);
    let FieldKind::Array(a) = &admins.kind else { panic!() };
    assert_eq!((a.min_items, a.unique), (Some(1), true));
    assert_eq!(field(&model, &["pools", "[]", "name"]).widget_name(), "text");
    assert_eq!(field(&model, &["zones"]).widget_name(), "checkboxes");
    let pair = field(&model, &["pair"]);
    assert_eq!(pair.widget_name(), "JSON");
    assert!(pair.note.as_deref().is_some_and(|n| n.contains("fixed kind of value at each position")));
    assert_eq!(field(&model, &["anything"]).widget_name(), "JSON");
}

#[test]
fn one_of_shapes_is_a_branch_chooser_merged_with_the_base() {
    let model = compile(&json!({"properties": {"modules": {
        "type": "object",
        "properties": {"shared": {"type": "string"}},
        "oneOf": [
            {"title": "Default", "properties": {"default": {"type": "boolean", "default": true, "readOnly": true}}},
            {"title": "Custom", "properties": {"list": {"type": "array", "items": {"type": "string"}}}, "required": ["list"]}
        ]
    }}}));
    let f = field(&model, &["modules"]);
    let FieldKind::Branches(b) = &f.kind else { panic!("{f:?}") };
    assert!(b.exclusive);
    assert_eq!(b.branches.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(), ["Default", "Custom"]);
    assert!(field(&model, &["modules", "0", "default"]).read_only);
    assert_eq!(field(&model, &["modules", "1", "shared"]).widget_name(), "text");
    assert!(field(&model, &["modules", "1", "list"]).required);
}

#[test]
fn any_of_with_null_is_a_nullable_field() {
    let f = top(json!({"properties": {"n": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]}}}), "n");
    assert!(f.nullable);
    assert_eq!(f.widget_name(), "number");
    let f = top(json!({"properties": {"n": {"type": ["string", "null"]}}}), "n");
    assert!(f.nullable);
    assert_eq!(f.widget_name(), "text");
}

#[test]
fn maps_are_key_value_editors() {
    let model = compile(&json!({"properties": {
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        "labels": {"type": "object", "patternProperties": {".*": {"type": "string"}}, "propertyNames": {"pattern": "^[a-z]+$"}},
        "nested": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "string"}}},
        "free": {"type": "object"},
    }}));
    assert_eq!(field(&model, &["tags"]).widget_name(), "key/value");
    let labels = field(&model, &["labels"]);
    let FieldKind::Object(o) = &labels.kind else { panic!() };
    assert_eq!(o.entries.as_ref().and_then(|e| e.key_pattern.as_deref()), Some("^[a-z]+$"));
    let FieldKind::Object(o) = &field(&model, &["nested"]).kind else { panic!() };
    assert_eq!(o.entries.as_ref().map(|e| e.value.widget_name()), Some("key/value"));
    let free = field(&model, &["free"]);
    assert_eq!(free.widget_name(), "JSON");
    assert!(free.note.as_deref().is_some_and(|n| n.contains("any settings")));
}

#[test]
fn constants_are_fixed_and_read_only_reaches_children() {
    let model = compile(&json!({"properties": {
        "kind": {"const": "v1"},
        "locked": {"type": "object", "readOnly": true, "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 5}}},
    }}));
    assert_eq!(field(&model, &["kind"]).widget_name(), "fixed");
    let size = field(&model, &["locked", "size"]);
    assert!(size.read_only);
    assert_eq!(size.widget_name(), "number", "a read-only bounded number is shown, not slid");
}

#[test]
fn vendor_order_is_followed_and_unknown_keywords_ignored() {
    let model = compile(&json!({
        "_controlsOrder": ["b", "a", "missing", "b"],
        "_load_current_config": true,
        "widget": {"id": "x"},
        "properties": {"a": {"type": "string", "placeholder": "hint"}, "c": {"type": "string"}, "b": {"type": "string"}}
    }));
    let keys: Vec<&str> = model.top_level_fields().iter().filter_map(|f| f.key.as_deref()).collect();
    assert_eq!(keys, ["b", "a", "c"]);
    assert_eq!(field(&model, &["a"]).placeholder.as_deref(), Some("hint"));
}

#[test]
fn summary_lists_top_level_fields() {
    let model = compile(&json!({"properties": {
        "storage": {"type": "integer", "title": "Storage (GB)", "minimum": 1, "maximum": 10},
        "name": {"type": "string"}
    }, "required": ["name"]}));
    let summary = model.summary();
    assert_eq!(summary.len(), 2);
    assert_eq!((summary[0].widget, summary[0].unit.as_deref()), ("slider", Some("GB")));
    assert!(summary[1].required);
}
