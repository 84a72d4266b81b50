//! Quota enforcement is atomic: many requests at once against room for a few accept exactly as
//! many as fit, on SQLite and on PostgreSQL; rejections, deletes and failed changes give the
//! quota back; pending approvals hold it.

mod common;

use std::sync::Arc;

use app::api::{
    Caller,
    governance::{Approver, GovernanceChange, Metric, Operation, Policy, QuotaLimit, Rule},
};
use serde_json::{Value, json};
use server::{
    config::DatabaseUrl,
    db::Database,
    governance::{Admission, Admit, Governance, Refusal},
};

async fn sqlite() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseUrl::Sqlite(format!("sqlite://{}/qm.db", dir.path().display()))).await.unwrap();
    (db, dir)
}

async fn postgres(test: &str) -> Option<Database> {
    let url = common::postgres::fresh_database(test).await?;
    Some(Database::connect(&DatabaseUrl::Postgres(url)).await.unwrap())
}

fn member(team: &str) -> Caller {
    Caller {
        username: "mia".into(),
        uid: "2".into(),
        groups: vec![format!("team:{team}")],
        namespaces: Some(vec![team.into()]),
        platform_admin: false,
        admin_of: Vec::new(),
        source: "127.0.0.1".into(),
    }
}

fn create<'a>(name: &'a str, parameters: &'a Value) -> Admit<'a> {
    Admit {
        namespace: "team-a",
        instance: name,
        class: "hdfs",
        plan: "shared",
        parameters,
        operation: Operation::Create,
        previous: None,
    }
}

async fn set_limits(gov: &Governance) {
    let admin = Caller::builtin();
    for limit in [
        QuotaLimit {
            team: "team-a".into(),
            metric: Metric::Sum,
            class: String::new(),
            plan: String::new(),
            parameter: "storageSpaceQuota".into(),
            max: 10240.0,
        },
        QuotaLimit {
            team: "team-a".into(),
            metric: Metric::Count,
            class: "hdfs".into(),
            plan: String::new(),
            parameter: String::new(),
            max: 10.0,
        },
    ] {
        gov.change(&admin, &GovernanceChange::PutQuota(limit)).await.unwrap();
    }
}

/// 50 requests at once, room for 10 (by count and by storage): exactly 10 go through.
async fn fifty_against_room_for_ten(db: Database) {
    let gov = Arc::new(Governance::new(db));
    set_limits(&gov).await;
    let caller = member("team-a");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (gov, caller) = (gov.clone(), caller.clone());
            tokio::spawn(async move {
                let parameters = json!({"storageSpaceQuota": 1024, "namespaceQuota": 1000});
                let name = format!("logs-{i}");
                gov.admit(&caller, &create(&name, &parameters)).await
            })
        })
        .collect();
    let mut accepted = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Admission::Proceed(_)) => accepted += 1,
            Err(Refusal::OverQuota { message, .. }) => {
                assert!(message.contains("Over team team-a's quota"), "{message}");
                refused += 1;
            }
            other => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!((accepted, refused), (10, 40));
    let lines = gov.quota_lines("team-a").await.unwrap();
    assert!(lines.iter().all(|l| l.used == l.limit.max), "{lines:?}");
}

#[tokio::test]
async fn fifty_concurrent_requests_against_room_for_ten_on_sqlite() {
    let (db, _dir) = sqlite().await;
    fifty_against_room_for_ten(db).await;
}

#[tokio::test]
async fn fifty_concurrent_requests_against_room_for_ten_on_postgres() {
    let Some(db) = postgres("fifty_concurrent_requests_against_room_for_ten_on_postgres").await else { return };
    fifty_against_room_for_ten(db).await;
}

