//! The instances of the caller's teams, with filters (team, service, status) in the URL, and
//! their status kept live by the server's stream.

mod server_fns;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

pub use server_fns::*;

use crate::api::instances::{INSTANCES_PAGE, InstancesQuery, InstancesView};
use crate::components::answers::Answers;
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::live::{LiveEvent, Stream, follow};
use crate::components::status::StatusBadge;
use crate::components::ui::{BUTTON_PRIMARY, CARD, ErrorBox, LINK, Loading, MUTED, SELECT, Spinner, readable_time};
use crate::model::Phase;
use crate::pages::catalog::encode;

/// The list's query from the URL (`page` counts from 1 there).
fn query_from_url(q: &leptos_router::params::ParamsMap) -> InstancesQuery {
    InstancesQuery {
        team: q.get("team").unwrap_or_default(),
        class: q.get("class").unwrap_or_default(),
        status: q.get("status").unwrap_or_default(),
        search: q.get("search").unwrap_or_default(),
        page: q.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).saturating_sub(1),
    }
}

/// The URL of a query: what the filters and the pager link to.
fn query_url(query: &InstancesQuery) -> String {
    let page = if query.page > 0 { (query.page + 1).to_string() } else { String::new() };
    let parts: Vec<String> = [
        ("team", &query.team),
        ("class", &query.class),
        ("status", &query.status),
        ("search", &query.search),
        ("page", &page),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("{k}={}", encode(v)))
    .collect();
    if parts.is_empty() { "/instances".into() } else { format!("/instances?{}", parts.join("&")) }
}

/// The instances screen: the server loads the page for the URL's filters and renders it, and the
/// browser hydrates only [`InstancesResults`], an island (`/instances` is an islands page, see
/// [`crate::is_islands_path`]). Within the full app the same view renders in the browser and
/// follows the router's URL.
#[component]
pub fn InstancesPage() -> impl IntoView {
    let url = use_query_map();
    let wanted = Memo::new(move |_| query_from_url(&url.read()));
    view! {
        <Title text="Instances" />
        <PageHeader title="Instances" subtitle="Service instances of your teams, with their live status.">
            <a class=format!("{LINK} text-sm") href="/apply" data-testid="apply-link">"Apply a manifest"</a>
        </PageHeader>
        <Suspense fallback=Loading>
            {move || {
                let query = wanted.get();
                Suspend::new(async move {
                    match load_instances(query.clone()).await {
                        Ok(view) => {
                            let teams = view.namespaces.clone();
                            view! { <InstancesResults query view /> <KubectlPanel teams /> }.into_any()
                        }
                        Err(e) => not_loaded(e.to_string()),
                    }
                })
            }}
        </Suspense>
    }
}

/// What the list shows when its page could not be loaded.
fn not_loaded(message: String) -> AnyView {
    view! { <ErrorBox title="The instances could not be loaded" message /> }.into_any()
}

