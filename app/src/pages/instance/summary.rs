//! What an instance is and how it is doing: the status with the broker's words, the facts, the
//! parameters with their units, the conditions, and the history of condition changes.

use leptos::prelude::*;

use super::Live;
use crate::api::instances::InstancePage;
use crate::components::params::{ParameterList, parameter_rows};
use crate::components::safe::link_href;
use crate::components::status::PhaseIcon;
use crate::components::ui::{CARD, LINK, MUTED, SectionTitle, readable_time};
use crate::model::{
    Condition, ConditionStatus, InstanceOperation, Phase, Tone, instance_status, phase::is_error_reason,
};
use crate::schema_form::compile;

fn panel_classes(tone: Tone) -> &'static str {
    match tone {
        Tone::Green => {
            "border-emerald-200 bg-emerald-50 text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950/30 dark:text-emerald-200"
        }
        Tone::Blue => "border-sky-200 bg-sky-50 text-sky-900 dark:border-sky-900 dark:bg-sky-950/30 dark:text-sky-200",
        Tone::Amber => {
            "border-amber-200 bg-amber-50 text-amber-900 dark:border-amber-900 dark:bg-amber-950/30 dark:text-amber-200"
        }
        Tone::Red => "border-red-200 bg-red-50 text-red-900 dark:border-red-900 dark:bg-red-950/30 dark:text-red-200",
        Tone::Purple => {
            "border-purple-200 bg-purple-50 text-purple-900 dark:border-purple-900 dark:bg-purple-950/30 dark:text-purple-200"
        }
    }
}

/// One sentence on what the phase means for the person reading it.
fn explanation(phase: Phase, deleting: bool) -> &'static str {
    match phase {
        Phase::Ready => "The instance is ready to use.",
        Phase::Provisioning => "The broker is creating the instance. This page updates by itself.",
        Phase::Updating => "The broker is applying a change. The instance stays usable meanwhile.",
        Phase::Deprovisioning => "The broker is removing the instance.",
        Phase::Failed if deleting => "The broker has not confirmed the deletion. The portal keeps retrying.",
        Phase::Failed => "The broker could not do what was asked.",
        Phase::OrphanMitigation => {
            "The broker's answer was unusable, so the portal is removing whatever the broker may have created, as OSB requires."
        }
        Phase::PendingApproval => "The request waits for an admin's approval.",
        Phase::Binding | Phase::Unbinding => "",
    }
}

#[component]
pub fn StatusPanel(page: StoredValue<InstancePage>) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let status = Memo::new(move |_| instance.with(instance_status));
    let dashboard =
        move || instance.with(|i| i.status.dashboard_url.clone()).and_then(|u| link_href(&u).map(str::to_string));
    let _ = page;
    view! {
        <section
            aria-label="Status"
            aria-live="polite"
            data-testid="status-panel"
            data-phase=move || status.get().phase.key()
            class=move || format!("rounded-lg border px-5 py-4 {}", panel_classes(status.get().phase.tone()))
        >
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div class="min-w-0 flex-1">
                    <p class="flex items-center gap-2 text-base font-semibold">
                        {move || view! { <PhaseIcon phase=status.get().phase /> }}
                        <span data-testid="status-word">{move || status.get().headline()}</span>
                    </p>
                    <p class="mt-1 text-sm">{move || explanation(status.get().phase, status.get().deleting)}</p>
                    {move || {
                        let s = status.get();
                        (!s.message.is_empty()).then(|| view! {
                            <p class="mt-2 text-sm break-words" data-testid="status-message">
                                {(!s.reason.is_empty()).then(|| view! { <span class="font-mono text-xs">{s.reason.clone()}": "</span> })}
                                // The broker's words: a text node, never HTML.
                                {s.message.clone()}
                            </p>
                        })
                    }}
                </div>
                {move || dashboard().map(|href| view! {
                    <a class=format!("{LINK} text-sm") href=href rel="noopener noreferrer nofollow" target="_blank" data-testid="dashboard-link">"Open dashboard ↗"</a>
                })}
            </div>
            {move || {
                let i = instance.get();
                let s = &i.status;
                let op = s.current_operation.map(|o| match o {
                    InstanceOperation::Provision => "Provision",
                    InstanceOperation::Update => "Update",
                    InstanceOperation::Deprovision => "Deprovision",
                });
                (op.is_some() || s.last_operation.is_some()).then(|| view! {
                    <dl class="mt-3 flex flex-wrap gap-x-6 gap-y-1 text-xs">
                        {op.map(|op| view! { <div><dt class="inline opacity-75">"Operation in progress: "</dt><dd class="inline font-medium">{op}</dd></div> })}
                        {s.operation_start_time.clone().map(|t| view! { <div><dt class="inline opacity-75">"Started: "</dt><dd class="inline">{readable_time(&t)}</dd></div> })}
                        {s.async_op_in_progress.then(|| view! { <div><dd class="inline">"Asynchronous at the broker"</dd></div> })}
                        {s.last_operation.clone().map(|o| view! { <div><dt class="inline opacity-75">"Broker operation: "</dt><dd class="inline font-mono">{o}</dd></div> })}
                    </dl>
                })
            }}
        </section>
    }
}

