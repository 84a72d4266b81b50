//! Oversized, malformed and mistyped request bodies on every route that takes one: the server
//! functions (from the running binary's registry), sign-in and password forms, the
//! Kubernetes-style API (from its own discovery documents), manifest apply, kubeconfig, and the
//! built-in broker's OSB routes. Each must answer a 4xx that says what is wrong — 413 over the
//! limit, 400/422 for a body that does not parse, 415 (or 400/422) for a type the route does not
//! read — never a 5xx, a hang or a crash, and the portal stays healthy after every one.

mod common;

use std::time::Duration;

use common::{TestApp, seed};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use server::http::bodies::MAX_BODY_BYTES;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a route does with a body.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Reads {
    /// Parses it (form, JSON or YAML): malformed and mistyped bodies are refused.
    Parsed,
    /// Takes no arguments (a server function without parameters, logout, kubeconfig): only the
    /// size limit applies, anything under it is ignored.
    Ignored,
}

/// Who calls the route.
#[derive(Clone, Copy, Debug)]
enum Caller {
    Admin,
    Anonymous,
    /// The built-in broker's own basic auth.
    Broker,
}

struct Route {
    method: Method,
    path: String,
    reads: Reads,
    caller: Caller,
    /// The media type the route reads, for the oversized body.
    media: &'static str,
    /// A server function (from the registry).
    server_fn: bool,
}

/// Server functions that take no arguments: a body (any body) is not read.
const NO_ARGUMENTS: &[&str] = &[
    "shell_info",
    "check_portal",
    "namespaces",
    "instances",
    "brokers",
    "people",
    "tokens",
    "approvals",
    "governance",
];

/// Server functions whose arguments are JSON (`input = Json`); the rest take a URL-encoded form.
fn takes_json(name: &str) -> bool {
    // Learned from the wire: a JSON server function refuses an empty form with a
    // deserialization error, a form one with a missing field. Both are 400 now, so the test
    // sends each kind its own malformed body and the other kind's as the mistyped one.
    matches!(
        name,
        "catalog"
            | "request_instance"
            | "update_instance"
            | "create_binding"
            | "register_broker"
            | "test_broker"
            | "decide"
            | "change_governance"
            | "audit"
    )
}

async fn routes(app: &TestApp) -> Vec<Route> {
    let mut routes = Vec::new();
    // Every registered server function.
    let mut fns: Vec<String> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p.to_string()).collect();
    fns.sort();
    for path in fns {
        let name = path.trim_start_matches("/api/").to_string();
        let reads = if NO_ARGUMENTS.contains(&name.as_str()) { Reads::Ignored } else { Reads::Parsed };
        let media = if takes_json(&name) { "application/json" } else { "application/x-www-form-urlencoded" };
        routes.push(Route { method: Method::POST, path, reads, caller: Caller::Admin, media, server_fn: true });
    }
    for name in NO_ARGUMENTS {
        assert!(routes.iter().any(|r| r.path == format!("/api/{name}")), "{name} is no server function any more");
    }
    // Sign-in, sign-out, password (plain HTML forms).
    let form = "application/x-www-form-urlencoded";
    routes.push(Route {
        method: Method::POST,
        path: "/auth/login".into(),
        reads: Reads::Parsed,
        caller: Caller::Anonymous,
        media: form,
        server_fn: false,
    });
    routes.push(Route {
        method: Method::POST,
        path: "/auth/password".into(),
        reads: Reads::Parsed,
        caller: Caller::Admin,
        media: form,
        server_fn: false,
    });
    routes.push(Route {
        method: Method::POST,
        path: "/auth/logout".into(),
        reads: Reads::Ignored,
        caller: Caller::Admin,
        media: form,
        server_fn: false,
    });
    // The Kubernetes-style API: every resource its discovery lists, with the verbs it lists.
    for (discovery, prefix) in
        [("/apis/servicecatalog.k8s.io/v1beta1", "/apis/servicecatalog.k8s.io/v1beta1"), ("/api/v1", "/api/v1")]
    {
        let list: Value = app.client.get(app.url(discovery)).send().await.unwrap().json().await.unwrap();
        for resource in list["resources"].as_array().unwrap() {
            let name = resource["name"].as_str().unwrap();
            let verbs: Vec<&str> = resource["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            let namespaced = resource["namespaced"].as_bool().unwrap();
            let base = if namespaced { format!("{prefix}/namespaces/team-a") } else { prefix.to_string() };
            let (plural, sub) =
                name.split_once('/').map(|(p, s)| (p, format!("/{s}"))).unwrap_or((name, String::new()));
            let json = "application/json";
            if verbs.contains(&"create") && sub.is_empty() {
                routes.push(Route {
                    method: Method::POST,
                    path: format!("{base}/{plural}"),
                    reads: Reads::Parsed,
                    caller: Caller::Admin,
                    media: json,
                    server_fn: false,
                });
            }
            for (verb, method) in [("update", Method::PUT), ("patch", Method::PATCH)] {
                if verbs.contains(&verb) {
                    routes.push(Route {
                        method,
                        path: format!("{base}/{plural}/probe{sub}"),
                        reads: Reads::Parsed,
                        caller: Caller::Admin,
                        media: if verb == "patch" { "application/merge-patch+json" } else { json },
                        server_fn: false,
                    });
                }
            }
        }
    }
    routes.push(Route {
        method: Method::POST,
        path: "/manifests/apply".into(),
        reads: Reads::Parsed,
        caller: Caller::Admin,
        media: "application/yaml",
        server_fn: false,
    });
    routes.push(Route {
        method: Method::POST,
        path: "/kubeconfig?namespace=team-a".into(),
        reads: Reads::Ignored,
        caller: Caller::Admin,
        media: "application/json",
        server_fn: false,
    });
    // The built-in broker's OSB routes that take a body, and its fault switch.
    for (method, path) in [
        (Method::PUT, "/broker/v2/service_instances/probe"),
        (Method::PATCH, "/broker/v2/service_instances/probe"),
        (Method::PUT, "/broker/v2/service_instances/probe/service_bindings/probe-b"),
        (Method::PUT, "/broker/admin/fault"),
    ] {
        routes.push(Route {
            method,
            path: path.into(),
            reads: Reads::Parsed,
            caller: Caller::Broker,
            media: "application/json",
            server_fn: false,
        });
    }
    routes
}

