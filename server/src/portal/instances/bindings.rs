//! Bindings of an instance: create (with the plan's binding schema), delete, abandon, and the
//! credentials of one — read from the Secret named by the binding, only when asked.

use app::{
    api::{
        Caller, ObjectRef, Rejection,
        instances::{BindingRequest, CredentialEntry, Credentials},
    },
    model::{LocalObjectReference, Resource, Secret, ServiceBinding, ServiceInstance, validate_dns1123_label},
    port::{PortError, PortResult},
};
use base64::Engine as _;

use super::{check_parameters, class_of, reject_input, user_info};
use crate::{
    portal::access::{check_member, check_namespace, get, list, store_error, store_update},
    portal::catalog::class_plans,
    store::{ListQuery, ResourceStore, StoreError},
};

pub async fn of_instance(
    store: &dyn ResourceStore,
    namespace: &str,
    instance: &str,
) -> PortResult<Vec<ServiceBinding>> {
    let query = ListQuery { namespace: Some(namespace.to_string()), ..ListQuery::default() };
    let (bindings, _) = list::<ServiceBinding>(store, &query).await?;
    let mut bindings: Vec<ServiceBinding> =
        bindings.into_iter().filter(|b| b.spec.instance_ref.name == instance).collect();
    bindings.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(bindings)
}

pub async fn create(store: &dyn ResourceStore, caller: &Caller, request: BindingRequest) -> PortResult<ObjectRef> {
    check_namespace(caller, &request.namespace)?;
    if let Err(e) = validate_dns1123_label(&request.name) {
        return Err(reject_input("name", format!("Name {e}")));
    }
    let instance = get::<ServiceInstance>(store, &request.namespace, &request.instance).await?.ok_or_else(|| {
        PortError::NotFound(format!("There is no instance {} in team {}.", request.instance, request.namespace))
    })?;
    if instance.metadata.deletion_timestamp.is_some() {
        return Err(PortError::Rejected(Rejection::new("The instance is being deleted; it cannot be bound.")));
    }
    let class = class_of(store, &instance).await?;
    let plans = match &class {
        Some(class) => class_plans(store, &class.metadata.name).await?,
        None => Vec::new(),
    };
    let plan = plans.iter().find(|p| Some(p.spec.common.external_name.as_str()) == instance.spec.plan_external_name());
    let bindable = match (&class, plan) {
        (Some(class), Some(plan)) => plan.spec.common.bindable.unwrap_or(class.spec.common.bindable),
        (Some(class), None) => class.spec.common.bindable,
        (None, _) => true,
    };
    if !bindable {
        return Err(PortError::Rejected(Rejection::new(
            "This plan is not bindable: the broker hands out no credentials for it.",
        )));
    }
    let schema = plan.and_then(|p| p.spec.common.service_binding_create_parameter_schema.as_ref());
    check_parameters(schema, &request.parameters).map_err(PortError::Rejected)?;

    let mut binding = ServiceBinding::new_named(Some(&request.namespace), &request.name);
    binding.spec.instance_ref = LocalObjectReference { name: request.instance.clone() };
    binding.spec.secret_name = request.name.clone();
    binding.spec.external_id = uuid::Uuid::new_v4().to_string();
    binding.spec.parameters = (!request.parameters.is_null()
        && !request.parameters.as_object().is_some_and(|m| m.is_empty()))
    .then_some(request.parameters);
    binding.spec.user_info = Some(user_info(caller));
    match crate::portal::access::store_create(store, &binding).await {
        Ok(created) => {
            tracing::info!(user = %caller.username, namespace = %request.namespace, binding = %request.name, instance = %request.instance, "binding requested");
            Ok(super::binding_ref(&created))
        }
        Err(StoreError::AlreadyExists { .. }) => Err(reject_input(
            "name",
            format!("Team {} already has a binding named {}; pick another name.", request.namespace, request.name),
        )),
        Err(e) => Err(store_error(e)),
    }
}

pub async fn delete_object(store: &dyn ResourceStore, binding: &ServiceBinding) -> PortResult<()> {
    let namespace = binding.metadata.namespace.as_deref().unwrap_or_default();
    match store.delete(ServiceBinding::KIND, namespace, &binding.metadata.name, binding.metadata.uid.as_deref()).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

pub async fn delete(store: &dyn ResourceStore, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
    check_namespace(caller, namespace)?;
    let binding = get::<ServiceBinding>(store, namespace, name)
        .await?
        .ok_or_else(|| PortError::NotFound(format!("There is no binding {name} in team {namespace}.")))?;
    delete_object(store, &binding).await?;
    tracing::info!(user = %caller.username, %namespace, binding = %name, "binding deletion requested");
    Ok(())
}

/// Deletes a binding without the broker (its finalizers go) and its Secret with it.
pub async fn abandon_object(store: &dyn ResourceStore, binding: &ServiceBinding) -> PortResult<()> {
    delete_object(store, binding).await?;
    let namespace = binding.metadata.namespace.as_deref().unwrap_or_default();
    for _ in 0..5 {
        let Some(mut current) = get::<ServiceBinding>(store, namespace, &binding.metadata.name).await? else { break };
        current.metadata.finalizers.retain(|f| f != crate::portal::FINALIZER);
        match store_update(store, &current).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => break,
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    let secret = binding.spec.effective_secret_name(&binding.metadata.name);
    match store.delete(Secret::KIND, namespace, secret, None).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

pub async fn credentials(
    store: &dyn ResourceStore,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> PortResult<Credentials> {
    check_namespace(caller, namespace)?;
    check_member(caller, namespace)?;
    let binding = get::<ServiceBinding>(store, namespace, name)
        .await?
        .ok_or_else(|| PortError::NotFound(format!("There is no binding {name} in team {namespace}.")))?;
    let secret_name = binding.spec.effective_secret_name(&binding.metadata.name).to_string();
    let secret = get::<Secret>(store, namespace, &secret_name).await?.ok_or_else(|| {
        PortError::NotFound(format!(
            "The credentials are not there yet: Secret {secret_name} does not exist in team {namespace}."
        ))
    })?;
    let engine = base64::engine::general_purpose::STANDARD;
    let entries = secret
        .data
        .iter()
        .map(|(key, encoded)| CredentialEntry {
            key: key.clone(),
            text: engine.decode(encoded).ok().and_then(|bytes| String::from_utf8(bytes).ok()),
            base64: encoded.clone(),
        })
        .collect();
    // Who read which credentials is worth knowing; the values never reach the log.
    tracing::info!(user = %caller.username, %namespace, binding = %name, secret = %secret_name, "credentials revealed");
    Ok(Credentials { namespace: namespace.to_string(), secret_name, entries })
}
