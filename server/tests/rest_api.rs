//! The REST API (`/rest/v1`) over real HTTP: the OpenAPI document lists every route and parses,
//! approvals are listed, approved and rejected with a reason, quotas read and set per team,
//! visibility and policies managed, the audit log queried and exported — each refused for people
//! the UI refuses, with JSON errors and the status that fits.

mod common;

use std::collections::BTreeSet;

use common::{TestApp, seed, ui::quiet_app};
use reqwest::{Client, Method};
use serde_json::{Value, json};
use server::auth::Role;

/// Every operation of the API (method, path): the document must list exactly these.
const OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/rest/v1/openapi.json"),
    ("GET", "/rest/v1/docs"),
    ("GET", "/rest/v1/approvals"),
    ("GET", "/rest/v1/approvals/{id}"),
    ("POST", "/rest/v1/approvals/{id}/approve"),
    ("POST", "/rest/v1/approvals/{id}/reject"),
    ("GET", "/rest/v1/teams/{team}/quotas"),
    ("PUT", "/rest/v1/teams/{team}/quotas"),
    ("DELETE", "/rest/v1/teams/{team}/quotas"),
    ("GET", "/rest/v1/visibility"),
    ("POST", "/rest/v1/visibility"),
    ("DELETE", "/rest/v1/visibility"),
    ("GET", "/rest/v1/policies"),
    ("PUT", "/rest/v1/policies"),
    ("DELETE", "/rest/v1/policies/{id}"),
    ("GET", "/rest/v1/audit"),
    ("GET", "/rest/v1/audit/export"),
];

struct World {
    app: TestApp,
    /// Member of team-a.
    alice: Client,
    /// Team admin of team-a.
    adam: Client,
    /// Member of team-b.
    bob: Client,
    /// Platform admin in no team.
    pat: Client,
}

async fn world() -> World {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    app.person("alice", false, &[("team-a", Role::Member)]).await;
    app.person("adam", false, &[("team-a", Role::TeamAdmin)]).await;
    app.person("bob", false, &[("team-b", Role::Member)]).await;
    app.person("pat", true, &[]).await;
    World {
        alice: app.token_client("alice").await,
        adam: app.token_client("adam").await,
        bob: app.token_client("bob").await,
        pat: app.token_client("pat").await,
        app,
    }
}

/// Calls the API; (status, JSON body or the text as a string).
async fn call(app: &TestApp, client: &Client, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// An error answer: the status, the JSON error shape, and (when given) the field at fault.
#[track_caller]
fn error(answer: &(u16, Value), status: u16, field: Option<&str>) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["status"], status, "a JSON error: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "the field at fault: {body}");
    }
}

