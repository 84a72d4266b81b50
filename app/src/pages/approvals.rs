//! Approvals: the requests policy holds for a team admin's or platform admin's decision, with
//! requester, team, plan, parameters (a diff for updates) and the quota they would use; approve
//! or reject with a comment. Requesters see their own pending requests here too.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use leptos_meta::Title;

use crate::api::Submitted;
use crate::api::governance::{ApprovalRequest, ApprovalState, ApprovalsView, Decision, Operation, QuotaLine};
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::ui::{
    BUTTON_DANGER, BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, INPUT, LABEL, LINK, Loading, MUTED, SectionTitle,
    readable_time,
};
use crate::schema_form::units::{format_number, format_value};

#[server(endpoint = "approvals")]
pub async fn load_approvals() -> Result<ApprovalsView, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.approvals(&caller).await?)
}

#[server(endpoint = "decide", input = Json)]
pub async fn decide(decision: Decision) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.decide(&caller, decision).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

/// The approvals screen, an islands page (see [`crate::is_islands_path`]): the server renders the
/// queue, and each card a person may decide has one island, its comment and buttons
/// ([`DecisionBox`]). A decision loads the page again, which shows the queue as it is then.
#[component]
pub fn ApprovalsPage() -> impl IntoView {
    view! {
        <Title text="Approvals" />
        <PageHeader title="Approvals" subtitle="Requests that policy holds for an admin's decision.">
            <a class=BUTTON_SECONDARY href="/approvals" rel="external" data-testid="refresh">"Refresh"</a>
        </PageHeader>
        <Suspense fallback=Loading>
            {Suspend::new(async move {
                match load_approvals().await {
                    Ok(view) => view! { <Queue view /> }.into_any(),
                    Err(e) => view! { <ErrorBox title="The approvals could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Queue(view: ApprovalsView) -> impl IntoView {
    let decidable = view.decidable.clone();
    let pending = view.pending.clone();
    let decided = view.decided.clone();
    view! {
        {if pending.is_empty() {
            view! {
                <EmptyState title="Nothing waiting for approval">
                    <p>"When a request needs approval under the platform's policies, it waits here until a team admin or platform admin decides."</p>
                </EmptyState>
            }.into_any()
        } else {
            view! {
                <ul class="space-y-4" data-testid="approval-queue">
                    {pending.into_iter().map(|request| {
                        let may_decide = decidable.contains(&request.id);
                        view! { <PendingCard request may_decide /> }
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
        {(!decided.is_empty()).then(|| view! {
            <section class="mt-8">
                <SectionTitle title="Recently decided" />
                <div class=format!("{CARD} overflow-x-auto")>
                    <table class="min-w-full text-sm" data-testid="decided">
                        <thead class=format!("text-left text-xs {MUTED}")>
                            <tr>
                                <th scope="col" class="px-4 py-2 font-medium">"Request"</th>
                                <th scope="col" class="px-4 py-2 font-medium">"Decision"</th>
                                <th scope="col" class="px-4 py-2 font-medium">"By"</th>
                                <th scope="col" class="px-4 py-2 font-medium">"Comment"</th>
                            </tr>
                        </thead>
                        <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                            {decided.into_iter().map(|r| view! {
                                <tr>
                                    <td class="px-4 py-2">
                                        <a class=LINK href=format!("/instances/{}/{}", r.team, r.instance)>{format!("{}/{}", r.team, r.instance)}</a>
                                        <span class=MUTED>{format!(" · {} {} / {} · by {}", op_word(r.operation), r.class, r.plan, r.requester)}</span>
                                    </td>
                                    <td class="px-4 py-2"><DecisionWord state=r.state /></td>
                                    <td class="px-4 py-2">{r.decided_by.clone().unwrap_or_default()}<span class=format!("block text-xs {MUTED}")>{r.decided_at.as_deref().map(readable_time).unwrap_or_default()}</span></td>
                                    <td class="px-4 py-2 break-words">{r.comment.clone()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </section>
        })}
    }
}

pub fn op_word(op: Operation) -> &'static str {
    match op {
        Operation::Create => "create",
        Operation::Update => "change",
        Operation::Delete => "delete",
    }
}

/// A decision as a word (with colour, never colour alone).
#[component]
pub fn DecisionWord(state: ApprovalState) -> impl IntoView {
    let (word, class) = match state {
        ApprovalState::Pending => ("Pending approval", "text-amber-700 dark:text-amber-300"),
        ApprovalState::Approved => ("Approved", "text-emerald-700 dark:text-emerald-300"),
        ApprovalState::Rejected => ("Rejected", "text-red-700 dark:text-red-300"),
        ApprovalState::Failed => ("Approved, but failed", "text-red-700 dark:text-red-300"),
    };
    view! { <span class=format!("font-medium {class}") data-decision=state.as_str()>{word}</span> }
}

/// The parameters a request asks for (a diff for an update).
#[component]
pub fn RequestParameters(request: ApprovalRequest) -> impl IntoView {
    let rows: Vec<(String, String, String)> = if request.operation == Operation::Update {
        request
            .diff()
            .into_iter()
            .map(|(k, before, after)| {
                (
                    k,
                    before.as_ref().map(format_value).unwrap_or_else(|| "—".into()),
                    after.as_ref().map(format_value).unwrap_or_else(|| "—".into()),
                )
            })
            .collect()
    } else {
        request
            .parameters
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), String::new(), format_value(v))).collect())
            .unwrap_or_default()
    };
    let update = request.operation == Operation::Update;
    let plan_change = request.previous_plan.clone().filter(|p| *p != request.plan);
    view! {
        {plan_change.map(|p| view! { <p class="text-sm">"Plan: "<del class=MUTED>{p}</del>" → "<strong>{request.plan.clone()}</strong></p> })}
        {if rows.is_empty() {
            view! { <p class=format!("text-sm {MUTED}")>{if update { "No parameter changes." } else { "No parameters." }}</p> }.into_any()
        } else {
            view! {
                <table class="text-sm" data-testid="request-parameters">
                    <thead class=format!("text-left text-xs {MUTED}")>
                        <tr>
                            <th scope="col" class="pr-6 font-medium">"Parameter"</th>
                            {update.then(|| view! { <th scope="col" class="pr-6 font-medium">"Now"</th> })}
                            <th scope="col" class="font-medium">{if update { "Asked for" } else { "Value" }}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows.into_iter().map(|(k, before, after)| view! {
                            <tr>
                                <td class="pr-6 font-mono text-xs">{k}</td>
                                {update.then(|| view! { <td class=format!("pr-6 {MUTED}")>{before.clone()}</td> })}
                                <td class="font-medium">{after}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// The quota a request would use.
#[component]
pub fn QuotaImpact(lines: Vec<QuotaLine>) -> impl IntoView {
    if lines.is_empty() {
        return view! { <p class=format!("text-sm {MUTED}")>"Touches no quota of the team."</p> }.into_any();
    }
    view! {
        <ul class="space-y-1 text-sm" data-testid="quota-impact">
            {lines.into_iter().map(|l| {
                let after = l.used + l.requested;
                let over = after > l.limit.max;
                view! {
                    <li>
                        <span class="font-medium">{l.limit.describe()}</span>": "
                        {format!("{} → {} of {}", format_number(l.used), format_number(after), format_number(l.limit.max))}
                        {format!(" (+{})", format_number(l.requested))}
                        {over.then(|| view! { <span class="ml-1 font-medium text-red-700 dark:text-red-300">"over the limit"</span> })}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn PendingCard(request: ApprovalRequest, may_decide: bool) -> impl IntoView {
    let id = request.id;
    view! {
        <li class=format!("{CARD} p-5") data-testid="approval" data-request=id.to_string() data-instance=request.instance.clone()>
            <div class="flex flex-wrap items-start justify-between gap-4">
                <div class="min-w-0">
                    <h2 class="text-base font-semibold">
                        {format!("{} {} in team {}", capitalised(op_word(request.operation)), request.instance, request.team)}
                    </h2>
                    <p class=format!("text-sm {MUTED}")>
                        {format!("{} / {} · requested by {} · {}", request.class, request.plan, request.requester, readable_time(&request.created_at))}
                    </p>
                </div>
                <DecisionWord state=request.state />
            </div>
            <p class="mt-2 text-sm" data-testid="approval-reason">"Why: "{request.reason.clone()}</p>
            <div class="mt-4 grid gap-6 md:grid-cols-2">
                <div>
                    <h3 class="mb-1 text-sm font-semibold">{if request.operation == Operation::Update { "Changes" } else { "Parameters" }}</h3>
                    <RequestParameters request=request.clone() />
                </div>
                <div>
                    <h3 class="mb-1 text-sm font-semibold">"Quota"</h3>
                    <QuotaImpact lines=request.quota.clone() />
                </div>
            </div>
            {if may_decide {
                view! { <DecisionBox id /> }.into_any()
            } else {
                view! { <p class=format!("mt-4 text-sm {MUTED}")>"Your request: it waits for a team admin or platform admin."</p> }.into_any()
            }}
        </li>
    }
}

/// The comment and the Approve and Reject buttons of one request: an island. Once the decision is
/// taken the page loads again; a refusal (decided by someone else meanwhile, no longer allowed)
/// is shown beside the buttons.
#[island]
fn DecisionBox(id: i64) -> impl IntoView {
    crate::mark_hydrated();
    let action = ServerAction::<Decide>::new();
    let comment = RwSignal::new(String::new());
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(Submitted::Done(())))) {
            reload();
        }
    });
    let error = move || match action.value().get() {
        Some(Ok(Submitted::Rejected(r))) => Some(r.message),
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let comment_id = format!("comment-{id}");
    let decide = move |approve: bool| {
        action.dispatch(Decide { decision: Decision { id, approve, comment: comment.get_untracked() } })
    };
    view! {
        <div class="mt-4 border-t border-zinc-100 pt-4 dark:border-zinc-800">
            <label class=LABEL for=comment_id.clone()>"Comment (the requester sees it)"</label>
            <textarea id=comment_id class=format!("{INPUT} mt-1") rows="2" maxlength="2000" data-testid="approval-comment"
                prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))></textarea>
            <div class="mt-3 flex gap-2">
                <button type="button" class=BUTTON_PRIMARY data-testid="approve" disabled=move || action.pending().get() on:click=move |_| { decide(true); }>"Approve"</button>
                <button type="button" class=BUTTON_DANGER data-testid="reject" disabled=move || action.pending().get() on:click=move |_| { decide(false); }>"Reject"</button>
            </div>
            <div aria-live="assertive">{move || error().map(|m| view! { <p class="mt-2 text-sm text-red-700 dark:text-red-300" data-testid="decision-error">{m}</p> })}</div>
        </div>
    }
}

/// Loads the page again (the queue as the server has it now).
fn reload() {
    #[cfg(feature = "hydrate")]
    if let Err(e) = window().location().reload() {
        leptos::logging::error!("could not load the page again: {e:?}");
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
