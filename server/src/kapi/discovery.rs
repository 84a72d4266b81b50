//! Discovery: `/version`, `/api`, `/apis`, the group and its resources, and the OpenAPI
//! documents `kubectl explain` and kubectl's field validation read.

use std::sync::LazyLock;

use app::model::Kind;
use axum::{
    Json,
    extract::{Path, Query},
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{GROUP, GROUP_VERSION, VERSION, schemas, status::ApiError};

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

pub async fn version() -> Json<Value> {
    Json(json!({
        "major": "1", "minor": "34",
        "gitVersion": format!("v1.34.0+quartermaster-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "", "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "", "compiler": "rustc", "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    }))
}

pub async fn core_versions() -> Json<Value> {
    Json(json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }))
}

fn resource(kind: Kind) -> Value {
    let info = schemas::info(kind);
    let mut r = json!({
        "name": kind.plural(), "singularName": info.singular, "namespaced": kind.namespaced(),
        "kind": kind.as_str(), "verbs": VERBS,
    });
    if !info.short_names.is_empty() {
        r["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        r["categories"] = json!(info.categories);
    }
    r
}

fn status_resource(kind: Kind) -> Value {
    json!({"name": format!("{}/status", kind.plural()), "singularName": "", "namespaced": kind.namespaced(),
           "kind": kind.as_str(), "verbs": ["get", "patch", "update"]})
}

pub async fn core_resources() -> Json<Value> {
    Json(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [resource(Kind::Secret)]}),
    )
}

fn group() -> Value {
    let version = json!({"groupVersion": GROUP_VERSION, "version": VERSION});
    json!({"name": GROUP, "versions": [version], "preferredVersion": version})
}

pub async fn groups() -> Json<Value> {
    Json(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group()]}))
}

pub async fn catalog_group() -> Json<Value> {
    let mut g = group();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Json(g)
}

pub async fn catalog_resources() -> Json<Value> {
    let mut resources = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Secret) {
        resources.push(resource(kind));
        resources.push(status_resource(kind));
    }
    Json(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}))
}

struct Documents {
    v2: String,
    catalog_v3: String,
    core_v3: String,
    catalog_hash: String,
    core_hash: String,
}

fn hash(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02X}")).collect()
}

static DOCUMENTS: LazyLock<Documents> = LazyLock::new(|| {
    let catalog_v3 = schemas::openapi_v3(false).to_string();
    let core_v3 = schemas::openapi_v3(true).to_string();
    Documents {
        v2: schemas::openapi_v2().to_string(),
        catalog_hash: hash(&catalog_v3),
        core_hash: hash(&core_v3),
        catalog_v3,
        core_v3,
    }
});

fn json_text(text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache, private")], text).into_response()
}

pub async fn openapi_v2() -> Response {
    json_text(&DOCUMENTS.v2)
}

pub async fn openapi_v3_root() -> Json<Value> {
    let docs = &*DOCUMENTS;
    Json(json!({"paths": {
        format!("apis/{GROUP_VERSION}"): {"serverRelativeURL": format!("/openapi/v3/apis/{GROUP_VERSION}?hash={}", docs.catalog_hash)},
        "api/v1": {"serverRelativeURL": format!("/openapi/v3/api/v1?hash={}", docs.core_hash)},
    }}))
}

pub async fn openapi_v3_group(
    Path(path): Path<String>,
    Query(_query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    match path.trim_matches('/') {
        p if p == format!("apis/{GROUP_VERSION}") => json_text(&DOCUMENTS.catalog_v3),
        "api/v1" => json_text(&DOCUMENTS.core_v3),
        other => ApiError::path_not_found(&format!("/openapi/v3/{other}")).into_response(),
    }
}
