//! Shared by the OSB tests: servers on loopback port 0, clients with short timeouts, polling.
#![allow(dead_code)]

use std::{
    future::Future,
    time::{Duration, Instant},
};

use axum::Router;
use serde_json::{Map, Value, json};
use server::{
    broker::{self, BrokerConfig, BrokerDb},
    osb::{
        ClientConfig, Context, OriginatingIdentity, OsbClient, Outcome, Reply,
        wire::{BindRequest, ProvisionRequest},
    },
};

/// Serves `router` on 127.0.0.1 with a port the OS picks; returns its base URL. The server lives
/// as long as the test's runtime.
pub async fn serve(router: Router) -> String {
    // Plain reqwest clients in tests need rustls's process-wide provider too.
    server::osb::install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// A broker that is quick enough for tests: async operations take `async_delay`, and the
/// `timeout` and `slow-catalog` faults hold answers for 5 s (clients here time out after 500 ms).
pub fn quick_config(asynchronous: bool, async_delay: Duration) -> BrokerConfig {
    BrokerConfig {
        asynchronous,
        async_delay,
        retry_after: Duration::from_secs(1),
        hang_for: Duration::from_secs(5),
        slow_for: Duration::from_secs(5),
        ..BrokerConfig::default()
    }
}

/// A broker on loopback with a fresh database in a temp dir (both live as long as the test's
/// runtime); returns its base URL, which is also its public URL.
pub async fn spawn_broker(config: BrokerConfig) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = RunningBroker::start(config, &dir.path().join("broker.db")).await;
    let url = broker.url.clone();
    // Keeps the directory until the runtime drops the task.
    tokio::spawn(async move {
        let _dir = dir;
        let _broker = broker;
        std::future::pending::<()>().await;
    });
    url
}

/// A broker serving from the database at `path`, that a test can kill and start again.
pub struct RunningBroker {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl RunningBroker {
    pub async fn start(config: BrokerConfig, path: &std::path::Path) -> Self {
        server::osb::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let db = BrokerDb::open(path).await.expect("broker database opens");
        let router = broker::router(BrokerConfig { public_url: url.clone(), ..config }, db);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, task }
    }

    /// Stops it the hard way, as a crash would: the server (and, once its clients hang up, its
    /// database handle) is dropped with nothing closed or flushed first.
    pub async fn kill(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// Generous enough for a loaded 2-core machine running debug builds; the timeout fault hangs longer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

pub fn client_config(url: &str) -> ClientConfig {
    ClientConfig { request_timeout: REQUEST_TIMEOUT, connect_timeout: Duration::from_secs(2), ..ClientConfig::new(url) }
}

pub fn client(url: &str) -> OsbClient {
    OsbClient::new(client_config(url)).expect("client builds")
}

pub fn alice() -> OriginatingIdentity {
    OriginatingIdentity::new("alice", "uid-alice", &["team-data", "system:authenticated"])
}

/// Service and plan ids of the built-in catalog, by name.
pub fn ids(service: &str, plan: &str) -> (String, String) {
    let catalog = broker::catalog::catalog("http://127.0.0.1");
    let s = catalog.services.iter().find(|s| s.name == service).expect("service in the built-in catalog");
    let p = s.plans.iter().find(|p| p.name == plan).expect("plan in the built-in catalog");
    (s.id.clone(), p.id.clone())
}

pub fn params(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

pub fn hdfs_provision(extra: Value) -> ProvisionRequest {
    let (service_id, plan_id) = ids("hdfs", "shared");
    let mut parameters = json!({"namespaceQuota": 5000, "storageSpaceQuota": 2048});
    if let (Some(p), Value::Object(extra)) = (parameters.as_object_mut(), extra) {
        p.extend(extra);
    }
    ProvisionRequest {
        service_id,
        plan_id,
        context: Some(Context::kubernetes("team-data", "cluster-1", "my-hdfs")),
        parameters: params(parameters),
        ..ProvisionRequest::default()
    }
}

pub fn hdfs_bind(extra: Value) -> BindRequest {
    let (service_id, plan_id) = ids("hdfs", "shared");
    let mut parameters = json!({"accessMode": "read-only"});
    if let (Some(p), Value::Object(extra)) = (parameters.as_object_mut(), extra) {
        p.extend(extra);
    }
    BindRequest {
        service_id,
        plan_id,
        context: Some(Context::kubernetes("team-data", "cluster-1", "my-hdfs")),
        parameters: params(parameters),
        ..BindRequest::default()
    }
}

/// Calls `poll` until its outcome is no longer `InProgress`, or panics after 10 s.
pub async fn poll_until_settled<F, Fut>(mut poll: F) -> Reply<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Reply<()>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = poll().await;
        if !matches!(reply.outcome, Outcome::InProgress { .. }) {
            return reply;
        }
        assert!(Instant::now() < deadline, "operation still in progress after 10 s");
        // Short pause between polls; the test does not depend on how long it is.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Switches a broker-wide fault on through the admin endpoint.
pub async fn set_fault(url: &str, rule: Value) {
    server::osb::install_crypto_provider();
    let response = reqwest::Client::new().put(format!("{url}/admin/fault")).json(&rule).send().await.expect("admin");
    assert!(response.status().is_success(), "admin refused {rule}: {}", response.status());
}

pub async fn clear_fault(url: &str) {
    server::osb::install_crypto_provider();
    reqwest::Client::new().delete(format!("{url}/admin/fault")).send().await.expect("admin");
}

/// Where the shared corpus is: `$QM_CORPUS_DIR`, else `../shared/corpus` from the project root.
pub fn corpus_dir() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("QM_CORPUS_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: the OSB corpus is not at {} (set QM_CORPUS_DIR to run these tests)", dir.display());
        None
    }
}

/// The ids a query over a broker's own SQLite database returns (read-only; the broker may run).
pub async fn broker_db_ids(broker_db: &std::path::Path, sql: &'static str) -> std::collections::BTreeSet<String> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(broker_db).read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
    pool.close().await;
    ids.into_iter().collect()
}
