//! The service-binding endpoints of the built-in broker.

use std::{collections::HashMap, time::Instant};

use axum::{
    Extension,
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use serde_json::{Value, json};

use super::{
    ApiMinor, Shared, credentials,
    faults::Endpoint,
    instances::{
        choose_fault, control_from_query, decide_async, ending, find_plan, last_operation_body, operation_state,
        parse_body, require_ids, validate, with_retry_after,
    },
    reply::{empty, json, osb_error, refusal, spoil},
    state::{Binding, OpKind, Operation, split_parameters},
};
use crate::osb::{catalog::SchemaSlot, wire::BindRequest};

type Params = Query<HashMap<String, String>>;

pub async fn bind(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    Query(query): Params,
    body: Bytes,
) -> Response {
    let request: BindRequest = match parse_body(&body, "bind") {
        Ok(r) => r,
        Err(response) => return response,
    };
    let (parameters, mut control) = split_parameters(request.parameters.clone());
    let fault = match choose_fault(&broker, Endpoint::Bind, &control) {
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
    if !plan.is_bindable(service) {
        return osb_error(StatusCode::BAD_REQUEST, None, &format!("plan {:?} is not bindable", plan.name));
    }
    if let Err(response) = validate(&broker, &plan.id, SchemaSlot::BindingCreate, &parameters) {
        return response;
    }
    // Asynchronous bindings exist since OSB 2.14.
    if minor < 14 {
        control.asynchronous = Some(false);
    }
    let asynchronous = match decide_async(&broker, &query, &control, fault) {
        Ok(asynchronous) => asynchronous,
        Err(response) => return response,
    };
    let (status, body) = {
        let mut state = broker.lock();
        let now = Instant::now();
        state.settle_instance(&instance_id, now);
        state.settle_binding(&binding_id, now);
        match state.instances.get(&instance_id) {
            None => return osb_error(StatusCode::BAD_REQUEST, None, "no instance with this id"),
            Some(instance) if !instance.ready => {
                return osb_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("ConcurrencyError"),
                    "the instance is not provisioned yet",
                );
            }
            Some(instance) if instance.service_id != request.service_id => {
                return osb_error(StatusCode::BAD_REQUEST, None, "service_id does not match the instance's service");
            }
            Some(_) => {}
        }
        if let Some(existing) = state.bindings.get(&binding_id) {
            let identical = existing.instance_id == instance_id
                && existing.plan_id == request.plan_id
                && existing.parameters == parameters;
            return match (&existing.op, identical) {
                (Some(op), true) if op.kind == OpKind::Bind => json(StatusCode::ACCEPTED, &json!({"operation": op.id})),
                (Some(_), true) => osb_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("ConcurrencyError"),
                    "another operation on this binding is in progress",
                ),
                (None, true) => json(StatusCode::OK, &json!({"credentials": existing.credentials})),
                (_, false) => osb_error(
                    StatusCode::CONFLICT,
                    None,
                    "a binding with this id already exists with different attributes",
                ),
            };
        }
        let mut binding = Binding {
            instance_id: instance_id.clone(),
            service_id: request.service_id.clone(),
            plan_id: request.plan_id.clone(),
            credentials: credentials::for_binding(&service.name, &instance_id, &binding_id, &parameters),
            parameters,
            ready: !asynchronous,
            op: None,
            last: None,
        };
        let answer = if asynchronous {
            let op = Operation::new(OpKind::Bind, broker.config.async_delay, ending(fault));
            let body = json!({"operation": op.id});
            binding.op = Some(op);
            (StatusCode::ACCEPTED, body)
        } else {
            (StatusCode::CREATED, json!({"credentials": binding.credentials}))
        };
        tracing::info!(%instance_id, %binding_id, service = %service.name, asynchronous, "binding");
        state.bindings.insert(binding_id, binding);
        answer
    };
    spoil(&broker, fault, status, body).await
}

pub async fn unbind(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    Query(query): Params,
) -> Response {
    if let Err(response) = require_ids(&query) {
        return response;
    }
    let mut control = control_from_query(&query);
    if minor < 14 {
        control.asynchronous = Some(false);
    }
    let fault = match choose_fault(&broker, Endpoint::Unbind, &control) {
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
        let now = Instant::now();
        state.settle_instance(&instance_id, now);
        state.settle_binding(&binding_id, now);
        let Some(binding) = state.bindings.get_mut(&binding_id).filter(|b| b.instance_id == instance_id) else {
            return empty(StatusCode::GONE);
        };
        match &binding.op {
            Some(op) if op.kind == OpKind::Unbind => return json(StatusCode::ACCEPTED, &json!({"operation": op.id})),
            Some(_) => {
                return osb_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("ConcurrencyError"),
                    "another operation on this binding is in progress",
                );
            }
            None => {}
        }
        if asynchronous {
            let op = Operation::new(OpKind::Unbind, broker.config.async_delay, ending(fault));
            let body = json!({"operation": op.id});
            binding.op = Some(op);
            (StatusCode::ACCEPTED, body)
        } else {
            state.bindings.remove(&binding_id);
            (StatusCode::OK, json!({}))
        }
    };
    spoil(&broker, fault, status, body).await
}

pub async fn fetch(State(broker): State<Shared>, Path((instance_id, binding_id)): Path<(String, String)>) -> Response {
    let fault = broker.lock().take_fault(Endpoint::FetchBinding);
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let body = {
        let mut state = broker.lock();
        state.settle_binding(&binding_id, Instant::now());
        let Some(binding) = state.bindings.get(&binding_id).filter(|b| b.instance_id == instance_id) else {
            return osb_error(StatusCode::NOT_FOUND, None, "no binding with this id");
        };
        if !binding.ready {
            return osb_error(StatusCode::NOT_FOUND, None, "the binding is being created or its creation failed");
        }
        json!({"credentials": binding.credentials, "parameters": Value::Object(binding.parameters.clone())})
    };
    spoil(&broker, fault, StatusCode::OK, body).await
}

pub async fn last_operation(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    Query(query): Params,
) -> Response {
    let fault = broker.lock().take_fault(Endpoint::BindingLastOperation);
    if let Some(response) = fault.and_then(refusal) {
        return response;
    }
    let (state, description) = {
        let mut state = broker.lock();
        state.settle_binding(&binding_id, Instant::now());
        let Some(binding) = state.bindings.get(&binding_id).filter(|b| b.instance_id == instance_id) else {
            return empty(StatusCode::GONE);
        };
        match operation_state(binding.op.as_ref(), binding.last.as_ref(), query.get("operation")) {
            Ok(found) => found,
            Err(response) => return response,
        }
    };
    let response = spoil(&broker, fault, StatusCode::OK, last_operation_body(state, description, minor)).await;
    with_retry_after(&broker, state, response)
}
