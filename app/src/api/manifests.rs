//! Manifests in the portal: what applying a pasted one did.

use serde::{Deserialize, Serialize};

/// One object of an applied manifest and what happened to it (`created`, `configured`,
/// `unchanged`, in kubectl's words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestApplied {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub action: String,
}

/// Where the manifest of an instance or binding is served (`download` adds the attachment header).
pub fn manifest_url(plural: &str, namespace: &str, name: &str, download: bool) -> String {
    format!("/manifests/{plural}/{namespace}/{name}{}", if download { "?download=1" } else { "" })
}
