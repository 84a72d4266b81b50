//! The catalog: the services of all registered brokers, as tiles, with search as you type and
//! filters by tag and broker. The filters live in the URL (`?q=&tag=&broker=`): shareable, and
//! the server renders the filtered page before the browser takes over.

mod server_fns;
mod tile;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{NavigateOptions, hooks::use_navigate, hooks::use_query_map};

pub use server_fns::*;

use crate::api::catalog::{CatalogView, ClassTile};
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::ui::{BUTTON_PRIMARY, ErrorBox, INPUT, LINK, Loading, SELECT};
use tile::Tile;

/// The catalog's filters, as in the URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Filters {
    q: String,
    tag: String,
    broker: String,
}

impl Filters {
    fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [("q", &self.q), ("tag", &self.tag), ("broker", &self.broker)] {
            if !value.is_empty() {
                parts.push(format!("{key}={}", encode(value)));
            }
        }
        if parts.is_empty() { "/catalog".to_string() } else { format!("/catalog?{}", parts.join("&")) }
    }

    fn keep(&self, tile: &ClassTile) -> bool {
        tile.matches(&self.q)
            && (self.tag.is_empty() || tile.tags.contains(&self.tag))
            && (self.broker.is_empty() || tile.broker == self.broker)
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    let catalog = Resource::new(|| (), |_| load_catalog());
    let query = use_query_map();
    let from_url = move || Filters {
        q: query.read().get("q").unwrap_or_default(),
        tag: query.read().get("tag").unwrap_or_default(),
        broker: query.read().get("broker").unwrap_or_default(),
    };
    // The search box is typed into faster than the URL follows; it keeps its own signal.
    let search = RwSignal::new(query.with_untracked(|q| q.get("q").unwrap_or_default()));
    let filters = Memo::new(move |_| Filters { q: search.get(), ..from_url() });

    view! {
        <Title text="Catalog" />
        <PageHeader title="Catalog" subtitle="Services offered by the platform's brokers. Pick one to see its plans and request an instance." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match catalog.await {
                    Ok(view) => catalog_body(view, filters, search).into_any(),
                    Err(e) => view! { <ErrorBox title="The catalog could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn catalog_body(catalog: CatalogView, filters: Memo<Filters>, search: RwSignal<String>) -> impl IntoView {
    if catalog.tiles.is_empty() {
        return no_services(&catalog).into_any();
    }
    let tags = catalog.tags();
    let brokers: Vec<String> = catalog.brokers.iter().map(|b| b.name.clone()).collect();
    let unready: Vec<_> = catalog.brokers.iter().filter(|b| !b.ready).cloned().collect();
    let tiles = StoredValue::new(catalog.tiles);
    let total = tiles.with_value(Vec::len);
    let shown = Memo::new(move |_| {
        let f = filters.get();
        tiles.with_value(|all| {
            let mut kept: Vec<ClassTile> = all.iter().filter(|t| f.keep(t)).cloned().collect();
            // Offered classes first; removed ones are marked and last.
            kept.sort_by(|a, b| (a.removed, &a.display_name).cmp(&(b.removed, &b.display_name)));
            kept
        })
    });
    let navigate = use_navigate();
    let go = move |f: Filters| {
        navigate(&f.query_string(), NavigateOptions { replace: true, scroll: false, ..Default::default() });
    };
    let on_search = {
        let go = go.clone();
        move |ev: leptos::ev::Event| {
            search.set(event_target_value(&ev));
            go(filters.get_untracked());
        }
    };
    let on_broker = {
        let go = go.clone();
        move |ev: leptos::ev::Event| go(Filters { broker: event_target_value(&ev), ..filters.get_untracked() })
    };

    view! {
        {(!unready.is_empty()).then(|| view! {
            <div class="mb-4 space-y-2" data-testid="broker-problems">
                {unready.into_iter().map(|b| view! {
                    <ErrorBox title=format!("Broker {} is not ready; its services may be missing or out of date", b.name) message=b.message />
                }).collect_view()}
            </div>
        })}
        <form method="get" action="/catalog" role="search" class="mb-4 flex flex-wrap items-end gap-3" on:submit=|ev| ev.prevent_default()>
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
            <div>
                <label for="catalog-broker" class="sr-only">"Broker"</label>
                <select id="catalog-broker" name="broker" class=SELECT on:change=on_broker>
                    <option value="" selected=move || filters.get().broker.is_empty()>"All brokers"</option>
                    {brokers
                        .into_iter()
                        .map(|b| {
                            let name = b.clone();
                            let value = b.clone();
                            view! { <option value=value selected=move || filters.get().broker == name>{b}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <input type="hidden" name="tag" value=move || filters.get().tag />
            <noscript><button type="submit" class=BUTTON_PRIMARY>"Filter"</button></noscript>
        </form>
        <div class="mb-4 flex flex-wrap items-center gap-1.5" role="group" aria-label="Filter by tag">
            {tags
                .into_iter()
                .map(|tag| {
                    let tag_for_href = tag.clone();
                    let tag_for_class = tag.clone();
                    let href = move || {
                        let f = filters.get();
                        let next = if f.tag == tag_for_href { String::new() } else { tag_for_href.clone() };
                        Filters { tag: next, ..f }.query_string()
                    };
                    let active = move || filters.get().tag == tag_for_class;
                    let active2 = active.clone();
                    let data_tag = tag.clone();
                    view! {
                        <a
                            href=href
                            data-tag=data_tag
                            aria-pressed=move || active2().to_string()
                            class=move || {
                                if active() {
                                    "rounded-full bg-indigo-600 px-2.5 py-0.5 text-xs font-medium text-white"
                                } else {
                                    "rounded-full bg-zinc-100 px-2.5 py-0.5 text-xs font-medium text-zinc-700 hover:bg-zinc-200 dark:bg-zinc-800 dark:text-zinc-300 dark:hover:bg-zinc-700"
                                }
                            }
                        >
                            {tag}
                        </a>
                    }
                })
                .collect_view()}
        </div>
        <p class="mb-3 text-xs text-zinc-500 dark:text-zinc-400" aria-live="polite" data-testid="catalog-count">
            {move || {
                let n = shown.with(Vec::len);
                if n == total { format!("{total} services") } else { format!("{n} of {total} services") }
            }}
        </p>
        <Show
            when=move || !shown.with(Vec::is_empty)
            fallback=move || {
                view! {
                    <EmptyState title="No service matches these filters">
                        <p>"Try other words, or " <a class=LINK href="/catalog" on:click=move |_| search.set(String::new())>"clear all filters"</a> "."</p>
                    </EmptyState>
                }
            }
        >
            <ul class="grid grid-cols-1 gap-4 sm:grid-cols-2 xl:grid-cols-3 2xl:grid-cols-4" data-testid="catalog-grid">
                <For each=move || shown.get() key=|t| t.name.clone() let(tile)>
                    <Tile tile />
                </For>
            </ul>
        </Show>
    }
    .into_any()
}

/// No classes at all: no broker yet, or brokers that could not be read.
fn no_services(catalog: &CatalogView) -> impl IntoView + use<> {
    let problems: Vec<_> = catalog.brokers.iter().filter(|b| !b.ready).cloned().collect();
    let has_brokers = !catalog.brokers.is_empty();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_round_trip_through_the_url() {
        let f = Filters { q: "hdfs quota".into(), tag: "big data".into(), broker: String::new() };
        assert_eq!(f.query_string(), "/catalog?q=hdfs%20quota&tag=big%20data");
        assert_eq!(Filters::default().query_string(), "/catalog");
        assert_eq!(encode("a&b=c"), "a%26b%3Dc");
    }
}
