//! Instances: the list, one instance's page, and the requests that create, change, delete or
//! abandon them. Parameters are checked again here with the plan's schema (`params`), whatever
//! the browser said.

pub mod bindings;
mod index;

pub use index::InstanceIndex;

use std::collections::BTreeSet;

use app::{
    api::{
        Caller, ObjectRef, Rejection,
        instances::{InstancePage, InstanceRequest, InstanceRow, InstanceUpdate, InstancesQuery, InstancesView},
    },
    model::{
        ClusterServiceClass, ClusterServicePlan, Resource, ServiceBinding, ServiceInstance, UserInfo,
        validate_dns1123_label,
    },
    port::{PortError, PortResult},
};
use serde_json::{Value, json};

use super::{
    FINALIZER,
    access::{check_admin, check_namespace, get, list, store_error, store_update},
    catalog::{class_plans, detail, find_class},
    governance::{refused, refused_on},
};
use crate::{
    governance::{Admission, Admit, AuditRecord, Governance, Previous, audit::record_or_warn},
    params::ParamsValidator,
    store::{ListQuery, ResourceStore, StoreError},
};
use app::api::governance::{ApprovalState, Operation};

pub fn user_info(caller: &Caller) -> UserInfo {
    UserInfo {
        username: caller.username.clone(),
        uid: caller.uid.clone(),
        groups: caller.groups.clone(),
        extra: Default::default(),
    }
}

/// Checks parameters against a plan schema; `None` schema accepts any object.
pub fn check_parameters(schema: Option<&Value>, parameters: &Value) -> Result<(), Rejection> {
    if !(parameters.is_object() || parameters.is_null()) {
        return Err(Rejection::new("Parameters must be a JSON object."));
    }
    let Some(schema) = schema else { return Ok(()) };
    let errors = ParamsValidator::new(schema).validate(parameters);
    if errors.is_empty() {
        Ok(())
    } else {
        let n = errors.len();
        Err(Rejection {
            message: format!(
                "{} in the parameters; see the fields marked below.",
                if n == 1 { "1 problem".to_string() } else { format!("{n} problems") }
            ),
            fields: errors,
            inputs: Vec::new(),
        })
    }
}

fn visible_namespaces(caller: &Caller) -> ListQuery {
    // A caller limited to one namespace lists just that one; several: all, filtered after.
    match caller.namespaces.as_deref() {
        Some([one]) => ListQuery { namespace: Some(one.clone()), ..ListQuery::default() },
        _ => ListQuery::default(),
    }
}

/// The rows of the caller's teams, in (team, name) order.
fn visible<'a>(rows: &'a index::Rows, caller: &Caller) -> Vec<&'a InstanceRow> {
    match &caller.namespaces {
        None => rows.values().collect(),
        Some(teams) => {
            let teams: BTreeSet<&String> = teams.iter().collect();
            teams
                .into_iter()
                .flat_map(|team| {
                    rows.range((team.clone(), String::new())..)
                        .take_while(move |((namespace, _), _)| namespace == team)
                        .map(|(_, row)| row)
                })
                .collect()
        }
    }
}

/// Every instance row of the caller's teams read from the store (when there is no index).
async fn rows_from_store(store: &dyn ResourceStore, caller: &Caller) -> PortResult<(index::Rows, u64)> {
    let (instances, resource_version) = list::<ServiceInstance>(store, &visible_namespaces(caller)).await?;
    let rows = instances
        .iter()
        .filter(|i| caller.may_access(i.metadata.namespace.as_deref().unwrap_or_default()))
        .map(|i| InstanceRow::from_instance(i, None))
        .map(|row| ((row.namespace.clone(), row.name.clone()), row))
        .collect();
    Ok((rows, resource_version))
}

