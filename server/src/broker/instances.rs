//! The catalog and the service-instance endpoints of the built-in broker. Each handler answers
//! `Err(response)` to stop early (a refusal, or a database failure as a 500).

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
    ApiMinor, Shared,
    catalog::huge_catalog,
    faults::{Endpoint, Fault},
    reply::{empty, json, osb_error, raw_json, refusal, spoil},
    rules::{
        busy, check_maintenance_info, choose_fault, control_from_query, dashboard_url, decide_async, ending, find_plan,
        last_operation_body, parse_body, report, require_ids, validate, with_retry_after,
    },
    state::{Instance, OpKind, Operation, PendingUpdate, now_ms, split_parameters},
};
use crate::osb::{
    catalog::SchemaSlot,
    wire::{ProvisionRequest, UpdateRequest},
};

type Params = Query<HashMap<String, String>>;
type Answer = Result<Response, Response>;

/// Copies of the catalog in the `huge-catalog` fault: about 10 MB, above the client's default limit.
const HUGE_COPIES: usize = 300;

pub async fn catalog(State(broker): State<Shared>, Extension(ApiMinor(minor)): Extension<ApiMinor>) -> Response {
    let fault = broker.memory().take_fault(Endpoint::Catalog);
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
) -> Answer {
    let request: ProvisionRequest = parse_body(&body, "provision")?;
    let (parameters, control) = split_parameters(request.parameters.clone());
    let fault = choose_fault(&broker, Endpoint::Provision, &control)?;
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let (service, plan) = find_plan(&broker, &request.service_id, &request.plan_id)?;
    validate(&broker, &plan.id, SchemaSlot::InstanceCreate, &parameters)?;
    check_maintenance_info(plan, request.maintenance_info.as_ref().map(|m| m.version.as_str()))?;
    let asynchronous = decide_async(&broker, &query, &control, fault)?;
    let dashboard_url = dashboard_url(service, &instance_id);
    let now = now_ms();
    let mut tx = broker.db.begin().await?;
    if let Some(existing) = tx.instance(&instance_id, now).await? {
        let identical = existing.service_id == request.service_id
            && existing.plan_id == request.plan_id
            && existing.parameters == parameters;
        tx.commit().await?;
        return Ok(match (&existing.op, identical) {
            (Some(op), true) if op.kind == OpKind::Provision => {
                json(StatusCode::ACCEPTED, &json!({"operation": op.id, "dashboard_url": dashboard_url}))
            }
            (Some(_), true) => busy("another operation on this instance is in progress"),
            (None, true) => json(StatusCode::OK, &json!({"dashboard_url": dashboard_url})),
            (_, false) => osb_error(
                StatusCode::CONFLICT,
                None,
                "an instance with this id already exists with a different service, plan or parameters",
            ),
        });
    }
    let instance = Instance {
        id: instance_id.clone(),
        service_id: request.service_id.clone(),
        plan_id: request.plan_id.clone(),
        parameters,
        context: request.context.as_ref().and_then(|c| serde_json::to_value(c).ok()),
        maintenance_info: plan.maintenance_info.clone(),
        ready: !asynchronous,
        op: None,
    };
    tx.insert_instance(&instance, now).await?;
    let (status, body) = if asynchronous {
        let op = Operation::start(OpKind::Provision, broker.config.async_delay, ending(fault), now);
        tx.start_operation(&instance_id, None, &op).await?;
        (StatusCode::ACCEPTED, json!({"operation": op.id, "dashboard_url": dashboard_url}))
    } else {
        (StatusCode::CREATED, json!({"dashboard_url": dashboard_url}))
    };
    tx.commit().await?;
    tracing::info!(%instance_id, service = %service.name, plan = %plan.name, asynchronous, "provisioning");
    Ok(spoil(&broker, fault, status, body).await)
}

