//! Admin › Brokers: the registered ClusterServiceBrokers with their status and catalog problems,
//! registration (credentials go into a Secret the portal creates), a connection test that
//! fetches the catalog with the OSB client, "relist now", and removal.

use std::time::Duration;

use app::{
    api::{
        Caller, Rejection,
        brokers::{AuthChoice, BrokerForm, BrokerRow, ConnectionTest, valid_duration},
    },
    model::{
        ClusterBasicAuthConfig, ClusterServiceBroker, ClusterServiceBrokerAuthInfo, ClusterServiceClass,
        ClusterServicePlan, ObjectReference, RelistBehavior, Resource, Secret, validate_dns1123_subdomain,
    },
    port::{PortError, PortResult},
};
use base64::Engine as _;
use secrecy::SecretString;

use super::{
    SYSTEM_NAMESPACE,
    access::{check_admin, get, list, store_error, store_update},
};
use crate::{
    osb::{Auth, ClientConfig, OsbClient, Outcome, Severity},
    store::{ListQuery, ResourceStore, StoreError},
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Labels the auth Secrets the portal made, so removing the broker removes them too.
const AUTH_SECRET_LABEL: &str = "quartermaster.io/broker-auth";

fn auth_secret_name(broker: &str) -> String {
    format!("{broker}-broker-auth")
}

fn describe_auth(broker: &ClusterServiceBroker) -> String {
    let Some(info) = &broker.spec.auth_info else { return String::new() };
    let (how, secret) = match (&info.basic, &info.bearer) {
        (Some(b), _) => ("basic", &b.secret_ref),
        (None, Some(b)) => ("bearer token", &b.secret_ref),
        (None, None) => return String::new(),
    };
    format!("{how} (Secret {}/{})", secret.namespace.as_deref().unwrap_or_default(), secret.name)
}

pub async fn list_rows(store: &dyn ResourceStore, caller: &Caller) -> PortResult<Vec<BrokerRow>> {
    check_admin(caller)?;
    let all = ListQuery::default();
    let (brokers, _) = list::<ClusterServiceBroker>(store, &all).await?;
    let (classes, _) = list::<ClusterServiceClass>(store, &all).await?;
    let (plans, _) = list::<ClusterServicePlan>(store, &all).await?;
    let mut rows: Vec<BrokerRow> = brokers
        .into_iter()
        .map(|b| {
            let name = b.metadata.name.clone();
            let class_display = |class: &str| {
                classes
                    .iter()
                    .find(|c| c.metadata.name == class)
                    .map(|c| c.spec.common.external_name.clone())
                    .unwrap_or_else(|| class.to_string())
            };
            let own_plans: Vec<&ClusterServicePlan> =
                plans.iter().filter(|p| p.spec.cluster_service_broker_name == name).collect();
            BrokerRow {
                url: b.spec.common.url.clone(),
                auth: describe_auth(&b),
                insecure_skip_tls_verify: b.spec.common.insecure_skip_tls_verify,
                has_ca_bundle: !b.spec.common.ca_bundle.is_empty(),
                relist_behavior: b.spec.common.relist_behavior,
                relist_duration: b.spec.common.relist_duration.clone().unwrap_or_default(),
                relist_requests: b.spec.common.relist_requests,
                conditions: b.status.conditions.clone(),
                last_catalog_retrieval: b.status.last_catalog_retrieval_time.clone().unwrap_or_default(),
                catalog_problems: b.status.catalog_problems.clone(),
                classes: classes.iter().filter(|c| c.spec.cluster_service_broker_name == name).count(),
                plans: own_plans.len(),
                plan_problems: own_plans
                    .iter()
                    .filter(|p| !p.status.problems.is_empty())
                    .map(|p| {
                        (
                            p.spec.common.external_name.clone(),
                            class_display(&p.spec.cluster_service_class_ref.name),
                            p.status.problems.clone(),
                        )
                    })
                    .collect(),
                deleting: b.metadata.deletion_timestamp.is_some(),
                name,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

fn reject(input: &str, message: impl Into<String>) -> PortError {
    let message = message.into();
    PortError::Rejected(Rejection::new(message.clone()).on_input(input, message))
}

/// Checks the form and builds the client configuration it describes.
fn client_config(form: &BrokerForm) -> PortResult<ClientConfig> {
    let url = form.url.trim();
    if url.is_empty() {
        return Err(reject("url", "The broker's URL is required."));
    }
    let mut config = ClientConfig::new(url);
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(20);
    config.insecure_skip_tls_verify = form.insecure_skip_tls_verify;
    if !form.ca_bundle.trim().is_empty() {
        config.ca_bundle_pem = Some(form.ca_bundle.trim().as_bytes().to_vec());
    }
    config.auth = match &form.auth {
        AuthChoice::None => None,
        AuthChoice::Basic { username, password } => {
            if username.is_empty() {
                return Err(reject("username", "A username is required for basic authentication."));
            }
            Some(Auth::Basic { username: username.clone(), password: SecretString::from(password.clone()) })
        }
        AuthChoice::Bearer { token } => {
            if token.is_empty() {
                return Err(reject("token", "A token is required for bearer authentication."));
            }
            Some(Auth::Bearer { token: SecretString::from(token.clone()) })
        }
    };
    // Building the client checks the URL and the CA bundle.
    match OsbClient::new(config.clone()) {
        Ok(_) => Ok(config),
        Err(crate::osb::ClientError::InvalidUrl(_)) => {
            Err(reject("url", format!("{url:?} is not an http:// or https:// URL with a host.")))
        }
        Err(crate::osb::ClientError::InvalidCaBundle(e)) => {
            Err(reject("ca_bundle", format!("The CA bundle is not usable: {e}")))
        }
        Err(e) => Err(PortError::Rejected(Rejection::new(e.to_string()))),
    }
}

fn check_form(form: &BrokerForm) -> PortResult<ClientConfig> {
    if let Err(e) = validate_dns1123_subdomain(&form.name) {
        return Err(reject("name", format!("Name {e}")));
    }
    if form.relist_behavior == RelistBehavior::Duration
        && !form.relist_duration.trim().is_empty()
        && !valid_duration(&form.relist_duration)
    {
        return Err(reject("relist_duration", "Write the interval like 15m, 1h or 90s."));
    }
    client_config(form)
}

async fn write_auth_secret(
    store: &dyn ResourceStore,
    form: &BrokerForm,
) -> PortResult<Option<ClusterServiceBrokerAuthInfo>> {
    let data: Vec<(&str, &str)> = match &form.auth {
        AuthChoice::None => return Ok(None),
        AuthChoice::Basic { username, password } => vec![("username", username), ("password", password)],
        AuthChoice::Bearer { token } => vec![("token", token)],
    };
    let reference = put_auth_secret(store, &form.name, &data).await.map_err(store_error)?;
    Ok(Some(match form.auth {
        AuthChoice::Basic { .. } => ClusterServiceBrokerAuthInfo { basic: Some(reference), bearer: None },
        _ => ClusterServiceBrokerAuthInfo { basic: None, bearer: Some(reference) },
    }))
}

/// Writes (creates or replaces) the auth Secret of broker `broker` with `data` (`username` and
/// `password`, or `token`) and returns the reference its `spec.authInfo` names.
pub async fn put_auth_secret(
    store: &dyn ResourceStore,
    broker: &str,
    data: &[(&str, &str)],
) -> Result<ClusterBasicAuthConfig, StoreError> {
    let name = auth_secret_name(broker);
    let mut secret = Secret::new_named(Some(SYSTEM_NAMESPACE), &name);
    secret.type_ = "Opaque".into();
    secret.metadata.labels.insert(AUTH_SECRET_LABEL.into(), broker.to_string());
    secret.data = data.iter().map(|(k, v)| (k.to_string(), B64.encode(v))).collect();
    match crate::portal::access::store_create(store, &secret).await {
        Ok(_) => {}
        Err(StoreError::AlreadyExists { .. }) => {
            let existing = store.get(app::model::Kind::Secret, SYSTEM_NAMESPACE, &name).await?;
            secret.metadata.resource_version = existing
                .as_ref()
                .and_then(|s| crate::store::object::meta_str(s, "resourceVersion"))
                .map(str::to_string);
            store_update(store, &secret).await?;
        }
        Err(e) => return Err(e),
    }
    Ok(ClusterBasicAuthConfig { secret_ref: ObjectReference { namespace: Some(SYSTEM_NAMESPACE.into()), name } })
}

pub async fn register(store: &dyn ResourceStore, caller: &Caller, form: BrokerForm) -> PortResult<String> {
    check_admin(caller)?;
    check_form(&form)?;
    if get::<ClusterServiceBroker>(store, "", &form.name).await?.is_some() {
        return Err(reject("name", format!("A broker named {} is registered already.", form.name)));
    }
    let auth_info = write_auth_secret(store, &form).await?;
    let mut broker = ClusterServiceBroker::new_named(None, &form.name);
    let common = &mut broker.spec.common;
    common.url = form.url.trim().to_string();
    common.insecure_skip_tls_verify = form.insecure_skip_tls_verify;
    common.ca_bundle = if form.ca_bundle.trim().is_empty() { String::new() } else { B64.encode(form.ca_bundle.trim()) };
    common.relist_behavior = form.relist_behavior;
    common.relist_duration = (form.relist_behavior == RelistBehavior::Duration)
        .then(|| form.relist_duration.trim().to_string())
        .filter(|d| !d.is_empty());
    broker.spec.auth_info = auth_info;
    match crate::portal::access::store_create(store, &broker).await {
        Ok(_) => {
            tracing::info!(user = %caller.username, broker = %form.name, url = %form.url, "broker registered");
            Ok(form.name)
        }
        Err(StoreError::AlreadyExists { .. }) => {
            Err(reject("name", format!("A broker named {} is registered already.", form.name)))
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Fetches the broker's catalog as the form describes it, without registering anything.
pub async fn test_connection(caller: &Caller, form: BrokerForm) -> PortResult<ConnectionTest> {
    check_admin(caller)?;
    let config = match client_config(&form) {
        Ok(config) => config,
        Err(PortError::Rejected(r)) => {
            return Ok(ConnectionTest { ok: false, summary: r.message, ..ConnectionTest::default() });
        }
        Err(e) => return Err(e),
    };
    let client = OsbClient::new(config).map_err(|e| PortError::Rejected(Rejection::new(e.to_string())))?;
    let reply = client.catalog().await;
    Ok(match reply.outcome {
        Outcome::Done { body, .. } => {
            let services = body.catalog.services.len();
            let plans = body.catalog.services.iter().map(|s| s.plans.len()).sum();
            let problems: Vec<String> = body
                .problems
                .iter()
                .map(|p| format!("{}: {}", if p.severity == Severity::Error { "error" } else { "warning" }, p.message))
                .collect();
            ConnectionTest {
                ok: true,
                summary: format!(
                    "Connected: the catalog lists {services} service{} with {plans} plan{}{}.",
                    if services == 1 { "" } else { "s" },
                    if plans == 1 { "" } else { "s" },
                    if problems.is_empty() { String::new() } else { format!(" and {} problem(s)", problems.len()) }
                ),
                services,
                plans,
                problems,
            }
        }
        other => ConnectionTest { ok: false, summary: failure_summary(&other), ..ConnectionTest::default() },
    })
}

fn failure_summary<T>(outcome: &Outcome<T>) -> String {
    let said = |d: Option<&str>| d.map(|d| format!(": {d}")).unwrap_or_default();
    match outcome {
        Outcome::Unreachable { reason } => format!("The broker could not be reached: {reason}"),
        Outcome::Timeout => "The broker did not answer in time.".into(),
        Outcome::ConnectionLost { reason } => format!("The connection broke: {reason}"),
        Outcome::BadRequest { status: 401, .. } | Outcome::BadRequest { status: 403, .. } => {
            "The broker refused the credentials (401/403).".into()
        }
        Outcome::BadRequest { status, description, .. } => {
            format!("The broker answered {status}{}", said(description.as_deref()))
        }
        Outcome::ServerError { status, description } => {
            format!("The broker failed with {status}{}", said(description.as_deref()))
        }
        Outcome::Malformed { status, reason } => {
            format!("The broker's answer ({status}) is not a usable catalog: {reason}")
        }
        Outcome::UnexpectedStatus { status } => format!("The broker answered with an unexpected status {status}."),
        other => format!("Unexpected answer: {}{}", other.kind(), said(other.description())),
    }
}

pub async fn relist(store: &dyn ResourceStore, caller: &Caller, name: &str) -> PortResult<()> {
    check_admin(caller)?;
    for _ in 0..5 {
        let mut broker = get::<ClusterServiceBroker>(store, "", name)
            .await?
            .ok_or_else(|| PortError::NotFound(format!("There is no broker {name}.")))?;
        broker.spec.common.relist_requests += 1;
        match store_update(store, &broker).await {
            Ok(_) => {
                tracing::info!(user = %caller.username, broker = %name, "relist requested");
                return Ok(());
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    Err(PortError::Conflict("The broker keeps changing; try again.".into()))
}

pub async fn delete(store: &dyn ResourceStore, caller: &Caller, name: &str) -> PortResult<()> {
    check_admin(caller)?;
    match store.delete(ClusterServiceBroker::KIND, "", name, None).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(store_error(e)),
    }
    let secret = auth_secret_name(name);
    if let Some(s) = get::<Secret>(store, SYSTEM_NAMESPACE, &secret).await?
        && s.metadata.labels.get(AUTH_SECRET_LABEL).map(String::as_str) == Some(name)
    {
        match store.delete(Secret::KIND, SYSTEM_NAMESPACE, &secret, None).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(store_error(e)),
        }
    }
    tracing::info!(user = %caller.username, broker = %name, "broker removed");
    Ok(())
}
