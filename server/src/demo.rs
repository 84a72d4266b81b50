//! The built-in broker registers itself as the demo broker on the portal's first start, so the
//! catalog is never empty out of the box. An admin who deletes it is not overruled later.
//!
//! It is registered with basic auth: the broker demands this process's credentials (see
//! `--builtin-broker-password`), and every start writes them into the registration's auth Secret,
//! so only the portal (and whoever was given the password) can drive it or flip its fault switch.

use app::model::{ClusterServiceBrokerAuthInfo, Kind};
use serde_json::{Value, json};

use secrecy::ExposeSecret as _;

use crate::{
    broker::BasicCredentials,
    db::Database,
    store::{ResourceStore, StoreError},
};

pub const BROKER_NAME: &str = "builtin-broker";
const REGISTERED: &str = "builtin_broker_registered";
const BUILTIN_LABEL: &str = "quartermaster.io/builtin";

pub async fn register_builtin_broker(
    db: &Database,
    store: &dyn ResourceStore,
    url: &str,
    credentials: &BasicCredentials,
) -> anyhow::Result<()> {
    let existing = store.get(Kind::ClusterServiceBroker, "", BROKER_NAME).await?;
    let auth_info = || async {
        let data = [("username", credentials.username.as_str()), ("password", credentials.password.expose_secret())];
        let reference = crate::portal::put_auth_secret(store, BROKER_NAME, &data).await?;
        anyhow::Ok(serde_json::to_value(ClusterServiceBrokerAuthInfo { basic: Some(reference), bearer: None })?)
    };
    // The portal may listen on another port than last time, or (with the catalog in a
    // Kubernetes cluster) an earlier portal with another database registered it: keep the
    // built-in broker reachable, with this process's credentials.
    if let Some(mut broker) = existing.clone()
        && broker.pointer(&format!("/metadata/labels/{}", BUILTIN_LABEL.replace('/', "~1")))
            == Some(&Value::from("true"))
    {
        let auth_info = auth_info().await?;
        if broker.pointer("/spec/url").and_then(Value::as_str) != Some(url)
            || broker.pointer("/spec/authInfo") != Some(&auth_info)
        {
            broker["spec"]["url"] = json!(url);
            broker["spec"]["authInfo"] = auth_info;
            store.update(Kind::ClusterServiceBroker, broker).await?;
            tracing::info!(url, "the built-in broker's registration follows this portal");
        }
    }
    if db.meta(REGISTERED).await?.is_none() {
        if existing.is_none() {
            let broker = json!({
                "apiVersion": app::model::API_VERSION,
                "kind": "ClusterServiceBroker",
                "metadata": {"name": BROKER_NAME, "labels": {BUILTIN_LABEL: "true"},
                             "annotations": {"quartermaster.io/description": "The Hadoop/Kafka demo broker built into Quartermaster"}},
                "spec": {"url": url, "relistBehavior": "Duration", "relistDuration": "15m0s", "authInfo": auth_info().await?}
            });
            match store.create(Kind::ClusterServiceBroker, broker).await {
                Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(url, "registered the built-in broker as {BROKER_NAME:?}");
        }
        db.set_meta(REGISTERED, &jiff::Timestamp::now().to_string()).await?;
    }
    Ok(())
}
