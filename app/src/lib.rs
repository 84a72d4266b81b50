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
    Lazy, SsrMode,
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

/// A screen whose code is split out of the main wasm bundle (`cargo leptos build --split`): the
/// browser fetches it when the screen is first shown (no preload links name the parts, see
/// [`without_split_preloads`]). The shell, router and shared components stay in the main bundle;
/// forms opened by a click within a screen are `#[lazy]` parts of their own.
macro_rules! lazy_screens {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        #[doc = concat!("The lazily loaded route of [`", stringify!($page), "`].")]
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                mark_hydrated();
                view! { <$page /> }.into_any()
            }
        }
    )*};
}

lazy_screens! {
    CatalogRoute => CatalogPage,
    ClassRoute => ClassPage,
    RequestRoute => RequestPage,
    InstancesRoute => InstancesPage,
    InstanceRoute => InstancePage,
    ApplyRoute => ApplyPage,
    ApprovalsRoute => ApprovalsPage,
    AdminRoute => AdminPage,
    BrokersRoute => BrokersPage,
    PeopleRoute => PeoplePage,
    PoliciesRoute => PoliciesPage,
    QuotasRoute => QuotasPage,
    VisibilityRoute => VisibilityPage,
    AuditRoute => AuditPage,
    TokensRoute => TokensPage,
    PasswordRoute => PasswordPage,
    LoginRoute => LoginPage,
}

/// The options for `HydrationScripts`, with Leptos's preload links for a screen's split parts
/// turned off.
///
/// `leptos_integration_utils` 0.8.9 registers those links outside the request's reactive owner:
/// some answers lack them, and under concurrent requests one answer collects the links of others
/// (seen: 300–400 KB of repeated links on a 26 KB page, with other answers' nonces). Until that is
/// fixed upstream there are none: `HydrationScripts` reads the split manifest from under
/// `site_root` (only for that, as `hash_files` is off) and finds none here, so the browser fetches
/// a screen's parts when hydration asks for them. Test: `shell.spec.ts`, pages asked for at once.
fn without_split_preloads(mut options: LeptosOptions) -> LeptosOptions {
    if !options.hash_files {
        options.site_root = format!("{}/no-split-preloads", options.site_root).into();
    }
    options
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use_page_nonce();
    let islands = request_path().is_some_and(|path| is_islands_path(&path));
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options=without_split_preloads(options) islands />
                <MetaTags />
            </head>
            <body class="h-full bg-zinc-50 text-zinc-900 antialiased dark:bg-zinc-950 dark:text-zinc-100" data-islands=islands.then_some("")>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/quartermaster.css" />
        <Title formatter=|page: String| if page.is_empty() { "Quartermaster".to_string() } else { format!("{page} · Quartermaster") } />
        <Router>
            <Shell>
                <Routes fallback=NotFound>
                    // Data pages render completely on the server (readable before the wasm loads).
                    <Route path=path!("") view={Lazy::<CatalogRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("catalog") view={Lazy::<CatalogRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("catalog/:class") view={Lazy::<ClassRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("catalog/:class/request") view={Lazy::<RequestRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("instances") view={Lazy::<InstancesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("instances/:namespace/:name") view={Lazy::<InstanceRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("apply") view={Lazy::<ApplyRoute>::new()} />
                    <Route path=path!("approvals") view={Lazy::<ApprovalsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin") view={Lazy::<AdminRoute>::new()} />
                    <Route path=path!("admin/brokers") view={Lazy::<BrokersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/people") view={Lazy::<PeopleRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/policies") view={Lazy::<PoliciesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/quotas") view={Lazy::<QuotasRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/visibility") view={Lazy::<VisibilityRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("account/tokens") view={Lazy::<TokensRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("account/password") view={Lazy::<PasswordRoute>::new()} />
                    <Route path=path!("login") view={Lazy::<LoginRoute>::new()} />
                </Routes>
            </Shell>
        </Router>
    }
}

/// The nonce of this page's inline scripts (hydration, resources). The server's security-headers
/// middleware makes one per request, puts it in the request's extensions and writes the page's
/// Content-Security-Policy with it once the page is rendered (a header set while rendering, through
/// `ResponseOptions`, was seen missing from some responses); the shell makes it Leptos's nonce, so
/// the scripts carry the header's value.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct PageNonce(pub String);

/// The path of the request being rendered (on the server; `None` elsewhere).
fn request_path() -> Option<String> {
    #[cfg(feature = "ssr")]
    return use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_string());
    #[cfg(not(feature = "ssr"))]
    None
}

fn use_page_nonce() {
    #[cfg(feature = "ssr")]
    if let Some(PageNonce(nonce)) =
        use_context::<http::request::Parts>().and_then(|parts| parts.extensions.get::<PageNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

/// Sets `data-hydrated="true"` on `<body>` once the wasm has taken over the page, so browser
/// tests (and people debugging) can tell a live page from a server-rendered one. Effects never
/// run on the server, so the attribute only ever appears in a browser. Called by each screen's
/// lazily loaded view (and the not-found page): its effect runs after that screen is hydrated,
/// which with a split bundle is after its part has arrived, not when the shell is.
pub fn mark_hydrated() {
    Effect::new(move |_| set_hydrated_marker());
}

fn set_hydrated_marker() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
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

/// Paths whose pages are islands: the server renders them whole and the browser hydrates only
/// their `#[island]`s, with no router (links and forms are page loads). The catalog has one island
/// (its search, filters and tiles), the instances list one (filters and the live table, a part of
/// the wasm of its own), the admin overview one (the connection check), the approvals queue one
/// per request a person may decide (comment and buttons); a class page, the audit
/// log (a GET form) and the login and password pages have none. The
/// main wasm bundle holds what islands need; the full app (router, shell, screens) is a part of its
/// own that the other pages fetch. See `docs/portal-ui.md`, "Islands pages and the full app".
pub fn is_islands_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/catalog" | "/instances" | "/approvals" | "/admin" | "/admin/audit" | "/login" | "/account/password"
    ) || path.strip_prefix("/catalog/").is_some_and(|class| !class.is_empty() && !class.contains('/'))
}

/// Entry point of the wasm bundle. On an islands page (`<body data-islands>`, see
/// [`is_islands_path`]) it prepares the reactive root and Leptos's island script hydrates the
/// page's islands; on any other page it fetches the full app's part and hydrates the whole body
/// (after loading the current screen's part).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    if document().body().is_some_and(|body| body.has_attribute("data-islands")) {
        leptos::mount::hydrate_islands();
        // A page without islands is as live as it gets now; an island marks its page itself.
        if document().query_selector("leptos-island").ok().flatten().is_none() {
            set_hydrated_marker();
        }
    } else {
        wasm_bindgen_futures::spawn_local(hydrate_app());
    }
}

/// The full app's hydration, a part of the bundle of its own: islands pages never fetch it.
#[cfg(feature = "hydrate")]
#[lazy]
fn hydrate_app() {
    leptos::mount::hydrate_lazy(App);
}
