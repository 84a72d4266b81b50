//! Approvals, quotas, visibility and the audit log as the portal's screens use them. The rules
//! live in `crate::governance`; this maps them to the screens and carries approved requests out.

use std::{collections::BTreeSet, sync::Arc};

use app::{
    api::{
        Caller, Rejection,
        catalog::{CatalogView, ClassDetail},
        governance::{
            ApprovalRequest, ApprovalsView, AuditEntry, AuditFilter, Decision, GovernanceChange, GovernanceView,
            Metric, Operation, QuotaView,
        },
    },
    model::{ClusterServiceClass, ClusterServicePlan, ServiceInstance},
    port::{PortError, PortResult},
    schema_form::FieldErrors,
};

use super::{
    access::{check_admin, check_namespace, get, list},
    catalog::{CatalogCache, class_plans, find_class},
    instances::{apply_update, create_object, delete_object, merged_parameters},
};
use crate::{
    governance::{Governance, Refusal, StoredRequest, audit, rules},
    store::{ListQuery, ResourceStore},
};

/// A refusal as the port reports it.
pub fn refused(refusal: Refusal) -> PortError {
    match refusal {
        Refusal::Hidden(m) => PortError::Rejected(Rejection::new(m.clone()).on_input("plan", m)),
        Refusal::OverQuota { message, lines } => {
            // Beside each governed field, too.
            let mut fields = FieldErrors::new();
            for line in lines.iter().filter(|l| l.limit.metric == Metric::Sum) {
                fields.push(
                    format!("/{}", line.limit.parameter),
                    format!(
                        "Over quota: {} in use, {} left of {}.",
                        rules::format_number(line.used),
                        rules::format_number(line.remaining()),
                        rules::format_number(line.limit.max)
                    ),
                );
            }
            PortError::Rejected(Rejection { message, fields, inputs: Vec::new() })
        }
        Refusal::Busy(m) | Refusal::Invalid(m) => PortError::Rejected(Rejection::new(m)),
        Refusal::Forbidden(m) => PortError::Forbidden(m),
        Refusal::NotFound(m) => PortError::NotFound(m),
        Refusal::Unavailable(m) => PortError::Unavailable(m),
    }
}

/// A refusal, with a busy name shown beside the input that chose it.
pub fn refused_on(refusal: Refusal, input: &str) -> PortError {
    match refusal {
        Refusal::Busy(m) => PortError::Rejected(Rejection::new(m.clone()).on_input(input, m)),
        other => refused(other),
    }
}

/// The catalog as this caller may see it (hidden classes and plans left out). The rules are read
/// on every call; the filtered view is reused for the same catalog build, rules and teams.
pub async fn visible_catalog(
    gov: &Governance,
    cache: &CatalogCache,
    caller: &Caller,
    view: Arc<CatalogView>,
) -> PortResult<Arc<CatalogView>> {
    let rules = gov.visibility().await.map_err(refused)?;
    let Some(teams) = caller.namespaces.as_deref() else { return Ok(view) };
    if rules.is_empty() {
        return Ok(view);
    }
    Ok(cache.filtered(&view, &rules, teams, || {
        let tiles = view
            .tiles
            .iter()
            .filter(|t| rules::visible_to_any(&rules, Some(teams), &t.external_name, None))
            .cloned()
            .collect();
        CatalogView::new(tiles, view.brokers.clone())
    }))
}

pub async fn visible_class(
    gov: &Governance,
    caller: &Caller,
    detail: Option<ClassDetail>,
) -> PortResult<Option<ClassDetail>> {
    let Some(mut detail) = detail else { return Ok(None) };
    let rules = gov.visibility().await.map_err(refused)?;
    let teams = caller.namespaces.as_deref();
    let class = detail.tile.external_name.clone();
    if !rules::visible_to_any(&rules, teams, &class, None) {
        return Ok(None);
    }
    detail.plans.retain(|p| rules::visible_to_any(&rules, teams, &class, Some(&p.external_name)));
    Ok(Some(detail))
}

/// How many pending requests this caller may decide (the navigation's count).
pub async fn decidable_count(gov: &Governance, caller: &Caller) -> PortResult<usize> {
    if !caller.platform_admin && caller.admin_of.is_empty() {
        return Ok(0);
    }
    let (pending, _) = gov.requests(0).await.map_err(refused)?;
    Ok(pending.iter().filter(|r| Governance::may_decide(caller, r)).count())
}

