//! The instances of the caller's teams, with filters (team, service, status) in the URL, and
//! their status kept live by the server's stream.

mod server_fns;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{NavigateOptions, hooks::use_navigate, hooks::use_query_map};

pub use server_fns::*;

use crate::api::instances::{INSTANCES_PAGE, InstancesQuery, InstancesView};
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::live::{LiveEvent, follow};
use crate::components::status::StatusBadge;
use crate::components::ui::{BUTTON_PRIMARY, CARD, ErrorBox, LINK, Loading, MUTED, SELECT, readable_time};
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

#[component]
pub fn InstancesPage() -> impl IntoView {
    let url = use_query_map();
    let wanted = Memo::new(move |_| query_from_url(&url.read()));
    let data = Resource::new(move || wanted.get(), load_instances);
    view! {
        <Title text="Instances" />
        <PageHeader title="Instances" subtitle="Service instances of your teams, with their live status.">
            <a class=format!("{LINK} text-sm") href="/apply" data-testid="apply-link">"Apply a manifest"</a>
        </PageHeader>
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => {
                        let teams = view.namespaces.clone();
                        view! { <InstancesTable view wanted /> <KubectlPanel teams /> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox title="The instances could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn InstancesTable(view: InstancesView, wanted: Memo<InstancesQuery>) -> impl IntoView {
    let from = view.resource_version;
    let (total, unfiltered, page, shown) = (view.total, view.unfiltered, view.page, view.rows.len());
    let team_choices: Vec<(String, String)> = view.namespaces.iter().map(|t| (t.clone(), t.clone())).collect();
    let class_choices = view.classes.clone();
    let data = RwSignal::new(view);
    let _live = follow(None, None, from, move |event| match event {
        LiveEvent::Instance(i) => data.update(|d| d.apply(&i)),
        LiveEvent::InstanceDeleted { namespace, name } => data.update(|d| d.remove(&namespace, &name)),
        _ => {}
    });
    let navigate = use_navigate();
    let set_filter = move |which: &'static str, value: String| {
        let mut q = wanted.get_untracked();
        match which {
            "team" => q.team = value,
            "class" => q.class = value,
            "search" => q.search = value,
            _ => q.status = value,
        }
        q.page = 0;
        navigate(&query_url(&q), NavigateOptions { replace: true, scroll: false, ..Default::default() });
    };
    // Rows the live stream adds are held to the same filters.
    let rows = Memo::new(move |_| {
        let q = wanted.get();
        data.with(|d| d.rows.iter().filter(|r| q.keep(r)).cloned().collect::<Vec<_>>())
    });
    let empty = Memo::new(move |_| unfiltered == 0 && data.with(|d| d.rows.is_empty()));
    let search_filter = set_filter.clone();
    let select = move |id: &'static str,
                       label: &'static str,
                       all: &'static str,
                       options: Vec<(String, String)>,
                       current: Signal<String>| {
        let set_filter = set_filter.clone();
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
    let pager = move || {
        (total > INSTANCES_PAGE).then(|| {
            let first = page * INSTANCES_PAGE + 1;
            let last = page * INSTANCES_PAGE + shown;
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
        <Show
            when=move || !empty.get()
            fallback=|| view! {
                <EmptyState title="No instances yet">
                    <p>"Pick a service in the " <a class=LINK href="/catalog">"Catalog"</a> " and request an instance; it will show up here."</p>
                </EmptyState>
            }
        >
            <form method="get" action="/instances" class="mb-4 flex flex-wrap items-center gap-4" aria-label="Filter instances">
                <div class="flex items-center gap-2">
                    <label for="filter-search" class=format!("text-sm {MUTED}")>"Name"</label>
                    <input id="filter-search" name="search" type="search" placeholder="contains…" class=SELECT
                        prop:value=move || wanted.get().search
                        on:change={
                            let search_filter = search_filter.clone();
                            move |ev| search_filter("search", event_target_value(&ev))
                        } />
                </div>
                {select("filter-team", "Team", "All teams", team_choices.clone(), Signal::derive(move || wanted.get().team))}
                {select("filter-class", "Service", "All services", class_choices.clone(), Signal::derive(move || wanted.get().class))}
                {select("filter-status", "Status", "Any status", status_options.clone(), Signal::derive(move || wanted.get().status))}
                <noscript><button type="submit" class=BUTTON_PRIMARY>"Filter"</button></noscript>
            </form>
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
        </Show>
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
