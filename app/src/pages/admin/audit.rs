//! Admin › Audit log: who did what, when, to which team's what, from where — filtered by actor,
//! action, team and time, and exported as CSV or JSON with the same filters.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::governance::{AuditEntry, AuditFilter};
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::ui::{
    BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, INPUT, LABEL, Loading, MUTED, readable_time,
};

#[server(endpoint = "audit", input = Json)]
pub async fn load_audit(filter: AuditFilter) -> Result<Vec<AuditEntry>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.audit(&caller, filter).await?)
}

/// The audit page is an islands page without islands (see [`crate::is_islands_path`]): the filters
/// are a plain GET form, so filtering loads the page for the new URL, which the server renders.
#[component]
pub fn AuditPage() -> impl IntoView {
    // The filters live in the URL, so a filtered view can be shared and back works.
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditFilter {
            actor: get("actor"),
            action: get("action"),
            team: get("team"),
            since: get("since"),
            until: get("until"),
        }
    });
    let fields: [(&str, &str, &str); 5] = [
        ("actor", "Actor", "a username"),
        ("action", "Action (prefix)", "instance. / approval. / quota."),
        ("team", "Team", "team-a"),
        ("since", "From", "2026-11-01"),
        ("until", "Until", "2026-11-30"),
    ];
    let value = move |key: &str| {
        let f = filter.get();
        match key {
            "actor" => f.actor,
            "action" => f.action,
            "team" => f.team,
            "since" => f.since,
            _ => f.until,
        }
    };
    let export = move |format: &str| {
        let q = filter.get().query_string();
        format!("/admin/audit/export?format={format}{}{q}", if q.is_empty() { "" } else { "&" })
    };
    view! {
        <Title text="Audit log · Admin" />
        <Breadcrumbs items=vec![("Admin".into(), Some("/admin".into())), ("Audit log".into(), None)] />
        <PageHeader title="Audit log" subtitle="Requests, approvals, credential reveals, broker, policy and quota changes: who, when, what, from where.">
            <a class=BUTTON_SECONDARY rel="external" download="quartermaster-audit.csv" data-testid="export-csv" href=move || export("csv")>"Export CSV"</a>
            <a class=BUTTON_SECONDARY rel="external" download="quartermaster-audit.json" data-testid="export-json" href=move || export("json")>"Export JSON"</a>
        </PageHeader>
        <form method="get" action="/admin/audit" class=format!("{CARD} mb-6 grid gap-4 p-5 sm:grid-cols-3 lg:grid-cols-6") aria-label="Filter the audit log">
            {fields.into_iter().map(|(key, label, placeholder)| {
                let id = format!("audit-{key}");
                view! {
                    <div class="space-y-1">
                        <label class=LABEL for=id.clone()>{label}</label>
                        <input id=id class=INPUT name=key placeholder=placeholder value=move || value(key) />
                    </div>
                }
            }).collect_view()}
            <div class="flex items-end"><button type="submit" class=BUTTON_PRIMARY>"Filter"</button></div>
        </form>
        <Suspense fallback=Loading>
            {move || {
                let filter = filter.get();
                Suspend::new(async move {
                    match load_audit(filter).await {
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="No events match"><p>"Loosen the filters, or act in the portal: requests, approvals and changes are recorded here."</p></EmptyState>
                        }.into_any(),
                        Ok(list) => view! { <AuditTable entries=list /> }.into_any(),
                        Err(e) if crate::pages::forbidden::forbidden_reason(&e).is_some() => view! {
                            <crate::pages::forbidden::Forbidden reason=crate::pages::forbidden::forbidden_reason(&e).unwrap_or_default() />
                        }.into_any(),
                        Err(e) => view! { <ErrorBox title="The audit log could not be loaded" message=e.to_string() /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn AuditTable(entries: Vec<AuditEntry>) -> impl IntoView {
    let shown = entries.len();
    view! {
        <p class=format!("mb-2 text-xs {MUTED}")>{format!("{shown} events, newest first{}", if shown >= 500 { " (the first 500; export for all)" } else { "" })}</p>
        <div class=format!("{CARD} overflow-x-auto")>
            <table class="min-w-full text-sm" data-testid="audit">
                <thead class=format!("text-left text-xs {MUTED}")><tr>
                    <th scope="col" class="px-4 py-2 font-medium">"When"</th>
                    <th scope="col" class="px-4 py-2 font-medium">"Who"</th>
                    <th scope="col" class="px-4 py-2 font-medium">"Action"</th>
                    <th scope="col" class="px-4 py-2 font-medium">"Team / target"</th>
                    <th scope="col" class="px-4 py-2 font-medium">"Detail"</th>
                    <th scope="col" class="px-4 py-2 font-medium">"From"</th>
                </tr></thead>
                <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                    {entries.into_iter().map(|e| view! {
                        <tr data-action=e.action.clone()>
                            <td class="whitespace-nowrap px-4 py-2">{readable_time(&e.at)}</td>
                            <td class="px-4 py-2">{e.actor.clone()}</td>
                            <td class="px-4 py-2 font-mono text-xs">{e.action.clone()}</td>
                            <td class="px-4 py-2">{if e.team.is_empty() { e.target.clone() } else { format!("{} / {}", e.team, e.target) }}</td>
                            <td class="max-w-md px-4 py-2"><code class="block truncate text-xs" title=e.detail.to_string()>{e.detail.to_string()}</code></td>
                            <td class="px-4 py-2">{e.source.clone()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
