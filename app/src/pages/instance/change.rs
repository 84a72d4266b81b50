//! Changing an instance: new parameters (the plan's update schema, prefilled with the current
//! values) or another plan; deleting it with a confirmation; and, when a deletion is stuck or
//! failed, abandoning it after saying what stays at the broker.

use leptos::prelude::*;
use serde_json::Value;

use super::Live;
use super::server_fns::{AbandonInstance, DeleteInstance, UpdateInstance};
use crate::api::catalog::PlanInfo;
use crate::api::instances::{InstancePage, InstanceUpdate};
use crate::api::{Rejection, Submitted};
use crate::components::ui::{
    BUTTON_DANGER, BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, LABEL, MUTED, SELECT, Spinner, focus_when_mounted,
    on_escape,
};
use crate::model::{Phase, instance_status};
use crate::schema_form::{FormState, SchemaForm, compile};

#[component]
pub fn Changes(page: StoredValue<InstancePage>) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let deleting = Memo::new(move |_| instance.with(|i| i.metadata.deletion_timestamp.is_some()));
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let delete = ServerAction::<DeleteInstance>::new();
    let delete_error = Memo::new(move |_| match delete.value().get() {
        Some(Ok(Submitted::Rejected(r))) => Some(r.message),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    });
    let binding_count = move || live.bindings.with(Vec::len);
    let name = StoredValue::new(instance.with_untracked(|i| i.metadata.name.clone()));
    let namespace = StoredValue::new(instance.with_untracked(|i| i.metadata.namespace.clone().unwrap_or_default()));

    view! {
        <Show when=move || !deleting.get() fallback=move || view! { <Deletion page /> }>
            <div class="flex flex-wrap gap-3">
                <button type="button" class=BUTTON_SECONDARY data-testid="edit-instance" aria-expanded=move || editing.get().to_string() on:click=move |_| editing.update(|e| *e = !*e)>
                    {move || if editing.get() { "Close the change form" } else { "Change parameters or plan" }}
                </button>
                <button type="button" class=format!("{BUTTON_SECONDARY} text-red-700 dark:text-red-400") data-testid="delete-instance" on:click=move |_| confirming.set(true)>
                    "Delete instance…"
                </button>
            </div>
            <Show when=move || confirming.get()>
                {
                    let cancel = NodeRef::<leptos::html::Button>::new();
                    focus_when_mounted(cancel);
                    view! {
                        <div role="alertdialog" aria-labelledby="delete-title" aria-describedby="delete-text" class="rounded-lg border border-red-200 bg-red-50 p-5 dark:border-red-900 dark:bg-red-950/30" data-testid="confirm-delete" on:keydown=on_escape(move || confirming.set(false))>
                            <h2 id="delete-title" class="text-base font-semibold text-red-900 dark:text-red-200">{format!("Delete {}?", name.get_value())}</h2>
                            <p id="delete-text" class="mt-1 text-sm text-red-900 dark:text-red-200">
                                "The broker removes the instance and its data. This cannot be undone."
                                {move || match binding_count() {
                                    0 => String::new(),
                                    1 => " Its binding is deleted first; its credentials stop working.".to_string(),
                                    n => format!(" Its {n} bindings are deleted first; their credentials stop working."),
                                }}
                            </p>
                            <div class="mt-3 flex gap-3">
                                <button type="button" class=BUTTON_SECONDARY node_ref=cancel on:click=move |_| confirming.set(false)>"Cancel"</button>
                                <button
                                    type="button"
                                    class=BUTTON_DANGER
                                    data-testid="confirm-delete-button"
                                    disabled=move || delete.pending().get()
                                    on:click=move |_| {
                                        delete.dispatch(DeleteInstance { namespace: namespace.get_value(), name: name.get_value() });
                                    }
                                >
                                    {move || if delete.pending().get() { "Deleting…" } else { "Delete" }}
                                </button>
                            </div>
                            <div aria-live="assertive">{move || delete_error.get().map(|m| view! { <p class="mt-2 text-sm text-red-700 dark:text-red-300">{m}</p> })}</div>
                        </div>
                    }
                }
            </Show>
            <Show when=move || editing.get()>
                <Suspense fallback=|| view! { <Spinner label="Opening the change form" /> }>
                    {move || Suspend::new(update_panel(page, Callback::new(move |()| editing.set(false))))}
                </Suspense>
            </Show>
        </Show>
    }
}

