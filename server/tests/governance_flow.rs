//! Governance through the portal's own endpoints, as the browser uses them: a request above an
//! approval threshold is held (no instance, so no broker call), shown to its requester, listed
//! for admins with its quota impact, approved (the instance appears, and the requester's live
//! stream hears of it) or rejected (its quota given back); over-quota and hidden plans are
//! refused with clear messages; updates are held and carried out on approval; everything lands
//! in the audit log, which exports as CSV and JSON.

mod common;

use std::time::Duration;

use app::model::ServiceInstance;
use common::{TestApp, seed, ui::quiet_app};
use futures::StreamExt;
use serde_json::{Value, json};
use server::store::TypedStore;

async fn change(app: &TestApp, change: Value) {
    let (status, answer) = app.call_json("change_governance", json!({ "change": change })).await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
}

async fn govern(app: &TestApp) {
    change(
        app,
        json!({"PutPolicy": {"id": 0, "class": "hdfs", "plan": "", "operation": "Create",
        "rule": {"Threshold": {"parameter": "storageSpaceQuota", "threshold": 10240.0}}, "approver": "TeamAdmin"}}),
    )
    .await;
    change(
        app,
        json!({"PutPolicy": {"id": 0, "class": "hdfs", "plan": "", "operation": "Update",
        "rule": {"Threshold": {"parameter": "storageSpaceQuota", "threshold": 10240.0}}, "approver": "TeamAdmin"}}),
    )
    .await;
    change(
        app,
        json!({"PutQuota": {"team": "team-a", "metric": "Sum", "class": "", "plan": "",
        "parameter": "storageSpaceQuota", "max": 51200.0}}),
    )
    .await;
}

async fn request(app: &TestApp, name: &str, storage: u64) -> Value {
    let (status, answer) = app
        .call_json(
            "request_instance",
            json!({"request": {"namespace": "team-a", "name": name, "class": "svc-hdfs", "plan": "shared",
                   "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": storage}}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn stored(app: &TestApp, name: &str) -> Option<ServiceInstance> {
    TypedStore::new(app.store.clone()).get::<ServiceInstance>("team-a", name).await.unwrap()
}

async fn approvals(app: &TestApp) -> Value {
    let (status, view) = app.call_form("approvals", &[]).await;
    assert_eq!(status, 200, "{view}");
    view
}

/// Reads SSE events from a response.
struct Reader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl Reader {
    async fn open(app: &TestApp, path: &str) -> Reader {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        Reader { stream: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(), buffer: String::new() }
    }

    /// Reads events until one of each kind arrived (in any order); their data, by kind.
    async fn until_all(&mut self, kinds: &[&str]) -> std::collections::HashMap<String, Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut seen = std::collections::HashMap::new();
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let event = frame.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim).unwrap_or_default();
                let data: String = frame.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim_start).collect();
                if kinds.contains(&event) {
                    seen.insert(event.to_string(), serde_json::from_str(&data).unwrap());
                }
                if kinds.iter().all(|k| seen.contains_key(*k)) {
                    return seen;
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => panic!("not every one of {kinds:?} arrived in time (seen: {seen:?})"),
            }
        }
    }
}

