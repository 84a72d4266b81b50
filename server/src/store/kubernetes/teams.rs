//! Which namespaces are teams: every namespace, or those whose labels match a selector
//! (`--team-namespaces quartermaster.io/team`). Lists and watches "across all namespaces" cover
//! only team namespaces; reads and writes that name a namespace are not restricted here (RBAC
//! decides what the portal may touch, and a broker's auth Secret may live outside any team).
//!
//! Answers come from a map that a kube-runtime watcher on Namespaces keeps current; a namespace
//! the watcher has not reported yet is read once directly, so an object created right after its
//! namespace is never missed.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Map, Value};

use crate::store::{LabelSelector, Result, StoreError};

pub struct Teams {
    selector: Option<LabelSelector>,
    client: Client,
    /// namespace → whether it is a team namespace.
    known: RwLock<HashMap<String, bool>>,
}

fn labels_of(ns: &Namespace) -> Map<String, Value> {
    ns.metadata.labels.iter().flatten().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect()
}

impl Teams {
    /// `None`: every namespace is a team's. Otherwise starts following namespaces (the task ends
    /// when the returned value is dropped).
    pub fn new(client: Client, selector: Option<LabelSelector>) -> Arc<Self> {
        let teams = Arc::new(Self { selector, client, known: RwLock::default() });
        if teams.selector.is_some() {
            tokio::spawn(follow(Arc::downgrade(&teams)));
        }
        teams
    }

    pub fn selector(&self) -> Option<&LabelSelector> {
        self.selector.as_ref()
    }

    fn matches(&self, ns: &Namespace) -> bool {
        self.selector.as_ref().is_none_or(|s| s.matches(&labels_of(ns)))
    }

    /// Whether objects of `namespace` belong in all-namespace lists and watches.
    pub async fn allows(&self, namespace: &str) -> Result<bool> {
        if self.selector.is_none() || namespace.is_empty() {
            return Ok(true);
        }
        if let Some(known) = self.known.read().unwrap_or_else(|p| p.into_inner()).get(namespace) {
            return Ok(*known);
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let found = api
            .get_opt(namespace)
            .await
            .map_err(|e| StoreError::Backend(format!("reading namespace {namespace:?}: {e}")))?;
        let allowed = found.as_ref().is_some_and(|ns| self.matches(ns));
        // A namespace that does not exist yet is not remembered: the watcher reports it.
        if found.is_some() {
            self.known.write().unwrap_or_else(|p| p.into_inner()).insert(namespace.to_string(), allowed);
        }
        Ok(allowed)
    }
}

async fn follow(teams: std::sync::Weak<Teams>) {
    let Some(client) = teams.upgrade().map(|t| t.client.clone()) else { return };
    let api: Api<Namespace> = Api::all(client);
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    loop {
        let next = events.try_next().await;
        let Some(teams) = teams.upgrade() else { return };
        let mut known = teams.known.write().unwrap_or_else(|p| p.into_inner());
        match next {
            Ok(Some(watcher::Event::Apply(ns) | watcher::Event::InitApply(ns))) => {
                let allowed = teams.matches(&ns);
                known.insert(ns.metadata.name.clone().unwrap_or_default(), allowed);
            }
            Ok(Some(watcher::Event::Delete(ns))) => {
                known.remove(ns.metadata.name.as_deref().unwrap_or_default());
            }
            Ok(Some(watcher::Event::Init | watcher::Event::InitDone)) => {}
            Ok(None) => return,
            Err(e) => tracing::warn!(error = %e, "watching namespaces failed; retrying"),
        }
    }
}
