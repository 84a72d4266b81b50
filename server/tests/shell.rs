//! The portal as a browser sees it over HTTP: health, the page shell, a server function.

mod common;

use common::TestApp;
use serde_json::Value;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let live = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "SQLite");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_database_is_created_and_migrated_in_the_data_dir() {
    let app = TestApp::spawn().await;
    let db = app.data_dir.path().join("quartermaster.db");
    assert!(db.is_file(), "{} missing", db.display());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(&pool)
        .await
        .unwrap();
    for table in ["resources", "resource_log", "portal_meta", "_sqlx_migrations"] {
        assert!(tables.iter().any(|t| t == table), "table {table} missing from {tables:?}");
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_catalog_page_is_rendered_on_the_server_with_navigation() {
    // Without the built-in broker the catalog stays empty (with it, it fills as soon as the
    // controller has read the broker's catalog).
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| c.builtin_broker = false).await;
    let response = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = response.text().await.unwrap();
    for expected in [
        "Quartermaster",
        "Catalog",
        "Instances",
        "Approvals",
        "Admin",
        "No services yet",
        "Check connection",
        "/pkg/quartermaster.css",
    ] {
        assert!(html.contains(expected), "page lacks {expected:?}:\n{html}");
    }
    // The hydration script is included, so the browser can take over.
    assert!(html.contains("/pkg/quartermaster.js"), "no hydration script:\n{html}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_navigation_target_renders_and_unknown_paths_are_404() {
    let app = TestApp::spawn().await;
    for (path, heading) in [
        ("/catalog", "Catalog"),
        ("/instances", "No instances yet"),
        ("/approvals", "Nothing waiting"),
        ("/admin", "Admin"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.text().await.unwrap().contains(heading), "{path} lacks {heading}");
    }
    let missing = app.client.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Page not found"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_status_server_function_reports_the_real_database() {
    // Without the built-in broker, so the counts start at zero.
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.builtin_broker = false;
        c.controller = None;
    })
    .await;
    let response = app
        .client
        .post(app.url("/api/check_portal"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["database"], "SQLite");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["brokers"], 0);
    assert_eq!(status["services"], 0);

    // A broker written to the store shows up in the next answer: the count is read, not assumed.
    let db = app.data_dir.path().join("quartermaster.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("INSERT INTO resources (kind, namespace, name, uid, rv, body) VALUES ('ClusterServiceBroker', '', 'demo', 'u1', 1, '{}')")
        .execute(&pool)
        .await
        .unwrap();
    let status: Value =
        app.client.post(app.url("/api/check_portal")).body("").send().await.unwrap().json().await.unwrap();
    assert_eq!(status["brokers"], 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn graceful_shutdown_finishes() {
    let app = TestApp::spawn().await;
    let addr = app.addr;
    app.stop().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}