/// Runs `read` over the caller's rows: from the index when it is current, else from the store.
async fn with_rows<T>(
    store: &dyn ResourceStore,
    index: Option<&InstanceIndex>,
    caller: &Caller,
    read: impl for<'r> FnOnce(Vec<&'r InstanceRow>) -> T,
) -> PortResult<(T, u64)> {
    let mut read = Some(read);
    if let Some(index) = index
        && let Some(found) = index.read(store, |rows| (read.take().expect("read once"))(visible(rows, caller))).await
    {
        return Ok(found);
    }
    let (rows, resource_version) = rows_from_store(store, caller).await?;
    let read = read.expect("not read yet");
    Ok((read(visible(&rows, caller)), resource_version))
}

pub async fn namespaces(
    store: &dyn ResourceStore,
    index: Option<&InstanceIndex>,
    caller: &Caller,
) -> PortResult<Vec<String>> {
    let (mut set, _) = with_rows(store, index, caller, |rows| {
        rows.into_iter().map(|row| row.namespace.clone()).collect::<BTreeSet<String>>()
    })
    .await?;
    if let Some(allowed) = &caller.namespaces {
        set.extend(allowed.iter().cloned());
    }
    Ok(set.into_iter().collect())
}

/// How many instances the caller's teams hold.
pub async fn count(store: &dyn ResourceStore, index: Option<&InstanceIndex>, caller: &Caller) -> PortResult<usize> {
    Ok(with_rows(store, index, caller, |rows| rows.len()).await?.0)
}

/// One page of the instances list (see [`InstancesView::paginate`]); requests held for approval
/// count as rows. `class_names` maps class external names to display names.
pub async fn list_view(
    store: &dyn ResourceStore,
    index: Option<&InstanceIndex>,
    gov: &Governance,
    caller: &Caller,
    class_names: Vec<(String, String)>,
    query: &InstancesQuery,
) -> PortResult<InstancesView> {
    // Requests held for approval show as rows too, until they become instances.
    let (pending, _) = gov.requests(0).await.map_err(refused)?;
    let mut pending: Vec<InstanceRow> = pending
        .into_iter()
        .filter(|r| r.operation == Operation::Create && caller.may_access(&r.team))
        .map(|request| InstanceRow {
            namespace: request.team.clone(),
            name: request.instance.clone(),
            class_external_name: request.class.clone(),
            class_display: request.class.clone(),
            plan_external_name: request.plan.clone(),
            status: app::model::StatusLine {
                phase: app::model::Phase::PendingApproval,
                reason: "PendingApproval".into(),
                message: request.reason.clone(),
                deleting: false,
            },
            created: request.created_at.clone(),
            resource_version: 0,
        })
        .collect();
    pending.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut view = InstancesView { class_names, ..InstancesView::default() };
    let ((), resource_version) = with_rows(store, index, caller, |listed| {
        // Shortened to the pending rows' lifetime, so they can join.
        let mut rows: Vec<&InstanceRow> = listed;
        for request in &pending {
            let key = (&request.namespace, &request.name);
            if let Err(at) = rows.binary_search_by(|row| (&row.namespace, &row.name).cmp(&key)) {
                rows.insert(at, request);
            }
        }
        let namespaces: BTreeSet<&String> = rows.iter().map(|row| &row.namespace).collect();
        view.namespaces = namespaces.into_iter().cloned().collect();
        view.paginate(rows, query);
    })
    .await?;
    view.resource_version = resource_version;
    Ok(view)
}

/// The class an instance names (by its reference, else by external name).
pub(super) async fn class_of(
    store: &dyn ResourceStore,
    instance: &ServiceInstance,
) -> PortResult<Option<ClusterServiceClass>> {
    if let Some(reference) = &instance.spec.cluster_service_class_ref
        && let Some(class) = get::<ClusterServiceClass>(store, "", &reference.name).await?
    {
        return Ok(Some(class));
    }
    match instance.spec.class_external_name() {
        Some(name) => find_class(store, name).await,
        None => Ok(None),
    }
}

