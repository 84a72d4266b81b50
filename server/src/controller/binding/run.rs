//! Performs the one effect the binding state machine chose.

use std::{collections::BTreeMap, time::Duration};

use app::model::{Kind, ProvisionStatus, ServiceBinding, ServiceInstance, UnbindStatus, condition};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::{
    decide::{self, Action, AfterBind},
    secret,
};
use crate::{
    controller::{
        Ctx,
        conditions::reason,
        instance::{
            decide::FINALIZER,
            outcome::Requeue,
            run::{Target, identity, resolve},
        },
        params, timing,
    },
    osb::{
        client::LastOperationQuery,
        outcome::Outcome,
        wire::{BindRequest, Context},
    },
    store::{Result, StoreError},
};

pub async fn reconcile(ctx: &Ctx, namespace: &str, name: &str) -> Result<Requeue> {
    let Some(mut binding) = ctx.typed.get::<ServiceBinding>(namespace, name).await? else { return Ok(None) };
    let now = timing::now();
    let action = decide::next_action(&binding, now);
    tracing::debug!(namespace, name, ?action, "binding");
    match action {
        Action::Nothing => Ok(None),
        Action::WaitUntil(at) => Ok(Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))),
        Action::AddFinalizer => {
            binding.metadata.finalizers.push(FINALIZER.to_string());
            // As for instances: kubectl-made bindings get their OSB id and Secret name here.
            if binding.spec.external_id.is_empty() {
                binding.spec.external_id = uuid::Uuid::new_v4().to_string();
            }
            if binding.spec.secret_name.is_empty() {
                binding.spec.secret_name = binding.metadata.name.clone();
            }
            ctx.typed.update(&binding).await?;
            Ok(Some(Duration::ZERO))
        }
        Action::Release => {
            delete_secret(ctx, &binding).await?;
            binding.metadata.finalizers.retain(|f| f != FINALIZER);
            ctx.typed.update(&binding).await?;
            Ok(None)
        }
        Action::Bind => bind(ctx, binding, now).await,
        Action::Poll => poll(ctx, binding, now).await,
        Action::Unbind { orphan_mitigation } => unbind(ctx, binding, orphan_mitigation, now).await,
    }
}

/// The instance a binding belongs to and its target, or why it can't be used yet.
async fn instance_target(
    ctx: &Ctx,
    binding: &ServiceBinding,
    need_ready: bool,
) -> std::result::Result<(ServiceInstance, Target), (&'static str, String)> {
    let namespace = binding.metadata.namespace.as_deref().unwrap_or_default();
    let instance_name = &binding.spec.instance_ref.name;
    let instance = ctx
        .typed
        .get::<ServiceInstance>(namespace, instance_name)
        .await
        .map_err(|e| (reason::NONEXISTENT_INSTANCE, e.to_string()))?
        .ok_or_else(|| {
            (
                reason::NONEXISTENT_INSTANCE,
                format!("The binding references an instance {instance_name:?} that does not exist"),
            )
        })?;
    if need_ready {
        if instance.metadata.deletion_timestamp.is_some() {
            return Err((reason::INSTANCE_NOT_READY, format!("The instance {instance_name:?} is being deleted")));
        }
        if instance.status.provision_status != ProvisionStatus::Provisioned || instance.status.async_op_in_progress {
            return Err((reason::INSTANCE_NOT_READY, format!("The instance {instance_name:?} is not ready yet")));
        }
    }
    let held = instance.status.external_properties.as_ref().and_then(|p| {
        [&p.cluster_service_plan_external_id, &p.service_plan_external_id].into_iter().find(|s| !s.is_empty()).cloned()
    });
    let target = resolve(ctx, &instance, held.as_deref()).await?;
    Ok((instance, target))
}

fn bindable(target: &Target) -> bool {
    target
        .plan
        .pointer("/spec/bindable")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| target.class.pointer("/spec/bindable").and_then(Value::as_bool).unwrap_or(false))
}

async fn write_status(ctx: &Ctx, binding: &ServiceBinding) -> Result<ServiceBinding> {
    ctx.typed.update_status(binding).await
}

