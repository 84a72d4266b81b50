//! The form model: what a plan schema becomes once compiled, ready to render and fill.

use std::sync::Arc;

use serde_json::Value;

/// A compiled form: the tree of fields, and the schema it came from (which the validator uses).
/// Cheap to clone.
#[derive(Clone, Debug)]
pub struct FormModel {
    pub root: Arc<Field>,
    /// The schema document as the broker served it; `$ref`s resolve against it.
    pub schema: Arc<Value>,
}

/// One field of the form. The pointer of its value is not stored: it depends on where the field
/// is rendered (array items), and is built while walking the value.
#[derive(Clone, Debug)]
pub struct Field {
    /// The property name inside the parent object; `None` for the root, an array item or a branch.
    pub key: Option<String>,
    /// The title, or a readable form of the property name.
    pub label: String,
    /// The description, shown as help text. Untrusted text: rendered as a text node only.
    pub help: Option<String>,
    pub required: bool,
    pub read_only: bool,
    /// Whether `null` is an accepted value (`type: [X, "null"]`).
    pub nullable: bool,
    pub default: Option<Value>,
    /// An example shown inside the empty input (`examples`, `example`, `placeholder`).
    pub placeholder: Option<String>,
    /// Why the field is shown the way it is, when that is not what the schema asked for (a JSON
    /// editor instead of a form, an unknown type taken for another). Shown beside the field.
    pub note: Option<String>,
    /// Shown only while this holds (fields from `if/then/else` and `dependencies`).
    pub condition: Option<Condition>,
    pub kind: FieldKind,
}

/// When a conditional field is shown; evaluated against the value of the object that holds it.
#[derive(Clone, Debug)]
pub enum Condition {
    /// The object is (`true`) or is not (`false`) valid against this `if` schema.
    Matches(Arc<Value>, bool),
    /// The object has this property (schema `dependencies`).
    Present(String),
}

#[derive(Clone, Debug)]
pub enum FieldKind {
    Text(TextSpec),
    Number(NumberSpec),
    Toggle,
    /// One value out of a list (`enum`, or `oneOf`/`anyOf` of labelled constants).
    Choice(ChoiceSpec),
    /// Several values out of a list (an array whose items are a choice).
    MultiChoice(ChoiceSpec),
    /// A value that can only be this (`const`); shown, not edited.
    Fixed(Value),
    Object(ObjectSpec),
    Array(ArraySpec),
    /// One of several alternative shapes (`oneOf`/`anyOf` of schemas), with a chooser.
    Branches(BranchesSpec),
    /// Edited as JSON text; `Field::note` says why.
    Json,
}

