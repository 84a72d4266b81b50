//! Building the broker's answers: OSB error bodies, JSON bodies, and answers spoiled by a fault.

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;

use super::{Broker, faults::Fault};
use crate::osb::wire::ErrorBody;

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    raw_json(status, bytes)
}

pub fn raw_json(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, Body::from(bytes)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn osb_error(status: StatusCode, code: Option<&str>, description: &str) -> Response {
    json(status, &ErrorBody::new(code, description))
}

pub fn empty(status: StatusCode) -> Response {
    json(status, &serde_json::json!({}))
}

/// The answer for a fault that replaces the broker's work entirely (nothing is created), or `None`
/// when the fault spoils an answer after the work is done (see [`spoil`]) or concerns async
/// operations or the catalog.
pub fn refusal(fault: Fault) -> Option<Response> {
    let (status, code, description) = match fault {
        Fault::BadRequest => (StatusCode::BAD_REQUEST, None, "the request was refused (injected fault)"),
        Fault::Conflict => (StatusCode::CONFLICT, None, "a different resource with this id exists (injected fault)"),
        Fault::Gone => (StatusCode::GONE, None, "the resource is gone (injected fault)"),
        Fault::AsyncRequired => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("AsyncRequired"),
            "this plan only works asynchronously (injected fault)",
        ),
        Fault::ConcurrencyError => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("ConcurrencyError"),
            "another operation on this resource is in progress (injected fault)",
        ),
        Fault::RequiresApp => {
            (StatusCode::UNPROCESSABLE_ENTITY, Some("RequiresApp"), "this binding needs an app_guid (injected fault)")
        }
        Fault::MaintenanceInfoConflict => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("MaintenanceInfoConflict"),
            "the maintenance_info version does not match the catalog (injected fault)",
        ),
        _ => return None,
    };
    // A Gone answer carries an empty object, as OSB asks.
    if fault == Fault::Gone {
        return Some(empty(status));
    }
    Some(osb_error(status, code, description))
}

/// The answer the broker gives after doing the work, spoiled by `fault` if it is one of the
/// "orphan" faults: a timeout, a 5xx, a body that is not JSON, or a success code OSB forbids.
pub async fn spoil(broker: &Broker, fault: Option<Fault>, status: StatusCode, body: Value) -> Response {
    match fault {
        Some(Fault::Timeout) => {
            tokio::time::sleep(broker.config.hang_for).await;
            json(status, &body)
        }
        Some(Fault::ServerError) => osb_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "the broker failed while answering; the work may be half done (injected fault)",
        ),
        Some(Fault::BadJson) => raw_json(status, b"{\"operation\": \"op-1\", \"dashboard_url\": ".to_vec()),
        Some(Fault::InvalidStatus) => StatusCode::NO_CONTENT.into_response(),
        _ => json(status, &body),
    }
}