pub async fn page(
    store: &dyn ResourceStore,
    gov: &Governance,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> PortResult<Option<InstancePage>> {
    check_namespace(caller, namespace)?;
    // The version first: whatever changes after it reaches the page through the live stream.
    let resource_version = store.resource_version().await.map_err(store_error)?;
    let latest = gov.latest_request(namespace, name).await.map_err(refused)?;
    let instance = match get::<ServiceInstance>(store, namespace, name).await? {
        Some(instance) => instance,
        // A request held for approval: the page shows it until it becomes an instance.
        None => match &latest {
            Some(request)
                if request.operation == Operation::Create
                    && matches!(
                        request.state,
                        ApprovalState::Pending | ApprovalState::Rejected | ApprovalState::Failed
                    ) =>
            {
                let mut placeholder = ServiceInstance::new_named(Some(namespace), name);
                placeholder.spec.plan.cluster_service_class_external_name = Some(request.class.clone());
                placeholder.spec.plan.cluster_service_plan_external_name = Some(request.plan.clone());
                placeholder.spec.parameters = Some(request.parameters.clone()).filter(|p| !p.is_null());
                placeholder.metadata.creation_timestamp = Some(request.created_at.clone());
                placeholder
            }
            _ => return Ok(None),
        },
    };
    let approval = match latest {
        Some(mut request) if request.state == ApprovalState::Pending || instance.metadata.uid.is_none() => {
            if request.state == ApprovalState::Pending {
                request.quota = gov.impact(&request).await.map_err(refused)?;
            }
            Some(request)
        }
        _ => None,
    };
    let class = class_of(store, &instance).await?;
    let (class, broker) = match class {
        Some(class) => {
            let plans = class_plans(store, &class.metadata.name).await?;
            let broker = class.spec.cluster_service_broker_name.clone();
            (Some(detail(&class, &plans, class.metadata.name.clone())), broker)
        }
        None => (None, String::new()),
    };
    let bindings = bindings::of_instance(store, namespace, name).await?;
    Ok(Some(InstancePage { instance, class, bindings, broker, resource_version, approval }))
}

pub(super) fn reject_input(input: &str, message: impl Into<String>) -> PortError {
    let message = message.into();
    PortError::Rejected(Rejection::new(message.clone()).on_input(input, message))
}

/// A plan of a class by external name, offered now.
fn offered_plan<'a>(plans: &'a [ClusterServicePlan], name: &str) -> Option<&'a ClusterServicePlan> {
    plans.iter().find(|p| p.spec.common.external_name == name && !p.status.removed_from_broker_catalog)
}

