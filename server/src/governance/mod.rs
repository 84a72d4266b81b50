//! Governance: plan visibility per team, approval policies, team quotas and the audit log.
//!
//! Every way of changing an instance (the portal's forms, the REST and Kubernetes-style APIs)
//! asks [`Governance::admit`] first. It refuses what the team may not see or what would overrun
//! its quota, holds what policy wants approved (a pending request: no instance, so no broker
//! call), and otherwise lets the change proceed — with its quota reserved in the same transaction
//! as the check, so concurrent requests can never overbook a team.

pub mod audit;
pub mod rules;
mod sql;

use std::collections::BTreeMap;

use app::api::{
    Caller,
    governance::{
        ApprovalRequest, ApprovalState, Approver, GovernanceChange, Operation, Policy, QuotaLimit, QuotaLine, Rule,
        Visibility,
    },
};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

pub use audit::{AuditRecord, record as record_audit};
use rules::{Holding, amounts};
pub use sql::StoredRequest;
use sql::{locked, now_ms};

use crate::db::{Database, on_pool};

/// Inserts a holding (inside `locked!`).
macro_rules! insert_holding {
    ($conn:ident, $team:expr, $holding:expr) => {{
        let holding: &Holding = $holding;
        let (pending_plan, pending_amounts) = match &holding.pending {
            Some((plan, amounts)) => (Some(plan.clone()), Some(sql::amounts_json(amounts))),
            None => (None, None),
        };
        sqlx::query(sql::INSERT_HOLDING)
            .bind($team)
            .bind(&holding.instance)
            .bind(&holding.class)
            .bind(&holding.plan)
            .bind(sql::amounts_json(&holding.amounts))
            .bind(pending_plan)
            .bind(pending_amounts)
            .bind(now_ms())
            .execute(&mut *$conn)
            .await?;
    }};
}

/// Frees what a pending request reserved (inside `locked!`).
macro_rules! release_reservation {
    ($conn:ident, $team:expr, $instance:expr, $operation:expr) => {{
        match $operation {
            Operation::Create => {
                sqlx::query(sql::DELETE_HOLDING).bind($team).bind($instance).execute(&mut *$conn).await?;
            }
            Operation::Update => {
                sqlx::query(
                    "UPDATE quota_ledger SET pending_plan = NULL, pending_amounts = NULL WHERE team = $1 AND instance = $2",
                )
                .bind($team)
                .bind($instance)
                .execute(&mut *$conn)
                .await?;
            }
            Operation::Delete => {}
        }
    }};
}

/// A decision, as the requester's open pages learn of it (the live stream's `approval` event).
#[derive(Clone, Debug, Serialize)]
pub struct ApprovalNotice {
    pub namespace: String,
    pub instance: String,
    pub request: ApprovalRequest,
}

#[derive(Clone)]
pub struct Governance {
    db: Database,
    notices: broadcast::Sender<ApprovalNotice>,
}

/// What is asked of an instance.
#[derive(Clone, Debug)]
pub struct Admit<'a> {
    pub namespace: &'a str,
    pub instance: &'a str,
    /// External names.
    pub class: &'a str,
    pub plan: &'a str,
    /// What the instance will have (for a delete: what it has).
    pub parameters: &'a Value,
    pub operation: Operation,
    /// For an update: the instance before it.
    pub previous: Option<Previous>,
}

#[derive(Clone, Debug, Default)]
pub struct Previous {
    pub plan: String,
    pub parameters: Value,
    pub resource_version: String,
}

/// The answer of [`Governance::admit`].
#[derive(Debug)]
pub enum Admission {
    /// Go ahead now; the quota is reserved. If the change then fails, hand this to
    /// [`Governance::undo`]; after a delete succeeds, call [`Governance::release`].
    Proceed(Reservation),
    /// Held for approval (and its quota reserved): nothing is to be done now.
    Pending(Box<ApprovalRequest>),
}

#[derive(Debug)]
pub struct Reservation {
    team: String,
    instance: String,
    undo: Undo,
    /// The quota lines the change moves.
    pub quota: Vec<QuotaLine>,
}

#[derive(Debug)]
enum Undo {
    Nothing,
    Remove,
    Restore(Option<Box<Holding>>),
}

