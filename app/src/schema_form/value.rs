//! Form values: the first value of a form (defaults filled), loading existing parameters into a
//! form, and the parameters a form value stands for (empty optional fields left out).
//!
//! The three agree: `from_parameters(to_parameters(initial_value(m))) == initial_value(m)`.

use serde_json::{Map, Value};

use super::model::{BranchesSpec, Condition, Field, FieldKind, FormModel};
use super::validate::{check_against, is_valid_against, shape_misfit};

/// The value a new form starts with: every default the schema gives, at any depth; required
/// toggles off; required constants set. Empty values a default brings (a list item's `""`,
/// `null`) are left out: the form shows them the same, and the value then round-trips.
pub fn initial_value(model: &FormModel) -> Value {
    let filled = from_parameters(model, &Value::Object(Map::new()));
    from_parameters(model, &to_parameters(model, &filled))
}

/// The form value for existing parameters (an update form): the parameters, with the defaults of
/// what they leave out filled in.
pub fn from_parameters(model: &FormModel, parameters: &Value) -> Value {
    let start = if parameters.is_null() { Value::Object(Map::new()) } else { parameters.clone() };
    Filler { root: &model.schema }.fill(&model.root, Some(&start)).unwrap_or(start)
}

/// The parameters to send for a form value: optional fields left empty (empty text, no choice,
/// empty lists and groups) are left out, and so are required texts left empty (so that the
/// validator says "Required" rather than sending ""). Fields hidden by their condition too.
pub fn to_parameters(model: &FormModel, value: &Value) -> Value {
    Filler { root: &model.schema }.prune(&model.root, value, true).unwrap_or_else(|| Value::Object(Map::new()))
}

/// Which branch of a choice of shapes a value is in: the one whose shape it has and that it
/// satisfies (or comes closest to), `preferred` among equals, else the first.
pub fn select_branch(root: &Value, spec: &BranchesSpec, value: Option<&Value>, preferred: Option<usize>) -> usize {
    let Some(value) = value else { return preferred.filter(|p| *p < spec.branches.len()).unwrap_or(0) };
    let scores: Vec<(usize, usize)> = spec
        .branches
        .iter()
        .map(|b| (shape_misfit(root, &b.schema, value), check_against(root, &b.schema, value, "").len()))
        .collect();
    let best = scores.iter().copied().min().unwrap_or((0, 0));
    match preferred {
        Some(p) if scores.get(p) == Some(&best) => p,
        _ => scores.iter().position(|s| *s == best).unwrap_or(0),
    }
}

