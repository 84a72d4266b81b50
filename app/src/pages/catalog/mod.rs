//! The catalog: the services of all registered brokers, as tiles, with search as you type and
//! filters by tag and broker. The filters live in the URL (`?q=&tag=&broker=&all=1`): shareable,
//! and the server renders the filtered page before the browser takes over. The server filters,
//! so a page carries the tiles it shows (the first 60, or all), however large the catalog.

mod server_fns;
mod tile;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

pub use crate::api::catalog::encode;
pub use server_fns::*;

use crate::api::catalog::{CatalogPage as PageData, CatalogQuery};
use crate::components::answers::Answers;
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::ui::{BUTTON_PRIMARY, BUTTON_SECONDARY, ErrorBox, INPUT, LINK, Loading, MUTED, SELECT, Spinner};
use tile::Tile;

/// How long typing pauses before the search is sent.
const SEARCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(150);

/// The catalog screen: the server loads the page for the URL's filters and renders it, and the
/// browser hydrates only [`CatalogResults`], an island (`/` and `/catalog` are islands pages, see
/// [`crate::is_islands_path`]). Within the full app (reached by a link from another screen) the
/// same view renders in the browser and follows the router's URL.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let url_query = Memo::new(move |_| {
        let q = query.read();
        CatalogQuery {
            q: q.get("q").unwrap_or_default(),
            tag: q.get("tag").unwrap_or_default(),
            broker: q.get("broker").unwrap_or_default(),
            all: q.get("all").is_some_and(|v| v == "1"),
        }
    });
    view! {
        <Title text="Catalog" />
        <PageHeader title="Catalog" subtitle="Services offered by the platform's brokers. Pick one to see its plans and request an instance." />
        <Suspense fallback=Loading>
            {move || {
                let query = url_query.get();
                Suspend::new(async move {
                    match load_catalog(query.clone()).await {
                        Ok(page) => view! { <CatalogResults query page /> }.into_any(),
                        Err(e) => not_loaded(e.to_string()),
                    }
                })
            }}
        </Suspense>
    }
}

/// What the catalog shows when its page could not be loaded.
fn not_loaded(message: String) -> AnyView {
    view! { <ErrorBox title="The catalog could not be loaded" message /> }.into_any()
}

/// The search box, the filters and the tiles: the catalog's interactive part, an island. It starts
/// from the page the server loaded (its props) and asks the server for another page when the
/// search or the broker filter changes; tag links, "Show all" and tiles are links. It is in the
/// main wasm, not a part of its own (`#[island(lazy)]`): measured, a lazy island made the first
/// visit 391,551 B gzipped instead of 254,174 B, the runtime it needs coming in 263 small parts.
#[island]
fn CatalogResults(query: CatalogQuery, page: PageData) -> impl IntoView {
    crate::mark_hydrated();
    let answers = Answers::new(query, page);
    let url_query = answers.query;
    let ask = move |next: CatalogQuery| answers.ask(next.clone(), &next.url(), load_catalog);

    // The search box is typed into faster than pages are asked for: the question follows after a
    // short pause.
    let search = RwSignal::new(url_query.with_untracked(|q| q.q.clone()));
    let typed = StoredValue::new(0u64);
    let on_search = move |ev: leptos::ev::Event| {
        search.set(event_target_value(&ev));
        typed.update_value(|n| *n += 1);
        let mine = typed.get_value();
        set_timeout(
            move || {
                if typed.get_value() == mine {
                    ask(CatalogQuery {
                        q: search.get_untracked().trim().to_string(),
                        all: false,
                        ..url_query.get_untracked()
                    });
                }
            },
            SEARCH_PAUSE,
        );
    };

    view! {
        <form method="get" action="/catalog" role="search" class="mb-4 flex flex-wrap items-center gap-3" on:submit=|ev| ev.prevent_default()>
            <div class="min-w-64 flex-1">
                <label for="catalog-search" class="sr-only">"Search services"</label>
                <input
                    id="catalog-search"
                    name="q"
                    type="search"
                    autocomplete="off"
                    placeholder="Search by name, description, provider or tag…"
                    class=INPUT
                    prop:value=move || search.get()
                    value=move || search.get()
                    on:input=on_search
                />
            </div>
            <input type="hidden" name="tag" value=move || url_query.get().tag />
            <input type="hidden" name="broker" value=move || url_query.get().broker />
            <noscript><button type="submit" class=BUTTON_PRIMARY>"Search"</button></noscript>
            <span class="w-24">{move || answers.busy.get().then(|| view! { <Spinner label="Searching" /> })}</span>
        </form>
        {move || match answers.shown.get() {
            Ok(page) => catalog_body(page, url_query, search, Callback::new(ask)).into_any(),
            Err(e) => not_loaded(e),
        }}
    }
}

