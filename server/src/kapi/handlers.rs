//! get, list, create, update, patch, delete (and deletecollection) on one kind, through the
//! store, with the API's checks in front: authorization, shape (`fieldValidation`), admission,
//! `dryRun=All`.

use std::collections::HashMap;

use app::model::Kind;
use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    Ctx, GROUP_VERSION, Target,
    admission::{self, Operation},
    body, schemas,
    status::{ApiError, ApiResult},
    table::{self, Include},
};
use crate::store::{Deleted, FieldCause, LabelSelector, ListQuery, StoreError, object};

pub fn api_version(kind: Kind) -> &'static str {
    if kind == Kind::Secret { "v1" } else { GROUP_VERSION }
}

fn accept(headers: &HeaderMap) -> String {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn wants_yaml(accept: &str) -> bool {
    let first = accept.split(',').next().unwrap_or_default().split(';').next().unwrap_or_default().trim();
    matches!(first, "application/yaml" | "application/x-yaml" | "text/yaml")
}

/// An object (or list) as the client asked for it: JSON, YAML, or a Table row.
fn respond(code: StatusCode, value: &Value, headers: &HeaderMap, warnings: &[String]) -> Response {
    let accept = accept(headers);
    let mut response = if wants_yaml(&accept) {
        match serde_saphyr::to_string(value) {
            Ok(text) => (code, [(header::CONTENT_TYPE, "application/yaml")], text).into_response(),
            Err(e) => return ApiError::internal(format!("cannot write YAML: {e}")).into_response(),
        }
    } else {
        (code, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
    };
    for warning in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - {:?}", warning.replace(['\r', '\n'], " "))) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

fn respond_object(
    kind: Kind,
    code: StatusCode,
    object: &Value,
    request_headers: &HeaderMap,
    query: &HashMap<String, String>,
    warnings: &[String],
) -> Response {
    if table::wants_table(&accept(request_headers)) {
        let include = Include::parse(query.get("includeObject").map(String::as_str));
        let rv = object.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
        let t = table::table(kind, std::slice::from_ref(object), include, true, json!({"resourceVersion": rv}));
        return respond(code, &t, request_headers, warnings);
    }
    respond(code, object, request_headers, warnings)
}

/// `fieldSelector` terms: `metadata.name` and `metadata.namespace` narrow the store's query; any
/// other field path is compared on the objects.
#[derive(Clone, Debug, Default)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(selector: &str) -> ApiResult<FieldSelector> {
        let mut terms = Vec::new();
        for term in selector.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!("invalid field selector {term:?}: expected field=value")));
            };
            let field = field.trim();
            let valid = !field.is_empty()
                && field
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
            if !valid {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn equal_to(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|(f, eq, _)| f == field && *eq).map(|(_, _, v)| v.as_str())
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|(field, equal, wanted)| {
            let found = table::evaluate(&format!(".{field}"), object);
            let text = match &found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (text == *wanted) == *equal
        })
    }
}

/// The store query and the remaining object filter for a list or watch.
pub fn selection(target: &Target, query: &HashMap<String, String>) -> ApiResult<(ListQuery, FieldSelector)> {
    let labels = match query.get("labelSelector") {
        Some(s) => LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => LabelSelector::everything(),
    };
    let fields = FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or_default())?;
    let namespace = target.namespace.clone().or_else(|| {
        target.kind.namespaced().then(|| fields.equal_to("metadata.namespace").map(str::to_string)).flatten()
    });
    let limit = match query.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => match l.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => return Err(ApiError::bad_request(format!("limit {l:?} is not a number"))),
        },
        None => None,
    };
    Ok((
        ListQuery {
            namespace,
            labels,
            name: fields.equal_to("metadata.name").map(str::to_string),
            limit,
            continue_token: query.get("continue").filter(|c| !c.is_empty()).cloned(),
        },
        fields,
    ))
}

