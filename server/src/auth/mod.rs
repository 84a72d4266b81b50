//! People: local accounts with argon2 password hashes, teams (namespaces) and roles, API tokens,
//! sessions in the portal's database. Designed so another way to log in (OIDC) can sit beside
//! the password: everything after login works on a `User`.

pub mod accounts;
pub mod authenticator;
pub mod guard;
pub mod password;
pub mod session_store;
pub mod tokens;

pub use accounts::{AccountError, Accounts, Role, TokenInfo, User};
pub use authenticator::{Authenticator, Credentials, PasswordAuthenticator};
pub use guard::{Guard, LoginLimiter, Principal};
pub use session_store::SqlSessionStore;