/// The filters, the table and the pager: the list's interactive part, an island and a part of the
/// wasm of its own (`lazy`: the catalog's first visit does not carry it). It starts from the page
/// the server loaded (its props) and asks the server for another page when a filter changes; the
/// rows it shows stay live from the server's stream, which starts again from each page's version.
/// The pager and the rows are links.
#[island(lazy)]
fn InstancesResults(query: InstancesQuery, view: InstancesView) -> impl IntoView {
    crate::mark_hydrated();
    // The filters' choices are the caller's teams and the services of all their instances: the
    // same for every query.
    let team_choices: Vec<(String, String)> = view.namespaces.iter().map(|t| (t.clone(), t.clone())).collect();
    let class_choices = view.classes.clone();
    let answers = Answers::new(query, view);
    let (wanted, shown) = (answers.query, answers.shown);
    let version = Memo::new(move |_| shown.with(|s| s.as_ref().map(|v| v.resource_version).ok()));
    let live = move || {
        let from = version.get()?;
        // Owned by this run: the stream of the page shown before closes.
        follow(Stream::rows(), from, move |event| match event {
            LiveEvent::Row(row) => shown.update(|s| _ = s.as_mut().map(|v| v.apply(*row))),
            LiveEvent::InstanceDeleted { namespace, name } => {
                shown.update(|s| _ = s.as_mut().map(|v| v.remove(&namespace, &name)))
            }
            _ => {}
        });
        None::<()>
    };
    let set_filter = move |which: &'static str, value: String| {
        let mut q = wanted.get_untracked();
        match which {
            "team" => q.team = value,
            "class" => q.class = value,
            "search" => q.search = value,
            _ => q.status = value,
        }
        q.page = 0;
        answers.ask(q.clone(), &query_url(&q), load_instances);
    };
    let empty = Memo::new(move |_| shown.with(|s| s.as_ref().is_ok_and(|v| v.unfiltered == 0 && v.rows.is_empty())));
    let search = RwSignal::new(wanted.with_untracked(|q| q.search.clone()));
    let select = move |id: &'static str,
                       label: &'static str,
                       all: &'static str,
                       options: Vec<(String, String)>,
                       current: Signal<String>| {
        view! {
            <div class="flex items-center gap-2">
                <label for=id class=format!("text-sm {MUTED}")>{label}</label>
                <select id=id name=id.trim_start_matches("filter-") class=SELECT on:change=move |ev| set_filter(id.trim_start_matches("filter-"), event_target_value(&ev))>
                    <option value="" selected=move || current.get().is_empty()>{all}</option>
                    {options.into_iter().map(|(value, text)| {
                        let selected = value.clone();
                        view! { <option value=value selected=move || current.get() == selected>{text}</option> }
                    }).collect_view()}
                </select>
            </div>
        }
    };
    let status_options: Vec<(String, String)> = [
        Phase::Ready,
        Phase::Provisioning,
        Phase::Updating,
        Phase::Deprovisioning,
        Phase::Failed,
        Phase::OrphanMitigation,
        Phase::PendingApproval,
    ]
    .into_iter()
    .map(|p| (p.key().to_string(), p.label().to_string()))
    .collect();
    view! {
        {live}
        <Show
            when=move || !empty.get()
            fallback=|| view! {
                <EmptyState title="No instances yet">
                    <p>"Pick a service in the " <a class=LINK href="/catalog">"Catalog"</a> " and request an instance; it will show up here."</p>
                </EmptyState>
            }
        >
            <form method="get" action="/instances" class="mb-4 flex flex-wrap items-center gap-4" aria-label="Filter instances"
                on:submit=move |ev| {
                    ev.prevent_default();
                    set_filter("search", search.get_untracked().trim().to_string());
                }>
                <div class="flex items-center gap-2">
                    <label for="filter-search" class=format!("text-sm {MUTED}")>"Name"</label>
                    <input id="filter-search" name="search" type="search" placeholder="contains…" class=SELECT
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                        on:change=move |_| {
                            let typed = search.get_untracked().trim().to_string();
                            if typed != wanted.get_untracked().search {
                                set_filter("search", typed);
                            }
                        } />
                </div>
                {select("filter-team", "Team", "All teams", team_choices.clone(), Signal::derive(move || wanted.get().team))}
                {select("filter-class", "Service", "All services", class_choices.clone(), Signal::derive(move || wanted.get().class))}
                {select("filter-status", "Status", "Any status", status_options.clone(), Signal::derive(move || wanted.get().status))}
                <noscript><button type="submit" class=BUTTON_PRIMARY>"Filter"</button></noscript>
                <span class="w-24">{move || answers.busy.get().then(|| view! { <Spinner label="Filtering" /> })}</span>
            </form>
            {move || shown.with(|s| s.as_ref().err().cloned()).map(not_loaded)}
            <Show when=move || shown.with(Result::is_ok)>
                <InstancesTable shown wanted />
            </Show>
        </Show>
    }
}

