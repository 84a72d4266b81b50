//! Text, secret, number (with a slider when bounded), toggle and fixed-value widgets.

use leptos::prelude::*;
use serde_json::{Number, Value};

use super::Ctx;
use super::shell::{BUTTON, INPUT, Labelling, described_by, label_text, textarea_text, wrap};
use crate::schema_form::errors::msg;
use crate::schema_form::model::{Field, FieldKind, NumberSpec};
use crate::schema_form::pattern;
use crate::schema_form::units::{format_number, format_value, format_with_unit, parse_number};

/// A value shown in a text box: strings as they are, anything else as JSON.
fn as_text(value: Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    }
}

pub fn text(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::Text(spec) = &field.kind else { return ().into_any() };
    let id = cx.id(&ptr);
    let current = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move || as_text(cx.read(&ptr))
    };
    let invalid = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move || (!cx.messages(&ptr).is_empty()).to_string()
    };
    let on_input = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move |ev: leptos::ev::Event| cx.write(&ptr, Some(Value::String(event_target_value(&ev))))
    };
    let list_id = format!("{id}-list");
    let suggestions = (!spec.suggestions.is_empty()).then(|| {
        let options = spec.suggestions.clone();
        view! { <datalist id=list_id.clone()>{options.into_iter().map(|o| view! { <option value=o></option> }).collect_view()}</datalist> }
    });
    let common_placeholder = field.placeholder.clone();
    // Present on both sides, shown where this engine cannot run the pattern: the page hydrates
    // the same whichever engine could (the property, unlike the attribute, is set on hydration,
    // so the browser shows its own answer).
    let unchecked = spec.pattern.clone().map(|p| {
        let checkable = pattern::is_checkable(&p);
        view! { <p class="text-xs text-amber-700 dark:text-amber-400" data-note="" hidden=move || checkable prop:hidden=move || checkable>{msg::pattern_unchecked(&p)}</p> }
    });
    let control = if spec.multiline {
        view! {
            <textarea
                id=id.clone()
                name=ptr.clone()
                rows="4"
                class=INPUT
                readonly=field.read_only
                aria-required=field.required.to_string()
                aria-invalid=invalid
                aria-describedby=described_by(cx, &ptr)
                placeholder=common_placeholder
                prop:value=current.clone()
                on:input=on_input
            >
                {textarea_text(&current())}
            </textarea>
        }
        .into_any()
    } else if spec.secret {
        let shown = RwSignal::new(false);
        view! {
            <div class="flex gap-2">
                <input
                    id=id.clone()
                    name=ptr.clone()
                    type=move || if shown.get() { "text" } else { "password" }
                    autocomplete="new-password"
                    class=INPUT
                    readonly=field.read_only
                    aria-required=field.required.to_string()
                    aria-invalid=invalid
                    aria-describedby=described_by(cx, &ptr)
                    placeholder=common_placeholder
                    value=current.clone()
                    prop:value=current
                    on:input=on_input
                />
                <button
                    type="button"
                    class=BUTTON
                    aria-controls=id.clone()
                    aria-pressed=move || shown.get().to_string()
                    on:click=move |_| shown.update(|s| *s = !*s)
                >
                    {move || if shown.get() { "Hide" } else { "Show" }}
                </button>
            </div>
        }
        .into_any()
    } else {
        let list = suggestions.is_some().then_some(list_id);
        view! {
            <input
                id=id.clone()
                name=ptr.clone()
                type="text"
                class=INPUT
                list=list
                readonly=field.read_only
                aria-required=field.required.to_string()
                aria-invalid=invalid
                aria-describedby=described_by(cx, &ptr)
                placeholder=common_placeholder
                value=current.clone()
                prop:value=current
                on:input=on_input
            />
            {suggestions}
        }
        .into_any()
    };
    let control = view! { {control} {unchecked} }.into_any();
    wrap(cx, field, &ptr, Labelling::For, control)
}

/// A number as JSON: whole numbers as integers. A fraction typed into a whole-number field is
/// kept as typed, for the validator to point out (never silently rounded).
pub fn number_value(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        return Some(Value::from(n as i64));
    }
    Number::from_f64(n).map(Value::Number)
}

fn shown_number(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(n)) => n.as_f64().map(format_number).unwrap_or_default(),
        Some(Value::Null) | None => String::new(),
        Some(other) => format_value(other),
    }
}

