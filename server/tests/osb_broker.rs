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
    let client = client(&app.url("/broker"));
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
    app.stop().await.expect("stops");
}
