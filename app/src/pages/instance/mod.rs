//! One instance: status (live), conditions and their history, operations, parameters, the
//! dashboard link, changes (parameters, plan, delete, abandon) and bindings with credentials.

mod bindings;
mod change;
mod credentials;
mod server_fns;
mod summary;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

pub use server_fns::*;
pub use summary::ConditionTable;

use crate::api::governance::{ApprovalRequest, ApprovalState};
use crate::api::instances::{InstancePage as PageData, resource_version};
use crate::components::class_icon::ClassIcon;
use crate::components::layout::{Breadcrumbs, EmptyState, PageHeader};
use crate::components::live::{LiveEvent, LiveState, Stream, follow};
use crate::components::status::StatusBadge;
use crate::components::ui::{ErrorBox, LINK, Loading};
use crate::model::{Phase, ServiceBinding, ServiceInstance, StatusLine, instance_status};
use crate::pages::forbidden::{Forbidden, forbidden_reason};
use crate::pages::not_found::NotFound;

/// The page's live state: the instance and its bindings as the last events left them.
#[derive(Clone, Copy)]
pub struct Live {
    pub instance: RwSignal<ServiceInstance>,
    pub bindings: RwSignal<Vec<ServiceBinding>>,
    /// The instance was deleted while the page was open.
    pub gone: RwSignal<bool>,
    /// The latest request for it that waited for approval (and its decision, live).
    pub approval: RwSignal<Option<ApprovalRequest>>,
}

fn newer(current: &Option<String>, incoming: &Option<String>) -> bool {
    resource_version(incoming) >= resource_version(current)
}

impl Live {
    fn apply(&self, event: LiveEvent) {
        match event {
            LiveEvent::Instance(i) => {
                if newer(
                    &self.instance.with_untracked(|c| c.metadata.resource_version.clone()),
                    &i.metadata.resource_version,
                ) {
                    self.instance.set(*i);
                    self.gone.set(false);
                }
            }
            LiveEvent::Binding(b) => {
                self.bindings.update(|list| match list.iter_mut().find(|x| x.metadata.name == b.metadata.name) {
                    Some(existing) if newer(&existing.metadata.resource_version, &b.metadata.resource_version) => {
                        *existing = *b
                    }
                    Some(_) => {}
                    None => {
                        list.push(*b);
                        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
                    }
                })
            }
            LiveEvent::InstanceDeleted { .. } => self.gone.set(true),
            LiveEvent::BindingDeleted { name, .. } => {
                self.bindings.update(|list| list.retain(|b| b.metadata.name != name))
            }
            LiveEvent::Reset => self.bindings.set(Vec::new()),
            LiveEvent::Approval(request) => self.approval.set(Some(*request)),
            // The list's stream only.
            LiveEvent::Row(_) => {}
        }
    }
}

