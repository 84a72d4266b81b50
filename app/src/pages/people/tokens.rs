//! My tokens: API tokens for the REST API and kubectl, shown once when created.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{CreateToken, RevokeToken, load_tokens, problem, refusal};
use crate::api::Submitted;
use crate::components::copy::CopyButton;
use crate::components::layout::{EmptyState, PageHeader};
use crate::components::ui::{
    BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, INPUT, LABEL, Loading, MUTED, readable_time,
};

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    // Loaded again whenever an action has finished.
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| load_tokens());
    let fresh = move || match create.value().get() {
        Some(Ok(Submitted::Done(t))) => Some(t),
        _ => None,
    };
    view! {
        <Title text="My tokens" />
        <PageHeader title="My API tokens" subtitle="For the REST API and kubectl: send one as `Authorization: Bearer <token>`. A token acts as you." />
        <section class=format!("{CARD} mb-6 max-w-xl p-5")>
            <ActionForm action=create attr:class="flex flex-wrap items-end gap-2" attr:data-testid="new-token">
                <div class="min-w-0 flex-1"><label class=LABEL for="token-name">"Name (what it is for)"</label><input id="token-name" name="name" required maxlength="100" class=INPUT autocomplete="off" /></div>
                <button type="submit" class=BUTTON_PRIMARY>"Create token"</button>
            </ActionForm>
            {move || problem(refusal(create.value().get()))}
            {move || fresh().map(|t| view! {
                <div role="status" data-testid="new-token-value" class="mt-3 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950/30 dark:text-amber-200">
                    <p>"Copy the token now: it is shown only this once."</p>
                    <p class="mt-2 flex items-center gap-2"><code class="font-mono break-all" data-testid="token">{t.token.clone()}</code>
                        <CopyButton text=Signal::stored(t.token.clone()) label="the token" /></p>
                </div>
            })}
        </section>
        {move || problem(refusal(revoke.value().get()))}
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(rows) if rows.is_empty() => view! { <EmptyState title="No tokens"><p>"Create one above when a script or kubectl needs to act as you."</p></EmptyState> }.into_any(),
                    Ok(rows) => view! {
                        <ul class="space-y-2" data-testid="tokens">
                            {rows.into_iter().map(|row| {
                                let id = row.id;
                                view! {
                                    <li class=format!("{CARD} flex flex-wrap items-center justify-between gap-2 px-4 py-3 text-sm") data-testid="token-row" data-name=row.name.clone()>
                                        <span><span class="font-medium">{row.name.clone()}</span> <code class=format!("ml-2 {MUTED}")>{format!("{}…", row.prefix)}</code></span>
                                        <span class=format!("text-xs {MUTED}")>{format!("created {}", readable_time(&row.created_at))}
                                            {row.last_used_at.map(|t| format!(" · last used {}", readable_time(&t)))}</span>
                                        <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs text-red-700 dark:text-red-400") aria-label=format!("Revoke token {}", row.name)
                                            on:click=move |_| { revoke.dispatch(RevokeToken { id }); }>"Revoke"</button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox title="Tokens could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}
