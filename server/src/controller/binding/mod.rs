//! The ServiceBinding reconciler: bind (sync or async), credentials into the binding's Secret
//! with `secretTransforms` applied, unbind, orphan mitigation.

pub mod decide;
pub mod run;
pub mod secret;
