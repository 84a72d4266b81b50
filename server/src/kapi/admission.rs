//! What the API checks before an instance or binding is written, beyond its shape: the class
//! and plan exist and are offered, the parameters fit the plan's schema (the same validator, and
//! so the same messages, as the portal's form), a binding's instance exists and is bindable; and
//! who asked (`spec.userInfo`, as upstream's API server stamped it).

use std::collections::HashMap;

use app::{
    api::governance::{ApprovalRequest, Operation as GovOperation, Visibility},
    model::{Kind, validate_dns1123_label, validate_dns1123_subdomain},
};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{
    Ctx,
    status::{ApiError, ApiResult, qualified},
};
use crate::{
    governance::{Admission, Admit, AuditRecord, Previous, Refusal, Reservation, audit::record_or_warn, rules},
    params::ParamsValidator,
    store::{FieldCause, ListQuery},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

fn cause(field: &str, message: impl Into<String>) -> FieldCause {
    FieldCause { field: field.to_string(), message: message.into() }
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// What governance decides on an instance: its class and plan (external names) and parameters.
struct Governed {
    class: String,
    plan: String,
    parameters: Value,
    previous: Option<Previous>,
}

/// Runs every check; `object` gets the caller's `userInfo` when its spec is new or changed.
///
/// An instance create or spec update then goes through [`crate::governance::Governance::admit`],
/// the one admission the portal's forms use too: a hidden plan or an overrun quota is refused
/// (403), a change policy wants approved is recorded as a pending request and answered with
/// 202 ([`awaiting_approval`]: nothing is to be written), and otherwise the
/// quota is reserved — the caller gives it back with [`undo`] if the write then fails. A dry
/// run reserves and records nothing: it checks the plan's visibility only.
pub async fn admit(
    ctx: &Ctx,
    op: Operation,
    kind: Kind,
    object: &mut Value,
    existing: Option<&Value>,
    dry: bool,
) -> ApiResult<Option<Reservation>> {
    let name = text(object, "/metadata/name").unwrap_or_default().to_string();
    let mut causes = Vec::new();
    if op == Operation::Create {
        check_name(kind, object, &mut causes);
    }
    let spec_changed = existing.is_none_or(|e| spec_without_user(e) != spec_without_user(object));
    let mut governed = None;
    if spec_changed {
        match kind {
            Kind::ServiceInstance => governed = instance(ctx, object, existing, &mut causes).await?,
            Kind::ServiceBinding => binding(ctx, object, existing, &mut causes).await?,
            _ => {}
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, &name, &causes));
    }
    if matches!(kind, Kind::ServiceInstance | Kind::ServiceBinding) {
        if spec_changed {
            object["spec"]["userInfo"] = json!({
                "username": ctx.caller.username, "uid": ctx.caller.uid, "groups": ctx.caller.groups,
            });
        } else if let Some(existing) = existing {
            // Unchanged spec: keep who asked last, whatever the client sent back.
            object["spec"]["userInfo"] = existing.pointer("/spec/userInfo").cloned().unwrap_or(Value::Null);
        }
    }
    match governed {
        Some(governed) => {
            let namespace = text(object, "/metadata/namespace").unwrap_or_default().to_string();
            policy(ctx, op, &namespace, &name, governed, dry).await
        }
        None => Ok(None),
    }
}

/// Quotas, plan visibility and approvals: the portal's single admission.
async fn policy(
    ctx: &Ctx,
    op: Operation,
    namespace: &str,
    name: &str,
    governed: Governed,
    dry: bool,
) -> ApiResult<Option<Reservation>> {
    let kind = Kind::ServiceInstance;
    if dry {
        let visible = ctx
            .gov
            .visible(namespace, &governed.class, Some(&governed.plan))
            .await
            .map_err(|r| refused(kind, name, r))?;
        if !visible {
            return Err(refused(kind, name, hidden(namespace, &governed.class, &governed.plan)));
        }
        return Ok(None);
    }
    let operation = match op {
        Operation::Create => GovOperation::Create,
        Operation::Update => GovOperation::Update,
    };
    let ask = Admit {
        namespace,
        instance: name,
        class: &governed.class,
        plan: &governed.plan,
        parameters: &governed.parameters,
        operation,
        previous: governed.previous.clone(),
    };
    match ctx.gov.admit(&ctx.caller, &ask).await {
        Ok(Admission::Proceed(reservation)) => Ok(Some(reservation)),
        Ok(Admission::Pending(held)) => {
            record_or_warn(
                ctx.gov.db(),
                AuditRecord::by(
                    &ctx.caller,
                    &format!("instance.{}.held", operation.as_str()),
                    namespace,
                    name,
                    json!({"class": governed.class, "plan": governed.plan, "parameters": governed.parameters,
                           "request": held.id, "reason": held.reason, "via": "kubernetes-api"}),
                ),
            )
            .await;
            tracing::info!(user = %ctx.caller.username, %namespace, instance = %name, request = held.id,
                "instance change through the Kubernetes-style API held for approval");
            Err(awaiting_approval(kind, name, &held))
        }
        Err(refusal) => Err(refused(kind, name, refusal)),
    }
}

/// An instance delete: `Ok` to go ahead (then [`released`]), or the 202 of a delete held for
/// approval (or a refusal).
pub async fn admit_delete(ctx: &Ctx, object: &Value, dry: bool) -> ApiResult<()> {
    if dry || text(object, "/metadata/deletionTimestamp").is_some() {
        return Ok(());
    }
    let namespace = text(object, "/metadata/namespace").unwrap_or_default();
    let name = text(object, "/metadata/name").unwrap_or_default();
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    let (class, plan) = match resolve_plan(ctx, namespace, &spec, &mut Vec::new()).await? {
        Some((class, plan)) => (external_name(&class), external_name(&plan)),
        None => {
            let choice = plan_choice(&spec);
            (
                choice.as_ref().map(|c| c.class_value.clone()).unwrap_or_default(),
                choice.and_then(|c| c.plan_value).unwrap_or_default(),
            )
        }
    };
    let parameters = spec.get("parameters").cloned().unwrap_or(Value::Null);
    let kind = Kind::ServiceInstance;
    let via = Some("kubernetes-api");
    let admission = ctx.gov.admit_delete(&ctx.caller, (namespace, name), (&class, &plan), &parameters, via).await;
    match admission {
        Ok(Admission::Proceed(_)) => Ok(()),
        Ok(Admission::Pending(held)) => Err(awaiting_approval(kind, name, &held)),
        Err(refusal) => Err(refused(kind, name, refusal)),
    }
}

/// After an instance was written through the API: records it in the audit log.
pub async fn written(ctx: &Ctx, action: &str, object: &Value) {
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    record_or_warn(
        ctx.gov.db(),
        AuditRecord::by(
            &ctx.caller,
            action,
            text(object, "/metadata/namespace").unwrap_or_default(),
            text(object, "/metadata/name").unwrap_or_default(),
            json!({"plan": spec.get("clusterServicePlanExternalName").or_else(|| spec.get("servicePlanExternalName")),
                   "parameters": spec.get("parameters"), "via": "kubernetes-api"}),
        ),
    )
    .await;
}

/// After an instance was deleted through the API: its quota is free again.
pub async fn released(ctx: &Ctx, namespace: &str, name: &str) {
    if let Err(e) = ctx.gov.release(namespace, name).await {
        tracing::error!(error = %e, %namespace, instance = %name, "giving back the quota of a deleted instance failed");
    }
    record_or_warn(
        ctx.gov.db(),
        AuditRecord::by(&ctx.caller, "instance.delete", namespace, name, json!({"via": "kubernetes-api"})),
    )
    .await;
}

/// Gives back a reservation whose write failed.
pub async fn undo(ctx: &Ctx, reservation: Option<Reservation>) {
    if let Some(reservation) = reservation
        && let Err(e) = ctx.gov.undo(reservation).await
    {
        tracing::error!(error = %e, "giving back the quota of a failed write failed");
    }
}

fn hidden(namespace: &str, class: &str, plan: &str) -> Refusal {
    Refusal::Hidden(format!("The service {class} has no plan {plan:?} on offer for team {namespace}."))
}

fn external_name(object: &Value) -> String {
    text(object, "/spec/externalName").unwrap_or_default().to_string()
}

fn kind_details(kind: Kind, name: &str) -> Value {
    json!({"name": name, "group": super::status::group(kind), "kind": kind.plural()})
}

/// 202 Accepted: the change waits for approval; nothing is written. The `Status` says
/// `Failure` (reason `PendingApproval`) so kubectl and client-go report the message and do not
/// claim the object was created.
pub fn awaiting_approval(kind: Kind, name: &str, held: &ApprovalRequest) -> ApiError {
    let who = match held.approver {
        app::api::governance::Approver::TeamAdmin => "a team admin of",
        app::api::governance::Approver::PlatformAdmin => "a platform admin for",
    };
    let mut details = kind_details(kind, name);
    details["causes"] = json!([{"reason": "PendingApproval", "message": held.reason, "field": "spec"}]);
    details["uid"] = json!(format!("approval-request-{}", held.id));
    ApiError {
        details: Some(details),
        ..ApiError::new(
            StatusCode::ACCEPTED,
            "PendingApproval",
            format!(
                "{} \"{name}\" awaits approval as request #{}: {}; it is {} once {who} team {} approves it (see /approvals)",
                qualified(kind),
                held.id,
                held.reason,
                match held.operation {
                    GovOperation::Create => "created",
                    GovOperation::Update => "changed",
                    GovOperation::Delete => "deleted",
                },
                held.team
            ),
        )
    }
}

/// A governance refusal in Kubernetes' terms, naming the reason.
pub fn refused(kind: Kind, name: &str, refusal: Refusal) -> ApiError {
    let what = format!("{} \"{name}\"", qualified(kind));
    let (code, reason, message) = match refusal {
        Refusal::Hidden(m) | Refusal::Forbidden(m) => {
            (StatusCode::FORBIDDEN, "Forbidden", format!("{what} is forbidden: {m}"))
        }
        Refusal::OverQuota { message, .. } => {
            (StatusCode::FORBIDDEN, "Forbidden", format!("{what} is forbidden: exceeded quota: {message}"))
        }
        Refusal::Busy(m) => (StatusCode::CONFLICT, "Conflict", format!("Operation cannot be fulfilled on {what}: {m}")),
        Refusal::NotFound(m) => (StatusCode::NOT_FOUND, "NotFound", m),
        Refusal::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid", format!("{what} is invalid: {m}")),
        Refusal::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", m),
    };
    ApiError { details: Some(kind_details(kind, name)), ..ApiError::new(code, reason, message) }
}

/// Which catalog objects (classes and plans) a caller may see: plan visibility per team.
pub struct CatalogVisibility {
    rules: Vec<Visibility>,
    teams: Vec<String>,
    /// Class object name → external name (plans name their class by object name).
    classes: HashMap<String, String>,
}

/// `None`: the caller sees the whole catalog (a platform admin, no visibility rules, or a kind
/// that is not part of the catalog).
pub async fn catalog_visibility(ctx: &Ctx, kind: Kind) -> ApiResult<Option<CatalogVisibility>> {
    let plans = match kind {
        Kind::ClusterServiceClass | Kind::ServiceClass => None,
        Kind::ClusterServicePlan => Some(Kind::ClusterServiceClass),
        Kind::ServicePlan => Some(Kind::ServiceClass),
        _ => return Ok(None),
    };
    let Some(teams) = ctx.caller.namespaces.clone() else { return Ok(None) };
    let rules = ctx.gov.visibility().await.map_err(|r| refused(kind, "", r))?;
    if rules.is_empty() {
        return Ok(None);
    }
    let mut classes = HashMap::new();
    if let Some(class_kind) = plans {
        for class in ctx.store.list(class_kind, &ListQuery::default()).await?.items {
            classes.insert(text(&class, "/metadata/name").unwrap_or_default().to_string(), external_name(&class));
        }
    }
    Ok(Some(CatalogVisibility { rules, teams, classes }))
}

impl CatalogVisibility {
    pub fn shows(&self, kind: Kind, object: &Value) -> bool {
        let teams = Some(self.teams.as_slice());
        match kind {
            Kind::ClusterServiceClass | Kind::ServiceClass => {
                rules::visible_to_any(&self.rules, teams, &external_name(object), None)
            }
            Kind::ClusterServicePlan | Kind::ServicePlan => {
                let class_ref = text(object, "/spec/clusterServiceClassRef/name")
                    .or_else(|| text(object, "/spec/serviceClassRef/name"))
                    .unwrap_or_default();
                let class = self.classes.get(class_ref).cloned().unwrap_or_default();
                rules::visible_to_any(&self.rules, teams, &class, Some(&external_name(object)))
            }
            _ => true,
        }
    }
}

fn spec_without_user(object: &Value) -> Value {
    let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
    if let Some(map) = spec.as_object_mut() {
        map.remove("userInfo");
        map.retain(|_, v| !v.is_null());
    }
    spec
}

fn check_name(kind: Kind, object: &Value, causes: &mut Vec<FieldCause>) {
    let name = text(object, "/metadata/name");
    let generate = text(object, "/metadata/generateName");
    match (name, generate) {
        (None, None) => causes.push(cause("metadata.name", "Required value: name or generateName is required")),
        (None, Some(_)) => {}
        (Some(name), _) => {
            // Instances and bindings become OSB ids, Secret names and labels: DNS labels, as in the UI.
            let checked = if matches!(kind, Kind::ServiceInstance | Kind::ServiceBinding) {
                validate_dns1123_label(name)
            } else {
                validate_dns1123_subdomain(name)
            };
            if let Err(e) = checked {
                causes.push(cause("metadata.name", format!("Invalid value: {name:?}: {}", e.0)));
            }
        }
    }
}

/// How an instance names its class and plan: which fields, and the kinds they point at.
struct PlanChoice {
    namespaced: bool,
    class_field: &'static str,
    class_key: &'static str,
    class_value: String,
    plan_field: &'static str,
    plan_key: &'static str,
    plan_value: Option<String>,
}

fn plan_choice(spec: &Value) -> Option<PlanChoice> {
    const WAYS: [(bool, &str, &str, &str); 6] = [
        (false, "clusterServiceClassExternalName", "clusterServicePlanExternalName", "externalName"),
        (false, "clusterServiceClassExternalID", "clusterServicePlanExternalID", "externalID"),
        (false, "clusterServiceClassName", "clusterServicePlanName", "name"),
        (true, "serviceClassExternalName", "servicePlanExternalName", "externalName"),
        (true, "serviceClassExternalID", "servicePlanExternalID", "externalID"),
        (true, "serviceClassName", "servicePlanName", "name"),
    ];
    WAYS.iter().find_map(|(namespaced, class_field, plan_field, key)| {
        let class_value = spec.get(*class_field).and_then(Value::as_str).filter(|s| !s.is_empty())?;
        Some(PlanChoice {
            namespaced: *namespaced,
            class_field,
            class_key: key,
            class_value: class_value.to_string(),
            plan_field,
            plan_key: key,
            plan_value: spec.get(*plan_field).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
        })
    })
}

fn key_of<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    match key {
        "name" => text(object, "/metadata/name"),
        other => text(object, &format!("/spec/{other}")),
    }
}

