//! Signing in and out, changing one's password, and the gate every portal request passes: who
//! may reach what before any page or server function runs.
//!
//! The forms post here as plain HTML forms (they work before the wasm has loaded) and answer with
//! a redirect; a refused attempt goes back to its page with an `error` code the page turns into a
//! sentence.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Extension, Form,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::{
    app_state::AppState,
    auth::{
        Authenticator, Credentials, PasswordAuthenticator, Principal, SqlSessionStore, User,
        guard::{self, SESSION_USER},
    },
    governance::{AuditRecord, audit::record_or_warn},
};

/// Where a request came from (see `http::source`), for the audit log.
fn source(extensions: &Option<Extension<app::port::RequestSource>>, client: &SocketAddr) -> String {
    match extensions {
        Some(Extension(app::port::RequestSource(s))) if !s.is_empty() => s.clone(),
        _ => client.ip().to_string(),
    }
}

/// A sign-in event in the audit log: who (as they named themselves), what, from where — never
/// the password.
async fn audit(state: &AppState, actor: &str, action: &str, source: String, detail: serde_json::Value) {
    let event = AuditRecord {
        actor: actor.to_string(),
        action: action.to_string(),
        team: String::new(),
        target: actor.to_string(),
        detail,
        source,
    };
    record_or_warn(&state.db, event).await;
}

/// Where the login page lives, and where anonymous page requests are sent.
pub const LOGIN_PAGE: &str = "/login";
/// Where a person changes their password (and is sent while their one-time password stands).
pub const PASSWORD_PAGE: &str = "/account/password";
/// A session ends after this long without a change (every sign-in and page that writes to it).
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the portal is served over https,
/// expiring after [`SESSION_IDLE`] of inactivity; sessions kept in the portal's database.
pub fn session_layer(store: SqlSessionStore, public_url: &str) -> SessionManagerLayer<SqlSessionStore> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Lax)
        .with_secure(public_url.starts_with("https://"))
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(SESSION_IDLE.as_secs() as i64)))
}

/// The session cookie's name (see [`session_layer`]).
pub const SESSION_COOKIE: &str = "qm_session";

/// Only signing out clears the session cookie in the browser.
///
/// tower-sessions answers a request whose session is no longer in the store with a cookie that
/// deletes it. After a sign-in or a password change gives the session a new id, requests the page
/// sent just before (its scripts, styles, a server function) still carry the old id; when one of
/// them is answered after the new cookie, that deletion removes the new cookie and the person
/// finds themselves signed out. A stale id in the browser does no harm (it signs no one in, and
/// the next sign-in replaces it), so the deletion is kept only where the session really ends.
pub async fn only_sign_out_clears_the_cookie(request: Request, next: Next) -> Response {
    let signing_out = request.uri().path() == "/auth/logout";
    let mut response = next.run(request).await;
    if signing_out || !response.headers().contains_key(header::SET_COOKIE) {
        return response;
    }
    let clears = |value: &HeaderValue| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|pair| pair.trim().strip_prefix(SESSION_COOKIE) == Some("="))
    };
    let headers = response.headers_mut();
    let kept: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().filter(|v| !clears(v)).cloned().collect();
    headers.remove(header::SET_COOKIE);
    for value in kept {
        headers.append(header::SET_COOKIE, value);
    }
    response
}

/// Removes expired sessions every ten minutes until the portal stops.
pub fn spawn_session_cleanup(store: SqlSessionStore, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            match store.delete_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e, "removing expired sessions failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                _ = shutdown.wait_for(|stopping| *stopping) => return,
            }
        }
    });
}

/// Paths anyone may reach: the login page and its form, the site's static files.
fn is_public(path: &str) -> bool {
    path == LOGIN_PAGE
        || path == "/auth/login"
        || crate::auth::guard::is_site_file(path)
        // The REST API's description is no secret (tools fetch it before they hold a token).
        || path == "/rest/v1/openapi.json"
        || path == "/rest/v1/docs"
}

/// Paths a person whose password must change may still reach.
fn allowed_before_password_change(path: &str) -> bool {
    path == PASSWORD_PAGE || path == "/auth/password" || path == "/auth/logout" || path == "/api/shell_info"
}

