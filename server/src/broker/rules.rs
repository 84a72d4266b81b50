//! What the instance and binding endpoints share: reading a request (body, `_fault`, `_async`),
//! the checks OSB asks of a broker, and the shape of `last_operation` answers.

// Helpers here return `Err(Response)` to let handlers answer early; the responses are built once
// per request, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::{http::StatusCode, response::Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{
    Broker,
    faults::{Endpoint, Fault},
    reply::osb_error,
    state::{Control, Ending, Operation},
};
use crate::osb::{
    catalog::{Plan, SchemaSlot, Service},
    wire::OperationState,
};

/// What `last_operation` reports: the operation asked for (or the newest), already settled.
pub fn report(op: Option<Operation>, asked: Option<&String>) -> Result<(OperationState, String), Response> {
    match (op, asked) {
        (Some(op), _) => Ok((op.state, op.description)),
        (None, Some(_)) => Err(osb_error(StatusCode::BAD_REQUEST, None, "unknown operation for this resource")),
        (None, None) => Ok((OperationState::Succeeded, "no operation in progress".into())),
    }
}

pub fn last_operation_body(state: OperationState, description: String, minor: u32) -> Value {
    let mut body = json!({"state": state, "description": description});
    if state == OperationState::Failed && minor >= 16 {
        body["instance_usable"] = json!(true);
        body["update_repeatable"] = json!(true);
    }
    body
}

/// Adds `Retry-After` to an `in progress` answer for clients of OSB 2.15 and later (the version
/// that introduced it on last_operation).
pub fn with_retry_after(broker: &Broker, state: OperationState, minor: u32, mut response: Response) -> Response {
    if state == OperationState::InProgress && response.status() == StatusCode::OK && minor >= 15 {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, broker.retry_after_value());
    }
    response
}

pub fn parse_body<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| osb_error(StatusCode::BAD_REQUEST, None, &format!("the body is not a valid {what} request: {e}")))
}

/// The per-request fault (`parameters._fault`, or `_fault` in the query of a DELETE) or else the
/// broker-wide one.
pub fn choose_fault(broker: &Broker, endpoint: Endpoint, control: &Control) -> Result<Option<Fault>, Response> {
    match &control.fault {
        Some(Value::String(name)) => name
            .parse::<Fault>()
            .map(Some)
            .map_err(|e| osb_error(StatusCode::BAD_REQUEST, None, &format!("parameters._fault: {e}"))),
        Some(_) => Err(osb_error(StatusCode::BAD_REQUEST, None, "parameters._fault must be a string")),
        None => Ok(broker.memory().take_fault(endpoint)),
    }
}

/// `_fault` and `_async` from a DELETE's query (DELETEs carry no parameters).
pub fn control_from_query(query: &HashMap<String, String>) -> Control {
    Control {
        fault: query.get("_fault").map(|f| Value::String(f.clone())),
        asynchronous: query.get("_async").map(|a| a == "true"),
    }
}

/// Whether to answer asynchronously; 422 AsyncRequired when the broker must but the client won't.
pub fn decide_async(
    broker: &Broker,
    query: &HashMap<String, String>,
    control: &Control,
    fault: Option<Fault>,
) -> Result<bool, Response> {
    let forced = matches!(fault, Some(Fault::AsyncFail | Fault::AsyncNever));
    let wanted = forced || control.asynchronous.unwrap_or(broker.config.asynchronous);
    let accepts = query.get("accepts_incomplete").is_some_and(|v| v == "true");
    match (wanted, accepts) {
        (true, true) => Ok(true),
        // Configured async but the client can't: do it synchronously unless a fault forces async.
        (true, false) if !forced && control.asynchronous != Some(true) => Ok(false),
        (true, false) => Err(osb_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("AsyncRequired"),
            "this request can only be served asynchronously; send accepts_incomplete=true",
        )),
        (false, _) => Ok(false),
    }
}

pub fn ending(fault: Option<Fault>) -> Ending {
    match fault {
        Some(Fault::AsyncFail) => Ending::Fail,
        Some(Fault::AsyncNever) => Ending::Never,
        _ => Ending::Succeed,
    }
}

pub fn find_plan<'a>(broker: &'a Broker, service_id: &str, plan_id: &str) -> Result<(&'a Service, &'a Plan), Response> {
    let Some(service) = broker.catalog.services.iter().find(|s| s.id == service_id) else {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, &format!("unknown service_id {service_id:?}")));
    };
    let Some(plan) = service.plans.iter().find(|p| p.id == plan_id) else {
        return Err(osb_error(
            StatusCode::BAD_REQUEST,
            None,
            &format!("plan_id {plan_id:?} is not a plan of service {:?}", service.name),
        ));
    };
    Ok((service, plan))
}

/// Checks parameters against the plan's schema; the answer names each failing field.
pub fn validate(
    broker: &Broker,
    plan_id: &str,
    slot: SchemaSlot,
    parameters: &Map<String, Value>,
) -> Result<(), Response> {
    let Some(validator) = broker.validators.get(&(plan_id.to_string(), slot)) else { return Ok(()) };
    let instance = Value::Object(parameters.clone());
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(5)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() { e.to_string() } else { format!("{}: {e}", path.trim_start_matches('/')) }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(osb_error(StatusCode::BAD_REQUEST, None, &format!("invalid parameters: {}", errors.join("; "))))
    }
}

pub fn check_maintenance_info(plan: &Plan, sent: Option<&str>) -> Result<(), Response> {
    match (sent, plan.maintenance_info.as_ref()) {
        (Some(sent), Some(info)) if sent != info.version => Err(osb_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("MaintenanceInfoConflict"),
            &format!("maintenance_info.version {sent:?} does not match the plan's {:?}", info.version),
        )),
        _ => Ok(()),
    }
}

pub fn require_ids(query: &HashMap<String, String>) -> Result<(), Response> {
    if query.get("service_id").is_none_or(String::is_empty) || query.get("plan_id").is_none_or(String::is_empty) {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, "service_id and plan_id are required query parameters"));
    }
    Ok(())
}

/// 422 ConcurrencyError: another operation on the resource is in progress.
pub fn busy(what: &str) -> Response {
    osb_error(StatusCode::UNPROCESSABLE_ENTITY, Some("ConcurrencyError"), what)
}

pub fn dashboard_url(service: &Service, instance_id: &str) -> String {
    format!("https://console.hadoop.example.com/{}/{}", service.name, urlencode(instance_id))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
