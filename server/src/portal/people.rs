//! The server's side of `app::people_port::People`: Admin › People and My tokens over
//! [`Accounts`], with who-may-do-what checked here (the pages only hide what they may not use).

use app::{
    api::{
        Caller, Rejection,
        people::{CreatedPerson, MemberRow, NewPerson, NewToken, PeopleView, PersonRow, TeamRow, TokenRow},
    },
    people_port::People,
    port::{PortError, PortResult},
};

use serde_json::json;

use super::access::check_admin;
use crate::{
    auth::{AccountError, Accounts, Role, TokenInfo, password},
    db::Database,
    governance::{AuditRecord, audit::record_or_warn},
};

pub struct PeopleService {
    accounts: Accounts,
    /// Where the audit log is kept.
    db: Database,
}

impl PeopleService {
    pub fn new(accounts: Accounts, db: Database) -> Self {
        Self { accounts, db }
    }

    /// An audit row (never with a secret: no password, no token value).
    async fn audit(&self, caller: &Caller, action: &str, team: &str, target: &str, detail: serde_json::Value) {
        record_or_warn(&self.db, AuditRecord::by(caller, action, team, target, detail)).await;
    }
}

fn account_error(e: AccountError) -> PortError {
    match e {
        AccountError::Invalid(m) => PortError::Rejected(Rejection::new(m)),
        AccountError::Exists(_) => PortError::Conflict(e.to_string()),
        AccountError::NotFound(_) => PortError::NotFound(e.to_string()),
        AccountError::Database(_) => PortError::Unavailable(e.to_string()),
    }
}

/// The account id behind a caller (callers of the REST API and the UI are always accounts).
fn user_id(caller: &Caller) -> PortResult<i64> {
    caller.uid.parse().map_err(|_| PortError::Forbidden(format!("{} has no account of their own", caller.username)))
}

fn check_team_admin(caller: &Caller, team: &str) -> PortResult<()> {
    if caller.may_administer(team) {
        Ok(())
    } else {
        Err(PortError::Forbidden(format!(
            "{} may not manage the members of team {team:?}: that takes a team admin of {team} or a platform admin",
            caller.username
        )))
    }
}

fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

fn token_row(t: TokenInfo) -> TokenRow {
    TokenRow {
        id: t.id,
        name: t.name,
        prefix: t.prefix,
        created_at: time(t.created_at),
        last_used_at: t.last_used_at.map(time),
    }
}