pub async fn request(
    store: &dyn ResourceStore,
    gov: &Governance,
    caller: &Caller,
    request: InstanceRequest,
) -> PortResult<ObjectRef> {
    if let Err(e) = validate_dns1123_label(&request.name) {
        return Err(reject_input("name", format!("Name {e}")));
    }
    if let Err(e) = validate_dns1123_label(&request.namespace) {
        return Err(reject_input("namespace", format!("Team namespace {e}")));
    }
    check_namespace(caller, &request.namespace)?;
    let Some(class) = find_class(store, &request.class).await? else {
        return Err(PortError::Rejected(Rejection::new(format!(
            "There is no service {:?} in the catalog.",
            request.class
        ))));
    };
    if class.status.removed_from_broker_catalog {
        return Err(PortError::Rejected(Rejection::new("The broker no longer offers this service.")));
    }
    let plans = class_plans(store, &class.metadata.name).await?;
    let Some(plan) = offered_plan(&plans, &request.plan) else {
        return Err(reject_input("plan", format!("The service has no plan {:?} on offer.", request.plan)));
    };
    check_parameters(plan.spec.common.instance_create_parameter_schema.as_ref(), &request.parameters)
        .map_err(PortError::Rejected)?;
    if get::<ServiceInstance>(store, &request.namespace, &request.name).await?.is_some() {
        return Err(name_taken(&request.namespace, &request.name));
    }
    let (class_name, plan_name) = (class.spec.common.external_name.clone(), plan.spec.common.external_name.clone());
    let ask = Admit {
        namespace: &request.namespace,
        instance: &request.name,
        class: &class_name,
        plan: &plan_name,
        parameters: &request.parameters,
        operation: Operation::Create,
        previous: None,
    };
    let reservation = match gov.admit(caller, &ask).await.map_err(|r| refused_on(r, "name"))? {
        Admission::Pending(held) => {
            record_or_warn(
                gov.db(),
                AuditRecord::by(
                    caller,
                    "instance.create.held",
                    &request.namespace,
                    &request.name,
                    json!({"class": class_name, "plan": plan_name, "parameters": request.parameters,
                           "request": held.id, "reason": held.reason}),
                ),
            )
            .await;
            tracing::info!(user = %caller.username, namespace = %request.namespace, instance = %request.name, request = held.id, "instance request held for approval");
            return Ok(ObjectRef { namespace: request.namespace, name: request.name });
        }
        Admission::Proceed(reservation) => reservation,
    };
    let user = user_info(caller);
    match create_object(
        store,
        &user,
        &request.namespace,
        &request.name,
        &class_name,
        &plan_name,
        request.parameters.clone(),
        &[],
    )
    .await
    {
        Ok(created) => {
            record_or_warn(
                gov.db(),
                AuditRecord::by(
                    caller,
                    "instance.create",
                    &request.namespace,
                    &request.name,
                    json!({"class": class_name, "plan": plan_name, "parameters": request.parameters}),
                ),
            )
            .await;
            tracing::info!(
                user = %caller.username, namespace = %request.namespace, instance = %request.name,
                class = %class_name, plan = %plan_name, "instance requested"
            );
            Ok(created)
        }
        Err(e) => {
            if let Err(undo) = gov.undo(reservation).await {
                tracing::error!(error = %undo, "giving back the quota of a failed request failed");
            }
            Err(e)
        }
    }
}

fn name_taken(namespace: &str, name: &str) -> PortError {
    reject_input("name", format!("Team {namespace} already has an instance named {name}; pick another name."))
}

/// Creates the instance object (the controller provisions it).
#[allow(clippy::too_many_arguments)]
pub async fn create_object(
    store: &dyn ResourceStore,
    user: &UserInfo,
    namespace: &str,
    name: &str,
    class: &str,
    plan: &str,
    parameters: Value,
    annotations: &[(String, String)],
) -> PortResult<ObjectRef> {
    let mut instance = ServiceInstance::new_named(Some(namespace), name);
    instance.metadata.annotations.extend(annotations.iter().cloned());
    instance.spec.plan.cluster_service_class_external_name = Some(class.to_string());
    instance.spec.plan.cluster_service_plan_external_name = Some(plan.to_string());
    instance.spec.parameters = (!parameters.is_null()).then_some(parameters);
    // As upstream's API server did: the OSB instance id is fixed when the object is created.
    instance.spec.external_id = uuid::Uuid::new_v4().to_string();
    instance.spec.user_info = Some(user.clone());
    match super::access::store_create(store, &instance).await {
        Ok(created) => {
            Ok(ObjectRef { namespace: created.metadata.namespace.unwrap_or_default(), name: created.metadata.name })
        }
        Err(StoreError::AlreadyExists { .. }) => Err(name_taken(namespace, name)),
        Err(e) => Err(store_error(e)),
    }
}

