//! Plan schema → form model.
//!
//! Draft-04 in full plus the draft-06/07 keywords brokers use. Every part of a schema becomes a
//! field; a part that cannot be shown as a form becomes a JSON editor with a note saying why,
//! never a failure of the whole form. Keywords the form does not know are ignored (vendor
//! keywords `_controlsOrder` and `_enumDisplayName` are used when present).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::labels::{help_text, humanize, text_of, value_label};
use super::model::*;
use super::resolve::{flatten_all_of, follow, merge};
use super::units::find_unit;

/// Deeper than this, parts are edited as JSON.
const MAX_DEPTH: usize = 24;
/// More fields than this in one form, and the rest is edited as JSON (a schema that expands
/// exponentially through shared references stays cheap).
const FIELD_BUDGET: usize = 5_000;
/// Up to this many options are radio buttons.
const RADIO_LIMIT: usize = 4;
/// More string options than this become a text input with suggestions rather than a select.
const SELECT_LIMIT: usize = 200;
/// An array of a choice with up to this many options is a group of checkboxes.
const CHECKBOX_LIMIT: usize = 50;

const KNOWN_TYPES: &[&str] = &["object", "array", "string", "number", "integer", "boolean", "null"];

/// Compiles a plan's parameter schema into a form. Never fails: what cannot be a form becomes
/// a JSON editor for that part.
pub fn compile(schema: &Value) -> FormModel {
    let mut compiler = Compiler { root: schema, budget: FIELD_BUDGET };
    // The root counts as being expanded: `{"$ref": "#"}` anywhere is recursion.
    let mut root = compiler.field(schema, None, true, &mut vec!["#".to_string()], 0);
    root.required = true;
    FormModel { root: Arc::new(root), schema: Arc::new(schema.clone()) }
}

struct Compiler<'r> {
    root: &'r Value,
    budget: usize,
}

