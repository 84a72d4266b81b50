//! Admin › Brokers: every registered broker with its status, conditions, catalog and per-plan
//! problems, "Relist now" and removal; and the registration form.

use leptos::prelude::*;
use leptos_meta::Title;

use super::register::RegisterForm;
use super::server_fns::{DeleteBroker, RelistBroker, load_brokers};
use crate::api::Submitted;
use crate::api::brokers::BrokerRow;
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::ui::{BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, Loading, MUTED, readable_time};
use crate::model::{ConditionStatus, Phase, RelistBehavior, condition};
use crate::pages::instance::ConditionTable;

#[component]
pub fn BrokersPage() -> impl IntoView {
    let brokers = Resource::new(|| (), |_| load_brokers());
    let registering = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let on_registered = move |name: String| {
        registering.set(false);
        notice.set(Some(format!(
            "Broker {name} registered. Its catalog is being fetched; its services appear in the catalog when it is."
        )));
        brokers.refetch();
    };
    view! {
        <Title text="Brokers · Admin" />
        <Breadcrumbs items=vec![("Admin".into(), Some("/admin".into())), ("Brokers".into(), None)] />
        <PageHeader title="Brokers" subtitle="The Open Service Brokers whose services fill the catalog.">
            <button type="button" class=BUTTON_SECONDARY on:click=move |_| brokers.refetch()>"Refresh"</button>
            <button type="button" class=BUTTON_PRIMARY data-testid="open-register" aria-expanded=move || registering.get().to_string() on:click=move |_| registering.update(|r| *r = !*r)>
                {move || if registering.get() { "Close" } else { "Register a broker" }}
            </button>
        </PageHeader>
        <div aria-live="polite">{move || notice.get().map(|n| view! {
            <p class="mb-4 rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950/30 dark:text-emerald-200" data-testid="notice">{n}</p>
        })}</div>
        <Show when=move || registering.get()>
            <div class="mb-6"><RegisterForm on_registered /></div>
        </Show>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match brokers.await {
                    Ok(rows) if rows.is_empty() => view! {
                        <EmptyState title="No brokers registered">
                            <p>"Register an Open Service Broker to fill the catalog: its URL, and credentials if it needs them."</p>
                        </EmptyState>
                    }.into_any(),
                    Ok(rows) => view! {
                        <ul class="space-y-4" data-testid="broker-list">
                            {rows.into_iter().map(|row| view! { <BrokerCard row on_change=move || brokers.refetch() /> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) if crate::pages::forbidden::forbidden_reason(&e).is_some() => view! {
                        <crate::pages::forbidden::Forbidden reason=crate::pages::forbidden::forbidden_reason(&e).unwrap_or_default() />
                    }.into_any(),
                    Err(e) => view! { <ErrorBox title="The brokers could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn broker_state(row: &BrokerRow) -> (Phase, &'static str, String) {
    if row.deleting {
        return (Phase::Deprovisioning, "Removing", String::new());
    }
    match condition::find(&row.conditions, condition::READY) {
        Some(c) if c.status == ConditionStatus::True => (Phase::Ready, "Ready", c.message.clone()),
        Some(c) => (Phase::Failed, "Error", if c.message.is_empty() { c.reason.clone() } else { c.message.clone() }),
        None => (Phase::Provisioning, "Fetching catalog", String::new()),
    }
}

#[component]
fn BrokerCard(row: BrokerRow, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let (phase, word, message) = broker_state(&row);
    let relist = ServerAction::<RelistBroker>::new();
    let remove = ServerAction::<DeleteBroker>::new();
    let confirming = RwSignal::new(false);
    Effect::new(move |_| {
        if matches!(relist.value().get(), Some(Ok(Submitted::Done(()))))
            || matches!(remove.value().get(), Some(Ok(Submitted::Done(()))))
        {
            on_change();
        }
    });
    let error = Memo::new(move |_| {
        [relist.value().get(), remove.value().get()].into_iter().flatten().find_map(|v| match v {
            Ok(Submitted::Rejected(r)) => Some(r.message),
            Err(e) => Some(e.to_string()),
            _ => None,
        })
    });
    let name = StoredValue::new(row.name.clone());
    let relist_text = match row.relist_behavior {
        RelistBehavior::Manual => "Only when asked".to_string(),
        RelistBehavior::Duration => format!(
            "Every {}",
            if row.relist_duration.is_empty() { "15m (default)".to_string() } else { row.relist_duration.clone() }
        ),
    };
    view! {
        <li class=format!("{CARD} p-5") data-testid="broker" data-broker=row.name.clone()>
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div class="min-w-0">
                    <h2 class="flex items-center gap-3 text-base font-semibold">
                        {row.name.clone()}
                        <crate::components::status::StatusBadge status=crate::model::StatusLine { phase, reason: String::new(), message: String::new(), deleting: false } />
                        <span class="sr-only">{word}</span>
                    </h2>
                    <p class=format!("text-sm break-all {MUTED}")>{row.url.clone()}</p>
                </div>
                <div class="flex gap-2">
                    <button type="button" class=BUTTON_SECONDARY data-testid="relist" disabled=move || relist.pending().get() on:click=move |_| {
                        relist.dispatch(RelistBroker { name: name.get_value() });
                    }>{move || if relist.pending().get() { "Asking…" } else { "Relist now" }}</button>
                    <button type="button" class=format!("{BUTTON_SECONDARY} text-red-700 dark:text-red-400") on:click=move |_| confirming.set(true)>"Remove…"</button>
                </div>
            </div>
            <p class="mt-2 text-sm" data-testid="broker-state">
                <span class="font-medium">{word}</span>
                {(!message.is_empty()).then(|| view! { <span>": "{message}</span> })}
            </p>
            <Show when=move || confirming.get()>
                <div role="alertdialog" aria-label="Confirm removing the broker" class="mt-3 flex flex-wrap items-center gap-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900 dark:border-red-900 dark:bg-red-950/30 dark:text-red-200">
                    <span>{format!("Remove broker {}? Its services leave the catalog; existing instances stay at the broker.", name.get_value())}</span>
                    <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs") on:click=move |_| confirming.set(false)>"Cancel"</button>
                    <button type="button" class="rounded-md bg-red-600 px-2 py-1 text-xs font-medium text-white hover:bg-red-500" on:click=move |_| {
                        confirming.set(false);
                        remove.dispatch(DeleteBroker { name: name.get_value() });
                    }>"Remove"</button>
                </div>
            </Show>
            <div aria-live="assertive">{move || error.get().map(|m| view! { <p class="mt-2 text-sm text-red-700 dark:text-red-300">{m}</p> })}</div>
            <dl class="mt-4 grid gap-x-6 gap-y-1 text-sm sm:grid-cols-2 lg:grid-cols-3">
                <div><dt class=format!("inline {MUTED}")>"Services: "</dt><dd class="inline" data-testid="broker-classes">{row.classes}</dd></div>
                <div><dt class=format!("inline {MUTED}")>"Plans: "</dt><dd class="inline">{row.plans}</dd></div>
                <div><dt class=format!("inline {MUTED}")>"Catalog fetched: "</dt><dd class="inline">{if row.last_catalog_retrieval.is_empty() { "never".to_string() } else { readable_time(&row.last_catalog_retrieval) }}</dd></div>
                <div><dt class=format!("inline {MUTED}")>"Relist: "</dt><dd class="inline">{relist_text}{format!(" · requests {}", row.relist_requests)}</dd></div>
                <div><dt class=format!("inline {MUTED}")>"Authentication: "</dt><dd class="inline">{if row.auth.is_empty() { "none".to_string() } else { row.auth.clone() }}</dd></div>
                <div><dt class=format!("inline {MUTED}")>"TLS: "</dt><dd class="inline">{if row.insecure_skip_tls_verify { "not verified" } else if row.has_ca_bundle { "verified with its CA bundle" } else { "verified" }}</dd></div>
            </dl>
            {(!row.catalog_problems.is_empty()).then(|| view! {
                <div class="mt-4">
                    <h3 class="text-sm font-semibold">"Catalog problems"</h3>
                    <ul class="mt-1 space-y-1 text-sm" data-testid="catalog-problems">
                        {row.catalog_problems.iter().map(|p| view! { <li><span class="font-medium">{p.location.clone()}</span>": "{p.message.clone()}</li> }).collect_view()}
                    </ul>
                </div>
            })}
            {(!row.plan_problems.is_empty()).then(|| view! {
                <div class="mt-4">
                    <h3 class="text-sm font-semibold">"Plans with problems"</h3>
                    <ul class="mt-1 space-y-1 text-sm" data-testid="plan-problems">
                        {row.plan_problems.iter().map(|(plan, class, problems)| view! {
                            <li><span class="font-medium">{format!("{class} / {plan}")}</span>": "{problems.join("; ")}</li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {(!row.conditions.is_empty()).then(|| view! {
                <details class="mt-4">
                    <summary class="cursor-pointer text-sm font-medium">"Conditions"</summary>
                    <div class="mt-2"><ConditionTable conditions=row.conditions.clone() /></div>
                </details>
            })}
        </li>
    }
}
