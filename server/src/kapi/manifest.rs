//! Manifests for people: an instance or binding as YAML one can keep and apply again (without
//! what the server fills in), and applying a pasted manifest with the same checks kubectl gets.

use std::collections::HashMap;

use app::model::Kind;
use axum::{
    body::Body,
    extract::{Path, Query, Request, State},
    http::{Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    Ctx, Target, handlers,
    status::{ApiError, ApiResult},
};
use crate::{app_state::AppState, auth::Principal};
use app::{
    api::{Rejection, manifests::ManifestApplied},
    port::{PortError, PortResult},
};

/// What a user writes: type, name, namespace, labels, annotations and spec — not the ids,
/// versions, status and bookkeeping the server and the controller add.
pub fn clean(kind: Kind, object: &Value) -> Value {
    let meta = object.get("metadata").cloned().unwrap_or(json!({}));
    let mut metadata = json!({"name": meta.get("name").cloned().unwrap_or(Value::Null)});
    if kind.namespaced() {
        metadata["namespace"] = meta.get("namespace").cloned().unwrap_or(Value::Null);
    }
    if let Some(labels) = meta.get("labels").filter(|l| l.as_object().is_some_and(|m| !m.is_empty())) {
        metadata["labels"] = labels.clone();
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        let kept: serde_json::Map<String, Value> = annotations
            .iter()
            .filter(|(k, _)| k.as_str() != "kubectl.kubernetes.io/last-applied-configuration")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            metadata["annotations"] = Value::Object(kept);
        }
    }
    let mut manifest = json!({"apiVersion": handlers::api_version(kind), "kind": kind.as_str(), "metadata": metadata});
    if let Some(spec) = object.get("spec").and_then(Value::as_object) {
        let mut spec = spec.clone();
        for field in [
            "externalID",
            "userInfo",
            "clusterServiceClassRef",
            "clusterServicePlanRef",
            "serviceClassRef",
            "servicePlanRef",
            "updateRequests",
        ] {
            spec.remove(field);
        }
        spec.retain(|_, v| !v.is_null());
        manifest["spec"] = Value::Object(spec);
    }
    manifest
}

pub fn to_yaml(value: &Value) -> ApiResult<String> {
    serde_saphyr::to_string(value).map_err(|e| ApiError::internal(format!("cannot write YAML: {e}")))
}

/// The manifest of an instance or binding the caller may see.
pub async fn manifest(ctx: &Ctx, kind: Kind, namespace: &str, name: &str) -> ApiResult<String> {
    let target = Target { kind, namespace: Some(namespace.to_string()), name: Some(name.to_string()), status: false };
    ctx.authorize("get", &target)?;
    let object = ctx.store.get(kind, namespace, name).await?.ok_or_else(|| ApiError::not_found(kind, name))?;
    to_yaml(&clean(kind, &object))
}

/// One object of an applied manifest and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `created`, `configured` or `unchanged` (kubectl's words).
    pub action: String,
}

/// Applies one or more YAML (or JSON) documents: creates what is missing, merges the rest, with
/// strict field validation — what `kubectl apply` does, minus the three-way diff. Stops at the
/// first document refused (earlier ones stay applied, as with kubectl).
pub async fn apply(ctx: &Ctx, text: &str) -> ApiResult<Vec<Applied>> {
    if text.len() > super::MAX_BODY_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "the manifest is too large"));
    }
    let documents: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| ApiError::bad_request(format!("the manifest is not valid YAML: {e}")))?;
    let documents: Vec<Value> = documents.into_iter().filter(|d| !d.is_null()).collect();
    if documents.is_empty() {
        return Err(ApiError::bad_request("the manifest is empty: paste a ServiceInstance or ServiceBinding"));
    }
    let mut applied = Vec::new();
    for document in documents {
        applied.push(apply_one(ctx, document).await?);
    }
    Ok(applied)
}

async fn apply_one(ctx: &Ctx, mut document: Value) -> ApiResult<Applied> {
    let kind_name = document.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = Kind::parse(&kind_name)
        .filter(|k| matches!(k, Kind::ServiceInstance | Kind::ServiceBinding))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "kind {kind_name:?} cannot be applied here: the portal applies ServiceInstance and ServiceBinding"
            ))
        })?;
    let name = document.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let namespace = match document.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() => ns.to_string(),
        // One team: its namespace is the obvious default.
        _ => match ctx.caller.namespaces.as_deref() {
            Some([only]) => only.clone(),
            _ => {
                return Err(ApiError::invalid_field(
                    kind,
                    &name,
                    "metadata.namespace",
                    "Required value: the team namespace",
                ));
            }
        },
    };
    document["metadata"]["namespace"] = json!(namespace);
    let query: HashMap<String, String> = [("fieldValidation".to_string(), "Strict".to_string())].into();
    let body = Body::from(document.to_string());
    let existing = if name.is_empty() { None } else { ctx.store.get(kind, &namespace, &name).await? };
    let (result, action) = match &existing {
        None => {
            let target = Target { kind, namespace: Some(namespace.clone()), name: None, status: false };
            let request = json_request(Method::POST, "application/json", body)?;
            (handlers::create(ctx, &target, &query, request).await, "created")
        }
        Some(_) => {
            let target = Target { kind, namespace: Some(namespace.clone()), name: Some(name.clone()), status: false };
            let request = json_request(Method::PATCH, "application/merge-patch+json", body)?;
            (handlers::patch(ctx, &target, &query, request).await, "configured")
        }
    };
    let response = match result {
        Ok(response) => response,
        // Held for approval: nothing written yet.
        Err(e) if e.code == StatusCode::ACCEPTED => {
            return Ok(Applied { kind: kind.as_str().to_string(), namespace, name, action: "pending approval".into() });
        }
        Err(e) => return Err(e),
    };
    let bytes = axum::body::to_bytes(response.into_body(), super::MAX_BODY_BYTES)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let written: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(e.to_string()))?;
    // What the manifest can set, compared by content: the controller may write status (and so a
    // new resourceVersion) between the read above and the patch.
    let settable = |v: &Value| {
        (v.get("spec").cloned(), v.pointer("/metadata/labels").cloned(), v.pointer("/metadata/annotations").cloned())
    };
    let unchanged = existing.as_ref().is_some_and(|e| settable(e) == settable(&written));
    Ok(Applied {
        kind: kind.as_str().to_string(),
        namespace,
        name: written.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(&name).to_string(),
        action: if unchanged { "unchanged" } else { action }.to_string(),
    })
}

