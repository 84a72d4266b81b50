//! Run-time switches of the built-in broker (behind the same credentials as the OSB API):
//! `GET|PUT|DELETE /admin/fault` and `GET /admin/requests`.

use axum::{Router, body::Bytes, extract::State, http::StatusCode, response::Response, routing::get};

use super::{
    Shared,
    faults::FaultRule,
    reply::{json, osb_error},
};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/fault", get(show_fault).put(set_fault).delete(clear_fault))
        .route("/admin/requests", get(requests))
}

async fn show_fault(State(broker): State<Shared>) -> Response {
    json(StatusCode::OK, &broker.memory().rule)
}

/// Body: `{"fault": "server-error", "on": "provision", "times": 2}` (`on` and `times` optional).
async fn set_fault(State(broker): State<Shared>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultRule>(&body) {
        Ok(rule) => {
            tracing::warn!(fault = %rule.fault, on = ?rule.on, times = ?rule.times, "broker-wide fault switched on");
            broker.memory().rule = Some(rule.clone());
            json(StatusCode::OK, &rule)
        }
        Err(e) => osb_error(StatusCode::BAD_REQUEST, None, &format!("not a fault rule: {e}")),
    }
}

async fn clear_fault(State(broker): State<Shared>) -> Response {
    broker.memory().rule = None;
    tracing::info!("broker-wide fault switched off");
    json(StatusCode::OK, &serde_json::Value::Null)
}

/// The last requests received, oldest first (headers of interest only, never credentials).
async fn requests(State(broker): State<Shared>) -> Response {
    json(StatusCode::OK, &broker.memory().requests)
}
