//! What the API server's answers mean in the store's terms.

use app::model::Kind;

use crate::store::{FieldCause, StoreError};

/// Maps a kube-rs error for an object of `kind` named `name` in `namespace`.
pub fn store_error(kind: Kind, namespace: &str, name: &str, error: kube::Error) -> StoreError {
    let kube::Error::Api(status) = error else {
        return StoreError::Backend(format!("Kubernetes API: {error}"));
    };
    let key = || (kind, namespace.to_string(), name.to_string());
    match (status.code, status.reason.as_str()) {
        (404, _) => {
            let (kind, namespace, name) = key();
            StoreError::NotFound { kind, namespace, name }
        }
        (409, "AlreadyExists") => {
            let (kind, namespace, name) = key();
            StoreError::AlreadyExists { kind, namespace, name }
        }
        (409, _) => {
            let (kind, namespace, name) = key();
            StoreError::Conflict { kind, namespace, name }
        }
        (410, _) => StoreError::Gone { requested: 0, oldest: 0 },
        (400 | 422, _) => {
            let causes: Vec<FieldCause> = status
                .details
                .as_ref()
                .map(|d| {
                    d.causes.iter().map(|c| FieldCause { field: c.field.clone(), message: c.message.clone() }).collect()
                })
                .unwrap_or_default();
            let causes = if causes.is_empty() {
                vec![FieldCause { field: String::new(), message: status.message.clone() }]
            } else {
                causes
            };
            StoreError::Invalid { kind, name: name.to_string(), causes }
        }
        (code, reason) => StoreError::Backend(format!("Kubernetes API: {code} {reason}: {}", status.message)),
    }
}

/// A `410 Gone` (`Expired`) from a watch: the version asked for is no longer served.
pub fn is_gone(status: &kube::core::Status) -> bool {
    status.code == 410 || status.reason == "Expired" || status.reason == "Gone"
}

#[cfg(test)]
mod tests {
    use kube::core::{Status, response::StatusDetails};

    use super::*;

    fn api(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status { code, reason: reason.into(), message: "m".into(), ..Status::default() }))
    }

    #[test]
    fn api_answers_become_store_errors() {
        let k = Kind::ServiceInstance;
        assert!(matches!(store_error(k, "ns", "a", api(404, "NotFound")), StoreError::NotFound { .. }));
        assert!(matches!(store_error(k, "ns", "a", api(409, "AlreadyExists")), StoreError::AlreadyExists { .. }));
        assert!(matches!(store_error(k, "ns", "a", api(409, "Conflict")), StoreError::Conflict { .. }));
        assert!(matches!(store_error(k, "ns", "a", api(410, "Expired")), StoreError::Gone { .. }));
        assert!(matches!(store_error(k, "ns", "a", api(500, "InternalError")), StoreError::Backend(_)));
        let mut invalid = Status { code: 422, reason: "Invalid".into(), ..Status::default() };
        invalid.details = Some(StatusDetails {
            name: "a".into(),
            group: String::new(),
            kind: String::new(),
            uid: String::new(),
            causes: vec![kube::core::response::StatusCause {
                reason: "FieldValueInvalid".into(),
                message: "spec.externalID is immutable".into(),
                field: "spec".into(),
            }],
            retry_after_seconds: 0,
        });
        let StoreError::Invalid { causes, .. } = store_error(k, "ns", "a", kube::Error::Api(Box::new(invalid))) else {
            panic!()
        };
        assert_eq!(causes[0].message, "spec.externalID is immutable");
    }
}