pub async fn list(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    ctx.authorize("list", target)?;
    let (list_query, fields) = selection(target, query)?;
    if let Some(ns) = &list_query.namespace
        && target.namespace.is_none()
    {
        ctx.authorize("list", &Target { namespace: Some(ns.clone()), ..target.clone() })?;
    }
    let list = ctx.store.list(target.kind, &list_query).await.map_err(|e| match e {
        StoreError::Invalid { .. } => {
            ApiError::bad_request("the continue token is not valid; list again from the start")
        }
        other => ApiError::from(other),
    })?;
    let shown = admission::catalog_visibility(ctx, target.kind).await?;
    let items: Vec<Value> = list
        .items
        .into_iter()
        .filter(|o| ctx.may_see(target.kind, o) && fields.matches(o))
        .filter(|o| shown.as_ref().is_none_or(|v| v.shows(target.kind, o)))
        .collect();
    if target.kind == Kind::Secret {
        audit_secrets_listed(ctx, &items, "list").await;
    }
    let mut list_meta = json!({"resourceVersion": list.resource_version.to_string()});
    if let Some(token) = list.continue_token {
        list_meta["continue"] = json!(token);
    }
    if table::wants_table(&accept(headers)) {
        let include = Include::parse(query.get("includeObject").map(String::as_str));
        let t = table::table(target.kind, &items, include, true, list_meta);
        return Ok(respond(StatusCode::OK, &t, headers, &[]));
    }
    let list = json!({
        "apiVersion": api_version(target.kind), "kind": format!("{}List", target.kind.as_str()),
        "metadata": list_meta, "items": items,
    });
    Ok(respond(StatusCode::OK, &list, headers, &[]))
}

async fn fetch(ctx: &Ctx, target: &Target) -> ApiResult<Value> {
    let name = target.name.as_deref().unwrap_or_default();
    ctx.store
        .get(target.kind, target.namespace.as_deref().unwrap_or_default(), name)
        .await?
        .ok_or_else(|| ApiError::not_found(target.kind, name))
}

pub async fn get(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    ctx.authorize("get", target)?;
    let object = fetch(ctx, target).await?;
    // A class or plan hidden from the caller's teams is as if it did not exist.
    if let Some(shown) = admission::catalog_visibility(ctx, target.kind).await?
        && !shown.shows(target.kind, &object)
    {
        return Err(ApiError::not_found(target.kind, target.name.as_deref().unwrap_or_default()));
    }
    if target.kind == Kind::Secret {
        ctx.credentials_read(object::namespace(&object), object::name(&object), "get", None).await;
    }
    Ok(respond_object(target.kind, StatusCode::OK, &object, headers, query, &[]))
}

/// A list of Secrets read through the API: one audit entry per namespace it reached.
pub async fn audit_secrets_listed(ctx: &Ctx, items: &[Value], verb: &str) {
    let mut by_namespace: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for item in items {
        by_namespace.entry(object::namespace(item)).or_default().push(object::name(item).to_string());
    }
    for (namespace, names) in by_namespace {
        ctx.credentials_read(namespace, "", verb, Some(names)).await;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

fn field_validation(query: &HashMap<String, String>) -> ApiResult<FieldValidation> {
    match query.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some(other) => {
            Err(ApiError::bad_request(format!("fieldValidation must be Ignore, Warn or Strict, not {other:?}")))
        }
    }
}

fn dry_run(query: &HashMap<String, String>) -> ApiResult<bool> {
    match query.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!("dryRun must be All, not {other:?}"))),
    }
}

/// Brings an incoming object to what the path says (type meta, namespace) and checks its shape
/// against the kind's schema. Returns warnings (unknown fields dropped under `Warn`).
fn shape(kind: Kind, target: &Target, object: &mut Value, query: &HashMap<String, String>) -> ApiResult<Vec<String>> {
    let Some(map) = object.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "the body must be a {kind} object, not a JSON {}",
            type_word(object)
        )));
    };
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != api_version(kind) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                api_version(kind)
            )));
        }
        _ => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != kind.as_str() => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind})"
            )));
        }
        _ => {}
    }
    object::fill_type_meta(kind, object);
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    if let Some(ns) = &target.namespace {
        match object.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(given) if !given.is_empty() && given != ns => {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({given}) does not match the namespace sent on the request ({ns})"
                )));
            }
            _ => object["metadata"]["namespace"] = json!(ns),
        }
    }
    let mode = field_validation(query)?;
    let findings = schemas::check(kind, object, mode != FieldValidation::Strict);
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut causes = findings.invalid;
    if mode == FieldValidation::Strict {
        causes.extend(findings.unknown.iter().map(|field| FieldCause {
            field: field.clone(),
            message: format!("Unknown field: the {kind} schema declares no such field (fieldValidation=Strict)"),
        }));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, &name, &causes));
    }
    Ok(match mode {
        FieldValidation::Warn => findings.unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect(),
        _ => Vec::new(),
    })
}

