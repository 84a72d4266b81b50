//! The catalog's server functions.

use leptos::prelude::*;

use leptos::server_fn::codec::Json;

use crate::api::catalog::{CatalogPage, CatalogQuery, ClassDetail};

/// Tiles on the catalog's first page; the rest come with "Show all".
pub const FIRST_TILES: usize = 60;
use crate::status::PortalStatus;

/// Asks the server how it is: version, database, brokers and services known.
#[server(endpoint = "check_portal")]
pub async fn check_portal() -> Result<PortalStatus, ServerFnError> {
    let portal = crate::port::portal()?;
    portal.status().await.map_err(|e| ServerFnError::new(e.to_string()))
}

/// The tiles matching a query (the first page of them, or all), with the filters' choices.
/// Filtering happens here, so a page carries what it shows, not the whole catalog.
#[server(endpoint = "catalog", input = Json)]
pub async fn load_catalog(query: CatalogQuery) -> Result<CatalogPage, ServerFnError> {
    let catalog = match crate::port::page_data() {
        Some(data) => data.catalog,
        None => {
            let (portal, caller) = crate::port::portal_and_caller()?;
            portal.catalog(&caller).await?
        }
    };
    Ok(catalog.page(&query, FIRST_TILES))
}

/// One class with its plans; `None` when there is no such class.
#[server(endpoint = "class")]
pub async fn load_class(class: String) -> Result<Option<ClassDetail>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.class(&caller, &class).await?)
}
