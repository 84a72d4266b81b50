//! Reconcilers that drive brokers from the store's objects: broker relists, instances, bindings.

pub mod conditions;
pub mod instance;
pub mod queue;
pub mod timing;
