//! Checks a value against a schema and says what is wrong, field by field.
//!
//! Runs in the browser on every keystroke (the server checks again with the `jsonschema` crate).
//! Walks the schema as served, so it knows every keyword the form shows and the ones it does not
//! (`not`, `allOf`, `dependencies`, …). Draft-04 plus `const`, `contains`, `propertyNames`,
//! `if/then/else` and numeric `exclusiveMinimum/Maximum`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::errors::{FieldErrors, msg};
use super::model::FormModel;
use super::pattern::{self, PatternCheck};
use super::pointer;
use super::resolve::lookup;
use super::value::to_parameters;
use super::{formats, json_eq};

/// Schema applications deeper than this stop being checked (recursive schemas).
const MAX_DEPTH: usize = 200;

/// The messages for a form value: what the parameters it makes (empty optional fields left out)
/// break in the plan's schema.
pub fn validate(model: &FormModel, value: &Value) -> FieldErrors {
    let parameters = to_parameters(model, value);
    validate_value(&model.schema, &parameters)
}

/// The messages for a parameters object checked against a whole schema document.
pub fn validate_value(schema: &Value, instance: &Value) -> FieldErrors {
    check_against(schema, schema, instance, "")
}

/// Checks `instance` (found at `at`) against `schema`, a part of the document `root`.
pub fn check_against(root: &Value, schema: &Value, instance: &Value, at: &str) -> FieldErrors {
    let mut checker = Checker { root, errors: FieldErrors::new(), depth: 0, refs: Vec::new() };
    checker.check(schema, instance, at);
    checker.errors
}

/// Whether `instance` satisfies `schema` (a part of `root`).
pub fn is_valid_against(root: &Value, schema: &Value, instance: &Value) -> bool {
    check_against(root, schema, instance, "").is_empty()
}

struct Checker<'r> {
    root: &'r Value,
    errors: FieldErrors,
    depth: usize,
    /// The references being applied, with the instance they are applied to: meeting a pair
    /// again means a loop that reads no further into the value.
    refs: Vec<(String, String)>,
}

