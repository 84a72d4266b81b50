//! The catalog and the service-instance endpoints of the built-in broker.

// Helpers here return `Err(Response)` to let handlers answer early; the responses are built once
// per request, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

use std::{collections::HashMap, time::Instant};

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::{
    ApiMinor, Broker, Shared,
    catalog::huge_catalog,
    faults::{Endpoint, Fault},
    reply::{empty, json, osb_error, raw_json, refusal, spoil},
    state::{Control, Ending, Instance, OpKind, Operation, PendingUpdate, split_parameters},
};
use crate::osb::{
    catalog::{Plan, SchemaSlot, Service},
    wire::{OperationState, ProvisionRequest, UpdateRequest},
};

type Params = Query<HashMap<String, String>>;

/// Copies of the catalog in the `huge-catalog` fault: about 10 MB, above the client's default limit.
const HUGE_COPIES: usize = 300;

pub async fn catalog(State(broker): State<Shared>, Extension(ApiMinor(minor)): Extension<ApiMinor>) -> Response {
    let fault = broker.lock().take_fault(Endpoint::Catalog);
    let body = broker.catalog_bodies.get(&minor).cloned().unwrap_or_default();
    match fault {
        Some(Fault::SlowCatalog) => {
            tokio::time::sleep(broker.config.slow_for).await;
            raw_json(StatusCode::OK, body)
        }
        Some(Fault::HugeCatalog) => json(StatusCode::OK, &huge_catalog(&broker.catalog, HUGE_COPIES)),
        Some(fault) => match refusal(fault) {
            Some(response) => response,
            None => {
                let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                spoil(&broker, Some(fault), StatusCode::OK, value).await
            }
        },
        None => raw_json(StatusCode::OK, body),
    }
}