pub async fn approvals(gov: &Governance, caller: &Caller) -> PortResult<ApprovalsView> {
    let (pending, decided) = gov.requests(200).await.map_err(refused)?;
    let mut view = ApprovalsView::default();
    for mut request in pending {
        let mine = request.requester == caller.username && caller.may_access(&request.team);
        let may_decide = Governance::may_decide(caller, &request);
        if may_decide {
            view.decidable.push(request.id);
        }
        if may_decide || mine {
            request.quota = gov.impact(&request).await.map_err(refused)?;
            view.pending.push(request);
        }
    }
    view.decided = decided
        .into_iter()
        .filter(|r| caller.may_administer(&r.team) || r.requester == caller.username)
        .take(50)
        .collect();
    Ok(view)
}

/// Approves (and carries out as the requester asked) or rejects.
pub async fn decide(
    store: &dyn ResourceStore,
    gov: &Governance,
    caller: &Caller,
    decision: Decision,
) -> PortResult<()> {
    let decided = gov.decide(caller, decision.id, decision.approve, decision.comment.trim()).await.map_err(refused)?;
    if !decision.approve {
        return Ok(());
    }
    execute(store, gov, &decided).await
}

/// Carries out an approved request and settles it (quota, executed mark, the requester told).
async fn execute(store: &dyn ResourceStore, gov: &Governance, decided: &StoredRequest) -> PortResult<()> {
    let request = &decided.request;
    let result = carry_out(store, request, &decided.requester).await;
    let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
    if let Err(message) = &outcome {
        tracing::warn!(request = request.id, error = %message, "an approved request could not be carried out");
    }
    gov.carried_out(request, outcome).await.map_err(refused)?;
    result
}

/// Carries out the approved requests a stopped process left owed (approval recorded, instance
/// not yet created, changed or deleted). Safe to run more than once and beside a decision in
/// flight: [`carry_out`] recognises its own earlier work by the instance's approval annotation,
/// and creating an instance is atomic in the store. Returns how many it settled.
pub async fn resume_approved(store: &dyn ResourceStore, gov: &Governance) -> PortResult<usize> {
    let owed = gov.owed().await.map_err(refused)?;
    let mut settled = 0;
    for request in &owed {
        tracing::info!(request = request.request.id, team = %request.request.team, instance = %request.request.instance,
            "resuming an approved request whose execution was interrupted");
        match execute(store, gov, request).await {
            Ok(()) => settled += 1,
            // Recorded as failed (and its quota given back) by `execute`; the others go on.
            Err(PortError::Unavailable(e)) => return Err(PortError::Unavailable(e)),
            Err(_) => settled += 1,
        }
    }
    Ok(settled)
}

/// The annotation an instance gets from the approved request that created or changed it: how a
/// resumed execution knows its work was already done.
pub const APPROVAL_ANNOTATION: &str = "quartermaster.io/approval-request";

fn done_by(instance: &ServiceInstance, request: &ApprovalRequest) -> bool {
    instance.metadata.annotations.get(APPROVAL_ANNOTATION) == Some(&request.id.to_string())
}

/// Does what an approved request asks, once: a repeat (after a crash between doing it and
/// recording it) finds the instance already carrying the request's annotation and does nothing.
pub async fn carry_out(
    store: &dyn ResourceStore,
    request: &ApprovalRequest,
    requester: &app::model::UserInfo,
) -> PortResult<()> {
    let (team, name) = (request.team.as_str(), request.instance.as_str());
    let current = get::<ServiceInstance>(store, team, name).await?;
    if current.as_ref().is_some_and(|i| done_by(i, request)) {
        return Ok(());
    }
    match request.operation {
        Operation::Create => {
            let class = find_class(store, &request.class)
                .await?
                .filter(|c| !c.status.removed_from_broker_catalog)
                .ok_or_else(|| PortError::Conflict(format!("The service {} is no longer offered.", request.class)))?;
            offered(store, &class, &request.plan).await?;
            let marked = [(APPROVAL_ANNOTATION.to_string(), request.id.to_string())];
            match create_marked(store, requester, request, &marked).await {
                Ok(()) => Ok(()),
                // Created meanwhile by another execution of this same request.
                Err(e) => match get::<ServiceInstance>(store, team, name).await? {
                    Some(instance) if done_by(&instance, request) => Ok(()),
                    _ => Err(e),
                },
            }
        }
        Operation::Update => {
            let mut instance =
                current.ok_or_else(|| PortError::NotFound(format!("The instance {team}/{name} is gone.")))?;
            if instance.metadata.deletion_timestamp.is_some() {
                return Err(PortError::Conflict("The instance is being deleted; it cannot be changed.".into()));
            }
            // The request holds the whole parameters it asked for; merging keeps what it left out.
            let parameters = merged_parameters(&instance, &request.parameters);
            instance.metadata.annotations.insert(APPROVAL_ANNOTATION.to_string(), request.id.to_string());
            apply_update(store, instance, &request.plan, parameters, requester).await
        }
        Operation::Delete => match get::<ServiceInstance>(store, team, name).await? {
            Some(instance) => delete_object(store, &instance).await,
            None => Ok(()),
        },
    }
}

