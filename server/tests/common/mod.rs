//! Spawns a real portal on a loopback port with a fresh SQLite database in a temp dir.
#![allow(dead_code)]

use std::net::SocketAddr;

use server::{Application, config::Config};

pub struct TestApp {
    pub addr: SocketAddr,
    pub store: std::sync::Arc<dyn server::store::ResourceStore>,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
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
        let mut config = Config::for_tests(data_dir.path());
        adjust(&mut config);
        let app = Application::build(config).await.expect("application builds");
        let addr = app.local_addr();
        let store = app.store();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { addr, store, client, data_dir, shutdown: Some(tx), task: Some(task) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
