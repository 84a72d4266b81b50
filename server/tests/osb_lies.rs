//! The client against small ad-hoc brokers that tell lies the built-in broker can't: odd status
//! codes, oversized or broken bodies, dates in Retry-After, dropped connections; and what the
//! client sends (headers, query, bearer auth).

mod osb_support;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
    routing::{any, get},
};
use osb_support::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use server::osb::{
    Auth, Call, ClientConfig, ClientError, LastOperationQuery, OriginatingIdentity, OsbClient, Outcome, Severity,
};

fn answer(status: u16, body: &'static str) -> Router {
    let status = StatusCode::from_u16(status).expect("status");
    Router::new().fallback(any(move || async move { (status, body).into_response() }))
}

#[tokio::test]
async fn odd_answers_to_provision_and_bind_follow_the_orphan_table() {
    // (status, body, outcome kind, orphan mitigation after provision/bind)
    let cases = [
        (200, "{}", "done", false),
        (200, "[1,2]", "malformed", false),
        (201, "{\"dashboard_url\": 7, \"credentials\": 7}", "malformed", true),
        (202, "not json", "malformed", true),
        (203, "{}", "unexpected_status", true),
        (204, "", "unexpected_status", true),
        (301, "", "unexpected_status", false),
        (408, "{}", "bad_request", false),
        (401, "", "bad_request", false),
        (422, "{\"error\": \"SomethingNew\", \"description\": \"x\"}", "bad_request", false),
        (500, "oops", "server_error", true),
        (503, "{\"description\": \"<script>alert(1)</script>\"}", "server_error", true),
    ];
    for (status, body, kind, orphan) in cases {
        let url = serve(answer(status, body)).await;
        let client = client(&url);
        let provision = client.provision("i", &hdfs_provision(json!({})), None).await;
        assert_eq!(provision.outcome.kind(), kind, "provision {status} {body}: {:?}", provision.outcome);
        assert_eq!(provision.requires_orphan_mitigation(), orphan, "provision {status} {body}");
        let bind = client.bind("i", "b", &hdfs_bind(json!({})), None).await;
        assert_eq!(bind.outcome.kind(), kind, "bind {status} {body}");
        assert_eq!(bind.requires_orphan_mitigation(), orphan, "bind {status} {body}");
        let deprovision = client.deprovision("i", "s", "p", None).await;
        assert!(!deprovision.requires_orphan_mitigation(), "never after a deprovision");
        if status == 503 {
            // Broker text is passed on verbatim; escaping is the UI's job.
            assert_eq!(provision.outcome.description(), Some("<script>alert(1)</script>"));
        }
    }
}

#[tokio::test]
async fn timeouts_and_dropped_connections() {
    let slow = Router::new().fallback(any(|| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "{}"
    }));
    let url = serve(slow).await;
    let reply = client(&url).bind("i", "b", &hdfs_bind(json!({})), None).await;
    assert_eq!(reply.outcome, Outcome::Timeout);
    assert!(reply.requires_orphan_mitigation());

    // A server that reads the request and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            drop(socket);
        }
    });
    let reply = client(&format!("http://{addr}")).provision("i", &hdfs_provision(json!({})), None).await;
    assert_eq!(reply.outcome.kind(), "connection_lost", "{:?}", reply.outcome);
    assert!(reply.requires_orphan_mitigation());

    // Nobody listening: the request never left, so nothing to clean up.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_addr = closed.local_addr().expect("addr");
    drop(closed);
    let reply = client(&format!("http://{closed_addr}")).provision("i", &hdfs_provision(json!({})), None).await;
    assert_eq!(reply.outcome.kind(), "unreachable", "{:?}", reply.outcome);
    assert!(!reply.requires_orphan_mitigation());
}

#[tokio::test]
async fn bodies_above_the_limit_are_refused() {
    let big = "x".repeat(200_000);
    let body = format!("{{\"services\": [], \"padding\": \"{big}\"}}");
    let router = Router::new().fallback(any(move || {
        let body = body.clone();
        async move { body }
    }));
    let url = serve(router).await;
    let limited = OsbClient::new(ClientConfig { max_body_bytes: 100_000, ..client_config(&url) }).expect("client");
    let Outcome::Malformed { status: 200, reason } = limited.catalog().await.outcome else {
        panic!("read past the limit")
    };
    assert!(reason.contains("100000"), "{reason}");
    let roomy = OsbClient::new(ClientConfig { max_body_bytes: 300_000, ..client_config(&url) }).expect("client");
    assert!(matches!(roomy.catalog().await.outcome, Outcome::Done { .. }));

    // Without a Content-Length (chunked), the limit holds while reading.
    let chunked = Router::new().fallback(any(|| async {
        let chunks = (0..50).map(|_| Ok::<_, std::io::Error>(vec![b' '; 10_000]));
        Body::from_stream(futures::stream::iter(chunks))
    }));
    let url = serve(chunked).await;
    let limited = OsbClient::new(ClientConfig { max_body_bytes: 100_000, ..client_config(&url) }).expect("client");
    assert!(matches!(limited.catalog().await.outcome, Outcome::Malformed { .. }));
}