/// [`apply`] for the portal's UI: refusals become form rejections with one line per field.
pub async fn apply_for_portal(
    store: std::sync::Arc<dyn crate::store::ResourceStore>,
    gov: crate::governance::Governance,
    caller: &app::api::Caller,
    text: &str,
) -> PortResult<Vec<ManifestApplied>> {
    let ctx = Ctx::new(store, gov, caller.clone());
    match apply(&ctx, text).await {
        Ok(applied) => Ok(applied
            .into_iter()
            .map(|a| ManifestApplied { kind: a.kind, namespace: a.namespace, name: a.name, action: a.action })
            .collect()),
        Err(e) => Err(match e.code {
            StatusCode::FORBIDDEN => PortError::Forbidden(e.message),
            StatusCode::NOT_FOUND => PortError::NotFound(e.message),
            StatusCode::CONFLICT if e.reason == "Conflict" => PortError::Conflict(e.message),
            code if code.is_client_error() => {
                let causes = e.details.as_ref().and_then(|d| d.get("causes")).and_then(Value::as_array);
                let inputs = causes
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let field = c.get("field").and_then(Value::as_str).unwrap_or_default().to_string();
                        (field, c.get("message").and_then(Value::as_str).unwrap_or_default().to_string())
                    })
                    .collect();
                PortError::Rejected(Rejection { message: e.message, fields: Default::default(), inputs })
            }
            _ => PortError::Unavailable(e.message),
        }),
    }
}

fn json_request(method: Method, content_type: &str, body: Body) -> ApiResult<Request> {
    Request::builder()
        .method(method)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Who is asking, for the portal's own (non-kubectl) routes: the signed-in principal, else the
/// UI's authentication seam.
fn ui_ctx(state: &AppState, parts: &Parts) -> Result<Ctx, ApiError> {
    let caller = match parts.extensions.get::<Option<Principal>>() {
        Some(Some(principal)) => {
            Some(app::api::Caller { source: app::port::source_of(Some(parts)), ..principal.caller() })
        }
        _ => app::port::caller_of(Some(parts)),
    };
    let caller = caller.ok_or_else(|| ApiError::unauthorized("sign in to the portal first"))?;
    Ok(Ctx::new(state.store.clone(), state.governance.clone(), caller))
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    pub download: Option<String>,
}

/// `GET /manifests/{plural}/{namespace}/{name}[?download=1]`: the manifest as text, or as a file.
pub async fn get_manifest(
    State(state): State<AppState>,
    Path((plural, namespace, name)): Path<(String, String, String)>,
    Query(query): Query<DownloadQuery>,
    parts: Parts,
) -> Response {
    let Some(kind) = Kind::from_plural(&plural).filter(|k| matches!(k, Kind::ServiceInstance | Kind::ServiceBinding))
    else {
        return ApiError::path_not_found(&format!("/manifests/{plural}")).into_response();
    };
    let ctx = match ui_ctx(&state, &parts) {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    match manifest(&ctx, kind, &namespace, &name).await {
        Ok(yaml) => {
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
                yaml,
            )
                .into_response();
            if query.download.is_some_and(|d| d != "0") {
                let file = format!("attachment; filename=\"{}-{name}.yaml\"", kind.as_str().to_lowercase());
                if let Ok(value) = header::HeaderValue::from_str(&file) {
                    response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
                }
            }
            response
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /manifests/apply` with a YAML body: what [`apply`] did, as JSON, or a `Status`.
pub async fn post_apply(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let ctx = match ui_ctx(&state, &parts) {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let bytes = match axum::body::to_bytes(body, super::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "the manifest is too large")
                .into_response();
        }
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return ApiError::bad_request("the manifest is not UTF-8 text").into_response();
    };
    match apply(&ctx, text).await {
        Ok(applied) => axum::Json(applied).into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_leaves_out_what_the_server_fills_in() {
        let object = json!({
            "apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceInstance",
            "metadata": {"name": "a", "namespace": "team-a", "uid": "u", "resourceVersion": "5", "finalizers": ["x"],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}, "labels": {"app": "x"}},
            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared",
                     "externalID": "id", "userInfo": {"username": "alice"}, "parameters": {"q": 1}},
            "status": {"conditions": []}
        });
        let clean = clean(Kind::ServiceInstance, &object);
        assert_eq!(
            clean,
            json!({
                "apiVersion": "servicecatalog.k8s.io/v1beta1", "kind": "ServiceInstance",
                "metadata": {"name": "a", "namespace": "team-a", "labels": {"app": "x"}},
                "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared", "parameters": {"q": 1}}
            })
        );
    }
}
