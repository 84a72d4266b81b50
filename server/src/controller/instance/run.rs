//! Performs the one effect `decide` chose for an instance: record, call the broker, record the
//! answer.

use std::{sync::Arc, time::Duration};

use app::model::{
    ConditionStatus, InstanceOperation, InstancePropertiesState, ProvisionStatus, ServiceInstance, condition,
};
use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{
    decide::{self, Action, FINALIZER, Sending},
    outcome::{self, Requeue},
};
use crate::{
    controller::{
        Ctx,
        cache::PlanBy,
        catalog_sync::Scope,
        clients::BrokerHandle,
        conditions::{self, reason},
        params, timing,
    },
    osb::{
        catalog::MaintenanceInfo,
        client::LastOperationQuery,
        wire::{Context, OriginatingIdentity, PreviousValues, ProvisionRequest, UpdateRequest},
    },
    store::{Result, StoreError},
};

/// The class, plan and broker an instance is (or will be) provisioned from.
pub(crate) struct Target {
    pub scope: Scope,
    pub class: Arc<Value>,
    pub plan: Arc<Value>,
    pub broker: BrokerHandle,
}

impl Target {
    pub fn service_id(&self) -> String {
        str_at(&self.class, "/spec/externalID").to_string()
    }
    pub fn plan_id(&self) -> String {
        str_at(&self.plan, "/spec/externalID").to_string()
    }
    pub fn plan_name(&self) -> String {
        str_at(&self.plan, "/spec/externalName").to_string()
    }
    fn maintenance_info(&self) -> Option<MaintenanceInfo> {
        self.plan.pointer("/spec/maintenanceInfo").and_then(|m| serde_json::from_value(m.clone()).ok())
    }
    fn max_polling(&self, default: Duration) -> Duration {
        self.plan.pointer("/spec/maximumPollingDuration").and_then(Value::as_u64).map_or(default, Duration::from_secs)
    }
}

pub(crate) fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

pub(crate) fn identity(user: Option<&app::model::UserInfo>) -> Option<OriginatingIdentity> {
    user.map(|u| {
        let groups: Vec<&str> = u.groups.iter().map(String::as_str).collect();
        OriginatingIdentity::new(&u.username, &u.uid, &groups)
    })
}

