//! A binding's credentials: not in the page until a person asks; then shown with copy buttons
//! and as snippets (environment variables, a Kubernetes Secret, a connection string).

use leptos::prelude::*;

use super::server_fns::reveal_credentials;
use crate::api::instances::Credentials;
use crate::components::copy::CopyButton;
use crate::components::ui::{BUTTON_SECONDARY, ErrorBox, MUTED, Spinner};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Snippet {
    Values,
    Env,
    Manifest,
    Connection,
}

#[component]
pub fn CredentialsPanel(namespace: String, binding: String) -> impl IntoView {
    let fetch = Action::new(move |(namespace, binding): &(String, String)| {
        let (namespace, binding) = (namespace.clone(), binding.clone());
        async move { reveal_credentials(namespace, binding).await }
    });
    let shown = RwSignal::new(false);
    let tab = RwSignal::new(Snippet::Values);
    let reveal = {
        let (namespace, binding) = (namespace.clone(), binding.clone());
        move |_| {
            shown.set(true);
            fetch.dispatch((namespace.clone(), binding.clone()));
        }
    };
    let hide = move |_| {
        shown.set(false);
        // Forget them: they are fetched again on the next reveal.
        fetch.value().set(None);
    };
    view! {
        <div class="mt-3" data-testid="credentials">
            <Show
                when=move || shown.get()
                fallback=move || view! {
                    <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs") data-testid="reveal-credentials" on:click=reveal.clone()>
                        "Reveal credentials"
                    </button>
                }
            >
                <div class="space-y-3">
                    <div class="flex items-center gap-3">
                        <button type="button" class=format!("{BUTTON_SECONDARY} px-2 py-1 text-xs") data-testid="hide-credentials" on:click=hide>"Hide credentials"</button>
                        {move || fetch.pending().get().then(|| view! { <Spinner label="Fetching the credentials" /> })}
                    </div>
                    {move || fetch.value().get().map(|answer| match answer {
                        Ok(creds) => view! { <CredentialView creds tab /> }.into_any(),
                        Err(e) => view! { <ErrorBox title="The credentials could not be read" message=e.to_string() /> }.into_any(),
                    })}
                </div>
            </Show>
        </div>
    }
}

#[component]
fn CredentialView(creds: Credentials, tab: RwSignal<Snippet>) -> impl IntoView {
    let env = creds.env_snippet();
    let manifest = creds.secret_manifest();
    let connection = creds.connection_string().map(str::to_string);
    let has_connection = connection.is_some();
    let tab_button = move |which: Snippet, label: &'static str| {
        view! {
            <button
                type="button"
                role="tab"
                aria-selected=move || (tab.get() == which).to_string()
                class=move || if tab.get() == which {
                    "rounded-md bg-indigo-50 px-2 py-1 text-xs font-medium text-indigo-700 dark:bg-indigo-500/15 dark:text-indigo-300"
                } else {
                    "rounded-md px-2 py-1 text-xs font-medium text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"
                }
                on:click=move |_| tab.set(which)
            >
                {label}
            </button>
        }
    };
    let entries = creds.entries.clone();
    let secret_name = creds.secret_name.clone();
    view! {
        <div class="rounded-md border border-zinc-200 dark:border-zinc-800">
            <div class="flex flex-wrap items-center gap-1 border-b border-zinc-200 px-2 py-1.5 dark:border-zinc-800" role="tablist" aria-label="Show credentials as">
                {tab_button(Snippet::Values, "Values")}
                {tab_button(Snippet::Env, "Environment variables")}
                {tab_button(Snippet::Manifest, "Kubernetes Secret")}
                {has_connection.then(|| tab_button(Snippet::Connection, "Connection string"))}
                <span class=format!("ml-auto text-xs {MUTED}")>{format!("Secret {secret_name}")}</span>
            </div>
            <div class="p-3" role="tabpanel">
                {move || match tab.get() {
                    Snippet::Values => view! {
                        <table class="w-full text-left text-sm" data-testid="credential-values">
                            <tbody class="divide-y divide-zinc-100 dark:divide-zinc-800">
                                {entries.iter().map(|e| {
                                    let value = e.text.clone().unwrap_or_else(|| format!("(binary, base64) {}", e.base64));
                                    let copy = e.text.clone().unwrap_or_else(|| e.base64.clone());
                                    view! {
                                        <tr class="align-top">
                                            <th scope="row" class="py-1.5 pr-3 font-mono text-xs font-medium whitespace-nowrap">{e.key.clone()}</th>
                                            <td class="py-1.5 pr-3 font-mono text-xs break-all" data-credential=e.key.clone()>{value}</td>
                                            <td class="py-1.5 text-right"><CopyButton text=copy label=e.key.clone() /></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Snippet::Env => snippet(env.clone(), "the environment variables").into_any(),
                    Snippet::Manifest => snippet(manifest.clone(), "the Secret manifest").into_any(),
                    Snippet::Connection => snippet(connection.clone().unwrap_or_default(), "the connection string").into_any(),
                }}
            </div>
        </div>
    }
}

fn snippet(text: String, label: &'static str) -> impl IntoView {
    let copy = text.clone();
    view! {
        <div class="space-y-2">
            <pre class="overflow-x-auto rounded bg-zinc-50 p-3 font-mono text-xs dark:bg-zinc-950" data-testid="snippet">{text}</pre>
            <CopyButton text=copy label=label />
        </div>
    }
}
