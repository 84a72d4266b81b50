//! Watches on the API server, one per kind, merged into one stream.
//!
//! * From a version (`resource_version: Some`): the API server's own watch from that version,
//!   with bookmarks; when the server ends a watch (it does every few minutes) it is resumed from
//!   the last version seen, so the stream neither skips nor repeats. A version the server no
//!   longer has ends the stream with `StoreError::Gone` (the caller lists again).
//! * Without one: kube-runtime's `watcher` (list, then watch, relisting by itself whenever it
//!   must): `ADDED` for what exists, then every change; a relist reports what changed meanwhile,
//!   including `DELETED` for what vanished.

use std::collections::HashMap;

use app::model::Kind;
use futures::{StreamExt, TryStreamExt, stream::BoxStream};
use kube::{
    api::{DynamicObject, WatchParams},
    core::WatchEvent as ApiEvent,
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{KubeStore, errors, object_rv, to_value};
use crate::store::{EventType, Result, StoreError, WatchEvent, WatchQuery, object};

/// Seconds a single API watch lasts before it is resumed (the server caps it anyway).
const WATCH_TIMEOUT: u32 = 290;

fn watch_params(query: &WatchQuery) -> WatchParams {
    let mut params = WatchParams::default().timeout(WATCH_TIMEOUT);
    if !query.labels.is_empty() {
        params = params.labels(&query.labels.to_string());
    }
    if let Some(name) = &query.name {
        params = params.fields(&format!("metadata.name={name}"));
    }
    params
}

pub(super) async fn start(store: KubeStore, query: WatchQuery) -> Result<BoxStream<'static, Result<WatchEvent>>> {
    let (tx, rx) = mpsc::channel(256);
    for kind in query.kinds() {
        let (store, query, tx) = (store.clone(), query.clone(), tx.clone());
        match query.resource_version {
            Some(from) => {
                // The first connection is made here, so an outdated version fails the call itself.
                let api = store.api(kind, query.namespace.as_deref());
                let first = api.watch(&watch_params(&query), &from.to_string()).await;
                let first = match first {
                    Ok(stream) => stream.boxed(),
                    Err(kube::Error::Api(status)) if errors::is_gone(&status) => {
                        return Err(StoreError::Gone { requested: from, oldest: 0 });
                    }
                    Err(e) => return Err(errors::store_error(kind, "", "", e)),
                };
                tokio::spawn(resume(store, kind, query, from, first, tx));
            }
            None => {
                tokio::spawn(follow(store, kind, query, tx));
            }
        }
    }
    Ok(ReceiverStream::new(rx).boxed())
}

type Sender = mpsc::Sender<Result<WatchEvent>>;

/// Whether a watch across all namespaces reports objects of `namespace` (team namespaces only);
/// a watch of one namespace reports everything in it.
async fn wanted(store: &KubeStore, query: &WatchQuery, namespace: &str) -> Result<bool> {
    if query.namespace.is_some() { Ok(true) } else { store.teams().allows(namespace).await }
}

/// Sends an event for a wanted object; `false` when the receiver is gone.
async fn deliver(
    store: &KubeStore,
    query: &WatchQuery,
    tx: &Sender,
    kind: Kind,
    event_type: EventType,
    object: DynamicObject,
) -> bool {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    match wanted(store, query, &namespace).await {
        Ok(true) => {}
        Ok(false) => return true,
        Err(e) => return tx.send(Err(e)).await.is_ok(),
    }
    let object = match to_value(object) {
        Ok(o) => o,
        Err(e) => return tx.send(Err(e)).await.is_ok(),
    };
    let resource_version = object_rv(&object);
    tx.send(Ok(WatchEvent { kind, event_type, resource_version, object })).await.is_ok()
}

async fn resume(
    store: KubeStore,
    kind: Kind,
    query: WatchQuery,
    mut from: u64,
    first: BoxStream<'static, kube::Result<ApiEvent<DynamicObject>>>,
    tx: Sender,
) {
    let api = store.api(kind, query.namespace.as_deref());
    let params = watch_params(&query);
    let mut stream = Some(first);
    let mut failures = 0u32;
    loop {
        let mut events = match stream.take() {
            Some(s) => s,
            None => match api.watch(&params, &from.to_string()).await {
                Ok(s) => s.boxed(),
                Err(kube::Error::Api(status)) if errors::is_gone(&status) => {
                    let _ = tx.send(Err(StoreError::Gone { requested: from, oldest: 0 })).await;
                    return;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(%kind, error = %e, "watch failed; resuming");
                    tokio::select! {
                        () = tokio::time::sleep(backoff(failures)) => continue,
                        () = tx.closed() => return,
                    }
                }
            },
        };
        let ended_cleanly = loop {
            let next = tokio::select! {
                next = events.next() => next,
                () = tx.closed() => return,
            };
            let (event_type, object) = match next {
                Some(Ok(ApiEvent::Added(o))) => (EventType::Added, o),
                Some(Ok(ApiEvent::Modified(o))) => (EventType::Modified, o),
                Some(Ok(ApiEvent::Deleted(o))) => (EventType::Deleted, o),
                Some(Ok(ApiEvent::Bookmark(b))) => {
                    from = b.metadata.resource_version.parse().unwrap_or(from);
                    continue;
                }
                Some(Ok(ApiEvent::Error(status))) if errors::is_gone(&status) => {
                    let _ = tx.send(Err(StoreError::Gone { requested: from, oldest: 0 })).await;
                    return;
                }
                Some(Ok(ApiEvent::Error(status))) => {
                    tracing::warn!(%kind, error = %status, "watch ended with an error; resuming");
                    break false;
                }
                Some(Err(e)) => {
                    tracing::warn!(%kind, error = %e, "watch broke; resuming");
                    break false;
                }
                // The server ends every watch after a while: resume at once.
                None => break true,
            };
            failures = 0;
            from = object.metadata.resource_version.as_deref().and_then(|s| s.parse().ok()).unwrap_or(from);
            if !deliver(&store, &query, &tx, kind, event_type, object).await {
                return;
            }
        };
        if !ended_cleanly {
            failures += 1;
            tokio::select! {
                () = tokio::time::sleep(backoff(failures)) => {}
                () = tx.closed() => return,
            }
        }
    }
}

