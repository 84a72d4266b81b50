//! The built-in broker's records (instances, bindings, operations: kept in its SQLite file, see
//! [`super::store`]) and what it keeps only in memory: the broker-wide fault rule and a short log
//! of the requests received. Both of those are for demos and tests and start afresh on restart.
//!
//! Operations end lazily: an operation knows when it is due (wall-clock time, so it survives a
//! restart) and how it ends; whoever reads the resource first after that "settles" it.

use std::{collections::VecDeque, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::faults::{Endpoint, Fault, FaultRule};
use crate::osb::{catalog::MaintenanceInfo, wire::OperationState};

/// Now, in unix milliseconds: the clock operations are timed by.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Provision,
    Update,
    Deprovision,
    Bind,
    Unbind,
}

impl OpKind {
    pub const ALL: [OpKind; 5] = [Self::Provision, Self::Update, Self::Deprovision, Self::Bind, Self::Unbind];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provision => "provision",
            Self::Update => "update",
            Self::Deprovision => "deprovision",
            Self::Bind => "bind",
            Self::Unbind => "unbind",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How an operation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Succeed,
    Fail,
    Never,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeed => "succeed",
            Self::Fail => "fail",
            Self::Never => "never",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Succeed, Self::Fail, Self::Never].into_iter().find(|e| e.as_str() == s)
    }
}

/// An asynchronous operation on an instance or a binding.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub id: String,
    pub kind: OpKind,
    pub ending: Ending,
    /// Unix milliseconds.
    pub started_at: i64,
    /// When it ends (unless `ending` is `Never`), unix milliseconds.
    pub due_at: i64,
    /// What an update applies when it succeeds.
    pub pending_update: Option<PendingUpdate>,
    /// As recorded: `InProgress` until the operation is settled.
    pub state: OperationState,
    pub description: String,
}

impl Operation {
    /// A new operation started at `now` that ends `delay` later.
    pub fn start(kind: OpKind, delay: Duration, ending: Ending, now: i64) -> Self {
        let id = format!("{}-{}", kind.as_str(), uuid::Uuid::new_v4().simple());
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        Self {
            id,
            kind,
            ending,
            started_at: now,
            due_at: now.saturating_add(delay),
            pending_update: None,
            state: OperationState::InProgress,
            description: describe(kind, OperationState::InProgress),
        }
    }

    /// Where the operation stands at `now` (unix milliseconds).
    pub fn state_at(&self, now: i64) -> OperationState {
        if self.state != OperationState::InProgress {
            self.state
        } else if self.ending == Ending::Never || now < self.due_at {
            OperationState::InProgress
        } else if self.ending == Ending::Fail {
            OperationState::Failed
        } else {
            OperationState::Succeeded
        }
    }
}

/// What `last_operation` says about an operation of `kind` in `state`.
pub fn describe(kind: OpKind, state: OperationState) -> String {
    let what = kind.as_str();
    match state {
        OperationState::InProgress => format!("{what} in progress"),
        OperationState::Succeeded => format!("{what} succeeded"),
        OperationState::Failed => format!("{what} failed: the cluster refused the request (injected fault)"),
    }
}

/// An update waiting for its operation to succeed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub plan_id: String,
    pub parameters: Map<String, Value>,
    pub maintenance_info: Option<MaintenanceInfo>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub id: String,
    pub service_id: String,
    pub plan_id: String,
    /// As sent, without the broker's own `_…` keys.
    pub parameters: Map<String, Value>,
    pub context: Option<Value>,
    pub maintenance_info: Option<MaintenanceInfo>,
    /// True once a provision has succeeded.
    pub ready: bool,
    /// The operation in progress, if any.
    pub op: Option<Operation>,
}

impl Instance {
    /// Applies a successful update.
    pub fn apply(&mut self, update: PendingUpdate) {
        self.plan_id = update.plan_id;
        self.parameters = update.parameters;
        if update.maintenance_info.is_some() {
            self.maintenance_info = update.maintenance_info;
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    pub id: String,
    pub instance_id: String,
    pub service_id: String,
    pub plan_id: String,
    pub parameters: Map<String, Value>,
    pub credentials: Map<String, Value>,
    pub ready: bool,
    /// The operation in progress, if any.
    pub op: Option<Operation>,
}

/// What a broker saw of one request (for tests and the admin page; never credentials).
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_ms: u64,
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

/// What the broker keeps only in memory: the broker-wide fault and the request log.
#[derive(Default)]
pub struct Memory {
    pub rule: Option<FaultRule>,
    pub requests: VecDeque<RequestRecord>,
}

impl Memory {
    /// Remembers a request, keeping at most `limit`.
    pub fn record(&mut self, limit: usize, record: RequestRecord) {
        while self.requests.len() >= limit.max(1) {
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
        let op = Operation::start(OpKind::Provision, Duration::from_secs(10), Ending::Succeed, 1_000);
        assert_eq!(op.state_at(1_000), OperationState::InProgress);
        assert_eq!(op.state_at(10_999), OperationState::InProgress);
        assert_eq!(op.state_at(11_000), OperationState::Succeeded);
        let never = Operation::start(OpKind::Bind, Duration::ZERO, Ending::Never, 0);
        assert_eq!(never.state_at(3_600_000), OperationState::InProgress);
        let fail = Operation::start(OpKind::Update, Duration::ZERO, Ending::Fail, 0);
        assert_eq!(fail.state_at(0), OperationState::Failed);
        let settled = Operation { state: OperationState::Failed, ..op };
        assert_eq!(settled.state_at(0), OperationState::Failed, "a recorded ending is final");
    }

    #[test]
    fn names_round_trip() {
        for kind in OpKind::ALL {
            assert_eq!(OpKind::parse(kind.as_str()), Some(kind));
        }
        for ending in [Ending::Succeed, Ending::Fail, Ending::Never] {
            assert_eq!(Ending::parse(ending.as_str()), Some(ending));
        }
        assert_eq!(OpKind::parse("nope"), None);
    }

    #[test]
    fn limited_rules_expire() {
        let mut memory = Memory {
            rule: Some(FaultRule { fault: Fault::Gone, on: Some(Endpoint::Unbind), times: Some(2) }),
            ..Memory::default()
        };
        assert_eq!(memory.take_fault(Endpoint::Provision), None);
        assert_eq!(memory.take_fault(Endpoint::Unbind), Some(Fault::Gone));
        assert_eq!(memory.take_fault(Endpoint::Unbind), Some(Fault::Gone));
        assert_eq!(memory.take_fault(Endpoint::Unbind), None);
    }
}