/// Why a request is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The plan (or class) is not visible to the team; said as if it did not exist.
    #[error("{0}")]
    Hidden(String),
    #[error("{message}")]
    OverQuota { message: String, lines: Vec<QuotaLine> },
    /// Another request for the same instance is waiting, or the name is taken.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the portal's database is unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        tracing::warn!(error = %e, "governance query failed");
        Refusal::Unavailable(e.to_string())
    }
}

type GovResult<T> = Result<T, Refusal>;

impl Governance {
    pub fn new(db: Database) -> Self {
        let (notices, _) = broadcast::channel(256);
        Self { db, notices }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Decisions as they are made (for the live stream).
    pub fn subscribe(&self) -> broadcast::Receiver<ApprovalNotice> {
        self.notices.subscribe()
    }

    pub async fn policies(&self) -> GovResult<Vec<Policy>> {
        let rows: Vec<sql::PolicyRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sql::SELECT_POLICIES).fetch_all(pool).await)?;
        Ok(rows.into_iter().filter_map(sql::policy_of).collect())
    }

    pub async fn visibility(&self) -> GovResult<Vec<Visibility>> {
        let rows: Vec<(String, String, String)> =
            on_pool!(&self.db, |pool| sqlx::query_as(sql::SELECT_VISIBILITY).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(sql::visibility_of).collect())
    }

    pub async fn limits(&self, team: Option<&str>) -> GovResult<Vec<QuotaLimit>> {
        let rows: Vec<sql::LimitRow> = match team {
            Some(team) => {
                on_pool!(&self.db, |pool| sqlx::query_as(sql::SELECT_LIMITS).bind(team).fetch_all(pool).await)?
            }
            None => on_pool!(&self.db, |pool| sqlx::query_as(sql::SELECT_ALL_LIMITS).fetch_all(pool).await)?,
        };
        Ok(rows.into_iter().filter_map(sql::limit_of).collect())
    }

    pub async fn holdings(&self, team: &str) -> GovResult<Vec<Holding>> {
        let rows: Vec<sql::HoldingRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sql::SELECT_HOLDINGS).bind(team).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(sql::holding_of).collect())
    }

    /// A team's quotas with their use.
    pub async fn quota_lines(&self, team: &str) -> GovResult<Vec<QuotaLine>> {
        let limits = self.limits(Some(team)).await?;
        Ok(rules::lines(&limits, &self.holdings(team).await?))
    }

    /// Whether `team` may see (and request) the class, or a plan of it.
    pub async fn visible(&self, team: &str, class: &str, plan: Option<&str>) -> GovResult<bool> {
        Ok(rules::visible(&self.visibility().await?, team, class, plan))
    }

    /// Admits deleting instance `namespace/instance` (of `class`/`plan` with the `parameters` it
    /// has). A delete held for approval is recorded in the audit log, with `via` (the API that
    /// asked) when given.
    pub async fn admit_delete(
        &self,
        caller: &Caller,
        (namespace, instance): (&str, &str),
        (class, plan): (&str, &str),
        parameters: &Value,
        via: Option<&str>,
    ) -> Result<Admission, Refusal> {
        let ask = Admit { namespace, instance, class, plan, parameters, operation: Operation::Delete, previous: None };
        let admission = self.admit(caller, &ask).await?;
        if let Admission::Pending(held) = &admission {
            let mut detail = json!({"request": held.id, "reason": held.reason});
            if let Some(via) = via {
                detail["via"] = json!(via);
            }
            audit::record_or_warn(
                &self.db,
                AuditRecord::by(caller, "instance.delete.held", namespace, instance, detail),
            )
            .await;
        }
        Ok(admission)
    }

    /// THE admission check every API runs before it changes an instance: visibility, then
    /// approval policy, then quota (checked and reserved in one transaction per team).
    pub async fn admit(&self, caller: &Caller, ask: &Admit<'_>) -> Result<Admission, Refusal> {
        if ask.operation != Operation::Delete && !self.visible(ask.namespace, ask.class, Some(ask.plan)).await? {
            return Err(Refusal::Hidden(format!(
                "The service {} has no plan {:?} on offer for team {}.",
                ask.class, ask.plan, ask.namespace
            )));
        }
        let hold = rules::evaluate(&self.policies().await?, ask.class, ask.plan, ask.operation, ask.parameters);
        let new_amounts = amounts(ask.parameters);
        let team = ask.namespace;
        let (undo, quota, pending) = locked!(&self.db, team, |conn| {
            let waiting: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM approval_requests WHERE team = $1 AND instance = $2 AND state = 'pending'",
            )
            .bind(team)
            .bind(ask.instance)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(id) = waiting {
                Err(Refusal::Busy(format!(
                    "An earlier request for {} (#{id}) is waiting for approval; it must be decided first.",
                    ask.instance
                )))
            } else {
                let limits: Vec<sql::LimitRow> =
                    sqlx::query_as(sql::SELECT_LIMITS).bind(team).fetch_all(&mut *conn).await?;
                let limits: Vec<QuotaLimit> = limits.into_iter().filter_map(sql::limit_of).collect();
                let before: Vec<Holding> = {
                    let rows: Vec<sql::HoldingRow> =
                        sqlx::query_as(sql::SELECT_HOLDINGS).bind(team).fetch_all(&mut *conn).await?;
                    rows.into_iter().map(sql::holding_of).collect()
                };
                let existing = before.iter().find(|h| h.instance == ask.instance).cloned();
                let planned = plan_holding(ask, existing.as_ref(), &new_amounts, hold.is_some());
                match planned {
                    Err(refusal) => Err(refusal),
                    Ok(changed) => {
                        let mut after: Vec<Holding> =
                            before.iter().filter(|h| h.instance != ask.instance).cloned().collect();
                        after.extend(changed.clone());
                        let (touched, over) = rules::check(&limits, &before, &after);
                        if !over.is_empty() {
                            Err(Refusal::OverQuota { message: rules::over_quota_message(team, &over), lines: over })
                        } else {
                            if let Some(holding) = &changed {
                                sqlx::query(sql::DELETE_HOLDING)
                                    .bind(team)
                                    .bind(ask.instance)
                                    .execute(&mut *conn)
                                    .await?;
                                insert_holding!(conn, team, holding);
                            }
                            let pending = match &hold {
                                None => None,
                                Some(hold) => {
                                    let previous = ask.previous.as_ref().map(|p| {
                                        json!({"plan": p.plan, "parameters": p.parameters, "resourceVersion": p.resource_version})
                                            .to_string()
                                    });
                                    let requester =
                                        serde_json::to_string(&user_info(caller)).unwrap_or_else(|_| "{}".into());
                                    let id: i64 = sqlx::query_scalar(
                                        "INSERT INTO approval_requests (team, instance, operation, class, plan, parameters, previous, \
                                         reason, approver, requester, state, created_at) \
                                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11) RETURNING id",
                                    )
                                    .bind(team)
                                    .bind(ask.instance)
                                    .bind(ask.operation.as_str())
                                    .bind(ask.class)
                                    .bind(ask.plan)
                                    .bind(ask.parameters.to_string())
                                    .bind(previous)
                                    .bind(&hold.reason)
                                    .bind(hold.approver.as_str())
                                    .bind(requester)
                                    .bind(now_ms())
                                    .fetch_one(&mut *conn)
                                    .await?;
                                    Some(id)
                                }
                            };
                            let undo = match (ask.operation, &existing) {
                                (Operation::Create, _) => Undo::Remove,
                                (Operation::Update, previous) => Undo::Restore(previous.clone().map(Box::new)),
                                (Operation::Delete, _) => Undo::Nothing,
                            };
                            Ok((undo, touched, pending))
                        }
                    }
                }
            }
        })?;
        match pending {
            None => Ok(Admission::Proceed(Reservation {
                team: team.to_string(),
                instance: ask.instance.to_string(),
                undo,
                quota,
            })),
            Some(id) => {
                let mut request = self
                    .request(id)
                    .await?
                    .ok_or_else(|| Refusal::Unavailable(format!("approval request {id} vanished")))?
                    .request;
                request.quota = quota;
                self.notify(&request);
                Ok(Admission::Pending(Box::new(request)))
            }
        }
    }

    /// Gives back what a [`Reservation`] took, when the change it was for failed.
    pub async fn undo(&self, reservation: Reservation) -> GovResult<()> {
        let Reservation { team, instance, undo, .. } = reservation;
        match undo {
            Undo::Nothing => Ok(()),
            Undo::Remove => self.release(&team, &instance).await,
            Undo::Restore(previous) => locked!(&self.db, &team, |conn| {
                sqlx::query(sql::DELETE_HOLDING).bind(&team).bind(&instance).execute(&mut *conn).await?;
                if let Some(holding) = previous.as_deref() {
                    insert_holding!(conn, &team, holding);
                }
                Ok::<(), Refusal>(())
            }),
        }
    }

    /// Frees what an instance holds (it was deleted).
    pub async fn release(&self, team: &str, instance: &str) -> GovResult<()> {
        on_pool!(&self.db, |pool| sqlx::query(sql::DELETE_HOLDING)
            .bind(team)
            .bind(instance)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    pub async fn request(&self, id: i64) -> GovResult<Option<StoredRequest>> {
        let sql = format!("SELECT {} FROM approval_requests WHERE id = $1", sql::REQUEST_COLUMNS);
        let row: Option<sql::RequestRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await)?;
        Ok(row.and_then(sql::request_of))
    }

    /// Approved requests whose execution is still owed (the process stopped between recording
    /// the approval and carrying it out), oldest first.
    pub async fn owed(&self) -> GovResult<Vec<StoredRequest>> {
        let sql = format!(
            "SELECT {} FROM approval_requests WHERE state = 'approved' AND executed_at IS NULL ORDER BY id",
            sql::REQUEST_COLUMNS
        );
        let rows: Vec<sql::RequestRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(pool).await)?;
        Ok(rows.into_iter().filter_map(sql::request_of).collect())
    }

    /// The latest request for an instance (any state).
    pub async fn latest_request(&self, team: &str, instance: &str) -> GovResult<Option<ApprovalRequest>> {
        let sql = format!(
            "SELECT {} FROM approval_requests WHERE team = $1 AND instance = $2 ORDER BY id DESC LIMIT 1",
            sql::REQUEST_COLUMNS
        );
        let row: Option<sql::RequestRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(team)
                .bind(instance)
                .fetch_optional(pool)
                .await)?;
        Ok(row.and_then(sql::request_of).map(|r| r.request))
    }

    /// Pending requests (all), and the latest `decided` decisions, newest first.
    pub async fn requests(&self, decided: i64) -> GovResult<(Vec<ApprovalRequest>, Vec<ApprovalRequest>)> {
        let pending_sql =
            format!("SELECT {} FROM approval_requests WHERE state = 'pending' ORDER BY id", sql::REQUEST_COLUMNS);
        let decided_sql = format!(
            "SELECT {} FROM approval_requests WHERE state <> 'pending' ORDER BY id DESC LIMIT $1",
            sql::REQUEST_COLUMNS
        );
        let pending: Vec<sql::RequestRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(pending_sql.as_str())).fetch_all(pool).await)?;
        let done: Vec<sql::RequestRow> =
            on_pool!(&self.db, |pool| sqlx::query_as(sqlx::AssertSqlSafe(decided_sql.as_str()))
                .bind(decided)
                .fetch_all(pool)
                .await)?;
        let convert =
            |rows: Vec<sql::RequestRow>| rows.into_iter().filter_map(sql::request_of).map(|r| r.request).collect();
        Ok((convert(pending), convert(done)))
    }

    /// The quota a pending request holds: its lines, with what it adds.
    pub async fn impact(&self, request: &ApprovalRequest) -> GovResult<Vec<QuotaLine>> {
        let limits = self.limits(Some(&request.team)).await?;
        let after = self.holdings(&request.team).await?;
        let before: Vec<Holding> = after
            .iter()
            .filter_map(|h| {
                if h.instance != request.instance {
                    return Some(h.clone());
                }
                match request.operation {
                    Operation::Create => None,
                    Operation::Update => Some(Holding { pending: None, ..h.clone() }),
                    Operation::Delete => Some(h.clone()),
                }
            })
            .collect();
        Ok(rules::check(&limits, &before, &after).0)
    }

    /// May this caller decide this request?
    pub fn may_decide(caller: &Caller, request: &ApprovalRequest) -> bool {
        caller.may_administer(&request.team) && (request.approver == Approver::TeamAdmin || caller.platform_admin)
    }

    /// Rejects a pending request (freeing what it reserved), or marks it approved and returns
    /// it so the caller carries it out (then reports with [`Governance::carried_out`]).
    pub async fn decide(&self, caller: &Caller, id: i64, approve: bool, comment: &str) -> GovResult<StoredRequest> {
        let stored =
            self.request(id).await?.ok_or_else(|| Refusal::NotFound(format!("There is no approval request #{id}.")))?;
        if !Self::may_decide(caller, &stored.request) {
            return Err(Refusal::Forbidden(format!(
                "{} may not decide requests of team {}{}.",
                caller.username,
                stored.request.team,
                if stored.request.approver == Approver::PlatformAdmin {
                    " (this one needs a platform admin)"
                } else {
                    ""
                }
            )));
        }
        if comment.len() > 2000 {
            return Err(Refusal::Invalid("The comment is too long (at most 2,000 characters).".into()));
        }
        let state = if approve { ApprovalState::Approved } else { ApprovalState::Rejected };
        let team = stored.request.team.clone();
        let (operation, instance) = (stored.request.operation, stored.request.instance.clone());
        locked!(&self.db, &team, |conn| {
            let changed = sqlx::query(
                "UPDATE approval_requests SET state = $1, decided_by = $2, decided_at = $3, comment = $4 \
                 WHERE id = $5 AND state = 'pending'",
            )
            .bind(state.as_str())
            .bind(&caller.username)
            .bind(now_ms())
            .bind(comment)
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if changed == 0 {
                Err(Refusal::Busy(format!("Request #{id} was already decided.")))
            } else {
                if !approve {
                    release_reservation!(conn, &team, &instance, operation);
                }
                Ok::<(), Refusal>(())
            }
        })?;
        audit::record_or_warn(
            &self.db,
            AuditRecord::by(
                caller,
                if approve { "approval.approve" } else { "approval.reject" },
                &team,
                &instance,
                json!({"request": id, "operation": operation.as_str(), "class": stored.request.class,
                       "plan": stored.request.plan, "comment": comment}),
            ),
        )
        .await;
        let decided = self.request(id).await?.ok_or_else(|| Refusal::NotFound(format!("request #{id} vanished")))?;
        if !approve {
            self.notify(&decided.request);
        }
        Ok(decided)
    }

    /// After an approved request was carried out (or failed to be): settles its quota, marks it
    /// executed (so it is not resumed again) and tells the requester.
    pub async fn carried_out(&self, request: &ApprovalRequest, result: Result<(), String>) -> GovResult<()> {
        let (team, instance, operation) = (&request.team, &request.instance, request.operation);
        locked!(&self.db, team, |conn| {
            match &result {
                Ok(()) => {
                    sqlx::query("UPDATE approval_requests SET executed_at = $1 WHERE id = $2")
                        .bind(now_ms())
                        .bind(request.id)
                        .execute(&mut *conn)
                        .await?;
                    match operation {
                        Operation::Create => {}
                        Operation::Update => {
                            sqlx::query(
                                "UPDATE quota_ledger SET plan = pending_plan, amounts = pending_amounts, \
                             pending_plan = NULL, pending_amounts = NULL \
                             WHERE team = $1 AND instance = $2 AND pending_plan IS NOT NULL",
                            )
                            .bind(team)
                            .bind(instance)
                            .execute(&mut *conn)
                            .await?;
                        }
                        Operation::Delete => {
                            sqlx::query(sql::DELETE_HOLDING).bind(team).bind(instance).execute(&mut *conn).await?;
                        }
                    }
                }
                Err(message) => {
                    sqlx::query(
                        "UPDATE approval_requests SET state = 'failed', comment = $1, executed_at = $3 WHERE id = $2",
                    )
                    .bind(format!("{} — carrying it out failed: {message}", request.comment).trim_start_matches(" — "))
                    .bind(request.id)
                    .bind(now_ms())
                    .execute(&mut *conn)
                    .await?;
                    release_reservation!(conn, team, instance, operation);
                }
            }
            Ok::<(), Refusal>(())
        })?;
        if let Some(updated) = self.request(request.id).await? {
            self.notify(&updated.request);
        }
        Ok(())
    }

    fn notify(&self, request: &ApprovalRequest) {
        // Nobody listening is fine.
        let _ = self.notices.send(ApprovalNotice {
            namespace: request.team.clone(),
            instance: request.instance.clone(),
            request: request.clone(),
        });
    }

    /// Applies an admin's change to policies, quotas or visibility (platform admins only).
    pub async fn change(&self, caller: &Caller, change: &GovernanceChange) -> GovResult<()> {
        if !caller.platform_admin {
            return Err(Refusal::Forbidden(format!("{} is not a platform admin", caller.username)));
        }
        validate(change)?;
        let (action, team, target) = match change {
            GovernanceChange::PutPolicy(p) => {
                let (rule, parameter, threshold) = match &p.rule {
                    Rule::Always => ("always", String::new(), 0.0),
                    Rule::Never => ("never", String::new(), 0.0),
                    Rule::Threshold { parameter, threshold } => ("threshold", parameter.clone(), *threshold),
                };
                const INSERT: &str = "INSERT INTO approval_policies (class, plan, operation, rule, parameter, threshold, approver, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
                const UPDATE: &str = "UPDATE approval_policies SET class = $1, plan = $2, operation = $3, rule = $4, parameter = $5, \
                     threshold = $6, approver = $7 WHERE id = $8";
                let (sql, last) = if p.id == 0 { (INSERT, now_ms()) } else { (UPDATE, p.id) };
                on_pool!(&self.db, |pool| sqlx::query(sql)
                    .bind(&p.class)
                    .bind(&p.plan)
                    .bind(p.operation.as_str())
                    .bind(rule)
                    .bind(&parameter)
                    .bind(threshold)
                    .bind(p.approver.as_str())
                    .bind(last)
                    .execute(pool)
                    .await
                    .map(drop))?;
                ("policy.put", String::new(), scope(&p.class, &p.plan))
            }
            GovernanceChange::DeletePolicy(id) => {
                on_pool!(&self.db, |pool| sqlx::query("DELETE FROM approval_policies WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await
                    .map(drop))?;
                ("policy.delete", String::new(), format!("#{id}"))
            }
            GovernanceChange::PutQuota(q) => {
                const SQL: &str = "INSERT INTO quota_limits (team, metric, class, plan, parameter, max_value) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (team, metric, class, plan, parameter) DO UPDATE SET max_value = excluded.max_value";
                on_pool!(&self.db, |pool| sqlx::query(SQL)
                    .bind(&q.team)
                    .bind(sql::metric_str(q.metric))
                    .bind(&q.class)
                    .bind(&q.plan)
                    .bind(&q.parameter)
                    .bind(q.max)
                    .execute(pool)
                    .await
                    .map(drop))?;
                ("quota.put", q.team.clone(), q.describe())
            }
            GovernanceChange::DeleteQuota(q) => {
                const SQL: &str = "DELETE FROM quota_limits WHERE team = $1 AND metric = $2 AND class = $3 AND plan = $4 AND parameter = $5";
                on_pool!(&self.db, |pool| sqlx::query(SQL)
                    .bind(&q.team)
                    .bind(sql::metric_str(q.metric))
                    .bind(&q.class)
                    .bind(&q.plan)
                    .bind(&q.parameter)
                    .execute(pool)
                    .await
                    .map(drop))?;
                ("quota.delete", q.team.clone(), q.describe())
            }
            GovernanceChange::PutVisibility(v) => {
                const SQL: &str =
                    "INSERT INTO plan_visibility (class, plan, team) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
                on_pool!(&self.db, |pool| sqlx::query(SQL)
                    .bind(&v.class)
                    .bind(&v.plan)
                    .bind(&v.team)
                    .execute(pool)
                    .await
                    .map(drop))?;
                ("visibility.put", v.team.clone(), scope(&v.class, &v.plan))
            }
            GovernanceChange::DeleteVisibility(v) => {
                const SQL: &str = "DELETE FROM plan_visibility WHERE class = $1 AND plan = $2 AND team = $3";
                on_pool!(&self.db, |pool| sqlx::query(SQL)
                    .bind(&v.class)
                    .bind(&v.plan)
                    .bind(&v.team)
                    .execute(pool)
                    .await
                    .map(drop))?;
                ("visibility.delete", v.team.clone(), scope(&v.class, &v.plan))
            }
        };
        audit::record_or_warn(
            &self.db,
            AuditRecord::by(caller, action, &team, &target, serde_json::to_value(change).unwrap_or_default()),
        )
        .await;
        Ok(())
    }
}

