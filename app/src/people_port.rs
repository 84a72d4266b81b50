//! What Admin › People and My tokens need from the server, beside [`crate::port::Portal`] (kept
//! apart so accounts and the catalog change independently). Handed to every render and server
//! function through Leptos context, like the portal.

use std::sync::Arc;

use leptos::prelude::ServerFnError;

use crate::api::{
    Caller,
    people::{CreatedPerson, NewPerson, NewToken, PeopleView, TokenRow},
};
use crate::port::PortResult;

#[async_trait::async_trait]
pub trait People: Send + Sync + 'static {
    /// Platform admins: every person and team; team admins: their teams.
    async fn people(&self, caller: &Caller) -> PortResult<PeopleView>;
    /// Platform admins: a new account with a one-time password.
    async fn create_person(&self, caller: &Caller, person: NewPerson) -> PortResult<CreatedPerson>;
    /// Platform admins: a new team (namespace).
    async fn create_team(&self, caller: &Caller, name: &str, display_name: &str) -> PortResult<()>;
    /// Platform admins and the team's admins: adds a member or changes their role.
    async fn set_membership(&self, caller: &Caller, team: &str, username: &str, role: &str) -> PortResult<()>;
    async fn remove_membership(&self, caller: &Caller, team: &str, username: &str) -> PortResult<()>;

    /// The caller's own API tokens.
    async fn tokens(&self, caller: &Caller) -> PortResult<Vec<TokenRow>>;
    async fn create_token(&self, caller: &Caller, name: &str) -> PortResult<NewToken>;
    async fn revoke_token(&self, caller: &Caller, id: i64) -> PortResult<()>;
}

pub type PeopleHandle = Arc<dyn People>;

/// The accounts port and the caller, as the people pages' server functions start.
pub fn people_and_caller() -> Result<(PeopleHandle, Caller), ServerFnError> {
    let people = leptos::prelude::use_context::<PeopleHandle>()
        .ok_or_else(|| ServerFnError::new("people context missing (server wiring bug)"))?;
    Ok((people, crate::port::caller()?))
}
