//! The Kubernetes backend of the `ResourceStore` (`--cluster kubernetes`): every catalog kind is
//! a CustomResource in `servicecatalog.k8s.io/v1beta1` ([`crd`]), Secrets are core `v1`
//! Secrets, and the API server (etcd) provides what the SQL store does by hand: resourceVersions,
//! generation, finalizers, watches. Status is written through the status subresource with
//! server-side apply under the field manager [`FIELD_MANAGER`].
//!
//! The portal keeps no copy of anything here: Secrets' encryption at rest is the cluster's
//! (an `EncryptionConfiguration`), not the portal's key.

pub mod crd;
mod errors;
mod teams;
mod watch;

use std::sync::Arc;

use app::model::{self, Kind};
use futures::stream::BoxStream;
use kube::{
    Api, Client,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions},
};
use serde_json::{Value, json};

use super::{
    Deleted, LabelSelector, ListQuery, ObjectList, ResourceStore, Result, StoreError, WatchEvent, WatchQuery,
    object::{self},
};
pub use errors::store_error;
pub use teams::Teams;

/// Every API call the portal makes in `--cluster kubernetes` mode, as RBAC rules (API group,
/// resources, verbs): `deploy/rbac.yaml` grants exactly these (its test checks), the leader
/// election's Lease in the portal's namespace aside ([`crate::controller::leader::PERMISSIONS`]).
pub const PERMISSIONS: &[(&str, &[&str], &[&str])] = &[
    (
        model::GROUP,
        &[
            "clusterservicebrokers",
            "servicebrokers",
            "clusterserviceclasses",
            "serviceclasses",
            "clusterserviceplans",
            "serviceplans",
            "serviceinstances",
            "servicebindings",
        ],
        &["get", "list", "watch", "create", "update", "patch", "delete"],
    ),
    (
        model::GROUP,
        &[
            "clusterservicebrokers/status",
            "servicebrokers/status",
            "clusterserviceclasses/status",
            "serviceclasses/status",
            "clusterserviceplans/status",
            "serviceplans/status",
            "serviceinstances/status",
            "servicebindings/status",
        ],
        // Server-side apply is a patch; get and update for tools that read or replace status.
        &["get", "update", "patch"],
    ),
    // A binding's Secret names the binding as its owner with `blockOwnerDeletion`, which
    // clusters with OwnerReferencesPermissionEnforcement allow only to who may set its finalizers.
    (model::GROUP, &["servicebindings/finalizers"], &["update"]),
    // Secrets are read by name and written for bindings, never listed or watched.
    ("", &["secrets"], &["get", "create", "update", "delete"]),
    // Which namespaces are teams (`--team-namespaces`).
    ("", &["namespaces"], &["get", "list", "watch"]),
];

/// The field manager of every write the portal makes (visible in `managedFields`).
pub const FIELD_MANAGER: &str = "quartermaster";

#[derive(Clone)]
pub struct KubeStore {
    client: Client,
    teams: Arc<Teams>,
}

/// The API resource of a kind.
pub fn api_resource(kind: Kind) -> ApiResource {
    let (group, version) = if kind == Kind::Secret { ("", "v1") } else { (model::GROUP, model::VERSION) };
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: kind.api_version().into(),
        kind: kind.as_str().into(),
        plural: kind.plural().into(),
    }
}

/// An object as the store hands it out: JSON, without `managedFields` (noise for every reader;
/// `kubectl get --show-managed-fields` shows them).
fn to_value(object: DynamicObject) -> Result<Value> {
    let mut value = serde_json::to_value(object).map_err(|e| StoreError::Backend(e.to_string()))?;
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    Ok(value)
}

fn from_value(kind: Kind, value: Value) -> Result<DynamicObject> {
    let name = object::name(&value).to_string();
    serde_json::from_value(value).map_err(|e| StoreError::invalid(kind, &name, "metadata", e.to_string()))
}