/// Why an instance cannot be resolved to a plan: (reason, message).
pub(crate) type Unresolved = (&'static str, String);

/// Finds class, plan and broker: by what the broker holds (`held_plan_id`) when given, else by
/// the names in the spec.
pub(crate) async fn resolve(
    ctx: &Ctx,
    instance: &ServiceInstance,
    held_plan_id: Option<&str>,
) -> std::result::Result<Target, Unresolved> {
    let spec = &instance.spec;
    let namespace = instance.metadata.namespace.as_deref().unwrap_or_default();
    let scope = if spec.plan.service_class_external_name.is_some() || spec.plan.service_class_name.is_some() {
        Scope::Namespace(namespace.to_string())
    } else {
        Scope::Cluster
    };
    let class_name_field = spec.plan.cluster_service_class_name.as_deref().or(spec.plan.service_class_name.as_deref());
    let class = match (spec.class_external_name(), class_name_field) {
        (Some(external), _) => ctx.cache.class_by_external_name(&scope, external),
        (None, Some(name)) => ctx.cache.get(scope.class_kind(), scope.namespace(), name),
        (None, None) => match spec
            .plan
            .cluster_service_class_external_id
            .as_deref()
            .or(spec.plan.service_class_external_id.as_deref())
        {
            Some(id) => ctx.cache.class_by_external_id(&scope, id),
            None => return Err((reason::NONEXISTENT_CLASS, "The instance names no service class".into())),
        },
    };
    let Some(class) = class else {
        let named = spec.class_external_name().or(class_name_field).unwrap_or("?");
        return Err((
            reason::NONEXISTENT_CLASS,
            format!("The instance references a service class {named:?} that does not exist"),
        ));
    };
    let class_object_name = str_at(&class, "/metadata/name");
    let plan = match held_plan_id {
        Some(id) => ctx.cache.plan_of_class(&scope, class_object_name, PlanBy::ExternalId(id)),
        None => match spec.plan_external_name() {
            Some(name) => ctx.cache.plan_of_class(&scope, class_object_name, PlanBy::ExternalName(name)),
            None => spec
                .plan
                .cluster_service_plan_external_id
                .as_deref()
                .or(spec.plan.service_plan_external_id.as_deref())
                .and_then(|id| ctx.cache.plan_of_class(&scope, class_object_name, PlanBy::ExternalId(id))),
        },
    };
    let Some(plan) = plan else {
        let named = held_plan_id.or(spec.plan_external_name()).unwrap_or("?");
        return Err((
            reason::NONEXISTENT_PLAN,
            format!(
                "The instance references a plan {named:?} that service class {:?} does not have",
                str_at(&class, "/spec/externalName")
            ),
        ));
    };
    let broker_name = str_at(&class, &format!("/spec/{}", scope.broker_field())).to_string();
    let Some(broker) = ctx.cache.get(scope.broker_kind(), scope.namespace(), &broker_name) else {
        return Err((
            reason::NONEXISTENT_BROKER,
            format!("The broker {broker_name:?} of this service class does not exist"),
        ));
    };
    let handle = ctx
        .clients
        .for_broker(scope.broker_kind(), &broker)
        .await
        .map_err(|m| (reason::NONEXISTENT_BROKER, format!("The broker {broker_name:?} cannot be called: {m}")))?;
    Ok(Target { scope, class, plan, broker: handle })
}

pub async fn reconcile(ctx: &Ctx, namespace: &str, name: &str) -> Result<Requeue> {
    let Some(mut instance) = ctx.typed.get::<ServiceInstance>(namespace, name).await? else { return Ok(None) };
    let now = timing::now();
    let action = decide::next_action(&instance, now);
    tracing::debug!(namespace, name, ?action, "instance");
    match action {
        Action::Nothing => Ok(None),
        Action::WaitUntil(at) => Ok(Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))),
        Action::AddFinalizer => {
            instance.metadata.finalizers.push(FINALIZER.to_string());
            // Objects written straight to a Kubernetes API server (kubectl) come without the OSB
            // id the embedded store fills in on create; it is set once, with the finalizer.
            if instance.spec.external_id.is_empty() {
                instance.spec.external_id = uuid::Uuid::new_v4().to_string();
            }
            ctx.typed.update(&instance).await?;
            Ok(Some(Duration::ZERO))
        }
        Action::RemoveFinalizer => {
            instance.metadata.finalizers.retain(|f| f != FINALIZER);
            ctx.typed.update(&instance).await?;
            Ok(None)
        }
        Action::Provision => provision_or_update(ctx, instance, InstanceOperation::Provision, now).await,
        Action::Update => provision_or_update(ctx, instance, InstanceOperation::Update, now).await,
        Action::Poll => poll(ctx, instance, now).await,
        Action::Deprovision { orphan_mitigation } => deprovision(ctx, instance, orphan_mitigation, now).await,
    }
}

/// Records a failure to even call the broker (unresolvable plan, bad parameters): retried with
/// backoff when waiting may help, final for this generation otherwise.
async fn cannot_call(
    ctx: &Ctx,
    mut instance: ServiceInstance,
    reason: &str,
    message: String,
    transient: bool,
    now: Timestamp,
) -> Result<Requeue> {
    let now_s = timing::format(now);
    let provisioned = instance.status.provision_status == ProvisionStatus::Provisioned;
    let ready = if provisioned { ConditionStatus::True } else { ConditionStatus::False };
    let s = &mut instance.status;
    s.observed_generation = instance.metadata.generation.unwrap_or(1);
    let requeue = if transient {
        s.attempts += 1;
        let delay = ctx.timing.backoff(s.attempts);
        s.next_attempt_time = Some(timing::after(now, delay));
        let message = format!("{message}; retrying in {}", outcome::human(delay));
        conditions::set(&mut s.conditions, &mut s.history, condition::READY, ready, reason, &message, &now_s);
        Some(delay)
    } else {
        s.reconciled_generation = s.observed_generation;
        s.current_operation = None;
        s.in_progress_properties = None;
        conditions::set(&mut s.conditions, &mut s.history, condition::READY, ready, reason, &message, &now_s);
        conditions::set(
            &mut s.conditions,
            &mut s.history,
            condition::FAILED,
            ConditionStatus::True,
            reason,
            &message,
            &now_s,
        );
        None
    };
    ctx.typed.update_status(&instance).await?;
    Ok(requeue)
}