/// The texts and flags of a field, read from the schema (and from the `$ref` that led to it,
/// whose sibling title/description people write even though drafts up to 7 ignore them).
fn describe(schema: &Value, referrer: &Value, key: Option<&str>, required: bool) -> Field {
    let pick = |kw: &str| text_of(referrer, kw).or_else(|| text_of(schema, kw));
    let label = pick("title").or_else(|| key.map(humanize)).unwrap_or_default();
    let placeholder = schema
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .or_else(|| schema.get("example"))
        .or_else(|| schema.get("placeholder"))
        .and_then(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    Field {
        key: key.map(str::to_string),
        label,
        help: pick("description").map(|d| help_text(&d)).filter(|h| !h.is_empty()),
        required,
        read_only: schema.get("readOnly") == Some(&Value::Bool(true))
            || referrer.get("readOnly") == Some(&Value::Bool(true)),
        nullable: false,
        default: referrer.get("default").or_else(|| schema.get("default")).cloned(),
        placeholder,
        note: None,
        condition: None,
        kind: FieldKind::Json,
    }
}

fn json_field(mut field: Field, why: impl Into<String>) -> Field {
    field.kind = FieldKind::Json;
    field.note = Some(format!("Edited as JSON: {}.", why.into()));
    field
}

impl Compiler<'_> {
    fn field(
        &mut self,
        schema: &Value,
        key: Option<&str>,
        required: bool,
        active: &mut Vec<String>,
        depth: usize,
    ) -> Field {
        let base = describe(schema, &Value::Null, key, required);
        if !schema.is_object() {
            return match schema {
                Value::Bool(true) => json_field(base, "any value is accepted here"),
                Value::Bool(false) => json_field(base, "the schema accepts no value here"),
                _ => json_field(base, "this part of the schema is not a schema object"),
            };
        }
        if depth > MAX_DEPTH {
            return json_field(base, "it is nested too deeply to show as a form");
        }
        if self.budget == 0 {
            return json_field(base, "the schema is too large to show entirely as a form");
        }
        self.budget -= 1;
        let root = self.root;
        let (target, passed) = match follow(root, schema, active) {
            Ok(found) => found,
            Err(problem) => return json_field(base, format!("this setting {}", problem.describe())),
        };
        let mark = active.len();
        active.extend(passed);
        let referrer = if std::ptr::eq(target, schema) { &Value::Null } else { schema };
        let field = match flatten_all_of(root, target, active) {
            Ok(flat) => self.resolved(&flat, referrer, key, required, active, depth),
            Err(why) => json_field(describe(target, referrer, key, required), format!("this setting {why}")),
        };
        active.truncate(mark);
        field
    }

    /// A schema with its `$ref`s followed and `allOf` folded in.
    fn resolved(
        &mut self,
        schema: &Value,
        referrer: &Value,
        key: Option<&str>,
        required: bool,
        active: &mut Vec<String>,
        depth: usize,
    ) -> Field {
        let mut field = describe(schema, referrer, key, required);
        if !schema.is_object() {
            return json_field(field, "this part of the schema is not a schema object");
        }
        if let Some(value) = schema.get("const") {
            field.kind = FieldKind::Fixed(value.clone());
            return field;
        }
        if let Some(options) = schema.get("enum") {
            return self.enumeration(field, schema, options);
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(members) = schema.get(keyword).and_then(Value::as_array) {
                return self.alternatives(field, schema, keyword, members, active, depth);
            }
        }
        let (kind, nullable, unknown) = type_of(schema);
        field.nullable = nullable;
        if let Some(unknown) = &unknown {
            field.note = Some(format!(
                "The broker's schema gives the type \u{201c}{unknown}\u{201d}, which JSON Schema does not have; {}.",
                if kind.is_some() { "shown by its other keywords" } else { "shown as text" }
            ));
        }
        let kind = match kind {
            Some(kind) => kind,
            None if unknown.is_some() => "string",
            None if matches!(schema.get("type"), Some(Value::Array(_))) => {
                return json_field(field, "it accepts values of several types");
            }
            None => return json_field(field, "the schema does not say what kind of value goes here"),
        };
        match kind {
            "object" => self.object(field, schema, active, depth),
            "array" => self.array(field, schema, active, depth),
            "string" => {
                // Whether the pattern can be checked depends on the engine at hand (the browser's
                // or the server's), so the widget says it, not the model (which must be the same
                // on both sides for the page to hydrate).
                field.kind = FieldKind::Text(text_spec(schema, key));
                field
            }
            "number" | "integer" => {
                field.kind = FieldKind::Number(number_spec(schema, referrer, key, kind == "integer", field.read_only));
                field
            }
            "boolean" => {
                field.kind = FieldKind::Toggle;
                field
            }
            _ => {
                field.kind = FieldKind::Fixed(Value::Null);
                field
            }
        }
    }

    fn enumeration(&mut self, mut field: Field, schema: &Value, options: &Value) -> Field {
        let Some(values) = options.as_array() else {
            return json_field(field, "its list of allowed values is not a list");
        };
        if values.is_empty() {
            return json_field(field, "the schema allows no value here");
        }
        let labels = enum_labels(schema, values);
        let options: Vec<ChoiceOption> =
            values.iter().zip(labels).map(|(value, label)| ChoiceOption { value: value.clone(), label }).collect();
        field.kind = choice_kind(options);
        field
    }

    fn alternatives(
        &mut self,
        field: Field,
        schema: &Value,
        keyword: &str,
        members: &[Value],
        active: &mut Vec<String>,
        depth: usize,
    ) -> Field {
        let root = self.root;
        let mut base = schema.clone();
        if let Some(map) = base.as_object_mut() {
            map.remove(keyword);
        }
        // Each member with the references that led to it (kept active while it is compiled).
        let mut resolved: Vec<Value> = Vec::with_capacity(members.len());
        let mut trails: Vec<Vec<String>> = Vec::with_capacity(members.len());
        for member in members {
            let found = follow(root, member, active).map_err(|p| p.describe()).and_then(|(m, passed)| {
                let mut deeper = active.clone();
                deeper.extend(passed.iter().cloned());
                flatten_all_of(root, m, &deeper).map(|flat| (flat, passed))
            });
            match found {
                Ok((m, passed)) => {
                    resolved.push(m);
                    trails.push(passed);
                }
                Err(why) => return json_field(field, format!("one of its options {why}")),
            }
        }
        if resolved.is_empty() {
            return json_field(field, "it offers no options");
        }
        // A list of labelled constants is a choice, not a set of shapes.
        if let Some(options) = resolved.iter().map(labelled_constant).collect::<Option<Vec<_>>>() {
            let mut field = field;
            field.kind = choice_kind(options);
            return field;
        }
        // `anyOf: [X, {type: null}]` is a nullable X.
        let non_null: Vec<&Value> =
            resolved.iter().filter(|m| m.get("type") != Some(&Value::String("null".into()))).collect();
        if non_null.len() == 1 && resolved.len() > 1 {
            return match merge(&base, non_null[0]) {
                Ok(merged) => {
                    let mut inner =
                        self.resolved(&merged, &Value::Null, field.key.as_deref(), field.required, active, depth);
                    inner.nullable = true;
                    inner
                }
                Err(why) => json_field(field, format!("it {why}")),
            };
        }
        let mut branches = Vec::with_capacity(resolved.len());
        for (i, member) in resolved.iter().enumerate() {
            let merged = match merge(&base, member) {
                Ok(m) => m,
                Err(why) => return json_field(field, format!("option {} {why}", i + 1)),
            };
            let mark = active.len();
            active.extend(trails[i].iter().cloned());
            let mut inner =
                self.resolved(&merged, &Value::Null, field.key.as_deref(), field.required, active, depth + 1);
            active.truncate(mark);
            inner.label = field.label.clone();
            let label = text_of(member, "title")
                .or_else(|| text_of(member, "description").filter(|d| d.chars().count() <= 80))
                .unwrap_or_else(|| format!("Option {}", i + 1));
            branches.push(Branch { label, schema: Arc::new(merged), field: inner });
        }
        let mut field = field;
        field.kind = FieldKind::Branches(BranchesSpec { exclusive: keyword == "oneOf", branches });
        field
    }

    fn object(&mut self, mut field: Field, schema: &Value, active: &mut Vec<String>, depth: usize) -> Field {
        let required: HashSet<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let empty = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let mut fields: Vec<Field> = Vec::with_capacity(properties.len());
        for name in ordered_keys(schema, properties) {
            let Some(prop) = properties.get(name) else { continue };
            if prop == &Value::Bool(false) {
                continue;
            }
            fields.push(self.field(prop, Some(name), required.contains(name), active, depth + 1));
        }
        self.conditional_fields(schema, &mut fields, active, depth);
        let entries = match self.entries(schema, active, depth) {
            Ok(entries) => entries,
            Err(why) if fields.is_empty() => return json_field(field, why),
            Err(_) => None,
        };
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        if fields.is_empty() && entries.is_none() && !closed {
            return json_field(field, "it accepts any settings");
        }
        field.kind = FieldKind::Object(ObjectSpec { fields, entries });
        if field.read_only {
            mark_read_only(&mut field);
        }
        field
    }

    /// Fields that appear under a condition: schema `dependencies` and `if/then/else`.
    fn conditional_fields(&mut self, schema: &Value, fields: &mut Vec<Field>, active: &mut Vec<String>, depth: usize) {
        let root = self.root;
        let mut extra: Vec<(Value, Condition)> = Vec::new();
        if let Some(deps) = schema.get("dependencies").and_then(Value::as_object) {
            for (trigger, dep) in deps {
                if dep.is_object()
                    && let Ok((dep, _)) = follow(root, dep, active)
                {
                    extra.push((dep.clone(), Condition::Present(trigger.clone())));
                }
            }
        }
        if let Some(condition) = schema.get("if").filter(|c| c.is_object()) {
            let condition = Arc::new(condition.clone());
            for (branch, expected) in [("then", true), ("else", false)] {
                if let Some(part) = schema.get(branch)
                    && let Ok((part, _)) = follow(root, part, active)
                {
                    extra.push((part.clone(), Condition::Matches(condition.clone(), expected)));
                }
            }
        }
        for (part, condition) in extra {
            let required: HashSet<&str> = part
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let Some(properties) = part.get("properties").and_then(Value::as_object) else { continue };
            for name in ordered_keys(&part, properties) {
                if fields.iter().any(|f| f.key.as_deref() == Some(name)) {
                    continue;
                }
                let Some(prop) = properties.get(name) else { continue };
                let mut conditional = self.field(prop, Some(name), required.contains(name), active, depth + 1);
                conditional.condition = Some(condition.clone());
                fields.push(conditional);
            }
        }
    }

    /// The key/value part of an object: `additionalProperties` with a schema, or a single
    /// `patternProperties` pattern.
    fn entries(
        &mut self,
        schema: &Value,
        active: &mut Vec<String>,
        depth: usize,
    ) -> Result<Option<EntriesSpec>, String> {
        let key_names = schema.get("propertyNames").and_then(|p| p.get("pattern")).and_then(Value::as_str);
        let additional = schema.get("additionalProperties").filter(|a| a.is_object());
        let patterns = schema.get("patternProperties").and_then(Value::as_object).filter(|p| !p.is_empty());
        let (value_schema, key_pattern) = match (additional, patterns) {
            (Some(additional), _) => (additional, key_names.map(str::to_string)),
            (None, Some(patterns)) if patterns.len() == 1 => {
                let Some((pattern, value)) = patterns.iter().next() else { return Ok(None) };
                let pattern = key_names.or((pattern != ".*" && !pattern.is_empty()).then_some(pattern.as_str()));
                (value, pattern.map(str::to_string))
            }
            (None, Some(_)) => return Err("its keys follow several patterns, each with its own kind of value".into()),
            (None, None) => return Ok(None),
        };
        let mut value = self.field(value_schema, None, true, active, depth + 1);
        if value.label.is_empty() {
            value.label = "Value".to_string();
        }
        Ok(Some(EntriesSpec { value: Box::new(value), key_pattern }))
    }

    fn array(&mut self, mut field: Field, schema: &Value, active: &mut Vec<String>, depth: usize) -> Field {
        let items = match schema.get("items") {
            Some(items @ Value::Object(_)) => items,
            Some(Value::Array(_)) => {
                return json_field(field, "it is a list with a fixed kind of value at each position");
            }
            _ => return json_field(field, "it is a list that accepts any values"),
        };
        let mut item = self.field(items, None, true, active, depth + 1);
        if item.label.is_empty() {
            item.label = "Item".to_string();
        }
        let count = |kw: &str| schema.get(kw).and_then(Value::as_u64);
        let unique = schema.get("uniqueItems") == Some(&Value::Bool(true));
        field.kind = match item.kind {
            FieldKind::Choice(choice) if choice.options.len() <= CHECKBOX_LIMIT => FieldKind::MultiChoice(choice),
            _ => FieldKind::Array(ArraySpec {
                item: Box::new(item),
                min_items: count("minItems"),
                max_items: count("maxItems"),
                unique,
            }),
        };
        if field.read_only {
            mark_read_only(&mut field);
        }
        field
    }
}

