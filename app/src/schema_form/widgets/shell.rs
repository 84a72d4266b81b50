//! What surrounds every control: label with the required marker, help text, the compiler's note,
//! the page's hint and the messages; and the house classes.

use leptos::prelude::*;

use super::Ctx;
use crate::schema_form::model::Field;

pub const INPUT: &str = "block w-full rounded-md border border-zinc-300 bg-white px-3 py-1.5 text-sm shadow-sm \
    placeholder:text-zinc-400 focus:border-indigo-500 focus:outline-none focus:ring-1 focus:ring-indigo-500 \
    read-only:bg-zinc-50 read-only:text-zinc-600 disabled:opacity-60 aria-[invalid=true]:border-red-500 \
    dark:border-zinc-700 dark:bg-zinc-900 dark:read-only:bg-zinc-800/60";
pub const LABEL: &str = "block text-sm font-medium text-zinc-800 dark:text-zinc-200";
pub const BUTTON: &str = "inline-flex items-center gap-1 rounded-md border border-zinc-300 bg-white px-2 py-1 text-xs \
    font-medium text-zinc-700 shadow-sm hover:bg-zinc-50 focus-visible:outline-2 focus-visible:outline-offset-2 \
    focus-visible:outline-indigo-600 disabled:opacity-50 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-300 \
    dark:hover:bg-zinc-800";

/// How the label is tied to the control.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Labelling {
    /// `<label for=id>` before the control.
    For,
    /// The control is a `fieldset` with its own `legend` (groups of radios, checkboxes, fields).
    Legend,
    /// The control carries the label itself (a toggle's label sits after the switch).
    Inline,
    /// A heading above a control that is not a single input (a list).
    Heading,
}

/// The ids of the help text and the messages, for `aria-describedby`.
pub fn described_by(cx: &Ctx, ptr: &str) -> String {
    let id = cx.id(ptr);
    format!("{id}-help {id}-msg")
}

/// A label's text with the required marker.
pub fn label_text(field: &Field) -> impl IntoView + use<> {
    let label = field.label.clone();
    let required = field.required;
    view! {
        {label}
        {required.then(|| view! {
            <span class="ml-0.5 text-red-600 dark:text-red-400" aria-hidden="true">"*"</span>
            <span class="sr-only">" (required)"</span>
        })}
    }
}

/// The wrapper of one field around its control.
pub fn wrap(cx: &Ctx, field: &Field, ptr: &str, labelling: Labelling, control: AnyView) -> AnyView {
    let id = cx.id(ptr);
    let widget = field.widget_name();
    let label = (!field.label.is_empty()).then(|| match labelling {
        Labelling::For => Some(view! { <label for=id.clone() class=LABEL>{label_text(field)}</label> }.into_any()),
        Labelling::Heading => Some(view! { <span class=LABEL>{label_text(field)}</span> }.into_any()),
        Labelling::Legend | Labelling::Inline => None,
    });
    view! {
        <div class="space-y-1" data-field=ptr.to_string() data-widget=widget>
            {label}
            {control}
            {details(cx, field, ptr)}
        </div>
    }
    .into_any()
}

/// Help, note, hint and messages of a field (also used inside legends' fieldsets).
pub fn details(cx: &Ctx, field: &Field, ptr: &str) -> impl IntoView + use<> {
    let id = cx.id(ptr);
    let help = field.help.clone();
    let note = field.note.clone();
    let hint = {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        move || {
            cx.hint(&ptr).map(
                |h| view! { <p class="text-xs font-medium text-indigo-700 dark:text-indigo-300" data-hint="">{h}</p> },
            )
        }
    };
    let messages = {
        let cx = cx.clone();
        let ptr = ptr.to_string();
        move || cx.messages(&ptr).into_iter().map(|m| view! { <span class="block">{m}</span> }).collect_view()
    };
    view! {
        {help.map(|h| view! { <p id=format!("{id}-help") class="text-xs text-zinc-500 dark:text-zinc-400">{h}</p> })}
        {note.map(|n| view! { <p class="text-xs text-amber-700 dark:text-amber-400" data-note="">{n}</p> })}
        {hint}
        <p id=format!("{id}-msg") class="text-xs text-red-600 dark:text-red-400" aria-live="polite" data-messages="">
            {messages}
        </p>
    }
}

/// Text for the inside of a `<textarea>`. The renderer writes a textarea's children unescaped (they
/// are raw text to HTML), so a value with `</textarea>` in it would end the element early; escaped
/// here, the browser decodes it back to the same text.
pub fn textarea_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
