//! Admin: the overview, and Admin › Brokers.

mod audit;
mod brokers;
mod governance;
mod register;
mod server_fns;

use leptos::prelude::*;
use leptos_meta::Title;

pub use audit::{AuditPage, load_audit};
pub use brokers::BrokersPage;
pub use governance::{PoliciesPage, QuotasPage, VisibilityPage, change_governance, load_governance};
pub use server_fns::*;

use crate::components::layout::PageHeader;
use crate::components::ui::{CARD, MUTED};
use crate::pages::catalog::ConnectionCheck;

/// The admin overview: links to the admin screens, and the portal's status.
#[component]
pub fn AdminPage() -> impl IntoView {
    let sections: [(&str, &str, Option<&str>); 6] = [
        (
            "Brokers",
            "Register Open Service Brokers, test their connection, relist their catalogs and see their problems.",
            Some("/admin/brokers"),
        ),
        (
            "People",
            "Accounts, teams (namespaces), and who is a member or team admin of which team.",
            Some("/admin/people"),
        ),
        (
            "Approval policies",
            "Which requests wait for an admin: always, never, or above a parameter's threshold.",
            Some("/admin/policies"),
        ),
        ("Quotas", "How many instances and how much of a numeric parameter each team may hold.", Some("/admin/quotas")),
        ("Plan visibility", "Which team sees which service or plan.", Some("/admin/visibility")),
        ("Audit log", "Who did what, when, from where; filter and export.", Some("/admin/audit")),
    ];
    view! {
        <Title text="Admin" />
        <PageHeader title="Admin" subtitle="Brokers, teams, quotas, plan visibility and the audit log." />
        <ul class="grid gap-4 md:grid-cols-2">
            {sections.into_iter().map(|(title, text, href)| view! {
                <li class=format!("{CARD} p-5")>
                    {match href {
                        Some(href) => view! { <a class="text-base font-semibold text-indigo-600 hover:underline dark:text-indigo-400" href=href>{title}</a> }.into_any(),
                        None => view! { <span class="text-base font-semibold">{title}</span> }.into_any(),
                    }}
                    <p class=format!("mt-1 text-sm {MUTED}")>{text}</p>
                    {href.is_none().then(|| view! { <p class="mt-2 text-xs text-zinc-400 dark:text-zinc-500">"Not available yet."</p> })}
                </li>
            }).collect_view()}
        </ul>
        <section class=format!("{CARD} mt-6 p-5")>
            <h2 class="text-base font-semibold">"Portal status"</h2>
            <p class=format!("mt-1 text-sm {MUTED}")>"Version, database, and what the portal knows of brokers and services."</p>
            <PortalStatus />
        </section>
    }
}

/// The connection check, the admin page's one island (`/admin` is an islands page, see
/// [`crate::is_islands_path`]); its code is in the main wasm already, for the catalog's empty state.
#[island]
fn PortalStatus() -> impl IntoView {
    crate::mark_hydrated();
    view! { <ConnectionCheck /> }
}
