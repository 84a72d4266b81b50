//! Reconcilers that drive brokers from the store's objects: broker relists, instances, bindings.
//!
//! Level-triggered, as in kube-rs's controller-rs: the store's watch feeds a work queue (one entry
//! per object, never two workers on one object), each pass reads the object, asks a pure
//! `decide` what to do, performs that one effect, writes status and says when to look again.

pub mod binding;
pub mod broker;
pub mod cache;
pub mod catalog_sync;
pub mod clients;
pub mod conditions;
pub mod instance;
#[cfg(feature = "kubernetes")]
pub mod leader;
pub mod lease;
pub mod params;
pub mod queue;
pub mod timing;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use app::model::Kind;
use futures::StreamExt;
use serde_json::Value;
use tokio::{sync::watch, task::JoinHandle};
use tracing::Instrument;

use crate::store::{ListQuery, ResourceStore, StoreError, TypedStore, WatchEvent, WatchQuery};
use cache::Cache;
use clients::Clients;
use queue::WorkQueue;
pub use timing::Timing;

/// What the reconcilers share.
pub struct Ctx {
    pub store: Arc<dyn ResourceStore>,
    pub typed: TypedStore,
    pub cache: Cache,
    pub clients: Clients,
    pub timing: Timing,
    /// Sent to brokers in the OSB context as `clusterid`.
    pub cluster_id: String,
    pub leases: lease::Leases,
    relist_failures: Mutex<HashMap<(Kind, String, String), u32>>,
}

/// One unit of work.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Broker(Kind, String, String),
    Instance(String, String),
    Binding(String, String),
}

#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub timing: Timing,
    /// Reconciles running at once.
    pub workers: usize,
    /// Calls in flight to one broker at once.
    pub per_broker_concurrency: usize,
    /// Calls a second to one broker unless its `quartermaster.io/max-calls-per-second` annotation
    /// says otherwise (`None`: no limit).
    pub per_broker_rate: Option<std::num::NonZeroU32>,
    pub request_timeout: Duration,
    pub cluster_id: String,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            timing: Timing::default(),
            workers: 16,
            per_broker_concurrency: 16,
            per_broker_rate: None,
            request_timeout: Duration::from_secs(60),
            cluster_id: "quartermaster".into(),
        }
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn target_of(kind: Kind, object: &Value) -> Option<Target> {
    let ns = str_at(object, "/metadata/namespace").to_string();
    let name = str_at(object, "/metadata/name").to_string();
    match kind {
        Kind::ClusterServiceBroker | Kind::ServiceBroker => Some(Target::Broker(kind, ns, name)),
        Kind::ServiceInstance => Some(Target::Instance(ns, name)),
        Kind::ServiceBinding => Some(Target::Binding(ns, name)),
        _ => None,
    }
}

/// Which bindings belong to which instance, so an instance becoming ready wakes its bindings.
#[derive(Default)]
struct BindingIndex {
    by_instance: HashMap<(String, String), HashSet<String>>,
}

