//! The server's side of `app::port::Portal`: what the UI asks, answered from the store (and, for
//! a broker's connection test, from the broker). One module per screen family.

mod access;
mod brokers;
mod catalog;
mod instances;
pub mod people;

use std::sync::Arc;

use app::{
    api::{
        Caller, ObjectRef, ShellInfo,
        brokers::{BrokerForm, BrokerRow, ConnectionTest},
        catalog::{CatalogView, ClassDetail},
        instances::{BindingRequest, Credentials, InstancePage, InstanceRequest, InstanceUpdate, InstancesView},
        manifests::ManifestApplied,
    },
    port::{PortError, PortResult, Portal},
    status::PortalStatus,
};

use app::model::Kind;

use crate::{db::Database, store::ResourceStore};

pub use catalog::CatalogCache;

/// The finalizer the controller puts on instances and bindings.
pub use crate::controller::instance::decide::FINALIZER;
/// Where the portal keeps Secrets of its own (broker credentials).
pub const SYSTEM_NAMESPACE: &str = "quartermaster-system";

pub struct PortalService {
    db: Database,
    store: Arc<dyn ResourceStore>,
    catalog: CatalogCache,
}

impl PortalService {
    /// Must be called inside a Tokio runtime: the catalog cache follows the store's changes.
    pub fn new(db: Database, store: Arc<dyn ResourceStore>) -> Self {
        let catalog = CatalogCache::start(store.clone());
        Self { db, store, catalog }
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

    async fn shell_info(&self, caller: &Caller) -> PortResult<ShellInfo> {
        let catalog = self.catalog.view(self.store.as_ref()).await?;
        Ok(ShellInfo {
            username: caller.username.clone(),
            services: catalog.tiles.iter().filter(|t| !t.removed).count(),
            instances: instances::count(self.store.as_ref(), caller).await?,
        })
    }

    async fn catalog(&self, _caller: &Caller) -> PortResult<Arc<CatalogView>> {
        self.catalog.view(self.store.as_ref()).await
    }

    async fn class(&self, _caller: &Caller, class: &str) -> PortResult<Option<ClassDetail>> {
        catalog::class_detail(self.store.as_ref(), class).await
    }

    async fn namespaces(&self, caller: &Caller) -> PortResult<Vec<String>> {
        instances::namespaces(self.store.as_ref(), caller).await
    }

    async fn instances(&self, caller: &Caller) -> PortResult<InstancesView> {
        instances::list_view(self.store.as_ref(), caller).await
    }

    async fn instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<Option<InstancePage>> {
        instances::page(self.store.as_ref(), caller, namespace, name).await
    }

    async fn request_instance(&self, caller: &Caller, request: InstanceRequest) -> PortResult<ObjectRef> {
        instances::request(self.store.as_ref(), caller, request).await
    }

    async fn update_instance(&self, caller: &Caller, update: InstanceUpdate) -> PortResult<ObjectRef> {
        instances::update(self.store.as_ref(), caller, update).await
    }

    async fn delete_instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
        instances::delete(self.store.as_ref(), caller, namespace, name).await
    }

    async fn abandon_instance(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
        instances::abandon(self.store.as_ref(), caller, namespace, name).await
    }

    async fn create_binding(&self, caller: &Caller, request: BindingRequest) -> PortResult<ObjectRef> {
        instances::bindings::create(self.store.as_ref(), caller, request).await
    }

    async fn delete_binding(&self, caller: &Caller, namespace: &str, name: &str) -> PortResult<()> {
        instances::bindings::delete(self.store.as_ref(), caller, namespace, name).await
    }

    async fn credentials(&self, caller: &Caller, namespace: &str, binding: &str) -> PortResult<Credentials> {
        instances::bindings::credentials(self.store.as_ref(), caller, namespace, binding).await
    }

    async fn brokers(&self, caller: &Caller) -> PortResult<Vec<BrokerRow>> {
        brokers::list_rows(self.store.as_ref(), caller).await
    }

    async fn register_broker(&self, caller: &Caller, form: BrokerForm) -> PortResult<String> {
        brokers::register(self.store.as_ref(), caller, form).await
    }

    async fn test_broker(&self, caller: &Caller, form: BrokerForm) -> PortResult<ConnectionTest> {
        brokers::test_connection(caller, form).await
    }

    async fn relist_broker(&self, caller: &Caller, name: &str) -> PortResult<()> {
        brokers::relist(self.store.as_ref(), caller, name).await
    }

    async fn delete_broker(&self, caller: &Caller, name: &str) -> PortResult<()> {
        brokers::delete(self.store.as_ref(), caller, name).await
    }

    async fn apply_manifest(&self, caller: &Caller, manifest: String) -> PortResult<Vec<ManifestApplied>> {
        crate::kapi::manifest::apply_for_portal(self.store.clone(), caller, &manifest).await
    }
}
