//! The built-in OSB 2.17 broker (also serving 2.13–2.16 clients): a Hadoop-flavoured catalog,
//! instances and bindings kept in its own SQLite file ([`BrokerDb`]), sync or async operations, and
//! fault injection. Its own axum Router, mounted by the portal under [`MOUNT_PATH`] (with
//! `<portal data dir>/broker.db`) and runnable alone (`quartermaster broker --data-dir DIR`).
//!
//! Steering it (names in [`Fault`]: `timeout`, `server-error`, `bad-json`, `invalid-status`,
//! `async-fail`, `async-never`, `bad-request`, `conflict`, `gone`, `async-required`,
//! `concurrency-error`, `requires-app`, `maintenance-info-conflict`, `slow-catalog`, `huge-catalog`):
//! - per request: `parameters._fault` (provision, update, bind) or `?_fault=` (deprovision, unbind);
//!   `parameters._async` / `?_async=` choose sync or async for that request. Keys starting with `_`
//!   are never stored or validated.
//! - broker-wide: [`BrokerConfig::fault`] (`--fault server-error@provision*2`), or at run time
//!   `PUT /admin/fault {"fault": "…", "on": "provision", "times": 2}`, `DELETE /admin/fault`.
//! - `GET /admin/requests` lists the last requests' OSB headers (for tests and demos).
//!
//! The orphan faults (`timeout`, `server-error`, `bad-json`, `invalid-status`) do the work first and
//! then spoil the answer, so the platform's orphan mitigation has something to clean up.
//!
//! What survives a restart: instances, bindings (with the credentials issued) and operations with
//! their timing, so an asynchronous operation started before a restart ends as planned after it.
//! What does not: the broker-wide fault rule (back to [`BrokerConfig::fault`]) and the request log.
//!
//! Icons: `GET /icons/{service}.svg` (no credentials needed, so browsers can show them), named by
//! absolute URL under [`BrokerConfig::public_url`] in each service's `metadata.imageUrl`.

mod admin;
mod bindings;
pub mod catalog;
pub mod credentials;
pub mod faults;
pub mod icons;
mod instances;
mod reply;
mod rules;
mod services;
pub mod state;
pub mod store;

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

pub use self::{
    faults::{Endpoint, Fault, FaultRule},
    store::BrokerDb,
};
use self::{reply::osb_error, state::RequestRecord};
use crate::osb::{
    Catalog, SchemaSlot,
    client::{HEADER_API_VERSION, HEADER_ORIGINATING_IDENTITY, HEADER_REQUEST_IDENTITY},
    wire::OriginatingIdentity,
};

/// Where the portal mounts the built-in broker.
pub const MOUNT_PATH: &str = "/broker";

/// The user name the built-in broker demands (the password is `--builtin-broker-password`).
pub const BUILTIN_USERNAME: &str = "quartermaster";

/// The URL of the built-in broker inside a portal reachable at `portal_base`
/// (e.g. `http://127.0.0.1:3000` → `http://127.0.0.1:3000/broker`).
pub fn builtin_broker_url(portal_base: &str) -> String {
    format!("{}{MOUNT_PATH}", portal_base.trim_end_matches('/'))
}

/// The built-in broker's URL for a portal listening on `addr`, as a process on this machine reaches
/// it (an unspecified address becomes loopback). This is what the demo-broker registration uses.
pub fn builtin_broker_url_for(addr: std::net::SocketAddr) -> String {
    builtin_broker_url(&local_url(addr))
}

/// `http://HOST:PORT` for a server listening on `addr`, as a process on this machine reaches it
/// (an unspecified address becomes loopback).
pub fn local_url(addr: std::net::SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    format!("http://{host}:{}", addr.port())
}

/// The oldest and newest OSB minor versions served (2.13 … 2.17).
pub const MIN_MINOR: u32 = 13;
pub const MAX_MINOR: u32 = 17;

/// HTTP basic credentials the broker demands.
#[derive(Clone, Debug)]
pub struct BasicCredentials {
    pub username: String,
    pub password: SecretString,
}

