//! Figures for the store and the controller, printed as a table (a program, not a test: nothing
//! here passes or fails on time).
//!
//! `cargo bench -p quartermaster-server --bench controller` measures, on the embedded SQLite store:
//! - instances provisioned per second against the built-in broker answering synchronously with no
//!   delay (`QM_BENCH_INSTANCES`, default 10,000), from the first create to the last Ready; and the
//!   same with the store on PostgreSQL: a throwaway server started as the tests start theirs
//!   (`tests/common/postgres.rs`: Debian's binaries, `QM_PG_BIN` or the newest
//!   `/usr/lib/postgresql/*/bin`; without them the row says it was skipped);
//! - the relist of a generated catalog of 1,000 services × 10 plans (10,000 plans): first sync
//!   (everything created) and a relist of the unchanged catalog;
//! - resident memory of this process with 100,000 instances stored (`QM_BENCH_STORED`) while a
//!   controller holds them (listed, queued, reconciled once).

#[allow(dead_code)]
#[path = "../tests/common/postgres.rs"]
mod postgres;

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use app::model::Kind;
use axum::{Router, routing::get};
use futures::StreamExt;
use serde_json::{Value, json};
use server::{
    broker::{self, BrokerConfig, BrokerDb},
    config::DatabaseUrl,
    controller::{Controller, ControllerConfig, Timing, lease::Leases},
    db::Database,
    store::{ResourceStore, SecretCipher, SqlStore, WatchQuery},
};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    // `RUST_LOG=server=info` shows the controller's own timings (e.g. "catalog synced").
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn open_store(dir: &std::path::Path) -> anyhow::Result<(SqlStore, Database)> {
    let db = Database::connect(&DatabaseUrl::Sqlite(format!("sqlite://{}/qm.db", dir.display()))).await?;
    Ok((SqlStore::new(db.clone(), SecretCipher::load_or_create(dir)?), db))
}

fn controller_config() -> ControllerConfig {
    ControllerConfig {
        timing: Timing { resync: Duration::from_secs(3600), ..Timing::fast() },
        workers: 64,
        per_broker_concurrency: 64,
        per_broker_rate: None,
        request_timeout: Duration::from_secs(30),
        cluster_id: "bench".into(),
    }
}

