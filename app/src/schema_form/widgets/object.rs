//! Groups of fields (collapsible below the top level) and key/value entries.

use leptos::prelude::*;
use serde_json::Value;

use super::shell::{BUTTON, INPUT, details, label_text};
use super::{Ctx, field_view};
use crate::schema_form::model::{EntriesSpec, Field, FieldKind};
use crate::schema_form::pointer;
use crate::schema_form::value::{condition_holds, new_item};

pub fn object(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let body = object_body(cx, field, &ptr);
    if ptr.is_empty() {
        // The top of the form: no frame, the page gives it one.
        return view! {
            <div data-field="" data-widget="group" class="space-y-4">
                {details(cx, field, &ptr)}
                {body}
            </div>
        }
        .into_any();
    }
    view! {
        <div data-field=ptr.clone() data-widget=field.widget_name()>
            <details open class="group rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
                <summary id=cx.id(&ptr) class="cursor-pointer select-none rounded-t-lg px-4 py-2 text-sm font-medium text-zinc-800 hover:bg-zinc-50 dark:text-zinc-200 dark:hover:bg-zinc-800/60">
                    {label_text(field)}
                </summary>
                <div class="space-y-4 border-t border-zinc-200 px-4 py-4 dark:border-zinc-800">
                    {details(cx, field, &ptr)}
                    {body}
                </div>
            </details>
        </div>
    }
    .into_any()
}

/// The fields and entries of an object, without a frame (list items bring their own).
pub fn object_body(cx: &Ctx, field: &Field, ptr: &str) -> AnyView {
    let FieldKind::Object(spec) = &field.kind else { return ().into_any() };
    let ptr = ptr.to_string();
    let children = spec
        .fields
        .iter()
        .filter_map(|child| {
            let key = child.key.as_ref()?;
            let child_ptr = pointer::child(&ptr, key);
            let view = field_view(cx, child, child_ptr);
            Some(match &child.condition {
                None => view,
                Some(condition) => {
                    let cx = cx.clone();
                    let ptr = ptr.clone();
                    let condition = condition.clone();
                    let hidden = move || {
                        let object = cx.read(&ptr).unwrap_or(Value::Null);
                        !condition_holds(&cx.model.schema, &condition, &object)
                    };
                    view! { <div hidden=hidden data-conditional="">{view}</div> }.into_any()
                }
            })
        })
        .collect_view();
    let entries = spec.entries.as_ref().map(|e| entries(cx, field, e, &ptr));
    let empty = (spec.fields.is_empty() && spec.entries.is_none()).then(
        || view! { <p class="text-sm text-zinc-500 dark:text-zinc-400">"This plan takes no parameters here."</p> },
    );
    view! {
        <div class="space-y-4">
            {children}
            {entries}
            {empty}
        </div>
    }
    .into_any()
}

/// Entries under keys the user chooses: one row per key (its value edited with the entries'
/// field, labelled with the key), a remove button, and a row to add a key.
fn entries(cx: &Ctx, object: &Field, spec: &EntriesSpec, ptr: &str) -> AnyView {
    let declared: Vec<String> = object.object_fields().iter().filter_map(|f| f.key.clone()).collect();
    let keys = {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        let declared = declared.clone();
        move || match cx.read(&ptr) {
            Some(Value::Object(map)) => map.keys().filter(|k| !declared.contains(k)).cloned().collect::<Vec<_>>(),
            _ => Vec::new(),
        }
    };
    let row = {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        let value_field = (*spec.value).clone();
        move |key: String| {
            let entry_ptr = pointer::child(&ptr, &key);
            let mut field = value_field.clone();
            field.label = key.clone();
            field.required = false;
            let remove = {
                let cx = cx.clone();
                let entry_ptr = entry_ptr.clone();
                move |_| cx.write(&entry_ptr, None)
            };
            view! {
                <div class="flex items-start gap-2" data-entry=key.clone()>
                    <div class="min-w-0 flex-1">{field_view(&cx, &field, entry_ptr)}</div>
                    <button type="button" class=format!("{BUTTON} mt-6") aria-label=format!("Remove {key}") on:click=remove>
                        "Remove"
                    </button>
                </div>
            }
        }
    };
    let new_key = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let add = {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        let value_field = (*spec.value).clone();
        move || {
            let key = new_key.get_untracked().trim().to_string();
            if key.is_empty() {
                problem.set(Some("Enter a key first"));
                return;
            }
            let taken = declared.contains(&key)
                || cx.value.with_untracked(|v| {
                    v.pointer(&ptr).and_then(Value::as_object).is_some_and(|m| m.contains_key(&key))
                });
            if taken {
                problem.set(Some("That key is already there"));
                return;
            }
            problem.set(None);
            if !cx.value.with_untracked(|v| v.pointer(&ptr).is_some_and(Value::is_object)) {
                cx.write(&ptr, Some(Value::Object(Default::default())));
            }
            cx.write(&pointer::child(&ptr, &key), Some(new_item(&cx.model.schema, &value_field)));
            new_key.set(String::new());
        }
    };
    let add_on_enter = add.clone();
    let input_id = format!("{}-new-key", cx.id(ptr));
    view! {
        <div class="space-y-3" data-entries=ptr.to_string()>
            <For each=keys key=|k| k.clone() children=row />
            <div class="flex items-end gap-2">
                <div class="flex-1">
                    <label for=input_id.clone() class="block text-xs text-zinc-600 dark:text-zinc-400">"New key"</label>
                    <input
                        id=input_id
                        type="text"
                        class=INPUT
                        disabled=object.read_only
                        value=move || new_key.get()
                        prop:value=move || new_key.get()
                        on:input=move |ev| new_key.set(event_target_value(&ev))
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" {
                                ev.prevent_default();
                                add_on_enter();
                            }
                        }
                    />
                </div>
                <button type="button" class=BUTTON disabled=object.read_only on:click=move |_| add()>"Add"</button>
            </div>
            <p class="text-xs text-red-600 dark:text-red-400" aria-live="polite">{move || problem.get()}</p>
        </div>
    }
    .into_any()
}