fn type_word(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_name_matches(target: &Target, object: &Value) -> ApiResult<()> {
    let in_body = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let in_path = target.name.as_deref().unwrap_or_default();
    if in_body != in_path {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({in_body}) does not match the name on the URL ({in_path})"
        )));
    }
    Ok(())
}

pub async fn create(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    request: Request,
) -> ApiResult<Response> {
    ctx.authorize("create", target)?;
    let dry = dry_run(query)?;
    let (parts, body) = request.into_parts();
    let mut object = body::read(body, &parts.headers).await?;
    let warnings = shape(target.kind, target, &mut object, query)?;
    insert(ctx, target.kind, object, dry, &parts.headers, query, warnings).await
}

async fn insert(
    ctx: &Ctx,
    kind: Kind,
    mut object: Value,
    dry: bool,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    warnings: Vec<String>,
) -> ApiResult<Response> {
    if kind != Kind::Secret
        && let Some(map) = object.as_object_mut()
    {
        map.remove("status");
    }
    // The name is known before admission: quotas and approvals are kept per instance name.
    object::apply_generate_name(&mut object);
    if kind == Kind::ServiceInstance {
        // Said as Kubernetes says it, before governance would call the name taken.
        let name = object::name(&object);
        if !name.is_empty() && ctx.store.get(kind, object::namespace(&object), name).await?.is_some() {
            return Err(ApiError::already_exists(kind, name));
        }
    }
    let reservation = admission::admit(ctx, Operation::Create, kind, &mut object, None, dry).await?;
    let created = if dry {
        dry_created(kind, object)?
    } else {
        match ctx.store.create(kind, object).await {
            Ok(created) => created,
            Err(e) => {
                admission::undo(ctx, reservation).await;
                return Err(e.into());
            }
        }
    };
    if !dry {
        tracing::info!(user = %ctx.caller.username, kind = %kind, namespace = %object::namespace(&created),
            name = %object::name(&created), "created through the Kubernetes-style API");
        if kind == Kind::ServiceInstance {
            admission::written(ctx, "instance.create", &created).await;
        }
        broker_changed(ctx, kind, "broker.register", &created).await;
    }
    Ok(respond_object(kind, StatusCode::CREATED, &created, headers, query, &warnings))
}