/// One page of instances, as the live stream keeps it: the rows that match the filters (rows the
/// stream adds are held to them too), and the pager.
#[component]
fn InstancesTable(shown: RwSignal<Result<InstancesView, String>>, wanted: RwSignal<InstancesQuery>) -> impl IntoView {
    let rows = Memo::new(move |_| {
        let q = wanted.get();
        shown.with(|s| {
            s.as_ref().map(|v| v.rows.iter().filter(|r| q.keep(r)).cloned().collect::<Vec<_>>()).unwrap_or_default()
        })
    });
    let pager = move || {
        let (total, page, count) =
            shown.with(|s| s.as_ref().map(|v| (v.total, v.page, v.rows.len())).unwrap_or_default());
        (total > INSTANCES_PAGE).then(|| {
            let first = page * INSTANCES_PAGE + 1;
            let last = page * INSTANCES_PAGE + count;
            let link = move |to: usize| query_url(&InstancesQuery { page: to, ..wanted.get_untracked() });
            let pages = total.div_ceil(INSTANCES_PAGE);
            view! {
                <nav class="flex items-center justify-between gap-4 px-4 py-3 text-sm" aria-label="Pages of instances" data-testid="instances-pager">
                    <span class=MUTED>{format!("Showing {first}–{last} of {total}")}</span>
                    <span class="flex gap-4">
                        {(page > 0).then(|| view! { <a class=LINK href=link(page - 1) rel="prev">"← Previous"</a> })}
                        <span class=MUTED>{format!("Page {} of {pages}", page + 1)}</span>
                        {(page + 1 < pages).then(|| view! { <a class=LINK href=link(page + 1) rel="next">"Next →"</a> })}
                    </span>
                </nav>
            }
        })
    };
    view! {
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full text-left text-sm" data-testid="instances-table">
                <thead class="border-b border-zinc-200 text-xs text-zinc-500 dark:border-zinc-800 dark:text-zinc-400">
                    <tr>
                        <th scope="col" class="px-4 py-2 font-medium">"Name"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Team"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Service"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Plan"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Status"</th>
                        <th scope="col" class="px-4 py-2 font-medium">"Created"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                    <For each=move || rows.get() key=|r| (r.namespace.clone(), r.name.clone(), r.resource_version) let(row)>
                        <tr data-testid="instance-row" data-instance=format!("{}/{}", row.namespace, row.name)>
                            <td class="px-4 py-2 font-medium"><a class=LINK href=format!("/instances/{}/{}", row.namespace, row.name)>{row.name.clone()}</a></td>
                            <td class="px-4 py-2">{row.namespace.clone()}</td>
                            <td class="px-4 py-2">{row.class_display.clone()}</td>
                            <td class="px-4 py-2">{row.plan_external_name.clone()}</td>
                            <td class="px-4 py-2"><StatusBadge status=row.status.clone() /></td>
                            <td class=format!("px-4 py-2 whitespace-nowrap {MUTED}")>{readable_time(&row.created)}</td>
                        </tr>
                    </For>
                </tbody>
            </table>
            {move || rows.with(Vec::is_empty).then(|| view! { <p class=format!("px-4 py-6 text-center text-sm {MUTED}")>"No instance matches these filters."</p> })}
            {pager}
        </div>
    }
}

/// How to drive the same instances with kubectl: a kubeconfig for one team (it carries a new API
/// token of the signed-in person), and where the REST API for approvals, quotas and audit is.
#[component]
fn KubectlPanel(teams: Vec<String>) -> impl IntoView {
    let first = teams.first().cloned().unwrap_or_default();
    let file = if first.is_empty() {
        "quartermaster.kubeconfig".to_string()
    } else {
        format!("quartermaster-{first}.kubeconfig")
    };
    view! {
        <section id="kubectl" class=format!("{CARD} mt-6 p-4") aria-labelledby="kubectl-heading" data-testid="kubectl-panel">
            <h2 id="kubectl-heading" class="text-base font-semibold">"Use with kubectl"</h2>
            <p class=format!("mt-1 text-sm {MUTED}")>
                "The portal serves the Service Catalog API (servicecatalog.k8s.io/v1beta1), so stock kubectl manages these instances and bindings. "
                "The kubeconfig holds a new API token of yours (named “kubectl TEAM”); keep the file private, and revoke the token under "
                <a class=LINK href="/account/tokens">"My API tokens"</a> " when you no longer need it."
            </p>
            <form method="post" action="/kubeconfig" class="mt-3 flex flex-wrap items-center gap-3" data-testid="kubeconfig-form">
                <label for="kubeconfig-team" class=format!("text-sm {MUTED}")>"Team"</label>
                <select id="kubeconfig-team" name="namespace" class=SELECT>
                    {teams.into_iter().map(|t| view! { <option value=t.clone()>{t.clone()}</option> }).collect_view()}
                    <option value="">"No default team"</option>
                </select>
                <button type="submit" class=BUTTON_PRIMARY data-testid="kubeconfig-download">"Download kubeconfig"</button>
            </form>
            <pre class="mt-3 overflow-x-auto rounded bg-zinc-100 p-3 text-xs dark:bg-zinc-800"><code>{format!(
                "export KUBECONFIG=~/Downloads/{file}\nkubectl get serviceinstances\nkubectl apply -f instance.yaml"
            )}</code></pre>
            <p class=format!("mt-2 text-sm {MUTED}")>
                "kubectl sends tokens only over https: the portal must be reached at its https address. "
                "Approvals, quotas, visibility and the audit log have a REST API: "
                <a class=LINK href="/rest/v1/docs" rel="external" data-testid="rest-docs-link">"REST API reference"</a> "."
            </p>
        </section>
    }
}
