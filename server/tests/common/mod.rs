//! Spawns a real portal on a loopback port with a fresh SQLite database in a temp dir.
#![allow(dead_code)]

use std::net::SocketAddr;

use server::{Application, config::Config};

/// The password of the platform admin `admin` every test portal starts with.
pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: std::sync::Arc<dyn server::store::ResourceStore>,
    /// Acts as the platform admin `admin` (an API token in every request), who is also a member
    /// of team `team-a` (credentials are for members only).
    pub client: reqwest::Client,
    /// Sends no credentials at all.
    pub anonymous: reqwest::Client,
    pub accounts: server::auth::Accounts,
    /// The admin's API token.
    pub admin_token: String,
    pub data_dir: tempfile::TempDir,
    /// The password of the built-in broker (user `quartermaster`), for tests that ask it directly.
    pub broker_password: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        Self::spawn_with(data_dir, |_| {}).await
    }

    /// Spawns with a configuration adjusted by `adjust` (controller off, other timings, …).
    pub async fn spawn_with(data_dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Self {
        // `QM_TEST_LOG=<filter>` prints the portals' logs, each line named by its test's thread.
        if let Ok(filter) = std::env::var("QM_TEST_LOG") {
            let _ =
                tracing_subscriber::fmt().with_env_filter(filter).with_thread_names(true).with_test_writer().try_init();
        }
        let mut config = Config::for_tests(data_dir.path());
        config.admin_password = Some(server::config::Redacted(ADMIN_PASSWORD.into()));
        adjust(&mut config);
        let broker_password = config.builtin_broker_password.0.clone();
        let app = Application::build(config).await.expect("application builds");
        let addr = app.local_addr();
        let store = app.store();
        let accounts = app.accounts();
        let admin = accounts.user_by_name("admin").await.unwrap().expect("the first start creates admin");
        if accounts.list_teams().await.unwrap().iter().all(|(name, _)| name != "team-a") {
            accounts.create_team("team-a", "Team A").await.unwrap();
        }
        accounts.set_membership(admin.id, "team-a", server::auth::Role::Member).await.unwrap();
        let (admin_token, _) = accounts.create_token(admin.id, "tests").await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {admin_token}").parse().unwrap());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .expect("client");
        let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self {
            addr,
            store,
            client,
            anonymous,
            accounts,
            admin_token,
            data_dir,
            broker_password,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A GET of the built-in broker's `path` (under `/broker`) with its credentials.
    pub fn broker_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.anonymous
            .get(self.url(&format!("{}{path}", server::broker::MOUNT_PATH)))
            .basic_auth(server::broker::BUILTIN_USERNAME, Some(&self.broker_password))
            .header("X-Broker-API-Version", "2.17")
    }

    /// Stops the server and starts a new one on the same data directory (a restart), with the
    /// configuration adjusted by `adjust`.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("running").await.expect("stopped cleanly").expect("served");
        let data_dir = std::mem::replace(&mut self.data_dir, tempfile::tempdir().expect("temp dir"));
        drop(self);
        Self::spawn_with(data_dir, adjust).await
    }

    /// Asks the server to stop and waits until it has.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("running").await?
    }
}

#[cfg(feature = "kubernetes")]
pub mod kubelite;
pub mod people;
pub mod postgres;
pub mod process;
pub mod seed;
pub mod ui;

/// Polls `check` until it returns `Some`, or panics with `what` after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if std::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// An API token of the platform admin `admin` of the portal on `database_url`, made straight in
/// its database (for tests that run the portal as a process and read its admin-only `/metrics`).
pub async fn admin_token(database_url: &str) -> String {
    let db = server::db::Database::connect(&server::config::DatabaseUrl::parse(database_url).unwrap()).await.unwrap();
    let accounts = server::auth::Accounts::new(db.clone());
    let admin = accounts.user_by_name("admin").await.unwrap().expect("the first start creates admin");
    let (token, _) = accounts.create_token(admin.id, "metrics").await.unwrap();
    db.close().await;
    token
}

/// A sample's value in Prometheus text (`name{labels}` as the line starts).
pub fn metric_value(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The built-in broker's log of the requests it received (`GET /admin/requests`), oldest first.
pub async fn broker_requests(broker: &str) -> Vec<serde_json::Value> {
    reqwest::Client::new()
        .get(format!("{broker}/admin/requests"))
        .header("X-Broker-API-Version", "2.17")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// How many logged requests had this method and a path containing `path`.
pub fn calls(log: &[serde_json::Value], method: &str, path: &str) -> usize {
    log.iter().filter(|r| r["method"] == method && r["path"].as_str().unwrap_or_default().contains(path)).count()
}

/// Registers a ClusterServiceBroker (`metadata` as given, `url`, manual relist) and waits until
/// its plans are in the store.
pub async fn register_broker(app: &TestApp, metadata: serde_json::Value, url: &str) {
    let broker = serde_json::json!({"metadata": metadata, "spec": {"url": url, "relistBehavior": "Manual"}});
    app.store.create(app::model::Kind::ClusterServiceBroker, broker).await.unwrap();
    eventually(30, "the catalog", || async {
        let plans = app.store.list(app::model::Kind::ClusterServicePlan, &Default::default()).await.unwrap();
        (!plans.items.is_empty()).then_some(())
    })
    .await;
}
