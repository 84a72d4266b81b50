//! What the API checks before an instance or binding is written, beyond its shape: the class
//! and plan exist and are offered, the parameters fit the plan's schema (the same validator, and
//! so the same messages, as the portal's form), a binding's instance exists and is bindable; and
//! who asked (`spec.userInfo`, as upstream's API server stamped it).

use app::model::{Kind, validate_dns1123_label, validate_dns1123_subdomain};
use serde_json::{Map, Value, json};

use super::{Ctx, status::ApiError, status::ApiResult};
use crate::{
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

/// Runs every check; `object` gets the caller's `userInfo` when its spec is new or changed.
pub async fn admit(
    ctx: &Ctx,
    op: Operation,
    kind: Kind,
    object: &mut Value,
    existing: Option<&Value>,
) -> ApiResult<()> {
    let name = text(object, "/metadata/name").unwrap_or_default().to_string();
    let mut causes = Vec::new();
    if op == Operation::Create {
        check_name(kind, object, &mut causes);
    }
    let spec_changed = existing.is_none_or(|e| spec_without_user(e) != spec_without_user(object));
    if spec_changed {
        match kind {
            Kind::ServiceInstance => instance(ctx, object, existing, &mut causes).await?,
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
    policy(ctx, op, kind, object, existing).await
}

/// Quotas, plan visibility and approvals (issue 7) plug in here.
/// MERGE(gov): call the policy admission function on instance creates and spec updates, and
/// map a refusal to `ApiError::forbidden`/`ApiError::invalid` (a pending approval to 202).
async fn policy(_ctx: &Ctx, _op: Operation, _kind: Kind, _object: &Value, _existing: Option<&Value>) -> ApiResult<()> {
    Ok(())
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
) -> ApiResult<()> {
    let namespace = text(object, "/metadata/namespace").unwrap_or_default().to_string();
    let spec = object.get("spec").cloned().unwrap_or(json!({}));
    if let Some(existing) = existing
        && text(existing, "/metadata/deletionTimestamp").is_some()
    {
        causes.push(cause("spec", "Forbidden: the instance is being deleted; its spec cannot change"));
        return Ok(());
    }
    let Some((class, plan)) = resolve_plan(ctx, &namespace, &spec, causes).await? else { return Ok(()) };
    let parameters = effective_parameters(ctx, &namespace, &spec, causes).await?;
    let Some(existing) = existing else {
        check_parameters(plan.pointer("/spec/instanceCreateParameterSchema"), &parameters, causes);
        return Ok(());
    };
    let before = existing.get("spec").cloned().unwrap_or(json!({}));
    if let Some(choice) = plan_choice(&before)
        && plan_choice(&spec)
            .is_some_and(|now| now.class_field != choice.class_field || now.class_value != choice.class_value)
    {
        causes
            .push(cause(&format!("spec.{}", choice.class_field), "Forbidden: the class of an instance cannot change"));
        return Ok(());
    }
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
            let old = effective_parameters(ctx, &namespace, &before, &mut Vec::new()).await?;
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
    Ok(())
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