/// The change form, a part of the wasm bundle of its own (`#[lazy]`): the browser fetches the
/// schema form's code when someone opens it, not with every instance page.
#[lazy(instance_update_form)]
fn update_panel(page: StoredValue<InstancePage>, on_done: Callback<()>) -> AnyView {
    view! { <UpdatePanel page on_done=move || on_done.run(()) /> }.into_any()
}

#[component]
fn UpdatePanel(page: StoredValue<InstancePage>, on_done: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let current_plan = instance.with_untracked(|i| i.spec.plan_external_name().unwrap_or_default().to_string());
    let plans: Vec<PlanInfo> =
        page.with_value(|p| p.class.as_ref().map(|c| c.offered_plans().cloned().collect()).unwrap_or_default());
    let updatable = page.with_value(|p| {
        p.class.as_ref().is_some_and(|c| c.plan(&current_plan).map_or(c.plan_updatable, |pl| pl.updatable))
    });
    let selected = RwSignal::new(current_plan.clone());
    let plans = StoredValue::new(plans);
    view! {
        <section class=format!("{CARD} space-y-4 p-5") aria-labelledby="update-heading" data-testid="update-panel">
            <h2 id="update-heading" class="text-base font-semibold">"Change the instance"</h2>
            <div class="space-y-1">
                <label for="update-plan" class=LABEL>"Plan"</label>
                {if updatable && plans.with_value(|p| p.len() > 1) {
                    view! {
                        <select id="update-plan" class=SELECT on:change=move |ev| selected.set(event_target_value(&ev))>
                            {plans.with_value(|ps| ps.iter().map(|p| {
                                let value = p.external_name.clone();
                                let is_current = value == current_plan;
                                view! { <option value=value.clone() selected=is_current>{format!("{} ({})", p.display_name, value)}</option> }
                            }).collect_view())}
                        </select>
                    }.into_any()
                } else {
                    view! {
                        <p id="update-plan" class="text-sm">{current_plan.clone()}<span class=MUTED>{if updatable { "" } else { " — this service does not allow plan changes" }}</span></p>
                    }.into_any()
                }}
            </div>
            {move || {
                let plan_name = selected.get();
                let plan = plans.with_value(|ps| ps.iter().find(|p| p.external_name == plan_name).cloned());
                view! { <UpdateForm plan_name plan on_done=on_done.clone() /> }
            }}
        </section>
    }
}

#[component]
fn UpdateForm(
    plan_name: String,
    plan: Option<PlanInfo>,
    on_done: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let schema = plan.as_ref().and_then(|p| p.update_schema.clone().or_else(|| p.create_schema.clone()));
    let current = instance.with_untracked(|i| i.spec.parameters.clone().unwrap_or(Value::Null));
    let form = FormState::for_parameters(compile(schema.as_ref().unwrap_or(&Value::Null)), &current);
    let submit = ServerAction::<UpdateInstance>::new();
    let rejection = RwSignal::new(None::<Rejection>);
    let form_for_answer = form.clone();
    Effect::new(move |_| match submit.value().get() {
        Some(Ok(Submitted::Done(_))) => on_done(),
        Some(Ok(Submitted::Rejected(r))) => {
            form_for_answer.set_server_errors(r.fields.clone());
            rejection.set(Some(r));
        }
        Some(Err(e)) => rejection.set(Some(Rejection::new(e.to_string()))),
        None => {}
    });
    let form_for_submit = form.clone();
    let send = move |_| {
        let Some(parameters) = form_for_submit.try_submit() else { return };
        rejection.set(None);
        let (namespace, name, rv) = instance.with_untracked(|i| {
            (
                i.metadata.namespace.clone().unwrap_or_default(),
                i.metadata.name.clone(),
                i.metadata.resource_version.clone().unwrap_or_default(),
            )
        });
        submit.dispatch(UpdateInstance {
            update: InstanceUpdate { namespace, name, plan: plan_name.clone(), parameters, resource_version: rv },
        });
    };
    let busy = Memo::new(move |_| {
        instance.with(|i| matches!(instance_status(i).phase, Phase::Provisioning | Phase::Updating))
    });
    view! {
        {match schema {
            Some(_) => view! { <SchemaForm model=form.model.clone() value=form.value errors=form.errors() show_all=form.submitted id_prefix="update" /> }.into_any(),
            None => view! { <p class=format!("text-sm {MUTED}")>"This plan has no parameters to change."</p> }.into_any(),
        }}
        <div aria-live="assertive">{move || rejection.get().filter(|r| !r.message.is_empty()).map(|r| view! { <ErrorBox title="The change was not accepted" message=r.message /> })}</div>
        {move || busy.get().then(|| view! { <p class=format!("text-sm {MUTED}")>"An operation is in progress; a change now waits for it to finish."</p> })}
        <div class="flex items-center gap-3">
            <button type="button" class=BUTTON_PRIMARY data-testid="submit-update" on:click=send disabled=move || submit.pending().get()>
                {move || if submit.pending().get() { "Saving…" } else { "Apply change" }}
            </button>
            {move || submit.pending().get().then(|| view! { <Spinner label="Sending the change" /> })}
        </div>
    }
}

