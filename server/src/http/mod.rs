//! Every route the portal serves.

pub mod audit_export;
pub mod auth;
pub mod bodies;
mod health;
pub mod live;
pub mod page_cache;
pub mod source;

use std::sync::Arc;

use app::{App, people_port::PeopleHandle, port::PortalHandle, shell};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{CompressionLevel, compression::CompressionLayer, trace::TraceLayer};

use crate::{
    app_state::AppState,
    auth::{SqlSessionStore, guard},
    portal::{PortalService, people::PeopleService},
};

/// The portal's routes. Everything but the health checks and the built-in broker (which has its
/// own OSB basic auth) passes the request guards: security headers, the session, who is calling,
/// the same-origin check for cookie-authenticated writes, and the sign-in gate.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let portal: PortalHandle =
        Arc::new(PortalService::new(state.db.clone(), state.store.clone(), state.governance.clone()));
    let people: PeopleHandle = Arc::new(PeopleService::new(state.accounts.clone(), state.db.clone()));
    let leptos_options = state.leptos_options.clone();
    let pages = page_cache::PageCache::new(portal.clone(), state.config.page_cache_bytes);
    let guard = auth::guard(&state);
    let sessions = SqlSessionStore::new(state.db.clone());
    auth::spawn_session_cleanup(sessions.clone(), state.shutdown.clone());

    let portal_routes = Router::new()
        .route("/live/instances", get(live::instances))
        .route("/admin/audit/export", get(audit_export::export))
        .route("/metrics", get(auth::metrics))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/password", post(auth::change_password))
        // The Kubernetes-style API (`/api`, `/apis`, `/openapi`, `/version`): see `crate::kapi`.
        .merge(crate::kapi::router())
        // The REST API for approvals, quotas, visibility, policies and audit: see `crate::rest`.
        .merge(crate::rest::router(portal.clone()))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(portal.clone());
                provide_context(people.clone());
            },
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // The catalog page, answered from a kept render while what it shows is unchanged.
        .layer(middleware::from_fn_with_state(pages, page_cache::serve))
        // Layers run from the last added inwards: headers on every answer, where the request came
        // from, then the session (whose cookie only signing out clears), who is calling, the CSRF
        // check, the sign-in gate, the page cache.
        .layer(middleware::from_fn(auth::require_login))
        .layer(middleware::from_fn_with_state(guard.clone(), guard::same_origin))
        .layer(middleware::from_fn_with_state(guard, guard::identify))
        .layer(auth::session_layer(sessions, &state.config.public_url))
        .layer(middleware::from_fn(auth::only_sign_out_clears_the_cookie))
        .layer(middleware::from_fn_with_state(state.clone(), source::record_source))
        .layer(middleware::from_fn(guard::security_headers));

    let mut open = Router::new().route("/healthz", get(health::live)).route("/readyz", get(health::ready));
    if let Some(broker_db) = &state.builtin_broker {
        let broker = crate::broker::router(state.config.builtin_broker_config(), broker_db.clone());
        open = open.nest_service(crate::broker::MOUNT_PATH, broker);
    }
    portal_routes
        .merge(open)
        // The extractors' own limit (login form, broker bodies) matches the guard's.
        .layer(DefaultBodyLimit::max(bodies::MAX_BODY_BYTES))
        .layer(middleware::from_fn(bodies::guard))
        // The fastest level: at the default one, deflate took most of the CPU of a compressed
        // catalog page, for a body a third smaller than this level's.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
