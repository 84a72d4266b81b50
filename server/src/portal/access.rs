//! Shared helpers: who may do what, typed reads that skip malformed objects, store errors as
//! port errors.

use app::{api::Caller, model::Resource, port::PortError};
use serde_json::Value;

use crate::store::{ListQuery, ResourceStore, StoreError};

pub fn store_error(e: StoreError) -> PortError {
    match e {
        StoreError::NotFound { .. } => PortError::NotFound(e.to_string()),
        StoreError::Conflict { .. } => PortError::Conflict(
            "Someone else changed this in the meantime. The page now shows the latest state; check it and try again."
                .into(),
        ),
        StoreError::AlreadyExists { .. } | StoreError::Invalid { .. } => PortError::Conflict(e.to_string()),
        StoreError::Gone { .. } | StoreError::Backend(_) => {
            tracing::warn!(error = %e, "store call failed");
            PortError::Unavailable(e.to_string())
        }
    }
}

/// Refuses a namespace the caller may not see.
pub fn check_namespace(caller: &Caller, namespace: &str) -> Result<(), PortError> {
    if caller.may_access(namespace) { Ok(()) } else { Err(PortError::Forbidden(not_a_member(caller, namespace))) }
}

/// The sentence of a refusal for a team the caller is not in.
pub fn not_a_member(caller: &Caller, namespace: &str) -> String {
    format!(
        "You ({}) are not a member of team {namespace}, so you cannot see or change its instances and bindings. \
         A team admin of {namespace} or a platform admin can add you.",
        caller.username
    )
}

/// Credentials are for the team's members only (platform admins included only when members).
pub fn check_member(caller: &Caller, namespace: &str) -> Result<(), PortError> {
    if caller.is_member(namespace) {
        Ok(())
    } else {
        Err(PortError::Forbidden(format!(
            "Only members of team {namespace} may read its credentials, and you ({}) are not one. \
             A team admin of {namespace} or a platform admin can add you.",
            caller.username
        )))
    }
}

pub fn check_admin(caller: &Caller) -> Result<(), PortError> {
    if caller.platform_admin {
        Ok(())
    } else {
        Err(PortError::Forbidden(format!("This is for platform admins, and you ({}) are not one.", caller.username)))
    }
}

/// Decodes stored objects into the model; an object that does not fit (written by hand through
/// the Kubernetes-style API, say) is skipped with a warning rather than failing the page.
pub fn decode_all<T: Resource>(items: Vec<Value>) -> Vec<T> {
    items
        .into_iter()
        .filter_map(|item| match serde_json::from_value::<T>(item) {
            Ok(object) => Some(object),
            Err(e) => {
                tracing::warn!(kind = %T::KIND, error = %e, "skipping a stored object that does not match the model");
                None
            }
        })
        .collect()
}

/// Lists a kind, typed; also returns the list's resourceVersion.
pub async fn list<T: Resource>(store: &dyn ResourceStore, query: &ListQuery) -> Result<(Vec<T>, u64), PortError> {
    let list = store.list(T::KIND, query).await.map_err(store_error)?;
    Ok((decode_all(list.items), list.resource_version))
}

pub async fn get<T: Resource>(store: &dyn ResourceStore, namespace: &str, name: &str) -> Result<Option<T>, PortError> {
    match store.get(T::KIND, namespace, name).await.map_err(store_error)? {
        None => Ok(None),
        Some(value) => serde_json::from_value(value).map(Some).map_err(|e| {
            PortError::Unavailable(format!("the stored {} {namespace}/{name} is malformed: {e}", T::KIND))
        }),
    }
}

/// The JSON the store takes for a typed object (`apiVersion` and `kind` filled in).
pub fn to_value<T: Resource>(object: &T) -> Result<Value, PortError> {
    let mut value = serde_json::to_value(object).map_err(|e| PortError::Unavailable(e.to_string()))?;
    value["apiVersion"] = Value::String(T::KIND.api_version().to_string());
    value["kind"] = Value::String(T::KIND.as_str().to_string());
    Ok(value)
}

pub async fn store_create<T: Resource>(store: &dyn ResourceStore, object: &T) -> Result<T, StoreError> {
    let value = to_value(object).map_err(|e| StoreError::Backend(e.to_string()))?;
    let created = store.create(T::KIND, value).await?;
    serde_json::from_value(created).map_err(|e| StoreError::Backend(e.to_string()))
}

pub async fn store_update<T: Resource>(store: &dyn ResourceStore, object: &T) -> Result<T, StoreError> {
    let value = to_value(object).map_err(|e| StoreError::Backend(e.to_string()))?;
    let updated = store.update(T::KIND, value).await?;
    serde_json::from_value(updated).map_err(|e| StoreError::Backend(e.to_string()))
}
