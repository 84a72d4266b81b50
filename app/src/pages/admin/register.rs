//! Registering a broker: URL, authentication (kept in a Secret the portal creates), CA bundle,
//! TLS verification, relist behaviour — with a connection test before or instead of registering.

use leptos::prelude::*;

use super::server_fns::{RegisterBroker, TestBroker};
use crate::api::brokers::{AuthChoice, BrokerForm, valid_duration};
use crate::api::{Rejection, Submitted};
use crate::components::ui::{
    BUTTON_PRIMARY, BUTTON_SECONDARY, CARD, ErrorBox, FIELD_ERROR, INPUT, LABEL, MUTED, Spinner,
};
use crate::model::{RelistBehavior, validate_dns1123_subdomain};

#[derive(Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    None,
    Basic,
    Bearer,
}

#[component]
pub fn RegisterForm(on_registered: impl Fn(String) + Clone + Send + Sync + 'static) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let auth = RwSignal::new(AuthKind::None);
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let ca_bundle = RwSignal::new(String::new());
    let insecure = RwSignal::new(false);
    let manual = RwSignal::new(false);
    let duration = RwSignal::new("15m".to_string());
    let touched = RwSignal::new(false);
    let rejection = RwSignal::new(None::<Rejection>);

    let form = move || BrokerForm {
        name: name.get_untracked().trim().to_string(),
        url: url.get_untracked().trim().to_string(),
        auth: match auth.get_untracked() {
            AuthKind::None => AuthChoice::None,
            AuthKind::Basic => {
                AuthChoice::Basic { username: username.get_untracked(), password: password.get_untracked() }
            }
            AuthKind::Bearer => AuthChoice::Bearer { token: token.get_untracked() },
        },
        ca_bundle: ca_bundle.get_untracked(),
        insecure_skip_tls_verify: insecure.get_untracked(),
        relist_behavior: if manual.get_untracked() { RelistBehavior::Manual } else { RelistBehavior::Duration },
        relist_duration: duration.get_untracked(),
    };
    let server_says =
        move |input: &'static str| rejection.with(|r| r.as_ref().and_then(|r| r.input(input)).map(str::to_string));
    let name_error = Memo::new(move |_| {
        let n = name.get();
        (touched.get() || !n.is_empty())
            .then(|| validate_dns1123_subdomain(n.trim()).err().map(|e| format!("Name {e}")))
            .flatten()
            .or_else(|| server_says("name"))
    });
    let url_error = Memo::new(move |_| {
        let u = url.get();
        let u = u.trim();
        let local = if u.is_empty() {
            touched.get().then(|| "The broker's URL is required.".to_string())
        } else if !(u.starts_with("http://") || u.starts_with("https://")) {
            Some("Use an http:// or https:// URL.".to_string())
        } else {
            None
        };
        local.or_else(|| server_says("url"))
    });
    let duration_error = Memo::new(move |_| {
        (!manual.get() && !valid_duration(&duration.get()))
            .then(|| "Write the interval like 15m, 1h or 90s.".to_string())
            .or_else(|| server_says("relist_duration"))
    });

    let test = ServerAction::<TestBroker>::new();
    let register = ServerAction::<RegisterBroker>::new();
    let busy = move || test.pending().get() || register.pending().get();
    Effect::new(move |_| match register.value().get() {
        Some(Ok(Submitted::Done(registered))) => on_registered(registered),
        Some(Ok(Submitted::Rejected(r))) => rejection.set(Some(r)),
        Some(Err(e)) => rejection.set(Some(Rejection::new(e.to_string()))),
        None => {}
    });
    let valid = move || {
        name_error.get_untracked().is_none()
            && url_error.get_untracked().is_none()
            && duration_error.get_untracked().is_none()
    };
    let on_test = move |_| {
        rejection.set(None);
        test.dispatch(TestBroker { form: form() });
    };
    let on_register = move |_| {
        touched.set(true);
        rejection.set(None);
        if valid() {
            register.dispatch(RegisterBroker { form: form() });
        }
    };
    let text_input = move |id: &'static str,
                           label: &'static str,
                           value: RwSignal<String>,
                           kind: &'static str,
                           help: &'static str,
                           error: Option<Memo<Option<String>>>| {
        view! {
            <div class="space-y-1">
                <label for=id class=LABEL>{label}</label>
                <input id=id name=id type=kind class=INPUT autocomplete="off" spellcheck="false"
                    aria-invalid=move || error.is_some_and(|e| e.get().is_some()).to_string()
                    aria-describedby=format!("{id}-help {id}-msg")
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                <p id=format!("{id}-help") class=format!("text-xs {MUTED}")>{help}</p>
                <p id=format!("{id}-msg") class=FIELD_ERROR aria-live="polite">{move || error.and_then(|e| e.get())}</p>
            </div>
        }
    };
    let radio = move |group: &'static str,
                      id: &'static str,
                      label: &'static str,
                      checked: Signal<bool>,
                      on: Callback<()>| {
        view! {
            <label for=id class="inline-flex items-center gap-2 text-sm">
                <input id=id type="radio" name=group class="accent-indigo-600" prop:checked=move || checked.get() on:change=move |_| on.run(()) />
                {label}
            </label>
        }
    };
    view! {
        <section class=format!("{CARD} space-y-4 p-5") aria-labelledby="register-heading" data-testid="register-broker">
            <h2 id="register-heading" class="text-base font-semibold">"Register a broker"</h2>
            <div class="grid gap-4 md:grid-cols-2">
                {text_input("broker-name", "Name", name, "text", "How the portal calls it: lower-case letters, digits, '-' and '.'.", Some(name_error))}
                {text_input("broker-url", "URL", url, "url", "The broker's base URL; the portal appends /v2/… itself.", Some(url_error))}
            </div>
            <fieldset class="space-y-2">
                <legend class=LABEL>"Authentication"</legend>
                <div class="flex flex-wrap gap-4">
                    {radio("auth", "auth-none", "None", Signal::derive(move || auth.get() == AuthKind::None), Callback::new(move |_| auth.set(AuthKind::None)))}
                    {radio("auth", "auth-basic", "Basic", Signal::derive(move || auth.get() == AuthKind::Basic), Callback::new(move |_| auth.set(AuthKind::Basic)))}
                    {radio("auth", "auth-bearer", "Bearer token", Signal::derive(move || auth.get() == AuthKind::Bearer), Callback::new(move |_| auth.set(AuthKind::Bearer)))}
                </div>
                <Show when=move || auth.get() == AuthKind::Basic>
                    <div class="grid gap-4 md:grid-cols-2">
                        {text_input("broker-username", "Username", username, "text", "", None)}
                        {text_input("broker-password", "Password", password, "password", "Kept in a Secret the portal creates, encrypted at rest.", None)}
                    </div>
                </Show>
                <Show when=move || auth.get() == AuthKind::Bearer>
                    {text_input("broker-token", "Token", token, "password", "Kept in a Secret the portal creates, encrypted at rest.", None)}
                </Show>
            </fieldset>
            <details class="space-y-3">
                <summary class="cursor-pointer text-sm font-medium">"TLS and catalog refresh"</summary>
                <div class="mt-3 space-y-1">
                    <label for="broker-ca" class=LABEL>"CA bundle (PEM)"</label>
                    <textarea id="broker-ca" rows="4" class=format!("{INPUT} font-mono text-xs") placeholder="-----BEGIN CERTIFICATE-----"
                        aria-describedby="broker-ca-msg"
                        prop:value=move || ca_bundle.get() on:input=move |ev| ca_bundle.set(event_target_value(&ev))></textarea>
                    <p id="broker-ca-msg" class=FIELD_ERROR aria-live="polite">{move || server_says("ca_bundle")}</p>
                </div>
                <label for="broker-insecure" class="flex items-center gap-2 text-sm">
                    <input id="broker-insecure" type="checkbox" class="accent-indigo-600" prop:checked=move || insecure.get() on:change=move |ev| insecure.set(event_target_checked(&ev)) />
                    "Skip TLS verification (development only: anyone in between can read and change the traffic)"
                </label>
                <fieldset class="space-y-2">
                    <legend class=LABEL>"Relist the catalog"</legend>
                    <div class="flex flex-wrap items-center gap-4">
                        {radio("relist", "relist-duration", "Every", Signal::derive(move || !manual.get()), Callback::new(move |_| manual.set(false)))}
                        <input id="broker-relist-duration" aria-label="Relist interval" class=format!("{INPUT} w-24") disabled=move || manual.get()
                            aria-invalid=move || duration_error.get().is_some().to_string()
                            prop:value=move || duration.get() on:input=move |ev| duration.set(event_target_value(&ev)) />
                        {radio("relist", "relist-manual", "Only when asked (“Relist now”)", Signal::derive(move || manual.get()), Callback::new(move |_| manual.set(true)))}
                    </div>
                    <p class=FIELD_ERROR aria-live="polite">{move || duration_error.get()}</p>
                </fieldset>
            </details>
            <div aria-live="polite" data-testid="connection-test">
                {move || test.value().get().map(|answer| match answer {
                    Ok(t) => view! {
                        <div class=if t.ok {
                            "rounded-md border border-emerald-200 bg-emerald-50 px-4 py-3 text-sm text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950/30 dark:text-emerald-200"
                        } else {
                            "rounded-md border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-900 dark:border-red-900 dark:bg-red-950/30 dark:text-red-200"
                        }>
                            <p class="font-medium">{t.summary.clone()}</p>
                            {(!t.problems.is_empty()).then(|| view! {
                                <ul class="mt-2 list-disc space-y-0.5 pl-5">{t.problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                            })}
                        </div>
                    }.into_any(),
                    Err(e) => view! { <ErrorBox title="The test could not run" message=e.to_string() /> }.into_any(),
                })}
            </div>
            <div aria-live="assertive">{move || rejection.get().filter(|r| !r.message.is_empty() && r.inputs.is_empty()).map(|r| view! { <ErrorBox title="Not registered" message=r.message /> })}</div>
            <div class="flex flex-wrap items-center gap-3">
                <button type="button" class=BUTTON_SECONDARY data-testid="test-connection" on:click=on_test disabled=busy>"Test connection"</button>
                <button type="button" class=BUTTON_PRIMARY data-testid="register" on:click=on_register disabled=busy>"Register broker"</button>
                {move || busy().then(|| view! { <Spinner label="Talking to the broker" /> })}
            </div>
        </section>
    }
}
