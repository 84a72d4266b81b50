//! The built-in broker's memory: instances, bindings, their operations, the broker-wide fault and a
//! short log of the requests received. Operations complete lazily: whoever reads an instance or a
//! binding first "settles" it, applying what finished since.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use serde::Serialize;
use serde_json::{Map, Value};

use super::faults::{Endpoint, Fault, FaultRule};
use crate::osb::{catalog::MaintenanceInfo, wire::OperationState};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Provision,
    Update,
    Deprovision,
    Bind,
    Unbind,
}

/// How an operation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Succeed,
    Fail,
    Never,
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub id: String,
    pub kind: OpKind,
    pub started: Instant,
    pub delay: Duration,
    pub ending: Ending,
}

impl Operation {
    pub fn new(kind: OpKind, delay: Duration, ending: Ending) -> Self {
        let id = format!("{}-{}", op_prefix(kind), uuid::Uuid::new_v4().simple());
        Self { id, kind, started: Instant::now(), delay, ending }
    }

    pub fn state(&self, now: Instant) -> OperationState {
        if self.ending == Ending::Never || now.duration_since(self.started) < self.delay {
            OperationState::InProgress
        } else if self.ending == Ending::Fail {
            OperationState::Failed
        } else {
            OperationState::Succeeded
        }
    }

    pub fn description(&self, state: OperationState) -> String {
        let what = op_prefix(self.kind);
        match state {
            OperationState::InProgress => format!("{what} in progress"),
            OperationState::Succeeded => format!("{what} succeeded"),
            OperationState::Failed => format!("{what} failed: the cluster refused the request (injected fault)"),
        }
    }
}

fn op_prefix(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Provision => "provision",
        OpKind::Update => "update",
        OpKind::Deprovision => "deprovision",
        OpKind::Bind => "bind",
        OpKind::Unbind => "unbind",
    }
}

/// A finished operation, kept for `last_operation`.
#[derive(Clone, Debug)]
pub struct Finished {
    pub id: String,
    pub state: OperationState,
    pub description: String,
}

/// An update waiting for its operation to succeed.
#[derive(Clone, Debug)]
pub struct PendingUpdate {
    pub plan_id: String,
    pub parameters: Map<String, Value>,
    pub maintenance_info: Option<MaintenanceInfo>,
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub service_id: String,
    pub plan_id: String,
    /// As sent, without the broker's own `_…` keys.
    pub parameters: Map<String, Value>,
    pub context: Option<Value>,
    pub maintenance_info: Option<MaintenanceInfo>,
    /// True once a provision has succeeded.
    pub ready: bool,
    pub op: Option<Operation>,
    pub pending_update: Option<PendingUpdate>,
    pub last: Option<Finished>,
}

#[derive(Clone, Debug)]
pub struct Binding {
    pub instance_id: String,
    pub service_id: String,
    pub plan_id: String,
    pub parameters: Map<String, Value>,
    pub credentials: Map<String, Value>,
    pub ready: bool,
    pub op: Option<Operation>,
    pub last: Option<Finished>,
}

/// What a broker saw of one request (for tests and the admin page; never credentials).
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    pub api_version: Option<String>,
    pub request_identity: Option<String>,
    pub originating_platform: Option<String>,
    pub originating_user: Option<String>,
    pub originating_uid: Option<String>,
    pub originating_groups: Vec<String>,
    /// `basic`, `bearer`, or absent.
    pub auth_scheme: Option<String>,
}

const MAX_RECORDS: usize = 200;

#[derive(Default)]
pub struct State {
    pub instances: HashMap<String, Instance>,
    pub bindings: HashMap<String, Binding>,
    pub rule: Option<FaultRule>,
    pub requests: VecDeque<RequestRecord>,
}

impl State {
    pub fn record(&mut self, record: RequestRecord) {
        if self.requests.len() == MAX_RECORDS {
            self.requests.pop_front();
        }
        self.requests.push_back(record);
    }

