//! Watches: an initial state (or a resume point), then every change in resourceVersion order.
//!
//! Writers broadcast each committed change; a watcher takes a broadcast event when it is the
//! very next version, and otherwise (events raced, or it lagged) reads the gap from the change
//! log, so it never skips or repeats a version.

use app::model::Kind;
use futures::{StreamExt, stream::BoxStream};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{
    EventType, ListQuery, ResourceStore, Result, StoreError, WatchEvent, WatchQuery,
    sql::{SqlStore, matches},
};

const PAGE: i64 = 500;

pub(super) async fn start(store: SqlStore, query: WatchQuery) -> Result<BoxStream<'static, Result<WatchEvent>>> {
    // Subscribe before reading anything, so no change can slip between the read and the stream.
    let receiver = store.events.subscribe();
    let external = store.latest.subscribe();
    if let Some(requested) = query.resource_version {
        let oldest = store.oldest_resumable().await?;
        if requested < oldest {
            return Err(StoreError::Gone { requested, oldest });
        }
    }
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        if let Err(e) = run(store, query, receiver, external, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(ReceiverStream::new(rx).boxed())
}

struct Watcher<'a> {
    store: SqlStore,
    query: WatchQuery,
    tx: &'a mpsc::Sender<Result<WatchEvent>>,
    /// The last version seen (whether or not it matched the query).
    last: u64,
}

impl Watcher<'_> {
    fn wants(&self, event: &WatchEvent) -> bool {
        self.query.kinds().iter().any(|k| {
            matches(
                *k,
                self.query.namespace.as_deref(),
                self.query.name.as_deref(),
                &self.query.labels,
                event.kind,
                &event.object,
            )
        })
    }

    /// Sends an event if it matches; `false` when the receiver has gone.
    async fn deliver(&mut self, event: WatchEvent) -> bool {
        self.last = event.resource_version;
        if !self.wants(&event) {
            return true;
        }
        self.tx.send(Ok(event)).await.is_ok()
    }

    /// Reads the change log from `last` onwards until it is exhausted.
    async fn catch_up(&mut self) -> Result<bool> {
        loop {
            let oldest = self.store.oldest_resumable().await?;
            if self.last < oldest {
                return Err(StoreError::Gone { requested: self.last, oldest });
            }
            let events = self.store.log_after(self.last, PAGE).await?;
            let full_page = events.len() as i64 == PAGE;
            for event in events {
                if !self.deliver(event).await {
                    return Ok(false);
                }
            }
            if !full_page {
                return Ok(true);
            }
        }
    }

    /// `ADDED` for every object that matches now; returns the version of that state.
    async fn initial_state(&mut self) -> Result<bool> {
        let kinds: Vec<Kind> = self.query.kinds();
        let mut rv = self.store.resource_version().await?;
        let mut events = Vec::new();
        for kind in kinds {
            let list = self
                .store
                .list(
                    kind,
                    &ListQuery {
                        namespace: self.query.namespace.clone(),
                        labels: self.query.labels.clone(),
                        name: self.query.name.clone(),
                        ..ListQuery::default()
                    },
                )
                .await?;
            // Lists of several kinds are separate reads: start after the oldest of them and let
            // the log replay whatever changed in between (objects may then arrive twice, as ADDED
            // then MODIFIED, which watch clients handle).
            rv = rv.min(list.resource_version);
            events.extend(list.items.into_iter().map(|object| WatchEvent {
                kind,
                event_type: EventType::Added,
                resource_version:
                    super::object::meta_str(&object, "resourceVersion").and_then(|s| s.parse().ok()).unwrap_or(0),
                object,
            }));
        }
        for event in events {
            if self.tx.send(Ok(event)).await.is_err() {
                return Ok(false);
            }
        }
        self.last = rv;
        Ok(true)
    }
}

async fn run(
    store: SqlStore,
    query: WatchQuery,
    mut receiver: broadcast::Receiver<WatchEvent>,
    mut external: tokio::sync::watch::Receiver<u64>,
    tx: &mpsc::Sender<Result<WatchEvent>>,
) -> Result<()> {
    let start = query.resource_version;
    let mut watcher = Watcher { store, query, tx, last: start.unwrap_or(0) };
    let alive = match start {
        Some(_) => watcher.catch_up().await?,
        None => watcher.initial_state().await? && watcher.catch_up().await?,
    };
    if !alive {
        return Ok(());
    }
    loop {
        let next = tokio::select! {
            next = receiver.recv() => next,
            changed = external.changed() => {
                // Another process (or a lagging broadcast) committed past what we delivered.
                if changed.is_err() {
                    return Ok(());
                }
                let newest = *external.borrow_and_update();
                if newest > watcher.last && !watcher.catch_up().await? {
                    return Ok(());
                }
                continue;
            }
            () = tx.closed() => return Ok(()),
        };
        let alive = match next {
            Ok(event) if event.resource_version <= watcher.last => true,
            Ok(event) if event.resource_version == watcher.last + 1 => watcher.deliver(event).await,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => watcher.catch_up().await?,
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        if !alive {
            return Ok(());
        }
    }
}
