//! The instances list's server function.

use leptos::prelude::*;

use crate::api::instances::InstancesView;

#[server(endpoint = "instances")]
pub async fn load_instances() -> Result<InstancesView, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.instances(&caller).await?)
}