pub async fn provision(
    State(broker): State<Shared>,
    Path(instance_id): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Response {
    let request: ProvisionRequest = match parse_body(&body, "provision") {
        Ok(r) => r,
        Err(response) => return response,
    };
    let (parameters, control) = split_parameters(request.parameters.clone());
    let fault = match choose_fault(&broker, Endpoint::Provision, &control) {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let (service, plan) = match find_plan(&broker, &request.service_id, &request.plan_id) {
        Ok(found) => found,
        Err(response) => return response,
    };
    if let Err(response) = validate(&broker, &plan.id, SchemaSlot::InstanceCreate, &parameters) {
        return response;
    }
    if let Err(response) = check_maintenance_info(plan, request.maintenance_info.as_ref().map(|m| m.version.as_str())) {
        return response;
    }
    let asynchronous = match decide_async(&broker, &query, &control, fault) {
        Ok(asynchronous) => asynchronous,
        Err(response) => return response,
    };
    let dashboard_url = dashboard_url(service, &instance_id);
    let (status, body) = {
        let mut state = broker.lock();
        state.settle_instance(&instance_id, Instant::now());
        if let Some(existing) = state.instances.get(&instance_id) {
            let identical = existing.service_id == request.service_id
                && existing.plan_id == request.plan_id
                && existing.parameters == parameters;
            return match (&existing.op, identical) {
                (Some(op), true) if op.kind == OpKind::Provision => {
                    json(StatusCode::ACCEPTED, &json!({"operation": op.id, "dashboard_url": dashboard_url}))
                }
                (Some(_), true) => osb_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("ConcurrencyError"),
                    "another operation on this instance is in progress",
                ),
                (None, true) => json(StatusCode::OK, &json!({"dashboard_url": dashboard_url})),
                (_, false) => osb_error(
                    StatusCode::CONFLICT,
                    None,
                    "an instance with this id already exists with a different service, plan or parameters",
                ),
            };
        }
        let mut instance = Instance {
            service_id: request.service_id.clone(),
            plan_id: request.plan_id.clone(),
            parameters,
            context: request.context.as_ref().and_then(|c| serde_json::to_value(c).ok()),
            maintenance_info: plan.maintenance_info.clone(),
            ready: !asynchronous,
            op: None,
            pending_update: None,
            last: None,
        };
        let answer = if asynchronous {
            let op = Operation::new(OpKind::Provision, broker.config.async_delay, ending(fault));
            let body = json!({"operation": op.id, "dashboard_url": dashboard_url});
            instance.op = Some(op);
            (StatusCode::ACCEPTED, body)
        } else {
            (StatusCode::CREATED, json!({"dashboard_url": dashboard_url}))
        };
        tracing::info!(%instance_id, service = %service.name, plan = %plan.name, asynchronous, "provisioning");
        state.instances.insert(instance_id, instance);
        answer
    };
    spoil(&broker, fault, status, body).await
}

pub async fn update(
    State(broker): State<Shared>,
    Path(instance_id): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Response {
    let request: UpdateRequest = match parse_body(&body, "update") {
        Ok(r) => r,
        Err(response) => return response,
    };
    let (parameters, control) = split_parameters(request.parameters.clone());
    let fault = match choose_fault(&broker, Endpoint::Update, &control) {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let asynchronous = match decide_async(&broker, &query, &control, fault) {
        Ok(asynchronous) => asynchronous,
        Err(response) => return response,
    };
    let (status, body) = {
        let mut state = broker.lock();
        state.settle_instance(&instance_id, Instant::now());
        let Some(instance) = state.instances.get_mut(&instance_id) else {
            return osb_error(StatusCode::BAD_REQUEST, None, "no instance with this id");
        };
        if instance.service_id != request.service_id {
            return osb_error(StatusCode::BAD_REQUEST, None, "service_id does not match the instance's service");
        }
        if instance.op.is_some() {
            return osb_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("ConcurrencyError"),
                "another operation on this instance is in progress",
            );
        }
        let plan_id = request.plan_id.clone().unwrap_or_else(|| instance.plan_id.clone());
        let (service, plan) = match find_plan(&broker, &request.service_id, &plan_id) {
            Ok(found) => found,
            Err(response) => return response,
        };
        if plan_id != instance.plan_id && !plan.is_updateable(service) {
            return osb_error(StatusCode::BAD_REQUEST, None, &format!("plan {:?} cannot be changed to", plan.name));
        }
        if let Err(response) = validate(&broker, &plan.id, SchemaSlot::InstanceUpdate, &parameters) {
            return response;
        }
        if let Err(response) =
            check_maintenance_info(plan, request.maintenance_info.as_ref().map(|m| m.version.as_str()))
        {
            return response;
        }
        let mut merged = instance.parameters.clone();
        merged.extend(parameters);
        let update = PendingUpdate { plan_id, parameters: merged, maintenance_info: request.maintenance_info.clone() };
        if asynchronous {
            let op = Operation::new(OpKind::Update, broker.config.async_delay, ending(fault));
            let body = json!({"operation": op.id});
            instance.op = Some(op);
            instance.pending_update = Some(update);
            (StatusCode::ACCEPTED, body)
        } else {
            instance.plan_id = update.plan_id;
            instance.parameters = update.parameters;
            if update.maintenance_info.is_some() {
                instance.maintenance_info = update.maintenance_info;
            }
            (StatusCode::OK, json!({}))
        }
    };
    spoil(&broker, fault, status, body).await
}

pub async fn deprovision(
    State(broker): State<Shared>,
    Path(instance_id): Path<String>,
    Query(query): Params,
) -> Response {
    if let Err(response) = require_ids(&query) {
        return response;
    }
    let control = control_from_query(&query);
    let fault = match choose_fault(&broker, Endpoint::Deprovision, &control) {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let asynchronous = match decide_async(&broker, &query, &control, fault) {
        Ok(asynchronous) => asynchronous,
        Err(response) => return response,
    };
    let (status, body) = {
        let mut state = broker.lock();
        state.settle_instance(&instance_id, Instant::now());
        let Some(instance) = state.instances.get_mut(&instance_id) else {
            return empty(StatusCode::GONE);
        };
        match &instance.op {
            Some(op) if op.kind == OpKind::Deprovision => {
                return json(StatusCode::ACCEPTED, &json!({"operation": op.id}));
            }
            Some(_) => {
                return osb_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("ConcurrencyError"),
                    "another operation on this instance is in progress",
                );
            }
            None => {}
        }
        if asynchronous {
            let op = Operation::new(OpKind::Deprovision, broker.config.async_delay, ending(fault));
            let body = json!({"operation": op.id});
            instance.op = Some(op);
            (StatusCode::ACCEPTED, body)
        } else {
            state.instances.remove(&instance_id);
            state.bindings.retain(|_, b| b.instance_id != instance_id);
            (StatusCode::OK, json!({}))
        }
    };
    spoil(&broker, fault, status, body).await
}

pub async fn fetch(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path(instance_id): Path<String>,
) -> Response {
    let fault = broker.lock().take_fault(Endpoint::FetchInstance);
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let body = {
        let mut state = broker.lock();
        state.settle_instance(&instance_id, Instant::now());
        let Some(instance) = state.instances.get(&instance_id) else {
            return osb_error(StatusCode::NOT_FOUND, None, "no instance with this id");
        };
        if !instance.ready {
            return osb_error(StatusCode::NOT_FOUND, None, "the instance is being provisioned or its provision failed");
        }
        if instance.op.as_ref().is_some_and(|op| op.kind == OpKind::Update) {
            return osb_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("ConcurrencyError"),
                "the instance is being updated",
            );
        }
        let service = broker.catalog.services.iter().find(|s| s.id == instance.service_id);
        let mut body = json!({
            "service_id": instance.service_id,
            "plan_id": instance.plan_id,
            "parameters": instance.parameters,
        });
        if let Some(service) = service {
            body["dashboard_url"] = json!(dashboard_url(service, &instance_id));
        }
        if minor >= 15
            && let Some(info) = &instance.maintenance_info
        {
            body["maintenance_info"] = json!(info);
        }
        body
    };
    spoil(&broker, fault, StatusCode::OK, body).await
}

pub async fn last_operation(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path(instance_id): Path<String>,
    Query(query): Params,
) -> Response {
    let fault = broker.lock().take_fault(Endpoint::LastOperation);
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let (state, description) = {
        let mut state = broker.lock();
        state.settle_instance(&instance_id, Instant::now());
        let Some(instance) = state.instances.get(&instance_id) else {
            return empty(StatusCode::GONE);
        };
        match operation_state(instance.op.as_ref(), instance.last.as_ref(), query.get("operation")) {
            Ok(found) => found,
            Err(response) => return response,
        }
    };
    let response = spoil(&broker, fault, StatusCode::OK, last_operation_body(state, description, minor)).await;
    with_retry_after(&broker, state, response)
}

/// The state and description `last_operation` reports for an operation id (or the latest).
pub(super) fn operation_state(
    current: Option<&Operation>,
    last: Option<&super::state::Finished>,
    asked: Option<&String>,
) -> Result<(OperationState, String), Response> {
    if let Some(op) = current.filter(|op| asked.is_none_or(|a| *a == op.id)) {
        return Ok((OperationState::InProgress, op.description(OperationState::InProgress)));
    }
    if let Some(last) = last.filter(|l| asked.is_none_or(|a| *a == l.id)) {
        return Ok((last.state, last.description.clone()));
    }
    match asked {
        Some(_) => Err(osb_error(StatusCode::BAD_REQUEST, None, "unknown operation for this resource")),
        None => Ok((OperationState::Succeeded, "no operation in progress".into())),
    }
}

pub(super) fn last_operation_body(state: OperationState, description: String, minor: u32) -> Value {
    let mut body = json!({"state": state, "description": description});
    if state == OperationState::Failed && minor >= 16 {
        body["instance_usable"] = json!(true);
        body["update_repeatable"] = json!(true);
    }
    body
}

pub(super) fn with_retry_after(broker: &Broker, state: OperationState, mut response: Response) -> Response {
    if state == OperationState::InProgress && response.status() == StatusCode::OK {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, broker.retry_after_value());
    }
    response
}

