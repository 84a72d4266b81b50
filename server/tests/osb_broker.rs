//! The OSB client against the built-in broker over real HTTP on loopback: every call, sync and
//! async, OSB's status-code semantics, headers, auth and versions.

mod common;
mod osb_support;

use std::time::Duration;

use osb_support::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use server::{
    broker::{BasicCredentials, BrokerConfig},
    osb::{
        Auth, LastOperationQuery, OsbClient, Outcome, SchemaSlot,
        catalog::MaintenanceInfo,
        wire::{UpdateRequest, UpdateResponse},
    },
};

#[tokio::test]
async fn the_catalog_is_complete_and_clean() {
    let url = spawn_broker(BrokerConfig::default()).await;
    let reply = client(&url).catalog().await;
    let Outcome::Done { status: 200, body: parsed } = reply.outcome else { panic!("{:?}", reply.outcome) };
    assert!(parsed.problems.is_empty(), "{:#?}", parsed.problems);
    let names: Vec<_> = parsed.catalog.services.iter().map(|s| s.name.as_str()).collect();
    for expected in ["hdfs", "hive", "kafka", "mapreduce", "spark", "hbase", "redis", "rabbitmq", "storm"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let hdfs = &parsed.catalog.services[0];
    let meta = hdfs.metadata.as_ref().expect("service metadata");
    assert_eq!(meta.image_url.as_deref(), Some(format!("{url}/icons/hdfs.svg").as_str()));
    assert!(meta.display_name.is_some() && meta.provider_display_name.is_some() && meta.long_description.is_some());
    let plan = &hdfs.plans[0];
    let schema = plan.schema(SchemaSlot::InstanceCreate).expect("create schema");
    assert_eq!(schema["properties"]["storageSpaceQuota"]["title"], "HDFS storage (GB)");
    assert_eq!(schema["properties"]["storageSpaceQuota"]["minimum"], 1024);
    assert_eq!(schema["properties"]["storageSpaceQuota"]["maximum"], 102_400);
    assert_eq!(schema["properties"]["namespaceQuota"]["minimum"], 1000);
    assert_eq!(schema["properties"]["yarnQueueQuota"]["maximum"], 100);
    assert!(plan.schema(SchemaSlot::InstanceUpdate).is_some() && plan.schema(SchemaSlot::BindingCreate).is_some());
    assert!(plan.maintenance_info.is_some() && plan.metadata.as_ref().is_some_and(|m| !m.bullets.is_empty()));
    assert!(parsed.catalog.services.iter().flat_map(|s| &s.plans).any(|p| !p.is_free()));
}

#[tokio::test]
async fn icons_are_svgs_served_by_the_broker_to_anyone_and_cacheable() {
    // Even a broker demanding credentials serves its icons without them: browsers fetch them.
    let config = BrokerConfig {
        basic_auth: Some(BasicCredentials { username: "portal".into(), password: SecretString::from("s3cret") }),
        ..BrokerConfig::default()
    };
    let url = spawn_broker(config).await;
    let catalog: Value = reqwest::Client::new()
        .get(format!("{url}/v2/catalog"))
        .header("X-Broker-API-Version", "2.17")
        .basic_auth("portal", Some("s3cret"))
        .send()
        .await
        .expect("catalog")
        .json()
        .await
        .expect("json");
    let http = reqwest::Client::new();
    let mut bodies = std::collections::HashSet::new();
    for service in catalog["services"].as_array().expect("services") {
        let icon = service["metadata"]["imageUrl"].as_str().expect("imageUrl");
        assert_eq!(icon, format!("{url}/icons/{}.svg", service["name"].as_str().expect("name")));
        let response = http.get(icon).send().await.expect("icon");
        assert_eq!(response.status(), 200, "{icon}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "image/svg+xml");
        assert!(headers["cache-control"].to_str().expect("ascii").contains("max-age="), "{icon}");
        let body = response.text().await.expect("body");
        assert!(body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && body.ends_with("</svg>"), "{body}");
        assert!(bodies.insert(body), "{icon} looks like another service's");
        let again = http.get(icon).header("If-None-Match", headers["etag"].clone()).send().await.expect("icon");
        assert_eq!(again.status(), 304, "{icon} revalidates by ETag");
    }
    assert_eq!(http.get(format!("{url}/icons/nope.svg")).send().await.expect("icon").status(), 404);
}

#[tokio::test]
async fn every_call_succeeds_synchronously_with_osb_status_codes() {
    let url = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&url);
    let me = alice();
    let (service_id, plan_id) = ids("hdfs", "shared");
    let request = hdfs_provision(json!({}));

    let reply = client.provision("i-1", &request, Some(&me)).await;
    let Outcome::Done { status: 201, body } = &reply.outcome else { panic!("{:?}", reply.outcome) };
    assert!(body.dashboard_url.is_some());
    assert!(!reply.requires_orphan_mitigation());
    // Identical again: 200. Different: 409.
    assert!(matches!(client.provision("i-1", &request, Some(&me)).await.outcome, Outcome::Done { status: 200, .. }));
    let other = hdfs_provision(json!({"storageSpaceQuota": 4096}));
    assert!(matches!(client.provision("i-1", &other, Some(&me)).await.outcome, Outcome::Conflict { .. }));

    let fetched = client.fetch_instance("i-1", Some(&service_id), Some(&plan_id), Some(&me)).await.outcome;
    let fetched = fetched.into_done().expect("fetch instance");
    assert_eq!(fetched.parameters.as_ref().and_then(|p| p.get("namespaceQuota")), Some(&json!(5000)));
    assert!(fetched.maintenance_info.is_some());

    let update = UpdateRequest {
        service_id: service_id.clone(),
        plan_id: Some(ids("hdfs", "dedicated").1),
        parameters: params(json!({"storageSpaceQuota": 8192})),
        ..UpdateRequest::default()
    };
    let reply = client.update("i-1", &update, Some(&me)).await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 200, body: UpdateResponse { .. } }), "{:?}", reply.outcome);
    let fetched = client.fetch_instance("i-1", None, None, None).await.outcome.into_done().expect("fetch");
    assert_eq!(fetched.plan_id.as_deref(), Some(ids("hdfs", "dedicated").1.as_str()));
    let params = fetched.parameters.expect("parameters");
    assert_eq!((params["storageSpaceQuota"].clone(), params["namespaceQuota"].clone()), (json!(8192), json!(5000)));

    let bind = hdfs_bind(json!({}));
    let reply = client.bind("i-1", "b-1", &bind, Some(&me)).await;
    let Outcome::Done { status: 201, body } = reply.outcome else { panic!("{:?}", reply.outcome) };
    let credentials = body.credentials.expect("credentials");
    assert!(credentials["uri"].as_str().is_some_and(|u| u.starts_with("hdfs://")));
    assert_eq!(credentials["access_mode"], "read-only");
    let again = client.bind("i-1", "b-1", &bind, Some(&me)).await.outcome;
    assert!(matches!(&again, Outcome::Done { status: 200, body } if body.credentials.as_ref() == Some(&credentials)));
    let different = hdfs_bind(json!({"accessMode": "read-write"}));
    assert!(matches!(client.bind("i-1", "b-1", &different, None).await.outcome, Outcome::Conflict { .. }));
    let fetched =
        client.fetch_binding("i-1", "b-1", None, None, None).await.outcome.into_done().expect("fetch binding");
    assert_eq!(fetched.credentials.as_ref(), Some(&credentials));

    assert!(matches!(
        client.unbind("i-1", "b-1", &service_id, &plan_id, None).await.outcome,
        Outcome::Done { status: 200, .. }
    ));
    assert_eq!(client.unbind("i-1", "b-1", &service_id, &plan_id, None).await.outcome, Outcome::Gone);
    assert!(matches!(client.fetch_binding("i-1", "b-1", None, None, None).await.outcome, Outcome::NotFound { .. }));
    assert!(matches!(
        client.deprovision("i-1", &service_id, &plan_id, None).await.outcome,
        Outcome::Done { status: 200, .. }
    ));
    assert_eq!(client.deprovision("i-1", &service_id, &plan_id, None).await.outcome, Outcome::Gone);
    assert!(matches!(client.fetch_instance("i-1", None, None, None).await.outcome, Outcome::NotFound { .. }));
}

