//! The house classes and small pieces every screen uses: buttons, inputs, cards, alerts,
//! a spinner, relative times.

use leptos::prelude::*;

pub use crate::schema_form::widgets::{INPUT, LABEL};

pub const BUTTON_PRIMARY: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-indigo-600 px-3 py-1.5 \
    text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 \
    focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-60";
pub const BUTTON_SECONDARY: &str = "inline-flex items-center justify-center gap-2 rounded-md border border-zinc-300 \
    bg-white px-3 py-1.5 text-sm font-medium text-zinc-700 shadow-sm hover:bg-zinc-50 focus-visible:outline-2 \
    focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-60 \
    dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-200 dark:hover:bg-zinc-800";
pub const BUTTON_DANGER: &str = "inline-flex items-center justify-center gap-2 rounded-md bg-red-600 px-3 py-1.5 \
    text-sm font-medium text-white shadow-sm hover:bg-red-500 focus-visible:outline-2 focus-visible:outline-offset-2 \
    focus-visible:outline-red-600 disabled:cursor-not-allowed disabled:opacity-60";
pub const CARD: &str = "rounded-lg border border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900";
pub const LINK: &str = "font-medium text-indigo-600 hover:underline dark:text-indigo-400";
pub const SELECT: &str = "block rounded-md border border-zinc-300 bg-white px-2 py-1.5 text-sm shadow-sm \
    focus:border-indigo-500 focus:outline-none focus:ring-1 focus:ring-indigo-500 dark:border-zinc-700 dark:bg-zinc-900";
pub const MUTED: &str = "text-zinc-500 dark:text-zinc-400";
pub const FIELD_ERROR: &str = "text-xs text-red-600 dark:text-red-400";

/// Moves keyboard focus to a button once it is in the page: a confirmation focuses its safe
/// choice, so Enter never confirms by accident and Escape (handled by the dialog) cancels.
pub fn focus_when_mounted(button: NodeRef<leptos::html::Button>) {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(element) = button.get() {
            let _ = element.focus();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = button;
    });
}

/// A keydown handler that runs `cancel` on Escape.
pub fn on_escape(cancel: impl Fn() + 'static) -> impl Fn(leptos::ev::KeyboardEvent) {
    move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            cancel();
        }
    }
}

/// A small spinning circle with a label for screen readers.
#[component]
pub fn Spinner(#[prop(default = "Loading")] label: &'static str) -> impl IntoView {
    view! {
        <span role="status" class="inline-flex items-center gap-2 text-sm text-zinc-500 dark:text-zinc-400">
            <svg class="h-4 w-4 animate-spin" viewBox="0 0 24 24" fill="none" aria-hidden="true">
                <circle cx="12" cy="12" r="9" stroke="currentColor" stroke-opacity="0.25" stroke-width="3" />
                <path d="M21 12a9 9 0 0 0-9-9" stroke="currentColor" stroke-width="3" stroke-linecap="round" />
            </svg>
            <span>{label}"…"</span>
        </span>
    }
}

/// A placeholder card while a page's data loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class=format!("{CARD} px-6 py-10 text-center")>
            <Spinner />
        </div>
    }
}

/// An error box, announced to screen readers.
#[component]
pub fn ErrorBox(#[prop(into)] title: String, #[prop(into)] message: String) -> impl IntoView {
    view! {
        <div role="alert" data-testid="error-box" class="rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/40 dark:text-red-300">
            <p class="font-medium">{title}</p>
            <p class="mt-1 break-words">{message}</p>
        </div>
    }
}

/// A label/value row of a description list.
#[component]
pub fn Fact(label: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="grid grid-cols-3 gap-2 py-1.5 text-sm">
            <dt class=MUTED>{label}</dt>
            <dd class="col-span-2 min-w-0 break-words">{children()}</dd>
        </div>
    }
}

/// "2026-06-01T12:00:00Z" → "2026-06-01 12:00:00 UTC" (dates from the server are RFC 3339).
pub fn readable_time(rfc3339: &str) -> String {
    if rfc3339.len() >= 19 && rfc3339.as_bytes().get(10) == Some(&b'T') {
        let date = &rfc3339[..10];
        let time = &rfc3339[11..19];
        let zone = if rfc3339.ends_with('Z') { " UTC" } else { "" };
        format!("{date} {time}{zone}")
    } else {
        rfc3339.to_string()
    }
}

/// A heading of a section inside a page.
#[component]
pub fn SectionTitle(#[prop(into)] title: String, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    view! {
        <div class="mb-3 flex items-center justify-between gap-4">
            <h2 class="text-base font-semibold tracking-tight">{title}</h2>
            {children.map(|c| c())}
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_well() {
        assert_eq!(super::readable_time("2026-06-01T12:00:00Z"), "2026-06-01 12:00:00 UTC");
        assert_eq!(super::readable_time("2026-06-01T12:00:00.123+02:00"), "2026-06-01 12:00:00");
        assert_eq!(super::readable_time("yesterday"), "yesterday");
    }
}