fn removed(object: &Value) -> bool {
    object.pointer("/status/removedFromBrokerCatalog").and_then(Value::as_bool) == Some(true)
}

/// The class and plan an instance names, or the causes why there are none.
async fn resolve_plan(
    ctx: &Ctx,
    namespace: &str,
    spec: &Value,
    causes: &mut Vec<FieldCause>,
) -> ApiResult<Option<(Value, Value)>> {
    let Some(choice) = plan_choice(spec) else {
        causes.push(cause(
            "spec.clusterServiceClassExternalName",
            "Required value: name the service class and plan (clusterServiceClassExternalName and clusterServicePlanExternalName)",
        ));
        return Ok(None);
    };
    let Some(plan_value) = choice.plan_value.clone() else {
        causes.push(cause(&format!("spec.{}", choice.plan_field), "Required value: name the plan of the class"));
        return Ok(None);
    };
    let (class_kind, plan_kind, class_ref) = if choice.namespaced {
        (Kind::ServiceClass, Kind::ServicePlan, "/spec/serviceClassRef/name")
    } else {
        (Kind::ClusterServiceClass, Kind::ClusterServicePlan, "/spec/clusterServiceClassRef/name")
    };
    let scope = ListQuery { namespace: choice.namespaced.then(|| namespace.to_string()), ..ListQuery::default() };
    let store = ctx.store.as_ref();
    let classes = store.list(class_kind, &scope).await?.items;
    let mut matching: Vec<&Value> =
        classes.iter().filter(|c| key_of(c, choice.class_key) == Some(choice.class_value.as_str())).collect();
    matching.sort_by_key(|c| removed(c));
    let Some(class) = matching.first().copied() else {
        let mut offered: Vec<&str> =
            classes.iter().filter(|c| !removed(c)).filter_map(|c| key_of(c, choice.class_key)).collect();
        offered.sort_unstable();
        causes.push(cause(
            &format!("spec.{}", choice.class_field),
            format!(
                "Not found: {:?}: there is no such service class in the catalog (offered: {})",
                choice.class_value,
                offered.join(", ")
            ),
        ));
        return Ok(None);
    };
    if removed(class) {
        causes.push(cause(
            &format!("spec.{}", choice.class_field),
            format!("Invalid value: {:?}: the broker no longer offers this service", choice.class_value),
        ));
        return Ok(None);
    }
    let class_name = text(class, "/metadata/name").unwrap_or_default();
    let plans: Vec<Value> = store
        .list(plan_kind, &scope)
        .await?
        .items
        .into_iter()
        .filter(|p| text(p, class_ref) == Some(class_name) && !removed(p))
        .collect();
    let Some(plan) = plans.iter().find(|p| key_of(p, choice.plan_key) == Some(plan_value.as_str())) else {
        let mut offered: Vec<&str> = plans.iter().filter_map(|p| key_of(p, choice.plan_key)).collect();
        offered.sort_unstable();
        causes.push(cause(
            &format!("spec.{}", choice.plan_field),
            format!(
                "Not found: {plan_value:?}: service {:?} has no such plan on offer (plans: {})",
                choice.class_value,
                offered.join(", ")
            ),
        ));
        return Ok(None);
    };
    Ok(Some((class.clone(), plan.clone())))
}

