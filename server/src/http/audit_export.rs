//! `GET /admin/audit/export?format=csv|json&actor=…&action=…&team=…&since=…&until=…`: the audit
//! log with the audit page's filters, as a download (platform admins).

use app::{
    api::{Caller, governance::AuditFilter},
    port::caller_of,
};
use axum::{
    extract::{Query, State},
    http::{StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{
    app_state::AppState,
    governance::{AuditRecord, audit},
};

/// At most this many events per export (newest first).
const EXPORT_LIMIT: i64 = 100_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ExportQuery {
    pub format: String,
    pub actor: String,
    pub action: String,
    pub team: String,
    pub since: String,
    pub until: String,
}

pub async fn export(State(state): State<AppState>, Query(query): Query<ExportQuery>, parts: Parts) -> Response {
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        team: query.team,
        since: query.since,
        until: query.until,
    };
    let Some(caller) = caller_of(Some(&parts)) else {
        return (StatusCode::UNAUTHORIZED, "sign in to the portal first").into_response();
    };
    match export_for(&state, &caller, &query.format, filter).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

/// The export for `caller` (platform admins only), or the status and sentence of a refusal.
/// The REST API (`/rest/v1/audit/export`) answers through this too.
pub async fn export_for(
    state: &AppState,
    caller: &Caller,
    format: &str,
    filter: AuditFilter,
) -> Result<Response, (StatusCode, String)> {
    if !caller.platform_admin {
        return Err((StatusCode::FORBIDDEN, "only platform admins may read the audit log".into()));
    }
    let csv = match format {
        "csv" | "" => true,
        "json" => false,
        other => {
            return Err((StatusCode::BAD_REQUEST, format!("unknown format {other:?}: use csv or json")));
        }
    };
    let entries = match audit::list(&state.db, &filter, EXPORT_LIMIT).await {
        Ok(Ok(entries)) => entries,
        Ok(Err(message)) => return Err((StatusCode::BAD_REQUEST, message)),
        Err(e) => return Err((StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    };
    audit::record_or_warn(
        &state.db,
        AuditRecord::by(
            caller,
            "audit.export",
            "",
            "",
            serde_json::json!({"format": if csv { "csv" } else { "json" }, "events": entries.len(), "filter": filter}),
        ),
    )
    .await;
    let (body, content_type, extension) = if csv {
        (audit::to_csv(&entries), "text/csv; charset=utf-8", "csv")
    } else {
        (serde_json::to_string_pretty(&entries).unwrap_or_default(), "application/json", "json")
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"quartermaster-audit.{extension}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
