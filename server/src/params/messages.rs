//! `jsonschema` errors → messages at the pointers of the fields they are about, worded like the
//! form's own checks.

use app::schema_form::errors::msg;
use app::schema_form::{FieldErrors, pointer};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError};
use serde_json::Value;

/// Adds the message(s) for one error.
pub fn add(errors: &mut FieldErrors, error: &ValidationError<'_>) {
    let at = error.instance_path().as_str();
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let message = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_string);
            return errors.push(pointer::child(at, &name), msg::REQUIRED);
        }
        ValidationErrorKind::Type { kind } => {
            let names: Vec<String> = match kind {
                TypeKind::Single(t) => vec![type_name(*t)],
                TypeKind::Multiple(set) => set.iter().map(type_name).collect(),
            };
            msg::wrong_type(&names.iter().map(String::as_str).collect::<Vec<_>>())
        }
        ValidationErrorKind::Minimum { limit } => msg::minimum(number(limit), false),
        ValidationErrorKind::ExclusiveMinimum { limit } => msg::minimum(number(limit), true),
        ValidationErrorKind::Maximum { limit } => msg::maximum(number(limit), false),
        ValidationErrorKind::ExclusiveMaximum { limit } => msg::maximum(number(limit), true),
        ValidationErrorKind::MultipleOf { multiple_of } => msg::multiple_of(*multiple_of),
        ValidationErrorKind::MinLength { limit } => msg::min_length(*limit),
        ValidationErrorKind::MaxLength { limit } => msg::max_length(*limit),
        ValidationErrorKind::Pattern { pattern } => msg::pattern(pattern),
        ValidationErrorKind::Format { format } => msg::format(format),
        ValidationErrorKind::Enum { options } => msg::one_of_values(options.as_array().map_or(&[][..], Vec::as_slice)),
        ValidationErrorKind::Constant { expected_value } => msg::constant(expected_value),
        ValidationErrorKind::MinItems { limit } => msg::min_items(*limit),
        ValidationErrorKind::MaxItems { limit } => msg::max_items(*limit),
        ValidationErrorKind::UniqueItems => msg::UNIQUE_ITEMS.to_string(),
        ValidationErrorKind::MinProperties { limit } => msg::min_properties(*limit),
        ValidationErrorKind::MaxProperties { limit } => msg::max_properties(*limit),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            for name in unexpected {
                errors.push(at, msg::unknown_property(name));
            }
            return;
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            let key = inner.instance().as_str().unwrap_or_default().to_string();
            let mut nested = FieldErrors::new();
            add(&mut nested, inner);
            let problem = nested.iter().next().map_or_else(|| inner.to_string(), |(_, m)| m.to_string());
            return errors.push(pointer::child(at, &key), msg::property_name(&key, &problem));
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            return closest_option(errors, at, context);
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => msg::SEVERAL_OPTIONS_MATCH.to_string(),
        ValidationErrorKind::Not { .. } | ValidationErrorKind::FalseSchema => msg::NOT_ALLOWED.to_string(),
        ValidationErrorKind::Contains => msg::CONTAINS.to_string(),
        // The pattern engine gave up (backtracking limit): not the user's fault; the broker checks.
        ValidationErrorKind::BacktrackLimitExceeded { .. } | ValidationErrorKind::RegexEngineFailure { .. } => return,
        _ => error.to_string(),
    };
    errors.push(at, message);
}

/// No option of a `oneOf`/`anyOf` matched: the messages of the option that came closest, so they
/// land beside the fields to fix (as the browser's validator does).
/// "Closest" as the browser's validator measures it (`shape_misfit`): first whether the value
/// has the option's shape (type, allowed properties, discriminating constants), then how many
/// problems it has.
fn closest_option(errors: &mut FieldErrors, at: &str, context: &[Vec<ValidationError<'static>>]) {
    let closest = context
        .iter()
        .map(|option| {
            let mut mapped = FieldErrors::new();
            let mut misfit = 0;
            for error in option {
                misfit += shape_misfit(at, error);
                add(&mut mapped, error);
            }
            (misfit, mapped)
        })
        .min_by_key(|(misfit, mapped)| (*misfit, mapped.len()))
        .map(|(_, mapped)| mapped);
    match closest {
        Some(closest) if !closest.is_empty() && closest.pointers().any(|p| p != at) => errors.extend(closest),
        _ => errors.push(at, msg::NO_OPTION_MATCHES),
    }
}

/// How much one error of an option says the value does not have that option's shape.
fn shape_misfit(at: &str, error: &ValidationError<'_>) -> usize {
    let path = error.instance_path().as_str();
    let direct_child = path.strip_prefix(at).is_some_and(|rest| rest.starts_with('/') && rest[1..].find('/').is_none());
    match error.kind() {
        ValidationErrorKind::Type { .. } if path == at => 1_000,
        ValidationErrorKind::AdditionalProperties { unexpected } if path == at => unexpected.len(),
        ValidationErrorKind::Constant { .. } if direct_child => 1,
        ValidationErrorKind::Enum { options } if direct_child && options.as_array().is_some_and(|o| o.len() == 1) => 1,
        _ => 0,
    }
}

fn type_name(t: JsonType) -> String {
    t.to_string()
}
