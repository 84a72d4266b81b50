//! Errors as Kubernetes `Status` objects: the reason and code kubectl and client-go act on
//! (NotFound, AlreadyExists, Conflict, Invalid with field causes, Forbidden, Unauthorized, Gone…).

use app::model::Kind;
use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::store::{FieldCause, StoreError};

/// What went wrong, as the API reports it.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// `details`: the object's name, group and kind (plural), and field causes.
    pub details: Option<Value>,
}

/// `serviceinstances.servicecatalog.k8s.io` (or `secrets` for the core group): how Kubernetes
/// names a resource in messages.
pub fn qualified(kind: Kind) -> String {
    match group(kind) {
        "" => kind.plural().to_string(),
        g => format!("{}.{g}", kind.plural()),
    }
}

pub fn group(kind: Kind) -> &'static str {
    if kind == Kind::Secret { "" } else { super::GROUP }
}

fn details(kind: Kind, name: &str) -> Value {
    json!({"name": name, "group": group(kind), "kind": kind.plural()})
}

impl ApiError {
    pub fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn not_found(kind: Kind, name: &str) -> Self {
        Self {
            details: Some(details(kind, name)),
            ..Self::new(StatusCode::NOT_FOUND, "NotFound", format!("{} \"{name}\" not found", qualified(kind)))
        }
    }

    pub fn path_not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    pub fn already_exists(kind: Kind, name: &str) -> Self {
        Self {
            details: Some(details(kind, name)),
            ..Self::new(StatusCode::CONFLICT, "AlreadyExists", format!("{} \"{name}\" already exists", qualified(kind)))
        }
    }

    pub fn conflict(kind: Kind, name: &str, why: &str) -> Self {
        Self {
            details: Some(details(kind, name)),
            ..Self::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(kind)),
            )
        }
    }

    /// 422 Invalid with one cause per field, worded as Kubernetes does (`field: message`).
    pub fn invalid(kind: Kind, name: &str, causes: &[FieldCause]) -> Self {
        let listed: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        let joined = if listed.len() == 1 { listed[0].clone() } else { format!("[{}]", listed.join(", ")) };
        let gk = match group(kind) {
            "" => kind.as_str().to_string(),
            g => format!("{kind}.{g}"),
        };
        let mut details = details(kind, name);
        details["kind"] = json!(kind.as_str());
        details["causes"] = causes
            .iter()
            .map(|c| json!({"reason": "FieldValueInvalid", "message": c.message, "field": c.field}))
            .collect();
        Self {
            details: Some(details),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", format!("{gk} \"{name}\" is invalid: {joined}"))
        }
    }

    pub fn invalid_field(kind: Kind, name: &str, field: &str, message: impl Into<String>) -> Self {
        Self::invalid(kind, name, &[FieldCause { field: field.into(), message: message.into() }])
    }

    /// 403 in Kubernetes' words: who may not do what, where.
    pub fn forbidden(user: &str, verb: &str, kind: Kind, namespace: Option<&str>, name: Option<&str>) -> Self {
        let what = match name {
            Some(name) => format!("{} \"{name}\"", qualified(kind)),
            None => qualified(kind),
        };
        let group = group(kind);
        let scope = match namespace {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None if kind.namespaced() => " at the cluster scope (list one of your team namespaces with -n)".to_string(),
            None => " at the cluster scope".to_string(),
        };
        Self {
            details: Some(details(kind, name.unwrap_or_default())),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!(
                    "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{group}\"{scope}",
                    kind.plural()
                ),
            )
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method} {path})"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format: {content_type}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, name, .. } => Self::not_found(kind, &name),
            StoreError::AlreadyExists { kind, name, .. } => Self::already_exists(kind, &name),
            StoreError::Conflict { kind, name, .. } => Self::conflict(
                kind,
                &name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ),
            StoreError::Invalid { kind, name, causes } => Self::invalid(kind, &name, &causes),
            StoreError::Gone { requested, oldest } => {
                Self::gone(format!("too old resource version: {requested} ({oldest})"))
            }
            StoreError::Backend(message) => {
                tracing::warn!(error = %message, "the store failed a Kubernetes-style API request");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", format!("storage error: {message}"))
            }
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code.as_u16(),
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::from_store(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.code, [(header::CONTENT_TYPE, "application/json")], self.to_status().to_string()).into_response();
        if self.code == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
