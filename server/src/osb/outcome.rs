//! What a broker's answer means: every response (or failure to get one) becomes one [`Outcome`] the
//! controller can act on, together with whether OSB requires orphan mitigation after it.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::wire::{ErrorBody, LastOperationResponse, OperationState};

/// The OSB calls the client makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    Catalog,
    Provision,
    Update,
    Deprovision,
    FetchInstance,
    InstanceLastOperation,
    Bind,
    Unbind,
    FetchBinding,
    BindingLastOperation,
}

impl Call {
    pub fn name(self) -> &'static str {
        match self {
            Self::Catalog => "catalog",
            Self::Provision => "provision",
            Self::Update => "update",
            Self::Deprovision => "deprovision",
            Self::FetchInstance => "fetch instance",
            Self::InstanceLastOperation => "last operation",
            Self::Bind => "bind",
            Self::Unbind => "unbind",
            Self::FetchBinding => "fetch binding",
            Self::BindingLastOperation => "binding last operation",
        }
    }

    fn is_last_operation(self) -> bool {
        matches!(self, Self::InstanceLastOperation | Self::BindingLastOperation)
    }
}

/// One broker answer, classified. `T` is the typed body of a successful synchronous answer.
///
/// Descriptions are the broker's text, verbatim: escaping is the UI's job.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<T> {
    /// 200 or 201 with a body that parsed (for provision, 200 means "already there, identical").
    Done { status: u16, body: T },
    /// 202: the broker works asynchronously; poll `last_operation` with this operation.
    Accepted { operation: Option<String>, dashboard_url: Option<String> },
    /// 410: for deprovision and unbind (and their last_operation) this means success.
    Gone,
    /// 404 (fetching an instance or binding that does not exist or is still being created).
    NotFound { description: Option<String> },
    /// last_operation: `in progress`.
    InProgress { description: Option<String> },
    /// last_operation: `succeeded`.
    Succeeded { description: Option<String> },
    /// last_operation: `failed`.
    Failed { description: Option<String>, instance_usable: Option<bool>, update_repeatable: Option<bool> },
    /// 422 AsyncRequired: the broker only works asynchronously.
    AsyncRequired { description: Option<String> },
    /// 422 ConcurrencyError: another operation on the same resource is in progress; retry later.
    ConcurrencyError { description: Option<String> },
    /// 422 RequiresApp: the binding needs an `app_guid`.
    RequiresApp { description: Option<String> },
    /// 422 MaintenanceInfoConflict: the `maintenance_info` sent does not match the catalog's.
    MaintenanceInfoConflict { description: Option<String> },
    /// 400, or another 4xx not named above (401, 403, 408, 412, 422 without a known code, …).
    BadRequest { status: u16, error: Option<String>, description: Option<String> },
    /// 409: a resource with this id exists with other attributes.
    Conflict { description: Option<String> },
    /// 5xx.
    ServerError { status: u16, description: Option<String> },
    /// A status OSB does not allow here (2xx other than 200/201/202, 1xx, 3xx).
    UnexpectedStatus { status: u16 },
    /// No answer before the request timeout.
    Timeout,
    /// The connection could not be opened (refused, TLS, DNS): the request did not reach the broker.
    Unreachable { reason: String },
    /// The connection broke after the request was sent.
    ConnectionLost { reason: String },
    /// The answer's body was not what OSB requires for its status (or larger than the limit).
    Malformed { status: u16, reason: String },
}

impl<T> Outcome<T> {
    /// Whether OSB 2.17 requires the platform to clean up (deprovision / unbind until it succeeds)
    /// after this outcome of this call: only after a provision or bind that timed out, lost its
    /// connection, answered 5xx, answered another 2xx than 200/201/202, or answered 201/202 with a
    /// malformed body. Never after an update, a 408 or another 4xx.
    pub fn requires_orphan_mitigation(&self, call: Call) -> bool {
        if !matches!(call, Call::Provision | Call::Bind) {
            return false;
        }
        match self {
            Self::Timeout | Self::ConnectionLost { .. } | Self::ServerError { .. } => true,
            Self::UnexpectedStatus { status } => (200..300).contains(status),
            Self::Malformed { status, .. } => matches!(status, 201 | 202),
            _ => false,
        }
    }

