//! The live status stream: Server-Sent Events fed by the store's watch, so the instance pages
//! change without a reload.
//!
//! `GET /live/instances?namespace=team-a&instance=logs&rv=42`
//! - with `instance`: that instance and its bindings (events `instance`, `binding`,
//!   `instance-deleted`, `binding-deleted`), and `approval` when a request for it is held for
//!   approval or decided (no `id`: decisions are not in the store's order, and a page that
//!   reconnects reads the request's state with the page);
//! - without: every instance the caller may see (optionally of one namespace);
//! - with `rows=true` (and no `instance`): the same, each instance as the instances list shows it
//!   (event `instance-row`, an `InstanceRow`: its status line, no parameters), for the list.
//!
//! Every event's `id` is the store's resourceVersion, so a browser that reconnects (EventSource
//! sends `Last-Event-ID`) resumes exactly where it left off. When that version is too old to
//! resume, the stream starts with `reset` and then sends the current state in full.

use std::{convert::Infallible, time::Duration};

use app::{
    api::{Caller, instances::InstanceRow},
    model::{Kind, ServiceBinding, ServiceInstance, validate_dns1123_label, validate_dns1123_subdomain},
    port::caller_of,
};
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    app_state::AppState,
    store::{EventType, StoreError, WatchEvent, WatchQuery},
};

#[derive(Debug, Default, Deserialize)]
pub struct LiveQuery {
    pub namespace: Option<String>,
    pub instance: Option<String>,
    /// Resume after this resourceVersion (`Last-Event-ID` wins when both are given).
    pub rv: Option<u64>,
    /// Instances as list rows.
    #[serde(default)]
    pub rows: bool,
}

/// What a watch event becomes on the wire, if the caller is to see it.
fn to_event(query: &LiveQuery, caller: &Caller, event: &WatchEvent) -> Option<Event> {
    let object = &event.object;
    let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if !caller.may_access(namespace) {
        return None;
    }
    let deleted = event.event_type == EventType::Deleted;
    let (kind, data) = match event.kind {
        Kind::ServiceInstance => {
            if query.instance.as_deref().is_some_and(|wanted| wanted != name) {
                return None;
            }
            if deleted {
                ("instance-deleted", json!({"namespace": namespace, "name": name}))
            } else if query.rows {
                let instance: ServiceInstance = serde_json::from_value(object.clone()).ok()?;
                ("instance-row", serde_json::to_value(InstanceRow::from_instance(&instance, None)).ok()?)
            } else {
                ("instance", object.clone())
            }
        }
        Kind::ServiceBinding => {
            let wanted = query.instance.as_deref()?;
            let binding: ServiceBinding = serde_json::from_value(object.clone()).ok()?;
            if binding.spec.instance_ref.name != wanted {
                return None;
            }
            if deleted {
                ("binding-deleted", json!({"namespace": namespace, "name": name}))
            } else {
                ("binding", object.clone())
            }
        }
        // Secrets and everything else never leave through this stream.
        _ => return None,
    };
    Some(Event::default().event(kind).id(event.resource_version.to_string()).data(data.to_string()))
}

pub async fn instances(
    State(state): State<AppState>,
    Query(query): Query<LiveQuery>,
    headers: HeaderMap,
    parts: Parts,
) -> Response {
    let Some(caller) = caller_of(Some(&parts)) else {
        return (StatusCode::UNAUTHORIZED, app::port::NOT_SIGNED_IN).into_response();
    };
    if let Some(ns) = &query.namespace {
        if validate_dns1123_label(ns).is_err() {
            return (StatusCode::BAD_REQUEST, "namespace is not a DNS-1123 label").into_response();
        }
        if !caller.may_access(ns) {
            return (StatusCode::FORBIDDEN, "not allowed to watch this namespace").into_response();
        }
    }
    if query.instance.as_deref().is_some_and(|i| validate_dns1123_subdomain(i).is_err()) {
        return (StatusCode::BAD_REQUEST, "instance is not a valid name").into_response();
    }
    if query.instance.is_some() && query.namespace.is_none() {
        return (StatusCode::BAD_REQUEST, "instance needs namespace").into_response();
    }
    if query.instance.is_some() && query.rows {
        return (StatusCode::BAD_REQUEST, "rows are for the list: no instance").into_response();
    }
    let watched = (query.namespace.clone(), query.instance.clone());
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let resume = last_event_id.or(query.rv);
    let watch_query = |resource_version| WatchQuery {
        // One watch over both kinds keeps their events in one order (the ids stay monotonic).
        kind: if query.instance.is_some() { None } else { Some(Kind::ServiceInstance) },
        namespace: query.namespace.clone(),
        resource_version,
        ..WatchQuery::default()
    };
    let (events, reset) = match state.store.watch(watch_query(resume)).await {
        Ok(events) => (events, false),
        Err(StoreError::Gone { .. }) => match state.store.watch(watch_query(None)).await {
            Ok(events) => (events, true),
            Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        },
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    let first = reset.then(|| Ok::<_, Infallible>(Event::default().event("reset").data("{}")));
    let mut shutdown = state.shutdown.clone();
    let stopped = async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    };
    let updates = events
        // A failed watch (the client fell too far behind) ends the stream; the browser reconnects.
        .take_while(|event| std::future::ready(event.is_ok()))
        .filter_map(move |event| {
            let out = event.ok().and_then(|e| to_event(&query, &caller, &e)).map(Ok::<_, Infallible>);
            std::future::ready(out)
        })
        .take_until(stopped);
    // Decisions on requests for the instance (the requester watching a pending request).
    let approvals = match watched {
        (Some(namespace), Some(instance)) => {
            let receiver = state.governance.subscribe();
            stream::unfold(receiver, move |mut receiver| {
                let (namespace, instance) = (namespace.clone(), instance.clone());
                async move {
                    loop {
                        match receiver.recv().await {
                            Ok(notice) if notice.namespace == namespace && notice.instance == instance => {
                                let data = serde_json::to_string(&notice.request).unwrap_or_default();
                                return Some((
                                    Ok::<_, Infallible>(Event::default().event("approval").data(data)),
                                    receiver,
                                ));
                            }
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        }
                    }
                }
            })
            .boxed()
        }
        _ => stream::empty().boxed(),
    };
    let mut shutdown = state.shutdown.clone();
    let approvals = approvals.take_until(async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
    });
    // The stream ends when the store's events end (the browser then reconnects).
    let merged = stream::select(updates.map(Some).chain(stream::once(async { None })), approvals.map(Some))
        .take_while(|event| std::future::ready(event.is_some()))
        .filter_map(std::future::ready);
    let stream = stream::iter(first).chain(merged);
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert("x-accel-buffering", "no".parse().expect("static header"));
    response.headers_mut().insert("cache-control", "no-cache".parse().expect("static header"));
    response
}
