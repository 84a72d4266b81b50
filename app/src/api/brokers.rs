//! Admin › Brokers: registered brokers, the registration form and its connection test.

use serde::{Deserialize, Serialize};

use crate::model::{CatalogProblem, Condition, RelistBehavior};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerRow {
    pub name: String,
    pub url: String,
    /// "basic (Secret qm-system/demo-auth)", "bearer (…)", or empty.
    pub auth: String,
    pub insecure_skip_tls_verify: bool,
    pub has_ca_bundle: bool,
    pub relist_behavior: RelistBehavior,
    pub relist_duration: String,
    pub relist_requests: i64,
    pub conditions: Vec<Condition>,
    pub last_catalog_retrieval: String,
    pub catalog_problems: Vec<CatalogProblem>,
    pub classes: usize,
    pub plans: usize,
    /// Plans with problems: (plan, class, problems).
    pub plan_problems: Vec<(String, String, Vec<String>)>,
    pub deleting: bool,
}

/// How the portal authenticates to a broker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthChoice {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer {
        token: String,
    },
}

/// The registration form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerForm {
    pub name: String,
    pub url: String,
    pub auth: AuthChoice,
    /// PEM text, empty for none.
    pub ca_bundle: String,
    pub insecure_skip_tls_verify: bool,
    pub relist_behavior: RelistBehavior,
    /// A Go duration ("15m", "1h"); empty for the default.
    pub relist_duration: String,
}

/// What "test connection" found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    pub ok: bool,
    /// One sentence: what happened.
    pub summary: String,
    pub services: usize,
    pub plans: usize,
    pub problems: Vec<String>,
}

/// Whether a relist duration reads as a Go duration (`15m`, `1h30m`, `90s`).
pub fn valid_duration(text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() {
        return false;
    }
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        if !matches!(&rest[..unit], "h" | "m" | "s" | "ms") {
            return false;
        }
        rest = &rest[unit..];
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        for ok in ["15m", "1h30m", "90s", "15m0s", "500ms"] {
            assert!(super::valid_duration(ok), "{ok}");
        }
        for bad in ["", "15", "m", "1d", "abc"] {
            assert!(!super::valid_duration(bad), "{bad}");
        }
    }
}
