//! How a person proves who they are. Each way of signing in is an [`Authenticator`]: it turns
//! what the person presented into a [`User`] of [`Accounts`] — and nothing more. Everything after
//! that (a fresh session id, the session's user, the audit line) is [`crate::http::auth::sign_in`],
//! shared by every way in. The password form is the one authenticator today; an OIDC provider
//! would be another (its callback route ends in the same `sign_in`), see `docs/authentication.md`.

use super::{AccountError, Accounts, User};

/// What a sign-in attempt presented.
pub enum Credentials<'a> {
    /// The login form's username and password.
    Password { username: &'a str, password: &'a str },
}

#[async_trait::async_trait]
pub trait Authenticator: Send + Sync {
    /// A short name for logs and the audit trail (`password`, `oidc:corp`, …).
    fn method(&self) -> &'static str;
    /// The user these credentials prove, `None` when they prove nobody (wrong password, unknown
    /// or disabled account — deliberately not told apart). `Ok(None)` also for credentials of a
    /// kind this authenticator does not take.
    async fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Option<User>, AccountError>;
}

/// Local accounts with argon2id password hashes.
pub struct PasswordAuthenticator {
    pub accounts: Accounts,
}

#[async_trait::async_trait]
impl Authenticator for PasswordAuthenticator {
    fn method(&self) -> &'static str {
        "password"
    }

    async fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Option<User>, AccountError> {
        let Credentials::Password { username, password } = credentials;
        self.accounts.check_password(username, password).await
    }
}
