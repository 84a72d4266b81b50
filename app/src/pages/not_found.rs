use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::EmptyState;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    // The router's fallback is not a lazily loaded screen: it marks the page hydrated itself.
    crate::mark_hydrated();
    view! {
        <Title text="Not found" />
        <EmptyState title="Page not found">
            <p>"There is nothing at this address. Go back to the " <a class="text-indigo-600 underline dark:text-indigo-400" href="/catalog">"Catalog"</a> "."</p>
        </EmptyState>
    }
}
