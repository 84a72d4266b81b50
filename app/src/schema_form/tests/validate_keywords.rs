//! The validator, one keyword at a time, with messages at the fields' pointers.

use serde_json::{Value, json};

use super::*;

fn errors(schema: Value, value: Value) -> FieldErrors {
    validate_value(&schema, &value)
}

fn only(errors: &FieldErrors, pointer: &str) -> String {
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.at(pointer).first().cloned().unwrap_or_else(|| panic!("nothing at {pointer}: {errors:?}"))
}

#[test]
fn required_is_reported_at_the_missing_field() {
    let e = errors(
        json!({"properties": {"a": {"type": "object", "required": ["b"]}}, "required": ["a"]}),
        json!({"a": {}}),
    );
    assert_eq!(only(&e, "/a/b"), "Required");
    let e = errors(json!({"required": ["a/b"]}), json!({}));
    assert_eq!(only(&e, "/a~1b"), "Required");
}

#[test]
fn types() {
    let s =
        json!({"properties": {"n": {"type": "integer"}, "s": {"type": "string"}, "m": {"type": ["string", "null"]}}});
    assert_eq!(only(&errors(s.clone(), json!({"n": 1.5})), "/n"), "Must be a whole number");
    assert!(errors(s.clone(), json!({"n": 2.0, "s": "x", "m": null})).is_empty());
    assert_eq!(only(&errors(s, json!({"s": 1})), "/s"), "Must be text");
}

#[test]
fn numeric_limits_of_both_drafts() {
    let s = json!({"properties": {"q": {"type": "integer", "minimum": 1024, "maximum": 102400}}});
    assert_eq!(only(&errors(s.clone(), json!({"q": 100})), "/q"), "Must be at least 1,024");
    assert_eq!(only(&errors(s.clone(), json!({"q": 200000})), "/q"), "Must be at most 102,400");
    assert!(errors(s, json!({"q": 1024})).is_empty());
    let d4 =
        json!({"properties": {"x": {"minimum": 0, "exclusiveMinimum": true, "maximum": 10, "exclusiveMaximum": true}}});
    assert_eq!(only(&errors(d4.clone(), json!({"x": 0})), "/x"), "Must be greater than 0");
    assert_eq!(only(&errors(d4, json!({"x": 10})), "/x"), "Must be less than 10");
    let d6 = json!({"properties": {"x": {"exclusiveMinimum": 0, "exclusiveMaximum": 10}}});
    assert_eq!(only(&errors(d6, json!({"x": 0})), "/x"), "Must be greater than 0");
    let m = json!({"properties": {"x": {"multipleOf": 0.1}, "y": {"multipleOf": 5}}});
    assert!(errors(m.clone(), json!({"x": 0.3, "y": 15})).is_empty());
    assert_eq!(only(&errors(m, json!({"y": 12})), "/y"), "Must be a multiple of 5");
}

