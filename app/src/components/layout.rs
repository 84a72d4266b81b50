//! The frame around every page: top bar, left navigation, content area.

use leptos::prelude::*;

use crate::api::ShellInfo;

/// The user's name and the navigation's counts.
#[server(endpoint = "shell_info")]
pub async fn load_shell_info() -> Result<ShellInfo, ServerFnError> {
    if let Some(data) = crate::port::page_data() {
        return Ok(data.shell);
    }
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.shell_info(&caller).await?)
}

/// Pages shown without the frame (and without asking who is signed in): the login page.
fn is_bare(path: &str) -> bool {
    path == "/login"
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    // Signing in and out are full page loads, so the first path decides.
    if is_bare(&location.pathname.get_untracked()) {
        return view! { <main id="main">{children()}</main> }.into_any();
    }
    // Fetched again on every navigation, so the counts follow what the user just did.
    let info = Resource::new(move || location.pathname.get(), |_| load_shell_info());
    view! {
        <div class="flex min-h-screen flex-col">
            <TopBar info />
            <div class="flex flex-1 flex-col md:flex-row">
                <SideNav info />
                <main class="min-w-0 flex-1 px-4 py-6 sm:px-6 lg:px-8" id="main">
                    {children()}
                </main>
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn TopBar(info: Resource<Result<ShellInfo, ServerFnError>>) -> impl IntoView {
    // A plain GET form (it works before hydration); once hydrated, the search navigates within
    // the page. Not the router's `<Form>`: its generality costs the first download about 6 KB.
    let search = NodeRef::<leptos::html::Input>::new();
    let navigate = leptos_router::hooks::use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = search.get_untracked().map(|input| input.value()).unwrap_or_default();
        let query = crate::api::catalog::CatalogQuery { q: q.trim().to_string(), ..Default::default() };
        navigate(&query.url(), Default::default());
    };
    view! {
        <header class="sticky top-0 z-10 flex h-14 items-center gap-4 border-b border-zinc-200 bg-white/90 px-4 backdrop-blur dark:border-zinc-800 dark:bg-zinc-900/90">
            <a href="/" class="flex items-center gap-2 font-semibold tracking-tight">
                <Logo />
                <span>"Quartermaster"</span>
            </a>
            <span class="hidden text-sm text-zinc-500 lg:inline dark:text-zinc-400">"Self-service for platform services"</span>
            <form action="/catalog" method="get" class="ml-auto hidden md:block" role="search" on:submit=on_submit>
                <label for="top-search" class="sr-only">"Search the catalog"</label>
                <input
                    id="top-search"
                    node_ref=search
                    name="q"
                    type="search"
                    placeholder="Search services…"
                    class="w-64 rounded-md border border-zinc-300 bg-white px-3 py-1 text-sm placeholder:text-zinc-400 focus:border-indigo-500 focus:ring-1 focus:ring-indigo-500 focus:outline-none dark:border-zinc-700 dark:bg-zinc-900"
                />
            </form>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    info.await.ok().map(|i| view! { <UserMenu username=i.username initial=i.initial /> })
                })}
            </Transition>
        </header>
    }
}

/// The signed-in person's name and badge letter, with their tokens, password and sign-out.
#[component]
fn UserMenu(username: String, initial: String) -> impl IntoView {
    view! {
        <details class="relative ml-auto md:ml-0" data-testid="user-menu">
            <summary class="flex cursor-pointer list-none items-center gap-2 rounded-md px-1 py-1 text-sm text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800" data-testid="user" aria-label=format!("Account menu of {username}")>
                <span class="inline-flex h-7 w-7 items-center justify-center rounded-full bg-indigo-100 text-xs font-semibold text-indigo-700 dark:bg-indigo-500/20 dark:text-indigo-300" aria-hidden="true">
                    {initial}
                </span>
                <span class="hidden sm:inline">{username.clone()}</span>
            </summary>
            <div class="absolute right-0 z-20 mt-1 w-48 rounded-md border border-zinc-200 bg-white py-1 text-sm shadow-lg dark:border-zinc-700 dark:bg-zinc-900">
                <a href="/account/tokens" class="block px-3 py-1.5 hover:bg-zinc-100 dark:hover:bg-zinc-800">"My API tokens"</a>
                <a href="/account/password" class="block px-3 py-1.5 hover:bg-zinc-100 dark:hover:bg-zinc-800">"Change password"</a>
                <a href="/instances#kubectl" class="block px-3 py-1.5 hover:bg-zinc-100 dark:hover:bg-zinc-800" data-testid="kubectl-menu-link">"Use with kubectl"</a>
                <a href="/rest/v1/docs" rel="external" class="block px-3 py-1.5 hover:bg-zinc-100 dark:hover:bg-zinc-800">"REST API"</a>
                <form method="post" action="/auth/logout">
                    <button type="submit" data-testid="sign-out" class="block w-full px-3 py-1.5 text-left hover:bg-zinc-100 dark:hover:bg-zinc-800">"Sign out"</button>
                </form>
            </div>
        </details>
    }
}