pub(super) fn parse_body<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| osb_error(StatusCode::BAD_REQUEST, None, &format!("the body is not a valid {what} request: {e}")))
}

/// The per-request fault (`parameters._fault`, or `_fault` in the query of a DELETE) or else the
/// broker-wide one.
pub(super) fn choose_fault(broker: &Broker, endpoint: Endpoint, control: &Control) -> Result<Option<Fault>, Response> {
    match &control.fault {
        Some(Value::String(name)) => name
            .parse::<Fault>()
            .map(Some)
            .map_err(|e| osb_error(StatusCode::BAD_REQUEST, None, &format!("parameters._fault: {e}"))),
        Some(_) => Err(osb_error(StatusCode::BAD_REQUEST, None, "parameters._fault must be a string")),
        None => Ok(broker.lock().take_fault(endpoint)),
    }
}

/// `_fault` and `_async` from a DELETE's query (DELETEs carry no parameters).
pub(super) fn control_from_query(query: &HashMap<String, String>) -> Control {
    Control {
        fault: query.get("_fault").map(|f| Value::String(f.clone())),
        asynchronous: query.get("_async").map(|a| a == "true"),
    }
}

/// Whether to answer asynchronously; 422 AsyncRequired when the broker must but the client won't.
pub(super) fn decide_async(
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

pub(super) fn ending(fault: Option<Fault>) -> Ending {
    match fault {
        Some(Fault::AsyncFail) => Ending::Fail,
        Some(Fault::AsyncNever) => Ending::Never,
        _ => Ending::Succeed,
    }
}

pub(super) fn find_plan<'a>(
    broker: &'a Broker,
    service_id: &str,
    plan_id: &str,
) -> Result<(&'a Service, &'a Plan), Response> {
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
pub(super) fn validate(
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

fn check_maintenance_info(plan: &Plan, sent: Option<&str>) -> Result<(), Response> {
    match (sent, plan.maintenance_info.as_ref()) {
        (Some(sent), Some(info)) if sent != info.version => Err(osb_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("MaintenanceInfoConflict"),
            &format!("maintenance_info.version {sent:?} does not match the plan's {:?}", info.version),
        )),
        _ => Ok(()),
    }
}

pub(super) fn require_ids(query: &HashMap<String, String>) -> Result<(), Response> {
    if query.get("service_id").is_none_or(String::is_empty) || query.get("plan_id").is_none_or(String::is_empty) {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, "service_id and plan_id are required query parameters"));
    }
    Ok(())
}

fn dashboard_url(service: &Service, instance_id: &str) -> String {
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
