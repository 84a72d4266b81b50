//! Liveness and readiness for load balancers and Kubernetes probes.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::app_state::AppState;

/// The process is up and serving HTTP.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// How long readiness waits for the database.
const PING_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The portal can do its work: the database answers (and, with `--cluster kubernetes`, the
/// Kubernetes API server).
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if matches!(state.config.cluster, crate::config::Cluster::Kubernetes(_))
        && let Err(e) = state.store.resource_version().await
    {
        tracing::warn!(error = %e, "readiness check: Kubernetes API unavailable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "cluster": "kubernetes", "error": e.to_string() })),
        );
    }
    // A probe must answer quickly: a database that does not answer within the limit is down.
    let ping = match tokio::time::timeout(PING_LIMIT, state.db.ping()).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("the database did not answer within {} s", PING_LIMIT.as_secs())),
    };
    match ping {
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
