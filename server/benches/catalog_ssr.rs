//! Catalog page SSR throughput: the catalog page as a user first gets it (server-rendered, with
//! the data the browser hydrates from) with 500 services × 4 plans in the store, under 64
//! keep-alive loopback connections; beside an axum hello-world route measured in the same run,
//! in the same process, with the same load generator. Prints a table; asserts nothing.
//!
//! `cargo bench -p quartermaster-server --bench catalog_ssr` (QM_BENCH_SECS sets the seconds per
//! measurement, default 10; QM_BENCH_CONNECTIONS the connections, default 64).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use app::model::Kind;
use serde_json::json;
use server::{Application, config::Config, store::ResourceStore};

const SERVICES: usize = 500;
const PLANS_PER_SERVICE: usize = 4;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn seed(store: &dyn ResourceStore) {
    store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "bench"}, "spec": {"url": "http://bench.invalid"}}),
        )
        .await
        .unwrap();
    let mut broker = store.get(Kind::ClusterServiceBroker, "", "bench").await.unwrap().unwrap();
    broker["status"] = json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "FetchedCatalog", "message": "ok"}]});
    store.update_status(Kind::ClusterServiceBroker, broker).await.unwrap();
    let tags = ["hadoop", "storage", "streaming", "sql", "cache", "messaging", "batch", "analytics"];
    for s in 0..SERVICES {
        let id = format!("svc-{s:04}");
        store
            .create(
                Kind::ClusterServiceClass,
                json!({
                    "metadata": {"name": id},
                    "spec": {
                        "externalName": format!("service-{s:04}"), "externalID": id,
                        "description": format!("Service number {s}: a quota-limited namespace with its own queue"),
                        "bindable": true, "planUpdatable": true,
                        "tags": [tags[s % tags.len()], tags[(s / 8) % tags.len()]],
                        "externalMetadata": {"displayName": format!("Service {s}"), "providerDisplayName": "Benchmark provider",
                                             "imageUrl": format!("https://icons.example.com/{s}.svg"),
                                             "longDescription": "A long description of the service."},
                        "clusterServiceBrokerName": "bench"
                    }
                }),
            )
            .await
            .unwrap();
        for p in 0..PLANS_PER_SERVICE {
            let plan_id = format!("{id}-plan-{p}");
            store
                .create(
                    Kind::ClusterServicePlan,
                    json!({
                        "metadata": {"name": plan_id},
                        "spec": {
                            "externalName": format!("plan-{p}"), "externalID": plan_id, "description": "A plan", "free": p == 0,
                            "externalMetadata": {"displayName": format!("Plan {p}"), "bullets": ["One", "Two", "Three"],
                                                 "costs": [{"amount": {"usd": 100.0 * p as f64}, "unit": "MONTHLY"}]},
                            "instanceCreateParameterSchema": {"type": "object", "properties": {
                                "storage": {"type": "integer", "title": "Storage (GB)", "minimum": 1024, "maximum": 102400, "default": 2048},
                                "files": {"type": "integer", "title": "Files", "minimum": 1000, "maximum": 100000, "default": 10000}}},
                            "clusterServiceBrokerName": "bench", "clusterServiceClassRef": {"name": id}
                        }
                    }),
                )
                .await
                .unwrap();
        }
    }
}

struct Figures {
    requests: usize,
    errors: usize,
    seconds: f64,
    bytes_per_response: usize,
    latencies_us: Vec<u64>,
}

impl Figures {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// `connections` tasks, each with its own keep-alive connection, requesting `url` in a loop.
async fn load(url: String, connections: usize, secs: u64, headers: &[(&'static str, &'static str)]) -> Figures {
    let warmup = Duration::from_secs(2);
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
        let (url, stop, measuring) = (url.clone(), stop.clone(), measuring.clone());
        let headers: Vec<(&'static str, &'static str)> = headers.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut bytes) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let mut request = client.get(&url);
                for (k, v) in &headers {
                    request = request.header(*k, *v);
                }
                let ok = match request.send().await {
                    Ok(response) if response.status().is_success() => match response.bytes().await {
                        Ok(body) => {
                            bytes = body.len();
                            true
                        }
                        Err(_) => false,
                    },
                    _ => false,
                };
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        latencies.push(started.elapsed().as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors, bytes)
        }));
    }
    tokio::time::sleep(warmup).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    measuring.store(false, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut figures = Figures { requests: 0, errors: 0, seconds, bytes_per_response: 0, latencies_us: Vec::new() };
    for task in tasks {
        let (latencies, errors, bytes) = task.await.unwrap();
        figures.requests += latencies.len();
        figures.errors += errors;
        figures.bytes_per_response = figures.bytes_per_response.max(bytes);
        figures.latencies_us.extend(latencies);
    }
    figures.latencies_us.sort_unstable();
    figures
}

