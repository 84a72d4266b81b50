//! Request guards every route passes through: who is calling (session cookie or bearer token),
//! a same-origin check for state-changing requests made with a cookie (CSRF), security
//! headers, and a limit on login attempts.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_sessions::Session;

use super::{Accounts, Role, User};

/// The session key holding the signed-in user's id.
pub const SESSION_USER: &str = "user_id";

/// The session key holding when (Unix seconds) the session's expiry was last pushed back.
pub const SESSION_RENEWED: &str = "renewed_at";

/// A session in use has its expiry pushed back once this long has passed since the last time:
/// a write an hour per session, not one per request.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Marks the session's expiry as pushed back now: the record is saved (with an expiry counted
/// from now) and its cookie sent again at the end of the request.
pub async fn renew(session: &Session) -> Result<(), tower_sessions::session::Error> {
    session.insert(SESSION_RENEWED, jiff::Timestamp::now().as_second()).await
}

/// Keeps a session in use alive: sessions expire after a time without use, so one in use is
/// renewed when it was last renewed [`RENEW_EVERY`] ago or more.
async fn keep_alive(session: &Session) {
    let now = jiff::Timestamp::now().as_second();
    let renewed = session.get::<i64>(SESSION_RENEWED).await.ok().flatten();
    if renewed.is_none_or(|at| now - at >= RENEW_EVERY.as_secs() as i64 || at > now)
        && let Err(e) = renew(session).await
    {
        tracing::warn!(error = %e, "renewing a session failed");
    }
}

/// An authenticated person and their teams, as found on a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    pub teams: Vec<(String, Role)>,
    /// How they proved it: a browser session, or an API token (which needs no CSRF check).
    pub via_token: bool,
}

impl Principal {
    /// What the UI, the REST API and the Kubernetes-style API check: the one mapping from an
    /// authenticated person to what they may see and do.
    pub fn caller(&self) -> app::api::Caller {
        let mut groups: Vec<String> = self.teams.iter().map(|(team, _)| format!("team:{team}")).collect();
        if self.user.platform_admin {
            groups.insert(0, PLATFORM_ADMINS.to_string());
        }
        app::api::Caller {
            username: self.user.username.clone(),
            uid: self.user.id.to_string(),
            groups,
            namespaces: (!self.user.platform_admin).then(|| self.teams.iter().map(|(team, _)| team.clone()).collect()),
            platform_admin: self.user.platform_admin,
            admin_of: self.teams.iter().filter(|(_, role)| *role == Role::TeamAdmin).map(|(t, _)| t.clone()).collect(),
            source: String::new(),
        }
    }
}

/// The group every platform admin is in (as Kubernetes-style user info shows it).
pub const PLATFORM_ADMINS: &str = "quartermaster:platform-admins";

#[derive(Clone)]
pub struct Guard {
    pub accounts: Accounts,
    /// The portal's own origin (`scheme://host[:port]`), for the CSRF check.
    pub origin: String,
}

/// The site's own files (scripts, styles, wasm, the icon): the same for everyone.
pub fn is_site_file(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg"
}

/// Who is calling. Puts `Option<Principal>` into the request's extensions for handlers and
/// server functions; never rejects (pages decide what anonymous callers see).
pub async fn identify(State(guard): State<Arc<Guard>>, session: Session, mut request: Request, next: Next) -> Response {
    // The site's scripts, styles and icon are the same for everyone: no session or user to read.
    if is_site_file(request.uri().path()) {
        request.extensions_mut().insert(None::<Principal>);
        return next.run(request).await;
    }
    let principal = match bearer(&request) {
        Some(token) => match guard.accounts.token_principal(&token).await {
            Ok(Some((user, teams))) => Some(Principal { user, teams, via_token: true }),
            Ok(None) => {
                return unauthorized("the bearer token is not valid (unknown, revoked, or its user is disabled)");
            }
            Err(e) => return unavailable(&e.to_string()),
        },
        None => match session.get::<i64>(SESSION_USER).await.ok().flatten() {
            Some(id) => match guard.accounts.user_with_teams(id).await {
                Ok(Some((user, teams))) => {
                    keep_alive(&session).await;
                    Some(Principal { user, teams, via_token: false })
                }
                Ok(None) => None,
                Err(e) => return unavailable(&e.to_string()),
            },
            None => None,
        },
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

fn bearer(request: &Request) -> Option<String> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

fn unauthorized(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], message.to_string()).into_response()
}

