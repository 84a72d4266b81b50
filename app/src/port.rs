//! What the UI needs from the server. The server implements [`Portal`] and hands an
//! implementation to every render and server function through Leptos context; the UI never
//! reaches into storage itself.

use std::sync::Arc;

use crate::status::PortalStatus;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("the portal's database is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait::async_trait]
pub trait Portal: Send + Sync + 'static {
    async fn status(&self) -> Result<PortalStatus, PortError>;
}

/// The form in which the port travels through Leptos context.
pub type PortalHandle = Arc<dyn Portal>;

/// The port of the current request. Server functions and server-side renders call this.
pub fn portal() -> Result<PortalHandle, leptos::prelude::ServerFnError> {
    leptos::prelude::use_context::<PortalHandle>()
        .ok_or_else(|| leptos::prelude::ServerFnError::new("portal context missing (server wiring bug)"))
}
