//! A choice of shapes (`oneOf`/`anyOf` of schemas): a chooser, and the chosen shape's fields.

use leptos::prelude::*;

use super::shell::{INPUT, Labelling, label_text, wrap};
use super::{Ctx, field_view};
use crate::schema_form::model::{Field, FieldKind};
use crate::schema_form::value::{select_branch, switch_branch};

pub fn branches(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::Branches(spec) = &field.kind else { return ().into_any() };
    let spec = spec.clone();
    let id = cx.id(&ptr);
    // The user's pick wins among the shapes the value fits equally well.
    let picked = RwSignal::new(None::<usize>);
    let current = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        let spec = spec.clone();
        Memo::new(move |_| {
            let value = cx.read(&ptr);
            select_branch(&cx.model.schema, &spec, value.as_ref(), picked.get())
        })
    };
    let choose = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        let spec = spec.clone();
        move |to: usize| {
            picked.set(Some(to));
            let now = cx.value.with_untracked(|v| v.pointer(&ptr).cloned());
            let next = switch_branch(&cx.model.schema, &spec, to, now.as_ref());
            cx.write(&ptr, next);
        }
    };
    let labels: Vec<String> = spec.branches.iter().map(|b| b.label.clone()).collect();
    let chooser = if labels.len() <= 4 {
        let radios = labels
            .into_iter()
            .enumerate()
            .map(|(i, label)| {
                let choose = choose.clone();
                let option_id = format!("{id}-option-{i}");
                let for_id = option_id.clone();
                view! {
                    <label for=for_id class="inline-flex cursor-pointer items-center gap-2 text-sm">
                        <input id=option_id type="radio" name=format!("{ptr}#option") value=i.to_string()
                            class="h-4 w-4 accent-indigo-600" disabled=field.read_only
                            checked=move || current.get() == i prop:checked=move || current.get() == i on:change=move |_| choose(i) />
                        <span>{label}</span>
                    </label>
                }
            })
            .collect_view();
        view! {
            <fieldset id=format!("{id}-choice") data-branches="">
                <legend class="mb-1 text-sm font-medium text-zinc-800 dark:text-zinc-200">{label_text(field)}</legend>
                <div class="flex flex-wrap gap-x-6 gap-y-2">{radios}</div>
            </fieldset>
        }
        .into_any()
    } else {
        let options = labels
            .into_iter()
            .enumerate()
            .map(
                |(i, label)| view! { <option value=i.to_string() selected=move || current.get() == i>{label}</option> },
            )
            .collect_view();
        view! {
            <label for=format!("{id}-choice") class="block text-sm font-medium text-zinc-800 dark:text-zinc-200">{label_text(field)}</label>
            <select id=format!("{id}-choice") name=format!("{ptr}#option") class=INPUT data-branches="" disabled=field.read_only
                prop:value=move || current.get().to_string()
                on:change=move |ev| {
                    if let Ok(i) = event_target_value(&ev).parse::<usize>() {
                        choose(i)
                    }
                }>
                {options}
            </select>
        }
        .into_any()
    };
    let body = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move || {
            let index = current.get();
            let Some(branch) = spec.branches.get(index) else { return ().into_any() };
            let mut inner = branch.field.clone();
            // The chooser already says what this is.
            if matches!(inner.kind, FieldKind::Object(_)) {
                return super::object::object_body(&cx, &inner, &ptr);
            }
            inner.label = branch.label.clone();
            inner.help = None;
            field_view(&cx, &inner, ptr.clone())
        }
    };
    let control = view! {
        <div class="space-y-3 rounded-lg border border-zinc-200 p-4 dark:border-zinc-800">
            {chooser}
            <div data-branch-body="">{body}</div>
        </div>
    }
    .into_any();
    wrap(cx, field, &ptr, Labelling::Legend, control)
}
