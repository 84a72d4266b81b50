//! What the screens get from the server and send to it: the data of each screen, shaped for the
//! screen (lean, so a 500-service catalog stays a small page), and the answers of the actions.
//! Shared by the browser and the server; the server fills them behind [`crate::port::Portal`].

pub mod brokers;
pub mod catalog;
pub mod governance;
pub mod instances;
pub mod manifests;
pub mod people;

use serde::{Deserialize, Serialize};

use crate::schema_form::FieldErrors;

/// Who is asking. Every port call takes one, obtained from the single helper `port::caller()`
/// (the signed-in person of the request; `groups` holds `team:<name>` per membership).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// The namespaces (teams) this caller may see and act in; `None`: all of them.
    pub namespaces: Option<Vec<String>>,
    /// May register brokers and abandon deletions.
    pub platform_admin: bool,
    /// The teams (namespaces) where this caller is a team-admin: approves their requests, manages
    /// their members.
    #[serde(default)]
    pub admin_of: Vec<String>,
    /// Where the request came from (the client's address), for the audit log.
    #[serde(default)]
    pub source: String,
}

impl Caller {
    /// The one user of a portal without authentication: allowed everything.
    pub fn builtin() -> Self {
        Self {
            username: "admin".into(),
            uid: "builtin-admin".into(),
            groups: vec!["quartermaster:platform-admins".into()],
            namespaces: None,
            platform_admin: true,
            admin_of: Vec::new(),
            source: String::new(),
        }
    }

    /// May approve requests and manage members in `namespace`: its team-admins and platform admins.
    pub fn may_administer(&self, namespace: &str) -> bool {
        self.platform_admin || self.admin_of.iter().any(|n| n == namespace)
    }

    /// A member (of any role) of the team `namespace` — what reading a binding's credentials
    /// takes: platform admins see every team's objects, but not their secrets.
    pub fn is_member(&self, namespace: &str) -> bool {
        self.groups.iter().any(|g| g.strip_prefix("team:") == Some(namespace))
    }

    pub fn may_access(&self, namespace: &str) -> bool {
        self.namespaces.as_ref().is_none_or(|allowed| allowed.iter().any(|n| n == namespace))
    }
}

/// What the frame around every page shows: who is signed in, and the navigation's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellInfo {
    pub username: String,
    /// The name's first character in upper case, for the account menu's badge.
    #[serde(default)]
    pub initial: String,
    /// Services on offer in the catalog.
    pub services: usize,
    /// Instances in the caller's teams.
    pub instances: usize,
    /// Requests waiting for a decision the caller may make.
    #[serde(default)]
    pub approvals: usize,
}

/// Why the server did not do what a form asked, placed where the form can show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// A sentence for the whole form.
    pub message: String,
    /// Problems with the parameters, by the JSON pointer of their field.
    pub fields: FieldErrors,
    /// Problems with the name field, the namespace field, the plan, … by input name.
    pub inputs: Vec<(String, String)>,
}

impl ShellInfo {
    /// The badge letter of `username`: its first character in upper case (`?` when empty).
    pub fn initial_of(username: &str) -> String {
        username.chars().next().map_or_else(|| "?".to_string(), |c| c.to_uppercase().collect())
    }
}

impl Rejection {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), ..Self::default() }
    }

    pub fn on_input(mut self, input: &str, message: impl Into<String>) -> Self {
        self.inputs.push((input.to_string(), message.into()));
        self
    }

    pub fn input(&self, input: &str) -> Option<&str> {
        self.inputs.iter().find(|(i, _)| i == input).map(|(_, m)| m.as_str())
    }
}

/// The answer of a form's submit: done (with what was made), or refused with reasons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Submitted<T> {
    Done(T),
    Rejected(Rejection),
}

/// Where an instance (or binding) lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn instance_path(&self) -> String {
        format!("/instances/{}/{}", self.namespace, self.name)
    }
}
