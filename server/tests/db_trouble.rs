//! Database trouble: PostgreSQL stopped for 3 s under load, SQLite's disk full, SQLite's directory
//! read-only at start. Each time the portal says what is wrong (the refused write's error, `/readyz`,
//! a start-up error), recovers by itself once the database does, and loses nothing it accepted.
//!
//! The SQLite cases mount a small tmpfs (root only; they print SKIP otherwise).

mod common;
mod osb_support;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use app::model::{Kind, ServiceInstance, condition};
use common::{TestApp, eventually, process::hdfs};
use osb_support::{RunningBroker, quick_config};
use serde_json::json;
use server::{config::DatabaseUrl, store::TypedStore};

async fn register(app: &TestApp, broker: &str) {
    app.store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": "hadoop"}, "spec": {"url": broker, "relistBehavior": "Manual"}}),
        )
        .await
        .unwrap();
    eventually(60, "the broker's plans", || async {
        (!app.store.list(Kind::ClusterServicePlan, &Default::default()).await.unwrap().items.is_empty()).then_some(())
    })
    .await;
}

async fn all_ready(app: &TestApp, names: &BTreeSet<String>) -> Vec<ServiceInstance> {
    let typed = TypedStore::new(app.store.clone());
    eventually(120, &format!("all {} accepted instances to be Ready", names.len()), || async {
        let all: Vec<ServiceInstance> = typed.list(&Default::default()).await.ok()?;
        let ready: BTreeSet<String> = all
            .iter()
            .filter(|i| condition::is_true(&i.status.conditions, condition::READY))
            .map(|i| i.metadata.name.clone())
            .collect();
        names.is_subset(&ready).then_some(all)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_under_load_loses_nothing_it_accepted() {
    let Some(pg) = common::postgres::private_server("postgres_restarted_under_load") else { return };
    let url = pg.fresh_database().await;
    let broker_dir = tempfile::tempdir().unwrap();
    let broker_db = broker_dir.path().join("broker.db");
    let broker = RunningBroker::start(quick_config(false, Duration::ZERO), &broker_db).await;
    let app = Arc::new(
        TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
            c.builtin_broker = false;
            c.database = DatabaseUrl::Postgres(url.clone());
        })
        .await,
    );
    register(&app, &broker.url).await;

    // Readiness, watched throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let unready = Arc::new(AtomicUsize::new(0));
    let watcher = tokio::spawn({
        let (app, stop, unready) = (app.clone(), stop.clone(), unready.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(r) = app.client.get(app.url("/readyz")).send().await
                    && r.status() == 503
                {
                    unready.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    // The load: a steady stream of requests; the restart happens in the middle of it.
    let load = tokio::spawn({
        let app = app.clone();
        async move {
            let (mut accepted, mut refused) = (BTreeSet::new(), Vec::new());
            for i in 0..300 {
                let name = format!("pg-{i:03}");
                match app.store.create(Kind::ServiceInstance, hdfs(&name)).await {
                    Ok(_) => {
                        accepted.insert(name);
                    }
                    Err(e) => refused.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (accepted, refused)
        }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    tokio::task::spawn_blocking(move || {
        pg.restart_after(Duration::from_secs(3));
        pg
    })
    .await
    .unwrap();
    let (accepted, refused) = load.await.unwrap();
    println!(
        "{} requests accepted, {} refused during the restart: {:?}",
        accepted.len(),
        refused.len(),
        refused.first()
    );
    for message in &refused {
        assert!(message.len() > 10, "a refused write says why: {message:?}");
    }
    assert!(accepted.len() > 200, "the portal went on accepting after the restart ({})", accepted.len());

    let instances = all_ready(&app, &accepted).await;
    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    let unready = unready.load(Ordering::Relaxed);
    println!("/readyz answered 503 {unready} times while the database was down");
    assert!(unready > 0, "readiness reported the database down");
    // Nothing lost, nothing twice: the broker holds exactly the portal's instances.
    let portal: BTreeSet<String> = instances.iter().map(|i| i.spec.external_id.clone()).collect();
    assert_eq!(portal.len(), accepted.len(), "no instance appeared that was refused");
    assert_eq!(
        osb_support::broker_db_ids(&broker_db, "SELECT id FROM instances").await,
        portal,
        "the broker holds exactly the portal's instances"
    );
    Arc::into_inner(app).expect("no other owner").stop().await.unwrap();
}

/// A tmpfs of `megabytes` mounted on a new temp dir, or `None` (SKIP printed) when not permitted.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(test: &str, megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("SKIP {test}: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn remount(&self, mode: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,{mode}")]).arg(self.dir.path()).output().unwrap();
        assert!(out.status.success(), "remount {mode}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Writes a file until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_refuses_writes_clearly_and_recovers_when_space_returns() {
    let Some(fs) = Tmpfs::mount("sqlite_disk_full", 24) else { return };
    let data = fs.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = RunningBroker::start(quick_config(false, Duration::ZERO), &broker_dir.path().join("b.db")).await;
    let holder = tempfile::TempDir::new_in(&data).unwrap();
    let app = TestApp::spawn_with(holder, |c| c.builtin_broker = false).await;
    register(&app, &broker.url).await;
    app.store.create(Kind::ServiceInstance, hdfs("before")).await.unwrap();
    all_ready(&app, &BTreeSet::from(["before".to_string()])).await;

    let filler = fs.path().join("filler");
    fill(&filler);
    let mut refusals = Vec::new();
    for i in 0..20 {
        // Small writes may still fit in pages SQLite already has; keep asking until one is refused.
        match app.store.create(Kind::ServiceInstance, hdfs(&format!("during-{i:02}"))).await {
            Err(e) => refusals.push(e.to_string()),
            Ok(_) => continue,
        }
        break;
    }
    let message = refusals.first().expect("a write is refused when the disk is full");
    println!("refused while full: {message}");
    assert!(message.contains("full"), "the error says the disk is full: {message}");
    // Reads go on; the portal still answers.
    assert!(app.store.get(Kind::ServiceInstance, "team-a", "before").await.unwrap().is_some());
    let page = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(page.status(), 200);

    std::fs::remove_file(&filler).unwrap();
    app.store.create(Kind::ServiceInstance, hdfs("after")).await.expect("writes work again once there is room");
    let typed = TypedStore::new(app.store.clone());
    let accepted: BTreeSet<String> = typed
        .list::<ServiceInstance>(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.metadata.name)
        .collect();
    assert!(accepted.contains("before") && accepted.contains("after"));
    all_ready(&app, &accepted).await;
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_read_only_file_system_is_refused_at_start_with_the_reason_and_data_survives() {
    let Some(fs) = Tmpfs::mount("sqlite_read_only", 16) else { return };
    let data = fs.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A portal wrote its database, then stopped.
    let config = server::config::Config::for_tests(&data);
    {
        let app = server::Application::build(config.clone()).await.unwrap();
        app.store().create(Kind::ServiceInstance, hdfs("kept")).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        tx.send(()).unwrap();
        task.await.unwrap().unwrap();
    }
    fs.remount("ro");
    let error = match server::Application::build(config.clone()).await {
        Ok(_) => panic!("a portal on a read-only file system must not start as if all were well"),
        Err(e) => format!("{e:#}"),
    };
    println!("start-up refused: {error}");
    assert!(error.to_lowercase().contains("read-only") || error.contains("readonly"), "says why: {error}");
    fs.remount("rw");
    let app = server::Application::build(config).await.expect("starts once writable again");
    assert!(app.store().get(Kind::ServiceInstance, "team-a", "kept").await.unwrap().is_some(), "nothing lost");
}
