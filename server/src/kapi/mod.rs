//! The Kubernetes-style API: `servicecatalog.k8s.io/v1beta1` (and the core `v1` Secrets that
//! bindings produce) served over the portal's own `ResourceStore`, so stock kubectl, client-go
//! and pipelines drive the catalog as they drove upstream Service Catalog's API server.
//!
//! - discovery and OpenAPI ([`discovery`], with schemas from the generated CRDs: [`schemas`]);
//! - get/list/watch/create/update/patch/delete and the `status` subresource ([`handlers`],
//!   [`watch`]), errors as `Status` objects ([`status`]), `Table` answers for `kubectl get`
//!   ([`table`]);
//! - authentication by the portal's API tokens (or the session a browser has), authorization by
//!   the same team-namespace rules as the UI ([`Ctx::authorize`]); the checks the UI makes on a
//!   request also run here ([`admission`]), so kubectl and the form give the same errors.

pub mod admission;
mod body;
mod discovery;
mod handlers;
pub mod kubeconfig;
pub mod manifest;
pub mod schemas;
pub mod status;
pub mod table;
mod watch;

use std::{collections::HashMap, sync::Arc};

use app::{api::Caller, model::Kind};
use axum::{
    Router,
    extract::{Request, State},
    http::{Extensions, HeaderMap, Method, header},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};

use crate::{app_state::AppState, auth::Principal, governance::Governance, store::ResourceStore};
use status::{ApiError, ApiResult};

pub const GROUP: &str = "servicecatalog.k8s.io";
pub const VERSION: &str = "v1beta1";
pub const GROUP_VERSION: &str = "servicecatalog.k8s.io/v1beta1";
/// The largest request body accepted (what a Kubernetes API server accepts, about 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The API's routes, to be merged into the portal's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/api", get(discovery::core_versions))
        .route("/api/v1", get(discovery::core_resources))
        .route("/api/v1/{*rest}", any(core_api))
        .route("/apis", get(discovery::groups))
        .route(&format!("/apis/{GROUP}"), get(discovery::catalog_group))
        .route(&format!("/apis/{GROUP_VERSION}"), get(discovery::catalog_resources))
        .route(&format!("/apis/{GROUP_VERSION}/{{*rest}}"), any(catalog_api))
        .route("/openapi/v2", get(discovery::openapi_v2))
        .route("/openapi/v3", get(discovery::openapi_v3_root))
        .route("/openapi/v3/{*path}", get(discovery::openapi_v3_group))
        .route("/kubeconfig", post(kubeconfig::download))
        .route("/manifests/apply", post(manifest::post_apply))
        .route("/manifests/{plural}/{namespace}/{name}", get(manifest::get_manifest))
}

/// One authenticated request: who asks, and the store it reaches.
pub struct Ctx {
    pub store: Arc<dyn ResourceStore>,
    /// Turns `true` when the server shuts down (ends watches).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub caller: Caller,
    /// The portal account behind the request, when there is one.
    pub user_id: Option<i64>,
    /// Visibility, quotas and approvals: the same admission as the portal's forms.
    pub gov: Governance,
}

impl Ctx {
    pub fn new(store: Arc<dyn ResourceStore>, gov: Governance, caller: Caller) -> Self {
        // Outside the HTTP server (the portal's own calls) nothing ends a watch.
        static NEVER: std::sync::LazyLock<tokio::sync::watch::Sender<bool>> =
            std::sync::LazyLock::new(|| tokio::sync::watch::channel(false).0);
        Self { store, shutdown: NEVER.subscribe(), caller, user_id: None, gov }
    }
}

/// The object or collection a path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    /// `None`: cluster-scoped kind, or every namespace.
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The `status` subresource.
    pub status: bool,
}