fn backoff(failures: u32) -> std::time::Duration {
    std::time::Duration::from_millis(200u64.saturating_mul(1 << failures.min(6)))
}

/// What a relisting watch knew of an object: enough to report its deletion.
fn stub(kind: Kind, object: &Value) -> Value {
    json!({
        "apiVersion": kind.api_version(), "kind": kind.as_str(),
        "metadata": {
            "name": object::name(object), "namespace": object::namespace(object),
            "uid": object::uid(object), "resourceVersion": object::meta_str(object, "resourceVersion"),
        },
    })
}

async fn follow(store: KubeStore, kind: Kind, query: WatchQuery, tx: Sender) {
    let api = store.api(kind, query.namespace.as_deref());
    let mut config = watcher::Config::default();
    if !query.labels.is_empty() {
        config = config.labels(&query.labels.to_string());
    }
    if let Some(name) = &query.name {
        config = config.fields(&format!("metadata.name={name}"));
    }
    let mut events = watcher(api, config).default_backoff().boxed();
    // Objects reported so far (key → stub), and those seen again during a relist.
    let mut known: HashMap<(String, String), Value> = HashMap::new();
    let mut relisted: Option<HashMap<(String, String), Value>> = None;
    loop {
        let next = tokio::select! {
            next = events.try_next() => next,
            () = tx.closed() => return,
        };
        let (event_type, object) = match next {
            Ok(Some(watcher::Event::Init)) => {
                relisted = Some(HashMap::new());
                continue;
            }
            Ok(Some(watcher::Event::InitDone)) => {
                let seen = relisted.take().unwrap_or_default();
                for (key, gone) in known.drain() {
                    if !seen.contains_key(&key) && !send_gone(&store, &query, &tx, kind, gone).await {
                        return;
                    }
                }
                known = seen;
                continue;
            }
            Ok(Some(watcher::Event::InitApply(o))) => {
                let key =
                    (o.metadata.namespace.clone().unwrap_or_default(), o.metadata.name.clone().unwrap_or_default());
                let previous = known.get(&key).map(|v| object::meta_str(v, "resourceVersion").map(str::to_string));
                let value = match to_value(o.clone()) {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(key, stub(kind, &value));
                }
                match previous {
                    None => (EventType::Added, o),
                    Some(rv) if rv.as_deref() != o.metadata.resource_version.as_deref() => (EventType::Modified, o),
                    Some(_) => continue,
                }
            }
            Ok(Some(watcher::Event::Apply(o))) => {
                let key =
                    (o.metadata.namespace.clone().unwrap_or_default(), o.metadata.name.clone().unwrap_or_default());
                let stubbed = match to_value(o.clone()) {
                    Ok(v) => stub(kind, &v),
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let event_type =
                    if known.insert(key, stubbed).is_some() { EventType::Modified } else { EventType::Added };
                (event_type, o)
            }
            Ok(Some(watcher::Event::Delete(o))) => {
                let key =
                    (o.metadata.namespace.clone().unwrap_or_default(), o.metadata.name.clone().unwrap_or_default());
                known.remove(&key);
                (EventType::Deleted, o)
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%kind, error = %e, "watcher failed; it retries");
                continue;
            }
        };
        if !deliver(&store, &query, &tx, kind, event_type, object).await {
            return;
        }
    }
}

/// Reports an object that vanished while the watcher relisted (of a team namespace only).
async fn send_gone(store: &KubeStore, query: &WatchQuery, tx: &Sender, kind: Kind, last: Value) -> bool {
    match wanted(store, query, object::namespace(&last)).await {
        Ok(true) => {}
        Ok(false) => return true,
        Err(e) => return tx.send(Err(e)).await.is_ok(),
    }
    let resource_version = object_rv(&last);
    tx.send(Ok(WatchEvent { kind, event_type: EventType::Deleted, resource_version, object: last })).await.is_ok()
}
