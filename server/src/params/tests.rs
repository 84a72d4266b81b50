use serde_json::{Value, json};

use super::*;

fn check(schema: Value, parameters: Value) -> ParamsReport {
    validate_parameters(&schema, &parameters)
}

fn only(report: &ParamsReport, pointer: &str) -> String {
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    report.errors.at(pointer).first().cloned().unwrap_or_else(|| panic!("nothing at {pointer}: {:?}", report.errors))
}

#[test]
fn valid_parameters_pass() {
    let report = check(
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {"q": {"type": "integer", "minimum": 1024}}}),
        json!({"q": 2048}),
    );
    assert!(report.is_valid() && report.schema_problems.is_empty(), "{report:?}");
}

#[test]
fn errors_land_on_field_pointers_with_form_wording() {
    let schema = json!({"type": "object", "required": ["name", "hdfs"], "properties": {
        "name": {"type": "string", "pattern": "^(?!cpu-worker-0$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "hdfs": {"type": "object", "required": ["storage"], "properties": {"storage": {"type": "integer", "minimum": 1024, "maximum": 102400}}},
        "pools": {"type": "array", "items": {"type": "object", "properties": {"size": {"type": "integer", "multipleOf": 5}}}}
    }});
    let report = check(schema.clone(), json!({"hdfs": {}}));
    assert_eq!(report.errors.at("/name"), ["Required".to_string()]);
    assert_eq!(report.errors.at("/hdfs/storage"), ["Required".to_string()]);
    let report =
        check(schema.clone(), json!({"name": "cpu-worker-0", "hdfs": {"storage": 200000}, "pools": [{"size": 3}]}));
    assert!(report.errors.at("/name")[0].starts_with("Must match the pattern"), "{report:?}");
    assert_eq!(report.errors.at("/hdfs/storage"), ["Must be at most 102,400".to_string()]);
    assert_eq!(report.errors.at("/pools/0/size"), ["Must be a multiple of 5".to_string()]);
    let report = check(schema, json!({"name": "pool-1", "hdfs": {"storage": "big"}}));
    assert_eq!(only(&report, "/hdfs/storage"), "Must be a whole number");
}

#[test]
fn invalid_broker_schemas_still_check_what_they_can() {
    let schema = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "Database",
        "properties": {"cpuCount": {"type": "integer"}, "expiryTime": {"type": "date"}, "license": {"type": "string", "pattern": "^(byol|new)$"}}
    });
    let report = check(schema, json!({"cpuCount": "two", "expiryTime": "2024-01-01", "license": "old"}));
    let problems: Vec<&str> = report.schema_problems.iter().map(|p| p.pointer.as_str()).collect();
    assert!(problems.contains(&"/type") && problems.contains(&"/properties/expiryTime/type"), "{report:?}");
    assert_eq!(report.errors.at("/cpuCount"), ["Must be a whole number".to_string()]);
    assert!(report.errors.at("/license")[0].starts_with("Must match"));
    assert!(report.errors.at("/expiryTime").is_empty());
}

#[test]
fn unfollowable_refs_and_broken_patterns_are_schema_problems() {
    let schema = json!({"properties": {
        "ext": {"$ref": "https://example.com/other.json#/x"},
        "gone": {"$ref": "#/definitions/missing"},
        "bad": {"type": "string", "pattern": "(unclosed"},
        "size": {"type": "integer", "maximum": 5}
    }});
    let report = check(schema, json!({"ext": 1, "gone": 2, "bad": "x", "size": 9}));
    assert_eq!(report.schema_problems.len(), 3, "{report:?}");
    assert_eq!(only(&report, "/size"), "Must be at most 5");
}

#[test]
fn draft_choice_follows_the_keywords_used() {
    // Draft-04 boolean exclusive bounds.
    let report = check(json!({"properties": {"x": {"minimum": 0, "exclusiveMinimum": true}}}), json!({"x": 0}));
    assert_eq!(only(&report, "/x"), "Must be greater than 0");
    // Declared draft-04, but using draft-06 `const` and `propertyNames`: they are enforced.
    let schema = json!({"$schema": "http://json-schema.org/draft-04/schema#", "properties": {
        "k": {"const": "v1"},
        "labels": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}
    }});
    let report = check(schema, json!({"k": "v2", "labels": {"Bad": "x"}}));
    assert_eq!(report.errors.at("/k"), ["Must be v1".to_string()]);
    assert!(report.errors.at("/labels/Bad")[0].starts_with("Key \u{201c}Bad\u{201d}"), "{report:?}");
}

#[test]
fn one_of_errors_point_into_the_closest_option() {
    let schema = json!({"properties": {"m": {"oneOf": [
        {"type": "object", "properties": {"default": {"const": true}}, "required": ["default"], "additionalProperties": false},
        {"type": "object", "properties": {"list": {"type": "array", "items": {"type": "string", "minLength": 1}}}, "required": ["list"], "additionalProperties": false}
    ]}}});
    let report = check(schema.clone(), json!({"m": {"list": [""]}}));
    assert_eq!(only(&report, "/m/list/0"), "Must not be empty");
    let report = check(schema, json!({"m": 3}));
    assert_eq!(only(&report, "/m"), "Does not match any of the options");
}

#[test]
fn closed_objects_report_unknown_settings() {
    let report = check(json!({"properties": {"a": {}}, "additionalProperties": false}), json!({"a": 1, "zz": 2}));
    assert_eq!(only(&report, ""), "Unknown setting \u{201c}zz\u{201d}");
}

#[test]
fn server_and_browser_validators_agree_on_pointers() {
    let schema = json!({"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 3},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2}},
        "list": {"type": "array", "maxItems": 1, "items": {"enum": ["a", "b"]}}
    }});
    for parameters in [json!({}), json!({"name": "ab", "labels": {"x": "long"}, "list": ["c", "a"]})] {
        let server: Vec<String> =
            check(schema.clone(), parameters.clone()).errors.pointers().map(str::to_string).collect();
        let browser: Vec<String> =
            app::schema_form::validate_value(&schema, &parameters).pointers().map(str::to_string).collect();
        assert_eq!(server, browser, "{parameters}");
    }
}

#[test]
fn a_validator_is_reusable_and_hostile_patterns_do_not_stall() {
    let validator = ParamsValidator::new(&json!({"properties": {"p": {"type": "string", "pattern": "^(a+)+$"}}}));
    let long = format!("{}b", "a".repeat(5_000));
    let started = std::time::Instant::now();
    assert_eq!(validator.validate(&json!({"p": long})).at("/p").len(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(validator.validate(&json!({"p": "aaa"})).is_empty());
}

#[test]
fn a_validator_can_be_shared_between_requests() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<ParamsValidator>();
}
