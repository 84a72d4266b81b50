//! What every request handler can reach.

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    auth::{Accounts, LoginLimiter},
    broker::BrokerDb,
    config::Config,
    db::Database,
    governance::Governance,
    store::ResourceStore,
};

/// Cloned for every request by each layer and handler that takes it: one shared allocation, so
/// a clone is one reference count, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

impl AppState {
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

pub struct Parts {
    pub config: Arc<Config>,
    pub db: Database,
    /// The catalog's objects (instances, bindings, brokers, classes, plans, Secrets).
    pub store: Arc<dyn ResourceStore>,
    /// The built-in broker's own database, when the portal hosts it.
    pub builtin_broker: Option<BrokerDb>,
    pub leptos_options: LeptosOptions,
    /// People, teams, memberships and API tokens.
    pub accounts: Accounts,
    /// Sign-in attempts per client address and username.
    pub login_limiter: Arc<LoginLimiter>,
    /// Visibility, approvals, quotas, audit (portal-only records in `db`).
    pub governance: Governance,
    /// Turns `true` when the server starts shutting down, so endless responses (the live
    /// stream) end and graceful shutdown can finish.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
