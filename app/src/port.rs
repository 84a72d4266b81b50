//! What the UI needs from the server. The server implements [`Portal`] and hands an
//! implementation to every render and server function through Leptos context; the UI never
//! reaches into storage itself.
//!
//! Every call names its [`Caller`], obtained from [`caller`] — the one place that decides who is
//! asking (the request's signed-in person, put there by the server's request guard).

use std::sync::Arc;

use leptos::prelude::ServerFnError;

use crate::api::{
    Caller, ObjectRef, Rejection, ShellInfo, Submitted,
    brokers::{BrokerForm, BrokerRow, ConnectionTest},
    catalog::{CatalogView, ClassDetail},
    governance::{ApprovalsView, AuditEntry, AuditFilter, Decision, GovernanceChange, GovernanceView, QuotaView},
    instances::{
        BindingRequest, Credentials, InstancePage, InstanceRequest, InstanceUpdate, InstancesQuery, InstancesView,
    },
    manifests::ManifestApplied,
};
use crate::status::PortalStatus;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("the portal's database is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    NotFound(String),
    /// Shown as a 403 page when it refuses a page's data (see `pages::forbidden`).
    #[error("{FORBIDDEN}{0}")]
    Forbidden(String),
    /// The object changed since the page read it.
    #[error("{0}")]
    Conflict(String),
    /// The request cannot be done as asked; the rejection says where and why.
    #[error("{}", .0.message)]
    Rejected(Rejection),
}