/// The value after the user picks another branch: what fits the new branch is kept (properties
/// it also has), its defaults fill the rest.
pub fn switch_branch(root: &Value, spec: &BranchesSpec, to: usize, current: Option<&Value>) -> Option<Value> {
    let branch = spec.branches.get(to)?;
    let filler = Filler { root };
    let kept = match (current, &branch.field.kind) {
        (Some(Value::Object(map)), FieldKind::Object(object)) => {
            let kept: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| object.entries.is_some() || object.fields.iter().any(|f| f.key.as_deref() == Some(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some(Value::Object(kept))
        }
        _ => None,
    };
    filler.fill(&branch.field, kept.as_ref()).or_else(|| match branch.field.kind {
        FieldKind::Object(_) => Some(Value::Object(Map::new())),
        _ => None,
    })
}

/// Whether a conditional field is shown, given the value of the object that holds it.
pub fn condition_holds(root: &Value, condition: &Condition, object: &Value) -> bool {
    match condition {
        Condition::Matches(schema, expected) => is_valid_against(root, schema, object) == *expected,
        Condition::Present(key) => object.get(key).is_some_and(|v| !is_empty(v)),
    }
}

/// Empty in the form's sense: nothing typed or chosen.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A new item for a list: the item's defaults, or an empty value of its kind.
pub fn new_item(root: &Value, item: &Field) -> Value {
    Filler { root }.fill(item, None).unwrap_or_else(|| empty_of(item))
}

fn empty_of(field: &Field) -> Value {
    match &field.kind {
        FieldKind::Text(_) => Value::String(String::new()),
        FieldKind::Toggle => Value::Bool(false),
        FieldKind::Object(_) => Value::Object(Map::new()),
        FieldKind::Array(_) | FieldKind::MultiChoice(_) => Value::Array(Vec::new()),
        FieldKind::Fixed(v) => v.clone(),
        FieldKind::Choice(c) => c.options.first().map(|o| o.value.clone()).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

struct Filler<'r> {
    root: &'r Value,
}

impl Filler<'_> {
    /// The value of `field` given what is there (`current`), with defaults filled in below.
    /// `None`: leave the field out.
    fn fill(&self, field: &Field, current: Option<&Value>) -> Option<Value> {
        let current = current.or(field.default.as_ref());
        match &field.kind {
            FieldKind::Object(spec) => {
                let mut map = match current {
                    Some(Value::Object(map)) => map.clone(),
                    Some(other) => return Some(other.clone()),
                    None => Map::new(),
                };
                let was_absent = current.is_none();
                for f in spec.fields.iter().filter(|f| f.condition.is_none()) {
                    self.fill_child(f, &mut map);
                }
                let conditional: Vec<&Field> = spec.fields.iter().filter(|f| f.condition.is_some()).collect();
                if !conditional.is_empty() {
                    let snapshot = Value::Object(map.clone());
                    for f in conditional {
                        if f.condition.as_ref().is_some_and(|c| condition_holds(self.root, c, &snapshot)) {
                            self.fill_child(f, &mut map);
                        }
                    }
                }
                (!was_absent || field.required || !map.is_empty()).then_some(Value::Object(map))
            }
            FieldKind::Array(spec) => match current {
                Some(Value::Array(items)) => Some(Value::Array(
                    items.iter().map(|v| self.fill(&spec.item, Some(v)).unwrap_or_else(|| v.clone())).collect(),
                )),
                Some(other) => Some(other.clone()),
                None => field.required.then(|| Value::Array(Vec::new())),
            },
            FieldKind::MultiChoice(_) => current.cloned().or_else(|| field.required.then(|| Value::Array(Vec::new()))),
            FieldKind::Branches(spec) => {
                let index = select_branch(self.root, spec, current, None);
                let branch = spec.branches.get(index)?;
                self.fill(&branch.field, current)
            }
            FieldKind::Toggle => current.cloned().or_else(|| field.required.then_some(Value::Bool(false))),
            FieldKind::Fixed(value) => current.cloned().or_else(|| field.required.then(|| value.clone())),
            FieldKind::Choice(spec) => current.cloned().or_else(|| match spec.options.as_slice() {
                [only] if field.required => Some(only.value.clone()),
                _ => None,
            }),
            FieldKind::Text(_) | FieldKind::Number(_) | FieldKind::Json => current.cloned(),
        }
    }

    fn fill_child(&self, field: &Field, map: &mut Map<String, Value>) {
        let Some(key) = &field.key else { return };
        if let Some(value) = self.fill(field, map.get(key)) {
            map.insert(key.clone(), value);
        }
    }

    /// The part of `value` worth sending; `None`: leave it out.
    fn prune(&self, field: &Field, value: &Value, required: bool) -> Option<Value> {
        if value.is_null() {
            return (required && field.nullable).then_some(Value::Null);
        }
        match (&field.kind, value) {
            (FieldKind::Text(_), Value::String(s)) if s.is_empty() => None,
            (FieldKind::Object(spec), Value::Object(map)) => {
                let mut out = Map::new();
                for (key, v) in map {
                    let fields: Vec<&Field> = spec.fields.iter().filter(|f| f.key.as_deref() == Some(key)).collect();
                    if fields.is_empty() {
                        out.insert(key.clone(), v.clone());
                        continue;
                    }
                    // A key shown by a field whose condition does not hold is left out.
                    let shown = fields
                        .iter()
                        .find(|f| f.condition.as_ref().is_none_or(|c| condition_holds(self.root, c, value)));
                    if let Some(f) = shown
                        && let Some(kept) = self.prune(f, v, f.required)
                    {
                        out.insert(key.clone(), kept);
                    }
                }
                (required || !out.is_empty()).then_some(Value::Object(out))
            }
            (FieldKind::Array(spec), Value::Array(items)) => {
                let items: Vec<Value> =
                    items.iter().map(|v| self.prune(&spec.item, v, true).unwrap_or_else(|| v.clone())).collect();
                (required || !items.is_empty()).then_some(Value::Array(items))
            }
            (FieldKind::MultiChoice(_), Value::Array(items)) if items.is_empty() && !required => None,
            (FieldKind::Json, v) if is_empty(v) && !required => None,
            (FieldKind::Branches(spec), _) => {
                let index = select_branch(self.root, spec, Some(value), None);
                let branch = spec.branches.get(index)?;
                self.prune(&branch.field, value, required)
            }
            _ => Some(value.clone()),
        }
    }
}
