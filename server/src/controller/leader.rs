//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several portal replicas
//! exactly one runs the controller (every replica serves the UI and the API).
//!
//! kube-rs has no leader election of its own; this follows client-go's `leaderelection`:
//! * the holder renews `renewTime` every `retry_period`; every write carries the Lease's
//!   resourceVersion, so of two candidates racing for it one gets `409 Conflict` and loses;
//! * a candidate takes over once the record (holder, renewTime) has not changed for the
//!   holder's `leaseDurationSeconds`, measured on its own clock from when it last saw it change
//!   (no comparison of clocks between machines);
//! * a leader that cannot renew within `renew_deadline` (shorter than the lease) stops
//!   reconciling before anyone else may start;
//! * on shutdown the leader releases the Lease (empty holder) so a successor starts at once.

use std::time::{Duration, Instant};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};
use tokio::sync::watch;

use super::Controller;

/// The RBAC rules leader election needs, in the Lease's namespace (API group, resources, verbs).
pub const PERMISSIONS: &[(&str, &[&str], &[&str])] =
    &[("coordination.k8s.io", &["leases"], &["get", "create", "update"])];

#[derive(Clone, Debug)]
pub struct LeaderConfig {
    pub namespace: String,
    pub lease_name: String,
    /// Unique per process: who holds the lease.
    pub identity: String,
    pub lease_duration: Duration,
}

impl LeaderConfig {
    /// Give up leadership when renewing has failed for this long (2/3 of the lease).
    pub fn renew_deadline(&self) -> Duration {
        self.lease_duration * 2 / 3
    }

    /// How often to renew, or to try to take over.
    pub fn retry_period(&self) -> Duration {
        (self.lease_duration / 5).max(Duration::from_millis(100))
    }
}

/// A default identity: the pod (or host) name and a random suffix.
pub fn default_identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "quartermaster".to_string());
    format!("{host}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

pub struct Elector {
    api: Api<Lease>,
    config: LeaderConfig,
    /// The record last seen and when it was first seen.
    observed: Option<(Record, Instant)>,
}

/// What identifies one renewal of the lease: holder, renewTime, resourceVersion.
type Record = (Option<String>, Option<String>, Option<String>);

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    pub fn new(client: Client, config: LeaderConfig) -> Self {
        Self { api: Api::namespaced(client, &config.namespace), config, observed: None }
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Takes or renews the lease; `Ok(false)` while another process holds it.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let me = self.config.identity.clone();
        let seconds = i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(lease) = self.api.get_opt(&self.config.lease_name).await? else {
            let fresh = Lease {
                metadata: ObjectMeta { name: Some(self.config.lease_name.clone()), ..ObjectMeta::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &fresh).await {
                Ok(created) => {
                    self.observe(&created);
                    Ok(true)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        self.observe(&lease);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let theirs = holder.as_deref().is_some_and(|h| h != me);
        if theirs {
            let their_duration =
                Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(seconds)).unwrap_or(1));
            let unchanged_since = self.observed.as_ref().map_or_else(Instant::now, |(_, at)| *at);
            if unchanged_since.elapsed() < their_duration {
                return Ok(false);
            }
            tracing::info!(previous = ?holder, "the leader lease expired; taking over");
        }
        let mut next = lease.clone();
        let mut spec = spec;
        if holder.as_deref() != Some(me.as_str()) {
            spec.acquire_time = Some(now());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(me);
        spec.renew_time = Some(now());
        spec.lease_duration_seconds = Some(seconds);
        next.spec = Some(spec);
        match self.api.replace(&self.config.lease_name, &PostParams::default(), &next).await {
            Ok(written) => {
                self.observe(&written);
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn observe(&mut self, lease: &Lease) {
        let spec = lease.spec.as_ref();
        let record = (
            spec.and_then(|s| s.holder_identity.clone()),
            spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0.to_string()),
            lease.metadata.resource_version.clone(),
        );
        if self.observed.as_ref().is_none_or(|(seen, _)| *seen != record) {
            self.observed = Some((record, Instant::now()));
        }
    }

    /// Gives the lease up (when held) so another process need not wait for it to expire.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.lease_name).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now());
        if let Err(e) = self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await {
            tracing::warn!(error = %e, "releasing the leader lease failed; it expires by itself");
        }
    }
}

/// Runs the controller whenever this process leads, until `stop` turns true. `start` builds a
/// controller each time leadership is won.
pub async fn run<F, Fut>(mut elector: Elector, mut stop: watch::Receiver<bool>, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Controller, crate::store::StoreError>>,
{
    let retry = elector.config.retry_period();
    let deadline = elector.config.renew_deadline();
    let pause = |stop: &mut watch::Receiver<bool>| {
        let mut stop = stop.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(retry) => false,
                _ = stop.changed() => true,
            }
        }
    };
    loop {
        // Follower: try to take the lease now and then.
        loop {
            if *stop.borrow() {
                return;
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "leader election: cannot read or write the lease"),
            }
            if pause(&mut stop).await {
                return;
            }
        }
        tracing::info!(identity = elector.identity(), "leading: the controller runs in this process");
        let controller = match start().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the controller cannot start; giving the lease up");
                elector.release().await;
                if pause(&mut stop).await {
                    return;
                }
                continue;
            }
        };
        let mut renewed = Instant::now();
        let lost = loop {
            if pause(&mut stop).await || *stop.borrow() {
                controller.shutdown().await;
                elector.release().await;
                return;
            }
            match elector.try_acquire_or_renew().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => break "another process holds the lease",
                Err(e) if renewed.elapsed() >= deadline => {
                    tracing::warn!(error = %e, "leader election: renewing failed");
                    break "the lease could not be renewed in time";
                }
                Err(e) => tracing::warn!(error = %e, "leader election: renewing failed; retrying"),
            }
        };
        tracing::warn!(identity = elector.identity(), why = lost, "lost the leadership: the controller stops");
        controller.abort();
    }
}
