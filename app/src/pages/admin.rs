use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{EmptyState, PageHeader};

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <PageHeader title="Admin" subtitle="Brokers, teams, quotas, plan visibility and the audit log." />
        <EmptyState title="No brokers registered">
            <p>"Register an Open Service Broker to fill the catalog."</p>
        </EmptyState>
    }
}
