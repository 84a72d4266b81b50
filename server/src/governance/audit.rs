//! The audit log: append-only (the tables refuse UPDATE and DELETE by trigger), one row per
//! thing worth knowing later — who, when, what, on which team's what, from where.

use app::api::{
    Caller,
    governance::{AuditEntry, AuditFilter},
};
use serde_json::Value;

use super::sql::{now_ms, rfc3339};
use crate::db::{Database, on_pool};

/// One event to record.
#[derive(Clone, Debug, Default)]
pub struct AuditRecord {
    pub actor: String,
    /// Dotted, most general first: `instance.create`, `approval.approve`, `quota.put`, `login`.
    pub action: String,
    pub team: String,
    pub target: String,
    pub detail: Value,
    /// The client's address.
    pub source: String,
}

impl AuditRecord {
    /// An event done by this caller (their name and address).
    pub fn by(caller: &Caller, action: &str, team: &str, target: &str, detail: Value) -> Self {
        Self {
            actor: caller.username.clone(),
            action: action.to_string(),
            team: team.to_string(),
            target: target.to_string(),
            detail,
            source: caller.source.clone(),
        }
    }
}

/// Appends an event.
pub async fn record(db: &Database, event: AuditRecord) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO audit_events (at, actor, action, team, target, detail, source) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let detail = if event.detail.is_null() { "{}".to_string() } else { event.detail.to_string() };
    on_pool!(db, |pool| sqlx::query(SQL)
        .bind(now_ms())
        .bind(&event.actor)
        .bind(&event.action)
        .bind(&event.team)
        .bind(&event.target)
        .bind(&detail)
        .bind(&event.source)
        .execute(pool)
        .await
        .map(drop))
}

/// Records, and only logs a failure: the audited action already happened and must not be
/// reported as failed because its log entry could not be written.
pub async fn record_or_warn(db: &Database, event: AuditRecord) {
    let action = event.action.clone();
    if let Err(e) = record(db, event).await {
        tracing::error!(error = %e, %action, "writing an audit event failed");
    }
}

/// A time filter: RFC 3339, or a date (its start for `since`, its end for `until`).
fn parse_time(text: &str, end_of_day: bool) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let date: jiff::civil::Date = text
        .parse()
        .map_err(|_| format!("{text:?} is neither a date (2026-11-26) nor a time (2026-11-26T10:00:00Z)"))?;
    let date = if end_of_day { date.tomorrow().map_err(|e| e.to_string())? } else { date };
    date.to_zoned(jiff::tz::TimeZone::UTC).map(|z| z.timestamp().as_millisecond()).map_err(|e| e.to_string())
}

pub type AuditRow = (i64, i64, String, String, String, String, String, String);

/// The newest events first, at most `limit`.
pub async fn list(
    db: &Database,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Result<Vec<AuditEntry>, String>, sqlx::Error> {
    let since = match parse_time(&filter.since, false) {
        Ok(t) => t,
        Err(e) => return Ok(Err(format!("From: {e}"))),
    };
    let until = match parse_time(&filter.until, true) {
        Ok(t) => t,
        Err(e) => return Ok(Err(format!("Until: {e}"))),
    };
    const SQL: &str = "SELECT id, at, actor, action, team, target, detail, source FROM audit_events \
        WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR substr(action, 1, length($2)) = $2) AND ($3 = '' OR team = $3) \
        AND ($4 = 0 OR at >= $4) AND ($5 = 0 OR at < $5) ORDER BY id DESC LIMIT $6";
    let rows: Vec<AuditRow> = on_pool!(db, |pool| sqlx::query_as(SQL)
        .bind(filter.actor.trim())
        .bind(filter.action.trim())
        .bind(filter.team.trim())
        .bind(since)
        .bind(until)
        .bind(limit)
        .fetch_all(pool)
        .await)?;
    Ok(Ok(rows
        .into_iter()
        .map(|(id, at, actor, action, team, target, detail, source)| AuditEntry {
            id,
            at: rfc3339(at),
            actor,
            action,
            team,
            target,
            detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
            source,
        })
        .collect()))
}

/// CSV (RFC 4180): a header, then one line per event; fields quoted when they need it, and a
/// leading `=`, `+`, `-` or `@` defused so a spreadsheet does not run it as a formula.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    fn field(value: &str) -> String {
        let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_string() };
        if value.contains([',', '"', '\n', '\r']) || value.starts_with('\'') {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value
        }
    }
    let mut out = String::from("id,at,actor,action,team,target,detail,source\r\n");
    for e in entries {
        let cells = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.clone(),
            e.team.clone(),
            e.target.clone(),
            e.detail.to_string(),
            e.source.clone(),
        ];
        out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let entry = AuditEntry {
            id: 7,
            at: "2026-11-26T10:00:00Z".into(),
            actor: "=cmd".into(),
            action: "instance.create".into(),
            team: "team-a".into(),
            target: "logs".into(),
            detail: json!({"plan": "a,b"}),
            source: "127.0.0.1".into(),
        };
        let csv = to_csv(&[entry]);
        assert_eq!(
            csv,
            "id,at,actor,action,team,target,detail,source\r\n7,2026-11-26T10:00:00Z,\"'=cmd\",instance.create,team-a,logs,\"{\"\"plan\"\":\"\"a,b\"\"}\",127.0.0.1\r\n"
        );
    }

    #[test]
    fn times_parse_as_dates_or_timestamps() {
        assert_eq!(parse_time("", false), Ok(0));
        let start = parse_time("2026-11-26", false).unwrap();
        let end = parse_time("2026-11-26", true).unwrap();
        assert_eq!(end - start, 86_400_000);
        assert_eq!(parse_time("2026-11-26T00:00:00Z", false).unwrap(), start);
        assert!(parse_time("yesterday", false).unwrap_err().contains("neither a date"));
    }
}
