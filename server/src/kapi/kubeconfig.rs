//! A kubeconfig for a user and one of their teams: the portal's URL, a fresh API token, the
//! team's namespace as the default — what `kubectl` needs to drive the catalog.

use axum::{
    extract::{Query, Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{authenticate, status::ApiError};
use crate::app_state::AppState;

/// The kubeconfig document (YAML) for `server`, `user`, `token` and a default `namespace`;
/// `ca_pem` when the server's certificate comes from a private CA.
///
/// kubectl sends a token only over TLS (client-go drops user credentials for `http://`
/// servers), so `server` must be the portal's `https://` address (behind its TLS ingress).
pub fn render(server: &str, user: &str, token: &str, namespace: Option<&str>, ca_pem: Option<&str>) -> String {
    let context_name = match namespace {
        Some(ns) => format!("quartermaster-{ns}"),
        None => "quartermaster".to_string(),
    };
    let mut context = json!({"cluster": "quartermaster", "user": user});
    if let Some(ns) = namespace {
        context["namespace"] = json!(ns);
    }
    let mut cluster = json!({"server": server});
    if let Some(pem) = ca_pem {
        use base64::Engine;
        cluster["certificate-authority-data"] = json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "quartermaster", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
        "preferences": {},
    });
    serde_saphyr::to_string(&config).unwrap_or_else(|_| config.to_string())
}

#[derive(Debug, Deserialize)]
pub struct KubeconfigQuery {
    /// The team whose namespace becomes the default.
    pub namespace: Option<String>,
}

/// `POST /kubeconfig?namespace=TEAM` (or the portal's form: `namespace=TEAM` in a URL-encoded
/// body): mints an API token for the signed-in user and answers with a kubeconfig that uses it
/// (as an attachment).
pub async fn download(
    State(state): State<AppState>,
    Query(query): Query<KubeconfigQuery>,
    request: Request,
) -> Response {
    let ctx = match authenticate(state.clone(), request.headers(), request.extensions()).await {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let form = match axum::body::to_bytes(request.into_body(), 4096).await {
        Ok(bytes) if bytes.is_empty() => KubeconfigQuery { namespace: None },
        Ok(bytes) => match serde_urlencoded::from_bytes::<KubeconfigQuery>(&bytes) {
            Ok(form) => form,
            Err(e) => {
                return ApiError::new(StatusCode::BAD_REQUEST, "BadRequest", format!("malformed form: {e}"))
                    .into_response();
            }
        },
        Err(_) => {
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", "the form is too large")
                .into_response();
        }
    };
    let namespace = query.namespace.or(form.namespace).filter(|n| !n.is_empty());
    if let Some(ns) = &namespace
        && !ctx.caller.may_access(ns)
    {
        return ApiError::new(StatusCode::FORBIDDEN, "Forbidden", format!("you are not a member of team {ns:?}"))
            .into_response();
    }
    let accounts = state.accounts.clone();
    let name = format!("kubectl {}", namespace.as_deref().unwrap_or("all teams"));
    let Some(user_id) = ctx.user_id else {
        return ApiError::unauthorized("Unauthorized: sign in to the portal to get a kubeconfig").into_response();
    };
    let token = match accounts.create_token(user_id, &name).await {
        Ok((token, _)) => token,
        Err(e) => return ApiError::internal(format!("cannot create a token: {e}")).into_response(),
    };
    tracing::info!(user = %ctx.caller.username, namespace = namespace.as_deref().unwrap_or_default(), "kubeconfig issued");
    if !state.config.public_url.starts_with("https://") {
        tracing::warn!(public_url = %state.config.public_url, "a kubeconfig names an http:// portal: kubectl sends tokens only over https");
    }
    let body = render(&state.config.public_url, &ctx.caller.username, &token, namespace.as_deref(), None);
    let file = match &namespace {
        Some(ns) => format!("attachment; filename=\"quartermaster-{ns}.kubeconfig\""),
        None => "attachment; filename=\"quartermaster.kubeconfig\"".to_string(),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/yaml".to_string()),
            (header::CONTENT_DISPOSITION, file),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kubeconfig_kubectl_reads() {
        let text = super::render("https://127.0.0.1:3000", "alice", "qm_secret", Some("team-a"), Some("PEM"));
        let parsed: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(parsed["users"][0]["user"]["token"], "qm_secret");
        assert_eq!(parsed["contexts"][0]["context"]["namespace"], "team-a");
        assert_eq!(parsed["current-context"], "quartermaster-team-a");
        assert_eq!(parsed["clusters"][0]["cluster"]["certificate-authority-data"], "UEVN");
    }
}
