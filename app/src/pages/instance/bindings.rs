//! The bindings of an instance: create one with the plan's binding form, see each one's status,
//! reveal its credentials, delete it.

use leptos::prelude::*;
use serde_json::Value;

use super::Live;
use super::credentials::CredentialsPanel;
use super::server_fns::{CreateBinding, DeleteBinding};
use crate::api::instances::{BindingRequest, InstancePage};
use crate::api::{Rejection, Submitted};
use crate::components::status::StatusBadge;
use crate::components::ui::{
    BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, FIELD_ERROR, INPUT, LABEL, MUTED, Spinner, focus_when_mounted,
    on_escape, readable_time,
};
use crate::model::{Phase, ServiceBinding, binding_status, instance_status};
use crate::pages::request::name_message;
use crate::schema_form::{FormState, SchemaForm, compile};

#[component]
pub fn Bindings(page: StoredValue<InstancePage>) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let plan = move || instance.with(|i| i.spec.plan_external_name().unwrap_or_default().to_string());
    let bindable = move || {
        let plan = plan();
        page.with_value(|p| p.class.as_ref().is_none_or(|c| c.plan(&plan).map_or(c.bindable, |p| p.bindable)))
    };
    let creating = RwSignal::new(false);
    let deleting = Memo::new(move |_| instance.with(|i| i.metadata.deletion_timestamp.is_some()));
    // The broker binds only a working instance.
    let usable =
        Memo::new(move |_| instance.with(|i| matches!(instance_status(i).phase, Phase::Ready | Phase::Updating)));
    view! {
        <section class=format!("{CARD} p-5") aria-labelledby="bindings-heading" data-testid="bindings">
            <div class="mb-3 flex items-center justify-between gap-4">
                <h2 id="bindings-heading" class="text-base font-semibold">"Bindings"</h2>
                {move || (bindable() && usable.get() && !deleting.get()).then(|| view! {
                    <button type="button" class=BUTTON_SECONDARY data-testid="new-binding" aria-expanded=move || creating.get().to_string() on:click=move |_| creating.update(|c| *c = !*c)>
                        {move || if creating.get() { "Cancel" } else { "New binding" }}
                    </button>
                })}
            </div>
            {move || {
                if !bindable() {
                    Some(view! { <p class=format!("mb-2 text-sm {MUTED}")>"This plan is not bindable: the broker hands out no credentials for it."</p> })
                } else if !usable.get() && !deleting.get() {
                    Some(view! { <p class=format!("mb-2 text-sm {MUTED}")>"Bindings can be created once the instance is ready."</p> })
                } else {
                    None
                }
            }}
            <Show when=move || creating.get()>
                {
                    // Read once, when the form opens: a live change of the instance must not
                    // reopen it (and lose what was typed).
                    let schema = untrack(|| page.with_value(|p| p.class.as_ref().and_then(|c| c.plan(&plan())).and_then(|p| p.binding_schema.clone())));
                    view! {
                        <Suspense fallback=|| view! { <Spinner label="Opening the binding form" /> }>
                            {move || Suspend::new(new_binding(schema.clone(), Callback::new(move |()| creating.set(false))))}
                        </Suspense>
                    }
                }
            </Show>
            {move || {
                let list = live.bindings.get();
                if list.is_empty() {
                    view! { <p class=format!("text-sm {MUTED}")>"No bindings yet. A binding gives an application its own credentials for this instance."</p> }.into_any()
                } else {
                    view! {
                        <ul class="divide-y divide-zinc-100 dark:divide-zinc-800">
                            <For each=move || live.bindings.get() key=|b| b.metadata.name.clone() let(b)>
                                <BindingRow name=b.metadata.name.clone() />
                            </For>
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// The binding form, a part of the wasm bundle of its own (`#[lazy]`), fetched when it is opened.
#[lazy(instance_binding_form)]
fn new_binding(schema: Option<Value>, on_done: Callback<()>) -> AnyView {
    view! { <NewBinding schema on_done=move || on_done.run(()) /> }.into_any()
}

#[component]
fn NewBinding(schema: Option<Value>, on_done: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let live = expect_context::<Live>();
    let instance = live.instance;
    let suggested = instance.with_untracked(|i| {
        let base = format!("{}-creds", i.metadata.name);
        let taken = live.bindings.with_untracked(|b| b.iter().any(|b| b.metadata.name == base));
        if taken || base.len() > 63 { String::new() } else { base }
    });
    let name = RwSignal::new(suggested);
    let form = FormState::new(compile(schema.as_ref().unwrap_or(&Value::Null)));
    let submit = ServerAction::<CreateBinding>::new();
    let rejection = RwSignal::new(None::<Rejection>);
    let name_error = Memo::new(move |_| {
        name_message(&name.get(), true)
            .or_else(|| rejection.with(|r| r.as_ref().and_then(|r| r.input("name")).map(str::to_string)))
    });
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
        if name_error.get_untracked().is_some() {
            return;
        }
        rejection.set(None);
        let (namespace, instance_name) =
            instance.with_untracked(|i| (i.metadata.namespace.clone().unwrap_or_default(), i.metadata.name.clone()));
        submit.dispatch(CreateBinding {
            request: BindingRequest { namespace, instance: instance_name, name: name.get_untracked(), parameters },
        });
    };
    view! {
        <div class="mb-4 space-y-4 rounded-md border border-zinc-200 p-4 dark:border-zinc-800" data-testid="new-binding-form">
            <div class="max-w-sm space-y-1">
                <label for="binding-name" class=LABEL>"Binding name"</label>
                <input
                    id="binding-name"
                    name="binding-name"
                    type="text"
                    class=INPUT
                    autocomplete="off"
                    spellcheck="false"
                    aria-invalid=move || name_error.get().is_some().to_string()
                    aria-describedby="binding-name-msg"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <p id="binding-name-msg" class=FIELD_ERROR aria-live="polite">{move || name_error.get()}</p>
                <p class=format!("text-xs {MUTED}")>"The credentials land in a Secret of the same name in the team's namespace."</p>
            </div>
            {schema.is_some().then(|| view! { <SchemaForm model=form.model.clone() value=form.value errors=form.errors() show_all=form.submitted id_prefix="bind" /> })}
            <div aria-live="assertive">{move || rejection.get().filter(|r| !r.message.is_empty()).map(|r| view! { <ErrorBox title="The binding was not created" message=r.message /> })}</div>
            <button type="button" class=BUTTON_PRIMARY data-testid="create-binding" on:click=send disabled=move || submit.pending().get()>
                {move || if submit.pending().get() { "Creating…" } else { "Create binding" }}
            </button>
        </div>
    }
}

#[component]
fn BindingRow(name: String) -> impl IntoView {
    let live = expect_context::<Live>();
    let name = StoredValue::new(name);
    let binding = Memo::new(move |_| {
        name.with_value(|name| live.bindings.with(|list| list.iter().find(|b| &b.metadata.name == name).cloned()))
    });
    let status = Signal::derive(move || {
        binding.get().map(|b| binding_status(&b)).unwrap_or_else(|| binding_status(&ServiceBinding::default()))
    });
    let confirming = RwSignal::new(false);
    let delete = ServerAction::<DeleteBinding>::new();
    let namespace =
        StoredValue::new(live.instance.with_untracked(|i| i.metadata.namespace.clone().unwrap_or_default()));
    let deleting = move || binding.with(|b| b.as_ref().is_some_and(|b| b.metadata.deletion_timestamp.is_some()));
    let ready = Memo::new(move |_| status.get().phase == crate::model::Phase::Ready && !deleting());
    view! {
        <li class="py-3" data-testid="binding" data-binding=name.get_value()>
            <div class="flex flex-wrap items-center gap-3">
                <span class="font-medium">{name.get_value()}</span>
                <StatusBadge status />
                <span class=format!("text-xs {MUTED}")>
                    {move || binding.get().map(|b| format!("Secret {} · created {}", b.spec.effective_secret_name(&b.metadata.name), readable_time(b.metadata.creation_timestamp.as_deref().unwrap_or_default())))}
                </span>
                <span class="ml-auto flex items-center gap-3">
                    <super::ManifestLinks plural="servicebindings" namespace=namespace.get_value() name=name.get_value() />
                    {move || (!deleting()).then(|| view! {
                        <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs text-red-700 dark:text-red-400") data-testid="delete-binding" on:click=move |_| confirming.set(true)>"Delete…"</button>
                    })}
                </span>
            </div>
            {move || {
                let s = status.get();
                (!s.message.is_empty() && s.phase != crate::model::Phase::Ready).then(|| view! {
                    <p class="mt-1 text-sm break-words text-zinc-600 dark:text-zinc-300">
                        <span class="font-mono text-xs">{s.reason.clone()}": "</span>{s.message.clone()}
                    </p>
                })
            }}
            <Show when=move || confirming.get()>
                {
                    let cancel = NodeRef::<leptos::html::Button>::new();
                    focus_when_mounted(cancel);
                    view! {
                        <div on:keydown=on_escape(move || confirming.set(false)) role="alertdialog" aria-label="Confirm deleting the binding" class="mt-2 flex flex-wrap items-center gap-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900 dark:border-red-900 dark:bg-red-950/30 dark:text-red-200">
                            <span>{format!("Delete binding {}? Its credentials stop working.", name.get_value())}</span>
                            <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs") node_ref=cancel on:click=move |_| confirming.set(false)>"Cancel"</button>
                            <button type="button" class="rounded-md bg-red-600 px-2 py-1 text-xs font-medium text-white hover:bg-red-500" data-testid="confirm-delete-binding" on:click=move |_| {
                                confirming.set(false);
                                delete.dispatch(DeleteBinding { namespace: namespace.get_value(), name: name.get_value() });
                            }>"Delete"</button>
                        </div>
                    }
                }
            </Show>
            {move || ready.get().then(|| view! { <CredentialsPanel namespace=namespace.get_value() binding=name.get_value() /> })}
        </li>
    }
}
