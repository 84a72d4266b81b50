//! `?watch=true`: the store's change stream as Kubernetes watch events (one JSON object a line),
//! resumable from a resourceVersion, with bookmarks on request, `410 Expired` for a version
//! the store no longer holds, and Table rows for `kubectl get -w`.

use std::{collections::HashMap, convert::Infallible, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    Ctx, Target,
    handlers::{api_version, selection},
    status::{ApiError, ApiResult},
    table::{self, Include},
};
use crate::store::{StoreError, WatchQuery};

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

fn line(event_type: &str, object: Value) -> Bytes {
    let mut text = json!({"type": event_type, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn stream_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    // Compression would hold events back until a buffer fills.
    response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("identity"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    response
}

/// The one-event answer an API server gives to a watch it cannot start.
fn error_stream(error: ApiError) -> Response {
    let (tx, rx) = mpsc::channel(1);
    let _ = tx.try_send(Ok(line("ERROR", error.to_status())));
    stream_response(rx)
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Gone { requested, oldest } => ApiError::gone(format!(
            "too old resource version: {requested} ({oldest}); list again and watch from the list's resourceVersion"
        )),
        other => ApiError::from(other),
    }
}

pub async fn watch(
    ctx: Ctx,
    target: Target,
    query: HashMap<String, String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    ctx.authorize("watch", &target)?;
    let (list_query, fields) = selection(&target, &query)?;
    if let Some(ns) = &list_query.namespace
        && target.namespace.is_none()
    {
        ctx.authorize("watch", &Target { namespace: Some(ns.clone()), ..target.clone() })?;
    }
    let resource_version = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(rv) => {
            Some(rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("resourceVersion {rv:?} is not valid")))?)
        }
    };
    let timeout = match query.get("timeoutSeconds").filter(|t| !t.is_empty()) {
        Some(t) => Some(Duration::from_secs(
            t.parse().map_err(|_| ApiError::bad_request(format!("timeoutSeconds {t:?} is not a number")))?,
        )),
        None => None,
    };
    let bookmarks = query.get("allowWatchBookmarks").is_some_and(|b| b == "true" || b == "1");
    // A streaming list (client-go's WatchList, on by default since kubectl 1.35): the current
    // objects as ADDED events, then a bookmark marking the end of them, then the changes.
    let initial_events = query.get("sendInitialEvents").is_some_and(|b| b == "true" || b == "1");
    if initial_events {
        if query.get("resourceVersionMatch").map(String::as_str) != Some("NotOlderThan") {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: sendInitialEvents=true requires resourceVersionMatch=NotOlderThan",
            ));
        }
        if !bookmarks {
            return Err(ApiError::bad_request(
                "allowWatchBookmarks: sendInitialEvents=true requires allowWatchBookmarks=true",
            ));
        }
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let as_table = table::wants_table(accept);
    let include = Include::parse(query.get("includeObject").map(String::as_str));
    let kind = target.kind;
    let (initial, resource_version) = if initial_events {
        let list = ctx.store.list(kind, &list_query).await.map_err(store_error)?;
        if let Some(rv) = resource_version
            && list.resource_version < rv
        {
            return Err(ApiError::gone(format!("resource version {rv} is newer than the store's")));
        }
        let items: Vec<Value> = list.items.into_iter().filter(|o| ctx.may_see(kind, o) && fields.matches(o)).collect();
        (Some(items), Some(list.resource_version))
    } else {
        (None, resource_version)
    };
    let watch_query = WatchQuery {
        kind: Some(kind),
        namespace: list_query.namespace.clone(),
        labels: list_query.labels.clone(),
        name: list_query.name.clone(),
        resource_version,
        ..WatchQuery::default()
    };
    let shown = super::admission::catalog_visibility(&ctx, kind).await?;
    if kind == app::model::Kind::Secret {
        // Every event of a Secret watch carries its data: the watch is a read of credentials.
        // One entry per team whose Secrets it can carry: the one named, else each of the caller's.
        let teams: Vec<String> = match &list_query.namespace {
            Some(ns) => vec![ns.clone()],
            None => ctx.caller.groups.iter().filter_map(|g| g.strip_prefix("team:")).map(str::to_string).collect(),
        };
        for team in teams {
            ctx.credentials_read(&team, "", "watch", None).await;
        }
    }
    let mut events = match ctx.store.watch(watch_query).await {
        Ok(events) => events,
        Err(e) => return Ok(error_stream(store_error(e))),
    };
    let mut last_rv = match resource_version {
        Some(rv) => rv,
        None => ctx.store.resource_version().await?,
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let mut shutdown = ctx.shutdown.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        let mut headers = true;
        if *shutdown.borrow() {
            return;
        }
        if let Some(items) = initial {
            for object in items {
                let object = if as_table {
                    let rv = object.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
                    let t = table::table(
                        kind,
                        std::slice::from_ref(&object),
                        include,
                        headers,
                        json!({"resourceVersion": rv}),
                    );
                    headers = false;
                    t
                } else {
                    object
                };
                if tx.send(Ok(line("ADDED", object))).await.is_err() {
                    return;
                }
            }
            let end = json!({"kind": kind.as_str(), "apiVersion": api_version(kind),
                             "metadata": {"resourceVersion": last_rv.to_string(),
                                          "annotations": {"k8s.io/initial-events-end": "true"}}});
            if tx.send(Ok(line("BOOKMARK", end))).await.is_err() {
                return;
            }
        }
        loop {
            let next = tokio::select! {
                _ = shutdown.changed() => break,
                () = tokio::time::sleep_until(deadline) => break,
                () = tx.closed() => break,
                _ = ticks.tick(), if bookmarks => {
                    let object = json!({"kind": kind.as_str(), "apiVersion": api_version(kind),
                                        "metadata": {"resourceVersion": last_rv.to_string()}});
                    if tx.send(Ok(line("BOOKMARK", object))).await.is_err() { break }
                    continue;
                }
                next = events.next() => next,
            };
            match next {
                None => break,
                Some(Err(e)) => {
                    let _ = tx.send(Ok(line("ERROR", store_error(e).to_status()))).await;
                    break;
                }
                Some(Ok(event)) => {
                    last_rv = last_rv.max(event.resource_version);
                    if !ctx.may_see(kind, &event.object)
                        || !fields.matches(&event.object)
                        || shown.as_ref().is_some_and(|v| !v.shows(kind, &event.object))
                    {
                        continue;
                    }
                    let object = if as_table {
                        let rv = event.object.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
                        let t = table::table(
                            kind,
                            std::slice::from_ref(&event.object),
                            include,
                            headers,
                            json!({"resourceVersion": rv}),
                        );
                        headers = false;
                        t
                    } else {
                        event.object
                    };
                    if tx.send(Ok(line(event.event_type.as_str(), object))).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    Ok(stream_response(rx))
}
