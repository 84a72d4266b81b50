//! The request flow's server functions.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::api::{ObjectRef, Submitted, instances::InstanceRequest};

/// The namespaces (teams) a request may go to.
#[server(endpoint = "namespaces")]
pub async fn load_namespaces() -> Result<Vec<String>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.namespaces(&caller).await?)
}

/// Validates the request again on the server and creates the instance.
#[server(endpoint = "request_instance", input = Json)]
pub async fn request_instance(request: InstanceRequest) -> Result<Submitted<ObjectRef>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.request_instance(&caller, request).await {
        Ok(created) => Ok(Submitted::Done(created)),
        Err(e) => e.into_submitted(),
    }
}

/// The team's quotas and their use, shown beside the fields they govern.
#[server(endpoint = "quota")]
pub async fn load_quota(namespace: String) -> Result<crate::api::governance::QuotaView, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.quota(&caller, &namespace).await?)
}