impl BindingIndex {
    fn apply(&mut self, event: &WatchEvent) -> Vec<Target> {
        let ns = str_at(&event.object, "/metadata/namespace").to_string();
        match event.kind {
            Kind::ServiceBinding => {
                let name = str_at(&event.object, "/metadata/name").to_string();
                let instance = str_at(&event.object, "/spec/instanceRef/name").to_string();
                let entry = self.by_instance.entry((ns, instance)).or_default();
                if event.event_type == crate::store::EventType::Deleted {
                    entry.remove(&name);
                } else {
                    entry.insert(name);
                }
                Vec::new()
            }
            Kind::ServiceInstance => {
                let name = str_at(&event.object, "/metadata/name").to_string();
                self.by_instance
                    .get(&(ns.clone(), name))
                    .map(|bindings| bindings.iter().map(|b| Target::Binding(ns.clone(), b.clone())).collect())
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }
}

/// A running controller; dropping it does not stop it — call [`Controller::shutdown`].
pub struct Controller {
    pub ctx: Arc<Ctx>,
    queue: Arc<WorkQueue<Target>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Target {
    /// A stable name for leases and logs.
    pub fn key(&self) -> String {
        match self {
            Target::Broker(kind, ns, name) => format!("{kind}/{ns}/{name}"),
            Target::Instance(ns, name) => format!("ServiceInstance/{ns}/{name}"),
            Target::Binding(ns, name) => format!("ServiceBinding/{ns}/{name}"),
        }
    }
}

impl Controller {
    /// Starts reconciling. `leases` decides which process works on what when several share a
    /// database ([`lease::Leases::none`] for one process).
    pub async fn start(
        store: Arc<dyn ResourceStore>,
        leases: lease::Leases,
        config: ControllerConfig,
    ) -> Result<Self, StoreError> {
        let ctx = Arc::new(Ctx {
            typed: TypedStore::new(store.clone()),
            clients: Clients::new(
                store.clone(),
                config.request_timeout,
                config.per_broker_concurrency,
                config.per_broker_rate,
            ),
            store,
            cache: Cache::default(),
            timing: config.timing.clone(),
            cluster_id: config.cluster_id.clone(),
            leases,
            relist_failures: Mutex::default(),
        });
        let queue = Arc::new(WorkQueue::default());
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let index = Arc::new(Mutex::new(BindingIndex::default()));
        let from = prime(&ctx, &queue, &index).await?;
        tasks.push(tokio::spawn(follow(ctx.clone(), queue.clone(), index, from, stopped.clone())));
        tasks.push(tokio::spawn(resync(ctx.clone(), queue.clone(), stopped.clone())));
        for _ in 0..config.workers.max(1) {
            tasks.push(tokio::spawn(work(ctx.clone(), queue.clone())));
        }
        crate::metrics::METRICS.leader.set(1);
        Ok(Self { ctx, queue, stop, tasks })
    }

    /// Asks for a reconcile of `target` now (e.g. after an API write that the watch will also see).
    pub fn enqueue(&self, target: Target) {
        self.queue.add(target);
    }

    /// Items queued or scheduled.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Stops at once, reconciles in progress included (as a crash would: every effect is recorded
    /// before it is sent, so whoever reconciles next resumes it). For a lost leadership, where
    /// another process may already be reconciling.
    pub fn abort(self) {
        crate::metrics::METRICS.leader.set(0);
        self.queue.close();
        for task in self.tasks {
            task.abort();
        }
    }

    /// Stops taking work; reconciles in progress finish their current effect.
    pub async fn shutdown(self) {
        crate::metrics::METRICS.leader.set(0);
        let _ = self.stop.send(true);
        self.queue.close();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Objects read per list call when listing everything.
const PAGE: usize = 500;

/// Lists everything once (filling the cache, queueing every object) and returns the version to
/// watch from.
async fn prime(ctx: &Ctx, queue: &WorkQueue<Target>, index: &Mutex<BindingIndex>) -> Result<u64, StoreError> {
    let from = ctx.store.resource_version().await?;
    for kind in Kind::ALL {
        if kind == Kind::Secret {
            continue;
        }
        // In pages, so 100,000 instances never sit in memory at once.
        let mut page = ListQuery { limit: Some(PAGE), ..ListQuery::default() };
        loop {
            let list = ctx.store.list(kind, &page).await?;
            for object in list.items {
                let event =
                    WatchEvent { kind, event_type: crate::store::EventType::Added, resource_version: 0, object };
                ctx.cache.apply(&event);
                index.lock().unwrap_or_else(|p| p.into_inner()).apply(&event);
                if let Some(target) = target_of(kind, &event.object) {
                    queue.add(target);
                }
            }
            match list.continue_token {
                Some(token) => page.continue_token = Some(token),
                None => break,
            }
        }
    }
    Ok(from)
}

/// The kinds the controller follows (Secrets are only read when needed: a controller need not
/// see, nor be allowed to list, every Secret of the cluster).
const WATCHED: [Kind; 8] = [
    Kind::ClusterServiceBroker,
    Kind::ServiceBroker,
    Kind::ClusterServiceClass,
    Kind::ServiceClass,
    Kind::ClusterServicePlan,
    Kind::ServicePlan,
    Kind::ServiceInstance,
    Kind::ServiceBinding,
];

/// Follows the store's changes: updates the cache and queues what changed.
async fn follow(
    ctx: Arc<Ctx>,
    queue: Arc<WorkQueue<Target>>,
    index: Arc<Mutex<BindingIndex>>,
    mut from: u64,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let query = WatchQuery { resource_version: Some(from), kinds: WATCHED.to_vec(), ..Default::default() };
        let stream = ctx.store.watch(query).await;
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "controller watch failed; listing again");
                tokio::time::sleep(ctx.timing.backoff(1)).await;
                match prime(&ctx, &queue, &index).await {
                    Ok(rv) => from = rv,
                    Err(e) => tracing::warn!(error = %e, "controller relist failed"),
                }
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = stopped.changed() => return,
            };
            match next {
                Some(Ok(event)) => {
                    from = event.resource_version;
                    ctx.cache.apply(&event);
                    let woken = index.lock().unwrap_or_else(|p| p.into_inner()).apply(&event);
                    for target in woken {
                        queue.add(target);
                    }
                    if let Some(target) = target_of(event.kind, &event.object) {
                        queue.add(target);
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "controller watch broke; resuming");
                    break;
                }
                None => break,
            }
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// Every object is looked at again now and then, whatever the watch said.
async fn resync(ctx: Arc<Ctx>, queue: Arc<WorkQueue<Target>>, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(ctx.timing.resync) => {}
            _ = stopped.changed() => return,
        }
        for kind in [Kind::ClusterServiceBroker, Kind::ServiceBroker, Kind::ServiceInstance, Kind::ServiceBinding] {
            let mut page = ListQuery { limit: Some(PAGE), ..ListQuery::default() };
            loop {
                match ctx.store.list(kind, &page).await {
                    Ok(list) => {
                        list.items.iter().filter_map(|o| target_of(kind, o)).for_each(|t| queue.add(t));
                        match list.continue_token {
                            Some(token) => page.continue_token = Some(token),
                            None => break,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "resync list failed");
                        break;
                    }
                }
            }
        }
    }
}

async fn work(ctx: Arc<Ctx>, queue: Arc<WorkQueue<Target>>) {
    let mut failures: HashMap<Target, u32> = HashMap::new();
    let metrics = &crate::metrics::METRICS;
    while let Some(target) = queue.next().await {
        let kind = match &target {
            Target::Broker(kind, ..) => kind.as_str(),
            Target::Instance(..) => "ServiceInstance",
            Target::Binding(..) => "ServiceBinding",
        };
        let lease = target.key();
        match ctx.leases.acquire(&lease).await {
            Ok(true) => {}
            Ok(false) => {
                // Another process works on it; look again later in case that process dies.
                queue.done(&target);
                queue.add_after(target, ctx.timing.poll_interval.max(Duration::from_millis(500)));
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take a reconcile lease");
                queue.done(&target);
                queue.add_after(target, ctx.timing.backoff(1));
                continue;
            }
        }
        metrics.reconciles.with_label_values(&[kind]).inc();
        let span = tracing::info_span!("reconcile", ?target);
        let result = async {
            match &target {
                Target::Broker(kind, ns, name) => broker::reconcile(&ctx, *kind, ns, name).await,
                Target::Instance(ns, name) => instance::run::reconcile(&ctx, ns, name).await,
                Target::Binding(ns, name) => binding::run::reconcile(&ctx, ns, name).await,
            }
        }
        .instrument(span)
        .await;
        ctx.leases.release(&lease).await;
        queue.done(&target);
        metrics.queue_depth.set(queue.len() as i64);
        if let Err(e) = &result {
            let reason = match e {
                StoreError::Conflict { .. } => "Conflict",
                StoreError::NotFound { .. } => "NotFound",
                StoreError::Invalid { .. } => "Invalid",
                StoreError::AlreadyExists { .. } => "AlreadyExists",
                StoreError::Gone { .. } => "Gone",
                StoreError::Backend(_) => "StorageError",
            };
            metrics.reconcile_errors.with_label_values(&[kind, reason]).inc();
        }
        match result {
            Ok(requeue) => {
                failures.remove(&target);
                if let Some(delay) = requeue {
                    queue.add_after(target, delay);
                }
            }
            Err(e) => {
                let n = failures.entry(target.clone()).or_insert(0);
                *n += 1;
                let delay = ctx.timing.backoff(*n);
                match e {
                    // Someone else wrote first: look again at once.
                    StoreError::Conflict { .. } => queue.add(target),
                    StoreError::NotFound { .. } => {}
                    e => {
                        tracing::warn!(?target, error = %e, "reconcile failed; retrying in {delay:?}");
                        queue.add_after(target, delay);
                    }
                }
            }
        }
    }
}