async fn serve(router: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

/// Waits until `count` objects of `kind` satisfied `done` (seen through a watch).
async fn wait_for(
    store: &SqlStore,
    kind: Kind,
    from: u64,
    count: usize,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<()> {
    let mut stream =
        store.watch(WatchQuery { kind: Some(kind), resource_version: Some(from), ..Default::default() }).await?;
    let mut finished = HashSet::new();
    while finished.len() < count {
        let Some(event) = stream.next().await else { anyhow::bail!("watch ended") };
        let event = event?;
        if done(&event.object) {
            finished
                .insert(event.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string());
        }
    }
    Ok(())
}

fn ready(object: &Value) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

async fn run() -> anyhow::Result<()> {
    server::osb::install_crypto_provider();
    println!("Quartermaster store and controller benchmark");
    println!("machine: {}, nproc {}", cpu_model(), std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!(
        "store:   SQLite (WAL, synchronous=NORMAL) in a temp dir, and PostgreSQL for provisioning; controller: 64 workers"
    );
    println!();
    // `QM_BENCH_ONLY=relist` (or `memory`, `provision`) runs one part; `provision-sqlite` or
    // `provision-postgres` one store of `provision`.
    let only = std::env::var("QM_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only == name;
    // Memory first, while this process holds nothing else.
    if part("memory") {
        memory().await?;
    }
    let (sqlite, postgres) =
        (part("provision") || only == "provision-sqlite", part("provision") || only == "provision-postgres");
    if sqlite || postgres {
        provision_throughput(sqlite, postgres).await?;
    }
    if part("relist") {
        relist().await?;
    }
    Ok(())
}

async fn provision_throughput(sqlite: bool, postgres: bool) -> anyhow::Result<()> {
    let n = env_usize("QM_BENCH_INSTANCES", 10_000);
    println!("Provisioning against a zero-delay broker (goal >= 1,000/s)");
    println!("{:<38} {:>10} {:>14} {:>12} {:>14}", "store", "instances", "all created", "all Ready", "provisions/s");
    if sqlite {
        let dir = tempfile::tempdir()?;
        let (store, _db) = open_store(dir.path()).await?;
        provision_row("SQLite, embedded", store, dir.path(), n).await?;
    }
    if postgres {
        match tokio::task::spawn_blocking(postgres::start_private).await? {
            Ok(server) => {
                let url = server.fresh_database().await;
                let version: String = {
                    let pool = sqlx::PgPool::connect(&url).await?;
                    let version = sqlx::query_scalar("SHOW server_version").fetch_one(&pool).await?;
                    pool.close().await;
                    version
                };
                let dir = tempfile::tempdir()?;
                let db = Database::connect(&DatabaseUrl::Postgres(url)).await?;
                let store = SqlStore::new(db, SecretCipher::load_or_create(dir.path())?);
                // "15.18 (Debian 15.18-0+deb12u1)": the number is enough.
                let version = version.split_whitespace().next().unwrap_or_default();
                let label = format!("PostgreSQL {version}, loopback, fsync=off");
                provision_row(&label, store, dir.path(), n).await?;
            }
            Err(e) => println!("{:<38} skipped: no Postgres ({})", "PostgreSQL", e.trim()),
        }
    }
    println!();
    Ok(())
}

/// Provisions `n` instances with the store `store` (its temp dir `dir` also holds the broker's
/// database) and prints one row of the table.
async fn provision_row(label: &str, store: SqlStore, dir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let broker_db = BrokerDb::open(&dir.join("broker.db")).await?;
    let placeholder = "http://127.0.0.1";
    let broker_url = serve(broker::router(
        BrokerConfig { asynchronous: false, public_url: placeholder.into(), ..BrokerConfig::default() },
        broker_db,
    ))
    .await?;
    store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "builtin"}, "spec": {"url": broker_url, "relistBehavior": "Manual"}}),
        )
        .await?;
    let raw: Arc<dyn ResourceStore> = Arc::new(store.clone());
    let controller = Controller::start(raw.clone(), Leases::none(), controller_config()).await?;
    while store.list(Kind::ClusterServicePlan, &Default::default()).await?.items.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let from = store.resource_version().await?;
    let started = Instant::now();
    let creators: Vec<_> = (0..16)
        .map(|worker| {
            let raw = raw.clone();
            tokio::spawn(async move {
                for i in (worker..n).step_by(16) {
                    let instance = json!({
                        "metadata": {"name": format!("i-{i:06}"), "namespace": "bench"},
                        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
                    });
                    raw.create(Kind::ServiceInstance, instance).await.expect("create");
                }
            })
        })
        .collect();
    let created = async {
        for c in creators {
            c.await.expect("creator");
        }
        started.elapsed()
    };
    let (created, all_ready) = tokio::join!(created, wait_for(&store, Kind::ServiceInstance, from, n, ready));
    all_ready?;
    let elapsed = started.elapsed();
    println!(
        "{:<38} {:>10} {:>12.2} s {:>10.2} s {:>14.0}",
        label,
        n,
        created.as_secs_f64(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    controller.shutdown().await;
    Ok(())
}

fn generated_catalog(services: usize, plans: usize) -> Value {
    let schema = json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                        "properties": {"size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "title": "Size (GB)"}}});
    let services: Vec<Value> = (0..services)
        .map(|s| {
            let plans: Vec<Value> = (0..plans)
                .map(|p| json!({"id": format!("plan-{s}-{p}"), "name": format!("plan-{p}"), "description": "A generated plan",
                                 "free": p % 2 == 0, "schemas": {"service_instance": {"create": {"parameters": schema}}}}))
                .collect();
            json!({"id": format!("svc-{s}"), "name": format!("service-{s}"), "description": "A generated service", "bindable": true,
                   "tags": ["generated"], "metadata": {"displayName": format!("Service {s}")}, "plans": plans})
        })
        .collect();
    json!({"services": services})
}

async fn relist() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = open_store(dir.path()).await?;
    let body = Arc::new(generated_catalog(1000, 10).to_string());
    let broker_url = serve(Router::new().route(
        "/v2/catalog",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body.as_str().to_owned()) }
        }),
    ))
    .await?;
    let raw: Arc<dyn ResourceStore> = Arc::new(store.clone());
    let controller = Controller::start(raw.clone(), Leases::none(), controller_config()).await?;
    let fetched = |object: &Value| object.pointer("/status/lastCatalogRetrievalTime").is_some();
    println!("Relist of a generated catalog: 1,000 services x 10 plans (goal < 1 s)");
    println!("{:>28} {:>10}", "", "time");
    let from = store.resource_version().await?;
    let started = Instant::now();
    store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "big"}, "spec": {"url": broker_url, "relistBehavior": "Manual"}}),
        )
        .await?;
    wait_for(&store, Kind::ClusterServiceBroker, from, 1, fetched).await?;
    println!("{:>28} {:>8.2} s", "first sync (11,000 created)", started.elapsed().as_secs_f64());

    let mut broker = store.get(Kind::ClusterServiceBroker, "", "big").await?.expect("broker");
    let before = broker.pointer("/status/lastCatalogRetrievalTime").cloned();
    broker["spec"]["relistRequests"] = json!(1);
    let from = store.resource_version().await?;
    let started = Instant::now();
    store.update(Kind::ClusterServiceBroker, broker).await?;
    wait_for(&store, Kind::ClusterServiceBroker, from, 1, |o| {
        fetched(o) && o.pointer("/status/lastCatalogRetrievalTime").cloned() != before
    })
    .await?;
    println!("{:>28} {:>8.2} s", "relist, catalog unchanged", started.elapsed().as_secs_f64());
    println!();
    controller.shutdown().await;
    Ok(())
}

