//! The catalog's tiles and class pages, read from the class, plan and broker objects the
//! controller writes. The tiles are kept in memory and rebuilt only after one of those kinds
//! changed (a watch marks them stale), so the catalog page does not re-read thousands of
//! objects on every request. The views teams get under visibility rules are kept too, one per
//! (catalog build, rules, teams): a request reads the rules, then reuses the filtered view.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use app::{
    api::catalog::{BrokerBrief, CatalogView, ClassDetail, ClassTile, PlanInfo, format_costs},
    api::governance::Visibility,
    model::{ClusterServiceBroker, ClusterServiceClass, ClusterServicePlan, Kind, condition, validate_dns1123_label},
    port::PortError,
};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::Mutex;

use super::access::{get, list};
use crate::store::{ListQuery, ResourceStore, WatchQuery};

const CATALOG_KINDS: [Kind; 3] = [Kind::ClusterServiceBroker, Kind::ClusterServiceClass, Kind::ClusterServicePlan];

/// The catalog view, rebuilt when the catalog's objects change.
pub struct CatalogCache {
    /// Bumped by the watchers on every change of a catalog kind.
    changes: Arc<AtomicU64>,
    built: Mutex<Option<(u64, Arc<CatalogView>)>>,
    filtered: std::sync::Mutex<Filtered>,
}

/// The views of one catalog build under one set of visibility rules, per set of teams.
#[derive(Default)]
struct Filtered {
    view: Option<Arc<CatalogView>>,
    rules: Vec<Visibility>,
    by_teams: HashMap<Vec<String>, Arc<CatalogView>>,
}

/// Team sets remembered per catalog build and rules (past it, they start over).
const FILTERED_VIEWS: usize = 1024;

impl CatalogCache {
    pub fn start(store: Arc<dyn ResourceStore>) -> Self {
        let changes = Arc::new(AtomicU64::new(1));
        for kind in CATALOG_KINDS {
            let store = store.clone();
            let changes = changes.clone();
            tokio::spawn(async move { follow(store, kind, changes).await });
        }
        Self { changes, built: Mutex::new(None), filtered: std::sync::Mutex::default() }
    }

    /// `view` as callers of `teams` see it under `rules`: built by `filter` the first time, then
    /// reused until the catalog is rebuilt or the rules differ. The rules are compared, not
    /// versioned, so a change made by another replica counts as soon as it is read.
    pub fn filtered(
        &self,
        view: &Arc<CatalogView>,
        rules: &[Visibility],
        teams: &[String],
        filter: impl FnOnce() -> CatalogView,
    ) -> Arc<CatalogView> {
        let mut key = teams.to_vec();
        key.sort();
        key.dedup();
        let current = |f: &Filtered| f.view.as_ref().is_some_and(|v| Arc::ptr_eq(v, view)) && f.rules == rules;
        {
            let filtered = self.filtered.lock().unwrap_or_else(|e| e.into_inner());
            if current(&filtered)
                && let Some(found) = filtered.by_teams.get(&key)
            {
                return found.clone();
            }
        }
        // Filtered outside the lock; a concurrent caller may do the same work once.
        let made = Arc::new(filter());
        let mut filtered = self.filtered.lock().unwrap_or_else(|e| e.into_inner());
        if !current(&filtered) {
            *filtered = Filtered { view: Some(view.clone()), rules: rules.to_vec(), by_teams: HashMap::new() };
        }
        if filtered.by_teams.len() >= FILTERED_VIEWS {
            filtered.by_teams.clear();
        }
        filtered.by_teams.insert(key, made.clone());
        made
    }

    pub async fn view(&self, store: &dyn ResourceStore) -> Result<Arc<CatalogView>, PortError> {
        let mut built = self.built.lock().await;
        // Read the counter before the store: a change during the build leaves it stale.
        let now = self.changes.load(Ordering::SeqCst);
        if let Some((at, view)) = built.as_ref()
            && *at == now
        {
            return Ok(view.clone());
        }
        let view = Arc::new(catalog_view(store).await?);
        *built = Some((now, view.clone()));
        Ok(view)
    }
}