/// What a create would store, without storing it.
fn dry_created(kind: Kind, mut object: Value) -> ApiResult<Value> {
    object::apply_generate_name(&mut object);
    object::validate_for_write(kind, &object)?;
    object::apply_create_defaults(kind, &mut object);
    object::set_meta(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
    object::set_meta(&mut object, "generation", json!(1));
    object::set_meta(&mut object, "creationTimestamp", json!(object::now_rfc3339()));
    object::remove_meta(&mut object, "resourceVersion");
    Ok(object)
}

pub async fn update(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    request: Request,
) -> ApiResult<Response> {
    ctx.authorize("update", target)?;
    let dry = dry_run(query)?;
    let (parts, body) = request.into_parts();
    let mut object = body::read(body, &parts.headers).await?;
    let warnings = shape(target.kind, target, &mut object, query)?;
    check_name_matches(target, &object)?;
    let existing = fetch(ctx, target).await?;
    let written = write(ctx, target, object, &existing, dry).await?;
    Ok(respond_object(target.kind, StatusCode::OK, &written, &parts.headers, query, &warnings))
}

/// Writes a changed object: the status subresource, or metadata and spec (after admission).
async fn write(ctx: &Ctx, target: &Target, mut object: Value, existing: &Value, dry: bool) -> ApiResult<Value> {
    let kind = target.kind;
    if target.status {
        let mut next = existing.clone();
        next["status"] = object.get("status").cloned().unwrap_or(Value::Null);
        if let Some(rv) = object.pointer("/metadata/resourceVersion") {
            next["metadata"]["resourceVersion"] = rv.clone();
        }
        return if dry { Ok(next) } else { Ok(ctx.store.update_status(kind, next).await?) };
    }
    if kind != Kind::Secret {
        object["status"] = existing.get("status").cloned().unwrap_or(Value::Null);
    }
    let reservation = admission::admit(ctx, Operation::Update, kind, &mut object, Some(existing), dry).await?;
    if dry {
        object::check_immutable(kind, existing, &object)?;
        for field in ["uid", "creationTimestamp", "generation", "deletionTimestamp"] {
            match existing.pointer(&format!("/metadata/{field}")) {
                Some(v) => object::set_meta(&mut object, field, v.clone()),
                None => object::remove_meta(&mut object, field),
            }
        }
        return Ok(object);
    }
    let governed = reservation.is_some();
    let written = match ctx.store.update(kind, object).await {
        Ok(written) => written,
        Err(e) => {
            admission::undo(ctx, reservation).await;
            return Err(e.into());
        }
    };
    tracing::info!(user = %ctx.caller.username, kind = %kind, namespace = %object::namespace(&written),
        name = %object::name(&written), "updated through the Kubernetes-style API");
    if governed {
        admission::written(ctx, "instance.update", &written).await;
    }
    broker_changed(ctx, kind, "broker.update", &written).await;
    Ok(written)
}

/// A broker registered, changed (a relist is a change of `spec.relistRequests`) or removed
/// through the API: in the audit log as when done in the portal.
async fn broker_changed(ctx: &Ctx, kind: Kind, action: &str, broker: &Value) {
    if !matches!(kind, Kind::ClusterServiceBroker | Kind::ServiceBroker) {
        return;
    }
    let detail = json!({"url": broker.pointer("/spec/url"), "via": "kubernetes-api"});
    crate::governance::audit::record_or_warn(
        ctx.gov.db(),
        crate::governance::AuditRecord::by(
            &ctx.caller,
            action,
            object::namespace(broker),
            object::name(broker),
            detail,
        ),
    )
    .await;
}

/// Applies a patch of the given media type to `document`.
fn apply_patch(media: &str, document: &mut Value, patch: Value) -> ApiResult<()> {
    match media {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/apply-patch+yaml" => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(document, &patch);
            Ok(())
        }
        "application/json-patch+json" => {
            let operations: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is not valid: {e}")))?;
            json_patch::patch(document, &operations).map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    format!("the JSON patch cannot be applied: {e}"),
                )
            })
        }
        other => Err(ApiError::unsupported_media_type(if other.is_empty() { "(no Content-Type)" } else { other })),
    }
}

pub async fn patch(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    request: Request,
) -> ApiResult<Response> {
    ctx.authorize("patch", target)?;
    let dry = dry_run(query)?;
    let (parts, body) = request.into_parts();
    let media = body::content_type(&parts.headers);
    let apply = media == "application/apply-patch+yaml";
    if apply && query.get("fieldManager").is_none_or(String::is_empty) {
        return Err(ApiError::bad_request("PATCH with server-side apply needs a fieldManager"));
    }
    let patch = body::read(body, &parts.headers).await?;
    for attempt in 0..5 {
        let existing = match fetch(ctx, target).await {
            Ok(existing) => existing,
            // Server-side apply creates what is not there yet.
            Err(e) if apply && e.code == StatusCode::NOT_FOUND && !target.status => {
                ctx.authorize("create", target)?;
                let mut object = patch.clone();
                let warnings = shape(target.kind, target, &mut object, query)?;
                check_name_matches(target, &object)?;
                return insert(ctx, target.kind, object, dry, &parts.headers, query, warnings).await;
            }
            Err(e) => return Err(e),
        };
        let mut document = existing.clone();
        apply_patch(&media, &mut document, patch.clone())?;
        let claimed_rv = patch.pointer("/metadata/resourceVersion").is_some();
        if !claimed_rv {
            document["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"].clone();
        }
        let warnings = shape(target.kind, target, &mut document, query)?;
        check_name_matches(target, &document)?;
        match write(ctx, target, document, &existing, dry).await {
            // Nobody asked for this version: read again and re-apply, as an API server does.
            Err(e) if e.reason == "Conflict" && !claimed_rv && attempt < 4 => continue,
            Err(e) => return Err(e),
            Ok(written) => {
                return Ok(respond_object(target.kind, StatusCode::OK, &written, &parts.headers, query, &warnings));
            }
        }
    }
    Err(ApiError::conflict(
        target.kind,
        target.name.as_deref().unwrap_or_default(),
        "the object keeps changing; try again",
    ))
}

