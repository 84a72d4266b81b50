use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{EmptyState, PageHeader};

#[component]
pub fn InstancesPage() -> impl IntoView {
    view! {
        <Title text="Instances" />
        <PageHeader title="Instances" subtitle="Service instances of your teams, with their live status." />
        <EmptyState title="No instances yet">
            <p>"Pick a service in the " <a class="text-indigo-600 underline dark:text-indigo-400" href="/catalog">"Catalog"</a> " and request an instance; it will show up here."</p>
        </EmptyState>
    }
}
