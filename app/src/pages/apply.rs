//! Apply a manifest: paste the YAML of a ServiceInstance or ServiceBinding (as kept in git or
//! downloaded from an instance page) and the portal applies it with the same checks kubectl gets.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{Rejection, Submitted, manifests::ManifestApplied};
use crate::components::layout::PageHeader;
use crate::components::ui::{BUTTON_PRIMARY, CARD, ErrorBox, LINK, MUTED};

#[server(endpoint = "apply_manifest")]
pub async fn apply_manifest(manifest: String) -> Result<Submitted<Vec<ManifestApplied>>, ServerFnError> {
    let (portal, caller) = crate::port::portal_and_caller()?;
    match portal.apply_manifest(&caller, manifest).await {
        Ok(done) => Ok(Submitted::Done(done)),
        Err(e) => e.into_submitted(),
    }
}

const EXAMPLE: &str = "apiVersion: servicecatalog.k8s.io/v1beta1
kind: ServiceInstance
metadata:
  name: analytics
  namespace: team-a
spec:
  clusterServiceClassExternalName: hdfs
  clusterServicePlanExternalName: shared
  parameters:
    namespaceQuota: 10000
    storageSpaceQuota: 2048";

#[component]
pub fn ApplyPage() -> impl IntoView {
    let manifest = RwSignal::new(String::new());
    let apply = ServerAction::<ApplyManifest>::new();
    let result = apply.value();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        apply.dispatch(ApplyManifest { manifest: manifest.get_untracked() });
    };
    view! {
        <Title text="Apply a manifest" />
        <PageHeader title="Apply a manifest" subtitle="Paste the YAML of a ServiceInstance or ServiceBinding; it gets the same checks as kubectl apply." />
        <form class=format!("{CARD} p-4 space-y-3") on:submit=submit data-testid="apply-form">
            <label class="block text-sm font-medium" for="manifest">"Manifest (YAML or JSON; several documents separated by ---)"</label>
            <textarea id="manifest" name="manifest" rows="16" spellcheck="false" placeholder=EXAMPLE
                class="block w-full rounded-md border border-zinc-300 bg-white p-2 font-mono text-xs dark:border-zinc-700 dark:bg-zinc-950"
                prop:value=move || manifest.get()
                on:input=move |ev| manifest.set(event_target_value(&ev))
                data-testid="manifest-input"></textarea>
            <button type="submit" class=BUTTON_PRIMARY disabled=move || apply.pending().get() || manifest.with(|m| m.trim().is_empty())
                data-testid="apply-submit">
                {move || if apply.pending().get() { "Applying…" } else { "Apply" }}
            </button>
        </form>
        <div aria-live="polite" class="mt-4" data-testid="apply-result">
            {move || result.get().map(|r| match r {
                Ok(Submitted::Done(applied)) => view! { <AppliedList applied /> }.into_any(),
                Ok(Submitted::Rejected(rejection)) => view! { <Refused rejection /> }.into_any(),
                Err(e) => view! { <ErrorBox title="The manifest could not be applied" message=e.to_string() /> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn AppliedList(applied: Vec<ManifestApplied>) -> impl IntoView {
    view! {
        <ul class=format!("{CARD} divide-y divide-zinc-200 dark:divide-zinc-800")>
            {applied.into_iter().map(|a| {
                let href = (a.kind == "ServiceInstance").then(|| format!("/instances/{}/{}", a.namespace, a.name));
                let label = format!("{} {}/{}", a.kind, a.namespace, a.name);
                view! {
                    <li class="flex items-center justify-between p-3 text-sm" data-testid="applied-row">
                        {match href {
                            Some(href) => view! { <a class=LINK href=href>{label}</a> }.into_any(),
                            None => view! { <span class="font-medium">{label}</span> }.into_any(),
                        }}
                        <span class=MUTED>{a.action}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[component]
fn Refused(rejection: Rejection) -> impl IntoView {
    view! {
        <div class="rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200"
            role="alert" data-testid="apply-error">
            <p class="font-medium">{rejection.message}</p>
            <ul class="mt-2 list-disc pl-5">
                {rejection.inputs.into_iter().map(|(field, message)| view! {
                    <li><span class="font-mono">{field}</span>": "{message}</li>
                }).collect_view()}
            </ul>
        </div>
    }
}