/// `parameters` with `parametersFrom` merged in (read from the Secrets they name).
async fn effective_parameters(
    ctx: &Ctx,
    namespace: &str,
    spec: &Value,
    causes: &mut Vec<FieldCause>,
) -> ApiResult<Value> {
    let mut merged: Map<String, Value> = match spec.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            causes.push(cause("spec.parameters", "Invalid value: parameters must be an object"));
            return Ok(Value::Null);
        }
    };
    let sources = spec.get("parametersFrom").and_then(Value::as_array).cloned().unwrap_or_default();
    for (i, source) in sources.iter().enumerate() {
        let field = format!("spec.parametersFrom[{i}].secretKeyRef");
        let (Some(secret), Some(key)) = (text(source, "/secretKeyRef/name"), text(source, "/secretKeyRef/key")) else {
            causes.push(cause(&field, "Required value: secretKeyRef with name and key"));
            continue;
        };
        let Some(object) = ctx.store.get(Kind::Secret, namespace, secret).await? else {
            causes.push(cause(&field, format!("Not found: Secret {secret:?} in namespace {namespace:?}")));
            continue;
        };
        let decoded = object
            .pointer(&format!("/data/{}", key.replace('~', "~0").replace('/', "~1")))
            .and_then(Value::as_str)
            .and_then(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        match decoded {
            Some(Value::Object(values)) => {
                for (k, v) in values {
                    if merged.contains_key(&k) {
                        causes.push(cause(&field, format!("Invalid value: parameter {k:?} is given twice")));
                    }
                    merged.insert(k, v);
                }
            }
            _ => causes.push(cause(
                &field,
                format!("Invalid value: key {key:?} of Secret {secret:?} must hold a JSON object of parameters"),
            )),
        }
    }
    Ok(Value::Object(merged))
}

