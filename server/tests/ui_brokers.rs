//! Admin › Brokers through its server functions: register with credentials kept in a Secret,
//! test a connection (the built-in broker, and a port nobody listens on), relist, remove.

mod common;

use app::model::Kind;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use common::{TestApp, seed};
use serde_json::{Value, json};

/// The built-in broker on, no controller: nothing changes behind the test's back.
async fn app() -> TestApp {
    TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| c.controller = None).await
}

fn form(name: &str, url: &str, auth: Value) -> Value {
    json!({"form": {"name": name, "url": url, "auth": auth, "ca_bundle": "", "insecure_skip_tls_verify": false,
                    "relist_behavior": "Duration", "relist_duration": "10m"}})
}

#[tokio::test]
async fn a_connection_test_fetches_the_catalog_or_says_why_not() {
    let app = app().await;
    let builtin = server::broker::builtin_broker_url_for(app.addr);
    // The built-in broker demands its credentials: without them the test says so.
    let (status, test) = app.call_json("test_broker", form("t", &builtin, json!("None"))).await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["ok"], false, "{test}");
    let auth = json!({"Basic": {"username": server::broker::BUILTIN_USERNAME, "password": app.broker_password}});
    let (status, test) = app.call_json("test_broker", form("t", &builtin, auth)).await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["ok"], true, "{test}");
    assert!(test["services"].as_u64().unwrap() >= 9);
    assert!(test["plans"].as_u64().unwrap() >= test["services"].as_u64().unwrap());

    // Port 9 (discard) is not an OSB broker.
    let (_, test) = app.call_json("test_broker", form("t", "http://127.0.0.1:9", json!("None"))).await;
    assert_eq!(test["ok"], false);
    assert!(test["summary"].as_str().unwrap().contains("could not be reached"), "{test}");
    let (_, test) = app.call_json("test_broker", form("t", "ftp://example.com", json!("None"))).await;
    assert_eq!(test["ok"], false);
    assert!(test["summary"].as_str().unwrap().contains("http"), "{test}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn registering_keeps_credentials_in_a_secret_and_relist_bumps_the_counter() {
    let app = app().await;
    let (_, answer) = app.call_json("register_broker", form("Bad Name", "http://x", json!("None"))).await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "name", "{answer}");
    let (_, answer) = app
        .call_json(
            "register_broker",
            form("hadoop", "https://broker.example/osb", json!({"Basic": {"username": "qm", "password": "pa55"}})),
        )
        .await;
    assert_eq!(answer, json!({"Done": "hadoop"}));
    let broker = app.store.get(Kind::ClusterServiceBroker, "", "hadoop").await.unwrap().unwrap();
    assert_eq!(broker["spec"]["url"], "https://broker.example/osb");
    assert_eq!(broker["spec"]["relistDuration"], "10m");
    let secret_ref = &broker["spec"]["authInfo"]["basic"]["secretRef"];
    let secret = app
        .store
        .get(Kind::Secret, secret_ref["namespace"].as_str().unwrap(), secret_ref["name"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the auth Secret exists");
    assert_eq!(secret["data"]["password"], B64.encode("pa55"));
    assert!(!broker.to_string().contains("pa55"), "the password is not in the broker object");
    let (_, answer) = app.call_json("register_broker", form("hadoop", "https://other", json!("None"))).await;
    assert_eq!(answer["Rejected"]["inputs"][0][0], "name", "a second broker of the same name: {answer}");

    let (_, answer) = app.call_form("relist_broker", &[("name", "hadoop")]).await;
    assert_eq!(answer, json!({"Done": null}));
    let broker = app.store.get(Kind::ClusterServiceBroker, "", "hadoop").await.unwrap().unwrap();
    assert_eq!(broker["spec"]["relistRequests"], 1);

    let (_, rows) = app.call_form("brokers", &[]).await;
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == "hadoop").unwrap().clone();
    assert!(row["auth"].as_str().unwrap().starts_with("basic (Secret quartermaster-system/"), "{row}");

    let (_, answer) = app.call_form("delete_broker", &[("name", "hadoop")]).await;
    assert_eq!(answer, json!({"Done": null}));
    assert!(app.store.get(Kind::ClusterServiceBroker, "", "hadoop").await.unwrap().is_none());
    assert!(app.store.get(Kind::Secret, "quartermaster-system", "hadoop-broker-auth").await.unwrap().is_none());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_brokers_page_shows_status_and_catalog_problems() {
    let app = app().await;
    seed::catalog(app.store.as_ref()).await;
    seed::broker(app.store.as_ref(), "flaky", false, "Error fetching catalog: 503 <oops>").await;
    let (status, html) = app.page("/admin/brokers").await;
    assert_eq!(status, 200);
    for expected in ["demo", "flaky", "503 &lt;oops&gt;", "schema refused: external $ref", "Relist now"] {
        assert!(html.contains(expected), "brokers page lacks {expected:?}");
    }
    app.stop().await.unwrap();
}