/// While the instance is being deleted: what is happening, why it may be stuck, and abandon.
#[component]
fn Deletion(page: StoredValue<InstancePage>) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let status = Memo::new(move |_| instance.with(instance_status));
    let confirming = RwSignal::new(false);
    let abandon_cancel = NodeRef::<leptos::html::Button>::new();
    let abandon = ServerAction::<AbandonInstance>::new();
    let abandon_error = Memo::new(move |_| match abandon.value().get() {
        Some(Ok(Submitted::Rejected(r))) => Some(r.message),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    });
    let broker = page.with_value(|p| p.broker.clone());
    let left_behind = move || {
        let (external_id, class, plan) = instance.with(|i| {
            (
                i.spec.external_id.clone(),
                i.spec.class_external_name().unwrap_or_default().to_string(),
                i.spec.plan_external_name().unwrap_or_default().to_string(),
            )
        });
        let bindings: Vec<String> = live.bindings.with(|b| b.iter().map(|b| b.spec.external_id.clone()).collect());
        let mut text = format!(
            "The portal forgets this instance without the broker's confirmation. Left behind at broker {}: the {class} instance {external_id} (plan {plan}) with its data",
            if broker.is_empty() { "(unknown)" } else { broker.as_str() }
        );
        if !bindings.is_empty() {
            text.push_str(&format!(
                ", and {} binding(s) ({}) whose credentials may keep working",
                bindings.len(),
                bindings.join(", ")
            ));
        }
        text.push_str(". Someone has to clean these up at the broker.");
        text
    };
    view! {
        <section class=format!("{CARD} space-y-3 p-5") aria-labelledby="deletion-heading" data-testid="deletion">
            <h2 id="deletion-heading" class="text-base font-semibold">"Deletion"</h2>
            <p class="text-sm">
                {move || if status.get().phase == Phase::Failed {
                    "The deletion is stuck: the broker refused or failed to remove the instance (see the message above and the conditions below). The portal keeps retrying with growing pauses."
                } else {
                    "The instance is being deleted: its bindings are removed, then the broker deprovisions it. The page updates by itself."
                }}
            </p>
            <p class=format!("text-sm {MUTED}")>
                "If the broker will never confirm (it is gone, or it lost the instance), a platform admin can abandon the instance."
            </p>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class=format!("{BUTTON_SECONDARY} text-red-700 dark:text-red-400") data-testid="abandon-instance" on:click=move |_| confirming.set(true)>"Abandon…"</button>
                }
            >
                {focus_when_mounted(abandon_cancel)}
                <div role="alertdialog" aria-labelledby="abandon-title" aria-describedby="abandon-text" class="rounded-md border border-red-200 bg-red-50 p-4 dark:border-red-900 dark:bg-red-950/30" data-testid="confirm-abandon" on:keydown=on_escape(move || confirming.set(false))>
                    <h3 id="abandon-title" class="font-semibold text-red-900 dark:text-red-200">"Abandon this instance?"</h3>
                    <p id="abandon-text" class="mt-1 text-sm text-red-900 dark:text-red-200">{left_behind.clone()}</p>
                    <div class="mt-3 flex gap-3">
                        <button type="button" class=BUTTON_SECONDARY node_ref=abandon_cancel on:click=move |_| confirming.set(false)>"Cancel"</button>
                        <button
                            type="button"
                            class=BUTTON_DANGER
                            data-testid="confirm-abandon-button"
                            disabled=move || abandon.pending().get()
                            on:click=move |_| {
                                let (namespace, name) = instance.with_untracked(|i| (i.metadata.namespace.clone().unwrap_or_default(), i.metadata.name.clone()));
                                abandon.dispatch(AbandonInstance { namespace, name });
                            }
                        >
                            "Abandon"
                        </button>
                    </div>
                    <div aria-live="assertive">{move || abandon_error.get().map(|m| view! { <p class="mt-2 text-sm text-red-700 dark:text-red-300">{m}</p> })}</div>
                </div>
            </Show>
        </section>
    }
}