/// The type to show: the declared one (with `null` taken as "may be empty"), else one inferred
/// from the other keywords. Returns (type, nullable, unknown type name given by the broker).
fn type_of(schema: &Value) -> (Option<&'static str>, bool, Option<String>) {
    let known = |t: &str| KNOWN_TYPES.iter().copied().find(|k| *k == t);
    match schema.get("type") {
        Some(Value::String(t)) => match known(t) {
            Some(k) => (Some(k), false, None),
            None => (infer_type(schema), false, Some(t.clone())),
        },
        Some(Value::Array(types)) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            let nullable = names.contains(&"null");
            let unknown = names.iter().find(|t| known(t).is_none()).map(|t| t.to_string());
            let mut real: Vec<&'static str> = names.iter().filter_map(|t| known(t)).filter(|t| *t != "null").collect();
            if real.contains(&"integer") && real.contains(&"number") {
                real.retain(|t| *t != "integer");
            }
            match real.as_slice() {
                [one] => (Some(*one), nullable, unknown),
                [] if nullable => (Some("null"), true, unknown),
                [] => (infer_type(schema), nullable, unknown),
                _ => (None, nullable, unknown),
            }
        }
        _ => (infer_type(schema), false, None),
    }
}

fn infer_type(schema: &Value) -> Option<&'static str> {
    let has = |kws: &[&str]| kws.iter().any(|k| schema.get(*k).is_some());
    if has(&[
        "properties",
        "additionalProperties",
        "patternProperties",
        "required",
        "minProperties",
        "maxProperties",
        "propertyNames",
    ]) {
        Some("object")
    } else if has(&["items", "minItems", "maxItems", "uniqueItems", "contains"]) {
        Some("array")
    } else if has(&["minLength", "maxLength", "pattern", "format"]) {
        Some("string")
    } else if has(&["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]) {
        Some("number")
    } else {
        None
    }
}

