//! The server's side of `app::port::Portal`: what the UI asks, answered from the store (and, for
//! a broker's connection test, from the broker). One module per screen family.

mod access;
mod brokers;
mod catalog;
pub mod governance;
mod instances;
pub mod people;

pub(crate) use brokers::put_auth_secret;

use std::sync::Arc;

use app::{
    api::{
        Caller, ObjectRef, ShellInfo,
        brokers::{BrokerForm, BrokerRow, ConnectionTest},
        catalog::{CatalogView, ClassDetail},
        governance::{ApprovalsView, AuditEntry, AuditFilter, Decision, GovernanceChange, GovernanceView, QuotaView},
        instances::{
            BindingRequest, Credentials, InstancePage, InstanceRequest, InstanceUpdate, InstancesQuery, InstancesView,
        },
        manifests::ManifestApplied,
    },
    port::{PortError, PortResult, Portal},
    status::PortalStatus,
};

use app::model::Kind;

use crate::{db::Database, governance::Governance, store::ResourceStore};

pub use catalog::CatalogCache;
pub use instances::InstanceIndex;

/// The finalizer the controller puts on instances and bindings.
pub use crate::controller::instance::decide::FINALIZER;
/// Where the portal keeps Secrets of its own (broker credentials).
pub const SYSTEM_NAMESPACE: &str = "quartermaster-system";

pub struct PortalService {
    db: Database,
    store: Arc<dyn ResourceStore>,
    catalog: CatalogCache,
    /// The instances list's rows, when the store allows following them (see [`InstanceIndex`]).
    instances: Option<InstanceIndex>,
    gov: Governance,
}

impl PortalService {
    /// Must be called inside a Tokio runtime: the catalog cache follows the store's changes.
    pub fn new(db: Database, store: Arc<dyn ResourceStore>, gov: Governance) -> Self {
        let catalog = CatalogCache::start(store.clone());
        let instances = InstanceIndex::start(store.clone());
        Self { db, store, catalog, instances, gov }
    }

    /// The catalog as this caller may see it (from the caches; the visibility rules are read).
    async fn visible_catalog(&self, caller: &Caller) -> PortResult<Arc<CatalogView>> {
        let view = self.catalog.view(self.store.as_ref()).await?;
        governance::visible_catalog(&self.gov, &self.catalog, caller, view).await
    }
}

