//! Kill tests: the real portal binary is SIGKILLed at random moments, 20 times, while a workload of
//! 500 instances (creates, deletes, bindings) runs against an asynchronous broker; then it is
//! started once more and left to finish. At the end every instance is Ready or explained, every
//! deleted one is gone, every binding has its credentials — and the broker's own database holds
//! exactly what the portal holds: no orphan and no duplicate.
//!
//! The moments are drawn from a seed printed at the start; `QM_KILL_SEED` replays one, and
//! `QM_KILL_ROUNDS` / `QM_KILL_INSTANCES` make a longer run.

mod common;
mod osb_support;

use std::{collections::BTreeSet, time::Duration};

use app::model::{Kind, ServiceBinding, ServiceInstance, condition};
use common::{
    eventually,
    process::{Portal, hdfs, register_broker, test_store},
};
use osb_support::{RunningBroker, quick_config};
use serde_json::json;
use server::{
    broker::BrokerConfig,
    config::DatabaseUrl,
    store::{ResourceStore, TypedStore},
};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// xorshift64*: reproducible moments from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn ready_or_explained(conditions: &[app::model::Condition]) -> bool {
    condition::is_true(conditions, condition::READY)
        || condition::find(conditions, condition::FAILED)
            .is_some_and(|c| c.status == app::model::ConditionStatus::True && c.message.len() > 20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_leaves_no_orphan() {
    let rounds = env_or("QM_KILL_ROUNDS", 20);
    let total = env_or("QM_KILL_INSTANCES", 500) as usize;
    let seed = env_or("QM_KILL_SEED", jiff::Timestamp::now().as_nanosecond() as u64 | 1);
    println!("kill soak: {rounds} kills, {total} instances, seed {seed} (QM_KILL_SEED replays it)");
    let mut rng = Rng(seed);

    let dir = tempfile::tempdir().unwrap();
    let broker_dir = tempfile::tempdir().unwrap();
    let broker_db = broker_dir.path().join("broker.db");
    let config = BrokerConfig { request_log_limit: 1_000_000, ..quick_config(true, Duration::from_millis(400)) };
    let broker = RunningBroker::start(config, &broker_db).await;
    let db_url = format!("sqlite://{}/quartermaster.db", dir.path().display());
    let mut portal = Portal::start(dir.path(), &db_url).await;
    let store = test_store(&DatabaseUrl::Sqlite(db_url.clone())).await;
    let typed = TypedStore::new(std::sync::Arc::new(store.clone()));
    register_broker(&store, &broker.url).await;

    let per_round = total.div_ceil(rounds as usize);
    let (mut created, mut deleted, mut bound) = (0usize, BTreeSet::new(), BTreeSet::new());
    for round in 0..rounds {
        // This round's share of the workload, written while the portal works.
        for _ in 0..per_round.min(total - created) {
            store.create(Kind::ServiceInstance, hdfs(&format!("soak-{created:04}"))).await.unwrap();
            created += 1;
        }
        if created > 40 {
            for _ in 0..3 {
                let victim = format!("soak-{:04}", rng.below(created as u64 - 20));
                if !bound.contains(&victim) && deleted.insert(victim.clone()) {
                    store.delete(Kind::ServiceInstance, "team-a", &victim, None).await.unwrap();
                }
            }
            let target = format!("soak-{:04}", rng.below(created as u64));
            if !deleted.contains(&target) && bound.insert(target.clone()) {
                let binding = json!({"metadata": {"name": target, "namespace": "team-a"},
                                     "spec": {"instanceRef": {"name": target}}});
                store.create(Kind::ServiceBinding, binding).await.unwrap();
            }
        }
        let moment = Duration::from_millis(100 + rng.below(1400));
        tokio::time::sleep(moment).await;
        portal.kill();
        println!("round {round:2}: killed after {} ms ({created} instances so far)", moment.as_millis());
        portal = Portal::start(dir.path(), &db_url).await;
    }

    // Left alone, the last process finishes everything.
    let instances: Vec<ServiceInstance> = eventually(300, "every instance to settle", || async {
        let all: Vec<ServiceInstance> = typed.list(&Default::default()).await.unwrap();
        let settled = all.len() == created - deleted.len()
            && all.iter().all(|i| ready_or_explained(&i.status.conditions) && i.metadata.deletion_timestamp.is_none());
        settled.then_some(all)
    })
    .await;
    let bindings: Vec<ServiceBinding> = eventually(120, "every binding to be ready", || async {
        let all: Vec<ServiceBinding> = typed.list(&Default::default()).await.unwrap();
        (all.len() == bound.len() && all.iter().all(|b| condition::is_true(&b.status.conditions, condition::READY)))
            .then_some(all)
    })
    .await;
    for b in &bindings {
        let secret = store.get(Kind::Secret, "team-a", &b.spec.secret_name).await.unwrap();
        assert!(secret.is_some_and(|s| s["data"].as_object().is_some_and(|d| !d.is_empty())), "{}", b.metadata.name);
    }
    let failed: Vec<&str> = instances
        .iter()
        .filter(|i| !condition::is_true(&i.status.conditions, condition::READY))
        .map(|i| i.metadata.name.as_str())
        .collect();
    println!(
        "settled: {} instances ({} explained failures: {failed:?}), {} bindings",
        instances.len(),
        failed.len(),
        bindings.len()
    );

    // The broker holds exactly the portal's instances and bindings: nothing orphaned, nothing twice.
    let portal_instances: BTreeSet<String> = instances
        .iter()
        .filter(|i| condition::is_true(&i.status.conditions, condition::READY))
        .map(|i| i.spec.external_id.clone())
        .collect();
    let portal_bindings: BTreeSet<String> = bindings.iter().map(|b| b.spec.external_id.clone()).collect();
    let held_instances = osb_support::broker_db_ids(&broker_db, "SELECT id FROM instances").await;
    let held_bindings = osb_support::broker_db_ids(&broker_db, "SELECT id FROM bindings").await;
    assert_eq!(held_instances, portal_instances, "the broker's instances are the portal's ready ones");
    assert_eq!(held_bindings, portal_bindings, "the broker's bindings are the portal's");

    // How often a call was sent again after a kill (OSB allows an identical repeat; the broker
    // answers it without creating anything twice, as the sets above prove).
    let log = common::broker_requests(&broker.url).await;
    let puts = log.iter().filter(|r| r["method"] == "PUT").count();
    let deletes = log.iter().filter(|r| r["method"] == "DELETE").count();
    println!(
        "broker saw {puts} PUTs for {} provisions + {} binds, {deletes} DELETEs for {} deprovisions",
        created,
        bound.len(),
        deleted.len()
    );
    drop(portal);
}
