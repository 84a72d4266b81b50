//! The catalog: the services of all registered brokers.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{EmptyState, PageHeader};
use crate::status::PortalStatus;

/// Asks the server how it is: version, database, brokers and services known.
#[server(endpoint = "check_portal")]
pub async fn check_portal() -> Result<PortalStatus, ServerFnError> {
    let portal = crate::port::portal()?;
    portal.status().await.map_err(|e| ServerFnError::new(e.to_string()))
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    view! {
        <Title text="Catalog" />
        <PageHeader title="Catalog" subtitle="Services offered by the platform's brokers." />
        <EmptyState title="No services yet">
            <p>
                "The catalog shows the services of every registered service broker. "
                "A platform admin registers brokers under Admin; once a broker's catalog is fetched, its services appear here as tiles."
            </p>
            <ConnectionCheck />
        </EmptyState>
    }
}

/// A button that asks the server for its status and shows the answer.
#[component]
fn ConnectionCheck() -> impl IntoView {
    let check = ServerAction::<CheckPortal>::new();
    let pending = check.pending();
    let result = check.value();

    view! {
        <div class="mt-6 flex flex-col items-center gap-3">
            <button
                type="button"
                data-testid="check-connection"
                class="inline-flex items-center gap-2 rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:opacity-60"
                disabled=move || pending.get()
                on:click=move |_| {
                    check.dispatch(CheckPortal {});
                }
            >
                {move || if pending.get() { "Checking…" } else { "Check connection" }}
            </button>
            <p data-testid="connection-result" class="text-sm" aria-live="polite">
                {move || match result.get() {
                    None => ().into_any(),
                    Some(Ok(s)) => view! {
                        <span class="text-emerald-700 dark:text-emerald-400">
                            {format!(
                                "Connected to Quartermaster {} · {} · {} broker{} · {} service{} · checked {}",
                                s.version,
                                s.database,
                                s.brokers,
                                if s.brokers == 1 { "" } else { "s" },
                                s.services,
                                if s.services == 1 { "" } else { "s" },
                                s.checked_at,
                            )}
                        </span>
                    }
                        .into_any(),
                    Some(Err(e)) => view! {
                        <span class="text-red-700 dark:text-red-400">{format!("The portal did not answer: {e}")}</span>
                    }
                        .into_any(),
                }}
            </p>
        </div>
    }
}