fn request(app: &TestApp, route: &Route, media: &str, body: Vec<u8>) -> reqwest::RequestBuilder {
    let client = match route.caller {
        Caller::Admin => &app.client,
        Caller::Anonymous | Caller::Broker => &app.anonymous,
    };
    let request = client.request(route.method.clone(), app.url(&route.path));
    let request = match route.caller {
        Caller::Broker => request.basic_auth(server::broker::BUILTIN_USERNAME, Some(&app.broker_password)),
        _ => request,
    };
    request
        .header("content-type", media)
        .header("origin", app.url(""))
        .header("x-broker-api-version", "2.17")
        .timeout(Duration::from_secs(30))
        .body(body)
}

async fn healthy(app: &TestApp, after: &str) {
    let response = app.anonymous.get(app.url("/healthz")).timeout(Duration::from_secs(10)).send().await;
    let status = response.map(|r| r.status()).unwrap_or_else(|e| panic!("after {after}: /healthz failed: {e}"));
    assert_eq!(status, StatusCode::OK, "after {after}: /healthz");
}

/// Sends `body` with a declared length (what every HTTP client does); the server may answer
/// before reading it all, in which case the send can fail on a closed connection: then the
/// answer is read again by a raw request that waits for it.
async fn send(app: &TestApp, route: &Route, media: &str, body: Vec<u8>) -> (u16, String) {
    match request(app, route, media, body.clone()).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) if e.is_timeout() => panic!("{} {}: no answer within 30 s", route.method, route.path),
        Err(_) => raw(app, route, media, &body, false).await,
    }
}

/// A request written by hand on a TCP connection: `chunked` sends the body without a length
/// (so only the streaming limit can stop it). Reads the status line and the body.
async fn raw(app: &TestApp, route: &Route, media: &str, body: &[u8], chunked: bool) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let auth = match route.caller {
        Caller::Admin => format!("Authorization: Bearer {}\r\n", app.admin_token),
        Caller::Anonymous => String::new(),
        Caller::Broker => {
            use base64::Engine as _;
            let pair = format!("{}:{}", server::broker::BUILTIN_USERNAME, app.broker_password);
            format!("Authorization: Basic {}\r\n", base64::engine::general_purpose::STANDARD.encode(pair))
        }
    };
    let length = if chunked {
        "Transfer-Encoding: chunked\r\n".to_string()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {media}\r\nX-Broker-API-Version: 2.17\r\n{auth}{length}Connection: close\r\n\r\n",
        route.method, route.path, app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Written in pieces; the server may close the connection once it has refused.
    let (mut reader, mut writer) = stream.into_split();
    let body = body.to_vec();
    let writing = tokio::spawn(async move {
        for piece in body.chunks(64 * 1024) {
            let ok = if chunked {
                let framed = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
                writer.write_all(&framed).await
            } else {
                writer.write_all(piece).await
            };
            if ok.is_err() {
                return;
            }
        }
        if chunked {
            let _ = writer.write_all(b"0\r\n\r\n").await;
        }
        let _ = writer.flush().await;
        // Keep the write half open until the answer is read.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if let Some(end) = find(&answer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|n| answer.len() >= end + 4 + n) {
                    break;
                }
            }
        }
    })
    .await;
    writing.abort();
    assert!(read.is_ok(), "{} {}: no answer within 30 s", route.method, route.path);
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        panic!("{} {}: no HTTP answer: {text:?}", route.method, route.path);
    });
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The malformed body of a media type, and a body of another type the route does not read.
fn malformed(media: &str) -> &'static str {
    match media {
        "application/x-www-form-urlencoded" => "username=%ZZ&&=&%",
        "application/yaml" => "apiVersion: [unclosed\n  kind: {",
        _ => "{\"request\": {\"namespace\": \"team-a\", \"name\": ",
    }
}