fn unavailable(e: crate::store::StoreError) -> PortError {
    tracing::warn!(error = %e, "reading the catalog failed");
    PortError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl Portal for PortalService {
    async fn status(&self) -> PortResult<PortalStatus> {
        // Through the store: the catalog may live in a Kubernetes API server rather than the database.
        let count = |kind| crate::store::count(self.store.as_ref(), kind);
        let brokers = count(Kind::ClusterServiceBroker).await.map_err(unavailable)?
            + count(Kind::ServiceBroker).await.map_err(unavailable)?;
        let services = count(Kind::ClusterServiceClass).await.map_err(unavailable)?
            + count(Kind::ServiceClass).await.map_err(unavailable)?;
        Ok(PortalStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            database: self.db.product_name().to_string(),
            brokers,
            services,
            checked_at: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .unwrap_or_else(|_| jiff::Timestamp::now())
                .to_string(),
        })
    }

    async fn shell_and_catalog(&self, caller: &Caller) -> PortResult<(ShellInfo, Arc<CatalogView>)> {
        let catalog = self.visible_catalog(caller).await?;
        let shell = ShellInfo {
            username: caller.username.clone(),
            initial: ShellInfo::initial_of(&caller.username),
            services: catalog.tiles.iter().filter(|t| !t.removed).count(),
            instances: instances::count(self.store.as_ref(), self.instances.as_ref(), caller).await?,
            approvals: governance::decidable_count(&self.gov, caller).await?,
        };
        Ok((shell, catalog))
    }

    async fn catalog(&self, caller: &Caller) -> PortResult<Arc<CatalogView>> {
        self.visible_catalog(caller).await
    }

    async fn class(&self, caller: &Caller, class: &str) -> PortResult<Option<ClassDetail>> {
        governance::visible_class(&self.gov, caller, catalog::class_detail(self.store.as_ref(), class).await?).await
    }

    async fn namespaces(&self, caller: &Caller) -> PortResult<Vec<String>> {
        instances::namespaces(self.store.as_ref(), self.instances.as_ref(), caller).await
    }

    async fn instances(&self, caller: &Caller, query: &InstancesQuery) -> PortResult<InstancesView> {
        let catalog = self.catalog.view(self.store.as_ref()).await?;
        let class_names = catalog.tiles.iter().map(|t| (t.external_name.clone(), t.display_name.clone())).collect();
        instances::list_view(self.store.as_ref(), self.instances.as_ref(), &self.gov, caller, class_names, query).await
    }

    async fn instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<Option<InstancePage>> {
        instances::page(self.store.as_ref(), &self.gov, caller, namespace, name).await
    }

    async fn request_instance(&self, caller: &Caller, request: InstanceRequest) -> PortResult<ObjectRef> {
        instances::request(self.store.as_ref(), &self.gov, caller, request).await
    }

    async fn update_instance(&self, caller: &Caller, update: InstanceUpdate) -> PortResult<ObjectRef> {
        instances::update(self.store.as_ref(), &self.gov, caller, update).await
    }

    async fn delete_instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
        instances::delete(self.store.as_ref(), &self.gov, caller, namespace, name).await
    }

    async fn abandon_instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
        instances::abandon(self.store.as_ref(), &self.gov, caller, namespace, name).await
    }

    async fn create_binding(&self, caller: &Caller, request: BindingRequest) -> PortResult<ObjectRef> {
        instances::bindings::create(self.store.as_ref(), caller, request).await
    }

    async fn delete_binding(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
        instances::bindings::delete(self.store.as_ref(), caller, namespace, name).await
    }

    async fn credentials(&self, caller: &Caller, namespace: &str, binding: &str) -> PortResult<Credentials> {
        let credentials = instances::bindings::credentials(self.store.as_ref(), caller, namespace, binding).await?;
        crate::governance::audit::record_or_warn(
            &self.db,
            crate::governance::AuditRecord::by(
                caller,
                "credentials.reveal",
                namespace,
                binding,
                serde_json::json!({"secret": credentials.secret_name}),
            ),
        )
        .await;
        Ok(credentials)
    }

    async fn brokers(&self, caller: &Caller) -> PortResult<Vec<BrokerRow>> {
        brokers::list_rows(self.store.as_ref(), caller).await
    }

    async fn register_broker(&self, caller: &Caller, form: BrokerForm) -> PortResult<String> {
        let url = form.url.clone();
        let name = brokers::register(self.store.as_ref(), caller, form).await?;
        self.record(caller, "broker.register", &name, serde_json::json!({"url": url})).await;
        Ok(name)
    }

    async fn test_broker(&self, caller: &Caller, form: BrokerForm) -> PortResult<ConnectionTest> {
        brokers::test_connection(caller, form).await
    }

    async fn relist_broker(&self, caller: &Caller, name: &str) -> PortResult<()> {
        brokers::relist(self.store.as_ref(), caller, name).await?;
        self.record(caller, "broker.relist", name, serde_json::Value::Null).await;
        Ok(())
    }

    async fn delete_broker(&self, caller: &Caller, name: &str) -> PortResult<()> {
        brokers::delete(self.store.as_ref(), caller, name).await?;
        self.record(caller, "broker.delete", name, serde_json::Value::Null).await;
        Ok(())
    }

    async fn approvals(&self, caller: &Caller) -> PortResult<ApprovalsView> {
        governance::approvals(&self.gov, caller).await
    }

    async fn decide(&self, caller: &Caller, decision: Decision) -> PortResult<()> {
        governance::decide(self.store.as_ref(), &self.gov, caller, decision).await
    }

    async fn quota(&self, caller: &Caller, namespace: &str) -> PortResult<QuotaView> {
        governance::quota(&self.gov, caller, namespace).await
    }

    async fn governance(&self, caller: &Caller) -> PortResult<GovernanceView> {
        governance::view(self.store.as_ref(), &self.gov, caller).await
    }

    async fn change_governance(&self, caller: &Caller, change: GovernanceChange) -> PortResult<()> {
        governance::change(&self.gov, caller, change).await
    }

    async fn audit(&self, caller: &Caller, filter: AuditFilter) -> PortResult<Vec<AuditEntry>> {
        governance::audit_log(&self.gov, caller, filter).await
    }

    async fn apply_manifest(&self, caller: &Caller, manifest: String) -> PortResult<Vec<ManifestApplied>> {
        crate::kapi::manifest::apply_for_portal(self.store.clone(), self.gov.clone(), caller, &manifest).await
    }
}

impl PortalService {
    async fn record(&self, caller: &Caller, action: &str, target: &str, detail: serde_json::Value) {
        crate::governance::audit::record_or_warn(
            &self.db,
            crate::governance::AuditRecord::by(caller, action, "", target, detail),
        )
        .await;
    }
}
