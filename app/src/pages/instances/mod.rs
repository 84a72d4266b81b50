//! The instances of the caller's teams, with filters (team, service, status) in the URL, and
//! their status kept live by the server's stream.

mod server_fns;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{NavigateOptions, hooks::use_navigate, hooks::use_query_map};

pub use server_fns::*;

use crate::api::instances::{InstanceRow, InstancesView};
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::live::{LiveEvent, follow};
use crate::components::status::StatusBadge;
use crate::components::ui::{BUTTON_PRIMARY, CARD, ErrorBox, LINK, Loading, MUTED, SELECT, readable_time};
use crate::model::Phase;
use crate::pages::catalog::encode;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Filters {
    team: String,
    class: String,
    status: String,
}

impl Filters {
    fn url(&self) -> String {
        let parts: Vec<String> = [("team", &self.team), ("class", &self.class), ("status", &self.status)]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        if parts.is_empty() { "/instances".into() } else { format!("/instances?{}", parts.join("&")) }
    }

    fn keep(&self, row: &InstanceRow) -> bool {
        (self.team.is_empty() || row.namespace == self.team)
            && (self.class.is_empty() || row.class_external_name == self.class)
            && (self.status.is_empty() || row.status.phase.key() == self.status)
    }
}

#[component]
pub fn InstancesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_instances());
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
                        view! { <InstancesTable view /> <KubectlPanel teams /> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox title="The instances could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn InstancesTable(view: InstancesView) -> impl IntoView {
    let from = view.resource_version;
    let data = RwSignal::new(view);
    let _live = follow(None, None, from, move |event| match event {
        LiveEvent::Instance(i) => data.update(|d| d.apply(&i)),
        LiveEvent::InstanceDeleted { namespace, name } => data.update(|d| d.remove(&namespace, &name)),
        _ => {}
    });
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let q = query.read();
        Filters {
            team: q.get("team").unwrap_or_default(),
            class: q.get("class").unwrap_or_default(),
            status: q.get("status").unwrap_or_default(),
        }
    });
    let navigate = use_navigate();
    let set_filter = move |which: &'static str, value: String| {
        let mut f = filters.get_untracked();
        match which {
            "team" => f.team = value,
            "class" => f.class = value,
            _ => f.status = value,
        }
        navigate(&f.url(), NavigateOptions { replace: true, scroll: false, ..Default::default() });
    };
    let rows = Memo::new(move |_| {
        let f = filters.get();
        data.with(|d| d.rows.iter().filter(|r| f.keep(r)).cloned().collect::<Vec<_>>())
    });
    let empty = Memo::new(move |_| data.with(|d| d.rows.is_empty()));
    let teams = Memo::new(move |_| {
        let mut t: Vec<String> = data.with(|d| d.rows.iter().map(|r| r.namespace.clone()).collect());
        t.sort();
        t.dedup();
        t
    });
    let classes = Memo::new(move |_| {
        let mut c: Vec<(String, String)> =
            data.with(|d| d.rows.iter().map(|r| (r.class_external_name.clone(), r.class_display.clone())).collect());
        c.sort();
        c.dedup();
        c
    });
    let select = move |id: &'static str,
                       label: &'static str,
                       all: &'static str,
                       options: Signal<Vec<(String, String)>>,
                       current: Signal<String>| {
        let set_filter = set_filter.clone();
        view! {
            <div class="flex items-center gap-2">
                <label for=id class=format!("text-sm {MUTED}")>{label}</label>
                <select id=id name=id.trim_start_matches("filter-") class=SELECT on:change=move |ev| set_filter(id.trim_start_matches("filter-"), event_target_value(&ev))>
                    <option value="" selected=move || current.get().is_empty()>{all}</option>
                    {move || options.get().into_iter().map(|(value, text)| {
                        let selected = current.get() == value;
                        view! { <option value=value selected=selected>{text}</option> }
                    }).collect_view()}
                </select>
            </div>
        }
    };
    let team_options = Signal::derive(move || teams.get().into_iter().map(|t| (t.clone(), t)).collect());
    let class_options = Signal::derive(move || classes.get());
    let status_options = Signal::derive(|| {
        [
            Phase::Ready,
            Phase::Provisioning,
            Phase::Updating,
            Phase::Deprovisioning,
            Phase::Failed,
            Phase::OrphanMitigation,
        ]
        .into_iter()
        .map(|p| (p.key().to_string(), p.label().to_string()))
        .collect()
    });
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
                {select("filter-team", "Team", "All teams", team_options, Signal::derive(move || filters.get().team))}
                {select("filter-class", "Service", "All services", class_options, Signal::derive(move || filters.get().class))}
                {select("filter-status", "Status", "Any status", status_options, Signal::derive(move || filters.get().status))}
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