    /// The broker's description, if the outcome carries one.
    pub fn description(&self) -> Option<&str> {
        match self {
            Self::NotFound { description }
            | Self::InProgress { description }
            | Self::Succeeded { description }
            | Self::Failed { description, .. }
            | Self::AsyncRequired { description }
            | Self::ConcurrencyError { description }
            | Self::RequiresApp { description }
            | Self::MaintenanceInfoConflict { description }
            | Self::BadRequest { description, .. }
            | Self::Conflict { description }
            | Self::ServerError { description, .. } => description.as_deref(),
            _ => None,
        }
    }

    /// The typed body of a `Done`.
    pub fn into_done(self) -> Option<T> {
        match self {
            Self::Done { body, .. } => Some(body),
            _ => None,
        }
    }

    /// A short name for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Done { .. } => "done",
            Self::Accepted { .. } => "accepted",
            Self::Gone => "gone",
            Self::NotFound { .. } => "not_found",
            Self::InProgress { .. } => "in_progress",
            Self::Succeeded { .. } => "succeeded",
            Self::Failed { .. } => "failed",
            Self::AsyncRequired { .. } => "async_required",
            Self::ConcurrencyError { .. } => "concurrency_error",
            Self::RequiresApp { .. } => "requires_app",
            Self::MaintenanceInfoConflict { .. } => "maintenance_info_conflict",
            Self::BadRequest { .. } => "bad_request",
            Self::Conflict { .. } => "conflict",
            Self::ServerError { .. } => "server_error",
            Self::UnexpectedStatus { .. } => "unexpected_status",
            Self::Timeout => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::ConnectionLost { .. } => "connection_lost",
            Self::Malformed { .. } => "malformed",
        }
    }
}

/// A classified answer with what came beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply<T> {
    pub call: Call,
    pub outcome: Outcome<T>,
    /// The broker's `Retry-After`, when it sent one that parsed (seconds or an HTTP date).
    pub retry_after: Option<Duration>,
    /// The `X-Broker-API-Request-Identity` the client sent, to correlate with the broker's logs.
    pub request_identity: String,
}

impl<T> Reply<T> {
    pub fn requires_orphan_mitigation(&self) -> bool {
        self.outcome.requires_orphan_mitigation(self.call)
    }
}

/// Parses `Retry-After`: delay-seconds, or an HTTP date (a date in the past means now).
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let span = date.duration_since(now);
    Some(Duration::try_from(span).unwrap_or(Duration::ZERO))
}

/// Turns a status and body into an outcome; `T` parses the body of a 200/201.
pub fn classify<T: DeserializeOwned>(call: Call, status: u16, body: &[u8]) -> Outcome<T> {
    classify_with(call, status, body, |bytes| serde_json::from_slice::<T>(bytes).map_err(|e| e.to_string()))
}

