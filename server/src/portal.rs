//! The server's side of `app::port::Portal`: what the UI asks, answered from the database.

use app::{
    port::{PortError, Portal},
    status::PortalStatus,
};

use std::sync::Arc;

use crate::{db::Database, store::ResourceStore};

pub struct PortalService {
    db: Database,
    #[allow(dead_code)] // the catalog and instance pages read through it
    store: Arc<dyn ResourceStore>,
}

impl PortalService {
    pub fn new(db: Database, store: Arc<dyn ResourceStore>) -> Self {
        Self { db, store }
    }
}

fn unavailable(e: sqlx::Error) -> PortError {
    tracing::warn!(error = %e, "database query failed");
    PortError::Unavailable(e.to_string())
}

#[async_trait::async_trait]
impl Portal for PortalService {
    async fn status(&self) -> Result<PortalStatus, PortError> {
        let brokers = self.db.count_kind("ClusterServiceBroker").await.map_err(unavailable)?
            + self.db.count_kind("ServiceBroker").await.map_err(unavailable)?;
        let services = self.db.count_kind("ClusterServiceClass").await.map_err(unavailable)?
            + self.db.count_kind("ServiceClass").await.map_err(unavailable)?;
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