impl Checker<'_> {
    fn sub(&self) -> Self {
        Checker { root: self.root, errors: FieldErrors::new(), depth: self.depth, refs: self.refs.clone() }
    }

    fn sub_check(&self, schema: &Value, inst: &Value, ptr: &str) -> FieldErrors {
        let mut sub = self.sub();
        sub.check(schema, inst, ptr);
        sub.errors
    }

    fn check(&mut self, schema: &Value, inst: &Value, ptr: &str) {
        let obj = match schema {
            Value::Object(obj) => obj,
            Value::Bool(false) => return self.errors.push(ptr, msg::NOT_ALLOWED),
            _ => return,
        };
        if self.depth >= MAX_DEPTH {
            return;
        }
        self.depth += 1;
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            let key = (reference.to_string(), ptr.to_string());
            if !self.refs.contains(&key)
                && let Ok(target) = lookup(self.root, reference)
            {
                self.refs.push(key);
                self.check(target, inst, ptr);
                self.refs.pop();
            }
            // Drafts up to 7: keywords beside `$ref` are ignored.
            self.depth -= 1;
            return;
        }
        self.check_keywords(obj, inst, ptr);
        self.depth -= 1;
    }

    fn check_keywords(&mut self, obj: &Map<String, Value>, inst: &Value, ptr: &str) {
        if let Some(t) = obj.get("type")
            && !type_matches(t, inst)
        {
            let names: Vec<&str> = match t {
                Value::String(s) => vec![s.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            self.errors.push(ptr, msg::wrong_type(&names));
            // The other keywords would only repeat the problem in other words.
            return;
        }
        if let Some(options) = obj.get("enum").and_then(Value::as_array)
            && !options.iter().any(|o| json_eq(o, inst))
        {
            self.errors.push(ptr, msg::one_of_values(options));
        }
        if let Some(expected) = obj.get("const")
            && !json_eq(expected, inst)
        {
            self.errors.push(ptr, msg::constant(expected));
        }
        match inst {
            Value::Number(n) => {
                if let Some(x) = n.as_f64() {
                    self.check_number(obj, x, ptr);
                }
            }
            Value::String(s) => self.check_string(obj, s, ptr),
            Value::Array(items) => self.check_array(obj, items, ptr),
            Value::Object(map) => self.check_object(obj, map, ptr),
            _ => {}
        }
        self.check_combinators(obj, inst, ptr);
    }

    fn check_number(&mut self, obj: &Map<String, Value>, x: f64, ptr: &str) {
        let num = |kw: &str| obj.get(kw).and_then(Value::as_f64);
        let flag = |kw: &str| obj.get(kw) == Some(&Value::Bool(true));
        if let Some(min) = num("minimum") {
            let exclusive = flag("exclusiveMinimum");
            if x < min || (exclusive && x == min) {
                self.errors.push(ptr, msg::minimum(min, exclusive));
            }
        }
        if let Some(max) = num("maximum") {
            let exclusive = flag("exclusiveMaximum");
            if x > max || (exclusive && x == max) {
                self.errors.push(ptr, msg::maximum(max, exclusive));
            }
        }
        if let Some(min) = num("exclusiveMinimum")
            && x <= min
        {
            self.errors.push(ptr, msg::minimum(min, true));
        }
        if let Some(max) = num("exclusiveMaximum")
            && x >= max
        {
            self.errors.push(ptr, msg::maximum(max, true));
        }
        if let Some(step) = num("multipleOf").filter(|s| *s > 0.0) {
            let quotient = x / step;
            if (quotient - quotient.round()).abs() > 1e-9 * quotient.abs().max(1.0) {
                self.errors.push(ptr, msg::multiple_of(step));
            }
        }
    }

    fn check_string(&mut self, obj: &Map<String, Value>, s: &str, ptr: &str) {
        let length = s.chars().count() as u64;
        if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            self.errors.push(ptr, msg::min_length(min));
        }
        if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            self.errors.push(ptr, msg::max_length(max));
        }
        if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
            match pattern::check(p, s) {
                PatternCheck::Matches => {}
                PatternCheck::DoesNotMatch => self.errors.push(ptr, msg::pattern(p)),
                // Not an error of the user's: the server checks it.
                PatternCheck::Unchecked => {}
            }
        }
        if let Some(format) = obj.get("format").and_then(Value::as_str)
            && formats::check(format, s) == Some(false)
        {
            self.errors.push(ptr, msg::format(format));
        }
    }

    fn check_array(&mut self, obj: &Map<String, Value>, items: &[Value], ptr: &str) {
        let count = items.len() as u64;
        if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            self.errors.push(ptr, msg::min_items(min));
        }
        if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            self.errors.push(ptr, msg::max_items(max));
        }
        if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
            let mut seen = HashSet::new();
            if !items.iter().all(|item| seen.insert(canonical(item))) {
                self.errors.push(ptr, msg::UNIQUE_ITEMS);
            }
        }
        match obj.get("items") {
            Some(Value::Array(positional)) => {
                for (i, item) in items.iter().enumerate() {
                    let item_ptr = pointer::item(ptr, i);
                    match positional.get(i) {
                        Some(schema) => self.check(schema, item, &item_ptr),
                        None => {
                            if let Some(extra) = obj.get("additionalItems") {
                                self.check(extra, item, &item_ptr);
                            }
                        }
                    }
                }
            }
            Some(schema) => {
                for (i, item) in items.iter().enumerate() {
                    self.check(schema, item, &pointer::item(ptr, i));
                }
            }
            None => {}
        }
        if let Some(contains) = obj.get("contains")
            && !items.iter().any(|item| self.sub_check(contains, item, "").is_empty())
        {
            self.errors.push(ptr, msg::CONTAINS);
        }
    }

    fn check_object(&mut self, obj: &Map<String, Value>, map: &Map<String, Value>, ptr: &str) {
        for name in obj.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                self.errors.push(pointer::child(ptr, name), msg::REQUIRED);
            }
        }
        let count = map.len() as u64;
        if let Some(min) = obj.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            self.errors.push(ptr, msg::min_properties(min));
        }
        if let Some(max) = obj.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            self.errors.push(ptr, msg::max_properties(max));
        }
        let properties = obj.get("properties").and_then(Value::as_object);
        let patterns = obj.get("patternProperties").and_then(Value::as_object);
        for (name, value) in map {
            let child = pointer::child(ptr, name);
            let mut matched = false;
            if let Some(schema) = properties.and_then(|p| p.get(name)) {
                matched = true;
                self.check(schema, value, &child);
            }
            for (p, schema) in patterns.into_iter().flatten() {
                if pattern::check(p, name) != PatternCheck::DoesNotMatch {
                    matched = true;
                    self.check(schema, value, &child);
                }
            }
            if !matched && let Some(additional) = obj.get("additionalProperties") {
                match additional {
                    Value::Bool(false) => self.errors.push(ptr, msg::unknown_property(name)),
                    schema => self.check(schema, value, &child),
                }
            }
            if let Some(names) = obj.get("propertyNames") {
                let key = Value::String(name.clone());
                for (_, problem) in self.sub_check(names, &key, "").iter() {
                    self.errors.push(child.clone(), msg::property_name(name, problem));
                }
            }
        }
        for (trigger, dependency) in obj.get("dependencies").and_then(Value::as_object).into_iter().flatten() {
            if !map.contains_key(trigger) {
                continue;
            }
            match dependency {
                Value::Array(names) => {
                    for missing in names.iter().filter_map(Value::as_str).filter(|n| !map.contains_key(*n)) {
                        self.errors.push(pointer::child(ptr, missing), msg::dependency(trigger, missing));
                    }
                }
                schema => self.check(schema, &Value::Object(map.clone()), ptr),
            }
        }
    }

    fn check_combinators(&mut self, obj: &Map<String, Value>, inst: &Value, ptr: &str) {
        for schema in obj.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.check(schema, inst, ptr);
        }
        if let Some(members) = obj.get("anyOf").and_then(Value::as_array) {
            let results: Vec<(usize, FieldErrors)> =
                members.iter().map(|m| (shape_misfit(self.root, m, inst), self.sub_check(m, inst, ptr))).collect();
            if !results.iter().any(|(_, r)| r.is_empty()) {
                self.report_closest(results, ptr);
            }
        }
        if let Some(members) = obj.get("oneOf").and_then(Value::as_array) {
            let results: Vec<(usize, FieldErrors)> =
                members.iter().map(|m| (shape_misfit(self.root, m, inst), self.sub_check(m, inst, ptr))).collect();
            match results.iter().filter(|(_, r)| r.is_empty()).count() {
                0 => self.report_closest(results, ptr),
                1 => {}
                _ => self.errors.push(ptr, msg::SEVERAL_OPTIONS_MATCH),
            }
        }
        if let Some(not) = obj.get("not")
            && self.sub_check(not, inst, ptr).is_empty()
        {
            self.errors.push(ptr, msg::NOT_ALLOWED);
        }
        if let Some(condition) = obj.get("if") {
            let branch = if self.sub_check(condition, inst, ptr).is_empty() { "then" } else { "else" };
            if let Some(schema) = obj.get(branch) {
                self.check(schema, inst, ptr);
            }
        }
    }

    /// No option matched: the messages of the option that came closest (the value has its shape,
    /// then the fewest problems), so they land beside the fields the user can fix; a plain
    /// message when that option's problem is the whole value.
    fn report_closest(&mut self, results: Vec<(usize, FieldErrors)>, ptr: &str) {
        match results.into_iter().min_by_key(|(misfit, errors)| (*misfit, errors.len())).map(|(_, e)| e) {
            Some(closest) if !closest.is_empty() && closest.pointers().any(|p| p != ptr) => self.errors.extend(closest),
            _ => self.errors.push(ptr, msg::NO_OPTION_MATCHES),
        }
    }
}