pub async fn update(
    State(broker): State<Shared>,
    Path(instance_id): Path<String>,
    Query(query): Params,
    body: Bytes,
) -> Answer {
    let request: UpdateRequest = parse_body(&body, "update")?;
    let (parameters, control) = split_parameters(request.parameters.clone());
    let fault = choose_fault(&broker, Endpoint::Update, &control)?;
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let asynchronous = decide_async(&broker, &query, &control, fault)?;
    let now = now_ms();
    let mut tx = broker.db.begin().await?;
    let Some(mut instance) = tx.instance(&instance_id, now).await? else {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, "no instance with this id"));
    };
    if instance.service_id != request.service_id {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, "service_id does not match the instance's service"));
    }
    if instance.op.is_some() {
        return Err(busy("another operation on this instance is in progress"));
    }
    let plan_id = request.plan_id.clone().unwrap_or_else(|| instance.plan_id.clone());
    let (service, plan) = find_plan(&broker, &request.service_id, &plan_id)?;
    if plan_id != instance.plan_id && !plan.is_updateable(service) {
        return Err(osb_error(StatusCode::BAD_REQUEST, None, &format!("plan {:?} cannot be changed to", plan.name)));
    }
    validate(&broker, &plan.id, SchemaSlot::InstanceUpdate, &parameters)?;
    check_maintenance_info(plan, request.maintenance_info.as_ref().map(|m| m.version.as_str()))?;
    let mut merged = instance.parameters.clone();
    merged.extend(parameters);
    let update = PendingUpdate { plan_id, parameters: merged, maintenance_info: request.maintenance_info.clone() };
    let (status, body) = if asynchronous {
        let mut op = Operation::start(OpKind::Update, broker.config.async_delay, ending(fault), now);
        op.pending_update = Some(update);
        tx.start_operation(&instance_id, None, &op).await?;
        (StatusCode::ACCEPTED, json!({"operation": op.id}))
    } else {
        instance.apply(update);
        tx.save_instance(&instance, now).await?;
        (StatusCode::OK, json!({}))
    };
    tx.commit().await?;
    Ok(spoil(&broker, fault, status, body).await)
}

pub async fn deprovision(
    State(broker): State<Shared>,
    Path(instance_id): Path<String>,
    Query(query): Params,
) -> Answer {
    require_ids(&query)?;
    let control = control_from_query(&query);
    let fault = choose_fault(&broker, Endpoint::Deprovision, &control)?;
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let asynchronous = decide_async(&broker, &query, &control, fault)?;
    let now = now_ms();
    let mut tx = broker.db.begin().await?;
    let Some(instance) = tx.instance(&instance_id, now).await? else {
        tx.commit().await?;
        return Ok(empty(StatusCode::GONE));
    };
    match &instance.op {
        Some(op) if op.kind == OpKind::Deprovision => {
            return Ok(json(StatusCode::ACCEPTED, &json!({"operation": op.id})));
        }
        Some(_) => return Err(busy("another operation on this instance is in progress")),
        None => {}
    }
    let (status, body) = if asynchronous {
        let op = Operation::start(OpKind::Deprovision, broker.config.async_delay, ending(fault), now);
        tx.start_operation(&instance_id, None, &op).await?;
        (StatusCode::ACCEPTED, json!({"operation": op.id}))
    } else {
        tx.delete_instance(&instance_id).await?;
        (StatusCode::OK, json!({}))
    };
    tx.commit().await?;
    Ok(spoil(&broker, fault, status, body).await)
}

pub async fn fetch(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path(instance_id): Path<String>,
) -> Answer {
    let fault = broker.memory().take_fault(Endpoint::FetchInstance);
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let mut tx = broker.db.begin().await?;
    let instance = tx.instance(&instance_id, now_ms()).await?;
    tx.commit().await?;
    let Some(instance) = instance else {
        return Err(osb_error(StatusCode::NOT_FOUND, None, "no instance with this id"));
    };
    if !instance.ready {
        return Err(osb_error(
            StatusCode::NOT_FOUND,
            None,
            "the instance is being provisioned or its provision failed",
        ));
    }
    if instance.op.as_ref().is_some_and(|op| op.kind == OpKind::Update) {
        return Err(busy("the instance is being updated"));
    }
    let mut body = json!({
        "service_id": instance.service_id,
        "plan_id": instance.plan_id,
        "parameters": instance.parameters,
    });
    if let Some(service) = broker.catalog.services.iter().find(|s| s.id == instance.service_id) {
        body["dashboard_url"] = json!(dashboard_url(service, &instance_id));
    }
    if minor >= 15
        && let Some(info) = &instance.maintenance_info
    {
        body["maintenance_info"] = json!(info);
    }
    Ok(spoil(&broker, fault, StatusCode::OK, body).await)
}

pub async fn last_operation(
    State(broker): State<Shared>,
    Extension(ApiMinor(minor)): Extension<ApiMinor>,
    Path(instance_id): Path<String>,
    Query(query): Params,
) -> Answer {
    let fault = broker.memory().take_fault(Endpoint::LastOperation);
    if let Some(response) = fault.and_then(refusal) {
        return Ok(response);
    }
    let asked = query.get("operation");
    let mut tx = broker.db.begin().await?;
    if tx.instance(&instance_id, now_ms()).await?.is_none() {
        tx.commit().await?;
        return Ok(empty(StatusCode::GONE));
    }
    let op = tx.operation(&instance_id, None, asked.map(String::as_str)).await?;
    tx.commit().await?;
    let (state, description) = report(op, asked)?;
    let response = spoil(&broker, fault, StatusCode::OK, last_operation_body(state, description, minor)).await;
    Ok(with_retry_after(&broker, state, minor, response))
}
