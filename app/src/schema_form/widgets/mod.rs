//! The form's widgets: [`SchemaForm`] renders a [`FormModel`] bound to a value signal.
//!
//! Every field's wrapper carries `data-field="<JSON pointer>"` and `data-widget="<kind>"`, and
//! its input `name="<JSON pointer>"`, so browser tests (and people) can find fields. Labels are
//! tied to inputs; groups use `fieldset`/`legend`; messages are announced (`aria-live`). Texts
//! from the broker are only ever text nodes or attribute values.

mod array;
mod branch;
mod choice;
mod json;
mod object;
mod scalar;
mod shell;

pub use shell::{INPUT, LABEL};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use serde_json::Value;

use super::errors::FieldErrors;
use super::model::{Field, FieldKind, FormModel};
use super::pointer;

/// A form generated from a plan schema.
///
/// The page owns the value and the messages:
/// ```ignore
/// let model = schema_form::compile(&schema);
/// let value = RwSignal::new(schema_form::initial_value(&model));
/// let errors = Memo::new({ let m = model.clone(); move |_| value.with(|v| schema_form::validate(&m, v)) });
/// view! { <SchemaForm model value errors=errors show_all=submitted /> }
/// // on submit: schema_form::to_parameters(&model, &value.get())
/// ```
#[component]
pub fn SchemaForm(
    /// The compiled schema.
    model: FormModel,
    /// The form value, written as the user edits (and read: setting it updates the form).
    value: RwSignal<Value>,
    /// Messages per field pointer, usually `validate(&model, &value)` in a memo, merged with the
    /// server's after a submit.
    #[prop(into)]
    errors: Signal<FieldErrors>,
    /// Show every message, not only those of fields the user has edited (set it after a submit).
    #[prop(optional, into)]
    show_all: Signal<bool>,
    /// A line shown beside a field, by pointer (e.g. "3,072 GB left in the team's quota").
    #[prop(optional, into)]
    hints: Signal<HashMap<String, String>>,
    /// Prefix of the element ids, for pages with more than one form.
    #[prop(optional, into)]
    id_prefix: Option<String>,
) -> impl IntoView {
    let cx = Ctx {
        model: model.clone(),
        value,
        errors,
        touched: RwSignal::new(HashSet::new()),
        show_all,
        hints,
        prefix: Arc::from(id_prefix.unwrap_or_else(|| "sf".to_string())),
    };
    let raw = RwSignal::new(false);
    let form = field_view(&cx, &model.root, String::new());
    let raw_editor = json::raw_view(&cx);
    let summary = error_summary(&cx);
    view! {
        <div class="schema-form space-y-4" data-schema-form="">
            <div class="flex items-center justify-end gap-1 text-xs" role="group" aria-label="Edit as">
                <button
                    type="button"
                    data-testid="schema-form-view-form"
                    aria-pressed=move || (!raw.get()).to_string()
                    class=move || tab_class(!raw.get())
                    on:click=move |_| raw.set(false)
                >
                    "Form"
                </button>
                <button
                    type="button"
                    data-testid="schema-form-view-json"
                    aria-pressed=move || raw.get().to_string()
                    class=move || tab_class(raw.get())
                    on:click=move |_| raw.set(true)
                >
                    "Raw JSON"
                </button>
            </div>
            {summary}
            <div hidden=move || raw.get()>{form}</div>
            <div hidden=move || !raw.get()>{raw_editor}</div>
        </div>
    }
}

fn tab_class(active: bool) -> &'static str {
    if active {
        "rounded-md px-2 py-1 font-medium bg-indigo-50 text-indigo-700 dark:bg-indigo-500/15 dark:text-indigo-300"
    } else {
        "rounded-md px-2 py-1 font-medium text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"
    }
}

/// What every widget needs: the model, the value, the messages. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub model: FormModel,
    pub value: RwSignal<Value>,
    pub errors: Signal<FieldErrors>,
    pub touched: RwSignal<HashSet<String>>,
    pub show_all: Signal<bool>,
    pub hints: Signal<HashMap<String, String>>,
    pub prefix: Arc<str>,
}

