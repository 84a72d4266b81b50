//! The portal's REST/JSON API (`/rest/v1/…`) for the records no Kubernetes kind holds: approval
//! requests and their decisions, team quotas, plan visibility, approval policies and the audit
//! log. Documented by an OpenAPI document ([`ApiDoc`], served at `/rest/v1/openapi.json`, with a
//! small page at `/rest/v1/docs`).
//!
//! Every handler answers through the same [`Portal`](app::port::Portal) calls the UI's server
//! functions make, with the same [`Caller`] (API token or session, put into the request by the
//! guards in `crate::http::auth`): the authorization and governance rules live in
//! `crate::portal` and `crate::governance` only. Errors are JSON ([`ErrorBody`]) with the HTTP
//! status that fits: 400 (malformed body or query, naming the field), 401, 403, 404, 409, 413,
//! 415, 422 (the portal's rules refuse it), 503.

use app::{
    api::{
        Caller,
        governance::{
            ApprovalRequest, ApprovalState, ApprovalsView, Approver, AuditEntry, AuditFilter, Decision,
            GovernanceChange, Metric, Operation, Policy, QuotaLimit, QuotaLine, QuotaView, Rule, Visibility,
        },
    },
    port::{NOT_SIGNED_IN, PortError, PortalHandle, caller_of},
};
use axum::{
    Extension, Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State},
    http::{StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use crate::{app_state::AppState, http::audit_export};

/// Where the API lives.
pub const PREFIX: &str = "/rest/v1";
/// The largest request body accepted (the bodies are small records).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API's routes, to be merged into the portal's router (behind its guards).
pub fn router(portal: PortalHandle) -> Router<AppState> {
    Router::new()
        .route("/rest/v1/openapi.json", get(openapi_json))
        .route("/rest/v1/docs", get(docs_page))
        .route("/rest/v1/approvals", get(list_approvals))
        .route("/rest/v1/approvals/{id}", get(get_approval))
        .route("/rest/v1/approvals/{id}/approve", post(approve))
        .route("/rest/v1/approvals/{id}/reject", post(reject))
        .route("/rest/v1/teams/{team}/quotas", get(get_quota).put(put_quota).delete(delete_quota))
        .route("/rest/v1/visibility", get(list_visibility).post(add_visibility).delete(remove_visibility))
        .route("/rest/v1/policies", get(list_policies).put(put_policy))
        .route("/rest/v1/policies/{id}", delete(delete_policy))
        .route("/rest/v1/audit", get(audit))
        .route("/rest/v1/audit/export", get(audit_export_route))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(portal))
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quartermaster REST API",
        description = "The portal's records that no Kubernetes kind holds: approvals, quotas, plan visibility, \
                       approval policies and the audit log. Authenticate with an API token of the portal \
                       (`Authorization: Bearer qm_…`, made under Account → API tokens) or the browser's session \
                       (cookie writes need the portal's `Origin`). Instances, bindings and their Secrets are served \
                       by the Kubernetes-style API (`/apis/servicecatalog.k8s.io/v1beta1`, see docs/kubectl.md)."
    ),
    paths(
        list_approvals, get_approval, approve, reject, get_quota, put_quota, delete_quota, list_visibility,
        add_visibility, remove_visibility, list_policies, put_policy, delete_policy, audit, audit_export_route,
        openapi_json, docs_page
    ),
    components(schemas(
        ErrorBody, ApprovalsView, ApprovalRequest, ApprovalState, Approver, Operation, QuotaView, QuotaLine, QuotaLimit,
        Metric, Visibility, Policy, Rule, AuditEntry, ApproveBody, RejectBody, QuotaBody, PolicyBody
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "approvals", description = "Requests held for an admin's decision"),
        (name = "quotas", description = "Team quotas and their use"),
        (name = "visibility", description = "Which teams see which services and plans"),
        (name = "policies", description = "When requests need approval"),
        (name = "audit", description = "The audit log (platform admins)"),
        (name = "meta", description = "This document")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token of the portal (qm_…)"))
                    .build(),
            ),
        );
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("qm_session"))));
    }
}

// ---------------------------------------------------------------------------------------------
// Errors, the caller and bodies.

/// An error: the HTTP status again, a reason word, a sentence, and where the problem is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status code.
    pub status: u16,
    /// `BadRequest`, `Unauthorized`, `Forbidden`, `NotFound`, `Conflict`, `PayloadTooLarge`,
    /// `UnsupportedMediaType`, `Rejected`, `Unavailable`.
    pub reason: String,
    pub message: String,
    /// The body's or query's field at fault (a path such as `reason` or `max`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Problems by the JSON pointer of a parameter, or by input name (refusals of the rules).
    #[serde(skip_serializing_if = "Value::is_null")]
    #[schema(value_type = Object)]
    pub fields: Value,
}

