//! The request form for one plan: name, team, the plan's schema form, a review, and the submit
//! (which the server checks again; its objections land beside the fields they are about).

use leptos::prelude::*;
use leptos_router::{NavigateOptions, hooks::use_navigate};
use serde_json::Value;

use super::server_fns::RequestInstance;
use crate::api::catalog::{ClassDetail, PlanInfo};
use crate::api::governance::{Metric, QuotaView};
use crate::api::instances::InstanceRequest;
use crate::api::{ObjectRef, Rejection, Submitted};
use crate::components::params::{ParameterList, parameter_rows};
use crate::components::ui::{
    BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, FIELD_ERROR, INPUT, LABEL, MUTED, Spinner,
};
use crate::model::{validate_dns1123_label, validate_dns1123_subdomain};
use crate::schema_form::units::{find_unit, format_number};
use crate::schema_form::{FormState, SchemaForm, compile};

/// A name field's message while typing (nothing until something was typed).
pub fn name_message(name: &str, label: bool) -> Option<String> {
    let checked = if label { validate_dns1123_label(name) } else { validate_dns1123_subdomain(name) };
    checked.err().map(|e| e.0)
}

#[component]
pub fn RequestForm(
    detail: ClassDetail,
    plan: PlanInfo,
    namespaces: Vec<String>,
    name: RwSignal<String>,
    namespace: RwSignal<String>,
    /// The chosen team's quotas (made by the page, see `RequestPage`).
    quota: Resource<Result<QuotaView, ServerFnError>>,
) -> impl IntoView {
    let schema = plan.create_schema.clone().unwrap_or(Value::Null);
    let form = FormState::new(compile(&schema));
    let reviewing = RwSignal::new(false);
    let name_touched = RwSignal::new(false);
    let rejection = RwSignal::new(None::<Rejection>);
    let submit = ServerAction::<RequestInstance>::new();
    let pending = submit.pending();

    let name_error = Memo::new(move |_| {
        let n = name.get();
        let local = (name_touched.get() || form.submitted.get()).then(|| name_message(&n, true)).flatten();
        local.or_else(|| rejection.with(|r| r.as_ref().and_then(|r| r.input("name")).map(str::to_string)))
    });
    let namespace_error = Memo::new(move |_| {
        let ns = namespace.get();
        name_message(&ns, true)
            .map(|m| format!("Team namespace {m}"))
            .or_else(|| rejection.with(|r| r.as_ref().and_then(|r| r.input("namespace")).map(str::to_string)))
    });

    // The server's answer: go to the new instance, or put its objections where they belong.
    let navigate = use_navigate();
    let form_for_answer = form.clone();
    Effect::new(move |_| {
        let Some(answer) = submit.value().get() else { return };
        match answer {
            Ok(Submitted::Done(ObjectRef { namespace, name })) => {
                navigate(&format!("/instances/{namespace}/{name}"), NavigateOptions::default());
            }
            Ok(Submitted::Rejected(r)) => {
                form_for_answer.set_server_errors(r.fields.clone());
                reviewing.set(false);
                rejection.set(Some(r));
            }
            Err(e) => {
                reviewing.set(false);
                rejection.set(Some(Rejection::new(e.to_string())));
            }
        }
    });

    let form_for_review = form.clone();
    let review = move |_| {
        name_touched.set(true);
        rejection.set(None);
        let params_ok = form_for_review.try_submit().is_some();
        if params_ok && name_error.get_untracked().is_none() && namespace_error.get_untracked().is_none() {
            reviewing.set(true);
        }
    };
    let form_for_submit = form.clone();
    let class_name = detail.tile.name.clone();
    let plan_name = plan.external_name.clone();
    let send = move |_| {
        if let Some(parameters) = form_for_submit.try_submit() {
            rejection.set(None);
            submit.dispatch(RequestInstance {
                request: InstanceRequest {
                    namespace: namespace.get_untracked(),
                    name: name.get_untracked(),
                    class: class_name.clone(),
                    plan: plan_name.clone(),
                    parameters,
                },
            });
        }
    };

    // The team's quotas beside the fields they govern, following the team and the values typed.
    let quota_schema = schema.clone();
    let class_external = detail.tile.external_name.clone();
    let plan_external = plan.external_name.clone();
    // Only once hydrated: the server renders while the page still re-keys the quota to the team it
    // preselects, so its HTML may lack hints the serialized quota has (a mismatch that left the
    // hint out for good, about one load in four).
    let hydrated = crate::use_hydrated();
    let quota_view = move || {
        if hydrated.get() { quota.get().and_then(Result::ok).unwrap_or_default() } else { QuotaView::default() }
    };
    let hints = Signal::derive(move || {
        let view = quota_view();
        quota_hints(&view, &quota_schema, &form.value.get())
    });
    let counts = Signal::derive(move || {
        let view = quota_view();
        view.lines
            .into_iter()
            .filter(|l| {
                l.limit.metric == Metric::Count
                    && l.limit.class == class_external
                    && (l.limit.plan.is_empty() || l.limit.plan == plan_external)
            })
            .map(|l| {
                format!("{}: {} of {} in use", l.limit.describe(), format_number(l.used), format_number(l.limit.max))
            })
            .collect::<Vec<_>>()
    });
    let model_for_review = form.model.clone();
    let form_value = form.value;
    let plan_label = format!("{} ({})", plan.display_name, plan.external_name);
    let class_label = detail.tile.display_name.clone();
    let datalist: Vec<String> = namespaces;

    view! {
        <div class="grid gap-6 lg:grid-cols-3">
            <div class="space-y-6 lg:col-span-2">
                <div hidden=move || reviewing.get() class="space-y-6">
                    <section class=format!("{CARD} space-y-4 p-5") aria-labelledby="instance-heading">
                        <h2 id="instance-heading" class="text-base font-semibold">"Instance"</h2>
                        <div class="grid gap-4 sm:grid-cols-2">
                            <div class="space-y-1">
                                <label for="instance-name" class=LABEL>
                                    "Name" <span class="text-red-600 dark:text-red-400" aria-hidden="true">"*"</span>
                                </label>
                                <input
                                    id="instance-name"
                                    name="name"
                                    type="text"
                                    required
                                    autocomplete="off"
                                    spellcheck="false"
                                    placeholder="e.g. analytics-logs"
                                    class=INPUT
                                    aria-invalid=move || name_error.get().is_some().to_string()
                                    aria-describedby="instance-name-help instance-name-msg"
                                    prop:value=move || name.get()
                                    on:input=move |ev| {
                                        name.set(event_target_value(&ev));
                                        name_touched.set(true);
                                    }
                                />
                                <p id="instance-name-help" class=format!("text-xs {MUTED}")>"Lower-case letters, digits and '-', at most 63 characters."</p>
                                <p id="instance-name-msg" class=FIELD_ERROR aria-live="polite" data-testid="name-error">{move || name_error.get()}</p>
                            </div>
                            <div class="space-y-1">
                                <label for="instance-namespace" class=LABEL>
                                    "Team (namespace)" <span class="text-red-600 dark:text-red-400" aria-hidden="true">"*"</span>
                                </label>
                                <input
                                    id="instance-namespace"
                                    name="namespace"
                                    type="text"
                                    list="namespace-options"
                                    required
                                    autocomplete="off"
                                    spellcheck="false"
                                    class=INPUT
                                    aria-invalid=move || namespace_error.get().is_some().to_string()
                                    aria-describedby="instance-namespace-help instance-namespace-msg"
                                    prop:value=move || namespace.get()
                                    on:input=move |ev| namespace.set(event_target_value(&ev))
                                />
                                <datalist id="namespace-options">
                                    {datalist.into_iter().map(|ns| view! { <option value=ns /> }).collect_view()}
                                </datalist>
                                <p id="instance-namespace-help" class=format!("text-xs {MUTED}")>"The team's namespace; pick one in use or type a new one."</p>
                                <p id="instance-namespace-msg" class=FIELD_ERROR aria-live="polite">{move || namespace_error.get()}</p>
                            </div>
                        </div>
                    </section>
                    <section class=format!("{CARD} p-5") aria-labelledby="parameters-heading">
                        <h2 id="parameters-heading" class="mb-3 text-base font-semibold">"Parameters"</h2>
                        {if schema.is_null() {
                            view! { <p class=format!("text-sm {MUTED}")>"This plan takes no parameters."</p> }.into_any()
                        } else {
                            view! { <SchemaForm model=form.model.clone() value=form.value errors=form.errors() show_all=form.submitted hints id_prefix="create" /> }.into_any()
                        }}
                    </section>
                </div>
                <section hidden=move || !reviewing.get() class=format!("{CARD} space-y-4 p-5") aria-labelledby="review-heading" data-testid="review">
                    <h2 id="review-heading" class="text-base font-semibold">"Review"</h2>
                    <dl class="divide-y divide-zinc-100 text-sm dark:divide-zinc-800">
                        <div class="grid grid-cols-2 gap-2 py-1.5"><dt class=MUTED>"Service"</dt><dd>{class_label}</dd></div>
                        <div class="grid grid-cols-2 gap-2 py-1.5"><dt class=MUTED>"Plan"</dt><dd>{plan_label}</dd></div>
                        <div class="grid grid-cols-2 gap-2 py-1.5"><dt class=MUTED>"Name"</dt><dd data-testid="review-name">{move || name.get()}</dd></div>
                        <div class="grid grid-cols-2 gap-2 py-1.5"><dt class=MUTED>"Team"</dt><dd>{move || namespace.get()}</dd></div>
                    </dl>
                    <h3 class="text-sm font-medium">"Parameters"</h3>
                    {move || {
                        let params = crate::schema_form::to_parameters(&model_for_review, &form_value.get());
                        view! { <ParameterList rows=parameter_rows(Some(&model_for_review), &params) /> }
                    }}
                </section>
                <div aria-live="assertive">
                    {move || rejection.get().filter(|r| !r.message.is_empty()).map(|r| view! {
                        <ErrorBox title="The request was not accepted" message=r.message />
                    })}
                </div>
                <div class="flex flex-wrap items-center gap-3">
                    <Show
                        when=move || reviewing.get()
                        fallback=move || view! {
                            <button type="button" class=BUTTON_PRIMARY data-testid="review-request" on:click=review.clone()>"Review request"</button>
                        }
                    >
                        <button type="button" class=BUTTON_SECONDARY on:click=move |_| reviewing.set(false) disabled=move || pending.get()>"Back to editing"</button>
                        <button type="button" class=BUTTON_PRIMARY data-testid="submit-request" on:click=send.clone() disabled=move || pending.get()>
                            {move || if pending.get() { "Requesting…" } else { "Request instance" }}
                        </button>
                        {move || pending.get().then(|| view! { <Spinner label="Sending the request" /> })}
                    </Show>
                </div>
            </div>
            <aside class=format!("{CARD} h-fit p-5 text-sm") aria-label="About this plan">
                <h2 class="font-semibold">{plan.display_name.clone()}</h2>
                <p class=format!("mt-1 {MUTED}")>{plan.description.clone()}</p>
                <ul class="mt-3 space-y-1">
                    {plan.bullets.iter().map(|b| view! { <li class="flex gap-2"><span aria-hidden="true" class="text-indigo-600 dark:text-indigo-400">"•"</span>{b.clone()}</li> }).collect_view()}
                </ul>
                <p class="mt-3 font-medium">{if plan.free { "Free".to_string() } else { plan.costs.join(" + ") }}</p>
                {move || {
                    let lines = counts.get();
                    (!lines.is_empty()).then(|| view! {
                        <h3 class="mt-4 font-semibold">"Team quota"</h3>
                        <ul class="mt-1 space-y-1" data-testid="count-quota">
                            {lines.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                        </ul>
                    })
                }}
            </aside>
        </div>
    }
}

/// "2,048 GB in use, 8,192 GB left of 10,240 GB in team-a's quota" beside each field a sum
/// limit governs, and a warning when the value typed would not fit.
pub fn quota_hints(view: &QuotaView, schema: &Value, value: &Value) -> std::collections::HashMap<String, String> {
    let mut hints = std::collections::HashMap::new();
    for line in view.lines.iter().filter(|l| l.limit.metric == Metric::Sum) {
        let parameter = &line.limit.parameter;
        let Some(property) = schema.pointer(&format!("/properties/{parameter}")) else { continue };
        let unit = find_unit(property, Some(parameter)).map(|u| format!(" {u}")).unwrap_or_default();
        let n = |x: f64| format!("{}{unit}", format_number(x));
        let mut hint =
            format!("Team quota: {} in use, {} left of {}", n(line.used), n(line.remaining()), n(line.limit.max));
        if let Some(asked) = value.get(parameter).and_then(Value::as_f64)
            && asked > line.remaining()
        {
            hint.push_str(&format!(" — {} is over what is left; the request would be refused", n(asked)));
        }
        hint.push('.');
        hints.insert(format!("/{parameter}"), hint);
    }
    hints
}

#[cfg(test)]
mod tests {
    use crate::api::governance::{Metric, QuotaLimit, QuotaLine, QuotaView};
    use serde_json::json;

    #[test]
    fn quota_hints_sit_beside_governed_fields() {
        let view = QuotaView {
            lines: vec![QuotaLine {
                limit: QuotaLimit {
                    team: "t".into(),
                    metric: Metric::Sum,
                    class: String::new(),
                    plan: String::new(),
                    parameter: "storageSpaceQuota".into(),
                    max: 10240.0,
                },
                used: 2048.0,
                requested: 0.0,
            }],
        };
        let schema = json!({"properties": {"storageSpaceQuota": {"type": "integer", "title": "HDFS storage (GB)"}}});
        let hints = super::quota_hints(&view, &schema, &json!({"storageSpaceQuota": 4096}));
        assert_eq!(hints["/storageSpaceQuota"], "Team quota: 2,048 GB in use, 8,192 GB left of 10,240 GB.");
        let hints = super::quota_hints(&view, &schema, &json!({"storageSpaceQuota": 9000}));
        assert!(hints["/storageSpaceQuota"].contains("9,000 GB is over what is left"), "{hints:?}");
    }

    #[test]
    fn names_are_checked_as_dns_labels() {
        assert_eq!(super::name_message("logs-1", true), None);
        assert!(super::name_message("Logs", true).is_some());
        assert!(super::name_message("a.b", true).is_some());
        assert_eq!(super::name_message("a.b", false), None);
    }
}
