//! Governance records in SQL (SQLite and PostgreSQL, one query text for both). Quota checks run
//! inside [`locked!`]: one transaction per team that no other quota check of that team can
//! interleave with — SQLite's `BEGIN IMMEDIATE` takes the database's write lock before reading;
//! PostgreSQL takes a transaction-scoped advisory lock on the team.

use std::collections::BTreeMap;

use app::api::governance::{
    ApprovalRequest, ApprovalState, Approver, Metric, Operation, Policy, QuotaLimit, Rule, Visibility,
};
use serde_json::Value;

use super::rules::Holding;

/// Runs `$body` (which uses `$conn`, a `&mut` connection) in the team's quota transaction;
/// commits when it returns `Ok`, rolls back otherwise.
macro_rules! locked {
    ($db:expr, $team:expr, |$conn:ident| $body:expr) => {
        match $db {
            $crate::db::Database::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = {
                    let $conn = &mut *tx;
                    $body
                };
                if out.is_ok() {
                    tx.commit().await?;
                }
                out
            }
            $crate::db::Database::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('quota:' || $1))")
                    .bind($team)
                    .execute(&mut *tx)
                    .await?;
                let out = {
                    let $conn = &mut *tx;
                    $body
                };
                if out.is_ok() {
                    tx.commit().await?;
                }
                out
            }
        }
    };
}
pub(crate) use locked;

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_default()
}

pub fn amounts_json(amounts: &BTreeMap<String, f64>) -> String {
    serde_json::to_string(amounts).unwrap_or_else(|_| "{}".into())
}

fn parse_amounts(text: &str) -> BTreeMap<String, f64> {
    serde_json::from_str(text).unwrap_or_default()
}

pub type PolicyRow = (i64, String, String, String, String, String, f64, String);
pub const SELECT_POLICIES: &str = "SELECT id, class, plan, operation, rule, parameter, threshold, approver FROM approval_policies ORDER BY class, plan, operation, id";

pub fn policy_of(row: PolicyRow) -> Option<Policy> {
    let (id, class, plan, operation, rule, parameter, threshold, approver) = row;
    Some(Policy {
        id,
        class,
        plan,
        operation: Operation::parse(&operation)?,
        rule: match rule.as_str() {
            "always" => Rule::Always,
            "never" => Rule::Never,
            "threshold" => Rule::Threshold { parameter, threshold },
            _ => return None,
        },
        approver: Approver::parse(&approver)?,
    })
}

pub type LimitRow = (String, String, String, String, String, f64);
pub const SELECT_LIMITS: &str = "SELECT team, metric, class, plan, parameter, max_value FROM quota_limits WHERE team = $1 ORDER BY metric, class, plan, parameter";
pub const SELECT_ALL_LIMITS: &str = "SELECT team, metric, class, plan, parameter, max_value FROM quota_limits ORDER BY team, metric, class, plan, parameter";

pub fn limit_of(row: LimitRow) -> Option<QuotaLimit> {
    let (team, metric, class, plan, parameter, max) = row;
    let metric = match metric.as_str() {
        "count" => Metric::Count,
        "sum" => Metric::Sum,
        _ => return None,
    };
    Some(QuotaLimit { team, metric, class, plan, parameter, max })
}

pub fn metric_str(metric: Metric) -> &'static str {
    match metric {
        Metric::Count => "count",
        Metric::Sum => "sum",
    }
}

pub type HoldingRow = (String, String, String, String, Option<String>, Option<String>);
pub const SELECT_HOLDINGS: &str =
    "SELECT instance, class, plan, amounts, pending_plan, pending_amounts FROM quota_ledger WHERE team = $1";

pub fn holding_of(row: HoldingRow) -> Holding {
    let (instance, class, plan, amounts, pending_plan, pending_amounts) = row;
    Holding {
        instance,
        class,
        plan,
        amounts: parse_amounts(&amounts),
        pending: pending_plan.map(|p| (p, pending_amounts.as_deref().map(parse_amounts).unwrap_or_default())),
    }
}

pub const INSERT_HOLDING: &str = "INSERT INTO quota_ledger (team, instance, class, plan, amounts, pending_plan, pending_amounts, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
pub const DELETE_HOLDING: &str = "DELETE FROM quota_ledger WHERE team = $1 AND instance = $2";

pub const SELECT_VISIBILITY: &str = "SELECT class, plan, team FROM plan_visibility ORDER BY class, plan, team";

pub fn visibility_of((class, plan, team): (String, String, String)) -> Visibility {
    Visibility { class, plan, team }
}

pub type RequestRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    i64,
);
/// `previous` holds `{plan, parameters, resourceVersion}` of the instance an update was made against.
pub const REQUEST_COLUMNS: &str = "id, team, instance, operation, class, plan, parameters, previous, \
     reason, approver, requester, state, decided_by, decided_at, comment, created_at";

/// A stored request, with the parts the decision needs that the screen does not show.
#[derive(Clone, Debug)]
pub struct StoredRequest {
    pub request: ApprovalRequest,
    pub resource_version: String,
    pub requester: app::model::UserInfo,
}

pub fn request_of(row: RequestRow) -> Option<StoredRequest> {
    let (
        id,
        team,
        instance,
        operation,
        class,
        plan,
        parameters,
        previous,
        reason,
        approver,
        requester,
        state,
        decided_by,
        decided_at,
        comment,
        created_at,
    ) = row;
    let previous: Option<Value> = previous.and_then(|p| serde_json::from_str(&p).ok());
    let requester: app::model::UserInfo = serde_json::from_str(&requester).ok()?;
    let resource_version = previous
        .as_ref()
        .and_then(|p| p.get("resourceVersion"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some(StoredRequest {
        request: ApprovalRequest {
            id,
            team,
            instance,
            operation: Operation::parse(&operation)?,
            class,
            plan,
            parameters: serde_json::from_str(&parameters).unwrap_or(Value::Null),
            previous_plan: previous.as_ref().and_then(|p| p.get("plan")).and_then(Value::as_str).map(str::to_string),
            previous_parameters: previous.as_ref().and_then(|p| p.get("parameters")).cloned(),
            reason,
            approver: Approver::parse(&approver)?,
            requester: requester.username.clone(),
            state: ApprovalState::parse(&state)?,
            decided_by,
            decided_at: decided_at.map(rfc3339),
            comment,
            created_at: rfc3339(created_at),
            quota: Vec::new(),
        },
        resource_version,
        requester,
    })
}
