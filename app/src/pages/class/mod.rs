//! A class's page: what the service is, its links, and its plans side by side with what each
//! plan's form asks, and "Request instance".

mod plans;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::catalog::ClassDetail;
use crate::components::class_icon::ClassIcon;
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::safe::{link_href, mailto};
use crate::components::ui::{CARD, ErrorBox, LINK, Loading, MUTED};
use crate::pages::catalog::load_class;
use crate::pages::not_found::NotFound;

#[component]
pub fn ClassPage() -> impl IntoView {
    let params = use_params_map();
    let class = move || params.read().get("class").unwrap_or_default();
    let detail = Resource::new(class, load_class);
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(Some(d)) => class_body(d).into_any(),
                    Ok(None) => view! { <NotFound /> }.into_any(),
                    Err(e) => view! { <ErrorBox title="This service could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A link when the URL is http(s) or a `mailto:` address, else the text (`javascript:` or worse is never a link).
fn outbound(label: &'static str, url: &str) -> Option<AnyView> {
    if url.is_empty() {
        return None;
    }
    Some(match link_href(url) {
        Some(href) => view! {
            <a class=LINK href=href.to_string() rel="noopener noreferrer nofollow" target="_blank">{label}" ↗"</a>
        }
        .into_any(),
        None => match mailto(url) {
            // A support address: the address itself is what a person wants to see.
            Some((href, address)) => {
                view! { <a class=LINK href=href.to_string()>{format!("{label}: {address}")}</a> }.into_any()
            }
            None => view! { <span class=MUTED>{format!("{label}: {url}")}</span> }.into_any(),
        },
    })
}

fn class_body(d: ClassDetail) -> impl IntoView {
    let tile = d.tile.clone();
    let docs = outbound("Documentation", &d.documentation_url);
    let support = outbound("Support", &d.support_url);
    let slug = tile.slug.clone();
    let removed = tile.removed;
    let plans = d.plans.clone();
    view! {
        <Title text=tile.display_name.clone() />
        <Breadcrumbs items=vec![("Catalog".into(), Some("/catalog".into())), (tile.display_name.clone(), None)] />
        <div class="mb-6 flex items-start gap-4">
            <ClassIcon image_url=tile.image_url.clone() name=tile.display_name.clone() size="h-14 w-14" />
            <div class="min-w-0 flex-1">
                <PageHeader title=tile.display_name.clone() subtitle=tile.description.clone() />
            </div>
        </div>
        {removed.then(|| view! {
            <div role="status" data-testid="class-removed" class="mb-6 rounded-md border border-amber-200 bg-amber-50 px-4 py-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/40 dark:text-amber-200">
                "The broker no longer offers this service. Existing instances keep working; new ones cannot be requested."
            </div>
        })}
        <div class="grid items-start gap-6 lg:grid-cols-3">
            <section class=format!("{CARD} p-5 lg:col-span-2") aria-labelledby="about-heading">
                <h2 id="about-heading" class="text-base font-semibold">"About"</h2>
                <p class="mt-2 text-sm whitespace-pre-line text-zinc-700 dark:text-zinc-300" data-testid="long-description">
                    {if d.long_description.is_empty() { d.tile.description.clone() } else { d.long_description.clone() }}
                </p>
                <div class="mt-4 flex flex-wrap gap-4 text-sm">{docs}{support}</div>
            </section>
            <section class=format!("{CARD} p-5") aria-label="Facts">
                <dl class="divide-y divide-zinc-100 text-sm dark:divide-zinc-800">
                    <Fact2 label="Provider" value=if tile.provider.is_empty() { "—".into() } else { tile.provider.clone() } />
                    <Fact2 label="Broker" value=tile.broker.clone() />
                    <Fact2 label="Name" value=tile.external_name.clone() />
                    <Fact2 label="Bindable" value=if d.bindable { "Yes".into() } else { "No".into() } />
                    <Fact2 label="Plan changes" value=if d.plan_updatable { "Allowed".into() } else { "Not allowed".into() } />
                </dl>
                <div class="mt-3 flex flex-wrap gap-1.5">
                    {tile.tags.iter().map(|t| view! { <span class="rounded bg-zinc-100 px-1.5 py-0.5 text-xs text-zinc-600 dark:bg-zinc-800 dark:text-zinc-300">{t.clone()}</span> }).collect_view()}
                </div>
            </section>
        </div>
        <h2 class="mt-8 mb-3 text-base font-semibold">"Plans"</h2>
        {if plans.is_empty() {
            view! { <EmptyState title="No plans"><p>"The broker lists no plans for this service."</p></EmptyState> }.into_any()
        } else {
            view! {
                <ul class="grid gap-4 md:grid-cols-2 xl:grid-cols-3" data-testid="plans">
                    {plans.into_iter().map(|p| view! { <plans::PlanCard plan=p slug=slug.clone() class_removed=removed /> }).collect_view()}
                </ul>
            }
            .into_any()
        }}
    }
}

#[component]
fn Fact2(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="flex justify-between gap-3 py-1.5">
            <dt class=MUTED>{label}</dt>
            <dd class="min-w-0 text-right break-words">{value}</dd>
        </div>
    }
}