#[tokio::test]
async fn a_request_over_the_threshold_waits_for_approval_and_the_requester_sees_the_decision_live() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    govern(&app).await;

    // Below the threshold: an instance at once.
    assert_eq!(request(&app, "small", 4096).await, json!({"Done": {"namespace": "team-a", "name": "small"}}));
    assert!(stored(&app, "small").await.is_some());

    // Above: held. No instance (so the controller never calls the broker), but a page.
    assert_eq!(request(&app, "big", 20480).await, json!({"Done": {"namespace": "team-a", "name": "big"}}));
    assert!(stored(&app, "big").await.is_none(), "a held request must not create an instance");
    let (_, page) = app.call_form("instance", &[("namespace", "team-a"), ("name", "big")]).await;
    assert_eq!(page["approval"]["state"], "Pending", "{page}");
    assert!(page["approval"]["reason"].as_str().unwrap().contains("20,480 is above 10,240"), "{page}");
    let rv = page["resource_version"].as_u64().unwrap();
    let (status, html) = app.page("/instances/team-a/big").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Waiting for approval") && html.contains("Pending approval"),
        "the page shows the held request"
    );

    // The queue: requester, team, plan, parameters, quota impact.
    let queue = approvals(&app).await;
    let held = &queue["pending"][0];
    assert_eq!(
        (held["team"].as_str(), held["instance"].as_str(), held["plan"].as_str()),
        (Some("team-a"), Some("big"), Some("shared"))
    );
    assert_eq!(held["requester"], "admin");
    assert_eq!(held["parameters"]["storageSpaceQuota"], 20480);
    assert_eq!(held["quota"][0]["used"], 4096.0, "{held}");
    assert_eq!(held["quota"][0]["requested"], 20480.0, "{held}");
    let id = held["id"].as_i64().unwrap();
    assert_eq!(queue["decidable"], json!([id]));
    let (status, html) = app.page("/approvals").await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"approval\"") && html.contains("20,480 is above 10,240"));

    // The held request reserves its quota: 51,200 − 4,096 − 20,480 = 26,624 left.
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 24576.0, "{quota}");
    let refused = request(&app, "huge", 30000).await;
    let message = refused["Rejected"]["message"].as_str().unwrap();
    assert!(message.contains("Over team team-a's quota") && message.contains("26,624 left"), "{refused}");
    assert!(
        refused["Rejected"]["fields"]["entries"]["/storageSpaceQuota"][0].as_str().unwrap().contains("26,624 left"),
        "the refusal sits beside the field: {refused}"
    );
    assert!(stored(&app, "huge").await.is_none());

    // The requester's page follows live: approval creates the instance.
    let mut live = Reader::open(&app, &format!("/live/instances?namespace=team-a&instance=big&rv={rv}")).await;
    let (status, answer) =
        app.call_json("decide", json!({"decision": {"id": id, "approve": true, "comment": "ok for Q4"}})).await;
    assert_eq!((status, &answer), (200, &json!({"Done": null})), "{answer}");
    let events = live.until_all(&["approval", "instance"]).await;
    let decision = &events["approval"];
    assert_eq!((decision["state"].as_str(), decision["comment"].as_str()), (Some("Approved"), Some("ok for Q4")));
    assert_eq!(events["instance"]["metadata"]["name"], "big");
    let created = stored(&app, "big").await.expect("approval creates the instance");
    assert_eq!(created.spec.parameters.as_ref().unwrap()["storageSpaceQuota"], 20480);
    assert_eq!(created.spec.user_info.as_ref().unwrap().username, "admin", "as the requester");
    assert!(approvals(&app).await["pending"].as_array().unwrap().is_empty());
    // Deciding twice is refused.
    let (_, again) = app.call_json("decide", json!({"decision": {"id": id, "approve": false, "comment": ""}})).await;
    assert!(again["Rejected"]["message"].as_str().unwrap().contains("already decided"), "{again}");

    // A rejection frees the reservation and tells the requester.
    request(&app, "other", 20000).await;
    let other = approvals(&app).await["pending"][0]["id"].as_i64().unwrap();
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 44576.0);
    app.call_json("decide", json!({"decision": {"id": other, "approve": false, "comment": "use the shared cluster"}}))
        .await;
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 24576.0);
    assert!(stored(&app, "other").await.is_none());
    let (_, page) = app.call_form("instance", &[("namespace", "team-a"), ("name", "other")]).await;
    assert_eq!(
        (page["approval"]["state"].as_str(), page["approval"]["comment"].as_str()),
        (Some("Rejected"), Some("use the shared cluster"))
    );

    // An update above the threshold is held; the instance keeps its parameters until approved.
    let rv_small = stored(&app, "small").await.unwrap().metadata.resource_version.unwrap();
    let (_, answer) = app
        .call_json(
            "update_instance",
            json!({"update": {"namespace": "team-a", "name": "small", "plan": "",
            "parameters": {"storageSpaceQuota": 12288}, "resource_version": rv_small}}),
        )
        .await;
    assert_eq!(answer, json!({"Done": {"namespace": "team-a", "name": "small"}}));
    assert_eq!(stored(&app, "small").await.unwrap().spec.parameters.unwrap()["storageSpaceQuota"], 4096);
    let held = approvals(&app).await["pending"][0].clone();
    assert_eq!(held["operation"], "Update");
    assert_eq!(held["previous_parameters"]["storageSpaceQuota"], 4096, "the queue shows the diff: {held}");
    // The difference is reserved (12,288 instead of 4,096).
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 32768.0);
    app.call_json("decide", json!({"decision": {"id": held["id"], "approve": true, "comment": ""}})).await;
    assert_eq!(stored(&app, "small").await.unwrap().spec.parameters.unwrap()["storageSpaceQuota"], 12288);
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 32768.0);

    // A delete gives its quota back.
    let (_, answer) = app.call_form("delete_instance", &[("namespace", "team-a"), ("name", "small")]).await;
    assert_eq!(answer, json!({"Done": null}));
    let (_, quota) = app.call_form("quota", &[("namespace", "team-a")]).await;
    assert_eq!(quota["lines"][0]["used"], 20480.0);

    // Everything is in the audit log, with who and from where; filters and exports work.
    let (_, events) = app
        .call_json("audit", json!({"filter": {"actor": "", "action": "", "team": "", "since": "", "until": ""}}))
        .await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for wanted in [
        "policy.put",
        "quota.put",
        "instance.create",
        "instance.create.held",
        "approval.approve",
        "approval.reject",
        "instance.update.held",
        "instance.delete",
    ] {
        assert!(actions.contains(&wanted), "{wanted} missing from {actions:?}");
    }
    assert!(events.as_array().unwrap().iter().all(|e| e["source"] == "127.0.0.1"), "{events}");
    let (_, approvals_only) = app.call_json("audit", json!({"filter": {"actor": "admin", "action": "approval.", "team": "team-a", "since": "2000-01-01", "until": ""}})).await;
    assert_eq!(approvals_only.as_array().unwrap().len(), 3, "{approvals_only}");
    let (_, bad) = app
        .call_json(
            "audit",
            json!({"filter": {"actor": "", "action": "", "team": "", "since": "last week", "until": ""}}),
        )
        .await;
    assert!(bad.to_string().contains("neither a date"), "{bad}");
    let csv = app.client.get(app.url("/admin/audit/export?format=csv&action=approval.")).send().await.unwrap();
    let content_type = csv.headers()["content-type"].to_str().unwrap().to_string();
    let csv = csv.text().await.unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}: {csv}");
    assert!(csv.starts_with("id,at,actor,action,team,target,detail,source\r\n"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let json_export: Value = app
        .client
        .get(app.url("/admin/audit/export?format=json&team=team-a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(json_export.as_array().unwrap().iter().all(|e| e["team"] == "team-a"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_plan_hidden_from_a_team_cannot_be_requested_and_admin_pages_render() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    change(&app, json!({"PutVisibility": {"class": "hdfs", "plan": "dedicated", "team": "team-b"}})).await;
    let (_, answer) = app
        .call_json(
            "request_instance",
            json!({"request": {"namespace": "team-a", "name": "x", "class": "svc-hdfs", "plan": "dedicated",
                   "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}}),
        )
        .await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "plan", "{answer}");
    assert!(
        answer["Rejected"]["message"].as_str().unwrap().contains("no plan \"dedicated\" on offer for team team-a"),
        "{answer}"
    );
    let (_, answer) = app
        .call_json(
            "request_instance",
            json!({"request": {"namespace": "team-b", "name": "x", "class": "svc-hdfs", "plan": "dedicated",
                   "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 2048}}}),
        )
        .await;
    assert_eq!(answer, json!({"Done": {"namespace": "team-b", "name": "x"}}));
    // Bad admin input is refused with a reason.
    let (_, answer) = app
        .call_json("change_governance", json!({"change": {"PutQuota": {"team": "Team A", "metric": "Sum", "class": "", "plan": "", "parameter": "x", "max": 1.0}}}))
        .await;
    assert!(answer["Rejected"]["message"].as_str().unwrap().contains("is not a team"), "{answer}");
    let (_, view) = app.call_form("governance", &[]).await;
    assert_eq!(view["visibility"][0]["team"], "team-b");
    assert!(view["teams"].as_array().unwrap().contains(&json!("team-b")));
    for path in ["/admin/policies", "/admin/quotas", "/admin/visibility", "/admin/audit", "/admin"] {
        let (status, html) = app.page(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!html.contains("could not be loaded"), "{path} failed to load its data");
    }
    let (_, html) = app.page("/admin/visibility").await;
    assert!(html.contains("team-b"));
    app.stop().await.unwrap();
}

/// A member of one team sees neither the classes nor the plans offered only to other teams, on
/// the catalog, the class page, or the navigation's count; and cannot request them.
#[tokio::test]
async fn hidden_classes_and_plans_do_not_show_to_other_teams() {
    use app::port::Portal;
    use base64::Engine;
    use server::{
        config::DatabaseUrl,
        db::Database,
        governance::Governance,
        portal::PortalService,
        store::{SecretCipher, SqlStore},
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(&DatabaseUrl::Sqlite(format!("sqlite://{}/qm.db", dir.path().display()))).await.unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let store: std::sync::Arc<dyn server::store::ResourceStore> =
        std::sync::Arc::new(SqlStore::new(db.clone(), SecretCipher::from_base64(&key).unwrap()));
    seed::catalog(store.as_ref()).await;
    let gov = Governance::new(db.clone());
    let admin = app::api::Caller::builtin();
    for (class, plan, team) in [("kafka", "", "team-b"), ("hdfs", "dedicated", "team-b")] {
        let rule = app::api::governance::Visibility { class: class.into(), plan: plan.into(), team: team.into() };
        gov.change(&admin, &app::api::governance::GovernanceChange::PutVisibility(rule)).await.unwrap();
    }
    let portal = PortalService::new(db, store, gov);
    let member = |team: &str| app::api::Caller {
        username: "mia".into(),
        uid: "2".into(),
        groups: Vec::new(),
        namespaces: Some(vec![team.into()]),
        platform_admin: false,
        admin_of: Vec::new(),
        source: String::new(),
    };
    let names =
        |view: &app::api::catalog::CatalogView| view.tiles.iter().map(|t| t.external_name.clone()).collect::<Vec<_>>();
    let a = names(&portal.catalog(&member("team-a")).await.unwrap());
    assert!(a.contains(&"hdfs".to_string()) && !a.contains(&"kafka".to_string()), "{a:?}");
    let b = names(&portal.catalog(&member("team-b")).await.unwrap());
    assert!(b.contains(&"kafka".to_string()), "{b:?}");
    assert!(names(&portal.catalog(&admin).await.unwrap()).contains(&"kafka".to_string()), "admins see everything");
    assert!(portal.class(&member("team-a"), "kafka").await.unwrap().is_none());
    let plans = |d: app::api::catalog::ClassDetail| d.plans.iter().map(|p| p.external_name.clone()).collect::<Vec<_>>();
    assert_eq!(plans(portal.class(&member("team-a"), "hdfs").await.unwrap().unwrap()), vec!["shared"]);
    assert_eq!(plans(portal.class(&member("team-b"), "hdfs").await.unwrap().unwrap()).len(), 2);
    let shell_a = portal.shell_info(&member("team-a")).await.unwrap();
    let shell_b = portal.shell_info(&member("team-b")).await.unwrap();
    assert_eq!(shell_a.services + 1, shell_b.services);
    let request = app::api::instances::InstanceRequest {
        namespace: "team-a".into(),
        name: "k".into(),
        class: "svc-kafka".into(),
        plan: "small".into(),
        parameters: Value::Null,
    };
    match portal.request_instance(&member("team-a"), request).await {
        Err(app::port::PortError::Rejected(r)) => {
            assert!(r.message.contains("no plan \"small\" on offer for team team-a"), "{r:?}")
        }
        other => panic!("a hidden class must be refused: {other:?}"),
    }
}
