//! Forms generated from plan schemas.
//!
//! A broker's JSON schema is compiled ([`compile`]) into a [`FormModel`]: a tree of fields
//! (text, numbers and sliders with units, choices, toggles, groups, lists, choices of shape,
//! key/value entries, secrets, and JSON editors for what cannot be a form). The model is pure
//! data: it is filled ([`initial_value`], [`from_parameters`]), turned back into the parameters
//! to send ([`to_parameters`]) and checked ([`validate`]) without a browser. The widgets in
//! [`widgets`] render it with Leptos; the server checks parameters again with the `jsonschema`
//! crate and reports with the same [`FieldErrors`], keyed by the same JSON pointers.

pub mod compile;
pub mod errors;
pub mod formats;
pub mod labels;
pub mod model;
pub mod pattern;
pub mod pointer;
pub mod resolve;
pub mod state;
pub mod units;
pub mod validate;
pub mod value;
pub mod widgets;

#[cfg(test)]
mod tests;

pub use compile::compile;
pub use errors::FieldErrors;
pub use model::{
    ArraySpec, Branch, BranchesSpec, ChoiceOption, ChoiceSpec, ChoiceStyle, Condition, EntriesSpec, Field, FieldKind,
    FieldSummary, FormModel, NumberSpec, ObjectSpec, TextSpec,
};
pub use state::FormState;
pub use validate::{validate, validate_value};
pub use value::{from_parameters, initial_value, to_parameters};
pub use widgets::SchemaForm;

use serde_json::Value;

/// JSON equality with numbers compared by value (`1 == 1.0`), as JSON Schema compares them.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}