/// How the built-in broker behaves.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// The URL clients reach the broker at (icon URLs in the catalog are built from it).
    pub public_url: String,
    /// Demand these credentials (none: open).
    pub basic_auth: Option<BasicCredentials>,
    /// Answer provision/update/deprovision/bind/unbind with 202 when the client accepts it.
    pub asynchronous: bool,
    /// How long an asynchronous operation stays `in progress`.
    pub async_delay: Duration,
    /// What `Retry-After` advertises on `in progress` answers (whole seconds, at least 1).
    pub retry_after: Duration,
    /// How long the `timeout` fault holds an answer.
    pub hang_for: Duration,
    /// How long the `slow-catalog` fault delays the catalog.
    pub slow_for: Duration,
    /// A broker-wide fault from the start (can be changed at run time through `/admin/fault`).
    pub fault: Option<FaultRule>,
    /// How many requests `GET /admin/requests` remembers (the oldest are dropped).
    pub request_log_limit: usize,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8090".into(),
            basic_auth: None,
            asynchronous: true,
            async_delay: Duration::from_secs(3),
            retry_after: Duration::from_secs(1),
            hang_for: Duration::from_secs(120),
            slow_for: Duration::from_secs(10),
            fault: None,
            request_log_limit: 5000,
        }
    }
}

/// Everything the handlers share.
pub(crate) struct Broker {
    pub config: BrokerConfig,
    pub catalog: Catalog,
    /// Catalog bodies per minor version, rendered once.
    pub catalog_bodies: HashMap<u32, Vec<u8>>,
    pub validators: HashMap<(String, SchemaSlot), jsonschema::Validator>,
    /// Icons by service name.
    pub icons: HashMap<String, icons::Icon>,
    pub db: BrokerDb,
    pub memory: std::sync::Mutex<state::Memory>,
}

pub(crate) type Shared = Arc<Broker>;

impl Broker {
    fn new(config: BrokerConfig, db: BrokerDb) -> Self {
        let catalog = catalog::catalog(&config.public_url);
        let catalog_bodies = (MIN_MINOR..=MAX_MINOR)
            .map(|minor| (minor, serde_json::to_vec(&catalog::catalog_json_for(&catalog, minor)).unwrap_or_default()))
            .collect();
        let mut validators = HashMap::new();
        for plan in catalog.services.iter().flat_map(|s| &s.plans) {
            for slot in SchemaSlot::ALL {
                let Some(schema) = plan.schema(slot) else { continue };
                match jsonschema::draft4::new(schema) {
                    Ok(v) => {
                        validators.insert((plan.id.clone(), slot), v);
                    }
                    Err(e) => tracing::error!(plan = %plan.id, ?slot, error = %e, "built-in schema does not compile"),
                }
            }
        }
        let icons = icons::render_all(catalog.services.iter().map(|s| {
            (s.name.as_str(), s.metadata.as_ref().and_then(|m| m.display_name.as_deref()).unwrap_or(&s.name))
        }));
        let memory = state::Memory { rule: config.fault.clone(), ..state::Memory::default() };
        Self { config, catalog, catalog_bodies, validators, icons, db, memory: std::sync::Mutex::new(memory) }
    }

    /// The in-memory part (fault rule, request log), even if a panic elsewhere poisoned the lock
    /// (each use leaves it consistent).
    pub fn memory(&self) -> std::sync::MutexGuard<'_, state::Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn retry_after_value(&self) -> HeaderValue {
        let secs = self.config.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        HeaderValue::from(secs)
    }
}

/// The broker's routes: `/v2/…` (OSB), `/admin/…` (fault switch, request log) and `/icons/…`,
/// keeping its records in `db` (see [`BrokerDb::open`]).
pub fn router(config: BrokerConfig, db: BrokerDb) -> Router {
    let broker: Shared = Arc::new(Broker::new(config, db));
    let osb = Router::new()
        .route("/v2/catalog", get(instances::catalog))
        .route(
            "/v2/service_instances/{instance_id}",
            get(instances::fetch).put(instances::provision).patch(instances::update).delete(instances::deprovision),
        )
        .route("/v2/service_instances/{instance_id}/last_operation", get(instances::last_operation))
        .route(
            "/v2/service_instances/{instance_id}/service_bindings/{binding_id}",
            get(bindings::fetch).put(bindings::bind).delete(bindings::unbind),
        )
        .route(
            "/v2/service_instances/{instance_id}/service_bindings/{binding_id}/last_operation",
            get(bindings::last_operation),
        )
        .layer(middleware::from_fn(check_version));
    osb.merge(admin::routes())
        .layer(middleware::from_fn_with_state(broker.clone(), authenticate_and_record))
        // Outside authentication: browsers fetch icons without the broker's credentials.
        .route("/icons/{file}", get(icons::serve))
        .with_state(broker)
}

