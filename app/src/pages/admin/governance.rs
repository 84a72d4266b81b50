//! Admin › Policies, Quotas and Visibility: when requests need approval, how much each team may
//! hold, and which team sees which service or plan. Platform admins change them; team admins see
//! their teams' quotas.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::Title;

use crate::api::Submitted;
use crate::api::governance::{
    Approver, GovernanceChange, GovernanceView, Metric, Operation, Policy, QuotaLimit, Rule, Visibility,
};
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::ui::{
    BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, INPUT, LABEL, Loading, MUTED, SELECT, SectionTitle,
};
use crate::schema_form::units::format_number;

#[server(endpoint = "governance")]
pub async fn load_governance() -> Result<GovernanceView, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.governance(&caller).await?)
}

#[server(endpoint = "change_governance", input = Json)]
pub async fn change_governance(change: GovernanceChange) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.change_governance(&caller, change).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Policies,
    Quotas,
    Visibility,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Section::Policies => "Approval policies",
            Section::Quotas => "Quotas",
            Section::Visibility => "Plan visibility",
        }
    }

    fn subtitle(self) -> &'static str {
        match self {
            Section::Policies => {
                "Which requests wait for an admin: always, never, or when a parameter passes a threshold."
            }
            Section::Quotas => "How many instances, and how much of a numeric parameter, each team may hold.",
            Section::Visibility => {
                "A service or plan with rules here is offered only to the teams listed; others see it nowhere."
            }
        }
    }
}

#[component]
pub fn PoliciesPage() -> impl IntoView {
    view! { <GovernancePage section=Section::Policies /> }
}

#[component]
pub fn QuotasPage() -> impl IntoView {
    view! { <GovernancePage section=Section::Quotas /> }
}

#[component]
pub fn VisibilityPage() -> impl IntoView {
    view! { <GovernancePage section=Section::Visibility /> }
}

