//! Object metadata as Kubernetes serialises it (`metadata` of every object).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

/// A reference to an object by name in the same namespace (upstream `LocalObjectReference`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct LocalObjectReference {
    pub name: String,
}

/// A reference to an object in any namespace (upstream `ObjectReference` as used by brokers' auth).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

/// Who asked for a change, recorded on instances and bindings (upstream `UserInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
pub struct UserInfo {
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

/// Why a name was refused, in the words Kubernetes uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidName(pub String);

impl std::fmt::Display for InvalidName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a DNS-1123 subdomain (the rule for most object names): at most 253 characters of
/// lower-case alphanumerics, `-` and `.`, starting and ending with an alphanumeric.
pub fn validate_dns1123_subdomain(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName("a name is required".into()));
    }
    if name.len() > 253 {
        return Err(InvalidName(format!("must be no more than 253 characters (has {})", name.len())));
    }
    for label in name.split('.') {
        check_label_chars(name, label)?;
    }
    Ok(())
}

/// Checks a DNS-1123 label (the rule for namespaces): at most 63 characters of lower-case
/// alphanumerics and `-`, starting and ending with an alphanumeric.
pub fn validate_dns1123_label(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() {
        return Err(InvalidName("a name is required".into()));
    }
    if name.len() > 63 {
        return Err(InvalidName(format!("must be no more than 63 characters (has {})", name.len())));
    }
    check_label_chars(name, name)
}

fn check_label_chars(name: &str, label: &str) -> Result<(), InvalidName> {
    let ok_inner = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let ok_edge = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = !label.is_empty()
        && label.chars().all(ok_inner)
        && label.chars().next().is_some_and(ok_edge)
        && label.chars().last().is_some_and(ok_edge);
    if valid {
        Ok(())
    } else {
        Err(InvalidName(format!(
            "{name:?}: a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', \
             and must start and end with an alphanumeric character (e.g. 'my-name' or 'example.com')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns1123_names() {
        for ok in ["a", "hdfs-team-a", "x.y-z", "0abc"] {
            assert!(validate_dns1123_subdomain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a..b", "a_b", "ümlaut", &"a".repeat(254)] {
            assert!(validate_dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(validate_dns1123_label("team-a").is_ok());
        assert!(validate_dns1123_label("team.a").is_err());
        assert!(validate_dns1123_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn empty_fields_are_not_serialised() {
        let meta = ObjectMeta { name: "x".into(), ..Default::default() };
        assert_eq!(serde_json::to_string(&meta).unwrap(), r#"{"name":"x"}"#);
    }
}