/// The OSB minor version a request announced (set by [`check_version`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ApiMinor(pub u32);

/// Refuses requests without a supported `X-Broker-API-Version` (412), as OSB requires.
async fn check_version(mut request: Request, next: Next) -> Response {
    let announced = request.headers().get(HEADER_API_VERSION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let minor = announced.as_deref().and_then(|v| v.trim().strip_prefix("2.")).and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(minor) if (MIN_MINOR..=MAX_MINOR).contains(&minor) => {
            request.extensions_mut().insert(ApiMinor(minor));
            next.run(request).await
        }
        _ => osb_error(
            StatusCode::PRECONDITION_FAILED,
            None,
            &format!(
                "this broker speaks OSB 2.{MIN_MINOR} to 2.{MAX_MINOR}; the request announced {}",
                announced.map_or_else(|| "no X-Broker-API-Version".to_string(), |v| format!("{v:?}"))
            ),
        ),
    }
}

/// Checks credentials and the originating identity, records the request, echoes the request
/// identity on the answer.
async fn authenticate_and_record(State(broker): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let auth_scheme = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_whitespace().next())
        .map(str::to_ascii_lowercase);
    let request_identity = header_str(headers, HEADER_REQUEST_IDENTITY);
    let identity = header_str(headers, HEADER_ORIGINATING_IDENTITY).map(|v| OriginatingIdentity::parse_header(&v));
    let (platform, user) = match &identity {
        Some(Ok((platform, identity))) => (Some(platform.clone()), Some(identity.clone())),
        _ => (None, None),
    };
    let limit = broker.config.request_log_limit;
    broker.memory().record(
        limit,
        RequestRecord {
            received_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            api_version: header_str(headers, HEADER_API_VERSION),
            request_identity: request_identity.clone(),
            originating_platform: platform,
            originating_user: user.as_ref().map(|u| u.username.clone()),
            originating_uid: user.as_ref().map(|u| u.uid.clone()),
            originating_groups: user.map(|u| u.groups).unwrap_or_default(),
            auth_scheme,
        },
    );
    let mut response = if let Some(expected) = &broker.config.basic_auth
        && !basic_auth_matches(headers, expected)
    {
        let mut response = osb_error(StatusCode::UNAUTHORIZED, None, "missing or wrong broker credentials");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"quartermaster-broker\""));
        response
    } else if let Some(Err(reason)) = identity {
        osb_error(StatusCode::BAD_REQUEST, None, &format!("{HEADER_ORIGINATING_IDENTITY}: {reason}"))
    } else {
        next.run(request).await
    };
    if let Some(id) = request_identity.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(HEADER_REQUEST_IDENTITY, id);
    }
    response
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn basic_auth_matches(headers: &HeaderMap, expected: &BasicCredentials) -> bool {
    let Some(encoded) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
    let Ok(decoded) = String::from_utf8(decoded) else { return false };
    let Some((user, password)) = decoded.split_once(':') else { return false };
    // Compare everything, so the time taken says nothing about which part differed.
    let user_ok = constant_time_eq(user.as_bytes(), expected.username.as_bytes());
    let password_ok = constant_time_eq(password.as_bytes(), expected.password.expose_secret().as_bytes());
    user_ok & password_ok
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_inside_the_portal() {
        assert_eq!(builtin_broker_url("http://127.0.0.1:3000/"), "http://127.0.0.1:3000/broker");
        assert_eq!(builtin_broker_url("https://qm.example.com"), "https://qm.example.com/broker");
        assert_eq!(builtin_broker_url_for("0.0.0.0:3000".parse().unwrap()), "http://127.0.0.1:3000/broker");
        assert_eq!(builtin_broker_url_for("[::1]:80".parse().unwrap()), "http://[::1]:80/broker");
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