#[tokio::test]
async fn every_route_refuses_bad_bodies_clearly_and_stays_up() {
    // No controller (nothing changes behind the test's back), the built-in broker on.
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.controller = None;
        c.builtin_broker = true;
    })
    .await;
    seed::catalog(app.store.as_ref()).await;
    let routes = routes(&app).await;
    // The floor: 34 server functions, 3 sign-in routes, the Kubernetes-style API's writable
    // resources, manifest apply, kubeconfig, 4 broker routes. A shrinking list fails here.
    assert!(routes.len() >= 60, "only {} routes enumerated", routes.len());
    let oversized = vec![b' '; MAX_BODY_BYTES + 1];
    let mut wrong = Vec::new();
    let mut checked = 0;
    for route in &routes {
        let what = format!("{} {}", route.method, route.path);
        // 1. Over the limit, with its length declared.
        let (status, body) = send(&app, route, route.media, oversized.clone()).await;
        if status != 413 || !body.contains("limit") {
            wrong.push(format!("{what} oversized: expected 413 naming the limit, got {status}: {body:.300}"));
        }
        healthy(&app, &format!("{what} oversized")).await;
        // 2. Over the limit, streamed without a length.
        let (status, body) = raw(&app, route, route.media, &oversized, true).await;
        if status != 413 || !body.contains("limit") {
            wrong.push(format!("{what} oversized (chunked): expected 413 naming the limit, got {status}: {body:.300}"));
        }
        healthy(&app, &format!("{what} oversized, chunked")).await;
        // 3. Malformed, in the route's own media type.
        let (status, body) = send(&app, route, route.media, malformed(route.media).into()).await;
        let refused = matches!(status, 400 | 422);
        match route.reads {
            Reads::Parsed if !refused || body.trim().is_empty() => {
                wrong.push(format!("{what} malformed: expected 400/422 naming the problem, got {status}: {body:.300}"))
            }
            Reads::Ignored if status >= 500 => wrong.push(format!("{what} malformed: got {status}: {body:.300}")),
            _ => {}
        }
        healthy(&app, &format!("{what} malformed")).await;
        // 4. A media type the route does not read.
        let (status, body) = send(&app, route, "application/xml", b"<probe><a>1</a></probe>".to_vec()).await;
        let refused = matches!(status, 400 | 415 | 422);
        if (route.reads == Reads::Parsed || route.server_fn) && (!refused || body.trim().is_empty()) {
            wrong.push(format!(
                "{what} as application/xml: expected 415 (or 400/422) saying why, got {status}: {body:.300}"
            ));
        } else if status >= 500 {
            wrong.push(format!("{what} as application/xml: got {status}: {body:.300}"));
        }
        // 5. The other readable type with the wrong content: JSON to a form route and back.
        if route.reads == Reads::Parsed && route.server_fn {
            let other = if route.media == "application/json" {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            let (status, body) = send(&app, route, other, malformed(other).into()).await;
            if status != 400 || !body.contains("not valid input for") {
                wrong.push(format!("{what} as {other}: expected 400 naming the function, got {status}: {body:.300}"));
            }
        }
        healthy(&app, &format!("{what} mistyped")).await;
        checked += 1;
    }
    assert_eq!(checked, routes.len());
    // Still serving real work after all of it.
    let answer: Value = app
        .client
        .post(app.url("/api/catalog"))
        .json(&serde_json::json!({"query": {"q": "", "tag": "", "broker": "", "all": true}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.to_string().contains("hdfs"), "{answer}");
    eprintln!("{checked} routes checked with oversized, streamed, malformed and mistyped bodies");
    assert!(wrong.is_empty(), "{} problems:\n{}", wrong.len(), wrong.join("\n"));
    app.stop().await.unwrap();
}
