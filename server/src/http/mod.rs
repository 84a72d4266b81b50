//! Every route the portal serves.

pub mod audit_export;
mod health;
pub mod live;
pub mod source;

use std::sync::Arc;

use app::{App, port::PortalHandle, shell};
use axum::{Router, routing::get};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

use crate::{app_state::AppState, portal::PortalService};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let portal: PortalHandle =
        Arc::new(PortalService::new(state.db.clone(), state.store.clone(), state.governance.clone()));
    let leptos_options = state.leptos_options.clone();

    let mut router = Router::new();
    if let Some(broker_db) = &state.builtin_broker {
        let broker = crate::broker::router(state.config.builtin_broker_config(), broker_db.clone());
        router = router.nest_service(crate::broker::MOUNT_PATH, broker);
    }
    router
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/live/instances", get(live::instances))
        .route("/admin/audit/export", get(audit_export::export))
        .route("/metrics", get(metrics))
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(portal.clone()),
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), source::record_source))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Prometheus text exposition of the process's metrics.
async fn metrics() -> ([(axum::http::header::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::METRICS.render())
}