#[derive(Debug)]
pub struct RestError(StatusCode, Box<ErrorBody>);

impl RestError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let reason = match status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLarge",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaType",
            StatusCode::UNPROCESSABLE_ENTITY => "Rejected",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "Error",
        };
        Self(
            status,
            Box::new(ErrorBody {
                status: status.as_u16(),
                reason: reason.into(),
                message: message.into(),
                field: None,
                fields: Value::Null,
            }),
        )
    }

    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, message);
        e.1.field = Some(field.into());
        e
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            format!("{NOT_SIGNED_IN} The REST API takes an API token of the portal: Authorization: Bearer qm_…"),
        )
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<PortError> for RestError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Unavailable(m) => Self::new(StatusCode::SERVICE_UNAVAILABLE, m),
            PortError::NotFound(m) => Self::new(StatusCode::NOT_FOUND, m),
            PortError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, m),
            PortError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            PortError::Rejected(r) => {
                let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, r.message.clone());
                if !r.fields.is_empty() || !r.inputs.is_empty() {
                    e.1.fields = serde_json::json!({"parameters": r.fields, "inputs": r.inputs});
                }
                e
            }
        }
    }
}

type RestResult<T> = Result<T, RestError>;

/// The signed-in caller (API token or session); 401 without one.
pub struct Who(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, RestError> {
        caller_of(Some(parts)).map(Who).ok_or_else(RestError::unauthorized)
    }
}

/// A JSON body; an empty body reads as `{}`. A malformed one is a 400 naming the field, a too
/// large one a 413, one of another media type a 415.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = RestError;

    async fn from_request(request: Request, state: &S) -> Result<Self, RestError> {
        let content_type =
            request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!("The request body is too large (at most {MAX_BODY_BYTES} bytes).")
            } else {
                format!("The request body cannot be read: {}", rejection.body_text())
            };
            RestError::new(status, message)
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if !(media.is_empty() || media == "application/json" || media.ends_with("+json")) {
            return Err(RestError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("The body must be JSON (Content-Type: application/json), not {media:?}."),
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let inner = e.inner().to_string();
            let path = e.path().to_string();
            let field = if path == "." {
                // A missing or unknown field at the top is named in serde's sentence.
                inner.split('`').nth(1).unwrap_or("").to_string()
            } else {
                path
            };
            RestError::bad_field(field.clone(), format!("Malformed request body at {field:?}: {inner}"))
        })?;
        Ok(Body(value))
    }
}

/// A query string, its errors as 400s naming the parameter.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, RestError> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query).map(Params).map_err(|e| {
            let message = e.to_string();
            let field = message.split('`').nth(1).unwrap_or("").to_string();
            RestError::bad_field(field, format!("Malformed query string: {message}"))
        })
    }
}

fn parse_id(raw: &str) -> RestResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| RestError::bad_field("id", format!("{raw:?} is not an approval request id (a number).")))
}

// ---------------------------------------------------------------------------------------------
// Approvals.

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApprovalsQuery {
    /// `pending` (waiting for a decision) or `decided`; both when absent.
    pub state: Option<String>,
}