/// Parses the path after `/apis/servicecatalog.k8s.io/v1beta1/` (or `/api/v1/` with `core`).
pub fn parse_target(core: bool, rest: &str) -> Option<Target> {
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    let (namespace, rest): (Option<String>, &[&str]) = match parts.as_slice() {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_string()), rest),
        rest => (None, rest),
    };
    let (plural, name, status) = match rest {
        [plural] => (*plural, None, false),
        [plural, name] => (*plural, Some((*name).to_string()), false),
        [plural, name, "status"] => (*plural, Some((*name).to_string()), true),
        _ => return None,
    };
    let kind = Kind::from_plural(plural)?;
    if core != (kind == Kind::Secret) || (status && kind == Kind::Secret) {
        return None;
    }
    // A namespaced kind's object is reached through its namespace; a cluster-scoped kind has none.
    if (kind.namespaced() && name.is_some() && namespace.is_none()) || (!kind.namespaced() && namespace.is_some()) {
        return None;
    }
    Some(Target { kind, namespace, name, status })
}

async fn catalog_api(State(state): State<AppState>, request: Request) -> Response {
    serve(state, false, request).await
}

async fn core_api(State(state): State<AppState>, request: Request) -> Response {
    serve(state, true, request).await
}

async fn serve(state: AppState, core: bool, request: Request) -> Response {
    let path = request.uri().path().to_string();
    let prefix = if core { "/api/v1/".to_string() } else { format!("/apis/{GROUP_VERSION}/") };
    let Some(target) = path.strip_prefix(&prefix).and_then(|rest| parse_target(core, rest)) else {
        return ApiError::path_not_found(&path).into_response();
    };
    let ctx = match authenticate(state, request.headers(), request.extensions()).await {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let query: HashMap<String, String> = url_query(request.uri().query().unwrap_or_default());
    let method = request.method().clone();
    let result = match (&method, &target.name) {
        (&Method::GET, None) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch::watch(ctx, target, query, request.headers().clone()).await
        }
        (&Method::GET, None) => handlers::list(&ctx, &target, &query, request.headers()).await,
        (&Method::GET, Some(_)) => handlers::get(&ctx, &target, &query, request.headers()).await,
        (&Method::POST, None) if target.namespace.is_some() || !target.kind.namespaced() => {
            handlers::create(&ctx, &target, &query, request).await
        }
        (&Method::PUT, Some(_)) => handlers::update(&ctx, &target, &query, request).await,
        (&Method::PATCH, Some(_)) => handlers::patch(&ctx, &target, &query, request).await,
        (&Method::DELETE, Some(_)) if !target.status => handlers::delete(&ctx, &target, &query, request).await,
        (&Method::DELETE, None) => handlers::delete_collection(&ctx, &target, &query, request).await,
        _ => Err(ApiError::method_not_allowed(method.as_str(), &path)),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

fn url_query(query: &str) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    pairs.into_iter().collect()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// Who is calling: the principal the portal's `identify` guard found (token or session), else
/// the bearer token looked up here (so the API works whether or not that guard runs first).
pub async fn authenticate(state: AppState, headers: &HeaderMap, extensions: &Extensions) -> ApiResult<Ctx> {
    // Where the request came from (the portal's middleware put it there), for the audit log.
    let source = extensions.get::<app::port::RequestSource>().map(|s| s.0.clone()).unwrap_or_default();
    let ctx = |principal: &Principal| Ctx {
        store: state.store.clone(),
        shutdown: state.shutdown.clone(),
        caller: Caller { source: source.clone(), ..principal.caller() },
        user_id: Some(principal.user.id),
        gov: state.governance.clone(),
    };
    if let Some(Some(principal)) = extensions.get::<Option<Principal>>() {
        return Ok(ctx(principal));
    }
    let Some(token) = bearer(headers) else {
        return Err(ApiError::unauthorized(
            "Unauthorized: present an API token of the portal as a bearer token (download a kubeconfig from the portal)",
        ));
    };
    let accounts = state.accounts.clone();
    let (user, teams) = match accounts.token_principal(&token).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(ApiError::unauthorized("Unauthorized: the token is unknown, revoked, or its user is disabled"));
        }
        Err(e) => return Err(ApiError::internal(format!("cannot check credentials: {e}"))),
    };
    Ok(ctx(&Principal { user, teams, via_token: true }))
}

