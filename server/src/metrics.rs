//! Prometheus metrics, served on `/metrics`: reconciles, their errors by reason, the work queue,
//! and every broker call's latency and outcome.

use std::{sync::LazyLock, time::Duration};

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub reconciles: IntCounterVec,
    pub reconcile_errors: IntCounterVec,
    pub queue_depth: IntGauge,
    pub broker_calls: HistogramVec,
    /// Calls that waited for their broker's calls-per-second limit.
    pub broker_rate_limited: IntCounterVec,
    /// 1 while this process holds the controller's leader lease (or runs without election).
    pub leader: IntGauge,
    /// Catalog pages answered from a kept render or rendered (see `http::page_cache`).
    pub page_cache: IntCounterVec,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("quartermaster".into()), None)?;
    let reconciles = IntCounterVec::new(Opts::new("reconciles_total", "Reconcile passes by object kind"), &["kind"])?;
    let reconcile_errors = IntCounterVec::new(
        Opts::new("reconcile_errors_total", "Reconcile passes that failed, by object kind and reason"),
        &["kind", "reason"],
    )?;
    let queue_depth = IntGauge::new("work_queue_depth", "Objects queued or scheduled for reconciling")?;
    let broker_calls = HistogramVec::new(
        HistogramOpts::new("broker_call_duration_seconds", "OSB calls to brokers, by broker, call and outcome")
            .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
        &["broker", "call", "outcome"],
    )?;
    let broker_rate_limited = IntCounterVec::new(
        Opts::new(
            "broker_calls_rate_limited_total",
            "Broker calls that waited for the broker's calls-per-second limit",
        ),
        &["broker"],
    )?;
    registry.register(Box::new(broker_rate_limited.clone()))?;
    registry.register(Box::new(reconciles.clone()))?;
    registry.register(Box::new(reconcile_errors.clone()))?;
    registry.register(Box::new(queue_depth.clone()))?;
    let leader =
        IntGauge::new("controller_leader", "1 while this process runs the controller (holds the leader lease)")?;
    registry.register(Box::new(broker_calls.clone()))?;
    registry.register(Box::new(leader.clone()))?;
    let page_cache = IntCounterVec::new(
        Opts::new("page_cache_total", "Catalog pages answered from a kept render (kept) or rendered (rendered)"),
        &["result"],
    )?;
    registry.register(Box::new(page_cache.clone()))?;
    Ok(Metrics {
        registry,
        reconciles,
        reconcile_errors,
        queue_depth,
        broker_calls,
        broker_rate_limited,
        leader,
        page_cache,
    })
}

/// The process's metrics (one registry per process, like Prometheus clients usually have).
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| build().expect("metric definitions are valid"));

impl Metrics {
    pub fn observe_broker_call(&self, broker: &str, call: &str, outcome: &str, elapsed: Duration) {
        self.broker_calls.with_label_values(&[broker, call, outcome]).observe(elapsed.as_secs_f64());
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        METRICS.reconciles.with_label_values(&["ServiceInstance"]).inc();
        METRICS.observe_broker_call("127.0.0.1:1", "provision", "done", Duration::from_millis(3));
        let text = METRICS.render();
        assert!(text.contains("quartermaster_reconciles_total{kind=\"ServiceInstance\"}"), "{text}");
        assert!(text.contains("quartermaster_broker_call_duration_seconds_bucket{broker=\"127.0.0.1:1\",call=\"provision\",outcome=\"done\""), "{text}");
    }
}
