//! The server's parameter validator on arbitrary plan schemas (hostile ones among the seeds: deep
//! nesting, cyclic local `$ref`, huge enums, look-ahead patterns). The input is JSON text: a
//! schema, or `{"schema": S, "parameters": P}` to check chosen parameters. It must never panic or
//! stall; the schema is compiled once and checks the empty object, the form's defaults, the given
//! parameters and the input itself.
#![no_main]

use app::schema_form::{compile, initial_value, to_parameters};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use server::params::ParamsValidator;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else { return };
    let (schema, parameters) = match &input {
        Value::Object(map) if map.len() == 2 && map.contains_key("schema") && map.contains_key("parameters") => {
            (map["schema"].clone(), Some(map["parameters"].clone()))
        }
        _ => (input.clone(), None),
    };
    let validator = ParamsValidator::new(&schema);
    for problem in validator.schema_problems() {
        assert!(!problem.message.is_empty(), "a schema problem without a message at {:?}", problem.pointer);
    }
    let model = compile(&schema);
    let defaults = to_parameters(&model, &initial_value(&model));
    for candidate in [Some(json!({})), Some(defaults), parameters, Some(input)].into_iter().flatten() {
        let report = validator.report(&candidate);
        for (pointer, message) in report.errors.iter() {
            assert!(pointer.is_empty() || pointer.starts_with('/'), "not a JSON pointer: {pointer:?}");
            assert!(!message.is_empty(), "an empty message at {pointer:?}");
        }
    }
});