/// Parameter problems, placed at `spec.parameters.<field>`.
fn check_parameters(schema: Option<&Value>, parameters: &Value, causes: &mut Vec<FieldCause>) {
    let Some(schema) = schema else { return };
    let errors = ParamsValidator::new(schema).validate(parameters);
    for (pointer, message) in errors.iter() {
        let path: Vec<String> = pointer.split('/').skip(1).map(|p| p.replace("~1", "/").replace("~0", "~")).collect();
        let field =
            if path.is_empty() { "spec.parameters".to_string() } else { format!("spec.parameters.{}", path.join(".")) };
        let described = match parameters.pointer(pointer) {
            Some(value) if !pointer.is_empty() => format!("Invalid value: {value}: {message}"),
            _ => message.to_string(),
        };
        causes.push(cause(&field, described));
    }
}

async fn instance(
    ctx: &Ctx,
    object: &mut Value,
    existing: Option<&Value>,
    causes: &mut Vec<FieldCause>,
) -> ApiResult<Option<Governed>> {
    let namespace = text(object, "/metadata/namespace").unwrap_or_default().to_string();
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    if let Some(existing) = existing
        && text(existing, "/metadata/deletionTimestamp").is_some()
    {
        causes.push(cause("spec", "Forbidden: the instance is being deleted; its spec cannot change"));
        return Ok(None);
    }
    let Some((class, plan)) = resolve_plan(ctx, &namespace, &spec, causes).await? else { return Ok(None) };
    let parameters = effective_parameters(ctx, &namespace, &spec, causes).await?;
    let mut governed = Governed {
        class: external_name(&class),
        plan: external_name(&plan),
        parameters: parameters.clone(),
        previous: None,
    };
    let Some(existing) = existing else {
        check_parameters(plan.pointer("/spec/instanceCreateParameterSchema"), &parameters, causes);
        return Ok(Some(governed));
    };
    let before = existing.get("spec").cloned().unwrap_or(json!({}));
    if let Some(choice) = plan_choice(&before)
        && plan_choice(&spec)
            .is_some_and(|now| now.class_field != choice.class_field || now.class_value != choice.class_value)
    {
        causes
            .push(cause(&format!("spec.{}", choice.class_field), "Forbidden: the class of an instance cannot change"));
        return Ok(None);
    }
    let old = effective_parameters(ctx, &namespace, &before, &mut Vec::new()).await?;
    let previous_plan = match resolve_plan(ctx, &namespace, &before, &mut Vec::new()).await? {
        Some((_, plan)) => external_name(&plan),
        None => plan_choice(&before).and_then(|c| c.plan_value).unwrap_or_default(),
    };
    governed.previous = Some(Previous {
        plan: previous_plan,
        parameters: old.clone(),
        resource_version: text(existing, "/metadata/resourceVersion").unwrap_or_default().to_string(),
    });
    let plan_changed = plan_choice(&before).and_then(|c| c.plan_value) != plan_choice(&spec).and_then(|c| c.plan_value);
    if plan_changed {
        let updatable = plan
            .pointer("/spec/planUpdatable")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| class.pointer("/spec/planUpdatable").and_then(Value::as_bool).unwrap_or(false));
        if !updatable {
            let field = plan_choice(&spec)
                .map_or("spec.clusterServicePlanExternalName".to_string(), |c| format!("spec.{}", c.plan_field));
            causes.push(cause(&field, "Forbidden: this service does not allow changing the plan of an instance"));
        }
    }
    // As the portal's edit form: the update schema names what may change after creation.
    match plan.pointer("/spec/instanceUpdateParameterSchema") {
        Some(update_schema) if update_schema.is_object() => {
            let declared = update_schema.get("properties").and_then(Value::as_object);
            let mut edited = Map::new();
            for (key, value) in parameters.as_object().into_iter().flatten() {
                if declared.is_some_and(|d| d.contains_key(key)) {
                    edited.insert(key.clone(), value.clone());
                } else if old.get(key) != Some(value) {
                    causes.push(cause(
                        &format!("spec.parameters.{key}"),
                        "Forbidden: the plan does not allow changing this parameter after creation",
                    ));
                }
            }
            check_parameters(Some(update_schema), &Value::Object(edited), causes);
        }
        _ => check_parameters(plan.pointer("/spec/instanceCreateParameterSchema"), &parameters, causes),
    }
    Ok(Some(governed))
}