async fn create_marked(
    store: &dyn ResourceStore,
    requester: &app::model::UserInfo,
    request: &ApprovalRequest,
    annotations: &[(String, String)],
) -> PortResult<()> {
    create_object(
        store,
        requester,
        &request.team,
        &request.instance,
        &request.class,
        &request.plan,
        request.parameters.clone(),
        annotations,
    )
    .await
    .map(drop)
}

async fn offered(store: &dyn ResourceStore, class: &ClusterServiceClass, plan: &str) -> PortResult<ClusterServicePlan> {
    class_plans(store, &class.metadata.name)
        .await?
        .into_iter()
        .find(|p| p.spec.common.external_name == plan && !p.status.removed_from_broker_catalog)
        .ok_or_else(|| PortError::Conflict(format!("The plan {plan} is no longer offered.")))
}

pub async fn quota(gov: &Governance, caller: &Caller, namespace: &str) -> PortResult<QuotaView> {
    check_namespace(caller, namespace)?;
    Ok(QuotaView { lines: gov.quota_lines(namespace).await.map_err(refused)? })
}

pub async fn view(store: &dyn ResourceStore, gov: &Governance, caller: &Caller) -> PortResult<GovernanceView> {
    if !caller.platform_admin && caller.admin_of.is_empty() {
        return Err(PortError::Forbidden(format!("{} is neither a platform admin nor a team admin", caller.username)));
    }
    let limits = gov.limits(None).await.map_err(refused)?;
    let mut teams: BTreeSet<String> = limits.iter().map(|l| l.team.clone()).collect();
    let mut quotas = Vec::new();
    for team in teams.clone() {
        if caller.may_administer(&team) {
            quotas.extend(gov.quota_lines(&team).await.map_err(refused)?);
        }
    }
    if !caller.platform_admin {
        return Ok(GovernanceView { quotas, teams: caller.admin_of.clone(), ..GovernanceView::default() });
    }
    let (instances, _) = list::<ServiceInstance>(store, &ListQuery::default()).await?;
    teams.extend(instances.into_iter().filter_map(|i| i.metadata.namespace));
    let visibility = gov.visibility().await.map_err(refused)?;
    teams.extend(visibility.iter().map(|v| v.team.clone()));
    let (classes, _) = list::<ClusterServiceClass>(store, &ListQuery::default()).await?;
    let mut choices = Vec::new();
    for class in classes.iter().filter(|c| !c.status.removed_from_broker_catalog) {
        let plans = class_plans(store, &class.metadata.name).await?;
        let mut names: Vec<String> = plans
            .into_iter()
            .filter(|p| !p.status.removed_from_broker_catalog)
            .map(|p| p.spec.common.external_name)
            .collect();
        names.sort();
        choices.push((class.spec.common.external_name.clone(), names));
    }
    choices.sort();
    Ok(GovernanceView {
        policies: gov.policies().await.map_err(refused)?,
        quotas,
        visibility,
        classes: choices,
        teams: teams.into_iter().collect(),
    })
}

pub async fn change(gov: &Governance, caller: &Caller, change: GovernanceChange) -> PortResult<()> {
    gov.change(caller, &change).await.map_err(refused)
}

pub async fn audit_log(gov: &Governance, caller: &Caller, filter: AuditFilter) -> PortResult<Vec<AuditEntry>> {
    check_admin(caller)?;
    match audit::list(gov.db(), &filter, 500).await {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(message)) => Err(PortError::Rejected(Rejection::new(message))),
        Err(e) => Err(PortError::Unavailable(e.to_string())),
    }
}
