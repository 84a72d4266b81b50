//! Governance as the screens see it: approval requests and their decisions, approval policies,
//! team quotas and their use, plan visibility, and the audit log.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a request asks of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "create" => Some(Self::Create),
            "update" => Some(Self::Update),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    /// Approved, but doing it failed (the message says why); nothing was changed.
    Failed,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Who may decide a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Approver {
    #[default]
    TeamAdmin,
    PlatformAdmin,
}

impl Approver {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TeamAdmin => "team-admin",
            Self::PlatformAdmin => "platform-admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "team-admin" => Some(Self::TeamAdmin),
            "platform-admin" => Some(Self::PlatformAdmin),
            _ => None,
        }
    }
}

/// A request held for an admin's decision (and, once decided, the decision).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApprovalRequest {
    pub id: i64,
    pub team: String,
    pub instance: String,
    pub operation: Operation,
    pub class: String,
    pub plan: String,
    pub parameters: Value,
    /// Before an update: the plan and parameters it would change.
    pub previous_plan: Option<String>,
    pub previous_parameters: Option<Value>,
    pub reason: String,
    pub approver: Approver,
    pub requester: String,
    pub state: ApprovalState,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub comment: String,
    pub created_at: String,
    /// The quota this request would use, one line per governed quota it touches.
    pub quota: Vec<QuotaLine>,
}

impl ApprovalRequest {
    /// An update's changed parameters: (name, before, after), sorted by name.
    pub fn diff(&self) -> Vec<(String, Option<Value>, Option<Value>)> {
        let empty = serde_json::Map::new();
        let before = self.previous_parameters.as_ref().and_then(Value::as_object).unwrap_or(&empty);
        let after = self.parameters.as_object().unwrap_or(&empty);
        let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| (k.clone(), before.get(k).cloned(), after.get(k).cloned()))
            .collect()
    }
}

/// The approvals page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApprovalsView {
    /// Waiting for a decision the caller may make.
    pub pending: Vec<ApprovalRequest>,
    /// Recently decided, newest first.
    pub decided: Vec<ApprovalRequest>,
    /// The pending requests the caller may decide (the others are their own, shown to follow).
    pub decidable: Vec<i64>,
}

/// A decision on a pending request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    pub approve: bool,
    pub comment: String,
}

/// When a class's (or plan's) requests need approval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Rule {
    Always,
    Never,
    /// When the numeric parameter is above the threshold.
    Threshold {
        parameter: String,
        threshold: f64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Policy {
    /// 0 for a new one.
    pub id: i64,
    /// Class external name.
    pub class: String,
    /// Plan external name; empty: every plan of the class.
    pub plan: String,
    pub operation: Operation,
    pub rule: Rule,
    pub approver: Approver,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Metric {
    /// How many instances (of a class, or of a plan).
    Count,
    /// The total of a numeric parameter.
    Sum,
}

/// One limit of a team.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaLimit {
    pub team: String,
    pub metric: Metric,
    /// Class external name; empty: every class (sums only).
    pub class: String,
    /// Plan external name; empty: every plan.
    pub plan: String,
    /// For sums: the parameter added up.
    pub parameter: String,
    pub max: f64,
}

impl QuotaLimit {
    /// "storageSpaceQuota (all services)", "instances of hdfs/standard".
    pub fn describe(&self) -> String {
        let scope = match (self.class.as_str(), self.plan.as_str()) {
            ("", _) => "all services".to_string(),
            (class, "") => class.to_string(),
            (class, plan) => format!("{class}/{plan}"),
        };
        match self.metric {
            Metric::Count => format!("instances of {scope}"),
            Metric::Sum => format!("total {} ({scope})", self.parameter),
        }
    }
}

/// A limit with what is used of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaLine {
    pub limit: QuotaLimit,
    /// Held now (instances and pending requests).
    pub used: f64,
    /// What a request adds (only in an approval's impact and a refusal).
    pub requested: f64,
}

impl QuotaLine {
    pub fn remaining(&self) -> f64 {
        (self.limit.max - self.used).max(0.0)
    }
}

/// One team may see a class (plan empty) or a plan; a class or plan with no rows is public.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Visibility {
    pub class: String,
    pub plan: String,
    pub team: String,
}

/// The admin's governance page: everything one form family edits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GovernanceView {
    pub policies: Vec<Policy>,
    pub quotas: Vec<QuotaLine>,
    pub visibility: Vec<Visibility>,
    /// Class external name → its plans' external names, for the forms' choices.
    pub classes: Vec<(String, Vec<String>)>,
    /// Teams known to the portal (namespaces with instances, teams with quotas, …).
    pub teams: Vec<String>,
}

/// A change an admin makes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GovernanceChange {
    PutPolicy(Policy),
    DeletePolicy(i64),
    PutQuota(QuotaLimit),
    DeleteQuota(QuotaLimit),
    PutVisibility(Visibility),
    DeleteVisibility(Visibility),
}

/// A team's quotas as a request form shows them beside its fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaView {
    pub lines: Vec<QuotaLine>,
}

impl QuotaView {
    /// The sum limit on a parameter (the field with that name).
    pub fn for_parameter(&self, parameter: &str) -> Option<&QuotaLine> {
        self.lines.iter().find(|l| l.limit.metric == Metric::Sum && l.limit.parameter == parameter)
    }
}

/// One audit event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339, UTC.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub team: String,
    pub target: String,
    pub detail: Value,
    pub source: String,
}

/// The audit page's filters; empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    pub actor: String,
    /// A prefix: "instance." matches every instance action.
    pub action: String,
    pub team: String,
    /// RFC 3339 timestamps or dates (YYYY-MM-DD).
    pub since: String,
    pub until: String,
}

impl AuditFilter {
    /// The query string of the export links.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("team", &self.team),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        parts.join("&")
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How a request ended up: done now, or waiting for approval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Done,
    Pending { id: i64, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_parameters_only() {
        let request = ApprovalRequest {
            id: 1,
            team: "t".into(),
            instance: "i".into(),
            operation: Operation::Update,
            class: "hdfs".into(),
            plan: "standard".into(),
            parameters: json!({"a": 1, "b": 2, "c": 3}),
            previous_plan: Some("standard".into()),
            previous_parameters: Some(json!({"a": 1, "b": 1, "d": 4})),
            reason: String::new(),
            approver: Approver::TeamAdmin,
            requester: "u".into(),
            state: ApprovalState::Pending,
            decided_by: None,
            decided_at: None,
            comment: String::new(),
            created_at: String::new(),
            quota: Vec::new(),
        };
        let diff = request.diff();
        assert_eq!(
            diff,
            vec![
                ("b".into(), Some(json!(1)), Some(json!(2))),
                ("c".into(), None, Some(json!(3))),
                ("d".into(), Some(json!(4)), None),
            ]
        );
    }

    #[test]
    fn audit_filter_query_encodes() {
        let f = AuditFilter { actor: "a b".into(), action: "instance.".into(), ..Default::default() };
        assert_eq!(f.query_string(), "actor=a%20b&action=instance.");
    }
}