/// The resourceVersion of an object read from the API server.
fn object_rv(object: &Value) -> u64 {
    object::meta_str(object, "resourceVersion").and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Drops `null`s: server-side apply would read them as "unset this field" requests.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

impl KubeStore {
    /// A store on `client`; `teams` chooses the namespaces that all-namespace lists and
    /// watches cover (`None`: every namespace).
    pub fn new(client: Client, teams: Option<LabelSelector>) -> Self {
        Self { teams: Teams::new(client.clone(), teams), client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn teams(&self) -> &Arc<Teams> {
        &self.teams
    }

    /// The API of `kind`: in `namespace`, or across all namespaces (and for cluster-scoped kinds).
    pub(crate) fn api(&self, kind: Kind, namespace: Option<&str>) -> Api<DynamicObject> {
        let resource = api_resource(kind);
        match namespace.filter(|ns| kind.namespaced() && !ns.is_empty()) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    /// Fails with a readable message when the catalog's CRDs are not installed (or the portal
    /// may not read them).
    pub async fn check_crds(&self) -> anyhow::Result<()> {
        for kind in crd::CRD_KINDS {
            let result = self.api(kind, None).list(&ListParams::default().limit(1)).await;
            if let Err(e) = result {
                anyhow::bail!(
                    "cannot list {}.{} ({e}); are the CRDs installed (`kubectl apply -f deploy/crds/`) \
                     and may this account list them?",
                    kind.plural(),
                    model::GROUP
                );
            }
        }
        Ok(())
    }

    /// Lists a page: up to `limit` items, across all namespaces those of team namespaces only.
    async fn list_filtered(
        &self,
        kind: Kind,
        api: &Api<DynamicObject>,
        all_namespaces: bool,
        params: ListParams,
        limit: usize,
        items: &mut Vec<Value>,
    ) -> Result<(u64, Option<String>)> {
        let mut params = params;
        loop {
            let remaining = limit.saturating_sub(items.len());
            // Never ask for more than can be kept: the server's continue token then marks
            // exactly where this page ends.
            params.limit = (limit != usize::MAX).then(|| u32::try_from(remaining).unwrap_or(u32::MAX));
            let page = api.list(&params).await.map_err(|e| store_error(kind, "", "", e))?;
            let rv = page.metadata.resource_version.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0);
            let next = page.metadata.continue_.clone().filter(|t| !t.is_empty());
            for item in page.items {
                if !all_namespaces || self.teams.allows(item.metadata.namespace.as_deref().unwrap_or_default()).await? {
                    items.push(to_value(item)?);
                }
            }
            match next {
                Some(token) if items.len() < limit => params.continue_token = Some(token),
                next => return Ok((rv, next)),
            }
        }
    }
}

#[async_trait::async_trait]
impl ResourceStore for KubeStore {
    async fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<Option<Value>> {
        let found = self.api(kind, Some(namespace)).get_opt(name).await;
        found.map_err(|e| store_error(kind, namespace, name, e))?.map(to_value).transpose()
    }

    async fn list(&self, kind: Kind, query: &ListQuery) -> Result<ObjectList> {
        let mut params = ListParams::default();
        if !query.labels.is_empty() {
            params.label_selector = Some(query.labels.to_string());
        }
        if let Some(name) = &query.name {
            params.field_selector = Some(format!("metadata.name={name}"));
        }
        params.continue_token = query.continue_token.clone();
        let namespace = query.namespace.as_deref();
        let api = self.api(kind, namespace);
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let mut items = Vec::new();
        let (rv, continue_token) =
            self.list_filtered(kind, &api, namespace.is_none(), params, limit, &mut items).await?;
        Ok(ObjectList { items, resource_version: rv, continue_token })
    }

    async fn create(&self, kind: Kind, mut object: Value) -> Result<Value> {
        object::fill_type_meta(kind, &mut object);
        // Names from generateName are the server's; validate with a stand-in of the same shape.
        let mut probe = object.clone();
        if object::name(&probe).is_empty()
            && let Some(prefix) = object::meta_str(&probe, "generateName").map(str::to_string)
        {
            object::set_meta(&mut probe, "name", Value::String(format!("{prefix}xxxxx")));
        }
        let key = object::validate_for_write(kind, &probe)?;
        if kind == Kind::Secret {
            super::crypto::merge_string_data(&mut object)
                .map_err(|m| StoreError::invalid(kind, &key.name, "data", m))?;
        } else if let Some(map) = object.as_object_mut() {
            map.remove("status");
        }
        object::apply_create_defaults(kind, &mut object);
        for field in ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "managedFields"]
        {
            object::remove_meta(&mut object, field);
        }
        let dynamic = from_value(kind, object)?;
        let created = self
            .api(kind, Some(&key.namespace))
            .create(&PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() }, &dynamic)
            .await
            .map_err(|e| store_error(kind, &key.namespace, &key.name, e))?;
        to_value(created)
    }

    async fn update(&self, kind: Kind, mut object: Value) -> Result<Value> {
        object::fill_type_meta(kind, &mut object);
        let key = object::validate_for_write(kind, &object)?;
        object::claimed_resource_version(kind, &object)?;
        if kind == Kind::Secret {
            super::crypto::merge_string_data(&mut object)
                .map_err(|m| StoreError::invalid(kind, &key.name, "data", m))?;
        }
        object::remove_meta(&mut object, "managedFields");
        let dynamic = from_value(kind, object)?;
        let updated = self
            .api(kind, Some(&key.namespace))
            .replace(
                &key.name,
                &PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() },
                &dynamic,
            )
            .await
            .map_err(|e| store_error(kind, &key.namespace, &key.name, e))?;
        to_value(updated)
    }

    async fn update_status(&self, kind: Kind, object: Value) -> Result<Value> {
        if kind == Kind::Secret {
            return Err(StoreError::invalid(kind, object::name(&object), "status", "Secrets have no status"));
        }
        let key = object::validate_for_write(kind, &object)?;
        let mut metadata = json!({"name": key.name});
        if kind.namespaced() {
            metadata["namespace"] = json!(key.namespace);
        }
        // A claimed version is a precondition of the apply, as of a replace.
        if let Some(rv) = object::claimed_resource_version(kind, &object)? {
            metadata["resourceVersion"] = json!(rv.to_string());
        }
        let uid = object::uid(&object);
        if !uid.is_empty() {
            metadata["uid"] = json!(uid);
        }
        let mut patch = json!({"apiVersion": kind.api_version(), "kind": kind.as_str(), "metadata": metadata});
        // No status at all rather than `status: {}`: applying nothing releases the fields this
        // manager set (their removal is the change) and leaves an object without status as it is.
        if let Some(status) =
            object.get("status").map(without_nulls).filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        {
            patch["status"] = status;
        }
        let applied = self
            .api(kind, Some(&key.namespace))
            .patch_status(&key.name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
            .await
            .map_err(|e| store_error(kind, &key.namespace, &key.name, e))?;
        to_value(applied)
    }

    async fn delete(&self, kind: Kind, namespace: &str, name: &str, expected_uid: Option<&str>) -> Result<Deleted> {
        // The API server answers a finished delete of a custom resource with a bare Status: the
        // last state handed back is the object as read just before.
        let api = self.api(kind, Some(namespace));
        let before = api.get_opt(name).await.map_err(|e| store_error(kind, namespace, name, e))?;
        let Some(before) = before else {
            return Err(StoreError::NotFound { kind, namespace: namespace.into(), name: name.into() });
        };
        let mut params = DeleteParams::background();
        if let Some(uid) = expected_uid {
            params = params.preconditions(Preconditions { uid: Some(uid.to_string()), resource_version: None });
        }
        match api.delete(name, &params).await.map_err(|e| store_error(kind, namespace, name, e))? {
            either::Either::Left(object) => {
                let value = to_value(object)?;
                let held = object::is_deleting(&value) && !object::finalizers(&value).is_empty();
                Ok(if held { Deleted::Pending(value) } else { Deleted::Gone(value) })
            }
            either::Either::Right(_) => Ok(Deleted::Gone(to_value(before)?)),
        }
    }

    async fn watch(&self, query: WatchQuery) -> Result<BoxStream<'static, Result<WatchEvent>>> {
        watch::start(self.clone(), query).await
    }

    async fn resource_version(&self) -> Result<u64> {
        // A one-item list is a consistent read: its version is the newest the server has.
        let page = self
            .api(Kind::ServiceInstance, None)
            .list(&ListParams::default().limit(1))
            .await
            .map_err(|e| store_error(Kind::ServiceInstance, "", "", e))?;
        page.metadata
            .resource_version
            .as_deref()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Backend("the API server gave a list without a resourceVersion".into()))
    }
}

/// Builds a client: from `kubeconfig` when given, else the usual inference (`KUBECONFIG`,
/// `~/.kube/config`, or the in-cluster service account).
pub async fn client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<Client> {
    use anyhow::Context;
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer().await.context("no Kubernetes configuration (kubeconfig or in-cluster)")?,
    };
    Client::try_from(config).context("building the Kubernetes client")
}