async fn memory() -> anyhow::Result<()> {
    let n = env_usize("QM_BENCH_STORED", 100_000);
    let at_start = rss_mb();
    let dir = tempfile::tempdir()?;
    let (store, _db) = open_store(dir.path()).await?;
    let raw: Arc<dyn ResourceStore> = Arc::new(store.clone());
    let started = Instant::now();
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let raw = raw.clone();
            tokio::spawn(async move {
                for i in (w..n).step_by(16) {
                    let instance = json!({
                        "metadata": {"name": format!("s-{i:06}"), "namespace": format!("team-{}", i % 50)},
                        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
                    });
                    raw.create(Kind::ServiceInstance, instance).await.expect("create");
                }
            })
        })
        .collect();
    for w in writers {
        w.await?;
    }
    let stored_in = started.elapsed();
    let baseline = rss_mb();
    // Default timings: after its first pass each instance waits (seconds to minutes) to retry.
    let config = ControllerConfig { timing: Timing::default(), ..controller_config() };
    let reconciles = || server::metrics::METRICS.reconciles.with_label_values(&["ServiceInstance"]).get();
    let before = reconciles();
    let controller = Controller::start(raw.clone(), Leases::none(), config).await?;
    let primed = rss_mb();
    // Every instance is reconciled twice (finalizer added, then: no broker offers its class, so
    // it records why and backs off).
    let deadline = Instant::now() + Duration::from_secs(900);
    while reconciles() - before < 2 * n as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let settled = rss_mb();
    controller.shutdown().await;
    println!("Memory with {n} instances stored (goal <= 400 MB)");
    println!("{:>36} {:>10}", "", "RSS");
    println!("{:>36} {:>7.0} MB", "this process at start", at_start);
    println!(
        "{:>36} {:>7.0} MB   (stored at {:.0}/s)",
        "store written, no controller",
        baseline,
        n as f64 / stored_in.as_secs_f64()
    );
    println!("{:>36} {:>7.0} MB", "controller listed and queued them", primed);
    println!("{:>36} {:>7.0} MB   ({} reconciles)", "after reconciling them", settled, reconciles() - before);
    println!();
    Ok(())
}