/// How far a value is from having the shape of an option of a `oneOf`/`anyOf`: a value of the
/// wrong type is far off; properties the option does not allow, and discriminating constants
/// (`const`, one-value `enum`) that differ, count one each. Missing or invalid fields do not
/// count: they are what the user is still filling in.
pub fn shape_misfit(root: &Value, schema: &Value, value: &Value) -> usize {
    let mut schema = schema;
    for _ in 0..16 {
        match schema.get("$ref").and_then(Value::as_str).map(|r| lookup(root, r)) {
            Some(Ok(target)) => schema = target,
            Some(Err(_)) => return 0,
            None => break,
        }
    }
    if let Some(t) = schema.get("type")
        && !type_matches(t, value)
    {
        return 1_000;
    }
    let Some(map) = value.as_object() else { return 0 };
    let properties = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false))
        && schema.get("patternProperties").and_then(Value::as_object).is_none_or(Map::is_empty);
    let mut misfit = 0;
    for (key, v) in map {
        match properties.and_then(|p| p.get(key)) {
            None if closed => misfit += 1,
            Some(property) => {
                let constant = property.get("const").or_else(|| match property.get("enum")?.as_array()?.as_slice() {
                    [only] => Some(only),
                    _ => None,
                });
                if constant.is_some_and(|c| !json_eq(c, v)) {
                    misfit += 1;
                }
            }
            None => {}
        }
    }
    misfit
}

fn type_matches(t: &Value, inst: &Value) -> bool {
    let one = |name: &str| match name {
        "object" => inst.is_object(),
        "array" => inst.is_array(),
        "string" => inst.is_string(),
        "boolean" => inst.is_boolean(),
        "null" => inst.is_null(),
        "number" => inst.is_number(),
        "integer" => inst.as_f64().is_some_and(|x| x.fract() == 0.0),
        // An unknown type name (a broker's mistake) constrains nothing; the server reports it.
        _ => true,
    };
    match t {
        Value::String(name) => one(name),
        Value::Array(names) => {
            let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            names.is_empty() || names.iter().any(|n| one(n))
        }
        _ => true,
    }
}

/// A text that is equal for equal JSON values (numbers by value, object keys sorted).
fn canonical(value: &Value) -> String {
    match value {
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |x| format!("{x:?}")),
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        Value::Object(map) => {
            let mut entries: Vec<(&String, String)> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            entries.sort();
            format!("{{{}}}", entries.iter().map(|(k, v)| format!("{k:?}:{v}")).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}