fn scope(class: &str, plan: &str) -> String {
    if plan.is_empty() { class.to_string() } else { format!("{class}/{plan}") }
}

fn validate(change: &GovernanceChange) -> GovResult<()> {
    let name_ok = |s: &str| !s.is_empty() && s.len() <= 253;
    match change {
        GovernanceChange::PutPolicy(p) => {
            if !name_ok(&p.class) {
                return Err(Refusal::Invalid("Choose the service the policy is for.".into()));
            }
            if let Rule::Threshold { parameter, threshold } = &p.rule {
                if parameter.trim().is_empty() {
                    return Err(Refusal::Invalid("A threshold policy needs the parameter it looks at.".into()));
                }
                if !threshold.is_finite() {
                    return Err(Refusal::Invalid("The threshold must be a number.".into()));
                }
            }
        }
        GovernanceChange::PutQuota(q) => {
            if app::model::validate_dns1123_label(&q.team).is_err() {
                return Err(Refusal::Invalid(format!("{:?} is not a team (a DNS-1123 label).", q.team)));
            }
            if !q.max.is_finite() || q.max < 0.0 {
                return Err(Refusal::Invalid("The limit must be a number of at least 0.".into()));
            }
            match q.metric {
                app::api::governance::Metric::Count if q.class.is_empty() => {
                    return Err(Refusal::Invalid("A count limit needs the service it counts.".into()));
                }
                app::api::governance::Metric::Sum if q.parameter.trim().is_empty() => {
                    return Err(Refusal::Invalid("A sum limit needs the parameter it adds up.".into()));
                }
                _ => {}
            }
        }
        GovernanceChange::PutVisibility(v) => {
            if !name_ok(&v.class) {
                return Err(Refusal::Invalid("Choose the service.".into()));
            }
            if app::model::validate_dns1123_label(&v.team).is_err() {
                return Err(Refusal::Invalid(format!("{:?} is not a team (a DNS-1123 label).", v.team)));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The holding an admitted request leaves for the instance (`None`: unchanged).
fn plan_holding(
    ask: &Admit<'_>,
    existing: Option<&Holding>,
    new_amounts: &BTreeMap<String, f64>,
    held: bool,
) -> GovResult<Option<Holding>> {
    match ask.operation {
        Operation::Create => {
            if existing.is_some() {
                return Err(Refusal::Busy(format!(
                    "Team {} already has an instance or a request named {}; pick another name.",
                    ask.namespace, ask.instance
                )));
            }
            Ok(Some(Holding {
                instance: ask.instance.to_string(),
                class: ask.class.to_string(),
                plan: ask.plan.to_string(),
                amounts: new_amounts.clone(),
                pending: None,
            }))
        }
        Operation::Update => {
            let base = existing.cloned().unwrap_or_else(|| Holding {
                instance: ask.instance.to_string(),
                class: ask.class.to_string(),
                plan: ask.previous.as_ref().map(|p| p.plan.clone()).unwrap_or_else(|| ask.plan.to_string()),
                amounts: ask.previous.as_ref().map(|p| amounts(&p.parameters)).unwrap_or_default(),
                pending: None,
            });
            Ok(Some(if held {
                Holding { pending: Some((ask.plan.to_string(), new_amounts.clone())), ..base }
            } else {
                Holding { plan: ask.plan.to_string(), amounts: new_amounts.clone(), pending: None, ..base }
            }))
        }
        Operation::Delete => Ok(None),
    }
}

/// The requester as Kubernetes-style user info (kept with the request; the instance gets it).
pub fn user_info(caller: &Caller) -> app::model::UserInfo {
    app::model::UserInfo {
        username: caller.username.clone(),
        uid: caller.uid.clone(),
        groups: caller.groups.clone(),
        extra: Default::default(),
    }
}