/// Marks the cache stale on every change of `kind`; restarts the watch when it ends or fails.
async fn follow(store: Arc<dyn ResourceStore>, kind: Kind, changes: Arc<AtomicU64>) {
    loop {
        let query = WatchQuery { kind: Some(kind), ..WatchQuery::default() };
        match store.watch(query).await {
            Ok(mut events) => {
                while let Some(event) = events.next().await {
                    changes.fetch_add(1, Ordering::SeqCst);
                    if event.is_err() {
                        break;
                    }
                }
            }
            Err(e) => tracing::warn!(%kind, error = %e, "catalog cache cannot watch the store"),
        }
        changes.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

fn meta_str(metadata: Option<&Value>, key: &str) -> String {
    metadata.and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn tile(class: &ClusterServiceClass, plans: &[&ClusterServicePlan], slug: String) -> ClassTile {
    let spec = &class.spec.common;
    let md = spec.external_metadata.as_ref();
    let display = meta_str(md, "displayName");
    ClassTile {
        name: class.metadata.name.clone(),
        slug,
        external_name: spec.external_name.clone(),
        display_name: if display.is_empty() { spec.external_name.clone() } else { display },
        provider: meta_str(md, "providerDisplayName"),
        description: spec.description.clone(),
        image_url: meta_str(md, "imageUrl"),
        tags: spec.tags.clone(),
        broker: class.spec.cluster_service_broker_name.clone(),
        plans: plans.iter().filter(|p| !p.status.removed_from_broker_catalog).count(),
        has_free_plan: plans.iter().any(|p| p.spec.common.free && !p.status.removed_from_broker_catalog),
        removed: class.status.removed_from_broker_catalog,
        search_text: String::new(),
    }
}

fn plan_info(class: &ClusterServiceClass, plan: &ClusterServicePlan) -> PlanInfo {
    let spec = &plan.spec.common;
    let md = spec.external_metadata.as_ref();
    let display = meta_str(md, "displayName");
    let bullets = md
        .and_then(|m| m.get("bullets"))
        .and_then(Value::as_array)
        .map(|b| b.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let maintenance = spec
        .maintenance_info
        .as_ref()
        .map(|m| match &m.description {
            Some(d) if !d.is_empty() => format!("{} — {d}", m.version),
            _ => m.version.clone(),
        })
        .unwrap_or_default();
    PlanInfo {
        name: plan.metadata.name.clone(),
        external_name: spec.external_name.clone(),
        display_name: if display.is_empty() { spec.external_name.clone() } else { display },
        description: spec.description.clone(),
        bullets,
        costs: md.and_then(|m| m.get("costs")).map(format_costs).unwrap_or_default(),
        free: spec.free,
        bindable: spec.bindable.unwrap_or(class.spec.common.bindable),
        updatable: spec.plan_updatable.unwrap_or(class.spec.common.plan_updatable),
        create_schema: spec.instance_create_parameter_schema.clone(),
        update_schema: spec.instance_update_parameter_schema.clone(),
        binding_schema: spec.service_binding_create_parameter_schema.clone(),
        problems: plan.status.problems.clone(),
        removed: plan.status.removed_from_broker_catalog,
        maintenance,
    }
}

/// Plans in the order a person compares them: free ones first, then by name.
fn plan_order(a: &ClusterServicePlan, b: &ClusterServicePlan) -> std::cmp::Ordering {
    (!a.spec.common.free, &a.spec.common.external_name).cmp(&(!b.spec.common.free, &b.spec.common.external_name))
}

/// Plans grouped by the object name of their class, in a stable order.
fn plans_by_class(plans: &[ClusterServicePlan]) -> HashMap<&str, Vec<&ClusterServicePlan>> {
    let mut by_class: HashMap<&str, Vec<&ClusterServicePlan>> = HashMap::new();
    for plan in plans {
        by_class.entry(plan.spec.cluster_service_class_ref.name.as_str()).or_default().push(plan);
    }
    for list in by_class.values_mut() {
        list.sort_by(|a, b| plan_order(a, b));
    }
    by_class
}

/// External names used by exactly one class (and valid URL segments) become the URL; the rest
/// use the object name.
fn slugs(classes: &[ClusterServiceClass]) -> HashMap<String, String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for c in classes {
        *count.entry(c.spec.common.external_name.as_str()).or_default() += 1;
    }
    let object_names: std::collections::HashSet<&str> = classes.iter().map(|c| c.metadata.name.as_str()).collect();
    classes
        .iter()
        .map(|c| {
            let ext = c.spec.common.external_name.as_str();
            let unique = count.get(ext) == Some(&1)
                && validate_dns1123_label(ext).is_ok()
                && (!object_names.contains(ext) || ext == c.metadata.name);
            (c.metadata.name.clone(), if unique { ext.to_string() } else { c.metadata.name.clone() })
        })
        .collect()
}

fn broker_brief(broker: &ClusterServiceBroker) -> BrokerBrief {
    let ready = condition::find(&broker.status.conditions, condition::READY);
    BrokerBrief {
        name: broker.metadata.name.clone(),
        ready: ready.is_some_and(|c| c.status == app::model::ConditionStatus::True),
        message: ready
            .map(|c| if c.message.is_empty() { c.reason.clone() } else { c.message.clone() })
            .unwrap_or_else(|| "Its catalog has not been fetched yet.".into()),
    }
}

pub async fn catalog_view(store: &dyn ResourceStore) -> Result<CatalogView, PortError> {
    let all = ListQuery::default();
    let (brokers, _) = list::<ClusterServiceBroker>(store, &all).await?;
    let (classes, _) = list::<ClusterServiceClass>(store, &all).await?;
    let (plans, _) = list::<ClusterServicePlan>(store, &all).await?;
    let by_class = plans_by_class(&plans);
    let slugs = slugs(&classes);
    let mut tiles: Vec<ClassTile> = classes
        .iter()
        .map(|c| {
            let plans = by_class.get(c.metadata.name.as_str()).map(Vec::as_slice).unwrap_or_default();
            tile(c, plans, slugs.get(&c.metadata.name).cloned().unwrap_or_default())
        })
        .collect();
    tiles.sort_by_key(|a| (a.removed, a.display_name.to_lowercase()));
    let mut brokers: Vec<BrokerBrief> = brokers.iter().map(broker_brief).collect();
    brokers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(CatalogView::new(tiles, brokers))
}

/// Finds a class by object name, else by external name (preferring one still offered).
pub async fn find_class(store: &dyn ResourceStore, key: &str) -> Result<Option<ClusterServiceClass>, PortError> {
    if let Some(class) = get::<ClusterServiceClass>(store, "", key).await? {
        return Ok(Some(class));
    }
    let (classes, _) = list::<ClusterServiceClass>(store, &ListQuery::default()).await?;
    let mut matching: Vec<ClusterServiceClass> =
        classes.into_iter().filter(|c| c.spec.common.external_name == key).collect();
    matching.sort_by_key(|c| c.status.removed_from_broker_catalog);
    Ok(matching.into_iter().next())
}

/// The plans of a class (object name).
pub async fn class_plans(store: &dyn ResourceStore, class: &str) -> Result<Vec<ClusterServicePlan>, PortError> {
    let (plans, _) = list::<ClusterServicePlan>(store, &ListQuery::default()).await?;
    let mut plans: Vec<ClusterServicePlan> =
        plans.into_iter().filter(|p| p.spec.cluster_service_class_ref.name == class).collect();
    plans.sort_by(plan_order);
    Ok(plans)
}

pub fn detail(class: &ClusterServiceClass, plans: &[ClusterServicePlan], slug: String) -> ClassDetail {
    let refs: Vec<&ClusterServicePlan> = plans.iter().collect();
    let md = class.spec.common.external_metadata.as_ref();
    ClassDetail {
        tile: tile(class, &refs, slug),
        long_description: meta_str(md, "longDescription"),
        documentation_url: meta_str(md, "documentationUrl"),
        support_url: meta_str(md, "supportUrl"),
        bindable: class.spec.common.bindable,
        plan_updatable: class.spec.common.plan_updatable,
        plans: plans.iter().map(|p| plan_info(class, p)).collect(),
    }
}

pub async fn class_detail(store: &dyn ResourceStore, key: &str) -> Result<Option<ClassDetail>, PortError> {
    let Some(class) = find_class(store, key).await? else { return Ok(None) };
    let plans = class_plans(store, &class.metadata.name).await?;
    // The slug as the catalog would link it.
    let (classes, _) = list::<ClusterServiceClass>(store, &ListQuery::default()).await?;
    let slug = slugs(&classes).remove(&class.metadata.name).unwrap_or_else(|| class.metadata.name.clone());
    Ok(Some(detail(&class, &plans, slug)))
}