/// Property names in the order the broker asks for (`_controlsOrder`), then in schema order.
fn ordered_keys<'s>(schema: &'s Value, properties: &'s Map<String, Value>) -> Vec<&'s str> {
    let mut keys: Vec<&str> = schema
        .get("_controlsOrder")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| properties.contains_key(*k))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    keys.retain(|k| seen.insert(k));
    let listed: HashSet<&str> = keys.iter().copied().collect();
    keys.extend(properties.keys().map(String::as_str).filter(|k| !listed.contains(k)));
    keys
}

fn enum_labels(schema: &Value, values: &[Value]) -> Vec<String> {
    let display = schema.get("_enumDisplayName").and_then(Value::as_object);
    let names = schema.get("enumNames").or_else(|| schema.get("x-enumNames")).and_then(Value::as_array);
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let from_map = value.as_str().and_then(|v| display?.get(v)).and_then(Value::as_str);
            let from_list = names.and_then(|n| n.get(i)).and_then(Value::as_str);
            from_map
                .or(from_list)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map_or_else(|| value_label(value), str::to_string)
        })
        .collect()
}

/// `{const: x, title}` or `{enum: [x], title}`: one labelled value.
fn labelled_constant(member: &Value) -> Option<ChoiceOption> {
    let value = member.get("const").cloned().or_else(|| match member.get("enum")?.as_array()?.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    })?;
    let label =
        text_of(member, "title").or_else(|| text_of(member, "description")).unwrap_or_else(|| value_label(&value));
    Some(ChoiceOption { value, label })
}

