//! People, teams and API tokens as Admin › People and My tokens show them.

use serde::{Deserialize, Serialize};

/// A team role as the forms name it.
pub const ROLES: [(&str, &str); 2] = [("member", "Member"), ("team-admin", "Team admin")];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    pub username: String,
    pub display_name: String,
    pub platform_admin: bool,
    /// Still holds the one-time password they were given.
    pub must_change_password: bool,
    pub disabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    pub username: String,
    /// `member` or `team-admin`.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRow {
    /// The team's namespace (a DNS-1123 label).
    pub name: String,
    pub display_name: String,
    pub members: Vec<MemberRow>,
    /// The caller may add and remove this team's members.
    pub manageable: bool,
}

/// Admin › People: everything a platform admin sees; a team admin sees their teams.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleView {
    /// Platform admins: create people and teams.
    pub platform_admin: bool,
    /// Every person (platform admins); empty for team admins, who add members by username.
    pub people: Vec<PersonRow>,
    pub teams: Vec<TeamRow>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPerson {
    pub username: String,
    pub display_name: String,
    pub platform_admin: bool,
}

/// A person just created, with the one-time password to hand them (shown once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPerson {
    pub username: String,
    pub one_time_password: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    /// RFC 3339.
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// A token just created: the secret is in this answer only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: String,
    pub row: TokenRow,
}
