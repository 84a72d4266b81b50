//! Choices: radio buttons (up to four options), a select, and checkboxes for lists of choices.

use leptos::prelude::*;
use serde_json::Value;

use super::Ctx;
use super::shell::{INPUT, Labelling, described_by, label_text, wrap};
use crate::schema_form::json_eq;
use crate::schema_form::model::{ChoiceStyle, Field, FieldKind};

const LEGEND: &str = "mb-1 text-sm font-medium text-zinc-800 dark:text-zinc-200";

pub fn choice(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::Choice(spec) = &field.kind else { return ().into_any() };
    let options = spec.options.clone();
    let id = cx.id(&ptr);
    // Which option the value is (by index: option values can be any JSON).
    let selected = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        let values: Vec<Value> = options.iter().map(|o| o.value.clone()).collect();
        Memo::new(move |_| cx.read(&ptr).and_then(|v| values.iter().position(|o| json_eq(o, &v))))
    };
    let pick = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        let values: Vec<Value> = options.iter().map(|o| o.value.clone()).collect();
        move |index: Option<usize>| cx.write(&ptr, index.and_then(|i| values.get(i).cloned()))
    };
    let control = match spec.style {
        ChoiceStyle::Radio => {
            let radios = options
                .iter()
                .enumerate()
                .map(|(i, option)| {
                    let pick = pick.clone();
                    let option_id = format!("{id}-{i}");
                    let for_id = option_id.clone();
                    view! {
                        <label for=for_id class="inline-flex cursor-pointer items-center gap-2 text-sm">
                            <input
                                id=option_id
                                type="radio"
                                name=ptr.clone()
                                value=i.to_string()
                                class="h-4 w-4 accent-indigo-600"
                                disabled=field.read_only
                                checked=move || selected.get() == Some(i)
                                prop:checked=move || selected.get() == Some(i)
                                on:change=move |_| pick(Some(i))
                            />
                            <span>{option.label.clone()}</span>
                        </label>
                    }
                })
                .collect_view();
            // An optional choice can be taken back.
            let clear = (!field.required && !field.read_only).then(|| {
                let pick = pick.clone();
                view! {
                    <button type="button" class="text-xs text-indigo-700 hover:underline dark:text-indigo-300"
                        hidden=move || selected.get().is_none() on:click=move |_| pick(None)>
                        "Clear"
                    </button>
                }
            });
            view! {
                <fieldset id=id.clone() aria-describedby=described_by(cx, &ptr)>
                    <legend class=LEGEND>{label_text(field)}</legend>
                    <div class="flex flex-wrap items-center gap-x-6 gap-y-2">{radios} {clear}</div>
                </fieldset>
            }
            .into_any()
        }
        ChoiceStyle::Select => {
            let invalid = {
                let cx = cx.clone();
                let ptr = ptr.clone();
                move || (!cx.messages(&ptr).is_empty()).to_string()
            };
            let items = options
                .iter()
                .enumerate()
                .map(|(i, option)| {
                    view! { <option value=i.to_string() selected=move || selected.get() == Some(i)>{option.label.clone()}</option> }
                })
                .collect_view();
            view! {
                <select
                    id=id.clone()
                    name=ptr.clone()
                    class=INPUT
                    disabled=field.read_only
                    aria-required=field.required.to_string()
                    aria-invalid=invalid
                    aria-describedby=described_by(cx, &ptr)
                    prop:value=move || selected.get().map(|i| i.to_string()).unwrap_or_default()
                    on:change=move |ev| pick(event_target_value(&ev).parse::<usize>().ok())
                >
                    <option value="" selected=move || selected.get().is_none()>
                        {if field.required { "Choose…" } else { "(not set)" }}
                    </option>
                    {items}
                </select>
            }
            .into_any()
        }
    };
    let labelling = if spec.style == ChoiceStyle::Radio { Labelling::Legend } else { Labelling::For };
    wrap(cx, field, &ptr, labelling, control)
}

/// A list whose items are a choice: one checkbox per option; the list keeps the options' order.
pub fn checkboxes(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::MultiChoice(spec) = &field.kind else { return ().into_any() };
    let options = spec.options.clone();
    let id = cx.id(&ptr);
    let chosen = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        Memo::new(move |_| match cx.read(&ptr) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        })
    };
    let boxes = options
        .iter()
        .enumerate()
        .map(|(i, option)| {
            let option_id = format!("{id}-{i}");
            let value = option.value.clone();
            let all: Vec<Value> = options.iter().map(|o| o.value.clone()).collect();
            let is_checked = {
                let value = value.clone();
                move || chosen.with(|c| c.iter().any(|v| json_eq(v, &value)))
            };
            let on_change = {
                let cx = cx.clone();
                let ptr = ptr.clone();
                move |ev: leptos::ev::Event| {
                    let on = event_target_checked(&ev);
                    let mut now: Vec<Value> = chosen.get_untracked();
                    now.retain(|v| !json_eq(v, &value));
                    if on {
                        now.push(value.clone());
                    }
                    // Options first, in their order; values outside the options after them.
                    let mut ordered: Vec<Value> =
                        all.iter().filter(|o| now.iter().any(|v| json_eq(v, o))).cloned().collect();
                    ordered.extend(now.into_iter().filter(|v| !all.iter().any(|o| json_eq(o, v))));
                    cx.write(&ptr, Some(Value::Array(ordered)));
                }
            };
            let for_id = option_id.clone();
            view! {
                <label for=for_id class="inline-flex cursor-pointer items-center gap-2 text-sm">
                    <input
                        id=option_id
                        type="checkbox"
                        name=ptr.clone()
                        value=i.to_string()
                        class="h-4 w-4 rounded accent-indigo-600"
                        disabled=field.read_only
                        checked=is_checked.clone()
                        prop:checked=is_checked
                        on:change=on_change
                    />
                    <span>{option.label.clone()}</span>
                </label>
            }
        })
        .collect_view();
    let control = view! {
        <fieldset id=id.clone() aria-describedby=described_by(cx, &ptr)>
            <legend class=LEGEND>{label_text(field)}</legend>
            <div class="flex flex-wrap gap-x-6 gap-y-2">{boxes}</div>
        </fieldset>
    }
    .into_any();
    wrap(cx, field, &ptr, Labelling::Legend, control)
}
