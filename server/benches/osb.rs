//! Figures for the built-in broker and the OSB client, printed as a table (a program, not a test:
//! nothing here passes or fails on time).
//!
//! `cargo bench -p quartermaster-server --bench osb` starts the built-in broker on 127.0.0.1:0
//! (synchronous, no delay, its SQLite file in a temp dir) and measures:
//! - full provision → bind → unbind → deprovision cycles per second with 1 and 16 concurrent
//!   clients, and p50/p99 of each call;
//! - the client's own cost per call: `OsbClient::last_operation` against a trivial axum route that
//!   answers a constant body, next to a raw reqwest GET of the same route.
//!
//! `QM_BENCH_SECS` sets the seconds per cycle row (default 8; about 20 s in all).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Router, routing::get};
use serde_json::{Map, Value, json};
use server::{
    broker::{self, BrokerConfig, BrokerDb},
    osb::{
        ClientConfig, Context, LastOperationQuery, OriginatingIdentity, OsbClient, Outcome,
        wire::{BindRequest, ProvisionRequest},
    },
};

const CONCURRENCY: [usize; 2] = [1, 16];
const OVERHEAD_CALLS: usize = 3000;
const WARM_UP_CALLS: usize = 200;

fn main() -> anyhow::Result<()> {
    let seconds = std::env::var("QM_BENCH_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(8.0);
    let per_row = Duration::try_from_secs_f64(seconds)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(per_row))
}

async fn run(per_row: Duration) -> anyhow::Result<()> {
    server::osb::install_crypto_provider();
    let dir = tempfile::tempdir()?;
    let broker_url = serve_broker(&dir.path().join("broker.db")).await?;
    println!("Quartermaster OSB benchmark");
    println!("machine: {}, nproc {}", cpu_model(), std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!("broker:  built-in, synchronous, no delay, SQLite WAL in a temp dir, at {broker_url}");
    println!("client:  OsbClient (reqwest, keep-alive), one shared client, originating identity sent");
    println!();
    println!("Full cycles: provision -> bind -> unbind -> deprovision, {:.0} s per row", per_row.as_secs_f64());
    println!(
        "{:>7} {:>7} {:>9} | {:>17} {:>17} {:>17} {:>17} | {:>6}",
        "clients",
        "cycles",
        "cycles/s",
        "provision p50/p99",
        "bind p50/p99",
        "unbind p50/p99",
        "deprov. p50/p99",
        "errors"
    );
    let client = Arc::new(OsbClient::new(ClientConfig::new(&broker_url))?);
    for clients in CONCURRENCY {
        let row = cycles(&client, clients, per_row).await;
        let cells: Vec<String> = row
            .latencies
            .iter()
            .map(|samples| format!("{} / {}", ms(percentile(samples, 0.50)), ms(percentile(samples, 0.99))))
            .collect();
        println!(
            "{:>7} {:>7} {:>9.1} | {:>17} {:>17} {:>17} {:>17} | {:>6}",
            clients,
            row.cycles,
            row.cycles as f64 / row.elapsed.as_secs_f64(),
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            row.errors
        );
    }
    println!("(latencies in ms)");
    println!();
    overhead().await?;
    Ok(())
}

/// The built-in broker on 127.0.0.1:0, synchronous; returns its URL.
async fn serve_broker(path: &std::path::Path) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let config = BrokerConfig {
        public_url: url.clone(),
        asynchronous: false,
        async_delay: Duration::ZERO,
        ..BrokerConfig::default()
    };
    let router = broker::router(config, BrokerDb::open(path).await?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

struct Row {
    cycles: u64,
    errors: u64,
    elapsed: Duration,
    /// Per call: provision, bind, unbind, deprovision.
    latencies: [Vec<Duration>; 4],
}

/// `clients` tasks cycling until `duration` is over.
async fn cycles(client: &Arc<OsbClient>, clients: usize, duration: Duration) -> Row {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|worker| {
            let client = client.clone();
            tokio::spawn(async move { worker_loop(&client, clients, worker, deadline).await })
        })
        .collect();
    let mut row = Row { cycles: 0, errors: 0, elapsed: Duration::ZERO, latencies: Default::default() };
    for task in tasks {
        let Ok(done) = task.await else {
            row.errors += 1;
            continue;
        };
        row.cycles += done.cycles;
        row.errors += done.errors;
        for (all, mine) in row.latencies.iter_mut().zip(done.latencies) {
            all.extend(mine);
        }
    }
    row.elapsed = started.elapsed();
    row
}

async fn worker_loop(client: &OsbClient, clients: usize, worker: usize, deadline: Instant) -> Row {
    let (service_id, plan_id) = hdfs_shared();
    let identity = OriginatingIdentity::new("bench", "uid-bench", &["bench"]);
    let me = Some(&identity);
    let provision = ProvisionRequest {
        service_id: service_id.clone(),
        plan_id: plan_id.clone(),
        context: Some(Context::kubernetes("bench", "cluster-1", "bench-hdfs")),
        parameters: object(json!({"namespaceQuota": 5000, "storageSpaceQuota": 2048})),
        ..ProvisionRequest::default()
    };
    let bind = BindRequest {
        service_id: service_id.clone(),
        plan_id: plan_id.clone(),
        parameters: object(json!({"accessMode": "read-only"})),
        ..BindRequest::default()
    };
    let mut row = Row { cycles: 0, errors: 0, elapsed: Duration::ZERO, latencies: Default::default() };
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let instance = format!("bench-{clients}-{worker}-{n}");
        let binding = format!("{instance}-b");
        let mut ok = true;
        let t = Instant::now();
        ok &= matches!(client.provision(&instance, &provision, me).await.outcome, Outcome::Done { status: 201, .. });
        row.latencies[0].push(t.elapsed());
        let t = Instant::now();
        ok &= matches!(client.bind(&instance, &binding, &bind, me).await.outcome, Outcome::Done { status: 201, .. });
        row.latencies[1].push(t.elapsed());
        let t = Instant::now();
        let unbound = client.unbind(&instance, &binding, &service_id, &plan_id, me).await.outcome;
        ok &= matches!(unbound, Outcome::Done { status: 200, .. });
        row.latencies[2].push(t.elapsed());
        let t = Instant::now();
        let deprovisioned = client.deprovision(&instance, &service_id, &plan_id, me).await.outcome;
        ok &= matches!(deprovisioned, Outcome::Done { status: 200, .. });
        row.latencies[3].push(t.elapsed());
        if ok {
            row.cycles += 1;
        } else {
            row.errors += 1;
        }
    }
    row
}