async fn instance_for_change(
    store: &dyn ResourceStore,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> PortResult<ServiceInstance> {
    check_namespace(caller, namespace)?;
    get::<ServiceInstance>(store, namespace, name)
        .await?
        .ok_or_else(|| PortError::NotFound(format!("There is no instance {name} in team {namespace}.")))
}

pub async fn update(
    store: &dyn ResourceStore,
    gov: &Governance,
    caller: &Caller,
    change: InstanceUpdate,
) -> PortResult<ObjectRef> {
    let instance = instance_for_change(store, caller, &change.namespace, &change.name).await?;
    if instance.metadata.deletion_timestamp.is_some() {
        return Err(PortError::Rejected(Rejection::new("The instance is being deleted; it cannot be changed.")));
    }
    let class = class_of(store, &instance)
        .await?
        .ok_or_else(|| PortError::Rejected(Rejection::new("The instance's service is not in the catalog any more.")))?;
    let plans = class_plans(store, &class.metadata.name).await?;
    let current_plan = instance.spec.plan_external_name().unwrap_or_default().to_string();
    let plan = if change.plan.is_empty() { current_plan.clone() } else { change.plan.clone() };
    let Some(target) = offered_plan(&plans, &plan) else {
        return Err(reject_input("plan", format!("The service has no plan {plan:?} on offer.")));
    };
    if plan != current_plan {
        let updatable = plans
            .iter()
            .find(|p| p.spec.common.external_name == current_plan)
            .and_then(|p| p.spec.common.plan_updatable)
            .unwrap_or(class.spec.common.plan_updatable);
        if !updatable {
            return Err(reject_input("plan", "This service does not allow changing the plan of an instance."));
        }
    }
    let schema = target.spec.common.instance_update_parameter_schema.as_ref().or(target
        .spec
        .common
        .instance_create_parameter_schema
        .as_ref());
    check_parameters(schema, &change.parameters).map_err(PortError::Rejected)?;
    let current_rv = instance.metadata.resource_version.clone().unwrap_or_default();
    if !change.resource_version.is_empty() && change.resource_version != current_rv {
        return Err(store_error(StoreError::Conflict {
            kind: ServiceInstance::KIND,
            namespace: change.namespace.clone(),
            name: change.name.clone(),
        }));
    }
    let parameters = merged_parameters(&instance, &change.parameters);
    let class_name = class.spec.common.external_name.clone();
    let ask = Admit {
        namespace: &change.namespace,
        instance: &change.name,
        class: &class_name,
        plan: &plan,
        parameters: &parameters,
        operation: Operation::Update,
        previous: Some(Previous {
            plan: current_plan.clone(),
            parameters: instance.spec.parameters.clone().unwrap_or(Value::Null),
            resource_version: current_rv,
        }),
    };
    let detail = json!({"plan": plan, "previousPlan": current_plan, "parameters": change.parameters});
    let reservation = match gov.admit(caller, &ask).await.map_err(refused)? {
        Admission::Pending(held) => {
            let mut detail = detail;
            detail["request"] = json!(held.id);
            detail["reason"] = json!(held.reason);
            record_or_warn(
                gov.db(),
                AuditRecord::by(caller, "instance.update.held", &change.namespace, &change.name, detail),
            )
            .await;
            return Ok(ObjectRef { namespace: change.namespace, name: change.name });
        }
        Admission::Proceed(reservation) => reservation,
    };
    let mut instance = instance;
    instance.metadata.resource_version = Some(change.resource_version.clone()).filter(|rv| !rv.is_empty());
    match apply_update(store, instance, &plan, parameters, &user_info(caller)).await {
        Ok(()) => {
            record_or_warn(
                gov.db(),
                AuditRecord::by(caller, "instance.update", &change.namespace, &change.name, detail),
            )
            .await;
            tracing::info!(user = %caller.username, namespace = %change.namespace, instance = %change.name, "instance update requested");
            Ok(ObjectRef { namespace: change.namespace, name: change.name })
        }
        Err(e) => {
            if let Err(undo) = gov.undo(reservation).await {
                tracing::error!(error = %undo, "giving back the quota of a failed update failed");
            }
            Err(e)
        }
    }
}

/// The form edits what the update schema names; everything else is kept as it was.
pub fn merged_parameters(instance: &ServiceInstance, edited: &Value) -> Value {
    let mut parameters = instance.spec.parameters.clone().unwrap_or(Value::Object(Default::default()));
    if let (Some(target), Some(edited)) = (parameters.as_object_mut(), edited.as_object()) {
        for (key, value) in edited {
            target.insert(key.clone(), value.clone());
        }
    }
    parameters
}

/// Writes new parameters and plan into the instance (the controller sends the update).
pub async fn apply_update(
    store: &dyn ResourceStore,
    mut instance: ServiceInstance,
    plan: &str,
    parameters: Value,
    user: &UserInfo,
) -> PortResult<()> {
    instance.spec.parameters = (!parameters.as_object().is_some_and(|m| m.is_empty())).then_some(parameters);
    instance.spec.plan.cluster_service_plan_external_name = Some(plan.to_string());
    // A stale reference would name the old plan.
    instance.spec.cluster_service_plan_ref = None;
    instance.spec.user_info = Some(user.clone());
    store_update(store, &instance).await.map_err(store_error)?;
    Ok(())
}

/// Deletes the instance (after approval, when policy wants one); the controller unbinds and
/// deprovisions.
pub async fn delete(
    store: &dyn ResourceStore,
    gov: &Governance,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> PortResult<()> {
    let instance = instance_for_change(store, caller, namespace, name).await?;
    if instance.metadata.deletion_timestamp.is_none() {
        let (class, plan) = (
            instance.spec.class_external_name().unwrap_or_default().to_string(),
            instance.spec.plan_external_name().unwrap_or_default().to_string(),
        );
        let parameters = instance.spec.parameters.clone().unwrap_or(Value::Null);
        let admission = gov.admit_delete(caller, (namespace, name), (&class, &plan), &parameters, None).await;
        if let Admission::Pending(_) = admission.map_err(refused)? {
            return Ok(());
        }
    }
    delete_object(store, &instance).await?;
    gov.release(namespace, name).await.map_err(refused)?;
    record_or_warn(gov.db(), AuditRecord::by(caller, "instance.delete", namespace, name, Value::Null)).await;
    tracing::info!(user = %caller.username, %namespace, instance = %name, "instance deletion requested");
    Ok(())
}

/// Deletes an instance's bindings, then the instance.
pub async fn delete_object(store: &dyn ResourceStore, instance: &ServiceInstance) -> PortResult<()> {
    let namespace = instance.metadata.namespace.clone().unwrap_or_default();
    let name = &instance.metadata.name;
    for binding in bindings::of_instance(store, &namespace, name).await? {
        bindings::delete_object(store, &binding).await?;
    }
    match store.delete(ServiceInstance::KIND, &namespace, name, instance.metadata.uid.as_deref()).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(store_error(e)),
    }
}

/// Lets go of an instance without the broker: its bindings and it lose their finalizers and go.
pub async fn abandon(
    store: &dyn ResourceStore,
    gov: &Governance,
    caller: &Caller,
    namespace: &str,
    name: &str,
) -> PortResult<()> {
    check_admin(caller)?;
    instance_for_change(store, caller, namespace, name).await?;
    for binding in bindings::of_instance(store, namespace, name).await? {
        bindings::abandon_object(store, &binding).await?;
    }
    match store.delete(ServiceInstance::KIND, namespace, name, None).await {
        Ok(_) | Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(store_error(e)),
    }
    // Removing the finalizers of an object being deleted deletes it.
    for _ in 0..5 {
        let Some(mut instance) = get::<ServiceInstance>(store, namespace, name).await? else { break };
        instance.metadata.finalizers.retain(|f| f != FINALIZER);
        match store_update(store, &instance).await {
            Ok(_) | Err(StoreError::NotFound { .. }) => break,
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(store_error(e)),
        }
    }
    gov.release(namespace, name).await.map_err(refused)?;
    record_or_warn(gov.db(), AuditRecord::by(caller, "instance.abandon", namespace, name, Value::Null)).await;
    tracing::warn!(
        user = %caller.username, %namespace, instance = %name,
        "instance abandoned: whatever the broker holds for it is left there"
    );
    Ok(())
}

/// Bindings are namespaced beside their instance.
pub fn binding_ref(binding: &ServiceBinding) -> ObjectRef {
    ObjectRef { namespace: binding.metadata.namespace.clone().unwrap_or_default(), name: binding.metadata.name.clone() }
}