    /// The broker-wide fault for this endpoint, counting it down if it is limited.
    pub fn take_fault(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let rule = self.rule.as_mut().filter(|r| r.applies_to(endpoint))?;
        let fault = rule.fault;
        if let Some(times) = rule.times.as_mut() {
            *times = times.saturating_sub(1);
            if *times == 0 {
                self.rule = None;
            }
        }
        Some(fault)
    }

    /// Applies a finished operation of the instance; removes the instance once deprovisioned.
    pub fn settle_instance(&mut self, id: &str, now: Instant) {
        let Some(instance) = self.instances.get_mut(id) else { return };
        let Some(op) = instance.op.clone() else { return };
        let state = op.state(now);
        if state == OperationState::InProgress {
            return;
        }
        instance.op = None;
        instance.last = Some(Finished { id: op.id.clone(), state, description: op.description(state) });
        let succeeded = state == OperationState::Succeeded;
        match op.kind {
            OpKind::Provision => instance.ready = succeeded,
            OpKind::Update => {
                if let (true, Some(update)) = (succeeded, instance.pending_update.take()) {
                    instance.plan_id = update.plan_id;
                    instance.parameters = update.parameters;
                    if update.maintenance_info.is_some() {
                        instance.maintenance_info = update.maintenance_info;
                    }
                }
                instance.pending_update = None;
            }
            OpKind::Deprovision if succeeded => {
                self.instances.remove(id);
                self.bindings.retain(|_, b| b.instance_id != id);
            }
            _ => {}
        }
    }

    /// Applies a finished operation of the binding; removes the binding once unbound.
    pub fn settle_binding(&mut self, id: &str, now: Instant) {
        let Some(binding) = self.bindings.get_mut(id) else { return };
        let Some(op) = binding.op.clone() else { return };
        let state = op.state(now);
        if state == OperationState::InProgress {
            return;
        }
        binding.op = None;
        binding.last = Some(Finished { id: op.id.clone(), state, description: op.description(state) });
        match (op.kind, state) {
            (OpKind::Bind, s) => binding.ready = s == OperationState::Succeeded,
            (OpKind::Unbind, OperationState::Succeeded) => {
                self.bindings.remove(id);
            }
            _ => {}
        }
    }
}

/// Splits the broker's own keys (`_fault`, `_async`) from the parameters a client really sent.
pub fn split_parameters(parameters: Option<Map<String, Value>>) -> (Map<String, Value>, Control) {
    let mut control = Control::default();
    let mut kept = Map::new();
    for (key, value) in parameters.unwrap_or_default() {
        match key.as_str() {
            "_fault" => control.fault = Some(value),
            "_async" => control.asynchronous = value.as_bool(),
            _ if key.starts_with('_') => {}
            _ => {
                kept.insert(key, value);
            }
        }
    }
    (kept, control)
}

/// What a request's `_…` parameters asked of the broker.
#[derive(Clone, Debug, Default)]
pub struct Control {
    /// Raw `_fault` value (parsed by the handler so a bad one becomes a 400).
    pub fault: Option<Value>,
    pub asynchronous: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_finish_after_their_delay() {
        let op = Operation::new(OpKind::Provision, Duration::from_secs(10), Ending::Succeed);
        assert_eq!(op.state(op.started), OperationState::InProgress);
        assert_eq!(op.state(op.started + Duration::from_secs(10)), OperationState::Succeeded);
        let never = Operation::new(OpKind::Bind, Duration::ZERO, Ending::Never);
        assert_eq!(never.state(never.started + Duration::from_secs(3600)), OperationState::InProgress);
        let fail = Operation::new(OpKind::Update, Duration::ZERO, Ending::Fail);
        assert_eq!(fail.state(fail.started), OperationState::Failed);
    }

    #[test]
    fn limited_rules_expire() {
        let mut state = State {
            rule: Some(FaultRule { fault: Fault::Gone, on: Some(Endpoint::Unbind), times: Some(2) }),
            ..State::default()
        };
        assert_eq!(state.take_fault(Endpoint::Provision), None);
        assert_eq!(state.take_fault(Endpoint::Unbind), Some(Fault::Gone));
        assert_eq!(state.take_fault(Endpoint::Unbind), Some(Fault::Gone));
        assert_eq!(state.take_fault(Endpoint::Unbind), None);
    }
}
