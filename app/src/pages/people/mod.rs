//! Admin › People (people, teams, memberships) and My tokens (API tokens).

mod server_fns;
mod tokens;

use leptos::prelude::*;
use leptos_meta::Title;

pub use server_fns::*;
pub use tokens::TokensPage;

use crate::api::{
    Submitted,
    people::{PeopleView, ROLES, TeamRow},
};
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::ui::{BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, INPUT, LABEL, Loading, MUTED, SELECT};
use crate::pages::forbidden::{Forbidden, forbidden_reason};

/// The sentence of a failed action, if any.
fn refusal<T>(value: Option<Result<Submitted<T>, ServerFnError>>) -> Option<String> {
    match value? {
        Ok(Submitted::Rejected(r)) => Some(r.message),
        Err(e) => Some(forbidden_reason(&e).unwrap_or_else(|| e.to_string())),
        Ok(Submitted::Done(_)) => None,
    }
}

fn problem(message: Option<String>) -> impl IntoView {
    message.map(|m| view! { <p role="alert" data-testid="people-error" class="mt-2 text-sm text-red-700 dark:text-red-300">{m}</p> })
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    let create_person = ServerAction::<CreatePerson>::new();
    let create_team = ServerAction::<CreateTeam>::new();
    let set_membership = ServerAction::<SetMembership>::new();
    let remove_membership = ServerAction::<RemoveMembership>::new();
    // Loaded again whenever an action has finished (each action's version counts them).
    let view_data = Resource::new(
        move || {
            (
                create_person.version().get(),
                create_team.version().get(),
                set_membership.version().get(),
                remove_membership.version().get(),
            )
        },
        |_| load_people(),
    );
    let actions = Actions { set_membership, remove_membership };
    view! {
        <Title text="People" />
        <Breadcrumbs items=vec![("Admin".into(), Some("/admin".into())), ("People".into(), None)] />
        <PageHeader title="People" subtitle="Accounts, teams (each team is a namespace) and who is in which team, with which role." />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(data) => view! { <PeopleView data create_person create_team actions /> }.into_any(),
                    Err(e) if forbidden_reason(&e).is_some() => view! { <Forbidden reason=forbidden_reason(&e).unwrap_or_default() /> }.into_any(),
                    Err(e) => view! { <ErrorBox title="People could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
struct Actions {
    set_membership: ServerAction<SetMembership>,
    remove_membership: ServerAction<RemoveMembership>,
}

#[component]
fn PeopleView(
    data: PeopleView,
    create_person: ServerAction<CreatePerson>,
    create_team: ServerAction<CreateTeam>,
    actions: Actions,
) -> impl IntoView {
    let PeopleView { platform_admin, people, teams } = data;
    let created = move || match create_person.value().get() {
        Some(Ok(Submitted::Done(c))) => Some(c),
        _ => None,
    };
    view! {
        {platform_admin.then(|| view! {
            <div class="mb-6 grid gap-4 lg:grid-cols-2">
                <section class=format!("{CARD} p-5")>
                    <h2 class="text-base font-semibold">"New person"</h2>
                    <ActionForm action=create_person attr:class="mt-3 space-y-3" attr:data-testid="new-person">
                        <div><label class=LABEL for="person-username">"Username"</label><input id="person-username" name="username" required class=INPUT autocomplete="off" /></div>
                        <div><label class=LABEL for="person-display">"Full name"</label><input id="person-display" name="display_name" class=INPUT autocomplete="off" /></div>
                        <label class="flex items-center gap-2 text-sm"><input type="checkbox" name="platform_admin" value="on" />"Platform admin"</label>
                        <button type="submit" class=BUTTON_PRIMARY>"Create person"</button>
                    </ActionForm>
                    {move || problem(refusal(create_person.value().get()))}
                    {move || created().map(|c| view! {
                        <div role="status" data-testid="one-time-password" class="mt-3 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/30 dark:text-amber-200">
                            <p>{format!("{} can sign in with this one-time password (shown only now; they choose their own at the first sign-in):", c.username)}</p>
                            <p class="mt-2 flex items-center gap-2"><code class="font-mono" data-testid="one-time-password-value">{c.one_time_password.clone()}</code>
                                <crate::components::copy::CopyButton text=Signal::stored(c.one_time_password.clone()) label="the one-time password" />
                            </p>
                        </div>
                    })}
                </section>
                <section class=format!("{CARD} p-5")>
                    <h2 class="text-base font-semibold">"New team"</h2>
                    <ActionForm action=create_team attr:class="mt-3 space-y-3" attr:data-testid="new-team">
                        <div><label class=LABEL for="team-name">"Name (its namespace: lower-case letters, digits, '-')"</label><input id="team-name" name="name" required class=INPUT autocomplete="off" /></div>
                        <div><label class=LABEL for="team-display">"Display name"</label><input id="team-display" name="display_name" class=INPUT autocomplete="off" /></div>
                        <button type="submit" class=BUTTON_PRIMARY>"Create team"</button>
                    </ActionForm>
                    {move || problem(refusal(create_team.value().get()))}
                </section>
            </div>
        })}
        <h2 class="mb-3 text-base font-semibold">"Teams"</h2>
        {move || problem(refusal(actions.set_membership.value().get()).or_else(|| refusal(actions.remove_membership.value().get())))}
        {if teams.is_empty() {
            view! { <EmptyState title="No teams yet"><p>"Create a team above; then add people to it."</p></EmptyState> }.into_any()
        } else {
            view! { <ul class="space-y-4">{teams.into_iter().map(|team| view! { <TeamCard team actions /> }).collect_view()}</ul> }.into_any()
        }}
        {(!people.is_empty()).then(|| view! {
            <h2 class="mt-8 mb-3 text-base font-semibold">"Everyone"</h2>
            <div class=format!("{CARD} overflow-x-auto")>
                <table class="min-w-full text-sm" data-testid="people-table">
                    <thead><tr class=format!("text-left {MUTED}")><th class="px-4 py-2 font-medium">"Username"</th><th class="px-4 py-2 font-medium">"Name"</th><th class="px-4 py-2 font-medium">"Notes"</th></tr></thead>
                    <tbody>
                        {people.into_iter().map(|p| {
                            let mut notes = Vec::new();
                            if p.platform_admin { notes.push("platform admin"); }
                            if p.must_change_password { notes.push("has not chosen a password yet"); }
                            if p.disabled { notes.push("disabled"); }
                            view! { <tr class="border-t border-zinc-100 dark:border-zinc-800"><td class="px-4 py-2 font-medium">{p.username}</td><td class="px-4 py-2">{p.display_name}</td><td class=format!("px-4 py-2 {MUTED}")>{notes.join(", ")}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
    }
}

#[component]
fn TeamCard(team: TeamRow, actions: Actions) -> impl IntoView {
    let name = StoredValue::new(team.name.clone());
    let role_select = |id: String, selected: &str| {
        let selected = selected.to_string();
        view! {
            <select id=id.clone() name="role" class=SELECT aria-label="Role">
                {ROLES.iter().map(|(value, label)| view! { <option value=*value selected=selected == *value>{*label}</option> }).collect_view()}
            </select>
        }
    };
    view! {
        <li class=format!("{CARD} p-5") data-testid="team" data-team=team.name.clone()>
            <h3 class="text-base font-semibold">{team.name.clone()}
                {(!team.display_name.is_empty()).then(|| view! { <span class=format!("ml-2 text-sm font-normal {MUTED}")>{team.display_name.clone()}</span> })}
            </h3>
            {if team.members.is_empty() {
                view! { <p class=format!("mt-2 text-sm {MUTED}")>"No members yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="mt-2 divide-y divide-zinc-100 text-sm dark:divide-zinc-800">
                        {team.members.into_iter().map(|m| {
                            let username = StoredValue::new(m.username.clone());
                            view! {
                                <li class="flex flex-wrap items-center justify-between gap-2 py-2" data-testid="member" data-username=m.username.clone()>
                                    <span class="font-medium">{m.username.clone()}</span>
                                    <span class="flex items-center gap-2">
                                        <span class=MUTED>{if m.role == "team-admin" { "Team admin" } else { "Member" }}</span>
                                        {team.manageable.then(|| view! {
                                            <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs") aria-label=format!("Remove {} from {}", m.username, name.get_value())
                                                on:click=move |_| { actions.remove_membership.dispatch(RemoveMembership { team: name.get_value(), username: username.get_value() }); }>
                                                "Remove"
                                            </button>
                                        })}
                                    </span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {team.manageable.then(|| view! {
                <ActionForm action=actions.set_membership attr:class="mt-3 flex flex-wrap items-end gap-2" attr:data-testid="add-member">
                    <input type="hidden" name="team" value=name.get_value() />
                    <div><label class=LABEL for=format!("add-{}", name.get_value())>"Add or change a member"</label>
                        <input id=format!("add-{}", name.get_value()) name="username" placeholder="username" required class=INPUT autocomplete="off" /></div>
                    {role_select(format!("role-{}", name.get_value()), "member")}
                    <button type="submit" class=BUTTON_SECONDARY>"Save"</button>
                </ActionForm>
            })}
        </li>
    }
}
