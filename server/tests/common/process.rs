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
    /// Lines the process wrote, when started with [`Launch::capture_output`].
    output: Option<Output>,
}

/// The lines a child process wrote to stdout and stderr, read by threads as they come (so a full
/// pipe never blocks it).
pub struct Output {
    lines: std::sync::Arc<std::sync::Mutex<Vec<(&'static str, String)>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Output {
    fn capture(child: &mut Child) -> Self {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let streams: [(&'static str, Option<Box<dyn std::io::Read + Send>>); 2] = [
            ("stdout", child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
            ("stderr", child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)),
        ];
        for (name, stream) in streams {
            let Some(stream) = stream else { continue };
            let lines = lines.clone();
            readers.push(std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push((name, line));
                }
            }));
        }
        Self { lines, readers }
    }

    /// Every line once the process has exited and its pipes are closed: `(stream, line)`.
    fn finish(self) -> Vec<(&'static str, String)> {
        for reader in self.readers {
            reader.join().expect("output reader");
        }
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

/// How [`Portal::launch`] starts the binary: which executable, from which directory, with which
/// extra flags and environment.
#[derive(Default)]
pub struct Launch<'a> {
    /// Another copy of the binary (default: the one cargo built).
    pub exe: Option<&'a Path>,
    /// The working directory (default: the test's).
    pub cwd: Option<&'a Path>,
    pub flags: Vec<std::ffi::OsString>,
    pub env: Vec<(&'a str, &'a str)>,
    /// Environment variables the child must not inherit.
    pub env_remove: Vec<&'a str>,
    /// Pipe stdout and stderr into [`Portal::finish`] instead of the test's own.
    pub capture_output: bool,
}

impl Portal {
    pub async fn start(data_dir: &Path, database_url: &str) -> Self {
        Self::start_with(data_dir, database_url, &[]).await
    }

    /// With more `serve` flags (`--cluster kubernetes …`, say).
    pub async fn start_with(data_dir: &Path, database_url: &str, flags: &[&std::ffi::OsStr]) -> Self {
        let launch = Launch { flags: flags.iter().map(|f| f.to_os_string()).collect(), ..Launch::default() };
        Self::launch(data_dir, database_url, launch).await
    }

    /// Starts `quartermaster serve` as [`Launch`] says and waits until `/readyz` answers 200.
    pub async fn launch(data_dir: &Path, database_url: &str, launch: Launch<'_>) -> Self {
        server::osb::install_crypto_provider();
        let port = free_port();
        let exe = launch.exe.unwrap_or(Path::new(env!("CARGO_BIN_EXE_quartermaster")));
        let mut command = Command::new(exe);
        if let Some(cwd) = launch.cwd {
            command.current_dir(cwd);
        }
        for name in &launch.env_remove {
            command.env_remove(name);
        }
        if launch.capture_output {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = command
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
            .args(&launch.flags)
            .env("QM_SECRET_KEY", secret_key())
            .env("QM_CONTROLLER_TIMING", "fast")
            .env("RUST_LOG", "warn")
            .envs(launch.env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("the portal binary starts");
        let output = launch.capture_output.then(|| Output::capture(&mut child));
        let url = format!("http://127.0.0.1:{port}");
        // Owned from here on, so a failing test kills the process (Drop) rather than leaving it running.
        let mut portal = Self { child, url, token: String::new(), output };
        let client = reqwest::Client::new();
        eventually(60, "the portal process to be ready", || {
            let client = client.clone();
            let url = portal.url.clone();
            async move { client.get(format!("{url}/readyz")).send().await.ok().filter(|r| r.status() == 200).map(drop) }
        })
        .await;
        portal.token = super::admin_token(database_url).await;
        portal
    }

    /// A platform admin's API token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends a signal (`TERM`, `INT`, …) as an operator or a supervisor would.
    pub fn signal(&self, name: &str) {
        send_signal(self.child.id(), name);
    }

    /// Waits up to `secs` for the process to exit; `None` if it is still running then.
    pub async fn exited_within(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        wait_for_exit(&mut self.child, secs).await
    }

    /// The lines it wrote (with [`Launch::capture_output`]), once it has exited.
    pub fn finish(mut self) -> Vec<(&'static str, String)> {
        self.output.take().map(Output::finish).unwrap_or_default()
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

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// `kill -s NAME PID`.
pub fn send_signal(pid: u32, name: &str) {
    let status = Command::new("kill").args(["-s", name, &pid.to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill -s {name} {pid}: {status}");
}

/// Polls `child` for its exit for up to `secs`.
pub async fn wait_for_exit(child: &mut Child, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// `quartermaster broker` as an OS process of its own: the built-in broker alone, as a developer
/// runs it to point an OSB client at.
pub struct BrokerProcess {
    child: Child,
    pub url: String,
}

impl BrokerProcess {
    /// Starts it on a free loopback port with its database in `data_dir` and more `broker` flags,
    /// and waits until it answers HTTP.
    pub async fn start(data_dir: &Path, flags: &[&str]) -> Self {
        server::osb::install_crypto_provider();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_quartermaster"))
            .args(["broker", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("the broker binary starts");
        let broker = Self { child, url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        // Any answer will do (401 without credentials): the process is serving.
        eventually(60, "the broker process to answer", || {
            let client = client.clone();
            let url = broker.url.clone();
            async move { client.get(format!("{url}/v2/catalog")).send().await.ok().map(drop) }
        })
        .await;
        broker
    }

    pub fn signal(&self, name: &str) {
        send_signal(self.child.id(), name);
    }

    pub async fn exited_within(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        wait_for_exit(&mut self.child, secs).await
    }
}

impl Drop for BrokerProcess {
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