fn catalog_body(
    page: PageData,
    url_query: RwSignal<CatalogQuery>,
    search: RwSignal<String>,
    ask: Callback<CatalogQuery>,
) -> impl IntoView {
    if page.total == 0 {
        return no_services(&page).into_any();
    }
    let current = url_query.get_untracked();
    let unready: Vec<_> = page.brokers.iter().filter(|b| !b.ready).cloned().collect();
    let on_broker = move |ev: leptos::ev::Event| {
        ask.run(CatalogQuery { broker: event_target_value(&ev), all: false, ..url_query.get_untracked() });
    };
    let count = if page.matches == page.total {
        format!("{} services", page.total)
    } else {
        format!("{} of {} services", page.matches, page.total)
    };
    let more = (page.matches > page.tiles.len()).then(|| CatalogQuery { all: true, ..current.clone() }.url());
    let matches = page.matches;

    view! {
        {(!unready.is_empty()).then(|| view! {
            <div class="mb-4 space-y-2" data-testid="broker-problems">
                {unready.into_iter().map(|b| view! {
                    <ErrorBox title=format!("Broker {} is not ready; its services may be missing or out of date", b.name) message=b.message />
                }).collect_view()}
            </div>
        })}
        <div class="mb-4 flex flex-wrap items-center gap-3">
            <label for="catalog-broker" class=format!("text-sm {MUTED}")>"Broker"</label>
            <select id="catalog-broker" name="broker" class=SELECT on:change=on_broker>
                <option value="" selected=current.broker.is_empty()>"All brokers"</option>
                {page.brokers.iter().map(|b| {
                    let selected = current.broker == b.name;
                    view! { <option value=b.name.clone() selected=selected>{b.name.clone()}</option> }
                }).collect_view()}
            </select>
            <div class="flex flex-wrap items-center gap-1.5" role="group" aria-label="Filter by tag">
                {page.tags.iter().map(|tag| {
                    let active = current.tag == *tag;
                    let next = if active { String::new() } else { tag.clone() };
                    // With what is typed in the search box now, even if the URL has not caught up.
                    let base = current.clone();
                    let href = move || CatalogQuery { q: search.get().trim().to_string(), tag: next.clone(), all: false, ..base.clone() }.url();
                    view! {
                        <a
                            href=href
                            data-tag=tag.clone()
                            aria-pressed=active.to_string()
                            class=if active {
                                "rounded-full bg-indigo-600 px-2.5 py-0.5 text-xs font-medium text-white"
                            } else {
                                "rounded-full bg-zinc-100 px-2.5 py-0.5 text-xs font-medium text-zinc-700 hover:bg-zinc-200 dark:bg-zinc-800 dark:text-zinc-300 dark:hover:bg-zinc-700"
                            }
                        >
                            {tag.clone()}
                        </a>
                    }
                }).collect_view()}
            </div>
        </div>
        <p class=format!("mb-3 text-xs {MUTED}") aria-live="polite" data-testid="catalog-count">{count}</p>
        {if page.tiles.is_empty() {
            view! {
                <EmptyState title="No service matches these filters">
                    <p>"Try other words, or " <a class=LINK href="/catalog" on:click=move |_| search.set(String::new())>"clear all filters"</a> "."</p>
                </EmptyState>
            }
            .into_any()
        } else {
            view! {
                <ul class="grid grid-cols-1 gap-4 sm:grid-cols-2 xl:grid-cols-3 2xl:grid-cols-4" data-testid="catalog-grid">
                    {page.tiles.into_iter().map(|tile| view! { <Tile tile /> }).collect_view()}
                </ul>
                {more.map(|href| view! {
                    <div class="mt-6 text-center">
                        <a class=BUTTON_SECONDARY href=href data-testid="show-all">{format!("Show all {matches} services")}</a>
                    </div>
                })}
            }
            .into_any()
        }}
    }
    .into_any()
}

/// No classes at all: no broker yet, or brokers that could not be read.
fn no_services(page: &PageData) -> impl IntoView + use<> {
    let problems: Vec<_> = page.brokers.iter().filter(|b| !b.ready).cloned().collect();
    let has_brokers = !page.brokers.is_empty();
    view! {
        <EmptyState title="No services yet">
            {if !has_brokers {
                view! {
                    <p>
                        "The catalog shows the services of every registered service broker. "
                        "A platform admin registers brokers under " <a class=LINK href="/admin/brokers">"Admin › Brokers"</a>
                        "; once a broker's catalog is fetched, its services appear here as tiles."
                    </p>
                }
                .into_any()
            } else if problems.is_empty() {
                view! { <p>"The registered brokers offer no services yet. Their catalogs are fetched in the background; this page fills as they arrive."</p> }.into_any()
            } else {
                view! {
                    <p>"The registered brokers' catalogs could not be read:"</p>
                    <ul class="mt-2 space-y-1 text-left">
                        {problems.into_iter().map(|b| view! { <li><span class="font-medium">{b.name}</span>": "{b.message}</li> }).collect_view()}
                    </ul>
                    <p class="mt-2">"See " <a class=LINK href="/admin/brokers">"Admin › Brokers"</a> "."</p>
                }
                .into_any()
            }}
            <ConnectionCheck />
        </EmptyState>
    }
}

/// A button that asks the server for its status and shows the answer.
#[component]
pub fn ConnectionCheck() -> impl IntoView {
    let check = ServerAction::<CheckPortal>::new();
    let pending = check.pending();
    let result = check.value();

    view! {
        <div class="mt-6 flex flex-col items-center gap-3">
            <button
                type="button"
                data-testid="check-connection"
                class=BUTTON_PRIMARY
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