/// Pending approvals hold quota; rejection gives it back; an update reserves the difference;
/// failed changes and deletes release.
async fn reservations_follow_the_request(db: Database) {
    let gov = Governance::new(db);
    set_limits(&gov).await;
    let admin = Caller::builtin();
    gov.change(
        &admin,
        &GovernanceChange::PutPolicy(Policy {
            id: 0,
            class: "hdfs".into(),
            plan: String::new(),
            operation: Operation::Create,
            rule: Rule::Threshold { parameter: "storageSpaceQuota".into(), threshold: 4096.0 },
            approver: Approver::TeamAdmin,
        }),
    )
    .await
    .unwrap();
    let caller = member("team-a");
    let big = json!({"storageSpaceQuota": 8192});
    let Ok(Admission::Pending(held)) = gov.admit(&caller, &create("big", &big)).await else {
        panic!("held for approval")
    };
    assert!(held.reason.contains("8,192 is above 4,096"), "{}", held.reason);
    assert_eq!(held.quota.iter().find(|l| l.limit.metric == Metric::Sum).unwrap().requested, 8192.0);
    // The pending request holds its 8,192 GB: 4,096 more do not fit.
    let more = json!({"storageSpaceQuota": 4096});
    match gov.admit(&caller, &create("more", &more)).await {
        Err(Refusal::OverQuota { message, .. }) => assert!(message.contains("8,192 in use, 2,048 left"), "{message}"),
        other => panic!("expected over quota, got {other:?}"),
    }
    // A second request for the same name waits for the first.
    assert!(matches!(gov.admit(&caller, &create("big", &big)).await, Err(Refusal::Busy(_))));
    // A member may not decide; rejecting frees the quota.
    assert!(matches!(gov.decide(&caller, held.id, false, "no").await, Err(Refusal::Forbidden(_))));
    let mut lead = member("team-a");
    lead.admin_of = vec!["team-a".into()];
    gov.decide(&lead, held.id, false, "too big for now").await.unwrap();
    assert!(matches!(gov.decide(&lead, held.id, true, "").await, Err(Refusal::Busy(_))), "decided once");
    let Ok(Admission::Proceed(small)) = gov.admit(&caller, &create("more", &more)).await else { panic!("fits now") };
    // The change failed: undo gives the quota back.
    gov.undo(small).await.unwrap();
    assert_eq!(gov.quota_lines("team-a").await.unwrap().iter().map(|l| l.used).sum::<f64>(), 0.0);

    // An update reserves the difference; a delete releases everything.
    let Ok(Admission::Proceed(_)) = gov.admit(&caller, &create("more", &more)).await else { panic!("fits") };
    let grown = json!({"storageSpaceQuota": 10240});
    let update = Admit {
        operation: Operation::Update,
        previous: Some(server::governance::Previous {
            plan: "shared".into(),
            parameters: more.clone(),
            resource_version: "7".into(),
        }),
        ..create("more", &grown)
    };
    let Ok(Admission::Proceed(_)) = gov.admit(&caller, &update).await else { panic!("10,240 fits exactly") };
    let too_much = json!({"storageSpaceQuota": 10241});
    let update = Admit { parameters: &too_much, ..update };
    assert!(matches!(gov.admit(&caller, &update).await, Err(Refusal::OverQuota { .. })));
    gov.release("team-a", "more").await.unwrap();
    assert_eq!(gov.quota_lines("team-a").await.unwrap().iter().map(|l| l.used).sum::<f64>(), 0.0);
}

#[tokio::test]
async fn reservations_follow_the_request_on_sqlite() {
    let (db, _dir) = sqlite().await;
    reservations_follow_the_request(db).await;
}

#[tokio::test]
async fn reservations_follow_the_request_on_postgres() {
    let Some(db) = postgres("reservations_follow_the_request_on_postgres").await else { return };
    reservations_follow_the_request(db).await;
}

/// The audit log refuses changes at the database, on both backends.
async fn audit_is_append_only(db: Database) {
    server::governance::record_audit(
        &db,
        server::governance::AuditRecord::by(&Caller::builtin(), "test.event", "team-a", "x", json!({"n": 1})),
    )
    .await
    .unwrap();
    let (update, delete) = match &db {
        Database::Sqlite(pool) => (
            sqlx::query("UPDATE audit_events SET actor = 'mallory'").execute(pool).await.err(),
            sqlx::query("DELETE FROM audit_events").execute(pool).await.err(),
        ),
        Database::Postgres(pool) => (
            sqlx::query("UPDATE audit_events SET actor = 'mallory'").execute(pool).await.err(),
            sqlx::query("DELETE FROM audit_events").execute(pool).await.err(),
        ),
    };
    assert!(update.expect("update refused").to_string().contains("append-only"));
    assert!(delete.expect("delete refused").to_string().contains("append-only"));
    let entries = server::governance::audit::list(&db, &Default::default(), 10).await.unwrap().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "admin");
}

#[tokio::test]
async fn audit_is_append_only_on_sqlite() {
    let (db, _dir) = sqlite().await;
    audit_is_append_only(db).await;
}

#[tokio::test]
async fn audit_is_append_only_on_postgres() {
    let Some(db) = postgres("audit_is_append_only_on_postgres").await else { return };
    audit_is_append_only(db).await;
}