#[tokio::test]
async fn retry_after_dates_are_turned_into_delays() {
    let router = Router::new().fallback(any(|| async {
        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&at).expect("date");
        ([("retry-after", date)], "{\"state\": \"in progress\"}").into_response()
    }));
    let url = serve(router).await;
    let reply = client(&url).last_operation("i", &LastOperationQuery::default(), None).await;
    assert!(matches!(reply.outcome, Outcome::InProgress { .. }));
    let delay = reply.retry_after.expect("Retry-After parsed");
    assert!((Duration::from_secs(28)..=Duration::from_secs(30)).contains(&delay), "{delay:?}");
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String, HeaderMap)>>>);

#[tokio::test]
async fn the_client_sends_osb_headers_query_and_bearer_auth() {
    let seen = Seen::default();
    let record = seen.clone();
    let router = Router::new().fallback(any(move |method: axum::http::Method, uri: Uri, headers: HeaderMap| {
        let record = record.clone();
        async move {
            let path_and_query = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
            record.0.lock().expect("lock").push((method.to_string(), path_and_query, headers.clone()));
            let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer t0ken");
            if !authorized {
                return (StatusCode::UNAUTHORIZED, "{}").into_response();
            }
            if uri.path().ends_with("last_operation") {
                return (StatusCode::OK, "{\"state\": \"succeeded\"}").into_response();
            }
            (StatusCode::OK, "{}").into_response()
        }
    }));
    let url = serve(router).await;
    let client = OsbClient::new(ClientConfig {
        auth: Some(Auth::Bearer { token: SecretString::from("t0ken") }),
        ..client_config(&format!("{url}/some/prefix/"))
    })
    .expect("client");
    let me = OriginatingIdentity::new("bob", "uid-bob", &["ops"]);
    let provision = client.provision("inst/1", &hdfs_provision(json!({})), Some(&me)).await;
    assert!(matches!(provision.outcome, Outcome::Done { status: 200, .. }), "{:?}", provision.outcome);
    let query = LastOperationQuery {
        service_id: Some("svc".into()),
        plan_id: Some("pln".into()),
        operation: Some("op 1&2".into()),
    };
    assert!(matches!(client.last_operation("inst/1", &query, None).await.outcome, Outcome::Succeeded { .. }));
    client.unbind("inst/1", "b1", "svc", "pln", None).await;

    let seen = seen.0.lock().expect("lock").clone();
    let (method, path, headers) = &seen[0];
    assert_eq!(method, "PUT");
    assert_eq!(path, "/some/prefix/v2/service_instances/inst%2F1?accepts_incomplete=true");
    assert_eq!(headers["x-broker-api-version"], "2.17");
    assert_eq!(headers["x-broker-api-request-identity"].to_str().ok(), Some(provision.request_identity.as_str()));
    let identity = headers["x-broker-api-originating-identity"].to_str().expect("ascii");
    let (platform, decoded) = OriginatingIdentity::parse_header(identity).expect("identity");
    assert_eq!((platform.as_str(), decoded), ("kubernetes", me));
    assert_eq!(headers["content-type"], "application/json");
    let (_, path, _) = &seen[1];
    assert_eq!(
        path,
        "/some/prefix/v2/service_instances/inst%2F1/last_operation?service_id=svc&plan_id=pln&operation=op+1%262"
    );
    let (method, path, _) = &seen[2];
    assert_eq!(method, "DELETE");
    assert_eq!(
        path,
        "/some/prefix/v2/service_instances/inst%2F1/service_bindings/b1?accepts_incomplete=true&service_id=svc&plan_id=pln"
    );
    // Every request carries a fresh request identity.
    let ids: std::collections::HashSet<_> =
        seen.iter().map(|(_, _, h)| h["x-broker-api-request-identity"].clone()).collect();
    assert_eq!(ids.len(), seen.len());
}