#[component]
fn Logo() -> impl IntoView {
    view! {
        <svg class="h-6 w-6 text-indigo-600 dark:text-indigo-400" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" aria-hidden="true">
            <path d="M3 7.5 12 3l9 4.5v9L12 21l-9-4.5z" />
            <path d="M3 7.5 12 12l9-4.5M12 12v9" />
        </svg>
    }
}

/// One entry of the left navigation.
struct NavItem {
    href: &'static str,
    label: &'static str,
    /// Also active on these paths (the catalog is the home page).
    aliases: &'static [&'static str],
}

const NAV: &[NavItem] = &[
    NavItem { href: "/catalog", label: "Catalog", aliases: &["/"] },
    NavItem { href: "/instances", label: "Instances", aliases: &[] },
    NavItem { href: "/approvals", label: "Approvals", aliases: &[] },
    NavItem { href: "/admin", label: "Admin", aliases: &[] },
];

#[component]
fn SideNav(info: Resource<Result<ShellInfo, ServerFnError>>) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    view! {
        <nav aria-label="Main" class="shrink-0 border-b border-zinc-200 bg-white px-2 py-2 md:w-48 md:border-r md:border-b-0 md:py-4 dark:border-zinc-800 dark:bg-zinc-900">
            <ul class="flex flex-wrap gap-1 md:block md:space-y-1">
                {NAV
                    .iter()
                    .map(|item| {
                        let active = move || {
                            let path = location.pathname.get();
                            path.starts_with(item.href) || item.aliases.contains(&path.as_str())
                        };
                        view! {
                            <li>
                                // A plain link (the router still handles the click): the router's `<A>`
                                // would only add `aria-current`, which this sets itself.
                                <a
                                    href=item.href
                                    aria-current=move || active().then_some("page")
                                    class=move || {
                                        if active() {
                                            "block rounded-md px-2.5 py-2 text-sm font-medium md:px-3 bg-indigo-50 text-indigo-700 dark:bg-indigo-500/15 dark:text-indigo-300"
                                        } else {
                                            "block rounded-md px-2.5 py-2 text-sm font-medium md:px-3 text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
                                        }
                                    }
                                >
                                    <span class="flex items-center justify-between gap-2">
                                        {item.label}
                                        <Transition fallback=|| ()>
                                            {move || Suspend::new(async move {
                                                let count = info.await.ok().and_then(|i| match item.href {
                                                    "/catalog" => Some(i.services),
                                                    "/instances" => Some(i.instances),
                                                    "/approvals" => Some(i.approvals),
                                                    _ => None,
                                                });
                                                count.map(|n| view! {
                                                    <span class="rounded-full bg-zinc-100 px-2 text-xs font-medium text-zinc-600 tabular-nums dark:bg-zinc-800 dark:text-zinc-400" data-count=item.href>
                                                        {n}
                                                    </span>
                                                })
                                            })}
                                        </Transition>
                                    </span>
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </nav>
    }
}

/// A page heading with an optional one-line explanation and actions on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="mb-6 flex flex-wrap items-start justify-between gap-4">
            <div class="min-w-0">
                <h1 class="text-xl font-semibold tracking-tight break-words">{title}</h1>
                {(!subtitle.is_empty()).then(|| view! { <p class="mt-1 text-sm text-zinc-500 dark:text-zinc-400">{subtitle}</p> })}
            </div>
            {children.map(|c| view! { <div class="flex shrink-0 items-center gap-2">{c()}</div> })}
        </div>
    }
}

/// Where a page sits: "Catalog › HDFS › Request".
#[component]
pub fn Breadcrumbs(items: Vec<(String, Option<String>)>) -> impl IntoView {
    view! {
        <nav aria-label="Breadcrumb" class="mb-2 text-sm text-zinc-500 dark:text-zinc-400">
            <ol class="flex flex-wrap items-center gap-1">
                {items
                    .into_iter()
                    .enumerate()
                    .map(|(i, (label, href))| {
                        view! {
                            <li class="flex items-center gap-1">
                                {(i > 0).then(|| view! { <span aria-hidden="true">"›"</span> })}
                                {match href {
                                    Some(href) => view! { <a class="hover:text-zinc-800 hover:underline dark:hover:text-zinc-200" href=href>{label}</a> }.into_any(),
                                    None => view! { <span aria-current="page" class="text-zinc-700 dark:text-zinc-300">{label}</span> }.into_any(),
                                }}
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        </nav>
    }
}

/// A bordered box that tells the user there is nothing here yet and what to do next.
#[component]
pub fn EmptyState(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <div class="rounded-lg border border-dashed border-zinc-300 bg-white px-6 py-10 text-center dark:border-zinc-700 dark:bg-zinc-900">
            <h2 class="text-base font-medium">{title}</h2>
            <div class="mx-auto mt-2 max-w-prose text-sm text-zinc-600 dark:text-zinc-400">{children()}</div>
        </div>
    }
}