/// Paths answered with data, not pages: refused with a status rather than a redirect. (`/api`
/// and `/apis` also cover a Kubernetes-style API and kubectl's discovery.)
fn is_api(path: &str) -> bool {
    ["/api", "/live/", "/auth/", "/metrics", "/openapi", "/version"].iter().any(|p| path.starts_with(p))
}

/// The gate after [`crate::auth::guard::identify`]: anonymous requests for pages go to the login
/// page (with where they were going), anonymous API calls get 401; a person still holding a
/// one-time password is sent to change it. Puts the signed-in person's [`app::api::Caller`] into
/// the request for pages, server functions and the live stream.
pub async fn require_login(mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let principal = request.extensions().get::<Option<Principal>>().cloned().flatten();
    match principal {
        Some(principal) => {
            if principal.user.must_change_password && !principal.via_token && !allowed_before_password_change(&path) {
                if path.starts_with("/rest/") {
                    return crate::rest::RestError::new(
                        StatusCode::FORBIDDEN,
                        "Choose a new password first: your one-time password is only good for that.",
                    )
                    .into_response();
                }
                if is_api(&path) {
                    return (
                        StatusCode::FORBIDDEN,
                        "Choose a new password first: your one-time password is only good for that.",
                    )
                        .into_response();
                }
                return Redirect::to(&format!("{PASSWORD_PAGE}?next={}", encode(&target(&request)))).into_response();
            }
            request.extensions_mut().insert(principal.caller());
            next.run(request).await
        }
        None if is_public(&path) => next.run(request).await,
        // Kubernetes clients read errors as `Status` objects.
        None if crate::kapi::is_kubernetes_path(&path) => {
            crate::kapi::status::ApiError::unauthorized("a bearer token of the portal is required").into_response()
        }
        None if path.starts_with("/rest/") => crate::rest::RestError::unauthorized().into_response(),
        None if is_api(&path) || !matches!(*request.method(), Method::GET | Method::HEAD) => {
            (StatusCode::UNAUTHORIZED, app::port::NOT_SIGNED_IN).into_response()
        }
        None => Redirect::to(&format!("{LOGIN_PAGE}?next={}", encode(&target(&request)))).into_response(),
    }
}

/// Path and query of a request, where a sign-in returns to.
fn target(request: &Request) -> String {
    request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
}

/// A `next` value made safe: a path on this portal, never another site (`//evil`, `https://…`).
fn local_next(next: &str) -> String {
    let ok =
        next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && !next.starts_with(LOGIN_PAGE);
    if ok { next.to_string() } else { "/".to_string() }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// `POST /auth/login` (the login page's form).
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    from: Option<Extension<app::port::RequestSource>>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Response {
    let from = source(&from, &client);
    let next = local_next(&form.next);
    let back =
        |error: &str| Redirect::to(&format!("{LOGIN_PAGE}?error={error}&next={}", encode(&next))).into_response();
    let username = form.username.trim();
    if !state.login_limiter.allow(client.ip(), username) {
        tracing::info!(target: "audit", event = "login-throttled", username, client = %client.ip(), "too many sign-in attempts");
        audit(&state, username, "login.throttled", from, serde_json::Value::Null).await;
        return back("throttled");
    }
    let password = PasswordAuthenticator { accounts: state.accounts.clone() };
    match password.authenticate(&Credentials::Password { username, password: &form.password }).await {
        Ok(Some(user)) => match sign_in(&session, &user, password.method()).await {
            Ok(()) => {
                let detail = serde_json::json!({"method": password.method(), "userId": user.id});
                audit(&state, &user.username, "login", from, detail).await;
                if user.must_change_password {
                    Redirect::to(&format!("{PASSWORD_PAGE}?next={}", encode(&next))).into_response()
                } else {
                    Redirect::to(&next).into_response()
                }
            }
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("cannot start a session: {e}")).into_response(),
        },
        Ok(None) => {
            tracing::info!(target: "audit", event = "login-failed", username, client = %client.ip(), method = password.method(), "sign-in refused");
            // The name as typed (capped), so guessing shows in the log; the password never.
            let named: String = username.chars().take(64).collect();
            audit(&state, &named, "login.failed", from, serde_json::json!({"method": password.method()})).await;
            back("invalid")
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("cannot check the password: {e}")).into_response(),
    }
}