pub fn number(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::Number(spec) = &field.kind else { return ().into_any() };
    let spec: NumberSpec = spec.clone();
    let id = cx.id(&ptr);
    // The box keeps what the user types ("2,0" on the way to "2,048"); the value follows when it
    // reads as a number, and the box follows the value when it changes elsewhere (slider, JSON).
    let typed = RwSignal::new(shown_number(cx.value.with_untracked(|v| v.pointer(&ptr).cloned()).as_ref()));
    let unreadable = RwSignal::new(false);
    {
        let cx = cx.clone();
        let ptr = ptr.clone();
        Effect::new(move |_| {
            let now = cx.read(&ptr);
            let typed_now = typed.get_untracked();
            let same = match (&now, parse_number(&typed_now)) {
                (Some(Value::Number(n)), Some(t)) => n.as_f64() == Some(t),
                (None, None) => true,
                _ => false,
            };
            if !same {
                typed.set(shown_number(now.as_ref()));
                unreadable.set(false);
            }
        });
    }
    let on_box = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move |ev: leptos::ev::Event| {
            let text = event_target_value(&ev);
            typed.set(text.clone());
            match parse_number(&text) {
                Some(n) => {
                    unreadable.set(false);
                    cx.write(&ptr, number_value(n));
                }
                None if text.trim().is_empty() => {
                    unreadable.set(false);
                    cx.write(&ptr, None);
                }
                None => {
                    unreadable.set(true);
                    cx.touch(&ptr);
                }
            }
        }
    };
    let invalid = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move || (unreadable.get() || !cx.messages(&ptr).is_empty()).to_string()
    };
    let unit = spec.unit.clone();
    let number_box = view! {
        <div class="flex items-center gap-2">
            <input
                id=id.clone()
                name=ptr.clone()
                type="text"
                inputmode=if spec.integer { "numeric" } else { "decimal" }
                class=format!("{INPUT} max-w-40 tabular-nums")
                readonly=field.read_only
                aria-required=field.required.to_string()
                aria-invalid=invalid
                aria-describedby=described_by(cx, &ptr)
                placeholder=field.placeholder.clone()
                value=move || typed.get()
                prop:value=move || typed.get()
                on:input=on_box
            />
            {unit.clone().map(|u| view! { <span class="text-sm text-zinc-500 dark:text-zinc-400">{u}</span> })}
            {move || unreadable.get().then(|| view! { <span class="text-xs text-red-600 dark:text-red-400">"Not a number"</span> })}
        </div>
    };
    let control = match (spec.slider, spec.minimum, spec.maximum) {
        (true, Some(lo), Some(hi)) => {
            let current = {
                let cx = cx.clone();
                let ptr = ptr.clone();
                move || cx.read(&ptr).and_then(|v| v.as_f64())
            };
            let on_slide = {
                let cx = cx.clone();
                let ptr = ptr.clone();
                move |ev: leptos::ev::Event| {
                    if let Ok(n) = event_target_value(&ev).parse::<f64>() {
                        cx.write(&ptr, number_value(n));
                    }
                }
            };
            let step = spec.step.map_or_else(|| "any".to_string(), |s| s.to_string());
            let shown = {
                let unit = unit.clone();
                let current = current.clone();
                move || current().map_or_else(|| "not set".to_string(), |n| format_with_unit(n, unit.as_deref()))
            };
            view! {
                <div class="space-y-1">
                    <div class="flex items-center gap-3">
                        <input
                            type="range"
                            name=format!("{ptr}#slider")
                            aria-label=field.label.clone()
                            aria-valuetext=shown.clone()
                            data-slider=""
                            class="h-2 w-full max-w-md cursor-pointer accent-indigo-600"
                            min=lo.to_string()
                            max=hi.to_string()
                            step=step
                            value={
                                let current = current.clone();
                                move || current().unwrap_or(lo).to_string()
                            }
                            prop:value=move || current().unwrap_or(lo).to_string()
                            on:input=on_slide
                        />
                        <output for=id.clone() class="min-w-28 text-sm font-medium tabular-nums" data-shown="">{shown}</output>
                    </div>
                    <div class="flex max-w-md justify-between text-xs text-zinc-500 dark:text-zinc-400 tabular-nums">
                        <span>{format_with_unit(lo, unit.as_deref())}</span>
                        <span>{format_with_unit(hi, unit.as_deref())}</span>
                    </div>
                    {number_box}
                </div>
            }
            .into_any()
        }
        _ => {
            let range = match (spec.minimum, spec.maximum) {
                (Some(lo), Some(hi)) => Some(format!(
                    "{} – {}",
                    format_with_unit(lo, unit.as_deref()),
                    format_with_unit(hi, unit.as_deref())
                )),
                (Some(lo), None) => Some(format!("at least {}", format_with_unit(lo, unit.as_deref()))),
                (None, Some(hi)) => Some(format!("at most {}", format_with_unit(hi, unit.as_deref()))),
                _ => None,
            };
            view! {
                <div class="space-y-1">
                    {number_box}
                    {range.map(|r| view! { <p class="text-xs text-zinc-500 dark:text-zinc-400 tabular-nums">{r}</p> })}
                </div>
            }
            .into_any()
        }
    };
    wrap(cx, field, &ptr, Labelling::For, control)
}

pub fn toggle(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let id = cx.id(&ptr);
    let checked = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move || cx.read(&ptr) == Some(Value::Bool(true))
    };
    let on_change = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move |ev: leptos::ev::Event| cx.write(&ptr, Some(Value::Bool(event_target_checked(&ev))))
    };
    let control = view! {
        <div class="flex items-center gap-3">
            <input
                id=id.clone()
                name=ptr.clone()
                type="checkbox"
                role="switch"
                class="peer h-5 w-9 cursor-pointer appearance-none rounded-full bg-zinc-300 transition-colors checked:bg-indigo-600 \
                       focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:opacity-60 \
                       relative before:absolute before:left-0.5 before:top-0.5 before:h-4 before:w-4 before:rounded-full before:bg-white \
                       before:transition-transform checked:before:translate-x-4 dark:bg-zinc-700"
                disabled=field.read_only
                aria-describedby=described_by(cx, &ptr)
                checked=checked.clone()
                prop:checked=checked
                on:change=on_change
            />
            <label for=id class="text-sm font-medium text-zinc-800 dark:text-zinc-200">{label_text(field)}</label>
        </div>
    }
    .into_any();
    wrap(cx, field, &ptr, Labelling::Inline, control)
}

pub fn fixed(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::Fixed(value) = &field.kind else { return ().into_any() };
    let id = cx.id(&ptr);
    let control = view! {
        <p id=id class="text-sm text-zinc-700 dark:text-zinc-300" data-fixed="">
            <span class="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs dark:bg-zinc-800">{format_value(value)}</span>
            <span class="ml-2 text-xs text-zinc-500">"(fixed by the plan)"</span>
        </p>
    }
    .into_any();
    wrap(cx, field, &ptr, Labelling::Heading, control)
}