async fn binding(
    ctx: &Ctx,
    object: &mut Value,
    existing: Option<&Value>,
    causes: &mut Vec<FieldCause>,
) -> ApiResult<()> {
    if existing.is_some() {
        causes.push(cause("spec", "Forbidden: the spec of a binding cannot change; delete it and bind again"));
        return Ok(());
    }
    let namespace = text(object, "/metadata/namespace").unwrap_or_default().to_string();
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    let Some(instance_name) = text(&spec, "/instanceRef/name") else {
        causes.push(cause("spec.instanceRef.name", "Required value: the instance to bind"));
        return Ok(());
    };
    let store = ctx.store.as_ref();
    let Some(instance) = store.get(Kind::ServiceInstance, &namespace, instance_name).await? else {
        causes.push(cause(
            "spec.instanceRef.name",
            format!("Not found: {instance_name:?}: there is no such instance in namespace {namespace:?}"),
        ));
        return Ok(());
    };
    if text(&instance, "/metadata/deletionTimestamp").is_some() {
        causes.push(cause("spec.instanceRef.name", "Forbidden: the instance is being deleted; it cannot be bound"));
        return Ok(());
    }
    let instance_spec = instance.get("spec").cloned().unwrap_or(json!({}));
    let mut ignored = Vec::new();
    let Some((class, plan)) = resolve_plan(ctx, &namespace, &instance_spec, &mut ignored).await? else {
        // The instance's class left the catalog: the controller explains that on the binding.
        return Ok(());
    };
    let bindable = plan
        .pointer("/spec/bindable")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| class.pointer("/spec/bindable").and_then(Value::as_bool).unwrap_or(true));
    if !bindable {
        causes.push(cause(
            "spec.instanceRef.name",
            "Forbidden: the instance's plan is not bindable: the broker hands out no credentials for it",
        ));
        return Ok(());
    }
    let parameters = effective_parameters(ctx, &namespace, &spec, causes).await?;
    check_parameters(plan.pointer("/spec/serviceBindingCreateParameterSchema"), &parameters, causes);
    Ok(())
}