async fn bind(ctx: &Ctx, mut binding: ServiceBinding, now: Timestamp) -> Result<Requeue> {
    let (instance, target) = match instance_target(ctx, &binding, true).await {
        Ok(t) => t,
        Err((reason, message)) => {
            let requeue = decide::wait_for_instance(&mut binding, reason, &message, &ctx.timing, now);
            write_status(ctx, &binding).await?;
            return Ok(requeue);
        }
    };
    if !bindable(&target) {
        let requeue = decide::bind_replied(
            &mut binding,
            &crate::osb::outcome::Reply::<()> {
                call: crate::osb::outcome::Call::Bind,
                outcome: Outcome::BadRequest {
                    status: 400,
                    error: None,
                    description: Some("the plan is not bindable".into()),
                },
                retry_after: None,
                request_identity: String::new(),
            },
            &ctx.timing,
            now,
        );
        let _ = requeue;
        binding.status.unbind_status = UnbindStatus::NotRequired;
        if let Some(c) = binding.status.conditions.iter_mut().find(|c| c.type_ == condition::FAILED) {
            c.reason = reason::NOT_BINDABLE.into();
        }
        write_status(ctx, &binding).await?;
        return Ok(None);
    }
    let namespace = binding.metadata.namespace.clone().unwrap_or_default();
    let parameters = match params::resolve(
        ctx.store.as_ref(),
        &namespace,
        binding.spec.parameters.as_ref(),
        &binding.spec.parameters_from,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            let requeue =
                decide::wait_for_instance(&mut binding, reason::INVALID_PARAMETERS, &e.message, &ctx.timing, now);
            write_status(ctx, &binding).await?;
            return Ok(requeue);
        }
    };
    binding.status.in_progress_properties = Some(app::model::BindingPropertiesState {
        parameters: Some(Value::Object(parameters.shown.clone())),
        parameter_checksum: parameters.checksum.clone(),
        user_info: binding.spec.user_info.clone(),
    });
    decide::begin_bind(&mut binding, now);
    let recorded = write_status(ctx, &binding).await?;
    let request = BindRequest {
        service_id: target.service_id(),
        plan_id: target.plan_id(),
        context: Some(Context::kubernetes(&namespace, &ctx.cluster_id, &instance.metadata.name)),
        bind_resource: Some(Map::from_iter([(
            "app_guid".to_string(),
            json!(recorded.metadata.uid.clone().unwrap_or_default()),
        )])),
        parameters: (!parameters.merged.is_empty()).then_some(parameters.merged),
        ..Default::default()
    };
    let identity = identity(recorded.spec.user_info.as_ref());
    let reply = {
        let _permit = target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        target
            .broker
            .client
            .bind(&instance.spec.external_id, &recorded.spec.external_id, &request, identity.as_ref())
            .await
    };
    let mut next = recorded;
    let (requeue, after) = decide::bind_replied(&mut next, &reply, &ctx.timing, timing::now());
    let credentials = match reply.outcome {
        Outcome::Done { body, .. } => body.credentials.unwrap_or_default(),
        _ => Map::new(),
    };
    finish_bind(ctx, next, after, credentials, requeue).await
}

/// After a bind or poll answer: inject credentials when there are some, then write the status.
async fn finish_bind(
    ctx: &Ctx,
    mut binding: ServiceBinding,
    after: AfterBind,
    credentials: Map<String, Value>,
    requeue: Requeue,
) -> Result<Requeue> {
    let now = timing::now();
    let requeue = match after {
        AfterBind::Nothing => requeue,
        AfterBind::InjectCredentials => inject(ctx, &mut binding, &credentials, now).await?,
        AfterBind::FetchCredentials => {
            let fetched = match instance_target(ctx, &binding, false).await {
                Err((_, message)) => Err(message),
                Ok((instance, target)) => {
                    let _permit =
                        target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
                    let reply = target
                        .broker
                        .client
                        .fetch_binding(
                            &instance.spec.external_id,
                            &binding.spec.external_id,
                            Some(&target.service_id()),
                            Some(&target.plan_id()),
                            None,
                        )
                        .await;
                    match reply.outcome {
                        Outcome::Done { body, .. } => Ok(body.credentials.unwrap_or_default()),
                        other => Err(format!(
                            "fetching the binding's credentials: {}",
                            crate::controller::instance::outcome::describe(&other)
                        )),
                    }
                }
            };
            match fetched {
                Ok(credentials) => inject(ctx, &mut binding, &credentials, now).await?,
                Err(message) => decide::injection_failed(&mut binding, &message, &ctx.timing, now),
            }
        }
    };
    write_status(ctx, &binding).await?;
    Ok(requeue)
}

/// Writes the credentials Secret; marks the binding bound, or failed-to-inject (retried).
async fn inject(
    ctx: &Ctx,
    binding: &mut ServiceBinding,
    credentials: &Map<String, Value>,
    now: Timestamp,
) -> Result<Requeue> {
    match write_secret(ctx, binding, credentials).await {
        Ok(()) => {
            decide::bound(binding, now);
            Ok(None)
        }
        Err(InjectError::Store(e)) => Err(e),
        Err(InjectError::Refused(message)) => Ok(decide::injection_failed(binding, &message, &ctx.timing, now)),
    }
}

enum InjectError {
    Store(StoreError),
    Refused(String),
}

