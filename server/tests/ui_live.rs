//! The live status stream over HTTP: changes of an instance and its bindings arrive as
//! Server-Sent Events with the store's resourceVersion as id; a reconnect resumes from
//! `Last-Event-ID`; Secrets and other teams' objects never travel.

mod common;

use std::time::Duration;

use app::model::Kind;
use common::{TestApp, seed, ui::quiet_app};
use futures::StreamExt;
use serde_json::{Value, json};

/// One parsed SSE event.
#[derive(Debug, Clone)]
struct Sse {
    id: Option<String>,
    event: String,
    data: String,
}

/// Reads SSE events from a response.
struct Reader {
    stream: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl Reader {
    async fn open(app: &TestApp, path: &str, last_event_id: Option<&str>) -> Reader {
        let mut request = app.client.get(app.url(path));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Reader { stream: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(), buffer: String::new() }
    }

    /// The next event (comments and keep-alives skipped), or `None` after `secs`.
    async fn next(&mut self, secs: u64) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse { id: None, event: "message".into(), data: String::new() };
                let mut any = false;
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_string());
                        any = true;
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                        any = true;
                    }
                }
                if any {
                    return Some(event);
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// Skips events until one satisfies `want`.
    async fn until(&mut self, secs: u64, want: impl Fn(&Sse) -> bool) -> Sse {
        loop {
            let event = self.next(secs).await.expect("the expected event did not arrive in time");
            if want(&event) {
                return event;
            }
        }
    }
}