#[component]
fn GovernancePage(section: Section) -> impl IntoView {
    let data = Resource::new(|| (), |_| load_governance());
    let change = ServerAction::<ChangeGovernance>::new();
    Effect::new(move |_| {
        if matches!(change.value().get(), Some(Ok(Submitted::Done(())))) {
            data.refetch();
        }
    });
    let error = move || match change.value().get() {
        Some(Ok(Submitted::Rejected(r))) => Some(r.message),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    provide_context(change);
    view! {
        <Title text=format!("{} · Admin", section.title()) />
        <Breadcrumbs items=vec![("Admin".into(), Some("/admin".into())), (section.title().into(), None)] />
        <PageHeader title=section.title() subtitle=section.subtitle() />
        <div aria-live="assertive">{move || error().map(|m| view! {
            <div class="mb-4"><ErrorBox title="The change was not made" message=m /></div>
        })}</div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => match section {
                        Section::Policies => view! { <Policies view /> }.into_any(),
                        Section::Quotas => view! { <Quotas view /> }.into_any(),
                        Section::Visibility => view! { <VisibilityRules view /> }.into_any(),
                    },
                    Err(e) if crate::pages::forbidden::forbidden_reason(&e).is_some() => view! {
                        <crate::pages::forbidden::Forbidden reason=crate::pages::forbidden::forbidden_reason(&e).unwrap_or_default() />
                    }.into_any(),
                    Err(e) => view! { <ErrorBox title="This page could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn send(change: GovernanceChange) {
    if let Some(action) = use_context::<ServerAction<ChangeGovernance>>() {
        action.dispatch(ChangeGovernance { change });
    }
}

const TH: &str = "px-4 py-2 font-medium";
const TD: &str = "px-4 py-2";

/// A class select and a plan select (empty: all plans) following it.
#[component]
fn ClassPlan(
    classes: Vec<(String, Vec<String>)>,
    class: RwSignal<String>,
    plan: RwSignal<String>,
    id: &'static str,
    #[prop(default = "Every plan")] any_plan: &'static str,
    #[prop(default = false)] any_class: bool,
) -> impl IntoView {
    let classes = StoredValue::new(classes);
    let plans = move || {
        let c = class.get();
        classes.with_value(|all| all.iter().find(|(n, _)| *n == c).map(|(_, p)| p.clone()).unwrap_or_default())
    };
    view! {
        <div class="space-y-1">
            <label class=LABEL for=format!("{id}-class")>"Service"</label>
            <select id=format!("{id}-class") class=SELECT data-testid=format!("{id}-class") prop:value=move || class.get()
                on:change=move |ev| { class.set(event_target_value(&ev)); plan.set(String::new()); }>
                {any_class.then(|| view! { <option value="">"Every service"</option> })}
                {(!any_class).then(|| view! { <option value="" disabled=true>"Choose…"</option> })}
                {classes.with_value(|all| all.iter().map(|(c, _)| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view())}
            </select>
        </div>
        <div class="space-y-1">
            <label class=LABEL for=format!("{id}-plan")>"Plan"</label>
            <select id=format!("{id}-plan") class=SELECT data-testid=format!("{id}-plan") prop:value=move || plan.get() on:change=move |ev| plan.set(event_target_value(&ev))>
                <option value="">{any_plan}</option>
                {move || plans().into_iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
            </select>
        </div>
    }
}

fn rule_text(rule: &Rule) -> String {
    match rule {
        Rule::Always => "always needs approval".into(),
        Rule::Never => "never needs approval".into(),
        Rule::Threshold { parameter, threshold } => {
            format!("needs approval when {parameter} > {}", format_number(*threshold))
        }
    }
}

#[component]
fn Policies(view: GovernanceView) -> impl IntoView {
    let class = RwSignal::new(String::new());
    let plan = RwSignal::new(String::new());
    let operation = RwSignal::new("create".to_string());
    let rule = RwSignal::new("threshold".to_string());
    let parameter = RwSignal::new(String::new());
    let threshold = RwSignal::new(String::new());
    let approver = RwSignal::new("team-admin".to_string());
    let local_error = RwSignal::new(None::<String>);
    let add = move |_| {
        local_error.set(None);
        let rule = match rule.get_untracked().as_str() {
            "always" => Rule::Always,
            "never" => Rule::Never,
            _ => match threshold.get_untracked().trim().parse::<f64>() {
                Ok(t) => Rule::Threshold { parameter: parameter.get_untracked().trim().to_string(), threshold: t },
                Err(_) => {
                    local_error.set(Some("The threshold must be a number.".into()));
                    return;
                }
            },
        };
        send(GovernanceChange::PutPolicy(Policy {
            id: 0,
            class: class.get_untracked(),
            plan: plan.get_untracked(),
            operation: Operation::parse(&operation.get_untracked()).unwrap_or(Operation::Create),
            rule,
            approver: Approver::parse(&approver.get_untracked()).unwrap_or_default(),
        }));
    };
    let policies = view.policies.clone();
    view! {
        <section class=format!("{CARD} mb-6 p-5")>
            <SectionTitle title="Add a policy" />
            <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
                <ClassPlan classes=view.classes.clone() class plan id="policy" any_plan="Every plan of the service" />
                <div class="space-y-1">
                    <label class=LABEL for="policy-operation">"Request"</label>
                    <select id="policy-operation" class=SELECT prop:value=move || operation.get() on:change=move |ev| operation.set(event_target_value(&ev))>
                        <option value="create">"Create"</option>
                        <option value="update">"Update"</option>
                        <option value="delete">"Delete"</option>
                    </select>
                </div>
                <div class="space-y-1">
                    <label class=LABEL for="policy-rule">"Needs approval"</label>
                    <select id="policy-rule" class=SELECT data-testid="policy-rule" prop:value=move || rule.get() on:change=move |ev| rule.set(event_target_value(&ev))>
                        <option value="threshold">"When a parameter is above a threshold"</option>
                        <option value="always">"Always"</option>
                        <option value="never">"Never"</option>
                    </select>
                </div>
                <Show when=move || rule.get() == "threshold">
                    <div class="space-y-1">
                        <label class=LABEL for="policy-parameter">"Parameter"</label>
                        <input id="policy-parameter" class=INPUT data-testid="policy-parameter" placeholder="storageSpaceQuota" prop:value=move || parameter.get() on:input=move |ev| parameter.set(event_target_value(&ev)) />
                    </div>
                    <div class="space-y-1">
                        <label class=LABEL for="policy-threshold">"Threshold"</label>
                        <input id="policy-threshold" class=INPUT data-testid="policy-threshold" inputmode="decimal" placeholder="10240" prop:value=move || threshold.get() on:input=move |ev| threshold.set(event_target_value(&ev)) />
                    </div>
                </Show>
                <div class="space-y-1">
                    <label class=LABEL for="policy-approver">"Who approves"</label>
                    <select id="policy-approver" class=SELECT prop:value=move || approver.get() on:change=move |ev| approver.set(event_target_value(&ev))>
                        <option value="team-admin">"A team admin of the team (or a platform admin)"</option>
                        <option value="platform-admin">"A platform admin"</option>
                    </select>
                </div>
            </div>
            <p class="mt-2 text-sm text-red-700 dark:text-red-300" aria-live="assertive">{move || local_error.get()}</p>
            <button type="button" class=format!("{BUTTON_PRIMARY} mt-3") data-testid="add-policy" on:click=add>"Add policy"</button>
        </section>
        {if policies.is_empty() {
            view! { <EmptyState title="No approval policies"><p>"Every request is carried out at once. Add a policy above to hold some for an admin."</p></EmptyState> }.into_any()
        } else {
            view! {
                <div class=format!("{CARD} overflow-x-auto")>
                    <table class="min-w-full text-sm" data-testid="policies">
                        <thead class=format!("text-left text-xs {MUTED}")><tr>
                            <th scope="col" class=TH>"Service / plan"</th><th scope="col" class=TH>"Request"</th>
                            <th scope="col" class=TH>"Rule"</th><th scope="col" class=TH>"Approver"</th><th scope="col" class=TH><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                            {policies.into_iter().map(|p| {
                                let id = p.id;
                                view! {
                                    <tr>
                                        <td class=TD>{if p.plan.is_empty() { format!("{} (every plan)", p.class) } else { format!("{} / {}", p.class, p.plan) }}</td>
                                        <td class=TD>{p.operation.as_str()}</td>
                                        <td class=TD>{rule_text(&p.rule)}</td>
                                        <td class=TD>{p.approver.as_str()}</td>
                                        <td class=format!("{TD} text-right")><button type="button" class=BUTTON_SECONDARY on:click=move |_| send(GovernanceChange::DeletePolicy(id))>"Remove"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn Quotas(view: GovernanceView) -> impl IntoView {
    let team = RwSignal::new(String::new());
    let metric = RwSignal::new("sum".to_string());
    let class = RwSignal::new(String::new());
    let plan = RwSignal::new(String::new());
    let parameter = RwSignal::new(String::new());
    let max = RwSignal::new(String::new());
    let local_error = RwSignal::new(None::<String>);
    let add = move |_| {
        local_error.set(None);
        let Ok(max) = max.get_untracked().trim().replace(',', "").parse::<f64>() else {
            local_error.set(Some("The limit must be a number.".into()));
            return;
        };
        let sum = metric.get_untracked() == "sum";
        send(GovernanceChange::PutQuota(QuotaLimit {
            team: team.get_untracked().trim().to_string(),
            metric: if sum { Metric::Sum } else { Metric::Count },
            class: class.get_untracked(),
            plan: plan.get_untracked(),
            parameter: if sum { parameter.get_untracked().trim().to_string() } else { String::new() },
            max,
        }));
    };
    let lines = view.quotas.clone();
    let teams = view.teams.clone();
    let editable = !view.classes.is_empty();
    view! {
        {editable.then(|| view! {
            <section class=format!("{CARD} mb-6 p-5")>
                <SectionTitle title="Set a limit" />
                <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
                    <div class="space-y-1">
                        <label class=LABEL for="quota-team">"Team"</label>
                        <input id="quota-team" class=INPUT list="quota-teams" data-testid="quota-team" prop:value=move || team.get() on:input=move |ev| team.set(event_target_value(&ev)) />
                        <datalist id="quota-teams">{teams.iter().map(|t| view! { <option value=t.clone() /> }).collect_view()}</datalist>
                    </div>
                    <div class="space-y-1">
                        <label class=LABEL for="quota-metric">"Limit"</label>
                        <select id="quota-metric" class=SELECT data-testid="quota-metric" prop:value=move || metric.get() on:change=move |ev| metric.set(event_target_value(&ev))>
                            <option value="sum">"Total of a numeric parameter"</option>
                            <option value="count">"Number of instances"</option>
                        </select>
                    </div>
                    <ClassPlan classes=view.classes.clone() class plan id="quota" any_class=true />
                    <Show when=move || metric.get() == "sum">
                        <div class="space-y-1">
                            <label class=LABEL for="quota-parameter">"Parameter"</label>
                            <input id="quota-parameter" class=INPUT data-testid="quota-parameter" placeholder="storageSpaceQuota" prop:value=move || parameter.get() on:input=move |ev| parameter.set(event_target_value(&ev)) />
                        </div>
                    </Show>
                    <div class="space-y-1">
                        <label class=LABEL for="quota-max">"At most"</label>
                        <input id="quota-max" class=INPUT data-testid="quota-max" inputmode="decimal" placeholder="51200" prop:value=move || max.get() on:input=move |ev| max.set(event_target_value(&ev)) />
                    </div>
                </div>
                <p class="mt-2 text-sm text-red-700 dark:text-red-300" aria-live="assertive">{move || local_error.get()}</p>
                <button type="button" class=format!("{BUTTON_PRIMARY} mt-3") data-testid="add-quota" on:click=add>"Set limit"</button>
            </section>
        })}
        {if lines.is_empty() {
            view! { <EmptyState title="No quotas"><p>"Teams may request without limits. Set a limit above."</p></EmptyState> }.into_any()
        } else {
            view! {
                <div class=format!("{CARD} overflow-x-auto")>
                    <table class="min-w-full text-sm" data-testid="quotas">
                        <thead class=format!("text-left text-xs {MUTED}")><tr>
                            <th scope="col" class=TH>"Team"</th><th scope="col" class=TH>"Limit"</th>
                            <th scope="col" class=TH>"In use"</th><th scope="col" class=TH>"Left"</th><th scope="col" class=TH><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                            {lines.into_iter().map(|l| {
                                let limit = l.limit.clone();
                                view! {
                                    <tr>
                                        <td class=TD>{l.limit.team.clone()}</td>
                                        <td class=TD>{format!("{} ≤ {}", l.limit.describe(), format_number(l.limit.max))}</td>
                                        <td class=TD>{format_number(l.used)}</td>
                                        <td class=TD>{format_number(l.remaining())}</td>
                                        <td class=format!("{TD} text-right")>{editable.then(|| view! {
                                            <button type="button" class=BUTTON_SECONDARY on:click=move |_| send(GovernanceChange::DeleteQuota(limit.clone()))>"Remove"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn VisibilityRules(view: GovernanceView) -> impl IntoView {
    let class = RwSignal::new(String::new());
    let plan = RwSignal::new(String::new());
    let team = RwSignal::new(String::new());
    let add = move |_| {
        send(GovernanceChange::PutVisibility(Visibility {
            class: class.get_untracked(),
            plan: plan.get_untracked(),
            team: team.get_untracked().trim().to_string(),
        }))
    };
    let rules = view.visibility.clone();
    let teams = view.teams.clone();
    view! {
        <section class=format!("{CARD} mb-6 p-5")>
            <SectionTitle title="Offer to a team" />
            <p class=format!("mb-3 text-sm {MUTED}")>"The first rule for a service or plan hides it from every other team."</p>
            <div class="grid gap-4 sm:grid-cols-3">
                <ClassPlan classes=view.classes.clone() class plan id="visibility" any_plan="The whole service" />
                <div class="space-y-1">
                    <label class=LABEL for="visibility-team">"Team"</label>
                    <input id="visibility-team" class=INPUT list="visibility-teams" prop:value=move || team.get() on:input=move |ev| team.set(event_target_value(&ev)) />
                    <datalist id="visibility-teams">{teams.iter().map(|t| view! { <option value=t.clone() /> }).collect_view()}</datalist>
                </div>
            </div>
            <button type="button" class=format!("{BUTTON_PRIMARY} mt-3") on:click=add>"Add rule"</button>
        </section>
        {if rules.is_empty() {
            view! { <EmptyState title="Everything is visible to every team"><p>"Add a rule above to offer a service or plan only to some teams."</p></EmptyState> }.into_any()
        } else {
            view! {
                <div class=format!("{CARD} overflow-x-auto")>
                    <table class="min-w-full text-sm" data-testid="visibility">
                        <thead class=format!("text-left text-xs {MUTED}")><tr>
                            <th scope="col" class=TH>"Service / plan"</th><th scope="col" class=TH>"Offered to"</th><th scope="col" class=TH><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                            {rules.into_iter().map(|v| {
                                let rule = v.clone();
                                view! {
                                    <tr>
                                        <td class=TD>{if v.plan.is_empty() { format!("{} (whole service)", v.class) } else { format!("{} / {}", v.class, v.plan) }}</td>
                                        <td class=TD>{v.team.clone()}</td>
                                        <td class=format!("{TD} text-right")><button type="button" class=BUTTON_SECONDARY on:click=move |_| send(GovernanceChange::DeleteVisibility(rule.clone()))>"Remove"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}
