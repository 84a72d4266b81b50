//! Quartermaster's web UI and everything the browser and the server share.
//!
//! Compiled twice: natively with `ssr` (server-side rendering, server functions run here) and to
//! wasm with `hydrate` (the browser takes over the server-rendered page).

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod people_port;
#[cfg(feature = "ssr")]
pub mod port;
pub mod schema_form;
pub mod status;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use components::layout::Shell;
use pages::{
    admin::{AdminPage, AuditPage, BrokersPage, PoliciesPage, QuotasPage, VisibilityPage},
    apply::ApplyPage,
    approvals::ApprovalsPage,
    catalog::CatalogPage,
    class::ClassPage,
    instance::InstancePage,
    instances::InstancesPage,
    login::{LoginPage, PasswordPage},
    not_found::NotFound,
    people::{PeoplePage, TokensPage},
    request::RequestPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body class="h-full bg-zinc-50 text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href="/pkg/quartermaster.css" />
        <Title formatter=|page: String| if page.is_empty() { "Quartermaster".to_string() } else { format!("{page} · Quartermaster") } />
        <Router>
            <Shell>
                <Routes fallback=NotFound>
                    // Data pages render completely on the server (readable before the wasm loads).
                    <Route path=path!("") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("catalog") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("catalog/:class") view=ClassPage ssr=SsrMode::Async />
                    <Route path=path!("catalog/:class/request") view=RequestPage ssr=SsrMode::Async />
                    <Route path=path!("instances") view=InstancesPage ssr=SsrMode::Async />
                    <Route path=path!("instances/:namespace/:name") view=InstancePage ssr=SsrMode::Async />
                    <Route path=path!("apply") view=ApplyPage />
                    <Route path=path!("approvals") view=ApprovalsPage ssr=SsrMode::Async />
                    <Route path=path!("admin") view=AdminPage />
                    <Route path=path!("admin/brokers") view=BrokersPage ssr=SsrMode::Async />
                    <Route path=path!("admin/people") view=PeoplePage ssr=SsrMode::Async />
                    <Route path=path!("admin/policies") view=PoliciesPage ssr=SsrMode::Async />
                    <Route path=path!("admin/quotas") view=QuotasPage ssr=SsrMode::Async />
                    <Route path=path!("admin/visibility") view=VisibilityPage ssr=SsrMode::Async />
                    <Route path=path!("admin/audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=path!("account/tokens") view=TokensPage ssr=SsrMode::Async />
                    <Route path=path!("account/password") view=PasswordPage />
                    <Route path=path!("login") view=LoginPage />
                </Routes>
            </Shell>
        </Router>
    }
}

/// The page's Content-Security-Policy: scripts only from the portal itself and the inline
/// scripts Leptos writes (hydration, resources), which carry this response's nonce; WebAssembly
/// compilation allowed; no plugins, no framing, forms only to the portal. Images may come from
/// brokers (http(s) and data: URLs, checked in `components::safe`).
fn content_security_policy() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data: https: http:; connect-src 'self'; font-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// Sets `data-hydrated="true"` on `<body>` once the wasm has taken over the page, so browser
/// tests (and people debugging) can tell a live page from a server-rendered one. Effects never
/// run on the server, so the attribute only ever appears in a browser.
fn mark_hydrated() {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

/// False while the server renders and while the browser hydrates, true from the first effect on.
/// For what the server cannot know when it renders (a value whose loader the page re-keys while
/// rendering, such as the request form's team quota): shown only once hydrated, the browser's
/// first render matches the server's HTML instead of inserting nodes hydration does not expect.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// Entry point of the wasm bundle: hydrates the server-rendered body.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
