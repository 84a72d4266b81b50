//! Admin › Brokers server functions.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::api::{
    Submitted,
    brokers::{BrokerForm, BrokerRow, ConnectionTest},
};

#[server(endpoint = "brokers")]
pub async fn load_brokers() -> Result<Vec<BrokerRow>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.brokers(&caller).await?)
}

#[server(endpoint = "register_broker", input = Json)]
pub async fn register_broker(form: BrokerForm) -> Result<Submitted<String>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.register_broker(&caller, form).await {
        Ok(name) => Ok(Submitted::Done(name)),
        Err(e) => e.into_submitted(),
    }
}

/// Fetches the broker's catalog with the form's settings, registering nothing.
#[server(endpoint = "test_broker", input = Json)]
pub async fn test_broker(form: BrokerForm) -> Result<ConnectionTest, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    Ok(portal.test_broker(&caller, form).await?)
}

#[server(endpoint = "relist_broker")]
pub async fn relist_broker(name: String) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.relist_broker(&caller, &name).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "delete_broker")]
pub async fn delete_broker(name: String) -> Result<Submitted<()>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.delete_broker(&caller, &name).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}