fn unavailable(message: &str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("cannot check credentials: {message}")).into_response()
}

/// CSRF: a state-changing request that relies on the session cookie must come from the portal's
/// own pages, as the browser's `Origin` (or, failing that, `Referer`) says. Token-authenticated
/// requests carry no ambient credentials and pass.
pub async fn same_origin(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let by_token = bearer(&request).is_some();
    // Without a cookie there are no ambient credentials to abuse — except at the login form,
    // where a foreign page could sign a victim into the attacker's account (login CSRF).
    let no_cookie = !request.headers().contains_key(header::COOKIE) && request.uri().path() != "/auth/login";
    if safe || by_token || no_cookie {
        return next.run(request).await;
    }
    let headers = request.headers();
    let claimed = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| headers.get(header::REFERER).and_then(|v| v.to_str().ok()).and_then(origin_of));
    // The configured public origin, or the host the browser addressed (a portal reached as
    // `localhost` as well as `127.0.0.1`, or by a second name): a foreign page's request names
    // its own origin, never the portal's host.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let same_host = |origin: &str| host.is_some_and(|h| origin.split_once("://").is_some_and(|(_, rest)| rest == h));
    match claimed {
        Some(origin) if origin == guard.origin || same_host(&origin) => next.run(request).await,
        Some(origin) => {
            (StatusCode::FORBIDDEN, format!("cross-site request refused: origin {origin:?} is not this portal"))
                .into_response()
        }
        None => (StatusCode::FORBIDDEN, "cross-site request refused: the request names no origin").into_response(),
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Headers every answer carries, and the Content-Security-Policy: pages (HTML) get the page
/// policy with a nonce made here for this request (the shell gives it to Leptos through the
/// request's extensions, so the inline scripts carry it), every other answer a strict default.
pub async fn security_headers(mut request: Request, next: Next) -> Response {
    let nonce = leptos::nonce::Nonce::new().to_string();
    request.extensions_mut().insert(app::PageNonce(nonce.clone()));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let is_page =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if is_page {
        if let Ok(policy) = HeaderValue::from_str(&page_policy(&nonce)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
    } else if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// The pages' policy: scripts only from the portal itself and the inline scripts Leptos writes
/// (hydration, resources), which carry this response's nonce; WebAssembly compilation allowed
/// (the bundle and its split-off parts); no plugins, no framing, forms only to the portal.
/// Images may come from brokers (http(s) and data: URLs, checked in `components::safe`).
fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: https: http:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Login attempts per client address and per username: 10 a minute each.
pub struct LoginLimiter {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_user: DefaultKeyedRateLimiter<String>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(10).expect("10 is not zero"));
        Self { by_address: RateLimiter::keyed(quota), by_user: RateLimiter::keyed(quota) }
    }
}

impl LoginLimiter {
    /// Whether another attempt is allowed now (both budgets are spent by an attempt).
    pub fn allow(&self, address: IpAddr, username: &str) -> bool {
        let address_ok = self.by_address.check_key(&address).is_ok();
        let user_ok = self.by_user.check_key(&username.to_lowercase()).is_ok();
        address_ok && user_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://portal.example.com:8443/instances?x=1").as_deref(),
            Some("https://portal.example.com:8443")
        );
        assert_eq!(origin_of("http://127.0.0.1:3000").as_deref(), Some("http://127.0.0.1:3000"));
        assert_eq!(origin_of("not a url"), None);
    }

    #[test]
    fn login_attempts_are_limited_per_address_and_per_user() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..10 {
            assert!(limiter.allow(ip, "alice"));
        }
        assert!(!limiter.allow(ip, "alice"), "the 11th attempt within a minute is refused");
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(!limiter.allow(other, "ALICE"), "the username's budget is spent whatever the address");
        assert!(limiter.allow(other, "bob"));
    }
}
