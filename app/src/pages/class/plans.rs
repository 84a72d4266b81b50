//! A plan as a card on the class page: price, bullets, what its form asks, and the request button.

use leptos::prelude::*;

use crate::api::catalog::PlanInfo;
use crate::components::ui::{BUTTON_PRIMARY, CARD, MUTED};
use crate::pages::catalog::encode;
use crate::schema_form::{FieldSummary, compile};

/// "Storage (GB) · slider", with a marker when required.
fn asks(summary: &[FieldSummary]) -> Vec<(String, bool, String)> {
    summary
        .iter()
        .map(|f| {
            let how = match &f.unit {
                Some(unit) => format!("{} in {unit}", f.widget),
                None => f.widget.to_string(),
            };
            (f.label.clone(), f.required, how)
        })
        .collect()
}

#[component]
pub fn PlanCard(plan: PlanInfo, slug: String, class_removed: bool) -> impl IntoView {
    let summary = plan.create_schema.as_ref().map(|s| compile(s).summary()).unwrap_or_default();
    let fields = asks(&summary);
    let offered = !plan.removed && !class_removed;
    let href = format!("/catalog/{slug}/request?plan={}", encode(&plan.external_name));
    let price = if plan.free {
        "Free".to_string()
    } else if plan.costs.is_empty() {
        "Paid".to_string()
    } else {
        plan.costs.join(" + ")
    };
    view! {
        <li class=format!("{CARD} flex flex-col p-5") data-testid="plan-card" data-plan=plan.external_name.clone()>
            <div class="flex items-start justify-between gap-3">
                <div class="min-w-0">
                    <h3 class="text-sm font-semibold">{plan.display_name.clone()}</h3>
                    <p class="text-xs text-zinc-500 dark:text-zinc-400">{plan.external_name.clone()}</p>
                </div>
                <span class=if plan.free {
                    "shrink-0 rounded bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-500/10 dark:text-emerald-300"
                } else {
                    "shrink-0 rounded bg-zinc-100 px-2 py-0.5 text-xs font-medium text-zinc-800 dark:bg-zinc-800 dark:text-zinc-200"
                }>{price}</span>
            </div>
            <p class="mt-2 text-sm text-zinc-600 dark:text-zinc-300">{plan.description.clone()}</p>
            {(!plan.bullets.is_empty()).then(|| view! {
                <ul class="mt-3 space-y-1 text-sm">
                    {plan.bullets.iter().map(|b| view! {
                        <li class="flex gap-2"><span class="text-indigo-600 dark:text-indigo-400" aria-hidden="true">"•"</span><span>{b.clone()}</span></li>
                    }).collect_view()}
                </ul>
            })}
            <div class="mt-3 flex flex-wrap gap-1.5 text-xs">
                <span class="rounded bg-zinc-100 px-1.5 py-0.5 dark:bg-zinc-800">{if plan.bindable { "Bindable" } else { "Not bindable" }}</span>
                {plan.updatable.then(|| view! { <span class="rounded bg-zinc-100 px-1.5 py-0.5 dark:bg-zinc-800">"Plan changes allowed"</span> })}
                {plan.removed.then(|| view! { <span class="rounded bg-amber-100 px-1.5 py-0.5 font-medium text-amber-800 dark:bg-amber-500/15 dark:text-amber-300">"Removed from the broker's catalog"</span> })}
            </div>
            <div class="mt-4 border-t border-zinc-100 pt-3 dark:border-zinc-800">
                <h4 class="text-xs font-medium tracking-wide text-zinc-500 uppercase dark:text-zinc-400">"The form asks for"</h4>
                {if fields.is_empty() {
                    view! { <p class=format!("mt-1 text-sm {MUTED}")>"Nothing: no parameters."</p> }.into_any()
                } else {
                    view! {
                        <ul class="mt-1 space-y-0.5 text-sm" data-testid="plan-asks">
                            {fields.into_iter().map(|(label, required, how)| view! {
                                <li class="flex justify-between gap-2">
                                    <span>{label}{required.then(|| view! { <span class="text-red-600 dark:text-red-400" title="required">" *"</span> })}</span>
                                    <span class=MUTED>{how}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
                {(!plan.problems.is_empty()).then(|| view! {
                    <ul class="mt-2 space-y-0.5 text-xs text-amber-700 dark:text-amber-400" data-testid="plan-problems">
                        {plan.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}
                    </ul>
                })}
                {(!plan.maintenance.is_empty()).then(|| view! { <p class=format!("mt-2 text-xs {MUTED}")>"Version "{plan.maintenance.clone()}</p> })}
            </div>
            <div class="mt-auto pt-4">
                {if offered {
                    view! { <a class=format!("{BUTTON_PRIMARY} w-full") href=href data-testid="request-plan">"Request instance"</a> }.into_any()
                } else {
                    view! { <p class=format!("text-sm {MUTED}")>"Not offered any more."</p> }.into_any()
                }}
            </div>
        </li>
    }
}
