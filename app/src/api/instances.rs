//! Instances, bindings and credentials as their pages show them, and the requests that change them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalog::ClassDetail;
use crate::model::{ServiceBinding, ServiceInstance, StatusLine, instance_status};

/// Rows on one page of the instances list.
pub const INSTANCES_PAGE: usize = 100;

/// Which instances the list shows: its filters and page (all kept in the URL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstancesQuery {
    pub team: String,
    /// A class's external name.
    pub class: String,
    /// A [`crate::model::Phase`] key.
    pub status: String,
    /// Part of the instance's name (any case).
    pub search: String,
    /// From 0.
    pub page: usize,
}

impl InstancesQuery {
    pub fn keep(&self, row: &InstanceRow) -> bool {
        (self.team.is_empty() || row.namespace == self.team)
            && (self.class.is_empty() || row.class_external_name == self.class)
            && (self.status.is_empty() || row.status.phase.key() == self.status)
            && (self.search.is_empty() || row.name.to_lowercase().contains(&self.search.trim().to_lowercase()))
    }

    pub fn is_filtered(&self) -> bool {
        !(self.team.is_empty() && self.class.is_empty() && self.status.is_empty() && self.search.is_empty())
    }
}

/// The instances list: one page of the rows that match the query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstancesView {
    pub rows: Vec<InstanceRow>,
    /// Class external name → display name, so rows built from live updates read the same.
    pub class_names: Vec<(String, String)>,
    /// The teams the caller may see.
    pub namespaces: Vec<String>,
    /// The services the caller's instances are of (external name, display name): the filter's choices.
    pub classes: Vec<(String, String)>,
    /// Rows matching the query, on all pages.
    pub total: usize,
    /// Rows of the caller's teams, whatever the query.
    pub unfiltered: usize,
    /// The page shown (from 0; the last one when the query asked past it).
    pub page: usize,
    /// The store's version when this was read: the live stream resumes from here.
    pub resource_version: u64,
}

impl InstancesView {
    pub fn class_display(&self, external_name: &str) -> Option<&str> {
        self.class_names.iter().find(|(n, _)| n == external_name).map(|(_, d)| d.as_str())
    }

    /// Replaces (or adds) the row of an instance, unless the row shown is newer. The row's service
    /// reads as the list's other rows do when the list knows its display name.
    pub fn apply(&mut self, mut row: InstanceRow) {
        if let Some(display) = self.class_display(&row.class_external_name) {
            row.class_display = display.to_string();
        }
        match self.rows.iter_mut().find(|r| r.namespace == row.namespace && r.name == row.name) {
            Some(existing) if existing.resource_version <= row.resource_version => *existing = row,
            Some(_) => {}
            None => {
                self.rows.push(row);
                self.rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            }
        }
    }

    pub fn remove(&mut self, namespace: &str, name: &str) {
        self.rows.retain(|r| !(r.namespace == namespace && r.name == name));
    }

    /// Fills the view from every row of the caller's teams, given in (team, name) order: the
    /// filters' choices, the counts, and the page of rows that match `query`. Class names shown
    /// are the ones in `class_names` when it has them.
    pub fn paginate<'a>(&mut self, sorted: impl IntoIterator<Item = &'a InstanceRow>, query: &InstancesQuery) {
        let mut classes: BTreeMap<&str, &str> = BTreeMap::new();
        let mut matching = Vec::new();
        let mut unfiltered = 0;
        for row in sorted {
            unfiltered += 1;
            classes.entry(&row.class_external_name).or_insert(&row.class_display);
            if query.keep(row) {
                matching.push(row);
            }
        }
        let display: HashMap<&str, &str> = self.class_names.iter().map(|(n, d)| (n.as_str(), d.as_str())).collect();
        let shown = |external: &str, fallback: &str| display.get(external).copied().unwrap_or(fallback).to_string();
        let mut choices: Vec<(String, String)> =
            classes.into_iter().map(|(external, own)| (external.to_string(), shown(external, own))).collect();
        choices.sort();
        self.unfiltered = unfiltered;
        self.total = matching.len();
        let pages = matching.len().div_ceil(INSTANCES_PAGE).max(1);
        self.page = query.page.min(pages - 1);
        self.rows = matching
            .into_iter()
            .skip(self.page * INSTANCES_PAGE)
            .take(INSTANCES_PAGE)
            .map(|row| InstanceRow {
                class_display: shown(&row.class_external_name, &row.class_display),
                ..row.clone()
            })
            .collect();
        self.classes = choices;
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub namespace: String,
    pub name: String,
    pub class_external_name: String,
    pub class_display: String,
    pub plan_external_name: String,
    pub status: StatusLine,
    pub created: String,
    pub resource_version: u64,
}

