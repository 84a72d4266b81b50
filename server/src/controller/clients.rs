//! One OSB client per broker, built from its spec (URL, CA bundle, TLS, auth Secret) and rebuilt
//! when the broker or its Secret changes; plus a per-broker limit on calls in flight.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::model::Kind;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::{
    osb::client::{Auth, ClientConfig, OsbClient},
    store::ResourceStore,
};

/// A broker's client and the permit pool that bounds calls to it.
#[derive(Clone)]
pub struct BrokerHandle {
    pub client: OsbClient,
    pub limit: Arc<Semaphore>,
}

/// A broker's key, and the fingerprint of the settings its cached client was built from.
type ClientCache = HashMap<(Kind, String, String), (String, BrokerHandle)>;

pub struct Clients {
    store: Arc<dyn ResourceStore>,
    request_timeout: Duration,
    per_broker_concurrency: usize,
    cache: Mutex<ClientCache>,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Clients {
    pub fn new(store: Arc<dyn ResourceStore>, request_timeout: Duration, per_broker_concurrency: usize) -> Self {
        Self { store, request_timeout, per_broker_concurrency: per_broker_concurrency.max(1), cache: Mutex::default() }
    }

    /// The client for a broker object; errors are sentences for a condition message.
    pub async fn for_broker(&self, kind: Kind, broker: &Value) -> Result<BrokerHandle, String> {
        let namespace = str_at(broker, "/metadata/namespace").unwrap_or_default().to_string();
        let name = str_at(broker, "/metadata/name").unwrap_or_default().to_string();
        let (auth, secret_rv) = self.auth(kind, &namespace, broker).await?;
        let fingerprint = format!(
            "{}/{}",
            str_at(broker, "/metadata/resourceVersion").unwrap_or_default(),
            secret_rv.unwrap_or_default()
        );
        let key = (kind, namespace, name);
        if let Some((fp, handle)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
            && *fp == fingerprint
        {
            return Ok(handle.clone());
        }
        let spec = broker.get("spec").cloned().unwrap_or_default();
        let mut config = ClientConfig::new(spec.get("url").and_then(Value::as_str).unwrap_or_default());
        config.request_timeout = self.request_timeout;
        config.insecure_skip_tls_verify = spec.get("insecureSkipTLSVerify").and_then(Value::as_bool).unwrap_or(false);
        if let Some(bundle) = spec.get("caBundle").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            config.ca_bundle_pem = Some(B64.decode(bundle).map_err(|_| "spec.caBundle is not base64".to_string())?);
        }
        config.auth = auth;
        let client = OsbClient::new(config).map_err(|e| e.to_string())?;
        let handle = BrokerHandle { client, limit: Arc::new(Semaphore::new(self.per_broker_concurrency)) };
        // Keep the permit pool across rebuilds so the limit holds while old calls finish.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let handle = match cache.get(&key) {
            Some((_, old)) => BrokerHandle { client: handle.client, limit: old.limit.clone() },
            None => handle,
        };
        cache.insert(key, (fingerprint, handle.clone()));
        Ok(handle)
    }

    /// Reads `spec.authInfo` (basic: `username`/`password`, bearer: `token` keys of a Secret).
    async fn auth(
        &self,
        kind: Kind,
        broker_ns: &str,
        broker: &Value,
    ) -> Result<(Option<Auth>, Option<String>), String> {
        let Some(auth_info) = broker.pointer("/spec/authInfo").filter(|v| !v.is_null()) else {
            return Ok((None, None));
        };
        let (method, secret_ref) = if let Some(r) = auth_info.pointer("/basic/secretRef") {
            ("basic", r)
        } else if let Some(r) = auth_info.pointer("/bearer/secretRef") {
            ("bearer", r)
        } else {
            return Err("spec.authInfo names neither basic nor bearer".into());
        };
        let name = secret_ref.get("name").and_then(Value::as_str).unwrap_or_default();
        let namespace = if kind == Kind::ServiceBroker {
            broker_ns
        } else {
            secret_ref.get("namespace").and_then(Value::as_str).unwrap_or_default()
        };
        let secret = self
            .store
            .get(Kind::Secret, namespace, name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the auth Secret {namespace}/{name} does not exist"))?;
        let field = |key: &str| -> Result<String, String> {
            let encoded = secret
                .pointer(&format!("/data/{key}"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the auth Secret {namespace}/{name} has no {key:?} key"))?;
            let bytes = B64.decode(encoded).map_err(|_| format!("{key:?} in {namespace}/{name} is not base64"))?;
            String::from_utf8(bytes).map_err(|_| format!("{key:?} in {namespace}/{name} is not text"))
        };
        let auth = if method == "basic" {
            Auth::Basic { username: field("username")?, password: SecretString::from(field("password")?) }
        } else {
            Auth::Bearer { token: SecretString::from(field("token")?) }
        };
        Ok((Some(auth), str_at(&secret, "/metadata/resourceVersion").map(str::to_string)))
    }
}