async fn new_instance(app: &TestApp, namespace: &str, name: &str) {
    app.store
        .create(
            Kind::ServiceInstance,
            // No controller runs here: without the catalog's finalizer a delete removes at once.
            json!({"metadata": {"name": name, "namespace": namespace, "finalizers": []},
                   "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}}),
        )
        .await
        .unwrap();
}

async fn set_ready(app: &TestApp, namespace: &str, name: &str, status: &str, reason: &str) {
    let mut object = app.store.get(Kind::ServiceInstance, namespace, name).await.unwrap().unwrap();
    object["status"] = json!({"conditions": [{"type": "Ready", "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": reason, "message": "m"}]});
    app.store.update_status(Kind::ServiceInstance, object).await.unwrap();
}

#[tokio::test]
async fn an_instance_page_stream_carries_its_instance_and_bindings_only() {
    let app = quiet_app().await;
    seed::catalog(app.store.as_ref()).await;
    new_instance(&app, "team-a", "logs").await;
    new_instance(&app, "team-a", "other").await;
    let rv = app.store.resource_version().await.unwrap();
    let mut live = Reader::open(&app, &format!("/live/instances?namespace=team-a&instance=logs&rv={rv}"), None).await;

    set_ready(&app, "team-a", "other", "True", "ProvisionedSuccessfully").await;
    app.store
        .create(
            Kind::Secret,
            json!({"metadata": {"name": "s", "namespace": "team-a"}, "stringData": {"password": "hunter2"}}),
        )
        .await
        .unwrap();
    set_ready(&app, "team-a", "logs", "True", "ProvisionedSuccessfully").await;
    let event = live.next(10).await.expect("an event");
    assert_eq!(event.event, "instance", "{event:?}");
    let object: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(object["metadata"]["name"], "logs", "another instance's change leaked into the stream");
    assert_eq!(object["status"]["conditions"][0]["reason"], "ProvisionedSuccessfully");
    assert_eq!(event.id.as_deref(), object["metadata"]["resourceVersion"].as_str());
    assert!(!event.data.contains("hunter2"));

    app.store
        .create(
            Kind::ServiceBinding,
            json!({"metadata": {"name": "b1", "namespace": "team-a", "finalizers": []}, "spec": {"instanceRef": {"name": "logs"}}}),
        )
        .await
        .unwrap();
    let event = live.until(10, |e| e.event != "instance").await;
    assert_eq!(event.event, "binding");
    app.store.delete(Kind::ServiceBinding, "team-a", "b1", None).await.unwrap();
    let event = live.until(10, |e| e.event == "binding-deleted").await;
    assert_eq!(serde_json::from_str::<Value>(&event.data).unwrap(), json!({"namespace": "team-a", "name": "b1"}));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_reconnect_resumes_from_the_last_event_id() {
    let app = quiet_app().await;
    new_instance(&app, "team-a", "logs").await;
    let rv = app.store.resource_version().await.unwrap();
    let mut live = Reader::open(&app, &format!("/live/instances?namespace=team-a&instance=logs&rv={rv}"), None).await;
    set_ready(&app, "team-a", "logs", "False", "Provisioning").await;
    let first = live.next(10).await.unwrap();
    drop(live);
    // Changes while disconnected are not lost.
    set_ready(&app, "team-a", "logs", "True", "ProvisionedSuccessfully").await;
    let mut again =
        Reader::open(&app, &format!("/live/instances?namespace=team-a&instance=logs&rv={rv}"), first.id.as_deref())
            .await;
    let event = again.next(10).await.unwrap();
    let object: Value = serde_json::from_str(&event.data).unwrap();
    assert_eq!(
        object["status"]["conditions"][0]["reason"], "ProvisionedSuccessfully",
        "resumed after the last id, not from rv"
    );
    assert!(event.id.unwrap().parse::<u64>().unwrap() > first.id.unwrap().parse::<u64>().unwrap());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_list_stream_follows_every_instance_and_deletions() {
    let app = quiet_app().await;
    let rv = app.store.resource_version().await.unwrap();
    let mut live = Reader::open(&app, &format!("/live/instances?rv={rv}"), None).await;
    new_instance(&app, "team-a", "one").await;
    new_instance(&app, "team-b", "two").await;
    let a = live.next(10).await.unwrap();
    let b = live.next(10).await.unwrap();
    assert_eq!((a.event.as_str(), b.event.as_str()), ("instance", "instance"));
    app.store.delete(Kind::ServiceInstance, "team-b", "two", None).await.unwrap();
    let gone = live.until(10, |e| e.event == "instance-deleted").await;
    assert!(gone.data.contains("\"two\""));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_list_rows_stream_carries_rows_without_parameters() {
    let app = quiet_app().await;
    let rv = app.store.resource_version().await.unwrap();
    let mut live = Reader::open(&app, &format!("/live/instances?rows=true&rv={rv}"), None).await;
    app.store
        .create(
            Kind::ServiceInstance,
            json!({"metadata": {"name": "one", "namespace": "team-a", "finalizers": []},
                   "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                            "parameters": {"storageSpaceQuota": 4096}}}),
        )
        .await
        .unwrap();
    set_ready(&app, "team-a", "one", "True", "ProvisionedSuccessfully").await;
    let created = live.next(10).await.unwrap();
    assert_eq!(created.event, "instance-row");
    let row: Value = serde_json::from_str(&created.data).unwrap();
    assert_eq!((row["namespace"].as_str(), row["name"].as_str()), (Some("team-a"), Some("one")));
    assert_eq!(row["plan_external_name"], "shared");
    assert_eq!(row["resource_version"].as_u64().map(|v| v.to_string()), created.id);
    assert!(!created.data.contains("4096"), "a row carries no parameters: {}", created.data);
    let ready = live.next(10).await.unwrap();
    assert_eq!(ready.event, "instance-row");
    let row: app::api::instances::InstanceRow = serde_json::from_str(&ready.data).unwrap();
    assert_eq!(row.status.phase, app::model::Phase::Ready);
    app.store.delete(Kind::ServiceInstance, "team-a", "one", None).await.unwrap();
    let gone = live.until(10, |e| e.event == "instance-deleted").await;
    assert!(gone.data.contains("\"one\""));
    // Rows are for the list, not for one instance's stream.
    let response =
        app.client.get(app.url("/live/instances?namespace=team-a&instance=one&rows=true")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bad_stream_requests_are_refused_and_open_streams_end_at_shutdown() {
    let app = quiet_app().await;
    let response = app.client.get(app.url("/live/instances?namespace=Bad_NS")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let response = app.client.get(app.url("/live/instances?instance=x")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    // An open stream must not keep the server from stopping.
    let _open = Reader::open(&app, "/live/instances", None).await;
    tokio::time::timeout(Duration::from_secs(10), app.stop()).await.expect("shutdown waited for the stream").unwrap();
}