fn choice_kind(options: Vec<ChoiceOption>) -> FieldKind {
    if options.len() > SELECT_LIMIT && options.iter().all(|o| o.value.is_string()) {
        return FieldKind::Text(TextSpec {
            suggestions: options.into_iter().filter_map(|o| o.value.as_str().map(str::to_string)).collect(),
            ..TextSpec::default()
        });
    }
    let style = if options.len() <= RADIO_LIMIT { ChoiceStyle::Radio } else { ChoiceStyle::Select };
    FieldKind::Choice(ChoiceSpec { options, style })
}

fn text_spec(schema: &Value, key: Option<&str>) -> TextSpec {
    let format = text_of(schema, "format");
    let lower_key = key.unwrap_or("").to_ascii_lowercase();
    let secret = format.as_deref() == Some("password")
        || schema.get("writeOnly") == Some(&Value::Bool(true))
        || ["password", "secret", "passphrase"].iter().any(|w| lower_key.ends_with(w));
    let multiline = matches!(format.as_deref(), Some("textarea") | Some("multiline"))
        || schema.get("widget").and_then(Value::as_str) == Some("textarea")
        || schema.get("maxLength").and_then(Value::as_u64).is_some_and(|m| m > 1_000);
    TextSpec {
        secret,
        multiline: multiline && !secret,
        format,
        min_length: schema.get("minLength").and_then(Value::as_u64),
        max_length: schema.get("maxLength").and_then(Value::as_u64),
        pattern: text_of(schema, "pattern"),
        suggestions: Vec::new(),
    }
}

fn number_spec(schema: &Value, referrer: &Value, key: Option<&str>, integer: bool, read_only: bool) -> NumberSpec {
    let num = |kw: &str| schema.get(kw).and_then(Value::as_f64);
    let mut spec = NumberSpec { integer, minimum: num("minimum"), maximum: num("maximum"), ..NumberSpec::default() };
    match schema.get("exclusiveMinimum") {
        Some(Value::Bool(b)) => spec.exclusive_minimum = *b && spec.minimum.is_some(),
        Some(v) => {
            if let Some(x) = v.as_f64().filter(|x| spec.minimum.is_none_or(|m| *x >= m)) {
                spec.minimum = Some(x);
                spec.exclusive_minimum = true;
            }
        }
        None => {}
    }
    match schema.get("exclusiveMaximum") {
        Some(Value::Bool(b)) => spec.exclusive_maximum = *b && spec.maximum.is_some(),
        Some(v) => {
            if let Some(x) = v.as_f64().filter(|x| spec.maximum.is_none_or(|m| *x <= m)) {
                spec.maximum = Some(x);
                spec.exclusive_maximum = true;
            }
        }
        None => {}
    }
    spec.step = num("multipleOf").filter(|s| *s > 0.0).or(integer.then_some(1.0));
    spec.slider = !read_only && matches!((spec.minimum, spec.maximum), (Some(lo), Some(hi)) if hi > lo);
    let unit_source =
        if referrer.is_object() { merge(referrer, schema).unwrap_or_else(|_| schema.clone()) } else { schema.clone() };
    spec.unit = find_unit(&unit_source, key);
    spec
}

fn mark_read_only(field: &mut Field) {
    field.read_only = true;
    match &mut field.kind {
        FieldKind::Object(o) => {
            o.fields.iter_mut().for_each(mark_read_only);
            if let Some(entries) = &mut o.entries {
                mark_read_only(&mut entries.value);
            }
        }
        FieldKind::Array(a) => mark_read_only(&mut a.item),
        FieldKind::Branches(b) => b.branches.iter_mut().for_each(|br| mark_read_only(&mut br.field)),
        FieldKind::Number(n) => n.slider = false,
        _ => {}
    }
}