#[tokio::test]
async fn every_call_succeeds_asynchronously_with_operations_echoed() {
    let url = spawn_broker(quick_config(true, Duration::from_millis(800))).await;
    let client = client(&url);
    let (service_id, plan_id) = ids("kafka", "shared");
    let mut request = hdfs_provision(json!({}));
    request.service_id.clone_from(&service_id);
    request.plan_id.clone_from(&plan_id);
    request.parameters = params(json!({"partitions": 6, "retentionHours": 24}));

    let reply = client.provision("k-1", &request, Some(&alice())).await;
    let Outcome::Accepted { operation: Some(operation), dashboard_url: Some(_) } = reply.outcome else {
        panic!("{:?}", reply.outcome)
    };
    // The same request while it runs: 202 with the same operation.
    let again = client.provision("k-1", &request, None).await.outcome;
    assert!(matches!(&again, Outcome::Accepted { operation: Some(op), .. } if *op == operation), "{again:?}");
    assert!(matches!(client.fetch_instance("k-1", None, None, None).await.outcome, Outcome::NotFound { .. }));
    let query = LastOperationQuery {
        service_id: Some(service_id.clone()),
        plan_id: Some(plan_id.clone()),
        operation: Some(operation),
    };
    let first = client.last_operation("k-1", &query, None).await;
    assert!(matches!(first.outcome, Outcome::InProgress { .. }), "{:?}", first.outcome);
    assert_eq!(first.retry_after, Some(Duration::from_secs(1)), "Retry-After is parsed and handed back");
    let done = poll_until_settled(|| client.last_operation("k-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome);

    let update = UpdateRequest {
        service_id: service_id.clone(),
        parameters: params(json!({"retentionHours": 72})),
        maintenance_info: Some(MaintenanceInfo { version: "3.7.1".into(), ..MaintenanceInfo::default() }),
        ..UpdateRequest::default()
    };
    let Outcome::Accepted { operation, .. } = client.update("k-1", &update, None).await.outcome else {
        panic!("update")
    };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.last_operation("k-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome);
    let fetched = client.fetch_instance("k-1", None, None, None).await.outcome.into_done().expect("fetch");
    assert_eq!(fetched.parameters.expect("params")["retentionHours"], 72);

    let mut bind = hdfs_bind(json!({}));
    bind.service_id.clone_from(&service_id);
    bind.plan_id.clone_from(&plan_id);
    bind.parameters = params(json!({"role": "consumer"}));
    let Outcome::Accepted { operation, .. } = client.bind("k-1", "kb-1", &bind, None).await.outcome else {
        panic!("bind")
    };
    assert!(matches!(client.fetch_binding("k-1", "kb-1", None, None, None).await.outcome, Outcome::NotFound { .. }));
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.binding_last_operation("k-1", "kb-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome);
    let binding = client.fetch_binding("k-1", "kb-1", None, None, None).await.outcome.into_done().expect("binding");
    let credentials = binding.credentials.expect("credentials");
    assert_eq!(credentials["sasl_mechanism"], "SCRAM-SHA-512");
    assert_eq!(credentials["role"], "consumer");

    let Outcome::Accepted { operation, .. } = client.unbind("k-1", "kb-1", &service_id, &plan_id, None).await.outcome
    else {
        panic!("unbind")
    };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.binding_last_operation("k-1", "kb-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. } | Outcome::Gone), "{:?}", done.outcome);

    let Outcome::Accepted { operation, .. } = client.deprovision("k-1", &service_id, &plan_id, None).await.outcome
    else {
        panic!("deprovision")
    };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.last_operation("k-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. } | Outcome::Gone), "{:?}", done.outcome);
    assert_eq!(client.last_operation("k-1", &query, None).await.outcome, Outcome::Gone);
}

#[tokio::test]
async fn broker_side_checks_parameters_maintenance_info_and_concurrency() {
    let url = spawn_broker(quick_config(true, Duration::from_millis(300))).await;
    let client = client(&url);
    let bad = hdfs_provision(json!({"storageSpaceQuota": 10}));
    let Outcome::BadRequest { status: 400, description: Some(description), .. } =
        client.provision("i", &bad, None).await.outcome
    else {
        panic!("out-of-range parameter accepted")
    };
    assert!(description.contains("storageSpaceQuota") && description.contains("1024"), "{description}");

    let mut stale = hdfs_provision(json!({}));
    stale.maintenance_info = Some(MaintenanceInfo { version: "0.0.1".into(), ..MaintenanceInfo::default() });
    assert!(matches!(client.provision("i", &stale, None).await.outcome, Outcome::MaintenanceInfoConflict { .. }));

    let never = hdfs_provision(json!({"_fault": "async-never"}));
    assert!(matches!(client.provision("i", &never, None).await.outcome, Outcome::Accepted { .. }));
    let update = UpdateRequest { service_id: never.service_id.clone(), ..UpdateRequest::default() };
    assert!(matches!(client.update("i", &update, None).await.outcome, Outcome::ConcurrencyError { .. }));
    let (service_id, plan_id) = ids("hdfs", "shared");
    assert!(matches!(
        client.deprovision("i", &service_id, &plan_id, None).await.outcome,
        Outcome::ConcurrencyError { .. }
    ));
}

#[tokio::test]
async fn headers_reach_the_broker_and_basic_auth_is_enforced() {
    let config = BrokerConfig {
        basic_auth: Some(BasicCredentials { username: "portal".into(), password: SecretString::from("s3cret") }),
        ..quick_config(false, Duration::ZERO)
    };
    let url = spawn_broker(config).await;
    let anonymous = client(&url);
    assert!(matches!(anonymous.catalog().await.outcome, Outcome::BadRequest { status: 401, .. }));
    let wrong = OsbClient::new(server::osb::ClientConfig {
        auth: Some(Auth::Basic { username: "portal".into(), password: SecretString::from("nope") }),
        ..client_config(&url)
    })
    .expect("client");
    assert!(matches!(wrong.catalog().await.outcome, Outcome::BadRequest { status: 401, .. }));
    let right = OsbClient::new(server::osb::ClientConfig {
        auth: Some(Auth::Basic { username: "portal".into(), password: SecretString::from("s3cret") }),
        ..client_config(&url)
    })
    .expect("client");
    let reply = right.provision("i-h", &hdfs_provision(json!({})), Some(&alice())).await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 201, .. }), "{:?}", reply.outcome);

    let log: Value = reqwest::Client::new()
        .get(format!("{url}/admin/requests"))
        .basic_auth("portal", Some("s3cret"))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    let record = log
        .as_array()
        .and_then(|r| r.iter().find(|r| r["request_identity"] == reply.request_identity.as_str()))
        .expect("the provision was recorded under its request identity");
    assert_eq!(record["method"], "PUT");
    assert_eq!(record["api_version"], "2.17");
    assert_eq!(record["auth_scheme"], "basic");
    assert_eq!(record["originating_platform"], "kubernetes");
    assert_eq!(record["originating_user"], "alice");
    assert_eq!(record["originating_uid"], "uid-alice");
    assert_eq!(record["originating_groups"], json!(["team-data", "system:authenticated"]));
    assert!(uuid::Uuid::parse_str(&reply.request_identity).is_ok());
}

#[tokio::test]
async fn older_clients_are_served_and_unknown_versions_refused() {
    let url = spawn_broker(quick_config(true, Duration::from_millis(200))).await;
    let http = reqwest::Client::new();
    let get = |version: Option<&'static str>| {
        let mut request = http.get(format!("{url}/v2/catalog"));
        if let Some(v) = version {
            request = request.header("X-Broker-API-Version", v);
        }
        request.send()
    };
    assert_eq!(get(None).await.expect("send").status(), 412);
    assert_eq!(get(Some("2.12")).await.expect("send").status(), 412);
    assert_eq!(get(Some("3.0")).await.expect("send").status(), 412);
    let v13 = get(Some("2.13")).await.expect("send");
    assert_eq!(v13.status(), 200);
    let v13 = v13.text().await.expect("body");
    assert!(!v13.contains("maintenance_info") && !v13.contains("maximum_polling_duration"));
    for minor in 14..=17 {
        assert_eq!(get(Some(["2.14", "2.15", "2.16", "2.17"][minor - 14])).await.expect("send").status(), 200);
    }

    // A 2.13 client gets its binding synchronously even from an asynchronous broker.
    let provision = hdfs_provision(json!({"_async": false}));
    let put = |path: String, body: Value, version: &'static str| {
        http.put(format!("{url}{path}")).header("X-Broker-API-Version", version).json(&body).send()
    };
    let response =
        put("/v2/service_instances/old?accepts_incomplete=true".into(), json!(provision), "2.13").await.expect("put");
    assert_eq!(response.status(), 201);
    let response = put(
        "/v2/service_instances/old/service_bindings/b?accepts_incomplete=true".into(),
        json!(hdfs_bind(json!({}))),
        "2.13",
    )
    .await
    .expect("bind");
    assert_eq!(response.status(), 201);
    // A request that must be asynchronous from a client that does not accept it: 422 AsyncRequired.
    let response = put("/v2/service_instances/new".into(), json!(hdfs_provision(json!({"_async": true}))), "2.17")
        .await
        .expect("put");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "AsyncRequired");
}

