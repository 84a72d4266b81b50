//! Catalog objects written straight into the store, shaped as the controller writes them, for
//! tests that run without a controller (and for the catalog benchmark).
#![allow(dead_code)]

use app::model::Kind;
use serde_json::{Value, json};
use server::store::ResourceStore;

pub const BROKER: &str = "demo";

pub async fn broker(store: &dyn ResourceStore, name: &str, ready: bool, message: &str) {
    let created = store
        .create(
            Kind::ClusterServiceBroker,
            json!({"metadata": {"name": name}, "spec": {"url": "http://broker.example", "relistBehavior": "Duration"}}),
        )
        .await
        .unwrap();
    let mut with_status = created;
    with_status["status"] = json!({
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "reason": if ready { "FetchedCatalog" } else { "ErrorFetchingCatalog" }, "message": message}],
        "lastCatalogRetrievalTime": "2026-01-01T00:00:00Z",
        "catalogProblems": [{"location": "service \"odd\" plan \"x\"", "message": "schema refused: external $ref"}]
    });
    store.update_status(Kind::ClusterServiceBroker, with_status).await.unwrap();
}

/// A class as the controller writes it; `metadata` is the OSB service metadata.
pub async fn class(
    store: &dyn ResourceStore,
    broker: &str,
    id: &str,
    name: &str,
    description: &str,
    tags: &[&str],
    metadata: Value,
) {
    store
        .create(
            Kind::ClusterServiceClass,
            json!({
                "metadata": {"name": id, "labels": {"servicecatalog.k8s.io/spec.clusterServiceBrokerName": broker}},
                "spec": {"externalName": name, "externalID": id, "description": description, "bindable": true,
                         "planUpdatable": true, "tags": tags, "externalMetadata": metadata,
                         "clusterServiceBrokerName": broker}
            }),
        )
        .await
        .unwrap();
}

pub async fn mark_class_removed(store: &dyn ResourceStore, id: &str) {
    let mut class = store.get(Kind::ClusterServiceClass, "", id).await.unwrap().unwrap();
    class["status"] = json!({"removedFromBrokerCatalog": true});
    store.update_status(Kind::ClusterServiceClass, class).await.unwrap();
}

#[allow(clippy::too_many_arguments)]
pub async fn plan(
    store: &dyn ResourceStore,
    broker: &str,
    class_id: &str,
    id: &str,
    name: &str,
    free: bool,
    create: Option<Value>,
    update: Option<Value>,
    bind: Option<Value>,
) {
    let mut spec = json!({
        "externalName": name, "externalID": id, "description": format!("The {name} plan"), "free": free,
        "externalMetadata": {"displayName": name.to_uppercase(), "bullets": ["One", "Two"],
                             "costs": if free { json!([]) } else { json!([{"amount": {"usd": 450.0}, "unit": "MONTHLY"}]) }},
        "clusterServiceBrokerName": broker, "clusterServiceClassRef": {"name": class_id}
    });
    if let Some(s) = create {
        spec["instanceCreateParameterSchema"] = s;
    }
    if let Some(s) = update {
        spec["instanceUpdateParameterSchema"] = s;
    }
    if let Some(s) = bind {
        spec["serviceBindingCreateParameterSchema"] = s;
    }
    store
        .create(
            Kind::ClusterServicePlan,
            json!({
                "metadata": {"name": id, "labels": {"servicecatalog.k8s.io/spec.clusterServiceClassRef.name": class_id}},
                "spec": spec
            }),
        )
        .await
        .unwrap();
}

pub fn hdfs_create_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "additionalProperties": false,
        "properties": {
            "namespaceQuota": {"type": "integer", "title": "Namespace quota (files)", "minimum": 1000, "maximum": 100000, "default": 10000},
            "storageSpaceQuota": {"type": "integer", "title": "HDFS storage (GB)", "minimum": 1024, "maximum": 102400, "default": 2048}
        },
        "required": ["namespaceQuota", "storageSpaceQuota"]
    })
}

pub fn hdfs_update_schema() -> Value {
    json!({
        "type": "object", "additionalProperties": false,
        "properties": {"storageSpaceQuota": {"type": "integer", "title": "HDFS storage (GB)", "minimum": 1024, "maximum": 102400}}
    })
}

pub fn bind_schema() -> Value {
    json!({"type": "object", "additionalProperties": false,
           "properties": {"accessMode": {"type": "string", "enum": ["read-write", "read-only"], "default": "read-write"}}})
}

/// A small catalog: HDFS (two plans), Kafka, a hostile class, a removed one; broker "demo".
pub async fn catalog(store: &dyn ResourceStore) {
    broker(store, BROKER, true, "Successfully fetched catalog entries from broker").await;
    class(
        store,
        BROKER,
        "svc-hdfs",
        "hdfs",
        "A quota-limited HDFS namespace",
        &["hadoop", "storage"],
        json!({
            "displayName": "HDFS", "providerDisplayName": "Platform team",
            "imageUrl": "data:image/svg+xml;base64,PHN2Zy8+",
            "longDescription": "A directory tree with quotas.",
            "documentationUrl": "https://docs.example.com/hdfs", "supportUrl": "mailto:team@example.com"
        }),
    )
    .await;
    plan(
        store,
        BROKER,
        "svc-hdfs",
        "plan-hdfs-shared",
        "shared",
        true,
        Some(hdfs_create_schema()),
        Some(hdfs_update_schema()),
        Some(bind_schema()),
    )
    .await;
    plan(
        store,
        BROKER,
        "svc-hdfs",
        "plan-hdfs-dedicated",
        "dedicated",
        false,
        Some(hdfs_create_schema()),
        Some(hdfs_update_schema()),
        None,
    )
    .await;
    class(store, BROKER, "svc-kafka", "kafka", "A Kafka topic", &["streaming"], json!({"displayName": "Kafka topic"}))
        .await;
    plan(store, BROKER, "svc-kafka", "plan-kafka-small", "small", true, None, None, None).await;
    class(
        store,
        BROKER,
        "svc-evil",
        "evil",
        "<script>alert('tile')</script>",
        &["<b>tag</b>"],
        json!({
            "displayName": "Evil <img src=x onerror=alert(1)>",
            "imageUrl": "javascript:alert(1)",
            "documentationUrl": "javascript:alert(2)",
            "supportUrl": "mailto:x@example.com\"onmouseover=\"alert(3)",
            "longDescription": "<script>alert('long')</script>"
        }),
    )
    .await;
    plan(store, BROKER, "svc-evil", "plan-evil", "evil-plan", true, None, None, None).await;
    class(store, BROKER, "svc-old", "old", "A retired service", &[], json!({"displayName": "Old service"})).await;
    plan(store, BROKER, "svc-old", "plan-old", "legacy", true, None, None, None).await;
    mark_class_removed(store, "svc-old").await;
}
