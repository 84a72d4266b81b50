use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::layout::{EmptyState, PageHeader};

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    view! {
        <Title text="Approvals" />
        <PageHeader title="Approvals" subtitle="Requests that policy holds for an admin's decision." />
        <EmptyState title="Nothing waiting for approval">
            <p>"When a request needs approval under the platform's policies, it waits here until a team admin or platform admin decides."</p>
        </EmptyState>
    }
}
