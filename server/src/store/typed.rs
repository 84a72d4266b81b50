//! Typed access to the store for the controller and services: objects of the model instead of
//! JSON, the same semantics underneath.

use std::sync::Arc;

use app::model::Resource;
use serde_json::Value;

use super::{Deleted, ListQuery, ResourceStore, Result, StoreError};

#[derive(Clone)]
pub struct TypedStore {
    pub raw: Arc<dyn ResourceStore>,
}

fn from_value<T: Resource>(value: Value) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| StoreError::Backend(format!("stored {} does not match the model: {e}", T::KIND)))
}

fn to_value<T: Resource>(object: &T) -> Result<Value> {
    let mut value = serde_json::to_value(object).map_err(|e| StoreError::Backend(e.to_string()))?;
    super::object::fill_type_meta(T::KIND, &mut value);
    Ok(value)
}

impl TypedStore {
    pub fn new(raw: Arc<dyn ResourceStore>) -> Self {
        Self { raw }
    }

    pub async fn get<T: Resource>(&self, namespace: &str, name: &str) -> Result<Option<T>> {
        self.raw.get(T::KIND, namespace, name).await?.map(from_value).transpose()
    }

    pub async fn list<T: Resource>(&self, query: &ListQuery) -> Result<Vec<T>> {
        self.raw.list(T::KIND, query).await?.items.into_iter().map(from_value).collect()
    }

    pub async fn create<T: Resource>(&self, object: &T) -> Result<T> {
        from_value(self.raw.create(T::KIND, to_value(object)?).await?)
    }

    pub async fn update<T: Resource>(&self, object: &T) -> Result<T> {
        from_value(self.raw.update(T::KIND, to_value(object)?).await?)
    }

    pub async fn update_status<T: Resource>(&self, object: &T) -> Result<T> {
        from_value(self.raw.update_status(T::KIND, to_value(object)?).await?)
    }

    /// Deletes; `Ok(None)` when the object is gone, `Ok(Some(obj))` while finalizers hold it.
    pub async fn delete<T: Resource>(&self, object: &T) -> Result<Option<T>> {
        let meta = object.meta();
        let namespace = meta.namespace.as_deref().unwrap_or_default();
        match self.raw.delete(T::KIND, namespace, &meta.name, meta.uid.as_deref()).await? {
            Deleted::Gone(_) => Ok(None),
            Deleted::Pending(value) => from_value(value).map(Some),
        }
    }
}