#[component]
pub fn Details(page: StoredValue<InstancePage>) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let broker = page.with_value(|p| p.broker.clone());
    let plan_display = move |plan: &str| {
        page.with_value(|p| {
            p.class.as_ref().and_then(|c| c.plan(plan)).map(|p| format!("{} ({})", p.display_name, p.external_name))
        })
        .unwrap_or_else(|| plan.to_string())
    };
    let parameters = Memo::new(move |_| {
        let i = instance.get();
        let plan = i.spec.plan_external_name().unwrap_or_default().to_string();
        let schema =
            page.with_value(|p| p.class.as_ref().and_then(|c| c.plan(&plan)).and_then(|p| p.create_schema.clone()));
        let model = schema.map(|s| compile(&s));
        parameter_rows(model.as_ref(), i.spec.parameters.as_ref().unwrap_or(&serde_json::Value::Null))
    });
    view! {
        <div class="grid gap-6 lg:grid-cols-2">
            <section class=format!("{CARD} p-5")>
                <SectionTitle title="Details" />
                {move || {
                    let i = instance.get();
                    let plan = i.spec.plan_external_name().unwrap_or_default().to_string();
                    let requested_by = i.spec.user_info.as_ref().map(|u| u.username.clone()).unwrap_or_default();
                    view! {
                        <dl class="divide-y divide-zinc-100 text-sm dark:divide-zinc-800">
                            <Row label="Service" value=i.spec.class_external_name().unwrap_or_default().to_string() />
                            <Row label="Plan" value=plan_display(&plan) />
                            <Row label="Team" value=i.metadata.namespace.clone().unwrap_or_default() />
                            <Row label="Broker" value=broker.clone() />
                            <Row label="Instance ID at the broker" value=i.spec.external_id.clone() />
                            <Row label="Created" value=readable_time(i.metadata.creation_timestamp.as_deref().unwrap_or_default()) />
                            <Row label="Last changed by" value=requested_by />
                            {i.metadata.deletion_timestamp.clone().map(|t| view! { <Row label="Deletion requested" value=readable_time(&t) /> })}
                        </dl>
                    }
                }}
            </section>
            <section class=format!("{CARD} p-5")>
                <SectionTitle title="Parameters" />
                {move || view! { <ParameterList rows=parameters.get() /> }}
            </section>
        </div>
        <section class=format!("{CARD} p-5")>
            <SectionTitle title="Conditions" />
            {move || {
                let conditions = instance.with(|i| i.status.conditions.clone());
                if conditions.is_empty() {
                    view! { <p class=format!("text-sm {MUTED}")>"None yet: the controller has not looked at this instance."</p> }.into_any()
                } else {
                    view! { <ConditionTable conditions /> }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn Row(label: &'static str, #[prop(into)] value: String) -> impl IntoView {
    view! {
        <div class="grid grid-cols-3 gap-2 py-1.5">
            <dt class=MUTED>{label}</dt>
            <dd class="col-span-2 min-w-0 break-words">{if value.is_empty() { "—".to_string() } else { value }}</dd>
        </div>
    }
}

fn status_word(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

#[component]
pub fn ConditionTable(conditions: Vec<Condition>) -> impl IntoView {
    view! {
        <div class="overflow-x-auto">
            <table class="min-w-full text-left text-sm" data-testid="conditions">
                <thead class="text-xs text-zinc-500 dark:text-zinc-400">
                    <tr>
                        <th scope="col" class="py-1.5 pr-4 font-medium">"Type"</th>
                        <th scope="col" class="py-1.5 pr-4 font-medium">"Status"</th>
                        <th scope="col" class="py-1.5 pr-4 font-medium">"Reason"</th>
                        <th scope="col" class="py-1.5 pr-4 font-medium">"Message"</th>
                        <th scope="col" class="py-1.5 font-medium">"Since"</th>
                    </tr>
                </thead>
                <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                    {conditions.into_iter().map(|c| view! {
                        <tr class="align-top">
                            <td class="py-1.5 pr-4 font-medium">{c.type_}</td>
                            <td class="py-1.5 pr-4">{status_word(c.status)}</td>
                            <td class="py-1.5 pr-4 font-mono text-xs">{c.reason}</td>
                            <td class="py-1.5 pr-4 break-words">{c.message}</td>
                            <td class="py-1.5 whitespace-nowrap text-xs text-zinc-500 dark:text-zinc-400">{readable_time(&c.last_transition_time)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The colour of an event: red for failures, blue for work in progress, green for success.
fn timeline_dot(c: &Condition) -> &'static str {
    const IN_PROGRESS: [&str; 5] = ["Provisioning", "UpdatingInstance", "Deprovisioning", "Binding", "Unbinding"];
    let failed = (c.type_ == "Failed" && c.status == ConditionStatus::True) || is_error_reason(&c.reason);
    if failed {
        "bg-red-500"
    } else if IN_PROGRESS.contains(&c.reason.as_str()) || c.type_ == "OrphanMitigation" {
        "bg-sky-500"
    } else if c.type_ == "Ready" && c.status == ConditionStatus::True {
        "bg-emerald-500"
    } else {
        "bg-zinc-400"
    }
}

/// The history of condition changes, newest first.
#[component]
pub fn Timeline() -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    view! {
        <section class=format!("{CARD} p-5")>
            <SectionTitle title="Events" />
            {move || {
                let mut history = instance.with(|i| i.status.history.clone());
                history.reverse();
                if history.is_empty() {
                    return view! { <p class=format!("text-sm {MUTED}")>"Nothing happened yet."</p> }.into_any();
                }
                view! {
                    <ol class="relative space-y-3 border-l border-zinc-200 pl-5 dark:border-zinc-800" data-testid="timeline">
                        {history.into_iter().map(|c| {
                            let dot = timeline_dot(&c);
                            view! {
                                <li class="relative">
                                    <span class=format!("absolute top-1.5 -left-[25px] h-2.5 w-2.5 rounded-full ring-4 ring-white dark:ring-zinc-900 {dot}") aria-hidden="true"></span>
                                    <p class="text-sm">
                                        <span class="font-medium">{format!("{} {}", c.type_, status_word(c.status))}</span>
                                        {(!c.reason.is_empty()).then(|| view! { <span class="ml-2 font-mono text-xs text-zinc-500 dark:text-zinc-400">{c.reason.clone()}</span> })}
                                    </p>
                                    {(!c.message.is_empty()).then(|| view! { <p class="text-sm break-words text-zinc-600 dark:text-zinc-300">{c.message.clone()}</p> })}
                                    <p class="text-xs text-zinc-500 dark:text-zinc-400">{readable_time(&c.last_transition_time)}</p>
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                }
                .into_any()
            }}
        </section>
    }
}
