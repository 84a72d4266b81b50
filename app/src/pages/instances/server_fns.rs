//! The instances list's server function.

use leptos::prelude::*;

use crate::api::instances::{InstancesQuery, InstancesView};

#[server(endpoint = "instances")]
pub async fn load_instances(#[server(default)] query: InstancesQuery) -> Result<InstancesView, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.instances(&caller, &query).await?)
}
