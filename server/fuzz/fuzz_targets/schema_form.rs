//! The schema-to-form compiler on arbitrary JSON: the input is read as JSON text (the seeds are
//! real plan schemas); what is not JSON is skipped. Compiling, filling the defaults, turning them
//! into parameters and back, loading the input itself as parameters, and validating must never
//! panic, and the defaults must round-trip: `from_parameters(to_parameters(initial)) == initial`.
#![no_main]

use app::schema_form::{compile, from_parameters, initial_value, to_parameters, validate};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(schema) = serde_json::from_slice::<Value>(data) else { return };
    let model = compile(&schema);
    let _ = model.walk();
    let initial = initial_value(&model);
    let parameters = to_parameters(&model, &initial);
    let back = from_parameters(&model, &parameters);
    assert_eq!(back, initial, "the defaults do not round-trip through the parameters {parameters}");
    let _ = validate(&model, &initial);
    // Any JSON as existing parameters (an update form): the schema itself is a rich one.
    let loaded = from_parameters(&model, &schema);
    let _ = validate(&model, &loaded);
    let _ = to_parameters(&model, &loaded);
});
