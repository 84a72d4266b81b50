//! Accounts, teams, memberships and API tokens in the portal's database.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};

use super::{password, tokens};
use crate::db::{Database, on_pool};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub must_change_password: bool,
    pub disabled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Member,
    TeamAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::TeamAdmin => "team-admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "team-admin" => Some(Role::TeamAdmin),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A token's last use is recorded to this precision (milliseconds).
pub const LAST_USE_PRECISION_MS: i64 = 60_000;

/// How long a token's last use waits to be written with the others that come meanwhile.
const LAST_USE_DELAY: Duration = Duration::from_millis(250);

/// A token joined with its user and their memberships (one row a team, or one with none).
type TokenRow = (i64, String, String, bool, bool, bool, i64, Option<i64>, Option<String>, Option<String>);
/// A user joined with their memberships.
type UserRow = (i64, String, String, bool, bool, bool, Option<String>, Option<String>);

/// The user of joined rows with their teams; a disabled user is nobody.
fn principal_of(
    rows: impl Iterator<Item = (User, Option<String>, Option<String>)>,
) -> Option<(User, Vec<(String, Role)>)> {
    let mut found: Option<(User, Vec<(String, Role)>)> = None;
    for (user, team, role) in rows {
        let (_, teams) = found.get_or_insert_with(|| (user, Vec::new()));
        if let (Some(team), Some(role)) = (team, role.as_deref().and_then(Role::parse)) {
            teams.push((team, role));
        }
    }
    found.filter(|(user, _)| !user.disabled)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[derive(Clone, Debug)]
pub struct Accounts {
    db: Database,
    last_uses: Arc<LastUses>,
}

/// Tokens' last uses not yet written (token id → when), written together shortly after, off the
/// requests' path: one transaction for many requests instead of a write each behind the
/// database's one writer. What a crash loses is at most [`LAST_USE_DELAY`] of last-use times,
/// which are shown to the minute.
#[derive(Debug, Default)]
struct LastUses {
    pending: Mutex<HashMap<i64, i64>>,
    /// A write is scheduled; the next use schedules none.
    scheduled: AtomicBool,
}

impl Accounts {
    pub fn new(db: Database) -> Self {
        Self { db, last_uses: Arc::default() }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub async fn count_users(&self) -> Result<i64, AccountError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?))
    }

    pub async fn create_user(
        &self,
        username: &str,
        display_name: &str,
        password: Option<&str>,
        platform_admin: bool,
        must_change_password: bool,
    ) -> Result<User, AccountError> {
        let valid = !username.is_empty()
            && username.len() <= 64
            && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
        if !valid {
            return Err(AccountError::Invalid(format!(
                "{username:?} is not a valid username (1–64 letters, digits, '-', '_', '.', '@')"
            )));
        }
        let hash = match password {
            Some(p) => {
                password::check_strength(p).map_err(|m| AccountError::Invalid(m.into()))?;
                Some(password::hash(p).map_err(AccountError::Invalid)?)
            }
            None => None,
        };
        let inserted = on_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO users (username, display_name, password_hash, platform_admin, must_change_password, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
            )
            .bind(username)
            .bind(display_name)
            .bind(&hash)
            .bind(platform_admin)
            .bind(must_change_password)
            .bind(now_ms())
            .execute(pool)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(AccountError::Exists(format!("user {username:?}")));
        }
        self.user_by_name(username).await?.ok_or_else(|| AccountError::NotFound(format!("user {username:?}")))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, AccountError> {
        const SQL: &str = "SELECT id, username, display_name, platform_admin, must_change_password, disabled FROM users WHERE username = $1";
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(SQL).bind(username).fetch_optional(pool).await?))
    }

    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, AccountError> {
        const SQL: &str = "SELECT id, username, display_name, platform_admin, must_change_password, disabled FROM users WHERE id = $1";
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }

    pub async fn list_users(&self) -> Result<Vec<User>, AccountError> {
        const SQL: &str = "SELECT id, username, display_name, platform_admin, must_change_password, disabled FROM users ORDER BY username";
        Ok(on_pool!(&self.db, |pool| sqlx::query_as(SQL).fetch_all(pool).await?))
    }

    /// The user whose password this is, if it is right and the account is usable.
    pub async fn check_password(&self, username: &str, candidate: &str) -> Result<Option<User>, AccountError> {
        let row: Option<(i64, Option<String>)> = on_pool!(&self.db, |pool| {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1 AND disabled = $2")
                .bind(username)
                .bind(false)
                .fetch_optional(pool)
                .await?
        });
        match row {
            Some((id, Some(hash))) if password::verify(candidate, &hash) => self.user_by_id(id).await,
            Some(_) => Ok(None),
            None => {
                password::verify_nothing(candidate);
                Ok(None)
            }
        }
    }

    pub async fn set_password(&self, user_id: i64, new_password: &str) -> Result<(), AccountError> {
        password::check_strength(new_password).map_err(|m| AccountError::Invalid(m.into()))?;
        let hash = password::hash(new_password).map_err(AccountError::Invalid)?;
        on_pool!(&self.db, |pool| {
            sqlx::query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
                .bind(&hash)
                .bind(false)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    pub async fn create_team(&self, name: &str, display_name: &str) -> Result<(), AccountError> {
        app::model::validate_dns1123_label(name).map_err(|e| AccountError::Invalid(format!("team name: {e}")))?;
        let inserted = on_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO teams (name, display_name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(display_name)
            .bind(now_ms())
            .execute(pool)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(AccountError::Exists(format!("team {name:?}")));
        }
        Ok(())
    }

    pub async fn list_teams(&self) -> Result<Vec<(String, String)>, AccountError> {
        Ok(on_pool!(&self.db, |pool| sqlx::query_as("SELECT name, display_name FROM teams ORDER BY name")
            .fetch_all(pool)
            .await?))
    }

    /// Adds a member or changes their role.
    pub async fn set_membership(&self, user_id: i64, team: &str, role: Role) -> Result<(), AccountError> {
        on_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO memberships (user_id, team, role) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, team) DO UPDATE SET role = excluded.role",
            )
            .bind(user_id)
            .bind(team)
            .bind(role.as_str())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn remove_membership(&self, user_id: i64, team: &str) -> Result<(), AccountError> {
        on_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND team = $2")
                .bind(user_id)
                .bind(team)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    pub async fn memberships(&self, user_id: i64) -> Result<Vec<(String, Role)>, AccountError> {
        let rows: Vec<(String, String)> = on_pool!(&self.db, |pool| {
            sqlx::query_as("SELECT team, role FROM memberships WHERE user_id = $1 ORDER BY team")
                .bind(user_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().filter_map(|(team, role)| Role::parse(&role).map(|r| (team, r))).collect())
    }

    /// Every membership: (team, username, role), by team then username.
    pub async fn all_memberships(&self) -> Result<Vec<(String, String, Role)>, AccountError> {
        let rows: Vec<(String, String, String)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT m.team, u.username, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
                 ORDER BY m.team, u.username",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().filter_map(|(team, user, role)| Role::parse(&role).map(|r| (team, user, r))).collect())
    }

    /// Creates a token; the plaintext is returned once and never stored.
    pub async fn create_token(&self, user_id: i64, name: &str) -> Result<(String, TokenInfo), AccountError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(AccountError::Invalid("a token needs a name of 1–100 characters".into()));
        }
        let (token, hash, prefix) = tokens::generate();
        let created = now_ms();
        let id: i64 = on_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(&hash)
            .bind(&prefix)
            .bind(created)
            .fetch_one(pool)
            .await?
        });
        Ok((token, TokenInfo { id, name: name.to_string(), prefix, created_at: created, last_used_at: None }))
    }

    /// Records a token's use, to be written by a task started with the first use recorded after
    /// the last write (it waits [`LAST_USE_DELAY`] for others to join it).
    fn record_last_use(&self, token_id: i64, at: i64) {
        self.last_uses.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(token_id, at);
        if self.last_uses.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let accounts = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LAST_USE_DELAY).await;
            if let Err(e) = accounts.write_last_uses().await {
                tracing::warn!(error = %e, "recording API tokens' last use failed");
            }
        });
    }

    /// Writes the recorded last uses now, in one transaction (those of a failed write are
    /// dropped: they are renewed by the tokens' next use).
    pub async fn write_last_uses(&self) -> Result<(), AccountError> {
        // Cleared before taking: a use recorded from here on schedules a write of its own.
        self.last_uses.scheduled.store(false, Ordering::Release);
        let uses = std::mem::take(&mut *self.last_uses.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if uses.is_empty() {
            return Ok(());
        }
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            for (token_id, at) in uses {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(token_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<TokenInfo>, AccountError> {
        // Uses recorded but not yet written show too.
        self.write_last_uses().await?;
        Ok(on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT id, name, prefix, created_at, last_used_at FROM api_tokens \
                 WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn revoke_token(&self, user_id: i64, token_id: i64) -> Result<(), AccountError> {
        let done = on_pool!(&self.db, |pool| {
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(token_id)
                .bind(user_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(AccountError::NotFound(format!("token {token_id}")));
        }
        Ok(())
    }

    /// The user a bearer token belongs to (revoked tokens and disabled users: none).
    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>, AccountError> {
        Ok(self.token_principal(token).await?.map(|(user, _)| user))
    }

    /// The user a bearer token belongs to, with their teams (revoked tokens and disabled users:
    /// none). One read per request; the token's `last_used_at` is recorded only when the written
    /// use is older than [`LAST_USE_PRECISION_MS`], and written shortly after, with other tokens'
    /// (a write on the request's path would queue every token-authenticated request behind the
    /// database's one writer).
    pub async fn token_principal(&self, token: &str) -> Result<Option<(User, Vec<(String, Role)>)>, AccountError> {
        if !tokens::looks_like_token(token) {
            return Ok(None);
        }
        let hash = tokens::hash(token);
        const SQL: &str = "SELECT u.id, u.username, u.display_name, u.platform_admin, u.must_change_password, u.disabled, \
             t.id, t.last_used_at, m.team, m.role \
             FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN memberships m ON m.user_id = u.id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL ORDER BY m.team";
        let rows: Vec<TokenRow> = on_pool!(&self.db, |pool| sqlx::query_as(SQL).bind(&hash).fetch_all(pool).await?);
        let Some(&(_, _, _, _, _, _, token_id, last_used, _, _)) = rows.first() else { return Ok(None) };
        let now = now_ms();
        if last_used.is_none_or(|at| now - at >= LAST_USE_PRECISION_MS || at > now) {
            self.record_last_use(token_id, now);
        }
        Ok(principal_of(rows.into_iter().map(
            |(id, username, display_name, platform_admin, must_change, disabled, _, _, team, role)| {
                (
                    User { id, username, display_name, platform_admin, must_change_password: must_change, disabled },
                    team,
                    role,
                )
            },
        )))
    }

    /// A user by id with their teams, in one read (a session's user, on every request); disabled
    /// users: none.
    pub async fn user_with_teams(&self, id: i64) -> Result<Option<(User, Vec<(String, Role)>)>, AccountError> {
        const SQL: &str = "SELECT u.id, u.username, u.display_name, u.platform_admin, u.must_change_password, u.disabled, \
             m.team, m.role FROM users u LEFT JOIN memberships m ON m.user_id = u.id WHERE u.id = $1 ORDER BY m.team";
        let rows: Vec<UserRow> = on_pool!(&self.db, |pool| sqlx::query_as(SQL).bind(id).fetch_all(pool).await?);
        Ok(principal_of(rows.into_iter().map(
            |(id, username, display_name, platform_admin, must_change, disabled, team, role)| {
                (
                    User { id, username, display_name, platform_admin, must_change_password: must_change, disabled },
                    team,
                    role,
                )
            },
        )))
    }

    /// The first start: a platform admin. Returns the password when it was generated here (to
    /// print once); `None` when accounts already exist or the password came from configuration.
    pub async fn bootstrap_admin(&self, configured_password: Option<&str>) -> Result<Option<String>, AccountError> {
        if self.count_users().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match configured_password {
            Some(p) => (p.to_string(), false),
            None => (password::generate(), true),
        };
        self.create_user("admin", "Platform admin", Some(&password), true, generated).await?;
        Ok(generated.then_some(password))
    }
}
