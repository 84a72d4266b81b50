//! The built-in broker registers itself as the demo broker on the portal's first start, so the
//! catalog is never empty out of the box. An admin who deletes it is not overruled later.

use app::model::Kind;
use serde_json::{Value, json};

use crate::{
    db::Database,
    store::{ResourceStore, StoreError},
};

pub const BROKER_NAME: &str = "builtin-broker";
const REGISTERED: &str = "builtin_broker_registered";
const BUILTIN_LABEL: &str = "quartermaster.io/builtin";

pub async fn register_builtin_broker(db: &Database, store: &dyn ResourceStore, url: &str) -> anyhow::Result<()> {
    let existing = store.get(Kind::ClusterServiceBroker, "", BROKER_NAME).await?;
    // The portal may listen on another port than last time, or (with the catalog in a
    // Kubernetes cluster) an earlier portal with another database registered it: keep the
    // built-in broker reachable.
    if let Some(mut broker) = existing.clone()
        && broker.pointer(&format!("/metadata/labels/{}", BUILTIN_LABEL.replace('/', "~1")))
            == Some(&Value::from("true"))
        && broker.pointer("/spec/url").and_then(Value::as_str) != Some(url)
    {
        broker["spec"]["url"] = json!(url);
        store.update(Kind::ClusterServiceBroker, broker).await?;
        tracing::info!(url, "the built-in broker moved with the portal");
    }
    if db.meta(REGISTERED).await?.is_none() {
        if existing.is_none() {
            let broker = json!({
                "apiVersion": app::model::API_VERSION,
                "kind": "ClusterServiceBroker",
                "metadata": {"name": BROKER_NAME, "labels": {BUILTIN_LABEL: "true"},
                             "annotations": {"quartermaster.io/description": "The Hadoop/Kafka demo broker built into Quartermaster"}},
                "spec": {"url": url, "relistBehavior": "Duration", "relistDuration": "15m0s"}
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