#[tokio::test]
async fn client_configuration_errors_are_plain() {
    assert!(matches!(OsbClient::new(ClientConfig::new("ftp://127.0.0.1/")), Err(ClientError::InvalidUrl(_))));
    assert!(matches!(OsbClient::new(ClientConfig::new("not a url")), Err(ClientError::InvalidUrl(_))));
    let bad_ca = ClientConfig {
        ca_bundle_pem: Some(b"no certificates here".to_vec()),
        ..ClientConfig::new("https://127.0.0.1:1")
    };
    assert!(matches!(OsbClient::new(bad_ca), Err(ClientError::InvalidCaBundle(_))));
    let insecure = ClientConfig { insecure_skip_tls_verify: true, ..ClientConfig::new("https://127.0.0.1:1") };
    assert!(OsbClient::new(insecure).is_ok());
}

#[tokio::test]
async fn a_broken_catalog_keeps_its_good_parts() {
    let big_schema = json!({"type": "object", "description": "y".repeat(70_000)});
    let good_plan = |id: &str, name: &str| json!({"id": id, "name": name, "description": "ok"});
    let catalog = json!({
        "services": [
            {"id": "s1", "name": "good", "description": "d", "bindable": true, "x-vendor": {"keep": true},
             "metadata": {"displayName": 5, "imageUrl": "data:image/png;base64,AA=="},
             "plans": [
                good_plan("p1", "small"),
                {"id": "p2", "name": "wrong-types", "description": "d", "free": "yes"},
                {"id": "p3", "name": "huge", "description": "d",
                 "schemas": {"service_instance": {"create": {"parameters": big_schema}}}},
                {"id": "p4", "name": "remote", "description": "d",
                 "schemas": {"service_binding": {"create": {"parameters":
                    {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:1/evil.json"}}}}}}},
                {"id": "p5", "name": "meta", "description": "d",
                 "schemas": {"service_instance": {"update": {"parameters":
                    {"type": "object", "properties": {"db": {"type": "Database"}}}}}}},
                good_plan("p1", "duplicate-id"),
                good_plan("p6", "small"),
             ]},
            {"id": "s2", "name": "bad-service", "description": 5, "bindable": true, "plans": []},
            {"id": "s1", "name": "same-id", "description": "d", "bindable": false, "plans": [good_plan("p9", "x")]},
            "not an object",
        ]
    });
    let router = Router::new().route("/v2/catalog", get(move || async move { axum::Json(catalog) }));
    let url = serve(router).await;
    let reply = client(&url).catalog().await;
    assert_eq!(reply.call, Call::Catalog);
    let Outcome::Done { body: parsed, .. } = reply.outcome else { panic!("{:?}", reply.outcome) };
    let services = &parsed.catalog.services;
    assert_eq!(services.len(), 1, "only the good service survives");
    let plans: Vec<_> = services[0].plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(plans, ["small", "huge", "remote", "meta"]);
    assert_eq!(services[0].extra.get("x-vendor"), Some(&json!({"keep": true})), "unknown fields are kept");
    let huge = &services[0].plans[1];
    assert!(huge.schema(server::osb::SchemaSlot::InstanceCreate).is_none(), "a refused schema is dropped");

    let about =
        |plan_id: &str| -> Vec<String> { parsed.problems_for_plan(plan_id).map(|p| p.message.clone()).collect() };
    let one = |plan_id: &str| {
        let messages = about(plan_id);
        assert_eq!(messages.len(), 1, "{plan_id}: {messages:?}");
        messages[0].clone()
    };
    let wrong = one("p2");
    assert!(wrong.contains("\"wrong-types\"") && wrong.contains("skipped"), "{wrong}");
    let huge = one("p3");
    assert!(huge.contains("instance create schema") && huge.contains("65536"), "{huge}");
    let remote = one("p4");
    assert!(remote.contains("binding create schema") && remote.contains("http://127.0.0.1:1/evil.json"), "{remote}");
    let meta = parsed.problems_for_plan("p5").next().expect("meta problem");
    assert_eq!(meta.severity, Severity::Warning);
    assert!(meta.message.contains("instance update schema") && meta.message.contains("/properties/db/type"));
    let duplicates: Vec<_> =
        parsed.problems.iter().filter(|p| p.message.contains("already")).map(|p| &p.message).collect();
    assert_eq!(duplicates.len(), 3, "{duplicates:#?}");
    assert!(parsed.problems.iter().any(|p| p.service_index == Some(1) && p.message.contains("bad-service")));
    assert!(parsed.problems.iter().any(|p| p.service_index == Some(3) && p.message.contains("not an object")));
    assert!(parsed.problems.iter().any(|p| p.severity == Severity::Warning && p.message.contains("metadata ignored")));
    let all: Vec<Value> = parsed.problems.iter().map(|p| json!(p.message)).collect();
    assert!(all.iter().all(|m| m.as_str().is_some_and(|m| !m.is_empty())));
}
