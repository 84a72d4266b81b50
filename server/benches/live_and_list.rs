//! Two figures of a busy portal, printed as tables (nothing asserted but sanity):
//!
//! - live-status fan-out: 1,000 signed-in live streams (`/live/instances`, one loopback
//!   connection each) watch one team while an instance's status changes; for each change, the
//!   time until every stream has the event (and the median stream), and the memory the open
//!   streams take;
//! - the instances list page (server-rendered, as a browser first gets it) with 10,000 instances
//!   in the store, under 64 keep-alive connections: req/s, p50, p99.
//!
//! `cargo bench -p quartermaster-server --bench live_and_list` (QM_BENCH_STREAMS, default 1000;
//! QM_BENCH_ROUNDS status changes, default 20; QM_BENCH_INSTANCES, default 10000;
//! QM_BENCH_SECS seconds of list load, default 10; QM_BENCH_CONNECTIONS, default 64).

mod common;

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use app::model::Kind;
use futures::StreamExt;
use serde_json::json;
use server::{Application, config::Config, store::ResourceStore};

use common::{cores, env_or, header, hello_world, load, row};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn instance(name: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "namespace": "team-a", "finalizers": []},
        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                 "externalID": uuid::Uuid::new_v4().to_string(),
                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
    })
}

/// Sets the instance's Ready condition message to `marker` (a status change every stream sees).
async fn change(store: &dyn ResourceStore, name: &str, marker: &str) {
    let mut object = store.get(Kind::ServiceInstance, "team-a", name).await.unwrap().unwrap();
    object["status"] = json!({"conditions": [{"type": "Ready", "status": "False", "reason": "Provisioning",
                                              "message": marker, "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    store.update_status(Kind::ServiceInstance, object).await.unwrap();
}

async fn fan_out(addr: std::net::SocketAddr, token: &str, store: Arc<dyn ResourceStore>) {
    let streams = env_or("QM_BENCH_STREAMS", 1000) as usize;
    let rounds = env_or("QM_BENCH_ROUNDS", 20) as usize;
    store.create(Kind::ServiceInstance, instance("watched")).await.unwrap();
    let before = rss_mb();
    // Each stream reports (round, when) for every marker it sees.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let opened = Arc::new(tokio::sync::Semaphore::new(0));
    let opening = Instant::now();
    // Streams open 32 at a time (a burst of 1,000 at once overflows the listen backlog); a 503
    // (the database pool busy) is retried after a pause, as a browser's EventSource does.
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    let retried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let (tx, opened, gate, retried) = (tx.clone(), opened.clone(), gate.clone(), retried.clone());
        let url = format!("http://{addr}/live/instances?namespace=team-a");
        let auth = format!("Bearer {token}");
        tasks.push(tokio::spawn(async move {
            // One connection per stream, as one browser tab each.
            let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
            let permit = gate.acquire().await.unwrap();
            let mut attempt = 0;
            let response = loop {
                let response = client.get(&url).header("authorization", &auth).send().await.unwrap();
                if response.status() == 200 || attempt == 20 {
                    break response;
                }
                attempt += 1;
                retried.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            };
            assert_eq!(response.status(), 200, "a live stream opens");
            drop(permit);
            opened.add_permits(1);
            let mut body = response.bytes_stream();
            let mut buffer = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    if let Some(at) = event.find("bench-round-") {
                        let digits: String = event[at + 12..].chars().take_while(|c| c.is_ascii_digit()).collect();
                        if let Ok(round) = digits.parse() {
                            let _ = tx.send((round, Instant::now()));
                        }
                    }
                }
            }
        }));
    }
    drop(tx);
    let _all = opened.acquire_many(streams as u32).await.unwrap();
    let open_secs = opening.elapsed().as_secs_f64();
    // Let the streams settle (their first events, keep-alives) before measuring memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while rx.try_recv().is_ok() {}
    let with_streams = rss_mb();
    let mut all_ms = Vec::new();
    let mut median_ms = Vec::new();
    let mut missing = 0usize;
    for round in 0..rounds {
        let changed = Instant::now();
        change(store.as_ref(), "watched", &format!("bench-round-{round}")).await;
        let mut seen = Vec::with_capacity(streams);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < streams {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((r, when))) if r == round => seen.push(when.duration_since(changed).as_secs_f64() * 1000.0),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        missing += streams - seen.len();
        seen.sort_by(f64::total_cmp);
        all_ms.push(seen.last().copied().unwrap_or(f64::NAN));
        median_ms.push(percentile(&seen, 0.5));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    all_ms.sort_by(f64::total_cmp);
    median_ms.sort_by(f64::total_cmp);
    println!();
    println!(
        "live-status fan-out: {streams} open streams (one connection each, opened 32 at a time in {open_secs:.1} s, {} opens retried after a 503), {rounds} status changes",
        retried.load(Ordering::Relaxed)
    );
    println!("{:<44} {:>9} {:>9} {:>9}", "from the change in the store", "p50 ms", "p99 ms", "max ms");
    println!(
        "{:<44} {:>9.1} {:>9.1} {:>9.1}",
        "... until the median stream has it",
        percentile(&median_ms, 0.5),
        percentile(&median_ms, 0.99),
        median_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "{:<44} {:>9.1} {:>9.1} {:>9.1}",
        format!("... until all {streams} streams have it"),
        percentile(&all_ms, 0.5),
        percentile(&all_ms, 0.99),
        all_ms.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "events missing after 30 s: {missing}; memory (portal + clients, one process): {before:.0} MB → {with_streams:.0} MB \
         with the streams open ({:.0} KB a stream)",
        (with_streams - before) * 1024.0 / streams as f64
    );
    for task in tasks {
        task.abort();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(data_dir.path());
    config.controller = None;
    config.builtin_broker = false;
    config.admin_password = Some(server::config::Redacted("bench-admin-password".into()));
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    let store = app.store();
    let accounts = app.accounts();
    let admin = accounts.user_by_name("admin").await?.expect("the first start creates admin");
    accounts.create_team("team-a", "Team A").await?;
    accounts.set_membership(admin.id, "team-a", server::auth::Role::Member).await?;
    let (token, _) = accounts.create_token(admin.id, "bench").await?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let portal = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));

    fan_out(addr, &token, store.clone()).await;

    let instances = env_or("QM_BENCH_INSTANCES", 10_000) as usize;
    let secs = env_or("QM_BENCH_SECS", 10);
    let connections = env_or("QM_BENCH_CONNECTIONS", 64) as usize;
    let seeding = Instant::now();
    for i in 0..instances {
        store.create(Kind::ServiceInstance, instance(&format!("inst-{i:05}"))).await?;
    }
    eprintln!("seeded {instances} instances in {:.1} s", seeding.elapsed().as_secs_f64());
    let url = format!("http://{addr}/instances");
    // One request alone first: the page renders every instance the caller may see (no paging).
    let mut alone_ms = Vec::new();
    let mut html = String::new();
    for _ in 0..3 {
        let started = Instant::now();
        let page = reqwest::Client::new().get(&url).header("authorization", format!("Bearer {token}")).send().await?;
        assert_eq!(page.status(), 200);
        html = page.text().await?;
        alone_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    alone_ms.sort_by(f64::total_cmp);
    let rows = html.matches("data-instance=").count();
    println!();
    println!(
        "instances list, one request at a time: {:.0} ms (median of 3), {} bytes, {rows} rows",
        alone_ms[1],
        html.len()
    );
    println!(
        "instances list SSR: {instances} instances in the store ({rows} rows on the first page), {connections} connections, {secs} s, {} cores",
        cores()
    );
    header(false);
    let hello = load(format!("http://{}/", hello_world().await), connections, secs, &[]).await;
    row("axum hello world", &hello, None);
    let list = load(url, connections, secs, &[("authorization", format!("Bearer {token}"))]).await;
    row("GET /instances (signed in)", &list, None);
    println!();
    println!("instances list/hello-world throughput: {:.2}%", list.percent_of(&hello));
    let _ = tx.send(());
    portal.await??;
    Ok(())
}
