//! Requesting an instance: `/catalog/{class}/request?plan=…`. The plan lives in the URL, so
//! switching plans is a link (and a fresh form for that plan's schema); name and team survive it.

mod form;
mod server_fns;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

pub use form::name_message;
pub use server_fns::*;

use crate::api::catalog::ClassDetail;
use crate::api::governance::QuotaView;
use crate::components::class_icon::ClassIcon;
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::ui::{ErrorBox, LINK, Loading};
use crate::pages::catalog::{encode, load_class};
use crate::pages::not_found::NotFound;

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let class = move || params.read().get("class").unwrap_or_default();
    let detail = Resource::new(class, load_class);
    let namespaces = Resource::new(|| (), |_| load_namespaces());
    // Kept across plan switches.
    let name = RwSignal::new(String::new());
    let namespace = RwSignal::new(String::new());
    // The team's quotas, following the team chosen. Made here, before anything is awaited: made
    // inside the `Suspend` below (after its awaits), the hydrating browser never fetched it for
    // a member whose team was preselected (no hint beside the governed fields) — resources made
    // after an await do not line up with the server's serialized data.
    // `try_get`: when the page goes away while the team's first value is being set, the resource's
    // task can still run once after the signal is gone (seen on the server, as a panic in a
    // spawned task); an empty team asks the server nothing.
    let quota = Resource::new(
        move || namespace.try_get().unwrap_or_default(),
        |ns| async move {
            if form::name_message(&ns, true).is_some() { Ok(QuotaView::default()) } else { load_quota(ns).await }
        },
    );

    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let detail = match detail.await {
                    Ok(Some(d)) => d,
                    Ok(None) => return view! { <NotFound /> }.into_any(),
                    Err(e) => return view! { <ErrorBox title="This service could not be loaded" message=e.to_string() /> }.into_any(),
                };
                let namespaces = namespaces.await.unwrap_or_default();
                if namespace.get_untracked().is_empty() {
                    namespace.set(namespaces.first().cloned().unwrap_or_else(|| "default".into()));
                }
                request_body(detail, namespaces, query, name, namespace, quota).into_any()
            })}
        </Suspense>
    }
}

fn request_body(
    detail: ClassDetail,
    namespaces: Vec<String>,
    query: Memo<leptos_router::params::ParamsMap>,
    name: RwSignal<String>,
    namespace: RwSignal<String>,
    quota: Resource<Result<QuotaView, ServerFnError>>,
) -> impl IntoView {
    let tile = detail.tile.clone();
    let crumbs = vec![
        ("Catalog".to_string(), Some("/catalog".to_string())),
        (tile.display_name.clone(), Some(format!("/catalog/{}", tile.slug))),
        ("Request".to_string(), None),
    ];
    let header = view! {
        <Title text=format!("Request {}", tile.display_name) />
        <Breadcrumbs items=crumbs />
        <div class="mb-2 flex items-start gap-4">
            <ClassIcon image_url=tile.image_url.clone() name=tile.display_name.clone() size="h-12 w-12" />
            <div class="min-w-0 flex-1">
                <PageHeader title=format!("Request {}", tile.display_name) subtitle="Name the instance, pick the team and the plan, fill the plan's parameters, review, submit." />
            </div>
        </div>
    };
    if tile.removed || detail.offered_plans().next().is_none() {
        return view! {
            {header}
            <EmptyState title="This service cannot be requested">
                <p>"The broker no longer offers it, or offers no plan. Back to the " <a class=LINK href="/catalog">"Catalog"</a> "."</p>
            </EmptyState>
        }
        .into_any();
    }
    let detail = StoredValue::new(detail);
    let namespaces = StoredValue::new(namespaces);
    let plan = Memo::new(move |_| {
        let asked = query.read().get("plan").unwrap_or_default();
        detail.with_value(|d| {
            d.offered_plans().find(|p| p.external_name == asked).or_else(|| d.offered_plans().next()).cloned()
        })
    });
    view! {
        {header}
        <fieldset class="mb-6">
            <legend class="mb-2 text-sm font-medium text-zinc-800 dark:text-zinc-200">"Plan"</legend>
            <div class="flex flex-wrap gap-2" data-testid="plan-switcher">
                {move || {
                    let current = plan.get().map(|p| p.external_name).unwrap_or_default();
                    detail.with_value(|d| {
                        d.offered_plans()
                            .map(|p| {
                                let selected = p.external_name == current;
                                let href = format!("/catalog/{}/request?plan={}", d.tile.slug, encode(&p.external_name));
                                let price = if p.free { "Free".to_string() } else { p.costs.first().cloned().unwrap_or_else(|| "Paid".into()) };
                                view! {
                                    <a
                                        href=href
                                        data-plan=p.external_name.clone()
                                        aria-current=selected.then_some("true")
                                        class=if selected {
                                            "rounded-md border-2 border-indigo-600 bg-indigo-50 px-3 py-2 text-sm dark:bg-indigo-500/10"
                                        } else {
                                            "rounded-md border border-zinc-300 bg-white px-3 py-2 text-sm hover:border-indigo-400 dark:border-zinc-700 dark:bg-zinc-900"
                                        }
                                    >
                                        <span class="block font-medium">{p.display_name.clone()}</span>
                                        <span class="block text-xs text-zinc-500 dark:text-zinc-400">{price}</span>
                                    </a>
                                }
                            })
                            .collect_view()
                    })
                }}
            </div>
        </fieldset>
        {move || {
            plan.get().map(|p| {
                let d = detail.get_value();
                view! { <form::RequestForm detail=d plan=p namespaces=namespaces.get_value() name namespace quota /> }
            })
        }}
    }
    .into_any()
}
