//! The catalog's server functions.

use leptos::prelude::*;

use crate::api::catalog::{CatalogView, ClassDetail};
use crate::status::PortalStatus;

/// Asks the server how it is: version, database, brokers and services known.
#[server(endpoint = "check_portal")]
pub async fn check_portal() -> Result<PortalStatus, ServerFnError> {
    let portal = crate::port::portal()?;
    portal.status().await.map_err(|e| ServerFnError::new(e.to_string()))
}

/// Every class of every broker, as tiles.
#[server(endpoint = "catalog")]
pub async fn load_catalog() -> Result<CatalogView, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.catalog(&caller).await?)
}

/// One class with its plans; `None` when there is no such class.
#[server(endpoint = "class")]
pub async fn load_class(class: String) -> Result<Option<ClassDetail>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.class(&caller, &class).await?)
}
