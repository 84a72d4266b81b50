//! The catalog as the controller last saw it (brokers, classes, plans), kept current from the
//! store's watch, so resolving an instance's class and plan needs no database round trip.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use app::model::Kind;
use serde_json::Value;

use super::catalog_sync::Scope;
use crate::store::{EventType, WatchEvent};

type Objects = HashMap<(String, String), Arc<Value>>;

#[derive(Default)]
pub struct Cache {
    kinds: RwLock<HashMap<Kind, Objects>>,
}

pub fn is_cached_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::ClusterServiceBroker
            | Kind::ServiceBroker
            | Kind::ClusterServiceClass
            | Kind::ServiceClass
            | Kind::ClusterServicePlan
            | Kind::ServicePlan
    )
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

fn key(object: &Value) -> (String, String) {
    (
        str_at(object, &["metadata", "namespace"]).unwrap_or_default().to_string(),
        str_at(object, &["metadata", "name"]).unwrap_or_default().to_string(),
    )
}

fn removed(object: &Value) -> bool {
    object.pointer("/status/removedFromBrokerCatalog").and_then(Value::as_bool).unwrap_or(false)
}

impl Cache {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Kind, Objects>> {
        self.kinds.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn apply(&self, event: &WatchEvent) {
        if !is_cached_kind(event.kind) {
            return;
        }
        let mut kinds = self.kinds.write().unwrap_or_else(|p| p.into_inner());
        let objects = kinds.entry(event.kind).or_default();
        let key = key(&event.object);
        match event.event_type {
            EventType::Deleted => {
                objects.remove(&key);
            }
            EventType::Added | EventType::Modified => {
                objects.insert(key, Arc::new(event.object.clone()));
            }
        }
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let ns = if kind.namespaced() { namespace } else { "" };
        self.read().get(&kind).and_then(|o| o.get(&(ns.to_string(), name.to_string()))).cloned()
    }

    /// The class a user names by its external name (a class still in the catalog wins over a
    /// removed one of the same name).
    pub fn class_by_external_name(&self, scope: &Scope, external_name: &str) -> Option<Arc<Value>> {
        self.find(scope.class_kind(), scope.namespace(), |c| {
            str_at(c, &["spec", "externalName"]) == Some(external_name)
        })
    }

    pub fn class_by_external_id(&self, scope: &Scope, external_id: &str) -> Option<Arc<Value>> {
        self.find(scope.class_kind(), scope.namespace(), |c| str_at(c, &["spec", "externalID"]) == Some(external_id))
    }

    /// A plan of a class, by the plan's external name or external id.
    pub fn plan_of_class(&self, scope: &Scope, class_name: &str, by: PlanBy<'_>) -> Option<Arc<Value>> {
        let class_ref = ["spec", scope.class_ref_field(), "name"];
        self.find(scope.plan_kind(), scope.namespace(), |p| {
            str_at(p, &class_ref) == Some(class_name)
                && match by {
                    PlanBy::ExternalName(n) => str_at(p, &["spec", "externalName"]) == Some(n),
                    PlanBy::ExternalId(id) => str_at(p, &["spec", "externalID"]) == Some(id),
                }
        })
    }

    fn find(&self, kind: Kind, namespace: &str, matches: impl Fn(&Value) -> bool) -> Option<Arc<Value>> {
        let kinds = self.read();
        let objects = kinds.get(&kind)?;
        let mut found: Option<&Arc<Value>> = None;
        for ((ns, _), object) in objects.iter() {
            if ns == namespace && matches(object) {
                if !removed(object) {
                    return Some(object.clone());
                }
                found = Some(object);
            }
        }
        found.cloned()
    }

    /// Every cached object of a kind (in a namespace, for namespaced kinds).
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let kinds = self.read();
        kinds
            .get(&kind)
            .map(|objects| {
                objects
                    .iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum PlanBy<'a> {
    ExternalName(&'a str),
    ExternalId(&'a str),
}