#[tokio::test]
async fn the_portal_hosts_the_builtin_broker() {
    // Without the controller: this is about the broker the portal hosts, not what calls it.
    let app = common::TestApp::spawn_with(tempfile::tempdir().expect("temp dir"), |c| c.controller = None).await;
    // Only with this start's credentials: the OSB API and the fault switch alike.
    let anonymous = client(&app.url("/broker"));
    assert!(matches!(anonymous.catalog().await.outcome, Outcome::BadRequest { status: 401, .. }));
    let wrong = authenticated(&app.url("/broker"), server::broker::BUILTIN_USERNAME, "not-the-password");
    assert!(matches!(wrong.catalog().await.outcome, Outcome::BadRequest { status: 401, .. }));
    let switch = |password: Option<&str>| {
        let request =
            app.anonymous.put(app.url("/broker/admin/fault")).body(r#"{"fault": "server-error", "times": 1}"#);
        match password {
            Some(p) => request.basic_auth(server::broker::BUILTIN_USERNAME, Some(p)),
            None => request,
        }
    };
    assert_eq!(switch(None).send().await.unwrap().status(), 401);
    assert_eq!(switch(Some("not-the-password")).send().await.unwrap().status(), 401);
    assert_eq!(app.broker_get("/admin/fault").send().await.unwrap().status(), 200);
    assert_eq!(app.broker_get("/v2/catalog").send().await.unwrap().status(), 200);
    // The registration names a Secret holding exactly those credentials.
    let registered =
        app.store.get(app::model::Kind::ClusterServiceBroker, "", "builtin-broker").await.unwrap().unwrap();
    let secret_ref = &registered["spec"]["authInfo"]["basic"]["secretRef"];
    let (namespace, name) = (secret_ref["namespace"].as_str().unwrap(), secret_ref["name"].as_str().unwrap());
    let secret_value = |secret: &Value, key: &str| {
        use base64::Engine as _;
        let encoded = secret["data"][key].as_str().unwrap_or_else(|| panic!("{key} in {secret}"));
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
    };
    let secret = app.store.get(app::model::Kind::Secret, namespace, name).await.unwrap().expect("the auth Secret");
    assert_eq!(secret_value(&secret, "username"), server::broker::BUILTIN_USERNAME);
    assert_eq!(secret_value(&secret, "password"), app.broker_password);
    let client = authenticated(&app.url("/broker"), server::broker::BUILTIN_USERNAME, &app.broker_password);
    let reply = client.catalog().await;
    let Outcome::Done { body, .. } = &reply.outcome else { panic!("{:?}", reply.outcome.kind()) };
    assert!(body.catalog.services.len() >= 9);
    // Icons are absolute URLs under the portal's public URL (here: the port the OS picked).
    let icon = body.catalog.services[0].metadata.as_ref().and_then(|m| m.image_url.clone()).expect("imageUrl");
    assert_eq!(icon, app.url("/broker/icons/hdfs.svg"));
    let response = reqwest::get(&icon).await.expect("icon");
    assert_eq!(
        (response.status().as_u16(), response.headers()["content-type"].clone()),
        (200, "image/svg+xml".parse().unwrap())
    );
    // The broker keeps its records in a file of its own in the portal's data directory.
    let provisioned = client.provision("portal-i", &hdfs_provision(json!({"_async": false})), None).await;
    assert!(matches!(provisioned.outcome, Outcome::Done { status: 201, .. }), "{:?}", provisioned.outcome);
    let broker_db = app.data_dir.path().join("broker.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", broker_db.display())).await.expect("broker.db");
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM instances").fetch_all(&pool).await.expect("instances");
    assert_eq!(ids, ["portal-i"]);
    pool.close().await;

    // A restart makes new credentials and writes them into the same Secret: the old ones stop working.
    let old_password = app.broker_password.clone();
    let app = app.restart_with(|c| c.controller = None).await;
    assert_ne!(app.broker_password, old_password);
    let secret = app.store.get(app::model::Kind::Secret, namespace, name).await.unwrap().expect("the auth Secret");
    assert_eq!(secret_value(&secret, "password"), app.broker_password);
    let stale = authenticated(&app.url("/broker"), server::broker::BUILTIN_USERNAME, &old_password);
    assert!(matches!(stale.catalog().await.outcome, Outcome::BadRequest { status: 401, .. }));
    assert_eq!(app.broker_get("/v2/catalog").send().await.unwrap().status(), 200);
    app.stop().await.expect("stops");
}