#[async_trait::async_trait]
impl People for PeopleService {
    async fn people(&self, caller: &Caller) -> PortResult<PeopleView> {
        if !caller.platform_admin && caller.admin_of.is_empty() {
            return Err(PortError::Forbidden(format!(
                "{} is neither a platform admin nor a team admin: People is for them",
                caller.username
            )));
        }
        let memberships = self.accounts.all_memberships().await.map_err(account_error)?;
        let teams = self.accounts.list_teams().await.map_err(account_error)?;
        let teams = teams
            .into_iter()
            .filter(|(name, _)| caller.may_administer(name))
            .map(|(name, display_name)| TeamRow {
                members: memberships
                    .iter()
                    .filter(|(team, _, _)| *team == name)
                    .map(|(_, username, role)| MemberRow { username: username.clone(), role: role.as_str().into() })
                    .collect(),
                manageable: caller.may_administer(&name),
                name,
                display_name,
            })
            .collect();
        let people = if caller.platform_admin {
            let users = self.accounts.list_users().await.map_err(account_error)?;
            users
                .into_iter()
                .map(|u| PersonRow {
                    username: u.username,
                    display_name: u.display_name,
                    platform_admin: u.platform_admin,
                    must_change_password: u.must_change_password,
                    disabled: u.disabled,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(PeopleView { platform_admin: caller.platform_admin, people, teams })
    }

    async fn create_person(&self, caller: &Caller, person: NewPerson) -> PortResult<CreatedPerson> {
        check_admin(caller)?;
        let username = person.username.trim();
        let one_time_password = password::generate();
        self.accounts
            .create_user(username, person.display_name.trim(), Some(&one_time_password), person.platform_admin, true)
            .await
            .map_err(account_error)?;
        tracing::info!(target: "audit", event = "user-created", by = %caller.username, username, platform_admin = person.platform_admin, "account created");
        self.audit(caller, "person.create", "", username, json!({"platformAdmin": person.platform_admin})).await;
        Ok(CreatedPerson { username: username.to_string(), one_time_password })
    }

    async fn create_team(&self, caller: &Caller, name: &str, display_name: &str) -> PortResult<()> {
        check_admin(caller)?;
        self.accounts.create_team(name.trim(), display_name.trim()).await.map_err(account_error)?;
        tracing::info!(target: "audit", event = "team-created", by = %caller.username, team = name.trim(), "team created");
        self.audit(caller, "team.create", name.trim(), name.trim(), json!({"displayName": display_name.trim()})).await;
        Ok(())
    }

    async fn set_membership(&self, caller: &Caller, team: &str, username: &str, role: &str) -> PortResult<()> {
        check_team_admin(caller, team)?;
        let role = Role::parse(role).ok_or_else(|| {
            PortError::Rejected(Rejection::new(format!("{role:?} is not a role: member or team-admin")))
        })?;
        let teams = self.accounts.list_teams().await.map_err(account_error)?;
        if !teams.iter().any(|(name, _)| name == team) {
            return Err(PortError::NotFound(format!("there is no team {team:?}")));
        }
        let user = self.accounts.user_by_name(username.trim()).await.map_err(account_error)?.ok_or_else(|| {
            PortError::Rejected(Rejection::new(format!("there is no person named {:?}", username.trim())))
        })?;
        self.accounts.set_membership(user.id, team, role).await.map_err(account_error)?;
        tracing::info!(target: "audit", event = "membership-set", by = %caller.username, team, username = %user.username, role = role.as_str(), "membership set");
        self.audit(caller, "membership.set", team, &user.username, json!({"role": role.as_str()})).await;
        Ok(())
    }

    async fn remove_membership(&self, caller: &Caller, team: &str, username: &str) -> PortResult<()> {
        check_team_admin(caller, team)?;
        let user = self
            .accounts
            .user_by_name(username)
            .await
            .map_err(account_error)?
            .ok_or_else(|| PortError::NotFound(format!("there is no person named {username:?}")))?;
        self.accounts.remove_membership(user.id, team).await.map_err(account_error)?;
        tracing::info!(target: "audit", event = "membership-removed", by = %caller.username, team, username, "membership removed");
        self.audit(caller, "membership.remove", team, username.trim(), serde_json::Value::Null).await;
        Ok(())
    }

    async fn tokens(&self, caller: &Caller) -> PortResult<Vec<TokenRow>> {
        let id = user_id(caller)?;
        Ok(self.accounts.list_tokens(id).await.map_err(account_error)?.into_iter().map(token_row).collect())
    }

    async fn create_token(&self, caller: &Caller, name: &str) -> PortResult<NewToken> {
        let id = user_id(caller)?;
        let (token, info) = self.accounts.create_token(id, name).await.map_err(account_error)?;
        tracing::info!(target: "audit", event = "token-created", username = %caller.username, token_id = info.id, name = %info.name, "API token created");
        // The token's id and name only: its value is shown once, to its owner, and kept nowhere.
        self.audit(caller, "token.create", "", &caller.username, json!({"tokenId": info.id, "name": info.name})).await;
        Ok(NewToken { token, row: token_row(info) })
    }

    async fn revoke_token(&self, caller: &Caller, token_id: i64) -> PortResult<()> {
        let id = user_id(caller)?;
        self.accounts.revoke_token(id, token_id).await.map_err(account_error)?;
        tracing::info!(target: "audit", event = "token-revoked", username = %caller.username, token_id, "API token revoked");
        self.audit(caller, "token.revoke", "", &caller.username, json!({"tokenId": token_id})).await;
        Ok(())
    }
}
