//! The broker reconciler: fetch the catalog, create and update classes and plans, mark the ones
//! that left the catalog as removed (instances of them keep working), relist on schedule or when
//! `relistRequests` is bumped, and say in conditions what went wrong.

use std::time::Duration;

use app::model::{CatalogProblem, ConditionStatus, Kind, RelistBehavior, ServiceBrokerStatus, condition};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use super::{
    Ctx,
    catalog_sync::{self, Scope},
    conditions::{self, reason},
    instance::{decide::FINALIZER, outcome::describe},
    timing,
};
use crate::{
    osb::outcome::Outcome,
    store::{Deleted, LabelSelector, ListQuery, Result, StoreError},
};

type Requeue = Option<Duration>;

fn has_finalizer(object: &Value) -> bool {
    object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| f.iter().any(|v| v == FINALIZER))
}

fn set_finalizer(object: &mut Value, present: bool) {
    let mut finalizers: Vec<Value> =
        object.pointer("/metadata/finalizers").and_then(Value::as_array).cloned().unwrap_or_default();
    finalizers.retain(|f| f != FINALIZER);
    if present {
        finalizers.push(json!(FINALIZER));
    }
    object["metadata"]["finalizers"] = Value::Array(finalizers);
}

fn i64_at(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub async fn reconcile(ctx: &Ctx, kind: Kind, namespace: &str, name: &str) -> Result<Requeue> {
    let Some(mut broker) = ctx.store.get(kind, namespace, name).await? else { return Ok(None) };
    let Some(scope) = catalog_sync::scope_for(kind, namespace) else { return Ok(None) };
    if broker.pointer("/metadata/deletionTimestamp").is_some() {
        if has_finalizer(&broker) {
            remove_catalog(ctx, &scope, name).await?;
            set_finalizer(&mut broker, false);
            ctx.store.update(kind, broker).await?;
        }
        return Ok(None);
    }
    if !has_finalizer(&broker) {
        set_finalizer(&mut broker, true);
        ctx.store.update(kind, broker).await?;
        return Ok(Some(Duration::ZERO));
    }

    let status: ServiceBrokerStatus =
        serde_json::from_value(broker.get("status").cloned().unwrap_or_default()).unwrap_or_default();
    let generation = i64_at(&broker, "/metadata/generation");
    let relist_requests = i64_at(&broker, "/spec/relistRequests");
    let manual = broker.pointer("/spec/relistBehavior").and_then(Value::as_str) == Some("Manual");
    let period = broker
        .pointer("/spec/relistDuration")
        .and_then(Value::as_str)
        .and_then(catalog_sync::parse_go_duration)
        .unwrap_or(ctx.timing.default_relist);
    let now = timing::now();
    let due = generation > status.reconciled_generation
        || relist_requests > status.observed_relist_requests
        || status.last_catalog_retrieval_time.is_none()
        || !condition::is_true(&status.conditions, condition::READY)
        || (!manual && timing::since(now, status.last_catalog_retrieval_time.as_deref()) >= period);
    if !due {
        let left = period.saturating_sub(timing::since(now, status.last_catalog_retrieval_time.as_deref()));
        return Ok((!manual).then_some(left));
    }
    let key = (kind, namespace.to_string(), name.to_string());

    let started = std::time::Instant::now();
    let fetched = match ctx.clients.for_broker(kind, &broker).await {
        Err(message) => Err(format!("The broker's connection settings are unusable: {message}")),
        Ok(handle) => {
            let _permit = handle.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
            let reply = handle.client.catalog().await;
            match reply.outcome {
                Outcome::Done { body, .. } => Ok(body),
                other => Err(format!("Error fetching the catalog: {}", describe(&other))),
            }
        }
    };
    let now_s = timing::format(now);
    let mut status = status;
    let requeue = match fetched {
        Ok(parsed) => {
            let fetched_in = started.elapsed();
            let desired = catalog_sync::desired(&scope, name, &parsed);
            let services = desired.classes.len();
            let plans = desired.plans.len();
            let desired_in = started.elapsed() - fetched_in;
            sync_catalog(ctx, &scope, name, desired.classes, desired.plans).await?;
            tracing::info!(
                broker = name,
                services,
                plans,
                fetch_ms = fetched_in.as_millis() as u64,
                desired_ms = desired_in.as_millis() as u64,
                write_ms = (started.elapsed() - fetched_in - desired_in).as_millis() as u64,
                "catalog synced"
            );
            status.catalog_problems = desired
                .broker_problems
                .into_iter()
                .map(|(location, message)| CatalogProblem { location, message })
                .collect();
            status.last_catalog_retrieval_time = Some(now_s.clone());
            status.reconciled_generation = generation;
            status.observed_relist_requests = relist_requests;
            let problems = status.catalog_problems.len();
            let message = if problems == 0 {
                format!("Successfully fetched catalog entries from broker: {services} services, {plans} plans.")
            } else {
                format!(
                    "Fetched catalog entries from broker: {services} services, {plans} plans; {problems} problems (see status.catalogProblems)."
                )
            };
            let mut history = Vec::new();
            conditions::set(
                &mut status.conditions,
                &mut history,
                condition::READY,
                ConditionStatus::True,
                reason::FETCHED_CATALOG,
                &message,
                &now_s,
            );
            ctx.relist_failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            (!manual).then_some(period)
        }
        Err(message) => {
            let attempts = {
                let mut failures = ctx.relist_failures.lock().unwrap_or_else(|p| p.into_inner());
                let n = failures.entry(key).or_insert(0);
                *n += 1;
                *n
            };
            let delay = ctx.timing.backoff(attempts);
            let message = format!("{message}; retrying in {}", super::instance::outcome::human(delay));
            let mut history = Vec::new();
            conditions::set(
                &mut status.conditions,
                &mut history,
                condition::READY,
                ConditionStatus::False,
                reason::ERROR_FETCHING_CATALOG,
                &message,
                &now_s,
            );
            status.observed_relist_requests = relist_requests;
            Some(delay)
        }
    };
    broker["status"] = serde_json::to_value(&status).map_err(|e| StoreError::Backend(e.to_string()))?;
    ctx.store.update_status(kind, broker).await?;
    Ok(requeue)
}

fn broker_selector(scope: &Scope, broker: &str) -> ListQuery {
    ListQuery {
        namespace: (*scope != Scope::Cluster).then(|| scope.namespace().to_string()),
        labels: LabelSelector::from_pairs([(scope.broker_label(), catalog_sync::label_value(broker).as_str())]),
        ..ListQuery::default()
    }
}

/// Brings the store's classes and plans of this broker to the desired state, writing only what
/// changed.
async fn sync_catalog(
    ctx: &Ctx,
    scope: &Scope,
    broker: &str,
    classes: std::collections::BTreeMap<String, Value>,
    plans: std::collections::BTreeMap<String, (Value, Vec<String>)>,
) -> Result<()> {
    let query = broker_selector(scope, broker);
    for (kind, desired) in [
        (scope.class_kind(), classes.into_iter().map(|(n, v)| (n, (v, None))).collect::<Vec<_>>()),
        (scope.plan_kind(), plans.into_iter().map(|(n, (v, p))| (n, (v, Some(p)))).collect()),
    ] {
        let existing: std::collections::HashMap<String, Value> = ctx
            .store
            .list(kind, &query)
            .await?
            .items
            .into_iter()
            .map(|o| (o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string(), o))
            .collect();
        let wanted: std::collections::HashSet<String> = desired.iter().map(|(name, _)| name.clone()).collect();
        // Written concurrently, so the store can commit them in groups (SQLite: up to 256 a group).
        let writes = desired.into_iter().map(|(name, (object, problems))| {
            let current = existing.get(&name).cloned();
            async move { sync_one(ctx, kind, broker, name, object, problems, current).await }
        });
        futures::stream::iter(writes).buffer_unordered(256).try_collect::<Vec<()>>().await?;
        for (name, mut object) in existing {
            if wanted.contains(&name) || object.pointer("/status/removedFromBrokerCatalog") == Some(&json!(true)) {
                continue;
            }
            object["status"]["removedFromBrokerCatalog"] = json!(true);
            ctx.store.update_status(kind, object).await?;
        }
    }
    Ok(())
}

/// Creates or updates one class or plan, and its status, writing only what changed.
async fn sync_one(
    ctx: &Ctx,
    kind: Kind,
    broker: &str,
    name: String,
    object: Value,
    problems: Option<Vec<String>>,
    existing: Option<Value>,
) -> Result<()> {
    let current = match existing {
        None => match ctx.store.create(kind, object.clone()).await {
            Ok(created) => created,
            Err(StoreError::AlreadyExists { .. }) => {
                // Another broker's object of the same id: say so rather than take it over.
                tracing::warn!(%kind, %name, broker, "an object of this name belongs to another broker; skipped");
                return Ok(());
            }
            Err(e) => return Err(e),
        },
        Some(current) => {
            if current.get("spec") != object.get("spec")
                || current.pointer("/metadata/labels") != object.pointer("/metadata/labels")
            {
                let mut next = current.clone();
                next["spec"] = object["spec"].clone();
                next["metadata"]["labels"] = object["metadata"]["labels"].clone();
                ctx.store.update(kind, next).await?
            } else {
                current
            }
        }
    };
    let mut status = json!({"removedFromBrokerCatalog": false});
    if let Some(problems) = problems.filter(|p| !p.is_empty()) {
        status["problems"] = json!(problems);
    }
    // No status at all means the same as the default one: no write needed.
    let current_status = current.get("status").cloned().unwrap_or_else(|| json!({"removedFromBrokerCatalog": false}));
    if current_status != status {
        let mut next = current;
        next["status"] = status;
        ctx.store.update_status(kind, next).await?;
    }
    Ok(())
}

/// A deleted broker takes its classes and plans with it.
async fn remove_catalog(ctx: &Ctx, scope: &Scope, broker: &str) -> Result<()> {
    let query = broker_selector(scope, broker);
    for kind in [scope.plan_kind(), scope.class_kind()] {
        for object in ctx.store.list(kind, &query).await?.items {
            let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            match ctx.store.delete(kind, ns, name, None).await {
                Ok(Deleted::Gone(_) | Deleted::Pending(_)) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Relist-due test helper for callers that want to know without reconciling.
pub fn relist_behavior(broker: &Value) -> RelistBehavior {
    if broker.pointer("/spec/relistBehavior").and_then(Value::as_str) == Some("Manual") {
        RelistBehavior::Manual
    } else {
        RelistBehavior::Duration
    }
}