async fn provision_or_update(
    ctx: &Ctx,
    instance: ServiceInstance,
    operation: InstanceOperation,
    now: Timestamp,
) -> Result<Requeue> {
    let target = match resolve(ctx, &instance, None).await {
        Ok(t) => t,
        Err((reason, message)) => return cannot_call(ctx, instance, reason, message, true, now).await,
    };
    let removed = target.plan.pointer("/status/removedFromBrokerCatalog").and_then(Value::as_bool).unwrap_or(false);
    if removed && operation == InstanceOperation::Provision {
        let message = format!(
            "The plan {:?} was removed from the broker's catalog and cannot be provisioned",
            target.plan_name()
        );
        return cannot_call(ctx, instance, reason::NONEXISTENT_PLAN, message, false, now).await;
    }
    let namespace = instance.metadata.namespace.clone().unwrap_or_default();
    let parameters = match params::resolve(
        ctx.store.as_ref(),
        &namespace,
        instance.spec.parameters.as_ref(),
        &instance.spec.parameters_from,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return cannot_call(ctx, instance, reason::INVALID_PARAMETERS, e.message, e.transient, now).await,
    };
    let mut properties = InstancePropertiesState {
        parameters: Some(Value::Object(parameters.shown.clone())),
        parameter_checksum: parameters.checksum.clone(),
        user_info: instance.spec.user_info.clone(),
        maintenance_info_version: target.maintenance_info().map(|m| m.version),
        ..Default::default()
    };
    if target.scope == Scope::Cluster {
        properties.cluster_service_plan_external_name = target.plan_name();
        properties.cluster_service_plan_external_id = target.plan_id();
    } else {
        properties.service_plan_external_name = target.plan_name();
        properties.service_plan_external_id = target.plan_id();
    }
    let mut recorded = instance;
    decide::begin(&mut recorded, operation, Sending { properties }, now);
    let recorded = ctx.typed.update_status(&recorded).await?;

    let external_id = recorded.spec.external_id.clone();
    let identity = identity(recorded.spec.user_info.as_ref());
    let context = Context::kubernetes(&namespace, &ctx.cluster_id, &recorded.metadata.name);
    let merged = (!parameters.merged.is_empty()).then_some(parameters.merged);
    let _permit = target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
    if operation == InstanceOperation::Provision {
        let request = ProvisionRequest {
            service_id: target.service_id(),
            plan_id: target.plan_id(),
            context: Some(context),
            parameters: merged,
            maintenance_info: target.maintenance_info(),
            ..Default::default()
        };
        let reply = target.broker.client.provision(&external_id, &request, identity.as_ref()).await;
        let dashboard = match &reply.outcome {
            crate::osb::outcome::Outcome::Done { body, .. } => body.dashboard_url.clone(),
            _ => None,
        };
        let timing = ctx.timing.clone();
        record_answer(ctx, recorded, move |i| {
            outcome::provision_replied(i, &reply, dashboard.clone(), &timing, timing::now())
        })
        .await
    } else {
        let held = recorded.status.external_properties.clone().unwrap_or_default();
        let held_plan = if held.cluster_service_plan_external_id.is_empty() {
            held.service_plan_external_id
        } else {
            held.cluster_service_plan_external_id
        };
        let plan_changed = !held_plan.is_empty() && held_plan != target.plan_id();
        let request = UpdateRequest {
            service_id: target.service_id(),
            plan_id: plan_changed.then(|| target.plan_id()),
            context: Some(context),
            parameters: Some(merged.unwrap_or_default()),
            previous_values: Some(PreviousValues {
                service_id: Some(target.service_id()),
                plan_id: (!held_plan.is_empty()).then_some(held_plan),
                maintenance_info: held.maintenance_info_version.map(|version| MaintenanceInfo {
                    version,
                    description: None,
                    extra: Map::new(),
                }),
                extra: Map::new(),
            }),
            maintenance_info: target.maintenance_info(),
            ..Default::default()
        };
        let reply = target.broker.client.update(&external_id, &request, identity.as_ref()).await;
        let dashboard = match &reply.outcome {
            crate::osb::outcome::Outcome::Done { body, .. } => body.dashboard_url.clone(),
            _ => None,
        };
        let timing = ctx.timing.clone();
        record_answer(ctx, recorded, move |i| {
            outcome::update_replied(i, &reply, dashboard.clone(), &timing, timing::now())
        })
        .await
    }
}

