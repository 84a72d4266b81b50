//! Leptos widgets (stub while the model is built).
use leptos::prelude::*;
#[component]
pub fn SchemaForm() -> impl IntoView {}