/// The client that knows the broker's credentials.
fn authenticated(url: &str, username: &str, password: &str) -> OsbClient {
    OsbClient::new(server::osb::ClientConfig {
        auth: Some(Auth::Basic { username: username.into(), password: SecretString::from(password.to_string()) }),
        ..client_config(url)
    })
    .expect("client")
}

#[tokio::test]
async fn the_broker_command_alone_serves_every_call_with_basic_auth() {
    // `quartermaster broker` as a developer runs it: its own process, its own database.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker = common::process::BrokerProcess::start(
        dir.path(),
        &["--async-delay", "0.3", "--username", "portal", "--password", "s3cret"],
    )
    .await;
    let url = broker.url.clone();
    for wrong in [client(&url), authenticated(&url, "portal", "nope"), authenticated(&url, "other", "s3cret")] {
        let outcome = wrong.catalog().await.outcome;
        assert!(matches!(outcome, Outcome::BadRequest { status: 401, .. }), "{:?}", outcome.kind());
    }
    let raw = reqwest::Client::new()
        .get(format!("{url}/v2/catalog"))
        .header("X-Broker-API-Version", "2.17")
        .basic_auth("portal", Some("wrong"))
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 401);
    assert!(raw.headers()["www-authenticate"].to_str().expect("ascii").starts_with("Basic"));

    let client = authenticated(&url, "portal", "s3cret");
    let reply = client.catalog().await;
    let Outcome::Done { status: 200, body } = &reply.outcome else { panic!("{:?}", reply.outcome.kind()) };
    assert!(body.problems.is_empty(), "{:#?}", body.problems);
    assert!(body.catalog.services.len() >= 9);
    // Without --public-url the icons are under the address it listens on.
    let icon = body.catalog.services[0].metadata.as_ref().and_then(|m| m.image_url.clone()).expect("imageUrl");
    assert!(icon.starts_with(&format!("{url}/icons/")), "{icon}");

    // Asynchronous by default (no --sync): every change is a 202 and a last_operation poll.
    let (service_id, plan_id) = ids("hdfs", "shared");
    let reply = client.provision("p-1", &hdfs_provision(json!({})), Some(&alice())).await;
    let Outcome::Accepted { operation, .. } = reply.outcome else { panic!("{:?}", reply.outcome.kind()) };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let first = client.last_operation("p-1", &query, None).await;
    assert!(matches!(first.outcome, Outcome::InProgress { .. }), "{:?}", first.outcome.kind());
    let done = poll_until_settled(|| client.last_operation("p-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome.kind());
    let fetched = client.fetch_instance("p-1", None, None, None).await.outcome.into_done().expect("fetch");
    assert_eq!(fetched.plan_id.as_deref(), Some(plan_id.as_str()));

    let Outcome::Accepted { operation, .. } = client.bind("p-1", "pb-1", &hdfs_bind(json!({})), None).await.outcome
    else {
        panic!("bind")
    };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.binding_last_operation("p-1", "pb-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. }), "{:?}", done.outcome.kind());
    let binding = client.fetch_binding("p-1", "pb-1", None, None, None).await.outcome.into_done().expect("binding");
    let credentials = binding.credentials.expect("credentials");
    assert!(credentials["uri"].as_str().expect("uri").starts_with("hdfs://"), "{credentials:?}");

    let Outcome::Accepted { operation, .. } = client.unbind("p-1", "pb-1", &service_id, &plan_id, None).await.outcome
    else {
        panic!("unbind")
    };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.binding_last_operation("p-1", "pb-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. } | Outcome::Gone), "{:?}", done.outcome.kind());
    assert!(matches!(client.fetch_binding("p-1", "pb-1", None, None, None).await.outcome, Outcome::NotFound { .. }));

    let Outcome::Accepted { operation, .. } = client.deprovision("p-1", &service_id, &plan_id, None).await.outcome
    else {
        panic!("deprovision")
    };
    let query = LastOperationQuery { operation, ..LastOperationQuery::default() };
    let done = poll_until_settled(|| client.last_operation("p-1", &query, None)).await;
    assert!(matches!(done.outcome, Outcome::Succeeded { .. } | Outcome::Gone), "{:?}", done.outcome.kind());
    assert_eq!(client.last_operation("p-1", &query, None).await.outcome, Outcome::Gone);

    // It stops cleanly on SIGTERM, and its records were in the data directory given.
    assert!(dir.path().join("broker.db").is_file());
    broker.signal("TERM");
    let status = broker.exited_within(15).await.expect("the broker exits after SIGTERM");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn the_broker_command_takes_sync_and_fault_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = common::process::BrokerProcess::start(dir.path(), &["--sync", "--fault", "conflict@bind*1"]).await;
    let client = client(&broker.url);
    // --sync: 201 at once although the client accepts incomplete operations.
    let reply = client.provision("s-1", &hdfs_provision(json!({})), None).await;
    assert!(matches!(reply.outcome, Outcome::Done { status: 201, .. }), "{:?}", reply.outcome.kind());
    // --fault: the first bind is refused with 409, the next one goes through.
    let refused = client.bind("s-1", "sb-1", &hdfs_bind(json!({})), None).await.outcome;
    assert!(matches!(refused, Outcome::Conflict { .. }), "{:?}", refused.kind());
    let bound = client.bind("s-1", "sb-1", &hdfs_bind(json!({})), None).await.outcome;
    assert!(matches!(bound, Outcome::Done { status: 201, .. }), "{:?}", bound.kind());
}

/// The OSB version that added each field the built-in broker can send (the spec's release notes):
/// `(where, field, minor)`.
const FIELD_VERSIONS: [(&str, &str, u32); 8] = [
    ("service", "instances_retrievable", 14),
    ("service", "bindings_retrievable", 14),
    ("service", "allow_context_updates", 15),
    ("plan", "plan_updateable", 15),
    ("plan", "maximum_polling_duration", 15),
    ("plan", "maintenance_info", 15),
    ("maintenance_info", "description", 15),
    ("plan", "binding_rotatable", 17),
];

#[tokio::test]
async fn each_client_version_from_2_13_to_2_17_gets_exactly_the_fields_it_defines() {
    let url = spawn_broker(quick_config(true, Duration::from_millis(600))).await;
    let http = reqwest::Client::new();
    let get = |path: String, minor: u32| {
        http.get(format!("{url}{path}")).header("X-Broker-API-Version", format!("2.{minor}")).send()
    };
    for minor in 13..=17u32 {
        let catalog: Value = get("/v2/catalog".into(), minor).await.expect("catalog").json().await.expect("json");
        let services = catalog["services"].as_array().expect("services");
        assert!(services.len() >= 9);
        for service in services {
            // What every version since 2.13 knows is always there.
            assert!(service["plans"][0]["schemas"].is_object(), "2.{minor}: schemas came in 2.13");
            assert!(service["plans"][0]["metadata"].is_object() && service["metadata"].is_object());
            for (place, field, since) in FIELD_VERSIONS {
                let objects: Vec<&Value> = match place {
                    "service" => vec![service],
                    "plan" => service["plans"].as_array().expect("plans").iter().collect(),
                    _ => service["plans"].as_array().expect("plans").iter().map(|p| &p["maintenance_info"]).collect(),
                };
                for object in objects {
                    if place == "maintenance_info" && minor < 15 {
                        assert!(object.is_null(), "2.{minor}: no maintenance_info at all");
                        continue;
                    }
                    assert_eq!(
                        object.get(field).is_some(),
                        minor >= since,
                        "a 2.{minor} client and {place} field {field} (since 2.{since}): {}",
                        service["name"]
                    );
                }
            }
        }
    }

    // last_operation: Retry-After since 2.15; instance_usable / update_repeatable (on `failed`) since 2.16.
    let provision = |id: &'static str, fault: Option<&'static str>| {
        let mut parameters = json!({"namespaceQuota": 5000, "storageSpaceQuota": 2048});
        if let Some(fault) = fault {
            parameters["_fault"] = json!(fault);
        }
        let body = json!({"service_id": ids("hdfs", "shared").0, "plan_id": ids("hdfs", "shared").1,
                          "context": {"platform": "kubernetes", "namespace": "team-data", "clusterid": "c-1", "instance_name": id},
                          "parameters": parameters});
        http.put(format!("{url}/v2/service_instances/{id}?accepts_incomplete=true"))
            .header("X-Broker-API-Version", "2.17")
            .json(&body)
            .send()
    };
    let response = provision("v-run", None).await.expect("put");
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap_or_default());
    for minor in 13..=17u32 {
        let response = get("/v2/service_instances/v-run/last_operation".into(), minor).await.expect("poll");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers().contains_key("retry-after"), minor >= 15, "2.{minor}: Retry-After since 2.15");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["state"], "in progress", "2.{minor}");
    }
    assert_eq!(provision("v-fail", Some("async-fail")).await.expect("put").status(), 202);
    common::eventually(10, "the failing provision to fail", || async {
        let body: Value =
            get("/v2/service_instances/v-fail/last_operation".into(), 17).await.ok()?.json().await.ok()?;
        (body["state"] == "failed").then_some(())
    })
    .await;
    for minor in 13..=17u32 {
        let body: Value = get("/v2/service_instances/v-fail/last_operation".into(), minor)
            .await
            .expect("poll")
            .json()
            .await
            .expect("json");
        assert_eq!(body["state"], "failed");
        for field in ["instance_usable", "update_repeatable"] {
            assert_eq!(body.get(field).is_some(), minor >= 16, "2.{minor}: {field} since 2.16: {body}");
        }
    }

    // Fetching an instance (2.14): maintenance_info in its body since 2.15.
    common::eventually(10, "the provision to finish", || async {
        let body: Value = get("/v2/service_instances/v-run/last_operation".into(), 17).await.ok()?.json().await.ok()?;
        (body["state"] == "succeeded").then_some(())
    })
    .await;
    for minor in 14..=17u32 {
        let response = get("/v2/service_instances/v-run".into(), minor).await.expect("fetch");
        assert_eq!(response.status(), 200, "2.{minor}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body.get("maintenance_info").is_some(), minor >= 15, "2.{minor}: {body}");
    }

    // Bindings: asynchronous only for 2.14 and later, whatever the broker prefers.
    for (minor, expected) in [(13, 201), (14, 202), (15, 202), (16, 202), (17, 202)] {
        let (service_id, plan_id) = ids("hdfs", "shared");
        let response = http
            .put(format!("{url}/v2/service_instances/v-run/service_bindings/b-{minor}?accepts_incomplete=true"))
            .header("X-Broker-API-Version", format!("2.{minor}"))
            .json(&json!({"service_id": service_id, "plan_id": plan_id, "parameters": {"accessMode": "read-only"}}))
            .send()
            .await
            .expect("bind");
        assert_eq!(response.status().as_u16(), expected, "2.{minor}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body.get("credentials").is_some(), expected == 201, "2.{minor}: {body}");
    }
}

/// The parameters a schema's defaults make (what a form filled with nothing but defaults sends).
fn defaults_of(schema: &Value) -> Value {
    let properties = schema["properties"].as_object().expect("properties");
    Value::Object(properties.iter().filter_map(|(k, p)| Some((k.clone(), p.get("default")?.clone()))).collect())
}

#[tokio::test]
async fn every_builtin_service_hands_out_credentials_shaped_like_its_own() {
    let url = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&url);
    let catalog = client.catalog().await.outcome.into_done().expect("catalog").catalog;
    let host = |value: &Value| value.as_str().map(str::to_string).unwrap_or_default();
    let mut checked = Vec::new();
    for service in &catalog.services {
        let plan = &service.plans[0];
        let instance = format!("creds-{}", service.name);
        let request = server::osb::wire::ProvisionRequest {
            service_id: service.id.clone(),
            plan_id: plan.id.clone(),
            context: Some(server::osb::Context::kubernetes("team-data", "cluster-1", &instance)),
            parameters: params(defaults_of(plan.schema(SchemaSlot::InstanceCreate).expect("create schema"))),
            ..Default::default()
        };
        let reply = client.provision(&instance, &request, None).await;
        assert!(matches!(reply.outcome, Outcome::Done { status: 201, .. }), "{}: {:?}", service.name, reply.outcome);
        if !plan.is_bindable(service) {
            continue;
        }
        let bind = server::osb::wire::BindRequest {
            service_id: service.id.clone(),
            plan_id: plan.id.clone(),
            parameters: plan.schema(SchemaSlot::BindingCreate).map(defaults_of).and_then(params),
            ..Default::default()
        };
        // Binding ids are unique across the broker, as OSB asks of platforms.
        let reply = client.bind(&instance, &format!("{instance}-b1"), &bind, None).await;
        let Outcome::Done { status: 201, body } = reply.outcome else {
            panic!("{}: {:?}", service.name, reply.outcome)
        };
        let c = Value::Object(body.credentials.expect("credentials"));
        let name = service.name.as_str();
        match name {
            "hdfs" => {
                assert!(host(&c["uri"]).starts_with("hdfs://") && host(&c["uri"]).contains(":8020/"), "{c}");
                assert!(host(&c["principal"]).contains('@') && !host(&c["keytab"]).is_empty(), "{c}");
            }
            "hive" => {
                assert!(host(&c["jdbc_url"]).starts_with("jdbc:hive2://") && host(&c["jdbc_url"]).contains(":10000/"));
                assert!(!host(&c["database"]).is_empty() && host(&c["principal"]).contains('@'), "{c}");
            }
            "kafka" => {
                let servers = host(&c["bootstrap_servers"]);
                assert!(!servers.is_empty() && servers.split(',').all(|s| s.rsplit_once(':').is_some()), "{c}");
                assert_eq!(
                    (c["security_protocol"].as_str(), c["sasl_mechanism"].as_str()),
                    (Some("SASL_SSL"), Some("SCRAM-SHA-512"))
                );
                assert!(!host(&c["username"]).is_empty() && !host(&c["password"]).is_empty(), "{c}");
            }
            "mapreduce" | "spark" => {
                assert!(host(&c["resource_manager"]).ends_with(":8032"), "{c}");
                assert!(host(&c["yarn_queue"]).starts_with("root."), "{c}");
                assert!(host(&c["history_server"]).starts_with("http://"), "{c}");
            }
            "hbase" => {
                let quorum = host(&c["zookeeper_quorum"]);
                assert!(!quorum.is_empty() && quorum.split(',').all(|s| s.ends_with(":2181")), "{c}");
                assert!(!host(&c["namespace"]).is_empty() && host(&c["principal"]).contains('@'), "{c}");
            }
            "redis" => {
                let uri = host(&c["uri"]);
                assert!(uri.starts_with("redis://") || uri.starts_with("rediss://"), "{c}");
                assert!(uri.contains(&host(&c["password"])) && uri.contains(&host(&c["host"])), "{c}");
                assert_eq!(c["port"], 6379);
            }
            "rabbitmq" => {
                let uri = host(&c["uri"]);
                assert!(uri.starts_with("amqp://") || uri.starts_with("amqps://"), "{c}");
                assert!(uri.contains(&host(&c["username"])) && uri.ends_with(&host(&c["vhost"])), "{c}");
                assert!(host(&c["management_url"]).starts_with("https://"), "{c}");
            }
            "storm" => {
                assert!(!host(&c["nimbus_seeds"]).is_empty() && c["nimbus_port"] == 6627, "{c}");
                assert!(host(&c["principal"]).contains('@'), "{c}");
            }
            other => panic!("no expectation for the credentials of {other}: {c}"),
        }
        // Secrets are fresh per binding.
        let again = client
            .bind(&instance, &format!("{instance}-b2"), &bind, None)
            .await
            .outcome
            .into_done()
            .expect("second binding");
        assert_ne!(Value::Object(again.credentials.expect("credentials")), c, "{name}: two bindings, one secret");
        checked.push(name.to_string());
    }
    for expected in ["hdfs", "hive", "kafka", "mapreduce", "spark", "hbase", "redis", "rabbitmq", "storm"] {
        assert!(checked.iter().any(|c| c == expected), "{expected} was not bound: {checked:?}");
    }
}

#[tokio::test]
async fn hive_and_kafka_schemas_have_the_documented_ranges() {
    let url = spawn_broker(BrokerConfig::default()).await;
    let catalog = client(&url).catalog().await.outcome.into_done().expect("catalog").catalog;
    let service = |name: &str| catalog.services.iter().find(|s| s.name == name).expect("service").clone();
    let range = |schema: &Value, field: &str| {
        let p = &schema["properties"][field];
        assert_eq!(p["type"], "integer", "{field}");
        (p["minimum"].as_i64().expect("minimum"), p["maximum"].as_i64().expect("maximum"))
    };
    for plan in &service("hive").plans {
        let create = plan.schema(SchemaSlot::InstanceCreate).expect("create");
        assert_eq!(range(create, "hiveStorageQuota"), (1024, 102_400), "hive/{}", plan.name);
        assert_eq!(range(create, "yarnQueueQuota"), (10, 100), "hive/{}", plan.name);
        assert!(create["required"].as_array().expect("required").contains(&json!("hiveStorageQuota")));
        let update = plan.schema(SchemaSlot::InstanceUpdate).expect("update");
        assert_eq!(range(update, "hiveStorageQuota"), (1024, 102_400), "hive/{} update", plan.name);
    }
    for plan in &service("kafka").plans {
        let create = plan.schema(SchemaSlot::InstanceCreate).expect("create");
        assert_eq!(range(create, "partitions"), (1, 64), "kafka/{}", plan.name);
        assert_eq!(range(create, "replicationFactor"), (1, 3), "kafka/{}", plan.name);
        assert_eq!(range(create, "retentionHours"), (1, 720), "kafka/{}", plan.name);
        assert_eq!(range(create, "topicQuota"), (1, 100), "kafka/{}", plan.name);
    }
    // The broker enforces them itself, not only the portal's form.
    let sync = spawn_broker(quick_config(false, Duration::ZERO)).await;
    let client = client(&sync);
    let (service_id, plan_id) = ids("kafka", "shared");
    for (parameters, ok) in [
        (json!({"partitions": 64, "replicationFactor": 3}), true),
        (json!({"partitions": 65}), false),
        (json!({"partitions": 0}), false),
        (json!({"partitions": 1, "retentionHours": 721}), false),
    ] {
        let request = server::osb::wire::ProvisionRequest {
            service_id: service_id.clone(),
            plan_id: plan_id.clone(),
            parameters: params(parameters.clone()),
            ..Default::default()
        };
        let outcome = client.provision(&format!("k-{}", uuid::Uuid::new_v4()), &request, None).await.outcome;
        assert_eq!(matches!(outcome, Outcome::Done { status: 201, .. }), ok, "{parameters}: {outcome:?}");
        if !ok {
            assert!(matches!(outcome, Outcome::BadRequest { status: 400, .. }), "{parameters}: {outcome:?}");
        }
    }
    let (service_id, plan_id) = ids("hive", "shared");
    for (storage, ok) in [(1024, true), (102_400, true), (1023, false), (102_401, false)] {
        let request = server::osb::wire::ProvisionRequest {
            service_id: service_id.clone(),
            plan_id: plan_id.clone(),
            parameters: params(json!({"hiveStorageQuota": storage})),
            ..Default::default()
        };
        let outcome = client.provision(&format!("h-{storage}"), &request, None).await.outcome;
        assert_eq!(matches!(outcome, Outcome::Done { status: 201, .. }), ok, "hiveStorageQuota {storage}: {outcome:?}");
    }
}

#[tokio::test]
async fn the_connect_timeout_gives_up_on_a_broker_that_never_completes_the_handshake() {
    // A loopback listener with the smallest backlog, filled by connections nobody accepts: Linux
    // then drops further SYNs (tcp_abort_on_overflow=0), so a new connection hangs in SYN-SENT —
    // what a broker behind a black-holing firewall looks like, on loopback.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let listener = socket.listen(0).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    let full = loop {
        assert!(held.len() < 64, "the backlog never filled: connections keep completing");
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => held.push(stream),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => break true,
            Err(e) => panic!("connecting to a full backlog failed otherwise ({e}): check tcp_abort_on_overflow"),
        }
    };
    assert!(full);

    let config = server::osb::ClientConfig {
        connect_timeout: Duration::from_millis(700),
        request_timeout: Duration::from_secs(20),
        ..server::osb::ClientConfig::new(format!("http://{addr}"))
    };
    let client = OsbClient::new(config).expect("client");
    let started = std::time::Instant::now();
    let reply = client.catalog().await;
    let took = started.elapsed();
    // Given up by the connect timeout, not the 20 s request timeout: the request never left, so
    // this is "unreachable" (no orphan mitigation), not a timeout of a request the broker may have seen.
    let Outcome::Unreachable { reason } = &reply.outcome else { panic!("{:?} after {took:?}", reply.outcome) };
    assert!(took >= Duration::from_millis(650) && took < Duration::from_secs(8), "gave up after {took:?}: {reason}");
    assert!(!reply.requires_orphan_mitigation());
    let provision = client.provision("never", &hdfs_provision(json!({})), None).await;
    assert!(matches!(provision.outcome, Outcome::Unreachable { .. }), "{:?}", provision.outcome);
    assert!(!provision.requires_orphan_mitigation(), "the provision never reached the broker");
    drop((held, listener));
}
