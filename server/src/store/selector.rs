//! Kubernetes label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a`, `!a`.

use serde_json::{Map, Value};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {selector:?}: {reason}")]
pub struct SelectorError {
    pub selector: String,
    pub reason: String,
}

impl LabelSelector {
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// A selector requiring each `key=value` pair.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            requirements: pairs.into_iter().map(|(k, v)| Requirement::Equals(k.to_string(), v.to_string())).collect(),
        }
    }

    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let err = |reason: &str| SelectorError { selector: selector.to_string(), reason: reason.to_string() };
        let mut requirements = Vec::new();
        for part in split_top_level(selector) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(checked_key(key.trim()).map_err(|r| err(&r))?)
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(checked_key(key.trim()).map_err(|r| err(&r))?, value.trim().to_string())
            } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::Equals(checked_key(key.trim()).map_err(|r| err(&r))?, value.trim().to_string())
            } else if let Some((key, set)) = split_set(part, " notin ") {
                Requirement::NotIn(checked_key(key).map_err(|r| err(&r))?, parse_set(set).map_err(|r| err(&r))?)
            } else if let Some((key, set)) = split_set(part, " in ") {
                Requirement::In(checked_key(key).map_err(|r| err(&r))?, parse_set(set).map_err(|r| err(&r))?)
            } else {
                Requirement::Exists(checked_key(part).map_err(|r| err(&r))?)
            };
            requirements.push(requirement);
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, set) => get(k).is_some_and(|v| set.iter().any(|s| s == v)),
            Requirement::NotIn(k, set) => get(k).is_none_or(|v| !set.iter().any(|s| s == v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

/// The selector in Kubernetes' query syntax (`labelSelector=`), as a Kubernetes API server reads it.
impl std::fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::NotEquals(k, v) => format!("{k}!={v}"),
                Requirement::In(k, set) => format!("{k} in ({})", set.join(",")),
                Requirement::NotIn(k, set) => format!("{k} notin ({})", set.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn split_set<'a>(part: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let (key, rest) = part.split_once(op)?;
    Some((key.trim(), rest.trim()))
}

fn parse_set(set: &str) -> Result<Vec<String>, String> {
    let inner = set
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set of values, got {set:?}"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

fn checked_key(key: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key.len() <= 317
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid { Ok(key.to_string()) } else { Err(format!("{key:?} is not a valid label key")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_operator() {
        let l = labels(json!({"team": "a", "tier": "gold"}));
        let cases = [
            ("team=a", true),
            ("team==a", true),
            ("team!=a", false),
            ("team in (a, b)", true),
            ("team notin (a,b)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("team=a,tier in (gold)", true),
            ("team=a,tier=silver", false),
            ("missing notin (x)", true),
            ("", true),
        ];
        for (selector, expected) in cases {
            assert_eq!(LabelSelector::parse(selector).unwrap().matches(&l), expected, "{selector}");
        }
    }

    #[test]
    fn selectors_print_in_the_syntax_they_parse_from() {
        for text in ["a=b,c!=d", "team in (a,b),tier notin (x)", "owner,!legacy"] {
            let parsed = LabelSelector::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(LabelSelector::parse(&parsed.to_string()).unwrap(), parsed);
        }
        assert_eq!(LabelSelector::everything().to_string(), "");
    }

    #[test]
    fn malformed_selectors_are_refused_with_a_reason() {
        for bad in ["team in a", "=a", "te am=x"] {
            let err = LabelSelector::parse(bad).unwrap_err();
            assert!(!err.reason.is_empty(), "{bad}");
        }
    }
}
