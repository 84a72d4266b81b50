//! The portal as a separate OS process (the real binary), for crash and scale-out tests: killed
//! with SIGKILL, restarted, or run twice against one database.

use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
};

use app::model::Kind;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde_json::{Value, json};
use server::{
    config::DatabaseUrl,
    db::Database,
    store::{ResourceStore, SecretCipher, SqlStore},
};

use super::eventually;

/// The same Secrets key for the portal processes and the test's own store.
pub fn secret_key() -> String {
    B64.encode([42u8; 32])
}

pub struct Portal {
    child: Child,
    pub url: String,
    /// The admin's API token: `/metrics` is for platform admins.
    token: String,
}

impl Portal {
    pub async fn start(data_dir: &Path, database_url: &str) -> Self {
        Self::start_with(data_dir, database_url, &[]).await
    }

    /// With more `serve` flags (`--cluster kubernetes …`, say).
    pub async fn start_with(data_dir: &Path, database_url: &str, flags: &[&std::ffi::OsStr]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_quartermaster"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--builtin-broker",
                "false",
                "--broker-timeout",
                "5",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--database-url", database_url])
            .args(flags)
            .env("QM_SECRET_KEY", secret_key())
            .env("QM_CONTROLLER_TIMING", "fast")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("the portal binary starts");
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        eventually(60, "the portal process to be ready", || {
            let client = client.clone();
            let url = url.clone();
            async move { client.get(format!("{url}/readyz")).send().await.ok().filter(|r| r.status() == 200).map(drop) }
        })
        .await;
        let token = super::admin_token(database_url).await;
        Self { child, url, token }
    }

    /// SIGKILL: no shutdown, no flush — as a crash.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        super::metric_value(&text, name_and_labels).unwrap_or(0.0)
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn test_store(url: &DatabaseUrl) -> SqlStore {
    SqlStore::new(Database::connect(url).await.unwrap(), SecretCipher::from_base64(&secret_key()).unwrap())
}

pub async fn register_broker(store: &SqlStore, url: &str) {
    store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "hadoop"}, "spec": {"url": url, "relistBehavior": "Manual"}}),
        )
        .await
        .unwrap();
    eventually(60, "the broker's classes", || async {
        let n = store.list(Kind::ClusterServicePlan, &Default::default()).await.unwrap().items.len();
        (n > 0).then_some(())
    })
    .await;
}

/// An HDFS instance on the built-in broker's `shared` plan in `team-a`.
pub fn hdfs(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                 "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}
    })
}

/// Requests the broker received with this method whose path ends with `suffix`.
pub async fn broker_saw(broker: &str, method: &str, suffix: &str) -> usize {
    super::broker_requests(broker)
        .await
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().unwrap_or_default().ends_with(suffix))
        .count()
}