#[component]
pub fn InstancePage() -> impl IntoView {
    let params = use_params_map();
    let key = move || {
        let p = params.read();
        (p.get("namespace").unwrap_or_default(), p.get("name").unwrap_or_default())
    };
    let data = Resource::new(key, |(ns, name)| load_instance(ns, name));
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(page)) => view! { <InstanceView page /> }.into_any(),
                    Ok(None) => view! { <NotFound /> }.into_any(),
                    Err(e) if forbidden_reason(&e).is_some() => {
                        view! { <Forbidden reason=forbidden_reason(&e).unwrap_or_default() /> }.into_any()
                    }
                    Err(e) => view! { <ErrorBox title="This instance could not be loaded" message=e.to_string() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn InstanceView(page: PageData) -> impl IntoView {
    let namespace = page.instance.metadata.namespace.clone().unwrap_or_default();
    let name = page.instance.metadata.name.clone();
    let instance = RwSignal::new(page.instance.clone());
    let bindings = RwSignal::new(page.bindings.clone());
    let gone = RwSignal::new(false);
    let approval = RwSignal::new(page.approval.clone());
    let live = Live { instance, bindings, gone, approval };
    let live_state = follow(Stream::instance(&namespace, &name), page.resource_version, move |event| live.apply(event));
    provide_context(live);

    let page = StoredValue::new(page);
    let class_display = page.with_value(|p| {
        p.class
            .as_ref()
            .map(|c| c.tile.display_name.clone())
            .unwrap_or_else(|| p.instance.spec.class_external_name().unwrap_or("Unknown service").to_string())
    });
    let image = page.with_value(|p| p.class.as_ref().map(|c| c.tile.image_url.clone()).unwrap_or_default());
    // An instance not created yet (held for approval, or refused) has no uid.
    let exists = Memo::new(move |_| instance.with(|i| i.metadata.uid.is_some()));
    let status = Signal::derive(move || {
        if exists.get() {
            return instance.with(instance_status);
        }
        let (phase, reason, message) = match approval.get() {
            Some(r) if r.state == ApprovalState::Rejected => (Phase::Failed, "Rejected".to_string(), r.comment),
            Some(r) if r.state == ApprovalState::Failed => (Phase::Failed, "ApprovedButFailed".to_string(), r.comment),
            Some(r) if r.state == ApprovalState::Approved => (Phase::Provisioning, "Approved".to_string(), r.comment),
            _ => (Phase::PendingApproval, String::new(), String::new()),
        };
        StatusLine { phase, reason, message, deleting: false }
    });

    view! {
        <Title text=format!("{name} · {namespace}") />
        <Breadcrumbs items=vec![
            ("Instances".into(), Some("/instances".into())),
            (namespace.clone(), Some(format!("/instances?team={namespace}"))),
            (name.clone(), None),
        ] />
        <div class="mb-2 flex items-start gap-4">
            <ClassIcon image_url=image name=class_display.clone() size="h-12 w-12" />
            <div class="min-w-0 flex-1">
                <PageHeader title=name.clone() subtitle=format!("{class_display} in team {namespace}")>
                    <LiveIndicator state=live_state />
                    <Show when=move || !gone.get() fallback=|| view! { <span class="text-xs font-medium text-zinc-500">"Deleted"</span> }>
                        <StatusBadge status />
                    </Show>
                    <ManifestLinks plural="serviceinstances" namespace=namespace.clone() name=name.clone() />
                </PageHeader>
            </div>
        </div>
        <Show
            when=move || !gone.get()
            fallback=|| view! {
                <EmptyState title="This instance has been deleted">
                    <p>"The broker let go of it and the portal removed it. Back to " <a class=LINK href="/instances">"Instances"</a> "."</p>
                </EmptyState>
            }
        >
            <ApprovalPanel />
            <Show when=move || exists.get()>
                <div class="space-y-6">
                    <summary::StatusPanel page />
                    <change::Changes page />
                    <bindings::Bindings page />
                    <summary::Details page />
                    <summary::Timeline />
                </div>
            </Show>
        </Show>
    }
}

/// "Live" / "Reconnecting…": whether the page is following changes right now.
#[component]
fn LiveIndicator(state: ReadSignal<LiveState>) -> impl IntoView {
    view! {
        <span class="inline-flex items-center gap-1.5 text-xs text-zinc-500 dark:text-zinc-400" data-live=move || format!("{:?}", state.get()).to_lowercase()>
            <span class=move || match state.get() {
                LiveState::Live => "h-2 w-2 rounded-full bg-emerald-500",
                LiveState::Connecting => "h-2 w-2 rounded-full bg-zinc-400",
                LiveState::Reconnecting => "h-2 w-2 animate-pulse rounded-full bg-amber-500",
            } aria-hidden="true"></span>
            {move || match state.get() {
                LiveState::Live => "Live",
                LiveState::Connecting => "Connecting…",
                LiveState::Reconnecting => "Reconnecting…",
            }}
        </span>
    }
}

/// View and download an object's manifest (served outside the app's router: full navigations).
#[component]
pub fn ManifestLinks(plural: &'static str, namespace: String, name: String) -> impl IntoView {
    use crate::api::manifests::manifest_url;
    let view_url = manifest_url(plural, &namespace, &name, false);
    let download_url = manifest_url(plural, &namespace, &name, true);
    view! {
        <span class="inline-flex items-center gap-2 text-xs">
            <a class=LINK href=view_url rel="external" target="_blank" data-testid="manifest-view">"Manifest"</a>
            <a class=LINK href=download_url rel="external" download=format!("{name}.yaml") data-testid="manifest-download">"Download YAML"</a>
        </span>
    }
}

/// A request for this instance that waits for approval, or the decision on it — live.
#[component]
fn ApprovalPanel() -> impl IntoView {
    let live = expect_context::<Live>();
    let exists = move || live.instance.with(|i| i.metadata.uid.is_some());
    move || {
        let request = live.approval.get()?;
        // Once the instance exists, a decided request is history: its status says the rest.
        if exists() && request.state != ApprovalState::Pending {
            return None;
        }
        let (title, tone) = match request.state {
            ApprovalState::Pending => (
                "Waiting for approval",
                "border-amber-200 bg-amber-50 text-amber-900 dark:border-amber-900 dark:bg-amber-950/30 dark:text-amber-200",
            ),
            ApprovalState::Approved => (
                "Approved",
                "border-emerald-200 bg-emerald-50 text-emerald-900 dark:border-emerald-900 dark:bg-emerald-950/30 dark:text-emerald-200",
            ),
            ApprovalState::Rejected => (
                "Rejected",
                "border-red-200 bg-red-50 text-red-900 dark:border-red-900 dark:bg-red-950/30 dark:text-red-200",
            ),
            ApprovalState::Failed => (
                "Approved, but it could not be done",
                "border-red-200 bg-red-50 text-red-900 dark:border-red-900 dark:bg-red-950/30 dark:text-red-200",
            ),
        };
        let what = crate::pages::approvals::op_word(request.operation);
        Some(view! {
            <section class=format!("mb-6 rounded-lg border p-5 {tone}") data-testid="approval-panel" data-state=request.state.as_str() aria-live="polite">
                <h2 class="text-base font-semibold">{format!("{title}: {what} request #{}", request.id)}</h2>
                {(request.state == ApprovalState::Pending).then(|| view! {
                    <p class="mt-1 text-sm">{format!("Why: {}. A team admin or platform admin decides on the ", request.reason)}<a class=LINK href="/approvals">"Approvals"</a>" page; this page changes as soon as they do."</p>
                })}
                {request.decided_by.clone().map(|by| view! {
                    <p class="mt-1 text-sm" data-testid="approval-decision">{format!("Decided by {by}")}{(!request.comment.is_empty()).then(|| format!(": \u{201c}{}\u{201d}", request.comment))}</p>
                })}
                <div class="mt-3 grid gap-6 md:grid-cols-2">
                    <div><crate::pages::approvals::RequestParameters request=request.clone() /></div>
                    <div><crate::pages::approvals::QuotaImpact lines=request.quota.clone() /></div>
                </div>
            </section>
        })
    }
}
