//! Checks instance and binding parameters against a plan's schema, on the server, with the
//! `jsonschema` crate, and reports problems per field with the same JSON pointers and wording as
//! the form's own checks in the browser ([`app::schema_form::FieldErrors`]).
//!
//! Brokers' schemas are not always valid schemas. What is wrong with the schema itself (an
//! unknown `type` such as "Database", a `$ref` to another document) is reported separately as
//! [`SchemaProblem`]s, that part of the schema is set aside, and the rest still checks the
//! parameters. Patterns are ECMAScript regexes run with `fancy-regex` (look-ahead works); one
//! that cannot be compiled is a schema problem, not a failure.

mod messages;
mod sanitize;

use app::schema_form::{FieldErrors, validate_value};
use jsonschema::{PatternOptions, Validator};
use serde::Serialize;
use serde_json::Value;

pub use sanitize::SchemaProblem;

/// The outcome of checking parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ParamsReport {
    /// What is wrong with the parameters, per field. Empty: they are valid.
    pub errors: FieldErrors,
    /// What is wrong with the plan's schema (the parts that were set aside).
    pub schema_problems: Vec<SchemaProblem>,
}

impl ParamsReport {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// A plan schema compiled for checking parameters; build once per plan, use many times.
pub struct ParamsValidator {
    engine: Engine,
    problems: Vec<SchemaProblem>,
}

enum Engine {
    JsonSchema(Box<Validator>),
    /// The `jsonschema` crate could not take even the repaired schema: the form's own validator
    /// (which never refuses a schema) does the checking.
    Fallback(Value),
}

/// A bound on backtracking for patterns with look-around, so a hostile pattern cannot stall a request.
const BACKTRACK_LIMIT: usize = 1_000_000;
/// How many times a schema part is set aside before giving up on the `jsonschema` crate.
const MAX_REPAIRS: usize = 64;

impl ParamsValidator {
    /// Compiles a plan schema. Never fails: problems with the schema are kept in
    /// [`ParamsValidator::schema_problems`].
    pub fn new(schema: &Value) -> Self {
        let (mut repaired, draft, mut problems) = sanitize::prepare(schema);
        for _ in 0..MAX_REPAIRS {
            let built = jsonschema::options()
                .with_draft(draft)
                .should_validate_formats(true)
                .with_pattern_options(PatternOptions::fancy_regex().backtrack_limit(BACKTRACK_LIMIT))
                .build(&repaired);
            match built {
                Ok(validator) => return Self { engine: Engine::JsonSchema(Box::new(validator)), problems },
                Err(error) => {
                    let at = error.instance_path().as_str().to_string();
                    let message = error.to_string();
                    if !sanitize::set_aside(&mut repaired, &at) {
                        problems.push(SchemaProblem {
                            pointer: at,
                            message: format!("{message}; parameters are checked by the portal's own validator"),
                        });
                        break;
                    }
                    problems.push(SchemaProblem { pointer: at, message });
                }
            }
        }
        Self { engine: Engine::Fallback(repaired), problems }
    }

    /// What is wrong with the schema itself.
    pub fn schema_problems(&self) -> &[SchemaProblem] {
        &self.problems
    }

    /// Checks parameters; problems are keyed by the JSON pointer of the field they are about.
    pub fn validate(&self, parameters: &Value) -> FieldErrors {
        match &self.engine {
            Engine::JsonSchema(validator) => {
                let mut errors = FieldErrors::new();
                for error in validator.iter_errors(parameters) {
                    messages::add(&mut errors, &error);
                }
                errors
            }
            Engine::Fallback(schema) => validate_value(schema, parameters),
        }
    }

    /// Checks parameters and reports with the schema's problems.
    pub fn report(&self, parameters: &Value) -> ParamsReport {
        ParamsReport { errors: self.validate(parameters), schema_problems: self.problems.clone() }
    }
}

/// Compiles `schema` and checks `parameters` against it, in one go.
pub fn validate_parameters(schema: &Value, parameters: &Value) -> ParamsReport {
    ParamsValidator::new(schema).report(parameters)
}

#[cfg(test)]
mod tests;
