//! The authorization matrix: every server function, every page, every REST API operation and
//! every other route of the portal, called by every kind of caller, against objects of team A.
//! The list of server functions is checked against the registry of the running binary, the list
//! of pages against the app's router and the REST operations against the API's OpenAPI
//! document, so a new endpoint without a row here fails this test.

mod common;

use std::collections::BTreeSet;

use app::model::Kind;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::{TestApp, seed, ui::quiet_app};
use serde_json::{Value, json};
use server::auth::Role;

/// What a caller got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum O {
    /// Done (or the data asked for).
    Ok,
    /// Refused: not allowed (HTTP 403, or a refusal naming why).
    No,
    /// Not signed in: HTTP 401 (API) or a redirect to the login page (pages).
    In,
}
use O::{In, No, Ok};

/// The callers, in the order of every row below.
const CALLERS: [&str; 6] =
    ["anonymous", "member of A", "team-admin of A", "member of B", "platform admin", "token of A's member"];

/// Server functions, by endpoint. Team A's objects are the target; the platform admin is in
/// no team (so team A's credentials are not theirs to read).
const SERVER_FNS: &[(&str, [O; 6])] = &[
    ("shell_info", [In, Ok, Ok, Ok, Ok, Ok]),
    ("check_portal", [In, Ok, Ok, Ok, Ok, Ok]),
    ("catalog", [In, Ok, Ok, Ok, Ok, Ok]),
    ("class", [In, Ok, Ok, Ok, Ok, Ok]),
    ("namespaces", [In, Ok, Ok, Ok, Ok, Ok]),
    ("instances", [In, Ok, Ok, Ok, Ok, Ok]),
    ("instance", [In, Ok, Ok, No, Ok, Ok]),
    ("request_instance", [In, Ok, Ok, No, Ok, Ok]),
    ("update_instance", [In, Ok, Ok, No, Ok, Ok]),
    ("delete_instance", [In, Ok, Ok, No, Ok, Ok]),
    ("abandon_instance", [In, No, No, No, Ok, No]),
    ("create_binding", [In, Ok, Ok, No, Ok, Ok]),
    ("delete_binding", [In, Ok, Ok, No, Ok, Ok]),
    ("reveal_credentials", [In, Ok, Ok, No, No, Ok]),
    ("brokers", [In, No, No, No, Ok, No]),
    ("register_broker", [In, No, No, No, Ok, No]),
    ("test_broker", [In, No, No, No, Ok, No]),
    ("relist_broker", [In, No, No, No, Ok, No]),
    ("delete_broker", [In, No, No, No, Ok, No]),
    ("people", [In, No, Ok, No, Ok, No]),
    ("create_person", [In, No, No, No, Ok, No]),
    ("create_team", [In, No, No, No, Ok, No]),
    ("set_membership", [In, No, Ok, No, Ok, No]),
    ("remove_membership", [In, No, Ok, No, Ok, No]),
    ("tokens", [In, Ok, Ok, Ok, Ok, Ok]),
    ("create_token", [In, Ok, Ok, Ok, Ok, Ok]),
    ("revoke_token", [In, Ok, Ok, Ok, Ok, Ok]),
    ("apply_manifest", [In, Ok, Ok, No, Ok, Ok]),
    ("approvals", [In, Ok, Ok, Ok, Ok, Ok]),
    ("decide", [In, No, Ok, No, Ok, No]),
    ("quota", [In, Ok, Ok, No, Ok, Ok]),
    ("governance", [In, No, Ok, No, Ok, No]),
    ("change_governance", [In, No, No, No, Ok, No]),
    ("audit", [In, No, No, No, Ok, No]),
];

