//! The pure rules: which policy holds a request, what a team's instances use of its quotas and
//! whether a change fits, who sees which plan. No I/O; the store calls around them (`ledger`)
//! make them atomic.

use std::collections::BTreeMap;

use app::api::governance::{Approver, Metric, Operation, Policy, QuotaLimit, QuotaLine, Rule, Visibility};
use serde_json::Value;

/// Why a request waits for an admin, and who may decide it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hold {
    pub reason: String,
    pub approver: Approver,
}

/// The policies for a class/plan/operation: those naming the plan win over those for the whole
/// class. Any rule of the winning set that fires holds the request; the strictest approver wins.
pub fn evaluate(policies: &[Policy], class: &str, plan: &str, op: Operation, parameters: &Value) -> Option<Hold> {
    let applicable = |plan_scope: &str| -> Vec<&Policy> {
        policies.iter().filter(|p| p.class == class && p.plan == plan_scope && p.operation == op).collect()
    };
    let for_plan = applicable(plan);
    let chosen = if for_plan.is_empty() { applicable("") } else { for_plan };
    let mut hold: Option<Hold> = None;
    for policy in chosen {
        let reason = match &policy.rule {
            Rule::Never => continue,
            Rule::Always => format!("every {} of {} needs approval", op.as_str(), scope(class, &policy.plan)),
            Rule::Threshold { parameter, threshold } => match number(parameters, parameter) {
                Some(value) if value > *threshold => format!(
                    "{parameter} {} is above {} (the approval threshold for {})",
                    format_number(value),
                    format_number(*threshold),
                    scope(class, &policy.plan)
                ),
                _ => continue,
            },
        };
        hold = Some(match hold {
            None => Hold { reason, approver: policy.approver },
            Some(h) => Hold {
                reason: format!("{}; {reason}", h.reason),
                approver: if h.approver == Approver::PlatformAdmin { h.approver } else { policy.approver },
            },
        });
    }
    hold
}

fn scope(class: &str, plan: &str) -> String {
    if plan.is_empty() { class.to_string() } else { format!("{class}/{plan}") }
}

/// A top-level numeric parameter.
pub fn number(parameters: &Value, name: &str) -> Option<f64> {
    parameters.get(name).and_then(Value::as_f64)
}

/// The numeric top-level parameters, which sum limits add up.
pub fn amounts(parameters: &Value) -> BTreeMap<String, f64> {
    parameters
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_f64().map(|n| (k.clone(), n))).collect())
        .unwrap_or_default()
}

/// "51,200" / "0.5".
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        let digits = format!("{}", n.abs() as i64);
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0.0 { format!("-{out}") } else { out }
    } else {
        format!("{n}")
    }
}

/// What one instance (or pending request) of a team holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Holding {
    pub instance: String,
    pub class: String,
    pub plan: String,
    pub amounts: BTreeMap<String, f64>,
    /// An update waiting for approval: its plan and amounts are held as well.
    pub pending: Option<(String, BTreeMap<String, f64>)>,
}

impl Holding {
    fn counts_for(&self, limit: &QuotaLimit) -> bool {
        let matches = |plan: &str| self.class == limit.class && (limit.plan.is_empty() || limit.plan == plan);
        matches(&self.plan) || self.pending.as_ref().is_some_and(|(plan, _)| matches(plan))
    }

    fn sum_for(&self, limit: &QuotaLimit) -> f64 {
        if !limit.class.is_empty() && !self.counts_for(limit) {
            return 0.0;
        }
        let now = self.amounts.get(&limit.parameter).copied().unwrap_or(0.0);
        let pending = self.pending.as_ref().and_then(|(_, a)| a.get(&limit.parameter).copied()).unwrap_or(0.0);
        now.max(pending)
    }
}

/// How much of a limit these holdings use.
pub fn usage(limit: &QuotaLimit, holdings: &[Holding]) -> f64 {
    match limit.metric {
        Metric::Count => holdings.iter().filter(|h| h.counts_for(limit)).count() as f64,
        Metric::Sum => holdings.iter().map(|h| h.sum_for(limit)).sum(),
    }
}

