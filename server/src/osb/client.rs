//! The HTTP side of the OSB client: one [`OsbClient`] per broker, one method per OSB call, each
//! returning a classified [`Reply`].

use std::time::Duration;

use reqwest::{Method, Url, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tracing::Instrument;

use super::{
    API_VERSION,
    catalog::{ParsedCatalog, parse_catalog},
    outcome::{Call, Outcome, Reply, classify, classify_with, parse_retry_after},
    wire::{
        BindRequest, BindResponse, FetchInstanceResponse, OperationResponse, OriginatingIdentity, ProvisionRequest,
        ProvisionResponse, UpdateRequest, UpdateResponse,
    },
};

pub const HEADER_API_VERSION: &str = "X-Broker-API-Version";
pub const HEADER_ORIGINATING_IDENTITY: &str = "X-Broker-API-Originating-Identity";
pub const HEADER_REQUEST_IDENTITY: &str = "X-Broker-API-Request-Identity";

/// How the portal proves itself to a broker.
#[derive(Clone, Debug)]
pub enum Auth {
    Basic { username: String, password: SecretString },
    Bearer { token: SecretString },
}

/// Everything needed to talk to one broker.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The broker's base URL (`http(s)://host[:port][/path]`); `/v2/…` is appended.
    pub url: String,
    pub auth: Option<Auth>,
    /// PEM certificates trusted in addition to the system's.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Accept any certificate (development only).
    pub insecure_skip_tls_verify: bool,
    pub connect_timeout: Duration,
    /// The whole call, body included.
    pub request_timeout: Duration,
    /// Larger answers become [`Outcome::Malformed`].
    pub max_body_bytes: usize,
}

impl ClientConfig {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
    /// Large enough for the largest real catalogs (Azure's is ~0.75 MB).
    pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: None,
            ca_bundle_pem: None,
            insecure_skip_tls_verify: false,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Why a client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the broker URL {0:?} is not an http(s) URL")]
    InvalidUrl(String),
    #[error("the CA bundle holds no usable PEM certificate: {0}")]
    InvalidCaBundle(String),
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// What `last_operation` is asked about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LastOperationQuery {
    pub service_id: Option<String>,
    pub plan_id: Option<String>,
    /// The `operation` the broker returned with its 202, echoed.
    pub operation: Option<String>,
}

/// Talks OSB 2.17 to one broker.
#[derive(Clone, Debug)]
pub struct OsbClient {
    http: reqwest::Client,
    base: Url,
    auth: Option<Auth>,
    max_body_bytes: usize,
}