/// Approval requests: those waiting that the caller may decide or asked for, and recent decisions
/// of the caller's teams (`decidable` lists the ids the caller may decide).
#[utoipa::path(get, path = "/rest/v1/approvals", tag = "approvals", params(ApprovalsQuery),
    responses((status = 200, body = ApprovalsView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn list_approvals(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Params(query): Params<ApprovalsQuery>,
) -> RestResult<Json<ApprovalsView>> {
    let mut view = portal.approvals(&caller).await?;
    match query.state.as_deref() {
        None | Some("") => {}
        Some("pending") => view.decided.clear(),
        Some("decided") => view.pending.clear(),
        Some(other) => {
            return Err(RestError::bad_field("state", format!("Unknown state {other:?}: use pending or decided.")));
        }
    }
    Ok(Json(view))
}

/// The request `id` as the caller sees it (404 when it is not the caller's to see).
async fn find_request(portal: &PortalHandle, caller: &Caller, id: i64) -> RestResult<ApprovalRequest> {
    let view = portal.approvals(caller).await?;
    view.pending.into_iter().chain(view.decided).find(|r| r.id == id).ok_or_else(|| {
        RestError::new(
            StatusCode::NOT_FOUND,
            format!("There is no approval request #{id} that you ({}) may see.", caller.username),
        )
    })
}

/// One approval request.
#[utoipa::path(get, path = "/rest/v1/approvals/{id}", tag = "approvals",
    params(("id" = i64, Path, description = "The request's id")),
    responses((status = 200, body = ApprovalRequest), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_approval(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> RestResult<Json<ApprovalRequest>> {
    Ok(Json(find_request(&portal, &caller, parse_id(&id)?).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ApproveBody {
    /// An optional note for the requester.
    pub comment: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why: shown to the requester and kept in the audit log.
    pub reason: String,
}

async fn decide(
    portal: PortalHandle,
    caller: Caller,
    id: &str,
    approve: bool,
    comment: String,
) -> RestResult<Response> {
    let id = parse_id(id)?;
    // Deciding a request one may not see is a 404 (the portal's decide answers 403 for a request
    // of another team, which would tell it exists); one already decided is a conflict.
    let before = match find_request(&portal, &caller, id).await {
        Ok(request) => request,
        Err(e) if e.0 == StatusCode::NOT_FOUND && !caller.platform_admin && caller.admin_of.is_empty() => {
            return Err(RestError::new(
                StatusCode::FORBIDDEN,
                format!("{} may not decide requests: only team admins and platform admins may.", caller.username),
            ));
        }
        Err(e) => return Err(e),
    };
    if before.state != ApprovalState::Pending {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            format!("Request #{id} was already decided ({}).", before.state.as_str()),
        ));
    }
    portal.decide(&caller, Decision { id, approve, comment }).await?;
    let after = find_request(&portal, &caller, id).await?;
    Ok(Json(after).into_response())
}

/// Approves a pending request; the portal then carries it out as the requester asked (the
/// answer's `state` is `approved`, or `failed` with the reason in `comment`).
#[utoipa::path(post, path = "/rest/v1/approvals/{id}/approve", tag = "approvals",
    params(("id" = i64, Path, description = "The request's id")), request_body(content = ApproveBody, description = "Optional; `{}` or no body"),
    responses((status = 200, body = ApprovalRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn approve(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(id): Path<String>,
    Body(body): Body<ApproveBody>,
) -> RestResult<Response> {
    decide(portal, caller, &id, true, body.comment).await
}

/// Rejects a pending request, with a reason for the requester.
#[utoipa::path(post, path = "/rest/v1/approvals/{id}/reject", tag = "approvals",
    params(("id" = i64, Path, description = "The request's id")), request_body = RejectBody,
    responses((status = 200, body = ApprovalRequest), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn reject(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(id): Path<String>,
    Body(body): Body<RejectBody>,
) -> RestResult<Response> {
    if body.reason.trim().is_empty() {
        return Err(RestError::bad_field("reason", "Give a reason for the rejection (the requester sees it)."));
    }
    decide(portal, caller, &id, false, body.reason).await
}

// ---------------------------------------------------------------------------------------------
// Quotas.

/// A team's quotas and what is used of them (members of the team and platform admins).
#[utoipa::path(get, path = "/rest/v1/teams/{team}/quotas", tag = "quotas",
    params(("team" = String, Path, description = "The team (its namespace)")),
    responses((status = 200, body = QuotaView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn get_quota(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(team): Path<String>,
) -> RestResult<Json<QuotaView>> {
    Ok(Json(portal.quota(&caller, &team).await?))
}

/// One limit of a team (the team comes from the path).
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuotaBody {
    /// `Count` (instances) or `Sum` (the total of a numeric parameter).
    pub metric: Metric,
    /// Class external name; empty: every class (sums only).
    #[serde(default)]
    pub class: String,
    /// Plan external name; empty: every plan.
    #[serde(default)]
    pub plan: String,
    /// For sums: the parameter added up.
    #[serde(default)]
    pub parameter: String,
    /// The limit (ignored when deleting).
    #[serde(default)]
    pub max: f64,
}

impl QuotaBody {
    fn limit(self, team: String) -> QuotaLimit {
        QuotaLimit {
            team,
            metric: self.metric,
            class: self.class,
            plan: self.plan,
            parameter: self.parameter,
            max: self.max,
        }
    }
}

/// Sets (adds or replaces) one limit of a team (platform admins); answers the team's quotas.
#[utoipa::path(put, path = "/rest/v1/teams/{team}/quotas", tag = "quotas",
    params(("team" = String, Path, description = "The team (its namespace)")), request_body = QuotaBody,
    responses((status = 200, body = QuotaView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_quota(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(team): Path<String>,
    Body(body): Body<QuotaBody>,
) -> RestResult<Json<QuotaView>> {
    portal.change_governance(&caller, GovernanceChange::PutQuota(body.limit(team.clone()))).await?;
    Ok(Json(portal.quota(&caller, &team).await?))
}

/// Removes one limit of a team (platform admins), named by the query; answers the team's quotas.
#[utoipa::path(delete, path = "/rest/v1/teams/{team}/quotas", tag = "quotas",
    params(("team" = String, Path, description = "The team (its namespace)"), QuotaBody),
    responses((status = 200, body = QuotaView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn delete_quota(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(team): Path<String>,
    Params(query): Params<QuotaBody>,
) -> RestResult<Json<QuotaView>> {
    portal.change_governance(&caller, GovernanceChange::DeleteQuota(query.limit(team.clone()))).await?;
    Ok(Json(portal.quota(&caller, &team).await?))
}

// ---------------------------------------------------------------------------------------------
// Visibility and policies (what the governance screens edit).

/// Which teams may see which services and plans (a class or plan with no rule is public).
/// Platform admins; a team admin gets an empty list.
#[utoipa::path(get, path = "/rest/v1/visibility", tag = "visibility",
    responses((status = 200, body = Vec<Visibility>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_visibility(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
) -> RestResult<Json<Vec<Visibility>>> {
    Ok(Json(portal.governance(&caller).await?.visibility))
}

/// Lets a team see a class (`plan` empty) or one plan (platform admins); answers every rule.
#[utoipa::path(post, path = "/rest/v1/visibility", tag = "visibility", request_body = Visibility,
    responses((status = 200, body = Vec<Visibility>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_visibility(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Body(rule): Body<Visibility>,
) -> RestResult<Json<Vec<Visibility>>> {
    portal.change_governance(&caller, GovernanceChange::PutVisibility(rule)).await?;
    Ok(Json(portal.governance(&caller).await?.visibility))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisibilityQuery {
    pub class: String,
    #[serde(default)]
    pub plan: String,
    pub team: String,
}

/// Removes one visibility rule, named by the query (platform admins); answers every rule.
#[utoipa::path(delete, path = "/rest/v1/visibility", tag = "visibility", params(VisibilityQuery),
    responses((status = 200, body = Vec<Visibility>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn remove_visibility(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Params(q): Params<VisibilityQuery>,
) -> RestResult<Json<Vec<Visibility>>> {
    let rule = Visibility { class: q.class, plan: q.plan, team: q.team };
    portal.change_governance(&caller, GovernanceChange::DeleteVisibility(rule)).await?;
    Ok(Json(portal.governance(&caller).await?.visibility))
}

/// When requests need approval, and by whom (platform admins; a team admin gets an empty list).
#[utoipa::path(get, path = "/rest/v1/policies", tag = "policies",
    responses((status = 200, body = Vec<Policy>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_policies(Extension(portal): Extension<PortalHandle>, Who(caller): Who) -> RestResult<Json<Vec<Policy>>> {
    Ok(Json(portal.governance(&caller).await?.policies))
}

/// An approval policy (`id` 0 adds one, another id replaces that one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    #[serde(default)]
    pub id: i64,
    pub class: String,
    #[serde(default)]
    pub plan: String,
    pub operation: Operation,
    pub rule: Rule,
    #[serde(default)]
    pub approver: Approver,
}

/// Adds or replaces an approval policy (platform admins); answers every policy.
#[utoipa::path(put, path = "/rest/v1/policies", tag = "policies", request_body = PolicyBody,
    responses((status = 200, body = Vec<Policy>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_policy(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Body(p): Body<PolicyBody>,
) -> RestResult<Json<Vec<Policy>>> {
    let policy =
        Policy { id: p.id, class: p.class, plan: p.plan, operation: p.operation, rule: p.rule, approver: p.approver };
    portal.change_governance(&caller, GovernanceChange::PutPolicy(policy)).await?;
    Ok(Json(portal.governance(&caller).await?.policies))
}

/// Removes an approval policy (platform admins); answers every policy.
#[utoipa::path(delete, path = "/rest/v1/policies/{id}", tag = "policies",
    params(("id" = i64, Path, description = "The policy's id")),
    responses((status = 200, body = Vec<Policy>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_policy(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Path(id): Path<String>,
) -> RestResult<Json<Vec<Policy>>> {
    let id = id.parse::<i64>().map_err(|_| RestError::bad_field("id", format!("{id:?} is not a policy id.")))?;
    let policies = portal.governance(&caller).await?.policies;
    if !policies.iter().any(|p| p.id == id) && caller.platform_admin {
        return Err(RestError::new(StatusCode::NOT_FOUND, format!("There is no approval policy #{id}.")));
    }
    portal.change_governance(&caller, GovernanceChange::DeletePolicy(id)).await?;
    Ok(Json(portal.governance(&caller).await?.policies))
}

// ---------------------------------------------------------------------------------------------
// Audit.

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Who acted (a username).
    pub actor: String,
    /// An action or a prefix of one: `instance.` matches every instance action.
    pub action: String,
    pub team: String,
    /// RFC 3339 timestamp or date (YYYY-MM-DD).
    pub since: String,
    pub until: String,
    /// For the export: `csv` (the default) or `json`.
    pub format: String,
}

impl AuditQuery {
    fn filter(self) -> AuditFilter {
        AuditFilter { actor: self.actor, action: self.action, team: self.team, since: self.since, until: self.until }
    }
}

/// The audit log, newest first (at most 500 events; the export has more), filtered (platform admins).
#[utoipa::path(get, path = "/rest/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn audit(
    Extension(portal): Extension<PortalHandle>,
    Who(caller): Who,
    Params(query): Params<AuditQuery>,
) -> RestResult<Json<Vec<AuditEntry>>> {
    if !query.format.is_empty() {
        return Err(RestError::bad_field("format", "format is for /rest/v1/audit/export; this answers JSON."));
    }
    portal.audit(&caller, query.filter()).await.map(Json).map_err(|e| match e {
        PortError::Rejected(r) => RestError::new(StatusCode::BAD_REQUEST, r.message),
        other => other.into(),
    })
}

/// The audit log as a download (CSV or JSON), with the same filters (platform admins). The export
/// itself is recorded in the audit log.
#[utoipa::path(get, path = "/rest/v1/audit/export", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "The events (attachment)", content_type = "text/csv", body = String),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit_export_route(
    State(state): State<AppState>,
    Who(caller): Who,
    Params(query): Params<AuditQuery>,
) -> RestResult<Response> {
    let format = query.format.clone();
    audit_export::export_for(&state, &caller, &format, query.filter()).await.map_err(|(status, message)| match status {
        StatusCode::BAD_REQUEST if message.starts_with("unknown format") => RestError::bad_field("format", message),
        status => RestError::new(status, message),
    })
}

// ---------------------------------------------------------------------------------------------
// The document.

/// This OpenAPI document (JSON).
#[utoipa::path(get, path = "/rest/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")), security(()))]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], ApiDoc::openapi().to_pretty_json().unwrap_or_default())
        .into_response()
}

/// A page listing the operations, linking the document.
#[utoipa::path(get, path = "/rest/v1/docs", tag = "meta",
    responses((status = 200, description = "An HTML page", content_type = "text/html")), security(()))]
async fn docs_page() -> Html<String> {
    let doc = ApiDoc::openapi();
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut rows = String::new();
    for (path, item) in doc.paths.paths.iter() {
        for (method, op) in operations(item) {
            rows.push_str(&format!(
                "<tr><td><code>{method}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                escape(path),
                escape(op.summary.as_deref().unwrap_or(""))
            ));
        }
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Quartermaster REST API</title></head>\
         <body><h1>Quartermaster REST API</h1><p>{}</p>\
         <p>The machine-readable description: <a href=\"/rest/v1/openapi.json\">/rest/v1/openapi.json</a> (OpenAPI 3.1; \
         load it into any OpenAPI tool). Errors are JSON: <code>{{\"status\", \"reason\", \"message\", \"field\"}}</code>.</p>\
         <table><thead><tr><th>Method</th><th>Path</th><th>What</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>",
        escape(doc.info.description.as_deref().unwrap_or(""))
    ))
}

/// The operations of a path item, by method (upper case).
pub fn operations(item: &utoipa::openapi::PathItem) -> Vec<(&'static str, &utoipa::openapi::path::Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("PATCH", &item.patch),
        ("HEAD", &item.head),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_ref().map(|op| (m, op)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_operation_once() {
        let doc = ApiDoc::openapi();
        let count: usize = doc.paths.paths.values().map(|item| operations(item).len()).sum();
        assert_eq!(count, 17, "{:?}", doc.paths.paths.keys().collect::<Vec<_>>());
        assert!(doc.to_json().unwrap().contains("\"ErrorBody\""));
    }
}
