//! One OSB client per broker, built from its spec (URL, CA bundle, TLS, auth Secret) and rebuilt
//! when the broker or its Secret changes; plus per-broker limits on calls in flight and on calls
//! per second (the broker's `quartermaster.io/max-calls-per-second` annotation, else the
//! controller's default).

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use app::model::Kind;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

use crate::{
    osb::client::{Auth, ClientConfig, OsbClient},
    store::ResourceStore,
};

/// The annotation on a broker object that sets its calls-per-second limit (`0`: none).
pub const RATE_ANNOTATION: &str = "quartermaster.io/max-calls-per-second";

/// A broker's client and the gate every call to it passes.
#[derive(Clone)]
pub struct BrokerHandle {
    pub client: OsbClient,
    pub limit: Arc<BrokerGate>,
}

/// Bounds the calls to one broker: how many are in flight, and how many start per second
/// (a GCRA bucket: `per_second` calls may start at once, then `per_second` a second).
pub struct BrokerGate {
    /// The broker's name, for the metric of calls that waited.
    broker: String,
    in_flight: Arc<Semaphore>,
    per_second: Option<NonZeroU32>,
    rate: Option<Arc<DefaultDirectRateLimiter>>,
}

impl BrokerGate {
    pub fn new(broker: &str, in_flight: usize, per_second: Option<NonZeroU32>) -> Self {
        Self::with_pool(broker, Arc::new(Semaphore::new(in_flight.max(1))), per_second, None)
    }

    fn with_pool(
        broker: &str,
        in_flight: Arc<Semaphore>,
        per_second: Option<NonZeroU32>,
        same_rate: Option<&BrokerGate>,
    ) -> Self {
        // The bucket survives a client rebuild when the limit did not change.
        let rate = match same_rate.filter(|g| g.per_second == per_second) {
            Some(gate) => gate.rate.clone(),
            None => per_second.map(|n| Arc::new(RateLimiter::direct(Quota::per_second(n)))),
        };
        Self { broker: broker.to_string(), in_flight, per_second, rate }
    }

    /// Waits for a place among the calls in flight, then for the rate to allow one more call.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        let permit = self.in_flight.acquire().await?;
        if let Some(rate) = &self.rate
            && rate.check().is_err()
        {
            crate::metrics::METRICS.broker_rate_limited.with_label_values(&[self.broker.as_str()]).inc();
            rate.until_ready().await;
        }
        Ok(permit)
    }

    /// The calls-per-second limit in force (`None`: unlimited).
    pub fn per_second(&self) -> Option<NonZeroU32> {
        self.per_second
    }
}

/// The broker's own limit from [`RATE_ANNOTATION`], else `default`; a value that is not a
/// whole number is an error for the broker's condition.
pub fn rate_of(broker: &Value, default: Option<NonZeroU32>) -> Result<Option<NonZeroU32>, String> {
    let Some(text) = broker.pointer("/metadata/annotations").and_then(|a| a.get(RATE_ANNOTATION)) else {
        return Ok(default);
    };
    let text = text.as_str().unwrap_or_default().trim();
    match text.parse::<u32>() {
        Ok(n) => Ok(NonZeroU32::new(n)),
        Err(_) => Err(format!(
            "the annotation {RATE_ANNOTATION} must be a whole number of calls per second (0: no limit), got {text:?}"
        )),
    }
}

/// A broker's key, and the fingerprint of the settings its cached client was built from.
type ClientCache = HashMap<(Kind, String, String), (String, BrokerHandle)>;

pub struct Clients {
    store: Arc<dyn ResourceStore>,
    request_timeout: Duration,
    per_broker_concurrency: usize,
    per_broker_rate: Option<NonZeroU32>,
    cache: Mutex<ClientCache>,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Clients {
    pub fn new(
        store: Arc<dyn ResourceStore>,
        request_timeout: Duration,
        per_broker_concurrency: usize,
        per_broker_rate: Option<NonZeroU32>,
    ) -> Self {
        Self {
            store,
            request_timeout,
            per_broker_concurrency: per_broker_concurrency.max(1),
            per_broker_rate,
            cache: Mutex::default(),
        }
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
        let per_second = rate_of(broker, self.per_broker_rate)?;
        let client = OsbClient::new(config).map_err(|e| e.to_string())?;
        // Keep the permit pool (and an unchanged rate bucket) across rebuilds so the limits hold
        // while old calls finish.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let gate = match cache.get(&key) {
            Some((_, old)) => BrokerGate::with_pool(&key.2, old.limit.in_flight.clone(), per_second, Some(&old.limit)),
            None => BrokerGate::new(&key.2, self.per_broker_concurrency, per_second),
        };
        let handle = BrokerHandle { client, limit: Arc::new(gate) };
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
