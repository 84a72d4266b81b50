//! Fault injection: what the broker can be told to do wrong, per request (`parameters._fault`) or
//! broker-wide (configuration, or `PUT /admin/fault` at run time).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One way to misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Hold the answer longer than any sane client timeout (the resource is still created).
    Timeout,
    /// 500 with an error body (the resource is still created: an orphan).
    ServerError,
    /// The right status with a body that is not JSON (the resource is still created).
    BadJson,
    /// 204, a success code OSB does not allow here (the resource is still created).
    InvalidStatus,
    /// Accept asynchronously, then report the operation `failed`.
    AsyncFail,
    /// Accept asynchronously and stay `in progress` forever.
    AsyncNever,
    /// 400 with a description.
    BadRequest,
    /// 409.
    Conflict,
    /// 410.
    Gone,
    /// 422 AsyncRequired.
    AsyncRequired,
    /// 422 ConcurrencyError.
    ConcurrencyError,
    /// 422 RequiresApp.
    RequiresApp,
    /// 422 MaintenanceInfoConflict.
    MaintenanceInfoConflict,
    /// The catalog answers after the configured slow delay.
    SlowCatalog,
    /// The catalog is many megabytes.
    HugeCatalog,
}

impl Fault {
    pub const ALL: [Fault; 15] = [
        Self::Timeout,
        Self::ServerError,
        Self::BadJson,
        Self::InvalidStatus,
        Self::AsyncFail,
        Self::AsyncNever,
        Self::BadRequest,
        Self::Conflict,
        Self::Gone,
        Self::AsyncRequired,
        Self::ConcurrencyError,
        Self::RequiresApp,
        Self::MaintenanceInfoConflict,
        Self::SlowCatalog,
        Self::HugeCatalog,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::ServerError => "server-error",
            Self::BadJson => "bad-json",
            Self::InvalidStatus => "invalid-status",
            Self::AsyncFail => "async-fail",
            Self::AsyncNever => "async-never",
            Self::BadRequest => "bad-request",
            Self::Conflict => "conflict",
            Self::Gone => "gone",
            Self::AsyncRequired => "async-required",
            Self::ConcurrencyError => "concurrency-error",
            Self::RequiresApp => "requires-app",
            Self::MaintenanceInfoConflict => "maintenance-info-conflict",
            Self::SlowCatalog => "slow-catalog",
            Self::HugeCatalog => "huge-catalog",
        }
    }

    /// Faults after which the broker still creates what it was asked to (the orphan cases).
    pub fn still_creates(self) -> bool {
        matches!(self, Self::Timeout | Self::ServerError | Self::BadJson | Self::InvalidStatus)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|f| f.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|f| f.name()).collect();
            format!("unknown fault {s:?}; known: {}", names.join(", "))
        })
    }
}

/// The endpoints a broker-wide fault can be limited to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    Catalog,
    Provision,
    Update,
    Deprovision,
    FetchInstance,
    LastOperation,
    Bind,
    Unbind,
    FetchBinding,
    BindingLastOperation,
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| format!("unknown endpoint {s:?}"))
    }
}

/// A broker-wide fault: which, where, how many times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    pub fault: Fault,
    /// Only on this endpoint; every endpoint when absent.
    #[serde(default)]
    pub on: Option<Endpoint>,
    /// Only this many times, then the rule removes itself; forever when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    pub fn always(fault: Fault) -> Self {
        Self { fault, on: None, times: None }
    }

    pub fn applies_to(&self, endpoint: Endpoint) -> bool {
        self.on.is_none_or(|on| on == endpoint)
    }
}

impl FromStr for FaultRule {
    type Err = String;

    /// `FAULT[@ENDPOINT][*TIMES]`, e.g. `server-error@provision*2`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (rest, times) = match s.split_once('*') {
            Some((rest, n)) => (rest, Some(n.parse::<u32>().map_err(|_| format!("bad count {n:?}"))?)),
            None => (s, None),
        };
        let (fault, on) = match rest.split_once('@') {
            Some((fault, on)) => (fault, Some(on.parse()?)),
            None => (rest, None),
        };
        Ok(Self { fault: fault.parse()?, on, times })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for fault in Fault::ALL {
            assert_eq!(fault.name().parse::<Fault>().unwrap(), fault);
            assert_eq!(serde_json::to_value(fault).unwrap(), serde_json::Value::String(fault.name().into()));
        }
        assert!("nope".parse::<Fault>().unwrap_err().contains("server-error"));
    }

    #[test]
    fn rules_parse_from_flags() {
        assert_eq!("timeout".parse::<FaultRule>().unwrap(), FaultRule::always(Fault::Timeout));
        assert_eq!(
            "server-error@provision*2".parse::<FaultRule>().unwrap(),
            FaultRule { fault: Fault::ServerError, on: Some(Endpoint::Provision), times: Some(2) }
        );
        assert!("gone@nowhere".parse::<FaultRule>().is_err());
    }
}
