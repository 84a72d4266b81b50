//! Signing in and changing one's password. Both are plain HTML forms posting to the server's
//! `/auth/…` routes (they work before the wasm has loaded, and the server answers with a
//! redirect); a refused attempt comes back with an `error` code this page turns into a sentence.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::layout::PageHeader;
use crate::components::ui::{BUTTON_PRIMARY, CARD, INPUT, LABEL, MUTED};

fn alert(kind: &'static str, text: &'static str) -> impl IntoView {
    let class = match kind {
        "error" => {
            "rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/40 dark:text-red-300"
        }
        _ => {
            "rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-800 dark:border-emerald-900 dark:bg-emerald-950/40 dark:text-emerald-300"
        }
    };
    view! { <p role="alert" data-testid=format!("login-{kind}") class=class>{text}</p> }
}

fn login_error(code: &str) -> Option<&'static str> {
    match code {
        "invalid" => Some("That username and password do not match an account. Check both and try again."),
        "throttled" => Some("Too many sign-in attempts. Wait a minute, then try again."),
        "" => None,
        _ => Some("Signing in did not work. Try again."),
    }
}

fn password_error(code: &str) -> Option<&'static str> {
    match code {
        "current" => Some("Your current password is not right."),
        "mismatch" => Some("The new password and its repetition differ."),
        "same" => Some("The new password must differ from the current one."),
        "short" => Some("A password needs at least 12 characters."),
        "long" => Some("A password may have at most 1,024 bytes."),
        "throttled" => Some("Too many attempts. Wait a minute, then try again."),
        "" => None,
        _ => Some("Changing the password did not work. Try again."),
    }
}

/// `/login`: rendered without the portal's frame (nothing of the portal is for anonymous eyes).
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |key: &str| query.read_untracked().get(key).unwrap_or_default();
    let next = get("next");
    let error = login_error(&get("error"));
    let signed_out = get("signed_out") == "1";
    view! {
        <Title text="Sign in" />
        <div class="mx-auto mt-16 w-full max-w-sm px-4">
            <div class="mb-6 flex items-center gap-2 text-lg font-semibold tracking-tight">
                <svg class="h-7 w-7 text-indigo-600 dark:text-indigo-400" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" aria-hidden="true">
                    <path d="M3 7.5 12 3l9 4.5v9L12 21l-9-4.5z" />
                    <path d="M3 7.5 12 12l9-4.5M12 12v9" />
                </svg>
                "Quartermaster"
            </div>
            <form method="post" action="/auth/login" class=format!("{CARD} space-y-4 p-6") data-testid="login-form">
                <h1 class="text-lg font-semibold">"Sign in"</h1>
                {error.map(|e| alert("error", e))}
                {signed_out.then(|| alert("notice", "You have signed out."))}
                <input type="hidden" name="next" value=next />
                <div>
                    <label for="login-username" class=LABEL>"Username"</label>
                    <input id="login-username" name="username" type="text" autocomplete="username" required autofocus class=INPUT />
                </div>
                <div>
                    <label for="login-password" class=LABEL>"Password"</label>
                    <input id="login-password" name="password" type="password" autocomplete="current-password" required class=INPUT />
                </div>
                <button type="submit" class=format!("{BUTTON_PRIMARY} w-full")>"Sign in"</button>
            </form>
            <p class=format!("mt-4 text-xs {MUTED}")>
                "No account yet? A platform admin creates it under Admin › People and gives you a one-time password."
            </p>
        </div>
    }
}

/// `/account/password`: change one's password (required after signing in with a one-time
/// password).
#[component]
pub fn PasswordPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |key: &str| query.read_untracked().get(key).unwrap_or_default();
    let next = get("next");
    let error = password_error(&get("error"));
    let changed = get("password_changed") == "1";
    view! {
        <Title text="Change password" />
        <PageHeader
            title="Change your password"
            subtitle="If you signed in with a one-time password, choose your own now: the portal opens once you have."
        />
        <form method="post" action="/auth/password" class=format!("{CARD} max-w-md space-y-4 p-6") data-testid="password-form">
            {error.map(|e| alert("error", e))}
            {changed.then(|| alert("notice", "Your password has been changed."))}
            <input type="hidden" name="next" value=next />
            <div>
                <label for="password-current" class=LABEL>"Current password"</label>
                <input id="password-current" name="current" type="password" autocomplete="current-password" required class=INPUT />
            </div>
            <div>
                <label for="password-new" class=LABEL>"New password"</label>
                <input id="password-new" name="new" type="password" autocomplete="new-password" minlength="12" required aria-describedby="password-rule" class=INPUT />
                <p id="password-rule" class=format!("mt-1 text-xs {MUTED}")>"At least 12 characters."</p>
            </div>
            <div>
                <label for="password-confirm" class=LABEL>"New password again"</label>
                <input id="password-confirm" name="confirm" type="password" autocomplete="new-password" minlength="12" required class=INPUT />
            </div>
            <button type="submit" class=BUTTON_PRIMARY>"Change password"</button>
        </form>
    }
}