impl InstanceRow {
    pub fn from_instance(instance: &ServiceInstance, class_display: Option<String>) -> Self {
        let class = instance.spec.class_external_name().unwrap_or_default().to_string();
        Self {
            namespace: instance.metadata.namespace.clone().unwrap_or_default(),
            name: instance.metadata.name.clone(),
            class_display: class_display.unwrap_or_else(|| class.clone()),
            class_external_name: class,
            plan_external_name: instance.spec.plan_external_name().unwrap_or_default().to_string(),
            status: instance_status(instance),
            created: instance.metadata.creation_timestamp.clone().unwrap_or_default(),
            resource_version: resource_version(&instance.metadata.resource_version),
        }
    }
}

/// A resourceVersion as a number (the store's are; anything else counts as 0).
pub fn resource_version(rv: &Option<String>) -> u64 {
    rv.as_deref().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// One instance's page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstancePage {
    pub instance: ServiceInstance,
    /// Its class and plans (`None` when the class is unknown to the portal).
    pub class: Option<ClassDetail>,
    pub bindings: Vec<ServiceBinding>,
    /// The broker that holds it.
    pub broker: String,
    pub resource_version: u64,
    /// A request for this instance that waits for approval (or, for an instance not created
    /// yet, the decision on it); the instance is a placeholder until it is approved.
    #[serde(default)]
    pub approval: Option<super::governance::ApprovalRequest>,
}

/// A request for a new instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceRequest {
    pub namespace: String,
    pub name: String,
    /// The class object's name.
    pub class: String,
    /// The plan's external name.
    pub plan: String,
    pub parameters: Value,
}

/// New parameters and/or a new plan for an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceUpdate {
    pub namespace: String,
    pub name: String,
    pub plan: String,
    pub parameters: Value,
    /// The version the user edited; a newer one on the server is a conflict, not an overwrite.
    pub resource_version: String,
}

/// A request for a new binding of an instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BindingRequest {
    pub namespace: String,
    pub instance: String,
    pub name: String,
    pub parameters: Value,
}

/// A binding's credentials, fetched only when a person asks to see them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub namespace: String,
    pub secret_name: String,
    pub entries: Vec<CredentialEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialEntry {
    pub key: String,
    /// The value as text (`None` when it is not UTF-8).
    pub text: Option<String>,
    /// The value as Kubernetes stores it.
    pub base64: String,
}

impl Credentials {
    /// `export KEY='value'` lines (keys made into shell names, values single-quoted).
    pub fn env_snippet(&self) -> String {
        self.entries
            .iter()
            .filter_map(|e| {
                let value = e.text.as_ref()?;
                Some(format!("export {}='{}'", env_name(&e.key), value.replace('\'', "'\\''")))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A Kubernetes Secret manifest holding the same data (base64, so no quoting issue).
    pub fn secret_manifest(&self) -> String {
        let mut out = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\n  namespace: {}\ntype: Opaque\ndata:\n",
            self.secret_name, self.namespace
        );
        for e in &self.entries {
            out.push_str(&format!("  {}: {}\n", yaml_key(&e.key), e.base64));
        }
        out
    }

    /// A connection string when the credentials carry one (`uri`, `url`, `jdbcUrl`, …).
    pub fn connection_string(&self) -> Option<&str> {
        const KEYS: [&str; 6] = ["uri", "url", "connection_string", "connectionString", "jdbcUrl", "jdbc_url"];
        KEYS.iter().find_map(|k| self.entries.iter().find(|e| e.key == *k).and_then(|e| e.text.as_deref()))
    }
}

/// `hdfs.principal` → `HDFS_PRINCIPAL`.
pub fn env_name(key: &str) -> String {
    let mut name: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

fn yaml_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) && !key.is_empty() {
        key.to_string()
    } else {
        serde_json::to_string(key).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            namespace: "team-a".into(),
            secret_name: "logs-creds".into(),
            entries: vec![
                CredentialEntry {
                    key: "uri".into(),
                    text: Some("hdfs://nn:8020/x".into()),
                    base64: "aGRmczovL25uOjgwMjAveA==".into(),
                },
                CredentialEntry { key: "pass.word".into(), text: Some("it's".into()), base64: "aXQncw==".into() },
                CredentialEntry { key: "keytab".into(), text: None, base64: "AAEC".into() },
            ],
        }
    }

    #[test]
    fn snippets_quote_and_rename() {
        let c = creds();
        assert_eq!(c.env_snippet(), "export URI='hdfs://nn:8020/x'\nexport PASS_WORD='it'\\''s'");
        let manifest = c.secret_manifest();
        assert!(manifest.contains("  name: logs-creds\n  namespace: team-a\n"));
        assert!(manifest.contains("  keytab: AAEC\n"));
        assert_eq!(c.connection_string(), Some("hdfs://nn:8020/x"));
        assert_eq!(env_name("1x"), "_1X");
    }
}
