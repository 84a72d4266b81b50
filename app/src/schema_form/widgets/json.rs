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
