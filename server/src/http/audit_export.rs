//! `GET /admin/audit/export?format=csv|json&actor=…&action=…&team=…&since=…&until=…`: the audit
//! log with the audit page's filters, as a download (platform admins).

use app::{api::governance::AuditFilter, port::caller_of};
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
    if !caller.platform_admin {
        return (StatusCode::FORBIDDEN, "only platform admins may read the audit log").into_response();
    }
    let csv = match query.format.as_str() {
        "csv" | "" => true,
        "json" => false,
        other => {
            return (StatusCode::BAD_REQUEST, format!("unknown format {other:?}: use csv or json")).into_response();
        }
    };
    let entries = match audit::list(&state.db, &filter, EXPORT_LIMIT).await {
        Ok(Ok(entries)) => entries,
        Ok(Err(message)) => return (StatusCode::BAD_REQUEST, message).into_response(),
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    };
    audit::record_or_warn(
        &state.db,
        AuditRecord::by(
            &caller,
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
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"quartermaster-audit.{extension}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}
