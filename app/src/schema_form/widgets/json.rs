//! JSON text editors: for a part the form cannot show (with the compiler's note), and the
//! "Raw JSON" view of the whole value. Both keep the text as typed; the value changes only when
//! the text is valid JSON, so a typo never loses what the form holds.

use leptos::prelude::*;
use serde_json::Value;

use super::Ctx;
use super::shell::{INPUT, Labelling, described_by, textarea_text, wrap};
use crate::schema_form::model::Field;

fn pretty(value: Option<&Value>) -> String {
    match value {
        None => String::new(),
        Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

/// A text buffer bound to the value at `ptr` both ways. Returns (text, parse error).
fn bind(
    cx: &Ctx,
    ptr: &str,
    require_object: bool,
) -> (RwSignal<String>, RwSignal<Option<String>>, impl Fn(String) + Clone + use<>) {
    let text = RwSignal::new(pretty(cx.value.with_untracked(|v| v.pointer(ptr).cloned()).as_ref()));
    let problem = RwSignal::new(None::<String>);
    {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        // The value changed elsewhere (the form): show it, unless the text already says the same.
        Effect::new(move |_| {
            let now = cx.read(&ptr);
            let typed = text.get_untracked();
            let same =
                if typed.trim().is_empty() { now.is_none() } else { serde_json::from_str::<Value>(&typed).ok() == now };
            if !same {
                text.set(pretty(now.as_ref()));
                problem.set(None);
            }
        });
    }
    let on_text = {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        move |typed: String| {
            text.set(typed.clone());
            if typed.trim().is_empty() {
                problem.set(None);
                if ptr.is_empty() {
                    cx.write(&ptr, Some(Value::Object(Default::default())));
                } else {
                    cx.write(&ptr, None);
                }
                return;
            }
            match serde_json::from_str::<Value>(&typed) {
                Ok(v) if require_object && !v.is_object() => {
                    problem.set(Some(
                        "The parameters must be a JSON object ({ … }); the form keeps its last valid value".into(),
                    ));
                }
                Ok(v) => {
                    problem.set(None);
                    cx.write(&ptr, Some(v));
                }
                Err(e) => problem.set(Some(format!(
                    "Not valid JSON (line {}, column {}); the form keeps its last valid value",
                    e.line(),
                    e.column()
                ))),
            }
        }
    };
    (text, problem, on_text)
}

pub fn json_field(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let id = cx.id(&ptr);
    let (text, problem, on_text) = bind(cx, &ptr, false);
    let within = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move || {
            cx.messages_within(&ptr)
                .into_iter()
                .filter(|_| !ptr.is_empty())
                .map(|m| view! { <span class="block">{m}</span> })
                .collect_view()
        }
    };
    let control = view! {
        <textarea
            id=id
            name=ptr.clone()
            rows="5"
            spellcheck="false"
            data-json=""
            class=format!("{INPUT} font-mono text-xs")
            readonly=field.read_only
            aria-describedby=described_by(cx, &ptr)
            aria-invalid=move || problem.get().is_some().to_string()
            prop:value=move || text.get()
            on:input=move |ev| on_text(event_target_value(&ev))
        >
            {textarea_text(&text.get_untracked())}
        </textarea>
        <p class="text-xs text-red-600 dark:text-red-400" aria-live="polite">{move || problem.get()}</p>
        <p class="text-xs text-red-600 dark:text-red-400">{within}</p>
    }
    .into_any();
    wrap(cx, field, &ptr, Labelling::For, control)
}

/// The whole value as JSON text, in sync with the form both ways.
pub fn raw_view(cx: &Ctx) -> AnyView {
    let (text, problem, on_text) = bind(cx, "", true);
    let id = format!("{}-raw", cx.prefix);
    view! {
        <div class="space-y-1">
            <label for=id.clone() class="block text-sm font-medium text-zinc-800 dark:text-zinc-200">"Parameters as JSON"</label>
            <textarea
                id=id
                rows="16"
                spellcheck="false"
                data-testid="schema-form-raw"
                class=format!("{INPUT} font-mono text-xs")
                aria-invalid=move || problem.get().is_some().to_string()
                prop:value=move || text.get()
                on:input=move |ev| on_text(event_target_value(&ev))
            >
                {textarea_text(&text.get_untracked())}
            </textarea>
            <p class="text-xs text-red-600 dark:text-red-400" aria-live="polite" data-testid="schema-form-raw-error">
                {move || problem.get()}
            </p>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::Arc;

    use leptos::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::schema_form::{FieldErrors, compile};

    fn context(value: Value) -> Ctx {
        Ctx {
            model: compile(&json!({"properties": {"a": {"type": "integer"}}})),
            value: RwSignal::new(value),
            errors: Signal::derive(FieldErrors::new),
            touched: RwSignal::new(HashSet::new()),
            show_all: Signal::derive(|| false),
            hints: Signal::derive(HashMap::new),
            prefix: Arc::from("t"),
        }
    }

    #[test]
    fn raw_text_changes_the_value_only_when_it_is_valid_json() {
        Owner::new().with(|| {
            let cx = context(json!({"a": 1}));
            let (text, problem, on_text) = bind(&cx, "", true);
            assert_eq!(text.get_untracked(), "{\n  \"a\": 1\n}");
            on_text("{\"a\": 2,".to_string());
            assert!(problem.get_untracked().is_some_and(|p| p.contains("Not valid JSON")));
            assert_eq!(cx.value.get_untracked(), json!({"a": 1}), "a typo loses nothing");
            assert_eq!(text.get_untracked(), "{\"a\": 2,", "and the text stays as typed");
            on_text("[1]".to_string());
            assert!(problem.get_untracked().is_some_and(|p| p.contains("must be a JSON object")));
            assert_eq!(cx.value.get_untracked(), json!({"a": 1}));
            on_text("{\"a\": 3}".to_string());
            assert_eq!(problem.get_untracked(), None);
            assert_eq!(cx.value.get_untracked(), json!({"a": 3}));
        });
    }

    #[test]
    fn a_json_field_edits_its_own_part() {
        Owner::new().with(|| {
            let cx = context(json!({"free": {"x": 1}, "other": true}));
            let (_, problem, on_text) = bind(&cx, "/free", false);
            on_text("[1, 2]".to_string());
            assert_eq!(cx.value.get_untracked(), json!({"free": [1, 2], "other": true}));
            on_text("   ".to_string());
            assert_eq!(cx.value.get_untracked(), json!({"other": true}), "emptied: left out");
            on_text("{".to_string());
            assert!(problem.get_untracked().is_some());
            assert_eq!(cx.value.get_untracked(), json!({"other": true}));
        });
    }
}
