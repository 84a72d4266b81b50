//! The instance page's server functions.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::api::{
    ObjectRef, Submitted,
    instances::{BindingRequest, Credentials, InstancePage, InstanceUpdate},
};

#[server(endpoint = "instance")]
pub async fn load_instance(namespace: String, name: String) -> Result<Option<InstancePage>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.instance(&caller, &namespace, &name).await?)
}

#[server(endpoint = "update_instance", input = Json)]
pub async fn update_instance(update: InstanceUpdate) -> Result<Submitted<ObjectRef>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.update_instance(&caller, update).await {
        Ok(done) => Ok(Submitted::Done(done)),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "delete_instance")]
pub async fn delete_instance(namespace: String, name: String) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.delete_instance(&caller, &namespace, &name).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "abandon_instance")]
pub async fn abandon_instance(namespace: String, name: String) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.abandon_instance(&caller, &namespace, &name).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "create_binding", input = Json)]
pub async fn create_binding(request: BindingRequest) -> Result<Submitted<ObjectRef>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.create_binding(&caller, request).await {
        Ok(done) => Ok(Submitted::Done(done)),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "delete_binding")]
pub async fn delete_binding(namespace: String, name: String) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.delete_binding(&caller, &namespace, &name).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

/// A binding's credentials. Only ever called when a person asks to see them.
#[server(endpoint = "reveal_credentials")]
pub async fn reveal_credentials(namespace: String, binding: String) -> Result<Credentials, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.credentials(&caller, &namespace, &binding).await?)
}
