//! The server's side of `app::port::Portal`: what the UI asks, answered from the database.

use app::{
    port::{PortError, Portal},
    status::PortalStatus,
};

use std::sync::Arc;

use app::model::Kind;

use crate::{
    db::Database,
    store::{self, ResourceStore, StoreError},
};

pub struct PortalService {
    db: Database,
    /// The catalog's objects, wherever they live (the database or a Kubernetes API server).
    store: Arc<dyn ResourceStore>,
}

impl PortalService {
    pub fn new(db: Database, store: Arc<dyn ResourceStore>) -> Self {
        Self { db, store }
    }
}

fn unavailable(e: StoreError) -> PortError {
    tracing::warn!(error = %e, "reading the catalog failed");
    PortError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl Portal for PortalService {
    async fn status(&self) -> Result<PortalStatus, PortError> {
        let count = |kind| store::count(self.store.as_ref(), kind);
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
}