/// Pages (the app's routes, parameters filled with team A's objects).
const PAGES: &[(&str, [O; 6])] = &[
    ("/", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/catalog", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/catalog/{class}", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/catalog/{class}/request", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/instances", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/instances/{namespace}/{name}", [In, Ok, Ok, No, Ok, Ok]),
    ("/approvals", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/admin", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/admin/brokers", [In, No, No, No, Ok, No]),
    ("/admin/people", [In, No, Ok, No, Ok, No]),
    ("/account/tokens", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/account/password", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/login", [Ok, Ok, Ok, Ok, Ok, Ok]),
    ("/apply", [In, Ok, Ok, Ok, Ok, Ok]),
    ("/admin/policies", [In, No, Ok, No, Ok, No]),
    ("/admin/quotas", [In, No, Ok, No, Ok, No]),
    ("/admin/visibility", [In, No, Ok, No, Ok, No]),
    ("/admin/audit", [In, No, No, No, Ok, No]),
];

/// The routes that are not Leptos's: the live stream, metrics, health.
const OTHER: &[(&str, [O; 6])] = &[
    ("GET /live/instances?namespace=team-a", [In, Ok, Ok, No, Ok, Ok]),
    ("GET /metrics", [In, No, No, No, Ok, No]),
    ("GET /healthz", [Ok, Ok, Ok, Ok, Ok, Ok]),
    ("GET /readyz", [Ok, Ok, Ok, Ok, Ok, Ok]),
    ("GET /admin/audit/export?format=json", [In, No, No, No, Ok, No]),
    ("GET /apis/servicecatalog.k8s.io/v1beta1/namespaces/team-a/serviceinstances", [In, Ok, Ok, No, Ok, Ok]),
    ("GET /manifests/serviceinstances/team-a/logs", [In, Ok, Ok, No, Ok, Ok]),
    ("POST /kubeconfig?namespace=team-a", [In, Ok, Ok, No, Ok, Ok]),
];

const CATALOG: &str = "/apis/servicecatalog.k8s.io/v1beta1/namespaces/team-a";

/// The Kubernetes-style API (what kubectl calls) and the portal's manifest apply, against team
/// A's objects. `WATCH` is a GET with `watch=true`. Credentials (Secrets) are for team A's
/// members only: the platform admin, in no team, is refused them here as in the UI.
const KAPI: &[(&str, [O; 6])] = &[
    ("GET /api/v1/namespaces/team-a/secrets/app-creds", [In, Ok, Ok, No, No, Ok]),
    ("GET /api/v1/namespaces/team-a/secrets", [In, Ok, Ok, No, No, Ok]),
    ("WATCH /api/v1/namespaces/team-a/secrets", [In, Ok, Ok, No, No, Ok]),
    ("GET {catalog}/servicebindings", [In, Ok, Ok, No, Ok, Ok]),
    ("GET {catalog}/servicebindings/app-creds", [In, Ok, Ok, No, Ok, Ok]),
    ("POST {catalog}/servicebindings", [In, Ok, Ok, No, Ok, Ok]),
    ("GET {catalog}/serviceinstances/logs", [In, Ok, Ok, No, Ok, Ok]),
    ("POST {catalog}/serviceinstances", [In, Ok, Ok, No, Ok, Ok]),
    ("PATCH {catalog}/serviceinstances/{name}", [In, Ok, Ok, No, Ok, Ok]),
    ("DELETE {catalog}/serviceinstances/{name}", [In, Ok, Ok, No, Ok, Ok]),
    ("PATCH {catalog}/serviceinstances/{name}/status", [In, No, No, No, Ok, No]),
    ("POST /manifests/apply", [In, Ok, Ok, No, Ok, Ok]),
];

/// The REST API (`/rest/v1`): every operation its OpenAPI document lists, against team A's
/// records. A request another team may not see is a 404, counted as refused.
const REST: &[(&str, [O; 6])] = &[
    ("GET /rest/v1/openapi.json", [Ok, Ok, Ok, Ok, Ok, Ok]),
    ("GET /rest/v1/docs", [Ok, Ok, Ok, Ok, Ok, Ok]),
    ("GET /rest/v1/approvals", [In, Ok, Ok, Ok, Ok, Ok]),
    ("GET /rest/v1/approvals/{id}", [In, No, Ok, No, Ok, No]),
    ("POST /rest/v1/approvals/{id}/approve", [In, No, Ok, No, Ok, No]),
    ("POST /rest/v1/approvals/{id}/reject", [In, No, Ok, No, Ok, No]),
    ("GET /rest/v1/teams/{team}/quotas", [In, Ok, Ok, No, Ok, Ok]),
    ("PUT /rest/v1/teams/{team}/quotas", [In, No, No, No, Ok, No]),
    ("DELETE /rest/v1/teams/{team}/quotas", [In, No, No, No, Ok, No]),
    ("GET /rest/v1/visibility", [In, No, Ok, No, Ok, No]),
    ("POST /rest/v1/visibility", [In, No, No, No, Ok, No]),
    ("DELETE /rest/v1/visibility", [In, No, No, No, Ok, No]),
    ("GET /rest/v1/policies", [In, No, Ok, No, Ok, No]),
    ("PUT /rest/v1/policies", [In, No, No, No, Ok, No]),
    ("DELETE /rest/v1/policies/{id}", [In, No, No, No, Ok, No]),
    ("GET /rest/v1/audit", [In, No, No, No, Ok, No]),
    ("GET /rest/v1/audit/export", [In, No, No, No, Ok, No]),
];

struct World {
    app: TestApp,
    clients: Vec<reqwest::Client>,
    /// Account ids per caller (the anonymous one: none).
    ids: Vec<Option<i64>>,
    counter: std::sync::atomic::AtomicUsize,
}

impl World {
    fn fresh(&self, prefix: &str) -> String {
        format!("{prefix}-{}", self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// An instance of team A made by the admin's token, for calls that change or remove one.
    async fn instance(&self) -> String {
        let name = self.fresh("inst");
        let (status, answer) = self.app.call_json("request_instance", request_body("team-a", &name)).await;
        assert_eq!(answer["Done"]["name"], name.as_str(), "{status} {answer}");
        name
    }

    /// A request of team A held for approval (the dedicated HDFS plan always needs one); its id.
    async fn pending(&self) -> i64 {
        let name = self.fresh("held");
        let mut body = request_body("team-a", &name);
        body["request"]["plan"] = json!("dedicated");
        let (status, answer) = self.app.call_json("request_instance", body).await;
        assert!(status == 200, "{status} {answer}");
        let (_, queue) = self.app.call_form("approvals", &[]).await;
        find_id(&queue, &name).unwrap_or_else(|| panic!("{name} is not in the approval queue: {queue}"))
    }

    async fn binding(&self) -> String {
        let name = self.fresh("bind");
        let body = json!({"request": {"namespace": "team-a", "instance": "logs", "name": name, "parameters": {}}});
        let (_, answer) = self.app.call_json("create_binding", body).await;
        assert_eq!(answer["Done"]["name"], name.as_str(), "{answer}");
        name
    }
}

/// The id of the approval request for instance `name`, wherever it sits in the answer.
fn find_id(value: &Value, name: &str) -> Option<i64> {
    match value {
        Value::Object(map) => {
            if map.values().any(|v| v == name) && map.get("id").and_then(Value::as_i64).is_some() {
                return map.get("id").and_then(Value::as_i64);
            }
            map.values().find_map(|v| find_id(v, name))
        }
        Value::Array(items) => items.iter().find_map(|v| find_id(v, name)),
        _ => None,
    }
}

fn request_body(namespace: &str, name: &str) -> Value {
    json!({"request": {"namespace": namespace, "name": name, "class": "svc-hdfs", "plan": "shared",
                       "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 4096}}})
}

fn broker_form(name: &str) -> Value {
    json!({"form": {"name": name, "url": "http://127.0.0.1:9/", "auth": "None", "ca_bundle": "",
                    "insecure_skip_tls_verify": false, "relist_behavior": "Manual", "relist_duration": ""}})
}

/// How an answer reads: allowed, refused, or "sign in first"; anything else fails the test.
fn outcome(what: &str, caller: &str, status: u16, body: &str) -> O {
    let refusal = |m: &str| {
        [
            "not a member",
            "Only members",
            "for platform admins",
            "may not manage",
            "neither a platform admin",
            "is forbidden: User",
            "may not decide",
            "is not a platform admin",
        ]
        .iter()
        .any(|needle| m.contains(needle))
    };
    match status {
        401 => In,
        403 => No,
        303 | 307 | 302 => panic!("{what} as {caller}: unexpected redirect"),
        200 => {
            let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            match value.pointer("/Rejected/message").and_then(Value::as_str) {
                Some(m) if refusal(m) => No,
                Some(m) => panic!("{what} as {caller}: refused for another reason than authorization: {m}"),
                None => Ok,
            }
        }
        500 if body.contains("Forbidden: ") => No,
        _ => panic!("{what} as {caller}: unexpected HTTP {status}: {body}"),
    }
}

async fn call_fn(world: &World, endpoint: &str, who: usize) -> O {
    let client = &world.clients[who];
    let url = world.app.url(&format!("/api/{endpoint}"));
    let form = |args: Vec<(&str, String)>| client.post(&url).form(&args);
    let json = |body: Value| client.post(&url).json(&body);
    let request = match endpoint {
        "shell_info" | "check_portal" | "namespaces" | "instances" | "brokers" | "people" | "tokens" => form(vec![]),
        "catalog" => json(json!({"query": {"q": "", "tag": "", "broker": "", "all": true}})),
        "class" => form(vec![("class", "svc-hdfs".into())]),
        "instance" => form(vec![("namespace", "team-a".into()), ("name", "logs".into())]),
        "request_instance" => json(request_body("team-a", &world.fresh("req"))),
        "update_instance" => {
            let name = world.instance().await;
            let object = world.app.store.get(Kind::ServiceInstance, "team-a", &name).await.unwrap().unwrap();
            let rv = object["metadata"]["resourceVersion"].as_str().unwrap().to_string();
            json(json!({"update": {"namespace": "team-a", "name": name, "plan": "shared",
                                   "parameters": {"storageSpaceQuota": 8192}, "resource_version": rv}}))
        }
        "delete_instance" | "abandon_instance" => {
            form(vec![("namespace", "team-a".into()), ("name", world.instance().await)])
        }
        "create_binding" => json(json!({"request": {"namespace": "team-a", "instance": "logs",
                                                    "name": world.fresh("b"), "parameters": {}}})),
        "delete_binding" => form(vec![("namespace", "team-a".into()), ("name", world.binding().await)]),
        "reveal_credentials" => form(vec![("namespace", "team-a".into()), ("binding", "app-creds".into())]),
        "register_broker" | "test_broker" => json(broker_form(&world.fresh("broker"))),
        "relist_broker" => form(vec![("name", seed::BROKER.into())]),
        "delete_broker" => {
            let name = world.fresh("gone");
            seed::broker(world.app.store.as_ref(), &name, true, "ok").await;
            form(vec![("name", name)])
        }
        "create_person" => form(vec![("username", world.fresh("person")), ("display_name", "P".into())]),
        "create_team" => form(vec![("name", world.fresh("team")), ("display_name", "T".into())]),
        "set_membership" => {
            form(vec![("team", "team-a".into()), ("username", "carol".into()), ("role", "member".into())])
        }
        "remove_membership" => form(vec![("team", "team-a".into()), ("username", "carol".into())]),
        "create_token" => form(vec![("name", world.fresh("token"))]),
        "revoke_token" => {
            let owner = world.ids[who].unwrap_or(1);
            let (_, token) = world.app.accounts.create_token(owner, "to revoke").await.unwrap();
            form(vec![("id", token.id.to_string())])
        }
        "apply_manifest" => {
            let manifest = format!(
                "apiVersion: servicecatalog.k8s.io/v1beta1\nkind: ServiceInstance\nmetadata:\n  name: {}\n  namespace: team-a\n\
                 spec:\n  clusterServiceClassExternalName: hdfs\n  clusterServicePlanExternalName: shared\n\
                 \x20 parameters:\n    namespaceQuota: 10000\n    storageSpaceQuota: 4096\n",
                world.fresh("applied")
            );
            form(vec![("manifest", manifest)])
        }
        "approvals" | "governance" => form(vec![]),
        "quota" => form(vec![("namespace", "team-a".into())]),
        "decide" => json(json!({"decision": {"id": world.pending().await, "approve": false, "comment": "no"}})),
        "change_governance" => {
            json(json!({"change": {"PutQuota": {"team": world.fresh("quota-team"), "metric": "Count",
                                        "class": "hdfs", "plan": "", "parameter": "", "max": 100.0}}}))
        }
        "audit" => json(json!({"filter": {"actor": "", "action": "", "team": "", "since": "", "until": ""}})),
        other => panic!("the matrix has no way to call server function {other}: add it"),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    outcome(endpoint, CALLERS[who], status, &body)
}

async fn call_page(world: &World, route: &str, who: usize) -> O {
    let path = route.replace("{class}", "svc-hdfs").replace("{namespace}", "team-a").replace("{name}", "logs");
    let response = world.clients[who].get(world.app.url(&path)).send().await.unwrap();
    let status = response.status().as_u16();
    if status == 303 {
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with("/login?next="), "{path} as {}: redirected to {location}", CALLERS[who]);
        return In;
    }
    let body = response.text().await.unwrap();
    match status {
        200 => Ok,
        403 => {
            assert!(
                body.contains("data-testid=\"forbidden\""),
                "{path} as {}: a 403 without the 403 page",
                CALLERS[who]
            );
            No
        }
        _ => panic!("{path} as {}: HTTP {status}", CALLERS[who]),
    }
}

async fn call_other(world: &World, route: &str, who: usize) -> O {
    let (method, path) = route.split_once(' ').unwrap();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = world.clients[who].request(method, world.app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    // The live stream never ends: its headers are the answer.
    let body = if path.starts_with("/live/") { String::new() } else { response.text().await.unwrap() };
    match status {
        200 => Ok,
        401 => In,
        // Routes a browser opens (an export link) send anonymous callers to sign in.
        303 => In,
        403 => No,
        _ => panic!("{path} as {}: HTTP {status}: {body}", CALLERS[who]),
    }
}

async fn call_rest(world: &World, route: &str, who: usize) -> O {
    let (method, template) = route.split_once(' ').unwrap();
    let admin = &world.clients[4];
    let mut path = template.replace("{team}", "team-a");
    let mut body = None;
    match route {
        "POST /rest/v1/approvals/{id}/approve"
        | "POST /rest/v1/approvals/{id}/reject"
        | "GET /rest/v1/approvals/{id}" => {
            path = path.replace("{id}", &world.pending().await.to_string());
            body = Some(json!({"reason": "not now"})).filter(|_| route.ends_with("reject"));
        }
        "PUT /rest/v1/teams/{team}/quotas" => {
            body = Some(json!({"metric": "Count", "class": "hdfs", "max": 1000}));
        }
        "DELETE /rest/v1/teams/{team}/quotas" => path.push_str("?metric=Count&class=hdfs"),
        "POST /rest/v1/visibility" => body = Some(json!({"class": "unlisted", "plan": "", "team": "team-a"})),
        "DELETE /rest/v1/visibility" => path.push_str("?class=unlisted&team=team-a"),
        "PUT /rest/v1/policies" => body = Some(json!({"class": "unlisted", "operation": "Create", "rule": "Always"})),
        "DELETE /rest/v1/policies/{id}" => {
            let class = world.fresh("policy-class");
            let policy = json!({"class": class, "operation": "Create", "rule": "Always"});
            let policies: Value =
                admin.put(world.app.url("/rest/v1/policies")).json(&policy).send().await.unwrap().json().await.unwrap();
            let id = policies.as_array().unwrap().iter().find(|p| p["class"] == class.as_str()).unwrap()["id"].clone();
            path = path.replace("{id}", &id.to_string());
        }
        "GET /rest/v1/audit/export" => path.push_str("?format=json"),
        _ => {}
    }
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = world.clients[who].request(method, world.app.url(&path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    match status {
        200 => Ok,
        401 => In,
        403 | 404 => No,
        _ => panic!("{route} as {}: HTTP {status}: {body}", CALLERS[who]),
    }
}

fn instance_manifest(name: &str) -> Value {
    json!({"apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceInstance",
           "metadata": {"name": name, "namespace": "team-a"},
           "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                    "parameters": {"namespaceQuota": 10000, "storageSpaceQuota": 4096}}})
}

async fn call_kapi(world: &World, route: &str, who: usize) -> O {
    let (verb, template) = route.split_once(' ').unwrap();
    let mut path = template.replace("{catalog}", CATALOG);
    let client = &world.clients[who];
    let mut body: Option<(&str, String)> = None;
    let method = match verb {
        "WATCH" => {
            path.push_str("?watch=true&timeoutSeconds=1");
            reqwest::Method::GET
        }
        other => reqwest::Method::from_bytes(other.as_bytes()).unwrap(),
    };
    if path.contains("{name}") {
        path = path.replace("{name}", &world.instance().await);
    }
    match route {
        "POST {catalog}/servicebindings" => {
            let binding = json!({"apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceBinding",
                                 "metadata": {"name": world.fresh("kb"), "namespace": "team-a"},
                                 "spec": {"instanceRef": {"name": "logs"}}});
            body = Some(("application/json", binding.to_string()));
        }
        "POST {catalog}/serviceinstances" => {
            body = Some(("application/json", instance_manifest(&world.fresh("ki")).to_string()));
        }
        "PATCH {catalog}/serviceinstances/{name}" => {
            body = Some(("application/merge-patch+json", r#"{"metadata":{"labels":{"touched":"yes"}}}"#.into()));
        }
        "PATCH {catalog}/serviceinstances/{name}/status" => {
            body = Some(("application/merge-patch+json", r#"{"status":{"provisionStatus":"Provisioned"}}"#.into()));
        }
        "POST /manifests/apply" => {
            let yaml = format!(
                "apiVersion: servicecatalog.k8s.io/v1beta1\nkind: ServiceInstance\nmetadata:\n  name: {}\n  namespace: team-a\n\
                 spec:\n  clusterServiceClassExternalName: hdfs\n  clusterServicePlanExternalName: shared\n\
                 \x20 parameters:\n    namespaceQuota: 10000\n    storageSpaceQuota: 4096\n",
                world.fresh("km")
            );
            body = Some(("application/yaml", yaml));
        }
        _ => {}
    }
    let mut request = client.request(method, world.app.url(&path));
    if let Some((content_type, text)) = body {
        request = request.header("Content-Type", content_type).body(text);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    match status {
        200 | 201 => {
            // What was read is what was asked for (and a Secret carries its data).
            if route.starts_with("GET /api/v1/namespaces/team-a/secrets/") {
                assert!(text.contains(&B64.encode("s3cr3t")), "{route} as {}: {text}", CALLERS[who]);
            }
            Ok
        }
        401 => In,
        403 => {
            let status: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            assert_eq!(status["reason"], "Forbidden", "{route} as {}: {text}", CALLERS[who]);
            assert!(!text.contains(&B64.encode("s3cr3t")), "{route} as {}: {text}", CALLERS[who]);
            No
        }
        _ => panic!("{route} as {}: HTTP {status}: {text}", CALLERS[who]),
    }
}

async fn world() -> World {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    let alice = app.person("alice", false, &[("team-a", Role::Member)]).await;
    let adam = app.person("adam", false, &[("team-a", Role::TeamAdmin)]).await;
    let bob = app.person("bob", false, &[("team-b", Role::Member)]).await;
    let pat = app.person("pat", true, &[]).await;
    app.person("carol", false, &[]).await;
    // Team A's instance and binding with credentials; one of team B.
    let (_, answer) = app.call_json("request_instance", request_body("team-a", "logs")).await;
    assert_eq!(answer["Done"]["name"], "logs", "{answer}");
    let (_, answer) = app.call_json("request_instance", request_body("team-b", "metrics")).await;
    assert_eq!(answer["Done"]["name"], "metrics", "{answer}");
    let body = json!({"request": {"namespace": "team-a", "instance": "logs", "name": "app-creds", "parameters": {}}});
    let (_, answer) = app.call_json("create_binding", body).await;
    assert_eq!(answer["Done"]["name"], "app-creds", "{answer}");
    app.store
        .create(
            Kind::Secret,
            json!({"metadata": {"name": "app-creds", "namespace": "team-a"}, "data": {"password": B64.encode("s3cr3t")}}),
        )
        .await
        .unwrap();
    // Requests for the dedicated HDFS plan wait for a team admin's approval.
    let policy = json!({"change": {"PutPolicy": {"id": 0, "class": "hdfs", "plan": "dedicated", "operation": "Create",
                                                 "rule": "Always", "approver": "TeamAdmin"}}});
    let (_, answer) = app.call_json("change_governance", policy).await;
    assert_eq!(answer, json!({"Done": null}), "{answer}");
    let clients = vec![
        app.anonymous.clone(),
        app.session_client("alice").await,
        app.session_client("adam").await,
        app.session_client("bob").await,
        app.session_client("pat").await,
        app.token_client("alice").await,
    ];
    let ids = vec![None, Some(alice), Some(adam), Some(bob), Some(pat), Some(alice)];
    World { app, clients, ids, counter: Default::default() }
}

#[tokio::test]
async fn every_endpoint_with_every_role() {
    // Every registered server function has a row, and every row a server function.
    let registered: BTreeSet<String> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.to_string()).collect();
    let covered: BTreeSet<String> = SERVER_FNS.iter().map(|(e, _)| format!("/api/{e}")).collect();
    assert_eq!(registered, covered, "server functions and the matrix differ");
    // Every page of the app's router has a row.
    let routes: BTreeSet<String> =
        leptos_axum::generate_route_list(app::App).iter().map(|r| r.path().to_string()).collect();
    let pages: BTreeSet<String> = PAGES.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(routes, pages, "the app's pages and the matrix differ");

    let world = world().await;
    let mut wrong = Vec::new();
    for (endpoint, expected) in SERVER_FNS {
        for (who, want) in expected.iter().enumerate() {
            let got = call_fn(&world, endpoint, who).await;
            if got != *want {
                wrong.push(format!("server fn {endpoint} as {}: expected {want:?}, got {got:?}", CALLERS[who]));
            }
        }
    }
    for (route, expected) in PAGES {
        for (who, want) in expected.iter().enumerate() {
            let got = call_page(&world, route, who).await;
            if got != *want {
                wrong.push(format!("page {route} as {}: expected {want:?}, got {got:?}", CALLERS[who]));
            }
        }
    }
    for (route, expected) in OTHER {
        for (who, want) in expected.iter().enumerate() {
            let got = call_other(&world, route, who).await;
            if got != *want {
                wrong.push(format!("{route} as {}: expected {want:?}, got {got:?}", CALLERS[who]));
            }
        }
    }
    for (route, expected) in KAPI {
        for (who, want) in expected.iter().enumerate() {
            let got = call_kapi(&world, route, who).await;
            if got != *want {
                wrong.push(format!("{route} as {}: expected {want:?}, got {got:?}", CALLERS[who]));
            }
        }
    }
    // Every operation the REST API's document lists has a row.
    let doc: Value =
        world.app.anonymous.get(world.app.url("/rest/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let rows: BTreeSet<String> = REST.iter().map(|(r, _)| r.to_string()).collect();
    assert_eq!(listed, rows, "the REST API's operations and the matrix differ");
    for (route, expected) in REST {
        for (who, want) in expected.iter().enumerate() {
            let got = call_rest(&world, route, who).await;
            if got != *want {
                wrong.push(format!("{route} as {}: expected {want:?}, got {got:?}", CALLERS[who]));
            }
        }
    }
    assert!(wrong.is_empty(), "authorization matrix mismatches:\n{}", wrong.join("\n"));
    world.app.stop().await.unwrap();
}

/// Lists only show a caller's own teams, and the live stream sends nothing of other teams.
#[tokio::test]
async fn lists_and_streams_show_only_the_callers_teams() {
    let world = world().await;
    let bob = &world.clients[3];
    let answer: Value =
        bob.post(world.app.url("/api/instances")).form(&[("", "")]).send().await.unwrap().json().await.unwrap();
    let rows = answer["rows"].as_array().unwrap();
    assert!(rows.iter().all(|r| r.to_string().contains("team-b")), "{answer}");
    assert!(!answer.to_string().contains("team-a"), "bob sees nothing of team A: {answer}");
    let (_, page) = {
        let r = bob.get(world.app.url("/instances")).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(page.contains("metrics") && !page.contains("data-instance=\"team-a/logs\""));
    // The live stream of every instance carries only bob's team's.
    let rv = world.app.store.resource_version().await.unwrap();
    let response = bob.get(world.app.url(&format!("/live/instances?rv={rv}"))).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    for (namespace, name) in [("team-a", "secret-project"), ("team-b", "visible")] {
        let object = json!({"metadata": {"name": name, "namespace": namespace, "finalizers": []},
                            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}});
        world.app.store.create(Kind::ServiceInstance, object).await.unwrap();
    }
    let mut seen = String::new();
    while !seen.contains("visible") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), futures::StreamExt::next(&mut stream))
            .await
            .expect("team B's event arrives")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains("secret-project") && !seen.contains("team-a"), "team A leaked into bob's stream: {seen}");
    drop(stream);
    // The 403 page says which team and what to do.
    let response = bob.get(world.app.url("/instances/team-a/logs")).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let html = response.text().await.unwrap();
    assert!(html.contains("not a member of team team-a"), "{html}");
    world.app.stop().await.unwrap();
}

/// The audit log's entries of `actor` (the audit page's server function, called by the admin).
async fn audit_of(app: &TestApp, actor: &str) -> Vec<Value> {
    let filter = json!({"filter": {"actor": actor, "action": "", "team": "", "since": "", "until": ""}});
    let (status, entries) = app.call_json("audit", filter).await;
    assert_eq!(status, 200, "{entries}");
    entries.as_array().unwrap_or_else(|| panic!("{entries}")).clone()
}

/// Credentials through the Kubernetes-style API: a platform admin reads only the Secrets of their
/// own teams — not by name, not in a list or a watch of every namespace, and may not change
/// another team's — and every read (get, list, watch) is in the audit log with who, what, which
/// team and from where, like a reveal in the UI.
#[tokio::test]
async fn the_api_gives_credentials_to_members_only_and_audits_every_read() {
    let world = world().await;
    let app = &world.app;
    let secret_b = B64.encode("team-b-s3cr3t");
    app.store
        .create(
            Kind::Secret,
            json!({"metadata": {"name": "b-creds", "namespace": "team-b"}, "data": {"password": secret_b}}),
        )
        .await
        .unwrap();
    // The test's admin is a platform admin and a member of team A (not of team B).
    let admin = &app.client;
    let pat = &world.clients[4];
    let get = |client: &reqwest::Client, path: &str| {
        let request = client.get(app.url(path));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (code, text) = get(admin, "/api/v1/namespaces/team-b/secrets/b-creds").await;
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("only members of team team-b"), "{text}");
    assert!(!text.contains(&secret_b));
    let (code, text) = get(admin, "/api/v1/namespaces/team-b/secrets").await;
    assert_eq!(code, 403, "{text}");
    let (code, text) = get(admin, "/api/v1/namespaces/team-b/secrets?watch=true&timeoutSeconds=1").await;
    assert_eq!(code, 403, "{text}");
    let (code, text) = get(admin, "/api/v1/namespaces/team-a/secrets/app-creds").await;
    assert_eq!(code, 200, "{text}");
    assert!(text.contains(&B64.encode("s3cr3t")), "{text}");
    // Lists of every namespace: the admin's own team's Secrets only; none for pat (in no team).
    let (code, all) = get(admin, "/api/v1/secrets").await;
    assert_eq!(code, 200, "{all}");
    assert!(all.contains("app-creds") && !all.contains("b-creds") && !all.contains(&secret_b), "{all}");
    let (code, all) = get(pat, "/api/v1/secrets").await;
    assert_eq!(code, 200, "{all}");
    assert!(!all.contains("app-creds") && !all.contains("b-creds"), "{all}");
    let (_, table) = {
        let r = admin
            .get(app.url("/api/v1/secrets"))
            .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(table.contains("app-creds") && !table.contains("b-creds"), "{table}");
    // A watch of every namespace: initial events and later changes of team A only.
    let (code, initial) = get(
        admin,
        "/api/v1/secrets?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
         &allowWatchBookmarks=true&timeoutSeconds=1",
    )
    .await;
    assert_eq!(code, 200, "{initial}");
    assert!(initial.contains("app-creds") && !initial.contains("b-creds"), "{initial}");
    let rv = app.store.resource_version().await.unwrap();
    let watch = admin.get(app.url(&format!("/api/v1/secrets?watch=true&resourceVersion={rv}"))).send().await.unwrap();
    assert_eq!(watch.status(), 200);
    for (namespace, name) in [("team-b", "b-later"), ("team-a", "a-later")] {
        let secret = json!({"metadata": {"name": name, "namespace": namespace}, "data": {"k": B64.encode(name)}});
        app.store.create(Kind::Secret, secret).await.unwrap();
    }
    let mut stream = watch.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("a-later") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), futures::StreamExt::next(&mut stream))
            .await
            .expect("team A's event arrives")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!seen.contains("b-later"), "team B's Secret reached a platform admin's watch: {seen}");
    drop(stream);
    // Nor may a platform admin change or remove another team's Secret.
    let patched = admin
        .patch(app.url("/api/v1/namespaces/team-b/secrets/b-creds"))
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"metadata":{"labels":{"x":"y"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 403);
    let deleted = admin.delete(app.url("/api/v1/namespaces/team-b/secrets/b-creds")).send().await.unwrap();
    assert_eq!(deleted.status(), 403);
    let collection = admin.delete(app.url("/api/v1/secrets?labelSelector=")).send().await.unwrap();
    assert_eq!(collection.status(), 200);
    assert!(
        app.store.get(Kind::Secret, "team-b", "b-creds").await.unwrap().is_some(),
        "team B's Secret is still there"
    );

    // The audit log: each read of team A's credentials, by whom and from where; no refused read.
    let entries: Vec<Value> =
        audit_of(app, "admin").await.into_iter().filter(|e| e["action"] == "credentials.reveal").collect();
    let find = |verb: &str| {
        entries
            .iter()
            .find(|e| e["detail"]["verb"] == verb && e["team"] == "team-a")
            .unwrap_or_else(|| panic!("no credentials.reveal ({verb}) in {entries:?}"))
    };
    let by_name = find("get");
    assert_eq!(
        (&by_name["target"], &by_name["source"], &by_name["detail"]["via"]),
        (&json!("app-creds"), &json!("127.0.0.1"), &json!("kubernetes-api")),
        "{by_name}"
    );
    assert!(find("list")["detail"]["secrets"].as_array().unwrap().contains(&json!("app-creds")));
    assert_eq!(find("watch")["source"], "127.0.0.1");
    assert!(entries.iter().all(|e| e["team"] != "team-b"), "a refused read is not a reveal: {entries:?}");
    assert!(!serde_json::to_string(&entries).unwrap().contains(&B64.encode("s3cr3t")), "no secret in the log");
    world.app.stop().await.unwrap();
}

/// Revealing credentials in the UI, and the platform admin's broker and visibility changes (in
/// the portal and through the Kubernetes-style API) are rows of the audit log.
#[tokio::test]
async fn reveals_broker_and_visibility_changes_are_audited() {
    let world = world().await;
    let app = &world.app;
    let alice = &world.clients[1];
    let revealed = alice
        .post(app.url("/api/reveal_credentials"))
        .form(&[("namespace", "team-a"), ("binding", "app-creds")])
        .send()
        .await
        .unwrap();
    assert_eq!(revealed.status(), 200);
    let entries = audit_of(app, "alice").await;
    let reveal = entries.iter().find(|e| e["action"] == "credentials.reveal").unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(
        (&reveal["team"], &reveal["target"], &reveal["source"]),
        (&json!("team-a"), &json!("app-creds"), &json!("127.0.0.1"))
    );
    assert!(!reveal.to_string().contains(&B64.encode("s3cr3t")) && !reveal.to_string().contains("s3cr3t"));

    // Brokers in the portal.
    let (_, answer) = app.call_json("register_broker", broker_form("audited")).await;
    assert!(answer.get("Done").is_some(), "{answer}");
    let (_, answer) = app.call_form("relist_broker", &[("name", seed::BROKER)]).await;
    assert!(answer.get("Done").is_some(), "{answer}");
    seed::broker(app.store.as_ref(), "doomed", true, "ok").await;
    let (_, answer) = app.call_form("delete_broker", &[("name", "doomed")]).await;
    assert!(answer.get("Done").is_some(), "{answer}");
    // Visibility through the REST API.
    let rule = json!({"class": "unlisted", "plan": "", "team": "team-a"});
    let put = app.client.post(app.url("/rest/v1/visibility")).json(&rule).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let removed = app.client.delete(app.url("/rest/v1/visibility?class=unlisted&team=team-a")).send().await.unwrap();
    assert_eq!(removed.status(), 200);
    // A broker registered and removed through the Kubernetes-style API.
    let broker = json!({"apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ClusterServiceBroker",
                        "metadata": {"name": "by-kubectl"}, "spec": {"url": "http://127.0.0.1:9/"}});
    let brokers = app.url("/apis/servicecatalog.k8s.io/v1beta1/clusterservicebrokers");
    assert_eq!(app.client.post(&brokers).json(&broker).send().await.unwrap().status(), 201);
    assert_eq!(app.client.delete(format!("{brokers}/by-kubectl")).send().await.unwrap().status(), 200);

    let entries = audit_of(app, "admin").await;
    let row = |action: &str, target: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["target"].as_str().unwrap_or_default().contains(target))
            .unwrap_or_else(|| panic!("no {action} of {target} in the audit log: {entries:?}"))
            .clone()
    };
    assert_eq!(row("broker.register", "audited")["detail"]["url"], "http://127.0.0.1:9/");
    row("broker.relist", seed::BROKER);
    row("broker.delete", "doomed");
    assert_eq!(row("visibility.put", "unlisted")["team"], "team-a");
    assert_eq!(row("visibility.delete", "unlisted")["team"], "team-a");
    assert_eq!(row("broker.register", "by-kubectl")["detail"]["via"], "kubernetes-api");
    assert_eq!(row("broker.delete", "by-kubectl")["source"], "127.0.0.1");
    for action in ["broker.register", "broker.relist", "broker.delete", "visibility.put", "visibility.delete"] {
        assert!(entries.iter().filter(|e| e["action"] == action).all(|e| e["source"] == "127.0.0.1"), "{action}");
    }
    world.app.stop().await.unwrap();
}
