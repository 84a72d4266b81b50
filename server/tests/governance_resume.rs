//! An approved request whose execution was interrupted — the process stopped after the approval
//! was recorded and before (or after) the instance was created — is carried out exactly once when
//! the portal resumes: the instance is created if missing, not created twice if it was already
//! there, and the request is settled (executed, quota kept) so a second resume does nothing.

mod common;

use app::{
    api::{Caller, governance::ApprovalState},
    model::ServiceInstance,
};
use common::{TestApp, seed, ui::quiet_app};
use serde_json::{Value, json};
use server::{
    config::Config,
    db::Database,
    governance::Governance,
    portal::governance::{APPROVAL_ANNOTATION, carry_out, resume_approved},
    store::TypedStore,
};

async fn change(app: &TestApp, change: Value) {
    let (status, answer) = app.call_json("change_governance", json!({ "change": change })).await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
}

async fn request(app: &TestApp, name: &str, storage: u64) {
    let (status, answer) = app
        .call_json(
            "request_instance",
            json!({"request": {"namespace": "team-a", "name": name, "class": "svc-hdfs", "plan": "shared",
                   "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": storage}}}),
        )
        .await;
    assert_eq!((status, &answer), (200, &json!({"Done": {"namespace": "team-a", "name": name}})), "{answer}");
}

async fn stored(app: &TestApp, name: &str) -> Option<ServiceInstance> {
    TypedStore::new(app.store.clone()).get::<ServiceInstance>("team-a", name).await.unwrap()
}

fn admin() -> Caller {
    Caller {
        username: "admin".into(),
        uid: "1".into(),
        groups: Vec::new(),
        namespaces: None,
        platform_admin: true,
        admin_of: Vec::new(),
        source: "127.0.0.1".into(),
    }
}

async fn pending_id(gov: &Governance, name: &str) -> i64 {
    let (pending, _) = gov.requests(0).await.unwrap();
    pending.iter().find(|r| r.instance == name).unwrap_or_else(|| panic!("{name} is not pending: {pending:?}")).id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_approval_is_carried_out_exactly_once_on_resume() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    change(
        &app,
        json!({"PutPolicy": {"id": 0, "class": "hdfs", "plan": "", "operation": "Create",
        "rule": {"Threshold": {"parameter": "storageSpaceQuota", "threshold": 10240.0}}, "approver": "TeamAdmin"}}),
    )
    .await;
    change(
        &app,
        json!({"PutQuota": {"team": "team-a", "metric": "Sum", "class": "", "plan": "",
        "parameter": "storageSpaceQuota", "max": 51200.0}}),
    )
    .await;
    let db = Database::connect(&Config::for_tests(app.data_dir.path()).database).await.unwrap();
    let gov = Governance::new(db);
    let store = app.store.as_ref();

    // 1. The process stops right after the approval is recorded: approved, no instance.
    request(&app, "big", 20480).await;
    let id = pending_id(&gov, "big").await;
    gov.decide(&admin(), id, true, "ok").await.unwrap();
    assert!(stored(&app, "big").await.is_none());
    assert_eq!(gov.owed().await.unwrap().len(), 1, "the execution is owed");

    // 2. Another stops after creating the instance, before recording that it did.
    request(&app, "bigger", 12000).await;
    let id2 = pending_id(&gov, "bigger").await;
    let decided = gov.decide(&admin(), id2, true, "ok").await.unwrap();
    carry_out(store, &decided.request, &decided.requester).await.unwrap();
    let before = stored(&app, "bigger").await.expect("created before the crash");
    assert_eq!(gov.owed().await.unwrap().len(), 2);

    // The restart resumes both: the first is created now, the second is recognised, not redone.
    assert_eq!(resume_approved(store, &gov).await.unwrap(), 2);
    let big = stored(&app, "big").await.expect("the resumed approval created the instance");
    assert_eq!(big.spec.parameters.as_ref().unwrap()["storageSpaceQuota"], 20480);
    assert_eq!(big.spec.user_info.as_ref().unwrap().username, "admin", "as its requester asked");
    assert_eq!(big.metadata.annotations.get(APPROVAL_ANNOTATION), Some(&id.to_string()));
    let after = stored(&app, "bigger").await.unwrap();
    assert_eq!(
        (after.metadata.uid.as_deref(), after.metadata.resource_version.as_deref()),
        (before.metadata.uid.as_deref(), before.metadata.resource_version.as_deref()),
        "the instance created before the crash is left as it was"
    );
    for request_id in [id, id2] {
        let request = gov.request(request_id).await.unwrap().unwrap().request;
        assert_eq!(request.state, ApprovalState::Approved, "{request:?}");
    }
    // Settled: nothing is owed, and a further resume (another restart) does nothing.
    assert!(gov.owed().await.unwrap().is_empty());
    assert_eq!(resume_approved(store, &gov).await.unwrap(), 0);
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 32480.0, "both keep their quota, counted once: {quota}");
    app.stop().await.unwrap();
}

/// The same through a real restart: the portal's start resumes what the last process owed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_portal_resumes_owed_approvals_when_it_starts() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    change(
        &app,
        json!({"PutPolicy": {"id": 0, "class": "hdfs", "plan": "", "operation": "Create",
        "rule": {"Always": null}, "approver": "TeamAdmin"}}),
    )
    .await;
    let db = Database::connect(&Config::for_tests(app.data_dir.path()).database).await.unwrap();
    let gov = Governance::new(db.clone());
    request(&app, "held", 2048).await;
    let id = pending_id(&gov, "held").await;
    gov.decide(&admin(), id, true, "").await.unwrap();
    db.close().await;
    assert!(stored(&app, "held").await.is_none());
    let app = app
        .restart_with(|c| {
            c.controller = None;
            c.builtin_broker = false;
        })
        .await;
    let created = common::eventually(30, "the owed approval carried out after the restart", || async {
        stored(&app, "held").await
    })
    .await;
    assert_eq!(created.metadata.annotations.get(APPROVAL_ANNOTATION), Some(&id.to_string()));
    app.stop().await.unwrap();
}
