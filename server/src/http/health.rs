//! Liveness and readiness for load balancers and Kubernetes probes.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::app_state::AppState;

/// The process is up and serving HTTP.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The portal can do its work: the database answers.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "database": state.db.product_name() }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": state.db.product_name(), "error": e.to_string() })),
            )
        }
    }
}
