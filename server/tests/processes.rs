//! The portal as separate OS processes: killed with SIGKILL mid-operation and restarted, and two
//! processes sharing one PostgreSQL database. The broker runs in the test process and keeps a log
//! of the requests it received, so "exactly one provision" is what the broker itself saw. Also the
//! binary as an operator runs it: stopped by SIGTERM/SIGINT, logging JSON, installed outside the
//! source tree.

mod common;
mod osb_support;

use std::time::Duration;

use app::model::{Kind, ServiceBinding, ServiceInstance, condition};
use common::{
    eventually,
    process::{Launch, Portal, broker_saw, hdfs, register_broker, test_store},
};
use osb_support::{RunningBroker, quick_config};
use serde_json::json;
use server::{
    config::DatabaseUrl,
    store::{ResourceStore, TypedStore},
};

fn is_ready(conditions: &[app::model::Condition]) -> bool {
    condition::is_true(conditions, condition::READY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_killed_mid_provision_and_mid_bind_finishes_both_after_restart_without_repeating_them() {
    let dir = tempfile::tempdir().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    // Asynchronous operations that last long enough to kill the portal while they run.
    let broker =
        RunningBroker::start(quick_config(true, Duration::from_secs(3)), &broker_dir.path().join("broker.db")).await;
    let db_url = format!("sqlite://{}/quartermaster.db", dir.path().display());
    let portal = Portal::start(dir.path(), &db_url).await;
    let store = test_store(&DatabaseUrl::Sqlite(db_url.clone())).await;
    let typed = TypedStore::new(std::sync::Arc::new(store.clone()));
    register_broker(&store, &broker.url).await;

    store.create(Kind::ServiceInstance, hdfs("survivor")).await.unwrap();
    let in_flight = eventually(30, "the async provision to be in flight", || async {
        typed.get::<ServiceInstance>("team-a", "survivor").await.unwrap().filter(|i| i.status.async_op_in_progress)
    })
    .await;
    portal.kill();
    let portal = Portal::start(dir.path(), &db_url).await;
    eventually(60, "the instance to be ready after the restart", || async {
        typed.get::<ServiceInstance>("team-a", "survivor").await.unwrap().filter(|i| is_ready(&i.status.conditions))
    })
    .await;
    let id = in_flight.spec.external_id.clone();
    assert_eq!(broker_saw(&broker.url, "PUT", &format!("/service_instances/{id}")).await, 1, "exactly one provision");

    store
        .create(Kind::ServiceBinding, json!({"metadata": {"name": "survivor-creds", "namespace": "team-a"}, "spec": {"instanceRef": {"name": "survivor"}}}))
        .await
        .unwrap();
    let binding = eventually(30, "the async bind to be in flight", || async {
        typed.get::<ServiceBinding>("team-a", "survivor-creds").await.unwrap().filter(|b| b.status.async_op_in_progress)
    })
    .await;
    portal.kill();
    let _portal = Portal::start(dir.path(), &db_url).await;
    eventually(60, "the binding to be ready after the restart", || async {
        typed
            .get::<ServiceBinding>("team-a", "survivor-creds")
            .await
            .unwrap()
            .filter(|b| is_ready(&b.status.conditions))
    })
    .await;
    let path = format!("/service_bindings/{}", binding.spec.external_id);
    assert_eq!(broker_saw(&broker.url, "PUT", &path).await, 1, "exactly one bind");
    let secret = store.get(Kind::Secret, "team-a", "survivor-creds").await.unwrap().expect("credentials");
    assert!(!secret["data"].as_object().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_portal_processes_on_one_postgres_share_the_work_and_never_repeat_a_call() {
    let Some(url) = common::postgres::fresh_database("two_portal_processes").await else { return };
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = RunningBroker::start(quick_config(false, Duration::ZERO), &broker_dir.path().join("broker.db")).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Portal::start(dir_a.path(), &url).await;
    let b = Portal::start(dir_b.path(), &url).await;
    let store = test_store(&DatabaseUrl::Postgres(url.clone())).await;
    let typed = TypedStore::new(std::sync::Arc::new(store.clone()));
    register_broker(&store, &broker.url).await;

    const N: usize = 24;
    for i in 0..N {
        store.create(Kind::ServiceInstance, hdfs(&format!("shared-{i:02}"))).await.unwrap();
    }
    let ready = eventually(120, "every instance to be ready", || async {
        let all: Vec<ServiceInstance> = typed.list(&Default::default()).await.unwrap();
        (all.len() == N && all.iter().all(|i| is_ready(&i.status.conditions))).then_some(all)
    })
    .await;
    for instance in &ready {
        let id = &instance.spec.external_id;
        assert_eq!(
            broker_saw(&broker.url, "PUT", &format!("/service_instances/{id}")).await,
            1,
            "{id}: provisioned once"
        );
    }
    let by_a = a.metric("quartermaster_reconciles_total{kind=\"ServiceInstance\"}").await;
    let by_b = b.metric("quartermaster_reconciles_total{kind=\"ServiceInstance\"}").await;
    assert!(by_a > 0.0 && by_b > 0.0, "both processes reconciled instances (a: {by_a}, b: {by_b})");

    // Changes made through one process's database connection reach the other's watch: a delete
    // is carried out whichever process notices it.
    store.delete(Kind::ServiceInstance, "team-a", "shared-00", None).await.unwrap();
    eventually(60, "the deleted instance to be gone", || async {
        store.get(Kind::ServiceInstance, "team-a", "shared-00").await.unwrap().is_none().then_some(())
    })
    .await;
    assert_eq!(broker_saw(&broker.url, "DELETE", "").await, 1, "deprovisioned once");
}

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("quartermaster.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_the_portal_at_once_even_with_a_live_stream_open() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let mut portal = Portal::start(dir.path(), &sqlite_url(dir.path())).await;
        // A browser's live status stream, open when the signal arrives.
        let mut live = reqwest::Client::new()
            .get(format!("{}/live/instances", portal.url))
            .bearer_auth(portal.token())
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200, "SIG{signal}: the live stream opens");
        assert!(live.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        portal.signal(signal);
        // Generous for a loaded machine, far below the stream's life (endless) or a hung shutdown.
        let status = portal.exited_within(20).await.unwrap_or_else(|| panic!("still running 20 s after SIG{signal}"));
        assert_eq!(status.code(), Some(0), "SIG{signal}: a graceful stop exits 0, got {status}");
        // The stream ended (rather than holding the shutdown open): it reads to its end promptly.
        let ended =
            tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = live.chunk().await {} }).await;
        assert!(ended.is_ok(), "SIG{signal}: the live stream is still open after the process exited");
        assert!(reqwest::get(format!("{}/healthz", portal.url)).await.is_err(), "nothing listens any more");
    }
}

/// A first start (no admin password given) with JSON logs and the output captured.
async fn first_start_with_json_logs(dir: &std::path::Path) -> Portal {
    let launch = Launch {
        flags: ["--log-format", "json"].map(Into::into).to_vec(),
        env: vec![("RUST_LOG", "info")],
        env_remove: vec!["QM_ADMIN_PASSWORD"],
        capture_output: true,
        ..Launch::default()
    };
    Portal::launch(dir, &sqlite_url(dir), launch).await
}

/// With JSON logs the first admin's one-time password never reaches the output (log collectors
/// keep it): it is in `<data-dir>/initial-admin-password`, readable by its owner only, and it
/// signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_the_first_admin_password_goes_to_a_private_file_not_the_log() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut portal = first_start_with_json_logs(dir.path()).await;
    let file = dir.path().join("initial-admin-password");
    let password = std::fs::read_to_string(&file).expect("the password file").trim().to_string();
    assert!(password.len() >= 16, "a generated password: {password:?}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let url = portal.url.clone();
    let signed_in = http
        .post(format!("{url}/auth/login"))
        .header("origin", &url)
        .form(&[("username", "admin"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    let session = signed_in.headers().get("set-cookie").map(|c| c.to_str().unwrap().to_string());
    assert!(
        session.is_some_and(|c| c.contains("qm_session=")),
        "the one-time password did not sign in: {}",
        signed_in.status()
    );
    portal.signal("TERM");
    portal.exited_within(20).await.expect("exits after SIGTERM");
    let lines = portal.finish();
    assert!(lines.iter().all(|(_, line)| !line.contains(&password)), "the password reached the output");
    let named = lines.iter().any(|(_, line)| {
        serde_json::from_str::<serde_json::Value>(line)
            .is_ok_and(|r| r["password_file"].as_str() == Some(file.to_str().unwrap()))
    });
    assert!(named, "the log does not name the password file: {lines:#?}");
}

/// When the password file cannot be written, the one-time password is printed after all: the
/// account exists from then on, and no later start would make another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_an_unwritable_password_file_prints_the_password_instead() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file would go: the write fails.
    std::fs::create_dir(dir.path().join("initial-admin-password")).unwrap();
    let mut portal = first_start_with_json_logs(dir.path()).await;
    portal.signal("TERM");
    portal.exited_within(20).await.expect("exits after SIGTERM");
    let lines = portal.finish();
    let password = lines
        .iter()
        .find_map(|(_, line)| {
            line.trim().strip_prefix("password:").map(|rest| rest.split_whitespace().next().unwrap().to_string())
        })
        .unwrap_or_else(|| panic!("the password was not printed: {lines:#?}"));
    assert!(password.len() >= 16, "{password:?}");
    assert!(
        lines.iter().any(|(_, line)| line.contains("could not be written")),
        "the failure is not logged: {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_every_line_the_process_writes_is_a_json_log_record() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch {
        flags: ["--log-format", "json", "--admin-password", "json-logs-admin"].map(Into::into).to_vec(),
        env: vec![("RUST_LOG", "info")],
        capture_output: true,
        ..Launch::default()
    };
    let mut portal = Portal::launch(dir.path(), &sqlite_url(dir.path()), launch).await;
    let http = reqwest::Client::new();
    for path in ["/healthz", "/", "/catalog", "/no-such-page", "/api/v1/instances"] {
        http.get(format!("{}{path}", portal.url)).send().await.unwrap();
    }
    portal.signal("TERM");
    let status = portal.exited_within(20).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    let lines = portal.finish();
    let mut messages = Vec::new();
    for (stream, line) in &lines {
        if line.trim().is_empty() {
            continue;
        }
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{stream} line is not JSON ({e}): {line}"));
        let level = record["level"].as_str().unwrap_or_else(|| panic!("{stream} line without a level: {line}"));
        assert!(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level), "{line}");
        let message = record["message"].as_str().unwrap_or_else(|| panic!("{stream} line without a message: {line}"));
        messages.push(message.to_string());
    }
    assert!(messages.iter().any(|m| m.contains("is serving")), "the start is logged: {messages:#?}");
    assert!(messages.iter().any(|m| m.contains("SIGTERM")), "the stop is logged: {messages:#?}");
    assert!(!lines.iter().any(|(_, l)| l.contains("json-logs-admin")), "the admin password was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_outside_the_source_tree_it_serves_the_site_beside_its_executable() {
    // An operator's install: the binary and a `site/` directory beside it, started from elsewhere
    // with neither --site-root nor LEPTOS_SITE_ROOT.
    let install = tempfile::tempdir().unwrap();
    let exe = install.path().join("quartermaster");
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_quartermaster"));
    if std::fs::hard_link(built, &exe).is_err() {
        std::fs::copy(built, &exe).unwrap();
    }
    // The files cargo-leptos puts in site/pkg, each marked so the answer proves where it came from.
    let pkg = install.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let marker = uuid::Uuid::new_v4().to_string();
    let css = format!("/* beside the binary {marker} */ body {{ margin: 0 }}\n");
    let js = format!("// beside the binary {marker}\nexport default function init() {{}}\n");
    std::fs::write(pkg.join("quartermaster.css"), &css).unwrap();
    std::fs::write(pkg.join("quartermaster.js"), &js).unwrap();
    std::fs::write(pkg.join("quartermaster_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let launch = Launch {
        exe: Some(&exe),
        cwd: Some(elsewhere.path()),
        env_remove: vec!["LEPTOS_SITE_ROOT", "QM_SITE_ROOT", "LEPTOS_OUTPUT_NAME", "LEPTOS_SITE_PKG_DIR"],
        ..Launch::default()
    };
    let portal = Portal::launch(data.path(), &sqlite_url(data.path()), launch).await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/", portal.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/pkg/quartermaster.css") && html.contains("/pkg/quartermaster"), "{html}");
    for (file, body, content_type) in [("quartermaster.css", &css, "text/css"), ("quartermaster.js", &js, "javascript")]
    {
        let response = http.get(format!("{}/pkg/{file}", portal.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "/pkg/{file}");
        let served_type = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(served_type.contains(content_type), "/pkg/{file}: {served_type}");
        assert_eq!(&response.text().await.unwrap(), body, "/pkg/{file} came from the site beside the binary");
    }
    assert_eq!(http.get(format!("{}/pkg/missing.js", portal.url)).send().await.unwrap().status(), 404);
}
