//! The service-binding endpoints of the built-in broker. Each handler answers `Err(response)` to
//! stop early (a refusal, or a database failure as a 500).

use std::collections::HashMap;

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
    reply::{empty, json, osb_error, refusal, spoil},
    rules::{
        busy, choose_fault, control_from_query, decide_async, ending, find_plan, last_operation_body, parse_body,
        report, require_ids, validate, with_retry_after,
    },
    state::{Binding, OpKind, Operation, now_ms, split_parameters},
};
use crate::osb::{catalog::SchemaSlot, wire::BindRequest};

type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, Response>;

pub async fn bind(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    Query(query): Params,
    body: Bytes,
) -> Answer {
    let request: BindRequest = parse_body(&body, "bind")?;
    let (parameters, mut control) = split_parameters(request.parameters.clone());
    let fault = choose_fault(&broker, Endpoint::Bind, &control)?;
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let (service, plan) = find_plan(&broker, &request.service_id, &request.plan_id)?;
    if !plan.is_bindable(service) {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, &format!("plan {:?} is not bindable", plan.name)));
    }
    validate(&broker, &plan.id, SchemaSlot::BindingCreate, &parameters)?;
    // Asynchronous bindings exist since OSB 2.14.
    if minor < 14 {
        control.asynchronous = Some(false);
    }
    let asynchronous = decide_async(&broker, &query, &control, fault)?;
    let now = now_ms();
    let mut tx = broker.db.begin().await?;
    match tx.instance(&instance_id, now).await? {
        None => return Err(osb_error(StatusCode::BAD_REQUEST, None, "no instance with this id")),
        Some(instance) if !instance.ready => return Err(busy("the instance is not provisioned yet")),
        Some(instance) if instance.service_id != request.service_id => {
            return Err(osb_error(StatusCode::BAD_REQUEST, None, "service_id does not match the instance's service"));
        }
        Some(_) => {}
    }
    if let Some(existing) = tx.binding(&binding_id, now).await? {
        let identical = existing.instance_id == instance_id
            && existing.plan_id == request.plan_id
            && existing.parameters == parameters;
        tx.commit().await?;
        return Ok(match (&existing.op, identical) {
            (Some(op), true) if op.kind == OpKind::Bind => json(StatusCode::ACCEPTED, &json!({"operation": op.id})),
            (Some(_), true) => busy("another operation on this binding is in progress"),
            (None, true) => json(StatusCode::OK, &json!({"credentials": existing.credentials})),
            (_, false) => {
                osb_error(StatusCode::CONFLICT, None, "a binding with this id already exists with different attributes")
            }
        });
    }
    let binding = Binding {
        id: binding_id.clone(),
        instance_id: instance_id.clone(),
        service_id: request.service_id.clone(),
        plan_id: request.plan_id.clone(),
        credentials: credentials::for_binding(&service.name, &instance_id, &binding_id, &parameters),
        parameters,
        ready: !asynchronous,
        op: None,
    };
    tx.insert_binding(&binding, now).await?;
    let (status, body) = if asynchronous {
        let op = Operation::start(OpKind::Bind, broker.config.async_delay, ending(fault), now);
        tx.start_operation(&instance_id, Some(&binding_id), &op).await?;
        (StatusCode::ACCEPTED, json!({"operation": op.id}))
    } else {
        (StatusCode::CREATED, json!({"credentials": binding.credentials}))
    };
    tx.commit().await?;
    tracing::info!(%instance_id, %binding_id, service = %service.name, asynchronous, "binding");
    Ok(spoil(&broker, fault, status, body).await)
}

pub async fn unbind(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    Query(query): Params,
) -> Answer {
    require_ids(&query)?;
    let mut control = control_from_query(&query);
    if minor < 14 {
        control.asynchronous = Some(false);
    }
    let fault = choose_fault(&broker, Endpoint::Unbind, &control)?;
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let asynchronous = decide_async(&broker, &query, &control, fault)?;
    let now = now_ms();
    let mut tx = broker.db.begin().await?;
    // Settles the instance first: a finished deprovision takes its bindings with it.
    tx.instance(&instance_id, now).await?;
    let Some(binding) = tx.binding(&binding_id, now).await?.filter(|b| b.instance_id == instance_id) else {
        tx.commit().await?;
        return Ok(empty(StatusCode::GONE));
    };
    match &binding.op {
        Some(op) if op.kind == OpKind::Unbind => return Ok(json(StatusCode::ACCEPTED, &json!({"operation": op.id}))),
        Some(_) => return Err(busy("another operation on this binding is in progress")),
        None => {}
    }
    let (status, body) = if asynchronous {
        let op = Operation::start(OpKind::Unbind, broker.config.async_delay, ending(fault), now);
        tx.start_operation(&instance_id, Some(&binding_id), &op).await?;
        (StatusCode::ACCEPTED, json!({"operation": op.id}))
    } else {
        tx.delete_binding(&binding_id).await?;
        (StatusCode::OK, json!({}))
    };
    tx.commit().await?;
    Ok(spoil(&broker, fault, status, body).await)
}

pub async fn fetch(State(broker): State<Shared>, Path((instance_id, binding_id)): Path<(String, String)>) -> Answer {
    let fault = broker.memory().take_fault(Endpoint::FetchBinding);
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let mut tx = broker.db.begin().await?;
    let binding = tx.binding(&binding_id, now_ms()).await?;
    tx.commit().await?;
    let Some(binding) = binding.filter(|b| b.instance_id == instance_id) else {
        return Err(osb_error(StatusCode::NOT_FOUND, None, "no binding with this id"));
    };
    if !binding.ready {
        return Err(osb_error(StatusCode::NOT_FOUND, None, "the binding is being created or its creation failed"));
    }
    let body = json!({"credentials": binding.credentials, "parameters": Value::Object(binding.parameters)});
    Ok(spoil(&broker, fault, StatusCode::OK, body).await)
}

pub async fn last_operation(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path((instance_id, binding_id)): Path<(String, String)>,
    Query(query): Params,
) -> Answer {
    let fault = broker.memory().take_fault(Endpoint::BindingLastOperation);
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let asked = query.get("operation");
    let mut tx = broker.db.begin().await?;
    if tx.binding(&binding_id, now_ms()).await?.filter(|b| b.instance_id == instance_id).is_none() {
        tx.commit().await?;
        return Ok(empty(StatusCode::GONE));
    }
    let op = tx.operation(&instance_id, Some(&binding_id), asked.map(String::as_str)).await?;
    tx.commit().await?;
    let (state, description) = report(op, asked)?;
    let response = spoil(&broker, fault, StatusCode::OK, last_operation_body(state, description, minor)).await;
    Ok(with_retry_after(&broker, state, minor, response))
}