async fn write_secret(
    ctx: &Ctx,
    binding: &ServiceBinding,
    credentials: &Map<String, Value>,
) -> std::result::Result<(), InjectError> {
    let namespace = binding.metadata.namespace.clone().unwrap_or_default();
    let secret_name = binding.spec.effective_secret_name(&binding.metadata.name).to_string();
    let mut data = secret::credentials_to_data(credentials);
    let mut others = BTreeMap::new();
    for t in &binding.spec.secret_transforms {
        if let Some(r) = t.add_keys_from.as_ref().and_then(|f| f.secret_ref.as_ref()) {
            let ns = r.namespace.clone().unwrap_or_else(|| namespace.clone());
            if let Some(s) = ctx.store.get(Kind::Secret, &ns, &r.name).await.map_err(InjectError::Store)? {
                let entries = s
                    .get("data")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), B64.decode(v.as_str()?).ok()?))).collect())
                    .unwrap_or_default();
                others.insert(format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name), entries);
            }
        }
    }
    secret::apply_transforms(&mut data, credentials, &binding.spec.secret_transforms, &others)
        .map_err(InjectError::Refused)?;
    let encoded: Map<String, Value> = data.into_iter().map(|(k, v)| (k, Value::String(B64.encode(v)))).collect();
    let uid = binding.metadata.uid.clone().unwrap_or_default();
    let owner = json!([{"apiVersion": app::model::API_VERSION, "kind": "ServiceBinding", "name": binding.metadata.name, "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
    match ctx.store.get(Kind::Secret, &namespace, &secret_name).await.map_err(InjectError::Store)? {
        Some(mut existing) => {
            let owned =
                existing.pointer("/metadata/ownerReferences/0/uid").and_then(Value::as_str) == Some(uid.as_str());
            if !owned {
                return Err(InjectError::Refused(format!(
                    "a Secret named {secret_name:?} already exists and does not belong to this binding"
                )));
            }
            existing["data"] = Value::Object(encoded);
            ctx.store.update(Kind::Secret, existing).await.map_err(InjectError::Store)?;
        }
        None => {
            let secret = json!({
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": secret_name, "namespace": namespace, "ownerReferences": owner,
                             "labels": {"servicecatalog.k8s.io/binding": crate::controller::catalog_sync::label_value(&binding.metadata.name)}},
                "data": encoded,
            });
            ctx.store.create(Kind::Secret, secret).await.map_err(InjectError::Store)?;
        }
    }
    Ok(())
}

async fn delete_secret(ctx: &Ctx, binding: &ServiceBinding) -> Result<()> {
    let namespace = binding.metadata.namespace.as_deref().unwrap_or_default();
    let secret_name = binding.spec.effective_secret_name(&binding.metadata.name);
    let Some(secret) = ctx.store.get(Kind::Secret, namespace, secret_name).await? else { return Ok(()) };
    let owned =
        secret.pointer("/metadata/ownerReferences/0/uid").and_then(Value::as_str) == binding.metadata.uid.as_deref();
    if owned {
        match ctx
            .store
            .delete(Kind::Secret, namespace, secret_name, secret.pointer("/metadata/uid").and_then(Value::as_str))
            .await
        {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn poll(ctx: &Ctx, binding: ServiceBinding, now: Timestamp) -> Result<Requeue> {
    let (instance, target) = match instance_target(ctx, &binding, false).await {
        Ok(t) => t,
        Err((reason, message)) => {
            let mut b = binding;
            let requeue = decide::wait_for_instance(&mut b, reason, &message, &ctx.timing, now);
            write_status(ctx, &b).await?;
            return Ok(requeue);
        }
    };
    let query = LastOperationQuery {
        service_id: Some(target.service_id()),
        plan_id: Some(target.plan_id()),
        operation: binding.status.last_operation.clone(),
    };
    let reply = {
        let _permit = target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        target
            .broker
            .client
            .binding_last_operation(&instance.spec.external_id, &binding.spec.external_id, &query, None)
            .await
    };
    let max_polling = target
        .plan
        .pointer("/spec/maximumPollingDuration")
        .and_then(Value::as_u64)
        .map_or(ctx.timing.default_max_polling, Duration::from_secs);
    let mut next = binding;
    let (requeue, after) = decide::poll_replied(&mut next, &reply, max_polling, &ctx.timing, timing::now());
    finish_bind(ctx, next, after, Map::new(), requeue).await
}

async fn unbind(ctx: &Ctx, mut binding: ServiceBinding, orphan_mitigation: bool, now: Timestamp) -> Result<Requeue> {
    let (instance, target) = match instance_target(ctx, &binding, false).await {
        Ok(t) => t,
        Err((reason, message)) => {
            let requeue = decide::wait_for_instance(&mut binding, reason, &message, &ctx.timing, now);
            write_status(ctx, &binding).await?;
            return Ok(requeue);
        }
    };
    decide::begin_unbind(&mut binding, orphan_mitigation, now);
    let recorded = write_status(ctx, &binding).await?;
    let identity = identity(recorded.spec.user_info.as_ref());
    let reply = {
        let _permit = target.broker.limit.acquire().await.map_err(|e| StoreError::Backend(e.to_string()))?;
        target
            .broker
            .client
            .unbind(
                &instance.spec.external_id,
                &recorded.spec.external_id,
                &target.service_id(),
                &target.plan_id(),
                identity.as_ref(),
            )
            .await
    };
    let mut next = recorded;
    let requeue = decide::unbind_replied(&mut next, &reply, &ctx.timing, timing::now());
    if next.status.unbind_status == UnbindStatus::Succeeded && !orphan_mitigation {
        // Credentials the broker has revoked are removed at once, not only when the finalizer goes.
        delete_secret(ctx, &next).await?;
    }
    write_status(ctx, &next).await?;
    Ok(requeue)
}