/// Every limit with its use.
pub fn lines(limits: &[QuotaLimit], holdings: &[Holding]) -> Vec<QuotaLine> {
    limits.iter().map(|l| QuotaLine { limit: l.clone(), used: usage(l, holdings), requested: 0.0 }).collect()
}

/// Whether replacing `before` (the team's holdings) by `after` keeps within the limits. A limit
/// already exceeded (lowered since) only refuses changes that add to it. Returns the lines the
/// change touches (with what it adds), and the ones it would overrun.
pub fn check(limits: &[QuotaLimit], before: &[Holding], after: &[Holding]) -> (Vec<QuotaLine>, Vec<QuotaLine>) {
    let mut touched = Vec::new();
    let mut over = Vec::new();
    for limit in limits {
        let (used, would) = (usage(limit, before), usage(limit, after));
        if would == used {
            continue;
        }
        let line = QuotaLine { limit: limit.clone(), used, requested: would - used };
        if would > used && would > limit.max {
            over.push(line.clone());
        }
        touched.push(line);
    }
    (touched, over)
}

/// The sentence a refused request shows.
pub fn over_quota_message(team: &str, over: &[QuotaLine]) -> String {
    let parts: Vec<String> = over
        .iter()
        .map(|l| {
            format!(
                "{} would be {} of {} ({} in use, {} left)",
                l.limit.describe(),
                format_number(l.used + l.requested),
                format_number(l.limit.max),
                format_number(l.used),
                format_number(l.remaining()),
            )
        })
        .collect();
    format!("Over team {team}'s quota: {}.", parts.join("; "))
}

/// Who sees a class/plan: one with no rows is public; otherwise only the listed teams.
pub fn visible(rules: &[Visibility], team: &str, class: &str, plan: Option<&str>) -> bool {
    let allowed = |plan_scope: &str| {
        let rows: Vec<&Visibility> = rules.iter().filter(|v| v.class == class && v.plan == plan_scope).collect();
        rows.is_empty() || rows.iter().any(|v| v.team == team)
    };
    allowed("") && plan.is_none_or(allowed)
}