impl OsbClient {
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        super::install_crypto_provider();
        let base = Url::parse(&config.url).map_err(|_| ClientError::InvalidUrl(config.url.clone()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() || base.host().is_none() {
            return Err(ClientError::InvalidUrl(config.url));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("quartermaster/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_bundle_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ClientError::InvalidCaBundle(e.to_string()))?;
            if certs.is_empty() {
                return Err(ClientError::InvalidCaBundle("no certificate found".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if config.insecure_skip_tls_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(Self { http, base, auth: config.auth, max_body_bytes: config.max_body_bytes })
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /v2/catalog`, parsed tolerantly: see [`ParsedCatalog`].
    pub async fn catalog(&self) -> Reply<ParsedCatalog> {
        let request = self.request(Method::GET, &["v2", "catalog"], &[], None::<&()>, None);
        self.send(Call::Catalog, request, |call, status, body| {
            classify_with(call, status, body, |bytes| parse_catalog(bytes).map_err(|e| e.0))
        })
        .await
    }

    /// `PUT /v2/service_instances/:id?accepts_incomplete=true`
    pub async fn provision(
        &self,
        instance_id: &str,
        body: &ProvisionRequest,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<ProvisionResponse> {
        let request =
            self.request(Method::PUT, &instance_path(instance_id), &[ACCEPTS_INCOMPLETE], Some(body), identity);
        self.send(Call::Provision, request, classify).await
    }

    /// `PATCH /v2/service_instances/:id?accepts_incomplete=true`
    pub async fn update(
        &self,
        instance_id: &str,
        body: &UpdateRequest,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<UpdateResponse> {
        let request =
            self.request(Method::PATCH, &instance_path(instance_id), &[ACCEPTS_INCOMPLETE], Some(body), identity);
        self.send(Call::Update, request, classify).await
    }

    /// `DELETE /v2/service_instances/:id?accepts_incomplete=true&service_id=…&plan_id=…`
    pub async fn deprovision(
        &self,
        instance_id: &str,
        service_id: &str,
        plan_id: &str,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<OperationResponse> {
        let query = [ACCEPTS_INCOMPLETE, ("service_id", service_id), ("plan_id", plan_id)];
        let request = self.request(Method::DELETE, &instance_path(instance_id), &query, None::<&()>, identity);
        self.send(Call::Deprovision, request, classify).await
    }

    /// `GET /v2/service_instances/:id` (service and plan ids are optional hints).
    pub async fn fetch_instance(
        &self,
        instance_id: &str,
        service_id: Option<&str>,
        plan_id: Option<&str>,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<FetchInstanceResponse> {
        let query = hints(service_id, plan_id);
        let request = self.request(Method::GET, &instance_path(instance_id), &query, None::<&()>, identity);
        self.send(Call::FetchInstance, request, classify).await
    }

    /// `GET /v2/service_instances/:id/last_operation`: the outcome is InProgress, Succeeded, Failed,
    /// Gone or an error.
    pub async fn last_operation(
        &self,
        instance_id: &str,
        query: &LastOperationQuery,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<()> {
        let mut path = instance_path(instance_id).to_vec();
        path.push("last_operation");
        let request = self.request(Method::GET, &path, &last_operation_query(query), None::<&()>, identity);
        self.send(Call::InstanceLastOperation, request, no_body).await
    }

    /// `PUT /v2/service_instances/:id/service_bindings/:binding_id?accepts_incomplete=true`
    pub async fn bind(
        &self,
        instance_id: &str,
        binding_id: &str,
        body: &BindRequest,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<BindResponse> {
        let path = binding_path(instance_id, binding_id);
        let request = self.request(Method::PUT, &path, &[ACCEPTS_INCOMPLETE], Some(body), identity);
        self.send(Call::Bind, request, classify).await
    }

    /// `DELETE /v2/service_instances/:id/service_bindings/:binding_id?accepts_incomplete=true&…`
    pub async fn unbind(
        &self,
        instance_id: &str,
        binding_id: &str,
        service_id: &str,
        plan_id: &str,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<OperationResponse> {
        let query = [ACCEPTS_INCOMPLETE, ("service_id", service_id), ("plan_id", plan_id)];
        let path = binding_path(instance_id, binding_id);
        let request = self.request(Method::DELETE, &path, &query, None::<&()>, identity);
        self.send(Call::Unbind, request, classify).await
    }

    /// `GET /v2/service_instances/:id/service_bindings/:binding_id`
    pub async fn fetch_binding(
        &self,
        instance_id: &str,
        binding_id: &str,
        service_id: Option<&str>,
        plan_id: Option<&str>,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<BindResponse> {
        let query = hints(service_id, plan_id);
        let path = binding_path(instance_id, binding_id);
        let request = self.request(Method::GET, &path, &query, None::<&()>, identity);
        self.send(Call::FetchBinding, request, classify).await
    }

    /// `GET /v2/service_instances/:id/service_bindings/:binding_id/last_operation`
    pub async fn binding_last_operation(
        &self,
        instance_id: &str,
        binding_id: &str,
        query: &LastOperationQuery,
        identity: Option<&OriginatingIdentity>,
    ) -> Reply<()> {
        let mut path = binding_path(instance_id, binding_id).to_vec();
        path.push("last_operation");
        let request = self.request(Method::GET, &path, &last_operation_query(query), None::<&()>, identity);
        self.send(Call::BindingLastOperation, request, no_body).await
    }

    fn request<B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
        identity: Option<&OriginatingIdentity>,
    ) -> reqwest::RequestBuilder {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self.http.request(method, url).header(HEADER_API_VERSION, API_VERSION);
        request = match &self.auth {
            Some(Auth::Basic { username, password }) => request.basic_auth(username, Some(password.expose_secret())),
            Some(Auth::Bearer { token }) => request.bearer_auth(token.expose_secret()),
            None => request,
        };
        if let Some(identity) = identity {
            request = request.header(HEADER_ORIGINATING_IDENTITY, identity.header_value());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request
    }

    async fn send<T>(
        &self,
        call: Call,
        request: reqwest::RequestBuilder,
        classify: impl FnOnce(Call, u16, &[u8]) -> Outcome<T>,
    ) -> Reply<T> {
        let request_identity = uuid::Uuid::new_v4().to_string();
        let request = request.header(HEADER_REQUEST_IDENTITY, &request_identity);
        let span = tracing::info_span!("osb_call", call = call.name(), request_identity = %request_identity);
        let started = std::time::Instant::now();
        async move {
            let (outcome, retry_after) = match request.send().await {
                Err(e) => (transport_outcome(&e), None),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = retry_after(response.headers());
                    match read_limited(response, self.max_body_bytes).await {
                        Ok(body) => (classify(call, status, &body), retry_after),
                        Err(BodyError::TooLarge) => (
                            Outcome::Malformed {
                                status,
                                reason: format!("the body is larger than {} bytes", self.max_body_bytes),
                            },
                            retry_after,
                        ),
                        Err(BodyError::Transport(e)) => (transport_outcome(&e), retry_after),
                    }
                }
            };
            tracing::debug!(outcome = outcome.kind(), ?retry_after, "broker answered");
            let broker = format!(
                "{}:{}",
                self.base.host_str().unwrap_or_default(),
                self.base.port_or_known_default().unwrap_or(0)
            );
            crate::metrics::METRICS.observe_broker_call(&broker, call.name(), outcome.kind(), started.elapsed());
            Reply { call, outcome, retry_after, request_identity }
        }
        .instrument(span)
        .await
    }
}

const ACCEPTS_INCOMPLETE: (&str, &str) = ("accepts_incomplete", "true");

fn instance_path(instance_id: &str) -> [&str; 3] {
    ["v2", "service_instances", instance_id]
}

fn binding_path<'a>(instance_id: &'a str, binding_id: &'a str) -> [&'a str; 5] {
    ["v2", "service_instances", instance_id, "service_bindings", binding_id]
}

fn hints<'a>(service_id: Option<&'a str>, plan_id: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut query = Vec::new();
    if let Some(s) = service_id {
        query.push(("service_id", s));
    }
    if let Some(p) = plan_id {
        query.push(("plan_id", p));
    }
    query
}

fn last_operation_query(q: &LastOperationQuery) -> Vec<(&str, &str)> {
    let mut query = hints(q.service_id.as_deref(), q.plan_id.as_deref());
    if let Some(op) = &q.operation {
        query.push(("operation", op));
    }
    query
}

fn no_body(call: Call, status: u16, body: &[u8]) -> Outcome<()> {
    classify_with(call, status, body, |_| Ok(()))
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, jiff::Timestamp::now())
}

fn transport_outcome<T>(e: &reqwest::Error) -> Outcome<T> {
    if e.is_connect() {
        Outcome::Unreachable { reason: error_chain(e) }
    } else if e.is_timeout() {
        Outcome::Timeout
    } else {
        Outcome::ConnectionLost { reason: error_chain(e) }
    }
}

/// The error and its causes in one line (reqwest's top-level message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

enum BodyError {
    TooLarge,
    Transport(reqwest::Error),
}

/// Reads the body, refusing to hold more than `limit` bytes.
async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
