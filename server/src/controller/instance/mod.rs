//! The ServiceInstance reconciler: a pure state machine (`decide`, `outcome`) and the runner
//! that performs its one effect per pass.

pub mod decide;
pub mod outcome;
pub mod run;
