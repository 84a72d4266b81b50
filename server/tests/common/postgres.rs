//! A throwaway PostgreSQL server for tests, from Debian's `postgresql` package.
//!
//! `QM_TEST_POSTGRES_URL` (a server `./dev.sh test` started) is used when set; otherwise the
//! first test starts one on a free loopback port in a temp dir, once per test process, with a
//! watchdog that stops it when the process exits. Each caller gets a fresh database. Without the
//! binaries the tests print `SKIP` and pass — unless `QM_REQUIRE_POSTGRES=1` (CI: `.ci/run` sets
//! it through `./dev.sh test`), which makes a PostgreSQL that cannot start a failure. The controller bench includes this file too
//! (`#[path]`) for its provisioning figure on PostgreSQL.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

static SERVER: OnceLock<Option<String>> = OnceLock::new();

/// A URL of a new, empty database, or `None` (with a printed reason) when Postgres is unavailable.
pub async fn fresh_database(test: &str) -> Option<String> {
    let base = SERVER.get_or_init(|| match std::env::var("QM_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => start_server().map_err(|e| unavailable(test, &e)).ok(),
    });
    let base = base.as_ref()?;
    let name = format!("qm_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres")).await.expect("connect to test postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    admin.close().await;
    Some(format!("{base}/{name}"))
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("QM_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("/usr/lib/postgresql: {e} (install Debian's postgresql package)"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    dirs.sort();
    dirs.pop().ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

/// Runs a PostgreSQL binary, as the `postgres` user when we are root (Postgres refuses root).
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

fn start_server() -> Result<String, String> {
    start_private().map(|server| server.url)
}

/// A server of the test's own (not shared with other tests), which it may stop and start.
pub struct PgServer {
    pub url: String,
    bin: PathBuf,
    data: PathBuf,
    dir: PathBuf,
    options: String,
}

impl PgServer {
    /// A URL of a new, empty database on this server.
    pub async fn fresh_database(&self) -> String {
        let name = format!("qm_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&format!("{}/postgres", self.url)).await.expect("connect to test postgres");
        let sql = format!("CREATE DATABASE {name}");
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await.expect("create database");
        admin.close().await;
        format!("{}/{name}", self.url)
    }

    /// Stops the server (`-m fast`: every connection is cut), keeps it down for `down`, starts it
    /// again; returns once it accepts connections.
    pub fn restart_after(&self, down: Duration) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
        std::thread::sleep(down);
        self.pg_ctl(&["-w", "start"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = pg_command(&self.bin, "pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .args(["-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &self.options])
            .args(args)
            .output()
            .expect("pg_ctl runs");
        assert!(out.status.success(), "pg_ctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Starts a server only the caller uses (`None`, with a printed reason, without PostgreSQL).
pub fn private_server(test: &str) -> Option<PgServer> {
    start_private().map_err(|e| unavailable(test, &e)).ok()
}

/// A test without PostgreSQL: skipped with the reason printed, or (`QM_REQUIRE_POSTGRES=1`) failed.
fn unavailable(test: &str, why: &str) {
    if std::env::var("QM_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("{test}: PostgreSQL is required (QM_REQUIRE_POSTGRES=1) but cannot start: {why}");
    }
    eprintln!("SKIP {test}: no PostgreSQL for tests: {why} (QM_REQUIRE_POSTGRES=1 makes this a failure)");
}

/// Starts a server only the caller uses, or says why it cannot (also used by the controller bench).
pub fn start_private() -> Result<PgServer, String> {
    let bin = bin_dir()?;
    let dir = std::env::temp_dir().join(format!("qm-pg-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    if is_root() {
        let ok =
            Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("chown to the postgres user failed (is the postgresql package installed?)".into());
        }
    }
    let out = pg_command(&bin, "initdb")
        .args(["-A", "trust", "-U", "qm", "--no-sync", "-E", "UTF8", "-D"])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = free_port();
    let options =
        format!("-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200", dir.display());
    let out = pg_command(&bin, "pg_ctl")
        .args(["-D"])
        .arg(&data)
        .args(["-l"])
        .arg(dir.join("log"))
        .args(["-o", &options, "-w", "start"])
        .output()
        .map_err(|e| format!("pg_ctl: {e}"))?;
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        return Err(format!("pg_ctl start failed: {}{log}", String::from_utf8_lossy(&out.stderr)));
    }
    // Stop the server and remove its files when this test process exits.
    let stop = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; {ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut watchdog = if is_root() { Command::new("runuser") } else { Command::new("sh") };
    if is_root() {
        watchdog.args(["-u", "postgres", "--", "sh"]);
    }
    watchdog
        .args(["-c", &stop])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    let url = format!("postgres://qm@127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("postgres did not accept connections within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(PgServer { url, bin, data, dir, options })
}