/// What a verb needs, by kind and scope: the UI's rules (team namespaces; the catalog is read by
/// everyone signed in and written by the controller and platform admins).
impl Ctx {
    pub fn authorize(&self, verb: &str, target: &Target) -> ApiResult<()> {
        let caller = &self.caller;
        let forbidden = || {
            ApiError::forbidden(
                &caller.username,
                verb,
                target.kind,
                target.namespace.as_deref(),
                target.name.as_deref(),
            )
        };
        // Credentials are for the team's members only, platform admins included: the UI's rule
        // (`access::check_member`). A list or watch of every namespace leaves them out (`may_see`).
        if target.kind == Kind::Secret
            && let Some(ns) = target.namespace.as_deref()
            && !caller.is_member(ns)
        {
            let mut refusal = forbidden();
            refusal.message.push_str(&format!(": only members of team {ns} may read its credentials"));
            return Err(refusal);
        }
        if caller.platform_admin {
            return Ok(());
        }
        let reading = matches!(verb, "get" | "list" | "watch");
        if target.status && !reading {
            // Status is the controller's to write.
            return Err(forbidden());
        }
        match (target.kind.namespaced(), target.namespace.as_deref()) {
            // Cluster-scoped catalog objects: read by everyone, written by platform admins.
            (false, _) => reading.then_some(()).ok_or_else(forbidden),
            // Every namespace: lists and watches show the caller's own namespaces only.
            (true, None) => reading.then_some(()).ok_or_else(forbidden),
            (true, Some(ns)) => {
                if !caller.may_access(ns) {
                    return Err(forbidden());
                }
                match target.kind {
                    Kind::ServiceInstance | Kind::ServiceBinding | Kind::Secret => Ok(()),
                    Kind::ServiceBroker if caller.may_administer(ns) => Ok(()),
                    // Namespaced classes and plans come from the broker's catalog.
                    _ => reading.then_some(()).ok_or_else(forbidden),
                }
            }
        }
    }

    /// Records in the audit log that the caller read credentials (Secrets of `namespace`) through
    /// the API: who, from where, which, how (`get`, `list`, `watch`).
    pub async fn credentials_read(&self, namespace: &str, secret: &str, verb: &str, names: Option<Vec<String>>) {
        let mut detail = serde_json::json!({"secret": secret, "verb": verb, "via": "kubernetes-api"});
        if let Some(names) = names {
            detail["secrets"] = serde_json::json!(names);
        }
        crate::governance::audit::record_or_warn(
            self.gov.db(),
            crate::governance::AuditRecord::by(&self.caller, "credentials.reveal", namespace, secret, detail),
        )
        .await;
    }

    /// Whether an object of another namespace may be shown in an all-namespaces answer.
    pub fn may_see(&self, kind: Kind, object: &serde_json::Value) -> bool {
        let namespace = object.pointer("/metadata/namespace").and_then(|v| v.as_str()).unwrap_or_default();
        match kind {
            // Credentials: members only, platform admins included.
            Kind::Secret => self.caller.is_member(namespace),
            kind => !kind.namespaced() || self.caller.may_access(namespace),
        }
    }
}

/// Whether a request path belongs to the Kubernetes-style API (its errors are `Status` objects).
pub fn is_kubernetes_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/v1")
        || path == "/apis"
        || path.starts_with("/apis/")
        || path == "/version"
        || path.starts_with("/openapi/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_objects_and_collections() {
        let t = parse_target(false, "namespaces/team-a/serviceinstances/db/status").unwrap();
        assert_eq!(
            (t.kind, t.namespace.as_deref(), t.name.as_deref(), t.status),
            (Kind::ServiceInstance, Some("team-a"), Some("db"), true)
        );
        assert_eq!(parse_target(false, "serviceinstances").unwrap().namespace, None);
        assert!(parse_target(false, "serviceinstances/db").is_none(), "namespaced objects need their namespace");
        assert!(parse_target(false, "namespaces/x/clusterserviceclasses").is_none());
        assert_eq!(parse_target(false, "clusterserviceclasses/hdfs").unwrap().name.as_deref(), Some("hdfs"));
        assert!(parse_target(false, "secrets").is_none(), "Secrets live in the core group");
        assert_eq!(parse_target(true, "namespaces/team-a/secrets/creds").unwrap().kind, Kind::Secret);
        assert!(parse_target(true, "namespaces/team-a/serviceinstances").is_none());
        assert!(parse_target(false, "namespaces/team-a/widgets").is_none());
    }
}