#[test]
#[cfg_attr(not(feature = "ssr"), ignore = "patterns need an engine: fancy-regex (ssr) or the browser")]
fn string_lengths_patterns_and_formats() {
    let s = json!({"properties": {
        "name": {"minLength": 1, "maxLength": 15, "pattern": "^(?!cpu-worker-0$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "mail": {"format": "email"}, "site": {"format": "uri"}, "host": {"format": "hostname"}, "ip": {"format": "ipv4"},
        "emoji": {"maxLength": 2}
    }});
    assert_eq!(errors(s.clone(), json!({"name": ""})).at("/name")[0], "Must not be empty");
    assert_eq!(
        only(&errors(s.clone(), json!({"name": "a-very-long-pool-name"})), "/name"),
        "Must be at most 15 characters"
    );
    assert!(only(&errors(s.clone(), json!({"name": "cpu-worker-0"})), "/name").starts_with("Must match the pattern"));
    assert!(errors(s.clone(), json!({"name": "cpu-worker-1", "emoji": "\u{1f600}\u{1f600}"})).is_empty());
    let bad = errors(s, json!({"mail": "x", "site": "no scheme", "host": "a..b", "ip": "1.2.3"}));
    assert_eq!(bad.at("/mail"), ["Must be an email address".to_string()]);
    assert_eq!(bad.len(), 4);
}

#[test]
fn enums_and_constants() {
    let s = json!({"properties": {"c": {"enum": ["red", "green"]}, "k": {"const": 1}}});
    assert_eq!(only(&errors(s.clone(), json!({"c": "blue"})), "/c"), "Must be one of: red, green");
    assert!(errors(s.clone(), json!({"k": 1.0})).is_empty());
    assert_eq!(only(&errors(s, json!({"k": 2})), "/k"), "Must be 1");
}

#[test]
fn array_limits() {
    let s = json!({"properties": {"l": {"type": "array", "minItems": 1, "maxItems": 2, "uniqueItems": true, "items": {"type": "string", "minLength": 2}}}});
    assert_eq!(only(&errors(s.clone(), json!({"l": []})), "/l"), "Add at least one item");
    assert_eq!(only(&errors(s.clone(), json!({"l": ["ab", "cd", "ef"]})), "/l"), "At most 2 items");
    assert_eq!(only(&errors(s.clone(), json!({"l": ["ab", "ab"]})), "/l"), "Items must be unique");
    assert_eq!(only(&errors(s, json!({"l": ["ab", "c"]})), "/l/1"), "Must be at least 2 characters");
    let u = json!({"uniqueItems": true});
    assert!(!errors(u, json!([{"a": 1, "b": 2}, {"b": 2, "a": 1.0}])).is_empty());
}

#[test]
#[cfg_attr(not(feature = "ssr"), ignore = "patterns need an engine: fancy-regex (ssr) or the browser")]
fn objects_closed_maps_key_names_and_dependencies() {
    let closed = json!({"properties": {"a": {}}, "additionalProperties": false});
    assert_eq!(only(&errors(closed, json!({"a": 1, "zz": 2})), ""), "Unknown setting \u{201c}zz\u{201d}");
    let labels = json!({"properties": {"labels": {
        "patternProperties": {".*": {"type": "string", "maxLength": 3}},
        "propertyNames": {"pattern": "^[a-z]+$"}
    }}});
    let e = errors(labels, json!({"labels": {"ok": "abcd", "Bad": "x"}}));
    assert_eq!(e.at("/labels/ok"), ["Must be at most 3 characters".to_string()]);
    assert!(e.at("/labels/Bad")[0].starts_with("Key \u{201c}Bad\u{201d}: Must match"));
    let deps = json!({"dependencies": {"backup": ["retention"], "tls": {"required": ["cert"]}}});
    let e = errors(deps, json!({"backup": true, "tls": true}));
    assert!(e.at("/retention")[0].starts_with("Required when"));
    assert_eq!(e.at("/cert"), ["Required".to_string()]);
}

#[test]
fn one_of_reports_the_closest_option_at_its_fields() {
    let s = json!({"properties": {"m": {"oneOf": [
        {"type": "object", "properties": {"default": {"const": true}}, "required": ["default"], "additionalProperties": false},
        {"type": "object", "properties": {"list": {"type": "array", "items": {"type": "string", "minLength": 1}}}, "required": ["list"], "additionalProperties": false}
    ]}}});
    let e = errors(s.clone(), json!({"m": {"list": [""]}}));
    assert_eq!(only(&e, "/m/list/0"), "Must not be empty");
    assert!(errors(s.clone(), json!({"m": {"list": ["a"]}})).is_empty());
    let e = errors(s, json!({"m": 5}));
    assert_eq!(only(&e, "/m"), "Does not match any of the options");
    let both = json!({"oneOf": [{"type": "integer"}, {"minimum": 0}]});
    assert_eq!(only(&errors(both, json!(1)), ""), "Matches more than one of the options");
}

#[test]
fn any_of_all_of_not_and_conditionals() {
    let s = json!({"properties": {"baz": {"properties": {"foo": {}, "bar": {}}, "anyOf": [{"required": ["foo"]}, {"required": ["bar"]}]}}});
    assert_eq!(only(&errors(s.clone(), json!({"baz": {}})), "/baz/foo"), "Required");
    assert!(errors(s, json!({"baz": {"bar": 1}})).is_empty());
    let s = json!({"allOf": [{"required": ["foo"]}, {"required": ["bar"]}], "not": {"required": ["nope"]}});
    assert_eq!(errors(s.clone(), json!({})).len(), 2);
    assert_eq!(only(&errors(s, json!({"foo": 1, "bar": 1, "nope": 1})), ""), "This value is not allowed");
    let c =
        json!({"if": {"properties": {"t": {"const": "p"}}}, "then": {"required": ["r"]}, "else": {"required": ["n"]}});
    assert_eq!(only(&errors(c.clone(), json!({"t": "p"})), "/r"), "Required");
    assert_eq!(only(&errors(c, json!({"t": "b"})), "/n"), "Required");
}

#[test]
fn unknown_types_and_unreadable_patterns_are_not_the_users_fault() {
    let s = json!({"type": "Database", "properties": {"t": {"type": "date"}, "p": {"type": "string", "pattern": "(unclosed"}}});
    assert!(errors(s, json!({"t": 5, "p": "anything"})).is_empty());
}

#[test]
fn the_form_validates_what_it_would_send() {
    let model = compile(
        &json!({"properties": {"opt": {"type": "string", "minLength": 3}, "req": {"type": "string", "minLength": 3}}, "required": ["req"]}),
    );
    let e = validate(&model, &json!({"opt": "", "req": ""}));
    assert_eq!(only(&e, "/req"), "Required");
    let e = validate(&model, &json!({"opt": "ab", "req": "abc"}));
    assert_eq!(only(&e, "/opt"), "Must be at least 3 characters");
}