/// `DeleteOptions` preconditions and dry run.
async fn delete_options(request: Request) -> ApiResult<(Option<String>, Option<String>, bool)> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::bad_request("the DeleteOptions body is too large"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None, false));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the request body is not UTF-8 text"))?;
    let options = if body::content_type(&parts.headers).contains("yaml") {
        body::parse_yaml(text)?
    } else {
        body::parse_json(text)?
    };
    let string = |p: &str| options.pointer(p).and_then(Value::as_str).map(str::to_string);
    let dry = options.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok((string("/preconditions/uid"), string("/preconditions/resourceVersion"), dry))
}

pub async fn delete(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    request: Request,
) -> ApiResult<Response> {
    ctx.authorize("delete", target)?;
    let headers = request.headers().clone();
    let (uid, rv, dry_in_body) = delete_options(request).await?;
    let dry = dry_run(query)? || dry_in_body;
    let existing = fetch(ctx, target).await?;
    let name = target.name.as_deref().unwrap_or_default();
    if let Some(uid) = &uid
        && uid != object::uid(&existing)
    {
        return Err(ApiError::conflict(
            target.kind,
            name,
            &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", object::uid(&existing)),
        ));
    }
    if let Some(rv) = &rv
        && Some(rv.as_str()) != existing.pointer("/metadata/resourceVersion").and_then(Value::as_str)
    {
        return Err(ApiError::conflict(
            target.kind,
            name,
            "Precondition failed: the resourceVersion in the precondition does not match",
        ));
    }
    if dry {
        return Ok(respond(StatusCode::OK, &existing, &headers, &[]));
    }
    let instance = target.kind == Kind::ServiceInstance;
    if instance {
        admission::admit_delete(ctx, &existing, false).await?;
    }
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let deleted = ctx.store.delete(target.kind, namespace, name, Some(object::uid(&existing))).await?;
    tracing::info!(user = %ctx.caller.username, kind = %target.kind, namespace, name, "deleted through the Kubernetes-style API");
    if instance && object::meta_str(&existing, "deletionTimestamp").is_none() {
        admission::released(ctx, namespace, name).await;
    }
    broker_changed(ctx, target.kind, "broker.delete", &existing).await;
    if target.kind == Kind::Secret {
        ctx.credentials_read(namespace, name, "delete", None).await;
    }
    let (code, object) = match deleted {
        Deleted::Gone(object) => (StatusCode::OK, object),
        Deleted::Pending(object) => (StatusCode::OK, object),
    };
    Ok(respond(code, &object, &headers, &[]))
}

pub async fn delete_collection(
    ctx: &Ctx,
    target: &Target,
    query: &HashMap<String, String>,
    request: Request,
) -> ApiResult<Response> {
    ctx.authorize("deletecollection", target)?;
    let headers = request.headers().clone();
    let (_, _, dry_in_body) = delete_options(request).await?;
    let dry = dry_run(query)? || dry_in_body;
    let (mut list_query, fields) = selection(target, query)?;
    list_query.limit = None;
    list_query.continue_token = None;
    let items = ctx.store.list(target.kind, &list_query).await?.items;
    let mut deleted = Vec::new();
    for item in items.into_iter().filter(|o| ctx.may_see(target.kind, o) && fields.matches(o)) {
        if dry {
            deleted.push(item);
            continue;
        }
        let instance = target.kind == Kind::ServiceInstance && object::meta_str(&item, "deletionTimestamp").is_none();
        if instance {
            match admission::admit_delete(ctx, &item, false).await {
                Ok(()) => {}
                // Held for approval: it stays until an admin approves.
                Err(e) if e.code == StatusCode::ACCEPTED => continue,
                Err(e) => return Err(e),
            }
        }
        match ctx
            .store
            .delete(target.kind, object::namespace(&item), object::name(&item), Some(object::uid(&item)))
            .await
        {
            Ok(Deleted::Gone(o) | Deleted::Pending(o)) => {
                if instance {
                    admission::released(ctx, object::namespace(&o), object::name(&o)).await;
                }
                deleted.push(o);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if target.kind == Kind::Secret && !deleted.is_empty() {
        // The answer carries the deleted Secrets' data.
        audit_secrets_listed(ctx, &deleted, "deletecollection").await;
    }
    let list = json!({
        "apiVersion": api_version(target.kind), "kind": format!("{}List", target.kind.as_str()),
        "metadata": {}, "items": deleted,
    });
    Ok(respond(StatusCode::OK, &list, &headers, &[]))
}
