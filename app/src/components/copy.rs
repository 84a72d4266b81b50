//! A button that copies a text to the clipboard and says so.

use leptos::prelude::*;

use super::ui::BUTTON_SECONDARY;

/// Copies `text` (read when clicked). `label` names what is copied, for screen readers.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let on_click = move |_| {
        let value = text.get_untracked();
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                // The promise settles later; the button only says it was handed over.
                let _ = window.navigator().clipboard().write_text(&value);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = value;
        copied.set(true);
        set_timeout(move || copied.set(false), std::time::Duration::from_secs(2));
    };
    view! {
        <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs") on:click=on_click aria-label=format!("Copy {label}")>
            <span aria-live="polite">{move || if copied.get() { "Copied" } else { "Copy" }}</span>
        </button>
    }
}
