//! What the page benchmarks share: a loopback load generator (keep-alive connections requesting
//! one URL in a loop, measured after a warm-up), its table, and axum's hello world as the
//! baseline measured in the same run and process.

#![allow(dead_code)] // each bench uses its part

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub struct Figures {
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub bytes_per_response: usize,
    pub latencies_us: Vec<u64>,
}

impl Figures {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// Milliseconds; `p` from 0 to 1.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }

    /// This one's throughput as a percentage of `baseline`'s.
    pub fn percent_of(&self, baseline: &Figures) -> f64 {
        100.0 * self.per_second() / baseline.per_second()
    }
}

/// `connections` tasks, each with its own keep-alive connection, requesting `url` in a loop with
/// `headers`: 2 s of warm-up, then `secs` measured. A non-2xx answer counts as an error.
pub async fn load(url: String, connections: usize, secs: u64, headers: &[(&'static str, String)]) -> Figures {
    load_taking_turns(url, connections, Until::Measured(secs), headers, None).await
}

/// How long a load runs.
pub enum Until {
    /// 2 s of warm-up, then this many seconds measured.
    Measured(u64),
    /// Until each of the turns' values has been sent once (every caller's first request), all
    /// measured, from the first request to the last answer.
    EachTurnOnce,
}

/// As [`load`], every request also carrying the header `turns.0` with the next of `turns.1`'s
/// values (one sequence for all connections: different callers, in turn).
pub async fn load_taking_turns(
    url: String,
    connections: usize,
    until: Until,
    headers: &[(&'static str, String)],
    turns: Option<(&'static str, Arc<Vec<String>>)>,
) -> Figures {
    let once = matches!(until, Until::EachTurnOnce);
    assert!(!once || turns.as_ref().is_some_and(|(_, values)| !values.is_empty()), "each turn once needs turns");
    let next_turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(once));
    // The clients are made before the clock starts (each reads the system's TLS roots).
    let clients: Vec<reqwest::Client> =
        (0..connections).map(|_| reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap()).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in clients {
        let (url, stop, measuring) = (url.clone(), stop.clone(), measuring.clone());
        let (headers, turns, next_turn) = (headers.to_vec(), turns.clone(), next_turn.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut errors, mut bytes) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let mut request = client.get(&url);
                for (k, v) in &headers {
                    request = request.header(*k, v);
                }
                if let Some((name, values)) = &turns {
                    let turn = next_turn.fetch_add(1, Ordering::Relaxed);
                    if once && turn >= values.len() {
                        break;
                    }
                    request = request.header(*name, &values[turn % values.len()]);
                }
                let ok = match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.map(|body| bytes = body.len()).is_ok()
                    }
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
    let mut seconds = 0.0;
    if let Until::Measured(secs) = until {
        tokio::time::sleep(Duration::from_secs(2)).await;
        measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        measuring.store(false, Ordering::Relaxed);
        seconds = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
    }
    let mut figures = Figures { requests: 0, errors: 0, seconds, bytes_per_response: 0, latencies_us: Vec::new() };
    for task in tasks {
        let (latencies, errors, bytes) = task.await.unwrap();
        figures.requests += latencies.len();
        figures.errors += errors;
        figures.bytes_per_response = figures.bytes_per_response.max(bytes);
        figures.latencies_us.extend(latencies);
    }
    if once {
        figures.seconds = started.elapsed().as_secs_f64();
    }
    figures.latencies_us.sort_unstable();
    figures
}

/// The table's header line; `against` adds the columns of [`row`]'s baseline.
pub fn header(against: bool) {
    print!(
        "{:<44} {:>8} {:>8} {:>8} {:>9} {:>6} {:>10}",
        "route", "req/s", "p50 ms", "p99 ms", "requests", "errors", "bytes/resp"
    );
    if against {
        print!(" {:>8} {:>11}", "% hello", "hello req/s");
    }
    println!();
}

/// A row of the table; with a `baseline` (hello world measured just before), also this row's
/// throughput as a percentage of it, and the baseline's. Returns that percentage (NaN without).
pub fn row(name: &str, f: &Figures, baseline: Option<&Figures>) -> f64 {
    print!(
        "{:<44} {:>8.0} {:>8.2} {:>8.2} {:>9} {:>6} {:>10}",
        name,
        f.per_second(),
        f.percentile(0.50),
        f.percentile(0.99),
        f.requests,
        f.errors,
        f.bytes_per_response
    );
    let share = baseline.map_or(f64::NAN, |baseline| f.percent_of(baseline));
    if let Some(baseline) = baseline {
        print!(" {:>7.2}% {:>11.0}", share, baseline.per_second());
    }
    println!();
    share
}

/// axum's hello world on a loopback port of its own, in this process and runtime.
pub async fn hello_world() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