/// As [`classify`], with a custom parser for the success body (the catalog's is tolerant).
pub fn classify_with<T>(
    call: Call,
    status: u16,
    body: &[u8],
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Outcome<T> {
    match status {
        200 if call.is_last_operation() => classify_last_operation(body),
        // Tolerance: some brokers answer a DELETE or PATCH with 200 and no body at all instead of `{}`.
        200 if body.trim_ascii().is_empty() && matches!(call, Call::Deprovision | Call::Unbind | Call::Update) => {
            match parse(b"{}") {
                Ok(body) => Outcome::Done { status, body },
                Err(reason) => Outcome::Malformed { status, reason },
            }
        }
        200 | 201 if !(call.is_last_operation()) => match parse(body) {
            Ok(body) => Outcome::Done { status, body },
            Err(reason) => Outcome::Malformed { status, reason: format!("the {status} body is not valid: {reason}") },
        },
        202 if matches!(call, Call::Provision | Call::Update | Call::Deprovision | Call::Bind | Call::Unbind) => {
            classify_accepted(body)
        }
        410 => Outcome::Gone,
        400..=499 => classify_client_error(status, body),
        500..=599 => Outcome::ServerError { status, description: error_body(body).and_then(|e| e.description) },
        _ => Outcome::UnexpectedStatus { status },
    }
}

fn classify_last_operation<T>(body: &[u8]) -> Outcome<T> {
    match serde_json::from_slice::<LastOperationResponse>(body) {
        Ok(op) => match op.state {
            OperationState::InProgress => Outcome::InProgress { description: op.description },
            OperationState::Succeeded => Outcome::Succeeded { description: op.description },
            OperationState::Failed => Outcome::Failed {
                description: op.description,
                instance_usable: op.instance_usable,
                update_repeatable: op.update_repeatable,
            },
        },
        Err(e) => Outcome::Malformed { status: 200, reason: format!("the last operation is not valid: {e}") },
    }
}

/// Longest `operation` OSB allows.
const MAX_OPERATION_CHARS: usize = 10_000;

fn classify_accepted<T>(body: &[u8]) -> Outcome<T> {
    #[derive(serde::Deserialize)]
    struct Accepted {
        #[serde(default)]
        operation: Option<String>,
        #[serde(default)]
        dashboard_url: Option<String>,
    }
    match serde_json::from_slice::<Accepted>(body) {
        Ok(a) if a.operation.as_ref().is_some_and(|op| op.chars().count() > MAX_OPERATION_CHARS) => {
            Outcome::Malformed {
                status: 202,
                reason: format!("the operation is longer than {MAX_OPERATION_CHARS} characters"),
            }
        }
        Ok(a) => Outcome::Accepted { operation: a.operation, dashboard_url: a.dashboard_url },
        Err(e) => Outcome::Malformed { status: 202, reason: format!("the 202 body is not valid: {e}") },
    }
}

fn classify_client_error<T>(status: u16, body: &[u8]) -> Outcome<T> {
    let parsed = error_body(body).unwrap_or_default();
    let description = parsed.description;
    match (status, parsed.error.as_deref()) {
        (404, _) => Outcome::NotFound { description },
        (409, _) => Outcome::Conflict { description },
        (422, Some("AsyncRequired")) => Outcome::AsyncRequired { description },
        (422, Some("ConcurrencyError")) => Outcome::ConcurrencyError { description },
        (422, Some("RequiresApp")) => Outcome::RequiresApp { description },
        (422, Some("MaintenanceInfoConflict")) => Outcome::MaintenanceInfoConflict { description },
        _ => Outcome::BadRequest { status, error: parsed.error, description },
    }
}

/// An error body if there is one; brokers often send plain text or nothing, which is fine.
fn error_body(body: &[u8]) -> Option<ErrorBody> {
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn outcome(call: Call, status: u16, body: Value) -> Outcome<Value> {
        classify(call, status, body.to_string().as_bytes())
    }

    #[test]
    fn success_statuses() {
        assert!(matches!(outcome(Call::Provision, 201, json!({})), Outcome::Done { status: 201, .. }));
        assert!(matches!(outcome(Call::Provision, 200, json!({})), Outcome::Done { status: 200, .. }));
        assert_eq!(
            outcome(Call::Provision, 202, json!({"operation": "op-1"})),
            Outcome::Accepted { operation: Some("op-1".into()), dashboard_url: None }
        );
        assert_eq!(outcome(Call::Deprovision, 410, json!({})), Outcome::Gone);
        assert!(matches!(classify::<Value>(Call::Unbind, 200, b""), Outcome::Done { status: 200, .. }));
        assert!(matches!(classify::<Value>(Call::Provision, 201, b""), Outcome::Malformed { status: 201, .. }));
        assert_eq!(outcome(Call::FetchInstance, 202, json!({})), Outcome::UnexpectedStatus { status: 202 });
    }

    #[test]
    fn error_codes() {
        let body = |code: &str| json!({"error": code, "description": "<b>why</b>"});
        let d = Some("<b>why</b>".to_string());
        assert_eq!(
            outcome(Call::Provision, 422, body("AsyncRequired")),
            Outcome::AsyncRequired { description: d.clone() }
        );
        assert_eq!(
            outcome(Call::Update, 422, body("ConcurrencyError")),
            Outcome::ConcurrencyError { description: d.clone() }
        );
        assert_eq!(outcome(Call::Bind, 422, body("RequiresApp")), Outcome::RequiresApp { description: d.clone() });
        assert_eq!(
            outcome(Call::Update, 422, body("MaintenanceInfoConflict")),
            Outcome::MaintenanceInfoConflict { description: d.clone() }
        );
        assert_eq!(
            outcome(Call::Provision, 422, body("Other")),
            Outcome::BadRequest { status: 422, error: Some("Other".into()), description: d.clone() }
        );
        assert_eq!(outcome(Call::Provision, 409, body("x")), Outcome::Conflict { description: d.clone() });
        assert_eq!(
            classify::<Value>(Call::Provision, 400, b"not json"),
            Outcome::BadRequest { status: 400, error: None, description: None }
        );
        assert_eq!(outcome(Call::Provision, 503, body("x")), Outcome::ServerError { status: 503, description: d });
    }

    #[test]
    fn last_operation_states() {
        let c = Call::InstanceLastOperation;
        assert_eq!(
            outcome(c, 200, json!({"state": "in progress", "description": "50%"})),
            Outcome::InProgress { description: Some("50%".into()) }
        );
        assert_eq!(outcome(c, 200, json!({"state": "succeeded"})), Outcome::Succeeded { description: None });
        assert_eq!(
            outcome(c, 200, json!({"state": "failed", "description": "disk", "instance_usable": true})),
            Outcome::Failed { description: Some("disk".into()), instance_usable: Some(true), update_repeatable: None }
        );
        assert!(matches!(outcome(c, 200, json!({"state": "weird"})), Outcome::Malformed { status: 200, .. }));
        assert_eq!(outcome(c, 410, json!({})), Outcome::Gone);
    }

    #[test]
    fn orphan_mitigation_follows_the_osb_table() {
        let om = |call, o: Outcome<Value>| o.requires_orphan_mitigation(call);
        for call in [Call::Provision, Call::Bind] {
            assert!(om(call, Outcome::Timeout));
            assert!(om(call, Outcome::ServerError { status: 500, description: None }));
            assert!(om(call, Outcome::UnexpectedStatus { status: 204 }));
            assert!(om(call, Outcome::Malformed { status: 201, reason: String::new() }));
            assert!(om(call, Outcome::Malformed { status: 202, reason: String::new() }));
            assert!(!om(call, Outcome::Malformed { status: 200, reason: String::new() }));
            assert!(!om(call, Outcome::UnexpectedStatus { status: 302 }));
            assert!(!om(call, Outcome::BadRequest { status: 408, error: None, description: None }));
            assert!(!om(call, Outcome::BadRequest { status: 400, error: None, description: None }));
            assert!(!om(call, Outcome::Conflict { description: None }));
            assert!(!om(call, Outcome::Unreachable { reason: String::new() }));
        }
        assert!(!om(Call::Update, Outcome::Timeout));
        assert!(!om(Call::Update, Outcome::ServerError { status: 500, description: None }));
        assert!(!om(Call::Deprovision, Outcome::Timeout));
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now: jiff::Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun, 31 Dec 2023 00:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