/// Visible to any of these teams (`None`: the caller sees every team's catalog).
pub fn visible_to_any(rules: &[Visibility], teams: Option<&[String]>, class: &str, plan: Option<&str>) -> bool {
    let public = || {
        let unrestricted = |scope: &str| !rules.iter().any(|v| v.class == class && v.plan == scope);
        unrestricted("") && plan.is_none_or(unrestricted)
    };
    match teams {
        None => true,
        Some(teams) => public() || teams.iter().any(|t| visible(rules, t, class, plan)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(plan: &str, rule: Rule) -> Policy {
        Policy {
            id: 0,
            class: "hdfs".into(),
            plan: plan.into(),
            operation: Operation::Create,
            rule,
            approver: Approver::TeamAdmin,
        }
    }

    fn threshold(t: f64) -> Rule {
        Rule::Threshold { parameter: "storageSpaceQuota".into(), threshold: t }
    }

    #[test]
    fn thresholds_hold_only_above() {
        let policies = vec![policy("", threshold(10240.0))];
        let low = json!({"storageSpaceQuota": 10240});
        let high = json!({"storageSpaceQuota": 20480});
        assert_eq!(evaluate(&policies, "hdfs", "standard", Operation::Create, &low), None);
        let hold = evaluate(&policies, "hdfs", "standard", Operation::Create, &high).expect("held");
        assert!(hold.reason.contains("20,480 is above 10,240"), "{}", hold.reason);
        // Other operations and classes are not governed by it.
        assert_eq!(evaluate(&policies, "hdfs", "standard", Operation::Update, &high), None);
        assert_eq!(evaluate(&policies, "kafka", "standard", Operation::Create, &high), None);
    }

    #[test]
    fn plan_policies_override_class_policies() {
        let policies = vec![policy("", Rule::Always), policy("small", Rule::Never)];
        assert!(evaluate(&policies, "hdfs", "large", Operation::Create, &json!({})).is_some());
        assert_eq!(evaluate(&policies, "hdfs", "small", Operation::Create, &json!({})), None);
        let mut strict = policy("large", Rule::Always);
        strict.approver = Approver::PlatformAdmin;
        let policies = vec![policy("large", threshold(1.0)), strict];
        let hold = evaluate(&policies, "hdfs", "large", Operation::Create, &json!({"storageSpaceQuota": 5})).unwrap();
        assert_eq!(hold.approver, Approver::PlatformAdmin);
    }

    fn holding(name: &str, plan: &str, storage: f64) -> Holding {
        Holding {
            instance: name.into(),
            class: "hdfs".into(),
            plan: plan.into(),
            amounts: [("storageSpaceQuota".to_string(), storage)].into(),
            pending: None,
        }
    }

    fn limit(metric: Metric, class: &str, plan: &str, parameter: &str, max: f64) -> QuotaLimit {
        QuotaLimit {
            team: "t".into(),
            metric,
            class: class.into(),
            plan: plan.into(),
            parameter: parameter.into(),
            max,
        }
    }

    #[test]
    fn sums_and_counts_with_pending_updates_holding_the_larger() {
        let mut a = holding("a", "standard", 1000.0);
        a.pending = Some(("large".into(), [("storageSpaceQuota".to_string(), 3000.0)].into()));
        let all = vec![a, holding("b", "standard", 500.0)];
        assert_eq!(usage(&limit(Metric::Sum, "", "", "storageSpaceQuota", 0.0), &all), 3500.0);
        assert_eq!(usage(&limit(Metric::Count, "hdfs", "", "", 0.0), &all), 2.0);
        assert_eq!(usage(&limit(Metric::Count, "hdfs", "large", "", 0.0), &all), 1.0);
        assert_eq!(usage(&limit(Metric::Count, "kafka", "", "", 0.0), &all), 0.0);
    }

    #[test]
    fn check_refuses_only_what_adds_beyond_the_limit() {
        let limits =
            vec![limit(Metric::Sum, "", "", "storageSpaceQuota", 2000.0), limit(Metric::Count, "hdfs", "", "", 2.0)];
        let before = vec![holding("a", "standard", 1500.0)];
        let mut fits = before.clone();
        fits.push(holding("b", "standard", 500.0));
        assert!(check(&limits, &before, &fits).1.is_empty());
        let mut too_big = before.clone();
        too_big.push(holding("b", "standard", 501.0));
        let (_, over) = check(&limits, &before, &too_big);
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].requested, 501.0);
        let message = over_quota_message("t", &over);
        assert!(
            message.contains("total storageSpaceQuota (all services) would be 2,001 of 2,000 (1,500 in use, 500 left)"),
            "{message}"
        );
        // Already over (the limit was lowered): shrinking is fine, growing is not.
        let lowered = vec![limit(Metric::Sum, "", "", "storageSpaceQuota", 1000.0)];
        assert!(check(&lowered, &before, &[holding("a", "standard", 1200.0)]).1.is_empty());
        assert_eq!(check(&lowered, &before, &[holding("a", "standard", 1600.0)]).1.len(), 1);
    }

    #[test]
    fn visibility_restricts_to_listed_teams() {
        let rules = vec![
            Visibility { class: "hdfs".into(), plan: "large".into(), team: "team-a".into() },
            Visibility { class: "kafka".into(), plan: String::new(), team: "team-b".into() },
        ];
        assert!(visible(&rules, "team-a", "hdfs", Some("large")));
        assert!(!visible(&rules, "team-b", "hdfs", Some("large")));
        assert!(visible(&rules, "team-b", "hdfs", Some("small")));
        assert!(visible(&rules, "team-b", "hdfs", None));
        assert!(!visible(&rules, "team-a", "kafka", None));
        assert!(!visible(&rules, "team-a", "kafka", Some("any")));
        assert!(visible_to_any(&rules, None, "kafka", None));
        assert!(visible_to_any(&rules, Some(&["team-a".into(), "team-b".into()]), "kafka", None));
        // Someone in no team still sees what is public.
        assert!(visible_to_any(&rules, Some(&[]), "hdfs", Some("small")));
        assert!(!visible_to_any(&rules, Some(&[]), "hdfs", Some("large")));
    }

    #[test]
    fn numbers_read_like_people_write_them() {
        assert_eq!(format_number(51200.0), "51,200");
        assert_eq!(format_number(100.0), "100");
        assert_eq!(format_number(1234567.0), "1,234,567");
        assert_eq!(format_number(0.5), "0.5");
    }
}