impl PortError {
    /// The form of a refused submit, or the error of anything else.
    pub fn into_submitted<T>(self) -> Result<Submitted<T>, ServerFnError> {
        match self {
            PortError::Rejected(r) => Ok(Submitted::Rejected(r)),
            PortError::Conflict(m) | PortError::Forbidden(m) | PortError::NotFound(m) => {
                Ok(Submitted::Rejected(Rejection::new(m)))
            }
            other => Err(ServerFnError::new(other.to_string())),
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

pub use crate::pages::forbidden::FORBIDDEN;

#[async_trait::async_trait]
pub trait Portal: Send + Sync + 'static {
    async fn status(&self) -> PortResult<PortalStatus>;
    /// The user's name and the navigation's counts.
    async fn shell_info(&self, caller: &Caller) -> PortResult<ShellInfo> {
        Ok(self.shell_and_catalog(caller).await?.0)
    }
    /// The frame's data and the catalog this caller sees, read together (the catalog page's data;
    /// see [`PageData`]).
    async fn shell_and_catalog(&self, caller: &Caller) -> PortResult<(ShellInfo, Arc<CatalogView>)>;

    // Catalog
    /// The whole catalog (shared: it is cached between requests).
    async fn catalog(&self, caller: &Caller) -> PortResult<Arc<CatalogView>>;
    /// A class by its object name or (unique) external name.
    async fn class(&self, caller: &Caller, class: &str) -> PortResult<Option<ClassDetail>>;

    // Instances
    /// The namespaces a request form offers: those holding instances, those the caller may use.
    async fn namespaces(&self, caller: &Caller) -> PortResult<Vec<String>>;
    /// One page of the instances of the caller's teams that match `query`.
    async fn instances(&self, caller: &Caller, query: &InstancesQuery) -> PortResult<InstancesView>;
    async fn instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<Option<InstancePage>>;
    async fn request_instance(&self, caller: &Caller, request: InstanceRequest) -> PortResult<ObjectRef>;
    async fn update_instance(&self, caller: &Caller, update: InstanceUpdate) -> PortResult<ObjectRef>;
    async fn delete_instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()>;
    /// Removes the finalizers of an instance (and its bindings) so it goes without the broker.
    async fn abandon_instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()>;

    // Bindings
    async fn create_binding(&self, caller: &Caller, request: BindingRequest) -> PortResult<ObjectRef>;
    async fn delete_binding(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()>;
    async fn credentials(&self, caller: &Caller, namespace: &str, binding: &str) -> PortResult<Credentials>;

    // Admin › Brokers
    async fn brokers(&self, caller: &Caller) -> PortResult<Vec<BrokerRow>>;
    async fn register_broker(&self, caller: &Caller, form: BrokerForm) -> PortResult<String>;
    async fn test_broker(&self, caller: &Caller, form: BrokerForm) -> PortResult<ConnectionTest>;
    async fn relist_broker(&self, caller: &Caller, name: &str) -> PortResult<()>;
    async fn delete_broker(&self, caller: &Caller, name: &str) -> PortResult<()>;

    // Manifests
    /// Applies pasted YAML (instances and bindings) with the checks kubectl gets.
    async fn apply_manifest(&self, _caller: &Caller, _manifest: String) -> PortResult<Vec<ManifestApplied>> {
        Err(PortError::Unavailable("applying manifests is not supported here".into()))
    }
    // Approvals and governance
    /// Requests waiting for a decision the caller may make, and recent decisions in their teams.
    async fn approvals(&self, caller: &Caller) -> PortResult<ApprovalsView>;
    /// Approves (carrying the request out as its requester asked) or rejects a pending request.
    async fn decide(&self, caller: &Caller, decision: Decision) -> PortResult<()>;
    /// A team's quotas and their use (what the request form shows beside its fields).
    async fn quota(&self, caller: &Caller, namespace: &str) -> PortResult<QuotaView>;
    /// Policies, quotas and visibility (platform admins; team admins see their teams' quotas).
    async fn governance(&self, caller: &Caller) -> PortResult<GovernanceView>;
    async fn change_governance(&self, caller: &Caller, change: GovernanceChange) -> PortResult<()>;
    /// The audit log, newest first (platform admins).
    async fn audit(&self, caller: &Caller, filter: AuditFilter) -> PortResult<Vec<AuditEntry>>;
}

/// The form in which the port travels through Leptos context.
pub type PortalHandle = Arc<dyn Portal>;

/// The port of the current request. Server functions and server-side renders call this.
pub fn portal() -> Result<PortalHandle, ServerFnError> {
    leptos::prelude::use_context::<PortalHandle>()
        .ok_or_else(|| ServerFnError::new("portal context missing (server wiring bug)"))
}

/// Who is making the current request (server functions and server-side renders). Anonymous
/// requests never get this far (the server sends them to the login page, or answers 401), so
/// a missing caller is an error.
pub fn caller() -> Result<Caller, ServerFnError> {
    let parts = leptos::prelude::use_context::<http::request::Parts>();
    let mut caller = caller_of(parts.as_ref()).ok_or_else(|| ServerFnError::new(NOT_SIGNED_IN))?;
    caller.source = source_of(parts.as_ref());
    Ok(caller)
}

pub const NOT_SIGNED_IN: &str = "You are not signed in (or your session has ended). Sign in again.";

/// Where a request came from, as the server's middleware recorded it (see [`RequestSource`]).
pub fn source_of(request: Option<&http::request::Parts>) -> String {
    request.and_then(|p| p.extensions.get::<RequestSource>()).map(|s| s.0.clone()).unwrap_or_default()
}

/// The client's address of a request (the peer, or the first `X-Forwarded-For` hop when the
/// server is configured to trust its proxy), put into the request's extensions by the server.
#[derive(Clone, Debug, Default)]
pub struct RequestSource(pub String);

/// THE seam for authentication: who is behind a request. The server's request guard puts the
/// signed-in person (session cookie or API token) into the request's extensions as a
/// [`Caller`]; `None` for anonymous requests. Non-Leptos routes (the live stream) call this too.
pub fn caller_of(request: Option<&http::request::Parts>) -> Option<Caller> {
    let mut caller = request?.extensions.get::<Caller>().cloned()?;
    caller.source = source_of(request);
    Some(caller)
}

/// What a page's server-side render would ask the portal for, asked already by the server before
/// rendering (its page cache compares it with what a kept page was rendered from). Server
/// functions answer from it during that render, so a page is exactly a function of this data,
/// the URL and the caller; the browser's own calls never carry it.
#[derive(Clone)]
pub struct PageData {
    pub shell: ShellInfo,
    pub catalog: Arc<CatalogView>,
}

/// The [`PageData`] of the page being rendered, if the server read it beforehand.
pub fn page_data() -> Option<PageData> {
    leptos::prelude::use_context::<http::request::Parts>()?.extensions.get::<PageData>().cloned()
}

/// The port and the caller, as every server function starts.
pub fn portal_and_caller() -> Result<(PortalHandle, Caller), ServerFnError> {
    Ok((portal()?, caller()?))
}
