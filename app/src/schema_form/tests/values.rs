//! Initial values, parameters and their round trip.

use serde_json::json;

use super::*;

#[test]
fn defaults_are_filled_at_every_depth() {
    let model = compile(&json!({"type": "object", "properties": {
        "name": {"type": "string", "default": "x"},
        "ha": {"type": "boolean"},
        "must": {"type": "boolean"},
        "networking": {"type": "object", "properties": {"nodes": {"type": "string", "default": "10.250.0.0/16"}, "pods": {"type": "string"}}},
        "empty": {"type": "object", "properties": {"a": {"type": "string"}}},
        "list": {"type": "array", "default": [{"id": "a"}], "items": {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "integer", "default": 3}}}},
        "kind": {"const": "v1"},
        "parent": {"type": "object", "default": {"a": 1}, "properties": {"a": {"type": "integer", "default": 2}, "b": {"type": "integer", "default": 5}}}
    }, "required": ["must", "kind"]}));
    assert_eq!(
        initial_value(&model),
        json!({
            "name": "x",
            "must": false,
            "networking": {"nodes": "10.250.0.0/16"},
            "list": [{"id": "a", "n": 3}],
            "kind": "v1",
            "parent": {"a": 1, "b": 5}
        })
    );
}

#[test]
fn parameters_leave_out_empty_optional_fields() {
    let model = compile(&json!({"type": "object", "properties": {
        "name": {"type": "string"},
        "req": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "cfg": {"type": "object", "properties": {"url": {"type": "string"}, "port": {"type": "integer"}}},
        "flag": {"type": "boolean"},
        "n": {"type": ["integer", "null"]},
        "list": {"type": "array", "items": {"type": "string"}}
    }, "required": ["req"]}));
    let value = json!({"name": "", "req": "", "tags": [], "cfg": {"url": "", "port": 8080}, "flag": false, "n": null, "list": ["", "a"], "extra": 1});
    assert_eq!(
        to_parameters(&model, &value),
        json!({"cfg": {"port": 8080}, "flag": false, "list": ["", "a"], "extra": 1})
    );
    let errors = validate(&model, &value);
    assert_eq!(errors.at("/req"), ["Required".to_string()]);
}

#[test]
fn defaults_round_trip_through_parameters() {
    let model = compile(&json!({"type": "object", "properties": {
        "channel": {"enum": ["", "fast"], "default": ""},
        "groups": {"type": "string", "default": ""},
        "algs": {"type": "array", "items": {"type": "string"}, "default": null},
        "obj": {"type": "object", "default": {}},
    }}));
    let initial = initial_value(&model);
    let parameters = to_parameters(&model, &initial);
    assert_eq!(parameters, json!({"channel": ""}));
    assert_eq!(from_parameters(&model, &parameters), initial);
}

#[test]
fn loading_parameters_fills_what_they_leave_out() {
    let model =
        compile(&json!({"properties": {"size": {"type": "integer", "default": 10}, "name": {"type": "string"}}}));
    assert_eq!(from_parameters(&model, &json!({"name": "a"})), json!({"name": "a", "size": 10}));
    assert_eq!(from_parameters(&model, &json!(null)), json!({"size": 10}));
}

#[test]
fn branches_are_recognised_and_switched() {
    let model = compile(&json!({"properties": {"modules": {"oneOf": [
        {"type": "object", "title": "Default", "additionalProperties": false, "properties": {"default": {"type": "boolean", "default": true}, "channel": {"enum": ["regular", "fast"], "default": "fast"}}},
        {"type": "object", "title": "Custom", "additionalProperties": false, "properties": {"channel": {"enum": ["regular", "fast"], "default": "fast"}, "list": {"type": "array", "items": {"type": "string"}, "default": []}}, "required": ["list"]}
    ]}}}));
    assert_eq!(initial_value(&model), json!({"modules": {"default": true, "channel": "fast"}}));
    let FieldKind::Branches(spec) = &field(&model, &["modules"]).kind else { panic!() };
    let custom = json!({"channel": "regular", "list": ["istio"]});
    assert_eq!(value::select_branch(&model.schema, spec, Some(&custom), None), 1);
    let switched = value::switch_branch(&model.schema, spec, 1, Some(&json!({"default": true, "channel": "regular"})));
    assert_eq!(switched, Some(json!({"channel": "regular", "list": []})));
    let back = value::switch_branch(&model.schema, spec, 0, Some(&custom));
    assert_eq!(back, Some(json!({"channel": "regular", "default": true})));
}

#[test]
fn hidden_conditional_fields_are_not_sent() {
    let model = compile(&json!({
        "properties": {"tier": {"enum": ["basic", "premium"], "default": "basic"}},
        "if": {"properties": {"tier": {"const": "premium"}}},
        "then": {"properties": {"replicas": {"type": "integer", "default": 3}}}
    }));
    assert_eq!(initial_value(&model), json!({"tier": "basic"}));
    assert_eq!(to_parameters(&model, &json!({"tier": "basic", "replicas": 5})), json!({"tier": "basic"}));
    assert_eq!(
        to_parameters(&model, &json!({"tier": "premium", "replicas": 5})),
        json!({"tier": "premium", "replicas": 5})
    );
    assert_eq!(from_parameters(&model, &json!({"tier": "premium"})), json!({"tier": "premium", "replicas": 3}));
}

#[test]
fn a_branch_is_chosen_by_shape_before_by_problems() {
    // KEB's OIDC: a list-based shape whose broker default is itself incomplete, and a legacy
    // object shape. The list value belongs to the list shape even though it has more problems.
    let model = compile(&json!({"properties": {"oidc": {"type": "object", "oneOf": [
        {"title": "List", "type": "object", "additionalProperties": false, "properties": {"list": {
            "type": "array",
            "default": [{"clientID": "", "issuerURL": ""}],
            "items": {"type": "object", "required": ["clientID", "issuerURL", "groupsClaim"], "properties": {
                "clientID": {"type": "string", "minLength": 1}, "issuerURL": {"type": "string", "minLength": 1}, "groupsClaim": {"type": "string", "minLength": 1}
            }}
        }}},
        {"title": "Object", "type": "object", "additionalProperties": false, "required": ["clientID", "issuerURL"], "properties": {
            "clientID": {"type": "string"}, "issuerURL": {"type": "string"}
        }}
    ]}}}));
    let initial = initial_value(&model);
    assert_eq!(initial, json!({"oidc": {"list": [{}]}}));
    let FieldKind::Branches(spec) = &field(&model, &["oidc"]).kind else { panic!() };
    assert_eq!(value::select_branch(&model.schema, spec, initial.get("oidc"), None), 0);
    let errors = validate(&model, &initial);
    assert_eq!(errors.at("/oidc/list/0/clientID"), ["Required".to_string()], "{errors:?}");
    assert!(errors.at("/oidc").is_empty(), "{errors:?}");
}