#[derive(Clone, Debug, Default)]
pub struct TextSpec {
    /// Masked input (`format: password`, `writeOnly`, or a property name saying password/secret).
    pub secret: bool,
    pub multiline: bool,
    pub format: Option<String>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<String>,
    /// Suggestions for very long enums (shown as a searchable list rather than a select).
    pub suggestions: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct NumberSpec {
    pub integer: bool,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    /// `multipleOf`, else 1 for integers.
    pub step: Option<f64>,
    pub unit: Option<String>,
    /// Bounded on both sides: shown as a slider with a number box.
    pub slider: bool,
}

#[derive(Clone, Debug)]
pub struct ChoiceSpec {
    pub options: Vec<ChoiceOption>,
    pub style: ChoiceStyle,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceOption {
    pub value: Value,
    /// What the user reads (the broker's label, or the value itself). Untrusted text.
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoiceStyle {
    /// Up to four options, all visible.
    Radio,
    Select,
}

#[derive(Clone, Debug, Default)]
pub struct ObjectSpec {
    pub fields: Vec<Field>,
    /// Entries under keys of the user's choosing (`additionalProperties` / `patternProperties`).
    pub entries: Option<EntriesSpec>,
}

#[derive(Clone, Debug)]
pub struct EntriesSpec {
    /// The field every entry's value is edited with.
    pub value: Box<Field>,
    /// A pattern keys must match (`patternProperties` / `propertyNames`), checked by the validator.
    pub key_pattern: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ArraySpec {
    pub item: Box<Field>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique: bool,
}

#[derive(Clone, Debug)]
pub struct BranchesSpec {
    /// `oneOf` (exactly one must match) or `anyOf`.
    pub exclusive: bool,
    pub branches: Vec<Branch>,
}

#[derive(Clone, Debug)]
pub struct Branch {
    pub label: String,
    /// The branch merged with the schema around the `oneOf`; a value is matched against it to
    /// tell which branch it is in.
    pub schema: Arc<Value>,
    pub field: Field,
}

/// What the catalog shows of a plan's form: its top-level fields.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSummary {
    pub key: String,
    pub label: String,
    pub required: bool,
    /// "text", "number", "slider", "choice", "toggle", "list", "group", "options", "JSON", …
    pub widget: &'static str,
    pub unit: Option<String>,
}

impl Field {
    /// A field with nothing but a kind; the compiler fills in the rest.
    pub fn new(kind: FieldKind) -> Self {
        Field {
            key: None,
            label: String::new(),
            help: None,
            required: false,
            read_only: false,
            nullable: false,
            default: None,
            placeholder: None,
            note: None,
            condition: None,
            kind,
        }
    }

    /// A short name of the widget, for summaries and tests.
    pub fn widget_name(&self) -> &'static str {
        match &self.kind {
            FieldKind::Text(t) if t.secret => "secret",
            FieldKind::Text(_) => "text",
            FieldKind::Number(n) if n.slider => "slider",
            FieldKind::Number(_) => "number",
            FieldKind::Toggle => "toggle",
            FieldKind::Choice(c) if c.style == ChoiceStyle::Radio => "radio",
            FieldKind::Choice(_) => "select",
            FieldKind::MultiChoice(_) => "checkboxes",
            FieldKind::Fixed(_) => "fixed",
            FieldKind::Object(o) if o.fields.is_empty() && o.entries.is_some() => "key/value",
            FieldKind::Object(_) => "group",
            FieldKind::Array(_) => "list",
            FieldKind::Branches(_) => "options",
            FieldKind::Json => "JSON",
        }
    }

    /// The fields of an object field (none for other kinds).
    pub fn object_fields(&self) -> &[Field] {
        match &self.kind {
            FieldKind::Object(o) => &o.fields,
            _ => &[],
        }
    }
}

impl FormModel {
    /// The fields at the top of the form. For a schema whose top level is a choice of shapes,
    /// the fields of the first shape.
    pub fn top_level_fields(&self) -> &[Field] {
        match &self.root.kind {
            FieldKind::Object(o) => &o.fields,
            FieldKind::Branches(b) => b.branches.first().map(|b| b.field.object_fields()).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// One line per top-level field, for the catalog's "what the form asks".
    pub fn summary(&self) -> Vec<FieldSummary> {
        self.top_level_fields()
            .iter()
            .filter_map(|f| {
                Some(FieldSummary {
                    key: f.key.clone()?,
                    label: f.label.clone(),
                    required: f.required,
                    widget: f.widget_name(),
                    unit: match &f.kind {
                        FieldKind::Number(n) => n.unit.clone(),
                        _ => None,
                    },
                })
            })
            .collect()
    }

    /// Every field of the tree, depth first, with its depth (branches and items included).
    pub fn walk(&self) -> Vec<(usize, &Field)> {
        let mut out = Vec::new();
        walk_field(&self.root, 0, &mut out);
        out
    }
}

fn walk_field<'f>(field: &'f Field, depth: usize, out: &mut Vec<(usize, &'f Field)>) {
    out.push((depth, field));
    match &field.kind {
        FieldKind::Object(o) => {
            for f in &o.fields {
                walk_field(f, depth + 1, out);
            }
            if let Some(entries) = &o.entries {
                walk_field(&entries.value, depth + 1, out);
            }
        }
        FieldKind::Array(a) => walk_field(&a.item, depth + 1, out),
        FieldKind::Branches(b) => {
            for branch in &b.branches {
                walk_field(&branch.field, depth + 1, out);
            }
        }
        _ => {}
    }
}