/// What every way of signing in ends with once an [`Authenticator`] has named the user: a new
/// session id (so an id planted before sign-in is worth nothing), the user in the session, and
/// the audit line.
pub async fn sign_in(session: &Session, user: &User, method: &str) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(SESSION_USER, user.id).await?;
    guard::renew(session).await?;
    tracing::info!(target: "audit", event = "login", username = %user.username, user_id = user.id, method, "signed in");
    Ok(())
}

/// `POST /auth/logout`: ends the session (deleted from the database, cookie cleared).
pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    from: Option<Extension<app::port::RequestSource>>,
    session: Session,
    Extension(who): Extension<Option<Principal>>,
) -> Response {
    if let Err(e) = session.flush().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("cannot end the session: {e}")).into_response();
    }
    if let Some(p) = who {
        tracing::info!(target: "audit", event = "logout", username = %p.user.username, user_id = p.user.id, "signed out");
        audit(&state, &p.user.username, "logout", source(&from, &client), serde_json::json!({"userId": p.user.id}))
            .await;
    }
    Redirect::to(&format!("{LOGIN_PAGE}?signed_out=1")).into_response()
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub current: String,
    pub new: String,
    pub confirm: String,
    #[serde(default)]
    pub next: String,
}

/// `POST /auth/password`: the password page's form. Needs the current password (a session left
/// open on a shared screen is not enough), and gives the session a new id.
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    from: Option<Extension<app::port::RequestSource>>,
    session: Session,
    Extension(principal): Extension<Option<Principal>>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(principal) = principal else {
        return (StatusCode::UNAUTHORIZED, app::port::NOT_SIGNED_IN).into_response();
    };
    if principal.via_token {
        return (StatusCode::FORBIDDEN, "a password is changed by its owner signed in, not with an API token")
            .into_response();
    }
    let next = local_next(&form.next);
    let back =
        |error: &str| Redirect::to(&format!("{PASSWORD_PAGE}?error={error}&next={}", encode(&next))).into_response();
    let user = &principal.user;
    if !state.login_limiter.allow(client.ip(), &user.username) {
        return back("throttled");
    }
    match state.accounts.check_password(&user.username, &form.current).await {
        Ok(Some(_)) => {}
        Ok(None) => return back("current"),
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
    if form.new != form.confirm {
        return back("mismatch");
    }
    if form.new == form.current {
        return back("same");
    }
    if let Err(message) = crate::auth::password::check_strength(&form.new) {
        return back(if message.contains("at least") { "short" } else { "long" });
    }
    if let Err(e) = state.accounts.set_password(user.id, &form.new).await {
        return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
    }
    if let Err(e) = session.cycle_id().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("cannot renew the session: {e}")).into_response();
    }
    tracing::info!(target: "audit", event = "password-changed", username = %user.username, user_id = user.id, "password changed");
    audit(&state, &user.username, "password.change", source(&from, &client), serde_json::json!({"userId": user.id}))
        .await;
    let separator = if next.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{next}{separator}password_changed=1")).into_response()
}

/// `GET /metrics`: the process's Prometheus metrics, for platform admins (an admin's API token
/// in a scraper's `Authorization: Bearer`).
pub async fn metrics(Extension(principal): Extension<Option<Principal>>) -> Response {
    let admin = principal.is_some_and(|p| p.user.platform_admin);
    if !admin {
        return (StatusCode::FORBIDDEN, "metrics are for platform admins").into_response();
    }
    let mut response = crate::metrics::METRICS.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// The request guard's shared state.
pub fn guard(state: &AppState) -> Arc<crate::auth::Guard> {
    let origin =
        crate::auth::guard::origin_of(&state.config.public_url).unwrap_or_else(|| state.config.public_url.clone());
    Arc::new(crate::auth::Guard { accounts: state.accounts.clone(), origin })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_portal() {
        assert_eq!(local_next("/instances/team-a/logs?x=1"), "/instances/team-a/logs?x=1");
        assert_eq!(local_next("//evil.example/"), "/");
        assert_eq!(local_next("https://evil.example/"), "/");
        assert_eq!(local_next("/\\evil.example"), "/");
        assert_eq!(local_next("/login?next=/x"), "/");
        assert_eq!(local_next(""), "/");
    }

    #[test]
    fn paths_are_encoded_for_a_query() {
        assert_eq!(encode("/instances?team=a&b"), "/instances%3Fteam%3Da%26b");
    }
}