/// The client's cost per call: the same trivial route through OsbClient and through raw reqwest.
async fn overhead() -> anyhow::Result<()> {
    const BODY: &str = r#"{"state":"succeeded","description":"done"}"#;
    let router = Router::new().route(
        "/v2/service_instances/{id}/last_operation",
        get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });

    let osb = OsbClient::new(ClientConfig::new(&url))?;
    let identity = OriginatingIdentity::new("bench", "uid-bench", &["bench"]);
    let query = LastOperationQuery { operation: Some("op-1".into()), ..LastOperationQuery::default() };
    let raw = reqwest::Client::new();
    let raw_url = format!("{url}/v2/service_instances/i-1/last_operation?operation=op-1");

    let mut osb_samples = Vec::with_capacity(OVERHEAD_CALLS);
    let mut raw_samples = Vec::with_capacity(OVERHEAD_CALLS);
    // Interleaved, so both see the same machine load.
    for i in 0..WARM_UP_CALLS + OVERHEAD_CALLS {
        let t = Instant::now();
        let reply = osb.last_operation("i-1", &query, Some(&identity)).await;
        let osb_took = t.elapsed();
        anyhow::ensure!(matches!(reply.outcome, Outcome::Succeeded { .. }), "OsbClient: {:?}", reply.outcome);
        let t = Instant::now();
        let body = raw.get(&raw_url).send().await?.bytes().await?;
        let raw_took = t.elapsed();
        anyhow::ensure!(body.len() == BODY.len(), "raw GET: unexpected body");
        if i >= WARM_UP_CALLS {
            osb_samples.push(osb_took);
            raw_samples.push(raw_took);
        }
    }
    println!("Client per-call overhead: {OVERHEAD_CALLS} sequential GETs each of a trivial axum route (same run)");
    println!("{:<44} {:>9} {:>9} {:>9}", "call", "mean µs", "p50 µs", "p99 µs");
    let line = |name: &str, samples: &[Duration]| {
        println!(
            "{:<44} {:>9.1} {:>9.1} {:>9.1}",
            name,
            us(mean(samples)),
            us(percentile(samples, 0.50)),
            us(percentile(samples, 0.99))
        );
    };
    line("raw reqwest GET (body read, not parsed)", &raw_samples);
    line("OsbClient::last_operation (headers, parse)", &osb_samples);
    println!(
        "{:<44} {:>9.1} {:>9.1}",
        "overhead (OsbClient - raw)",
        us(mean(&osb_samples)) - us(mean(&raw_samples)),
        us(percentile(&osb_samples, 0.50)) - us(percentile(&raw_samples, 0.50)),
    );
    Ok(())
}

fn hdfs_shared() -> (String, String) {
    let catalog = broker::catalog::catalog("http://127.0.0.1");
    let service = catalog.services.iter().find(|s| s.name == "hdfs");
    let plan = service.and_then(|s| s.plans.iter().find(|p| p.name == "shared"));
    match (service, plan) {
        (Some(s), Some(p)) => (s.id.clone(), p.id.clone()),
        _ => (String::new(), String::new()),
    }
}

fn object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The sample at quantile `q` (nearest rank); zero without samples.
fn percentile(samples: &[Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn mean(samples: &[Duration]) -> Duration {
    let n = u32::try_from(samples.len()).unwrap_or(u32::MAX).max(1);
    samples.iter().sum::<Duration>() / n
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// "model name" from /proc/cpuinfo (Linux), else "unknown CPU".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