/// A request of team A for the dedicated HDFS plan (held for approval by the policy); its id.
async fn held(w: &World, name: &str) -> i64 {
    let body = json!({"request": {"namespace": "team-a", "name": name, "class": "svc-hdfs", "plan": "dedicated",
                      "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 4096}}});
    let (status, answer) = w.app.call_json("request_instance", body).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["Done"]["pending"].as_i64().or_else(|| answer.pointer("/Done/outcome/Pending/id")?.as_i64());
    if let Some(id) = id {
        return id;
    }
    let (_, view) = call(&w.app, &w.pat, Method::GET, "/rest/v1/approvals?state=pending", None).await;
    view["pending"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["instance"] == name)
        .and_then(|r| r["id"].as_i64())
        .unwrap_or_else(|| panic!("{name} is not held for approval: {answer} / {view}"))
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_parses() {
    let w = world().await;
    // Anonymous tools may read the document; it is OpenAPI 3.1 JSON.
    let response = w.app.anonymous.get(w.app.url("/rest/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "Quartermaster REST API");
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = OPERATIONS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(listed, expected, "the document and the routes differ");
    // Every $ref points at a schema the document holds.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "schema {name} is referenced but missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object(), "{}", doc["components"]);
    // Every listed operation is routed: it answers JSON (or the export / page), never the app's 404.
    for (method, path) in OPERATIONS {
        let concrete = path.replace("{id}", "1").replace("{team}", "team-a");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = w.pat.request(method.clone(), w.app.url(&concrete)).send().await.unwrap();
        let status = response.status().as_u16();
        let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        assert_ne!(status, 405, "{method} {concrete}");
        assert!(
            kind.starts_with("application/json") || kind.starts_with("text/csv") || kind.starts_with("text/html"),
            "{method} {concrete}: {status} {kind}"
        );
        if kind.starts_with("text/html") {
            assert_eq!(*path, "/rest/v1/docs", "only the docs page is HTML");
        }
    }
    // The docs page names every path and links the document.
    let page = w.app.anonymous.get(w.app.url("/rest/v1/docs")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("href=\"/rest/v1/openapi.json\""), "{page}");
    for (_, path) in OPERATIONS {
        assert!(page.contains(path), "{path} missing on the docs page");
    }
    // An unknown path under the API is a 404, not a page.
    let (status, _) = call(&w.app, &w.pat, Method::GET, "/rest/v1/nothing-here", None).await;
    assert_eq!(status, 404);
    w.app.stop().await.unwrap();
}

#[tokio::test]
async fn approvals_are_listed_approved_and_rejected_with_a_reason() {
    let w = world().await;
    // Requests for the dedicated plan wait for team-a's admins (the policy set through the API).
    let policy = json!({"class": "hdfs", "plan": "dedicated", "operation": "Create", "rule": "Always"});
    let (status, policies) = call(&w.app, &w.pat, Method::PUT, "/rest/v1/policies", Some(policy)).await;
    assert_eq!(status, 200, "{policies}");
    let first = held(&w, "big-one").await;
    let second = held(&w, "big-two").await;

    // The team admin sees both and may decide them; team B's member sees neither.
    let (status, view) = call(&w.app, &w.adam, Method::GET, "/rest/v1/approvals?state=pending", None).await;
    assert_eq!(status, 200, "{view}");
    let decidable: Vec<i64> = view["decidable"].as_array().unwrap().iter().filter_map(Value::as_i64).collect();
    assert!(decidable.contains(&first) && decidable.contains(&second), "{view}");
    assert_eq!(view["decided"], json!([]), "state=pending leaves out decided ones: {view}");
    let (_, view) = call(&w.app, &w.bob, Method::GET, "/rest/v1/approvals", None).await;
    assert_eq!(view["pending"], json!([]), "bob sees nothing of team A: {view}");
    error(&call(&w.app, &w.bob, Method::GET, &format!("/rest/v1/approvals/{first}"), None).await, 404, None);
    let (status, one) = call(&w.app, &w.adam, Method::GET, &format!("/rest/v1/approvals/{first}"), None).await;
    assert_eq!((status, one["instance"].as_str()), (200, Some("big-one")), "{one}");
    error(&call(&w.app, &w.adam, Method::GET, "/rest/v1/approvals?state=maybe", None).await, 400, Some("state"));
    error(&call(&w.app, &w.adam, Method::GET, "/rest/v1/approvals/abc", None).await, 400, Some("id"));

    // Members and other teams may not decide.
    let reject = |id: i64| format!("/rest/v1/approvals/{id}/reject");
    let approve = |id: i64| format!("/rest/v1/approvals/{id}/approve");
    let reason = json!({"reason": "Use the shared plan"});
    error(&call(&w.app, &w.alice, Method::POST, &approve(first), None).await, 403, None);
    error(&call(&w.app, &w.bob, Method::POST, &reject(first), Some(reason.clone())).await, 403, None);
    let anonymous = call(&w.app, &w.app.anonymous, Method::POST, &reject(first), Some(reason.clone())).await;
    error(&anonymous, 401, None);

    // Malformed bodies name the field; too large and non-JSON bodies are refused.
    error(&call(&w.app, &w.adam, Method::POST, &reject(first), None).await, 400, Some("reason"));
    error(&call(&w.app, &w.adam, Method::POST, &reject(first), Some(json!({"reason": 5}))).await, 400, Some("reason"));
    error(
        &call(&w.app, &w.adam, Method::POST, &reject(first), Some(json!({"reason": "  "}))).await,
        400,
        Some("reason"),
    );
    let extra = json!({"reason": "no", "resaon": "typo"});
    error(&call(&w.app, &w.adam, Method::POST, &reject(first), Some(extra)).await, 400, Some("resaon"));
    let big = json!({"reason": "x".repeat(100 * 1024)});
    error(&call(&w.app, &w.adam, Method::POST, &reject(first), Some(big)).await, 413, None);
    let response = w.adam.post(w.app.url(&reject(first))).header("content-type", "text/plain").body("no").send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 415);
    // The governance rules' own refusals come through (a comment over 2,000 characters).
    let long = json!({"reason": "y".repeat(2500)});
    let answer = call(&w.app, &w.adam, Method::POST, &reject(first), Some(long)).await;
    error(&answer, 422, None);
    assert!(answer.1["message"].as_str().unwrap().contains("too long"), "{}", answer.1);

    // Rejected with the reason; deciding again is a conflict; an unknown id is not found.
    let (status, decided) = call(&w.app, &w.adam, Method::POST, &reject(first), Some(reason.clone())).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(
        (decided["state"].as_str(), decided["comment"].as_str()),
        (Some("Rejected"), Some("Use the shared plan"))
    );
    assert_eq!(decided["decided_by"], "adam");
    error(&call(&w.app, &w.adam, Method::POST, &reject(first), Some(reason.clone())).await, 409, None);
    error(&call(&w.app, &w.pat, Method::POST, &approve(999_999), None).await, 404, None);

    // Approved (no body needed): the portal carries the request out — the instance exists.
    let (status, decided) = call(&w.app, &w.adam, Method::POST, &approve(second), None).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["state"], "Approved", "{decided}");
    let instance = w.app.store.get(app::model::Kind::ServiceInstance, "team-a", "big-two").await.unwrap();
    assert!(instance.is_some(), "the approved request was carried out");
    assert!(w.app.store.get(app::model::Kind::ServiceInstance, "team-a", "big-one").await.unwrap().is_none());

    // Both decisions are in the audit log, with who decided.
    let (status, events) = call(&w.app, &w.pat, Method::GET, "/rest/v1/audit?action=approval.&team=team-a", None).await;
    assert_eq!(status, 200, "{events}");
    let actions: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert!(
        actions.contains(&("approval.reject", "adam")) && actions.contains(&("approval.approve", "adam")),
        "{events}"
    );
    w.app.stop().await.unwrap();
}

#[tokio::test]
async fn quotas_are_read_by_the_team_and_set_by_platform_admins() {
    let w = world().await;
    let path = "/rest/v1/teams/team-a/quotas";
    let limit = json!({"metric": "Sum", "parameter": "storageSpaceQuota", "max": 10240.0});
    // Only platform admins set limits (as on the quotas screen).
    error(&call(&w.app, &w.adam, Method::PUT, path, Some(limit.clone())).await, 403, None);
    error(&call(&w.app, &w.alice, Method::PUT, path, Some(limit.clone())).await, 403, None);
    error(&call(&w.app, &w.app.anonymous, Method::PUT, path, Some(limit.clone())).await, 401, None);
    let (status, view) = call(&w.app, &w.pat, Method::PUT, path, Some(limit.clone())).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["lines"][0]["limit"]["max"], 10240.0, "{view}");
    assert_eq!(view["lines"][0]["limit"]["team"], "team-a", "{view}");
    // Malformed limits name the field; the rules' refusals are 422s.
    error(
        &call(&w.app, &w.pat, Method::PUT, path, Some(json!({"metric": "Most", "max": 1}))).await,
        400,
        Some("metric"),
    );
    error(&call(&w.app, &w.pat, Method::PUT, path, Some(json!({"max": 1}))).await, 400, Some("metric"));
    let negative = json!({"metric": "Count", "class": "hdfs", "max": -1});
    error(&call(&w.app, &w.pat, Method::PUT, path, Some(negative)).await, 422, None);
    let bad_team = call(&w.app, &w.pat, Method::PUT, "/rest/v1/teams/Not_A_Team/quotas", Some(limit)).await;
    error(&bad_team, 422, None);

    // The team's members read it; another team's member may not.
    let (status, view) = call(&w.app, &w.alice, Method::GET, path, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["lines"].as_array().unwrap().len(), 1, "{view}");
    let refused = call(&w.app, &w.bob, Method::GET, path, None).await;
    error(&refused, 403, None);
    assert!(refused.1["message"].as_str().unwrap().contains("not a member of team team-a"), "{}", refused.1);

    // Removed by the query that names it.
    let remove = format!("{path}?metric=Sum&parameter=storageSpaceQuota");
    error(&call(&w.app, &w.adam, Method::DELETE, &remove, None).await, 403, None);
    error(&call(&w.app, &w.pat, Method::DELETE, &format!("{path}?parameter=x"), None).await, 400, Some("metric"));
    let (status, view) = call(&w.app, &w.pat, Method::DELETE, &remove, None).await;
    assert_eq!((status, &view["lines"]), (200, &json!([])), "{view}");
    w.app.stop().await.unwrap();
}

#[tokio::test]
async fn visibility_and_policies_are_managed_by_platform_admins() {
    let w = world().await;
    let rule = json!({"class": "hdfs", "plan": "dedicated", "team": "team-a"});
    error(&call(&w.app, &w.adam, Method::POST, "/rest/v1/visibility", Some(rule.clone())).await, 403, None);
    let (status, rules) = call(&w.app, &w.pat, Method::POST, "/rest/v1/visibility", Some(rule.clone())).await;
    assert_eq!((status, rules.clone()), (200, json!([rule])));
    error(&call(&w.app, &w.alice, Method::GET, "/rest/v1/visibility", None).await, 403, None);
    error(&call(&w.app, &w.pat, Method::POST, "/rest/v1/visibility", Some(json!({"class": "hdfs"}))).await, 400, None);
    // The plan is hidden from team B now (the same rule the catalog applies).
    let (_, class) = {
        let r = w.bob.post(w.app.url("/api/class")).form(&[("class", "svc-hdfs")]).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(!class.contains("\"dedicated\""), "team B does not see the dedicated plan: {class}");
    error(&call(&w.app, &w.pat, Method::DELETE, "/rest/v1/visibility?class=hdfs", None).await, 400, Some("team"));
    let (status, rules) =
        call(&w.app, &w.pat, Method::DELETE, "/rest/v1/visibility?class=hdfs&plan=dedicated&team=team-a", None).await;
    assert_eq!((status, rules), (200, json!([])));

    let policy = json!({"class": "hdfs", "plan": "", "operation": "Delete", "rule": {"Threshold": {"parameter": "storageSpaceQuota", "threshold": 100.0}}, "approver": "PlatformAdmin"});
    error(&call(&w.app, &w.adam, Method::PUT, "/rest/v1/policies", Some(policy.clone())).await, 403, None);
    let (status, policies) = call(&w.app, &w.pat, Method::PUT, "/rest/v1/policies", Some(policy)).await;
    assert_eq!(status, 200, "{policies}");
    let id = policies[0]["id"].as_i64().unwrap();
    assert_eq!(policies[0]["approver"], "PlatformAdmin");
    let (status, seen) = call(&w.app, &w.adam, Method::GET, "/rest/v1/policies", None).await;
    assert_eq!(status, 200, "a team admin may read the governance view: {seen}");
    error(&call(&w.app, &w.alice, Method::GET, "/rest/v1/policies", None).await, 403, None);
    let bad = json!({"class": "hdfs", "operation": "Create", "rule": "Sometimes"});
    error(&call(&w.app, &w.pat, Method::PUT, "/rest/v1/policies", Some(bad)).await, 400, Some("rule"));
    error(&call(&w.app, &w.pat, Method::DELETE, "/rest/v1/policies/999999", None).await, 404, None);
    error(&call(&w.app, &w.adam, Method::DELETE, &format!("/rest/v1/policies/{id}"), None).await, 403, None);
    let (status, policies) = call(&w.app, &w.pat, Method::DELETE, &format!("/rest/v1/policies/{id}"), None).await;
    assert_eq!((status, policies), (200, json!([])));
    w.app.stop().await.unwrap();
}

#[tokio::test]
async fn the_audit_log_is_queried_and_exported_by_platform_admins() {
    let w = world().await;
    // Something to find: a quota change by pat.
    let limit = json!({"metric": "Count", "class": "hdfs", "max": 3});
    assert_eq!(call(&w.app, &w.pat, Method::PUT, "/rest/v1/teams/team-b/quotas", Some(limit)).await.0, 200);
    let (status, events) = call(&w.app, &w.pat, Method::GET, "/rest/v1/audit?actor=pat&action=quota.", None).await;
    assert_eq!(status, 200, "{events}");
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0]["action"].as_str(), events[0]["team"].as_str()), (Some("quota.put"), Some("team-b")));
    let (_, none) = call(&w.app, &w.pat, Method::GET, "/rest/v1/audit?actor=nobody", None).await;
    assert_eq!(none, json!([]));
    error(&call(&w.app, &w.pat, Method::GET, "/rest/v1/audit?since=yesterday", None).await, 400, None);
    error(&call(&w.app, &w.pat, Method::GET, "/rest/v1/audit?colour=red", None).await, 400, Some("colour"));
    for who in [&w.alice, &w.adam, &w.bob] {
        error(&call(&w.app, who, Method::GET, "/rest/v1/audit", None).await, 403, None);
        error(&call(&w.app, who, Method::GET, "/rest/v1/audit/export?format=json", None).await, 403, None);
    }
    let anonymous = w.app.anonymous.get(w.app.url("/rest/v1/audit")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_eq!(anonymous.json::<Value>().await.unwrap()["reason"], "Unauthorized");

    // The export: JSON or CSV with the same filters, as an attachment.
    let response = w.pat.get(w.app.url("/rest/v1/audit/export?format=json&action=quota.")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("quartermaster-audit.json"));
    let exported: Value = response.json().await.unwrap();
    assert_eq!(exported.as_array().unwrap().len(), 1, "{exported}");
    let response = w.pat.get(w.app.url("/rest/v1/audit/export?actor=pat")).send().await.unwrap();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    assert!(csv.contains("quota.put"), "{csv}");
    error(&call(&w.app, &w.pat, Method::GET, "/rest/v1/audit/export?format=xml", None).await, 400, Some("format"));
    // The exports themselves are audited.
    let (_, exports) = call(&w.app, &w.pat, Method::GET, "/rest/v1/audit?action=audit.export", None).await;
    assert_eq!(exports.as_array().unwrap().len(), 2, "{exports}");

    // A session (the browser's) works too, with the same answers.
    let session = w.app.session_client("pat").await;
    let (status, _) = call(&w.app, &session, Method::GET, "/rest/v1/audit?actor=pat", None).await;
    assert_eq!(status, 200);
    w.app.stop().await.unwrap();
}
