//! Lists: items added, removed and moved up or down; items that are objects in a card each.

use leptos::prelude::*;
use serde_json::Value;

use super::object::object_body;
use super::shell::{BUTTON, Labelling, wrap};
use super::{Ctx, field_view};
use crate::schema_form::model::{Field, FieldKind};
use crate::schema_form::pointer;
use crate::schema_form::units::format_number;
use crate::schema_form::value::new_item;

pub fn array(cx: &Ctx, field: &Field, ptr: String) -> AnyView {
    let FieldKind::Array(spec) = &field.kind else { return ().into_any() };
    let len = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        Memo::new(move |_| cx.value.with(|v| v.pointer(&ptr).and_then(Value::as_array).map_or(0, Vec::len)))
    };
    let edit = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        move |change: &dyn Fn(&mut Vec<Value>)| {
            let mut items =
                cx.value.with_untracked(|v| v.pointer(&ptr).and_then(Value::as_array).cloned().unwrap_or_default());
            change(&mut items);
            cx.write(&ptr, Some(Value::Array(items)));
        }
    };
    let item_field = (*spec.item).clone();
    let read_only = field.read_only;
    let row = {
        let cx = cx.clone();
        let ptr = ptr.clone();
        let edit = edit.clone();
        let item_field = item_field.clone();
        move |i: usize| {
            let item_ptr = pointer::item(&ptr, i);
            let mut item = item_field.clone();
            item.label = format!("{} {}", item_field.label, format_number((i + 1) as f64));
            let heading = item.label.clone();
            let (up, down, remove) = (edit.clone(), edit.clone(), edit.clone());
            let buttons = view! {
                <div class="flex shrink-0 gap-1">
                    <button type="button" class=BUTTON disabled=move || { read_only || i == 0 }
                        aria-label=format!("Move {heading} up") on:click=move |_| { up(&|items| if i > 0 && i < items.len() { items.swap(i, i - 1) }) }>
                        "↑"
                    </button>
                    <button type="button" class=BUTTON disabled=move || { read_only || i + 1 >= len.get() }
                        aria-label=format!("Move {heading} down") on:click=move |_| { down(&|items| if i + 1 < items.len() { items.swap(i, i + 1) }) }>
                        "↓"
                    </button>
                    <button type="button" class=BUTTON disabled=read_only
                        aria-label=format!("Remove {heading}") on:click=move |_| { remove(&|items| if i < items.len() { items.remove(i); }) }>
                        "Remove"
                    </button>
                </div>
            };
            if matches!(item.kind, FieldKind::Object(_)) {
                view! {
                    <li class="rounded-lg border border-zinc-200 p-4 dark:border-zinc-800" data-item=i.to_string() data-field=item_ptr.clone()>
                        <div class="mb-3 flex items-center justify-between gap-2">
                            <span id=cx.id(&item_ptr) class="text-sm font-medium">{item.label.clone()}</span>
                            {buttons}
                        </div>
                        {object_body(&cx, &item, &item_ptr)}
                    </li>
                }
                .into_any()
            } else {
                view! {
                    <li class="flex items-start gap-2" data-item=i.to_string()>
                        <div class="min-w-0 flex-1">{field_view(&cx, &item, item_ptr)}</div>
                        <div class="pt-6">{buttons}</div>
                    </li>
                }
                .into_any()
            }
        }
    };
    let max = spec.max_items;
    let add = {
        let cx = cx.clone();
        let item_field = item_field.clone();
        move |_| {
            let fresh = new_item(&cx.model.schema, &item_field);
            edit(&|items| items.push(fresh.clone()));
        }
    };
    let add_label = format!("Add {}", item_field.label.to_lowercase());
    let control = view! {
        <div class="space-y-2" id=cx.id(&ptr)>
            <ol class="space-y-3">
                <For each=move || 0..len.get() key=|i| *i children=row />
            </ol>
            {move || (len.get() == 0).then(|| view! { <p class="text-xs text-zinc-500 dark:text-zinc-400">"No items yet."</p> })}
            <button type="button" class=BUTTON data-add=""
                disabled=move || { read_only || max.is_some_and(|m| len.get() as u64 >= m) }
                on:click=add>
                {add_label}
            </button>
        </div>
    }
    .into_any();
    wrap(cx, field, &ptr, Labelling::Heading, control)
}