fn row(name: &str, f: &Figures) {
    println!(
        "{:<34} {:>10.0} {:>9.2} {:>9.2} {:>9} {:>7} {:>11}",
        name,
        f.requests as f64 / f.seconds,
        f.percentile(0.50),
        f.percentile(0.99),
        f.requests,
        f.errors,
        f.bytes_per_response
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs = env_or("QM_BENCH_SECS", 10);
    let connections = env_or("QM_BENCH_CONNECTIONS", 64) as usize;
    let data_dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(data_dir.path());
    config.controller = None;
    config.builtin_broker = false;
    config.admin_password = Some(server::config::Redacted("bench-admin-password".into()));
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    let store = app.store();
    // The page as a signed-in member of a team sees it (not an administrator): a bearer token of
    // their own, so every request is identified (token, user and memberships read) as in use.
    let accounts = app.accounts();
    accounts.create_team("team-a", "Team A").await?;
    let member = accounts.create_user("member", "A member", None, false, false).await?;
    accounts.set_membership(member.id, "team-a", server::auth::Role::Member).await?;
    let (token, _) = accounts.create_token(member.id, "bench").await?;
    let bearer: &'static str = Box::leak(format!("Bearer {token}").into_boxed_str());
    let signed_in = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let seeding = Instant::now();
    seed(store.as_ref()).await;
    eprintln!("seeded {SERVICES} services × {PLANS_PER_SERVICE} plans in {:.1} s", seeding.elapsed().as_secs_f64());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let portal = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));

    // The baseline: axum's hello world, in the same process and runtime.
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hello_addr = hello.local_addr()?;
    let hello_router = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    tokio::spawn(async move { axum::serve(hello, hello_router).await });

    // Sanity: the first page renders the first tiles and offers the rest; `all=1` renders all.
    let get = |path: &str| signed_in.get(format!("http://{addr}{path}")).header("authorization", bearer).send();
    let page = get("/catalog").await?.error_for_status()?.text().await?;
    let tiles = page.matches("data-testid=\"catalog-tile\"").count();
    assert!(tiles > 0 && tiles < SERVICES, "{tiles} tiles rendered");
    assert!(page.contains(&format!("Show all {SERVICES} services")));
    let all = get("/catalog?all=1").await?.error_for_status()?.text().await?;
    assert_eq!(all.matches("data-testid=\"catalog-tile\"").count(), SERVICES);

    println!();
    println!(
        "catalog SSR benchmark: {SERVICES} services × {PLANS_PER_SERVICE} plans, {connections} connections, {secs} s each, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!(
        "{:<34} {:>10} {:>9} {:>9} {:>9} {:>7} {:>11}",
        "route", "req/s", "p50 ms", "p99 ms", "requests", "errors", "bytes/resp"
    );
    let hello_figures = load(format!("http://{hello_addr}/"), connections, secs, &[]).await;
    row("axum hello world", &hello_figures);
    let auth = ("authorization", bearer);
    let catalog = load(format!("http://{addr}/catalog"), connections, secs, &[auth]).await;
    row("GET /catalog (identity)", &catalog);
    let gzip = load(format!("http://{addr}/catalog"), connections, secs, &[auth, ("accept-encoding", "gzip")]).await;
    row("GET /catalog (gzip, as browsers)", &gzip);
    let everything = load(format!("http://{addr}/catalog?all=1"), connections, secs, &[auth]).await;
    row("GET /catalog?all=1 (500 tiles)", &everything);
    let ratio =
        |f: &Figures| 100.0 * (f.requests as f64 / f.seconds) / (hello_figures.requests as f64 / hello_figures.seconds);
    println!();
    println!(
        "catalog/hello-world throughput: {:.2}% (identity), {:.2}% (gzip); goal ≥ 10%, p99 < 50 ms",
        ratio(&catalog),
        ratio(&gzip)
    );

    let _ = tx.send(());
    portal.await??;
    Ok(())
}