/// The plan the broker holds (or is being moved to) — what polls and deprovisions name.
fn held_plan_id(instance: &ServiceInstance) -> Option<String> {
    let s = &instance.status;
    [s.in_progress_properties.as_ref(), s.external_properties.as_ref()].into_iter().flatten().find_map(|p| {
        [&p.cluster_service_plan_external_id, &p.service_plan_external_id]
            .into_iter()
            .find(|id| !id.is_empty())
            .cloned()
    })
}

async fn poll(ctx: &Ctx, instance: ServiceInstance, now: Timestamp) -> Result<Requeue> {
    let held = held_plan_id(&instance);
    let target = match resolve(ctx, &instance, held.as_deref()).await {
        Ok(t) => t,
        Err((reason, message)) => return cannot_call(ctx, instance, reason, message, true, now).await,
    };
    let query = LastOperationQuery {
        service_id: Some(target.service_id()),
        plan_id: Some(target.plan_id()),
        operation: instance.status.last_operation.clone(),
    };
    let identity = identity(instance.spec.user_info.as_ref());
    let reply = {
        let _permit = target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        target.broker.client.last_operation(&instance.spec.external_id, &query, identity.as_ref()).await
    };
    let max_polling = target.max_polling(ctx.timing.default_max_polling);
    let timing = ctx.timing.clone();
    let _ = now;
    record_answer(ctx, instance, move |i| outcome::poll_replied(i, &reply, max_polling, &timing, timing::now())).await
}

async fn deprovision(ctx: &Ctx, instance: ServiceInstance, orphan_mitigation: bool, now: Timestamp) -> Result<Requeue> {
    let held = held_plan_id(&instance);
    let target = match resolve(ctx, &instance, held.as_deref()).await {
        Ok(t) => t,
        Err((reason, message)) => return cannot_call(ctx, instance, reason, message, true, now).await,
    };
    let mut recorded = instance;
    decide::begin_deprovision(&mut recorded, orphan_mitigation, now);
    let recorded = ctx.typed.update_status(&recorded).await?;
    let identity = identity(recorded.spec.user_info.as_ref());
    let reply = {
        let _permit = target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        target
            .broker
            .client
            .deprovision(&recorded.spec.external_id, &target.service_id(), &target.plan_id(), identity.as_ref())
            .await
    };
    let timing = ctx.timing.clone();
    let requeue =
        record_answer(ctx, recorded, move |i| outcome::deprovision_replied(i, &reply, &timing, timing::now())).await?;
    Ok(requeue)
}

/// Writes the status change a broker's answer causes. If the object changed meanwhile (a spec
/// edit, a delete), the answer is applied again to the fresh object — it is never lost — unless
/// someone else rewrote the status, in which case theirs stands and the next pass decides anew.
pub(crate) async fn record_answer(
    ctx: &Ctx,
    recorded: ServiceInstance,
    apply: impl Fn(&mut ServiceInstance) -> Requeue,
) -> Result<Requeue> {
    let mut current = recorded.clone();
    for _ in 0..5 {
        let mut next = current.clone();
        let requeue = apply(&mut next);
        match ctx.typed.update_status(&next).await {
            Ok(_) => return Ok(requeue),
            Err(StoreError::Conflict { .. }) => {
                let Some(fresh) = ctx
                    .typed
                    .get::<ServiceInstance>(
                        recorded.metadata.namespace.as_deref().unwrap_or_default(),
                        &recorded.metadata.name,
                    )
                    .await?
                else {
                    return Ok(None);
                };
                if fresh.status != recorded.status {
                    tracing::warn!(name = %recorded.metadata.name, "status changed by someone else during a broker call; re-deciding");
                    return Ok(Some(Duration::ZERO));
                }
                current = fresh;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Backend("could not record the broker's answer after 5 conflicts".into()))
}