impl Ctx {
    /// The value at `ptr` (tracked).
    pub fn read(&self, ptr: &str) -> Option<Value> {
        self.value.with(|v| v.pointer(ptr).cloned())
    }

    /// Writes (or, with `None`, removes) the value at `ptr`, and marks the field as edited.
    pub fn write(&self, ptr: &str, new: Option<Value>) {
        self.value.update(|root| match new {
            Some(v) => pointer::set(root, ptr, v),
            None => {
                pointer::remove(root, ptr);
            }
        });
        self.touch(ptr);
    }

    pub fn touch(&self, ptr: &str) {
        if !self.touched.with_untracked(|t| t.contains(ptr)) {
            self.touched.update(|t| {
                t.insert(ptr.to_string());
            });
        }
    }

    /// The messages to show at `ptr` now (tracked): once the field was edited, or after submit.
    pub fn messages(&self, ptr: &str) -> Vec<String> {
        if self.show_all.get() || self.touched.with(|t| t.contains(ptr)) {
            self.errors.with(|e| e.at(ptr).to_vec())
        } else {
            Vec::new()
        }
    }

    /// Messages about anything below `ptr` that has no widget of its own (JSON editors).
    pub fn messages_within(&self, ptr: &str) -> Vec<String> {
        if self.show_all.get() || self.touched.with(|t| t.contains(ptr)) {
            self.errors.with(|e| {
                e.within(ptr)
                    .flat_map(|(p, ms)| {
                        let at = p[ptr.len()..].to_string();
                        ms.iter().map(move |m| if at.is_empty() { m.clone() } else { format!("{at}: {m}") })
                    })
                    .collect()
            })
        } else {
            Vec::new()
        }
    }

    pub fn id(&self, ptr: &str) -> String {
        pointer::dom_id(&self.prefix, ptr)
    }

    pub fn hint(&self, ptr: &str) -> Option<String> {
        self.hints.with(|h| h.get(ptr).cloned())
    }
}

/// The widget for `field`, whose value is at `ptr`.
pub(crate) fn field_view(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    match &field.kind {
        FieldKind::Text(_) => scalar::text(cx, field, ptr),
        FieldKind::Number(_) => scalar::number(cx, field, ptr),
        FieldKind::Toggle => scalar::toggle(cx, field, ptr),
        FieldKind::Fixed(_) => scalar::fixed(cx, field, ptr),
        FieldKind::Choice(_) => choice::choice(cx, field, ptr),
        FieldKind::MultiChoice(_) => choice::checkboxes(cx, field, ptr),
        FieldKind::Object(_) => object::object(cx, field, ptr),
        FieldKind::Array(_) => array::array(cx, field, ptr),
        FieldKind::Branches(_) => branch::branches(cx, field, ptr),
        FieldKind::Json => json::json_field(cx, field, ptr),
    }
}

/// After a submit: every message in one list, each a link to its field.
fn error_summary(cx: &Ctx) -> impl IntoView + use<> {
    let cx = cx.clone();
    move || {
        let errors = cx.errors.get();
        if !cx.show_all.get() || errors.is_empty() {
            return ().into_any();
        }
        let items: Vec<(String, String)> =
            errors.iter().map(|(p, m)| (cx.id(p), format!("{}: {m}", readable_path(p)))).collect();
        view! {
            <div role="alert" data-testid="schema-form-summary" class="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/40 dark:text-red-300">
                <p class="font-medium">{format!("{} to fix before submitting", if items.len() == 1 { "1 problem".to_string() } else { format!("{} problems", items.len()) })}</p>
                <ul class="mt-1 list-disc pl-5">
                    {items.into_iter().map(|(id, text)| view! { <li><a class="underline" href=format!("#{id}")>{text}</a></li> }).collect_view()}
                </ul>
            </div>
        }
        .into_any()
    }
}

/// `/hdfs/storage` → "hdfs › storage"; `""` → "Parameters".
fn readable_path(ptr: &str) -> String {
    let tokens = pointer::tokens(ptr);
    if tokens.is_empty() { "Parameters".to_string() } else { tokens.join(" \u{203a} ") }
}
