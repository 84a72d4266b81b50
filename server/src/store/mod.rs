//! The `ResourceStore`: where the catalog's objects live, with Kubernetes semantics
//! (resourceVersion checks, generation, finalizers, a resumable watch), over SQLite or Postgres.
//!
//! Objects travel as `serde_json::Value` so one store serves every kind, the typed model and the
//! Kubernetes-style API alike; [`typed`] wraps it for the controller.

mod changes;
mod crypto;
mod group_reader;
mod group_writer;
#[cfg(feature = "kubernetes")]
pub mod kubernetes;
pub mod object;
mod selector;
mod sql;
pub mod typed;
mod watch;

use app::model::Kind;
use futures::stream::BoxStream;
use serde_json::Value;

pub use crypto::{SecretCipher, SecretKeyError};
#[cfg(feature = "kubernetes")]
pub use kubernetes::KubeStore;
pub use object::CATALOG_FINALIZER;
pub use selector::{LabelSelector, SelectorError};
pub use sql::SqlStore;
pub use typed::TypedStore;

/// How many changes the embedded store's change log keeps for watches to resume from.
pub const DEFAULT_CHANGE_LOG_RETENTION: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} \"{name}\" not found")]
    NotFound { kind: Kind, namespace: String, name: String },
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists { kind: Kind, namespace: String, name: String },
    #[error(
        "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict { kind: Kind, namespace: String, name: String },
    #[error("{kind} is invalid: {}", .causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect::<Vec<_>>().join("; "))]
    Invalid { kind: Kind, name: String, causes: Vec<FieldCause> },
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("storage error: {0}")]
    Backend(String),
}

/// One field of an invalid object and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldCause {
    pub field: String,
    pub message: String,
}

impl StoreError {
    pub fn invalid(kind: Kind, name: &str, field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            kind,
            name: name.to_string(),
            causes: vec![FieldCause { field: field.to_string(), message: message.into() }],
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Backend(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which objects a list or watch covers.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// `None`: all namespaces (or cluster-scoped kinds).
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    /// `metadata.name` field selector.
    pub name: Option<String>,
    /// Page size; `None` returns everything.
    pub limit: Option<usize>,
    /// The token of the previous page.
    pub continue_token: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ObjectList {
    pub items: Vec<Value>,
    /// The store's resourceVersion when the list was read: a watch from here misses nothing.
    pub resource_version: u64,
    pub continue_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "ADDED" => Some(Self::Added),
            "MODIFIED" => Some(Self::Modified),
            "DELETED" => Some(Self::Deleted),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WatchEvent {
    pub kind: Kind,
    pub event_type: EventType,
    pub resource_version: u64,
    pub object: Value,
}

#[derive(Clone, Debug, Default)]
pub struct WatchQuery {
    /// `None`: the kinds in `kinds`, or every kind when that is empty.
    pub kind: Option<Kind>,
    /// Several kinds (when `kind` is `None`); empty means every kind.
    pub kinds: Vec<Kind>,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub name: Option<String>,
    /// Resume after this version. `None`: start with an `ADDED` event for every object that
    /// exists now, then follow changes (Kubernetes' "get state and start at most recent").
    pub resource_version: Option<u64>,
}

impl WatchQuery {
    /// The kinds this watch covers.
    pub fn kinds(&self) -> Vec<Kind> {
        match self.kind {
            Some(kind) => vec![kind],
            None if !self.kinds.is_empty() => self.kinds.clone(),
            None => Kind::ALL.to_vec(),
        }
    }
}

/// What a delete did.
#[derive(Clone, Debug)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Value),
    /// Finalizers hold it: `deletionTimestamp` is set and it stays until they are removed.
    Pending(Value),
}

#[async_trait::async_trait]
pub trait ResourceStore: Send + Sync + 'static {
    async fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Value>>;
    async fn list(&self, kind: Kind, query: &ListQuery) -> Result<ObjectList>;
    /// Creates an object: assigns uid, resourceVersion, generation 1 and creationTimestamp;
    /// `generateName` gets a random suffix; status is dropped (it is written separately).
    async fn create(&self, kind: Kind, object: Value) -> Result<Value>;
    /// Replaces metadata (labels, annotations, finalizers, owners) and spec; status is kept.
    /// A stale `resourceVersion` is a conflict; a spec change bumps `generation`. Removing the
    /// last finalizer of an object being deleted deletes it.
    async fn update(&self, kind: Kind, object: Value) -> Result<Value>;
    /// Replaces only the status (the `status` subresource).
    async fn update_status(&self, kind: Kind, object: Value) -> Result<Value>;
    /// Deletes, or marks for deletion while finalizers remain. `expected_uid` guards against
    /// deleting a re-created object of the same name.
    async fn delete(&self, kind: Kind, namespace: &str, name: &str, expected_uid: Option<&str>) -> Result<Deleted>;
    async fn watch(&self, query: WatchQuery) -> Result<BoxStream<'static, Result<WatchEvent>>>;
    /// The newest resourceVersion handed out.
    async fn resource_version(&self) -> Result<u64>;
    /// Whether versions are one gap-free counter that a watch of every kind sees in full, so a
    /// watcher that has applied version N knows it reflects everything committed up to N (not so
    /// on a Kubernetes API server, whose versions are shared with every other resource).
    fn versions_are_local(&self) -> bool {
        false
    }
}

/// Counts, for the portal's status line.
pub async fn count(store: &dyn ResourceStore, kind: Kind) -> Result<u64> {
    Ok(store.list(kind, &ListQuery::default()).await?.items.len() as u64)
}
