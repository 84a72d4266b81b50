//! The 403 page: what a person sees at the address of something of a team they are not in.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::EmptyState;
use crate::components::ui::LINK;

/// How a refusal travels inside a server function's error, so a page can tell "not allowed"
/// from "broken" and show the 403 page.
pub const FORBIDDEN: &str = "Forbidden: ";

/// The reason, when a server function's error is a refusal.
pub fn forbidden_reason(error: &ServerFnError) -> Option<String> {
    match error {
        ServerFnError::ServerError(message) => message.strip_prefix(FORBIDDEN).map(str::to_string),
        _ => None,
    }
}

/// The 403 page (HTTP status 403 when rendered on the server).
#[component]
pub fn Forbidden(#[prop(into)] reason: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="No access" />
        <div data-testid="forbidden">
            <EmptyState title="You do not have access to this">
                <p>{reason}</p>
                <p class="mt-3">"Back to " <a class=LINK href="/instances">"your instances"</a> " or the " <a class=LINK href="/catalog">"Catalog"</a> "."</p>
            </EmptyState>
        </div>
    }
}
