//! Admin › People and My tokens server functions.

use leptos::prelude::*;

use crate::api::{
    Submitted,
    people::{CreatedPerson, NewToken, PeopleView, TokenRow},
};

#[server(endpoint = "people")]
pub async fn load_people() -> Result<PeopleView, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    Ok(people.people(&caller).await?)
}

/// `platform_admin` is a checkbox: present (any value) means yes.
#[server(endpoint = "create_person")]
pub async fn create_person(
    username: String,
    display_name: String,
    platform_admin: Option<String>,
) -> Result<Submitted<CreatedPerson>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    let person = crate::api::people::NewPerson { username, display_name, platform_admin: platform_admin.is_some() };
    match people.create_person(&caller, person).await {
        Ok(created) => Ok(Submitted::Done(created)),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "create_team")]
pub async fn create_team(name: String, display_name: String) -> Result<Submitted<()>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    match people.create_team(&caller, &name, &display_name).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "set_membership")]
pub async fn set_membership(team: String, username: String, role: String) -> Result<Submitted<()>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    match people.set_membership(&caller, &team, &username, &role).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "remove_membership")]
pub async fn remove_membership(team: String, username: String) -> Result<Submitted<()>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    match people.remove_membership(&caller, &team, &username).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "tokens")]
pub async fn load_tokens() -> Result<Vec<TokenRow>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    Ok(people.tokens(&caller).await?)
}

#[server(endpoint = "create_token")]
pub async fn create_token(name: String) -> Result<Submitted<NewToken>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    match people.create_token(&caller, &name).await {
        Ok(token) => Ok(Submitted::Done(token)),
        Err(e) => e.into_submitted(),
    }
}

#[server(endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<Submitted<()>, ServerFnError> {
    let (people, caller) = crate::people_port::people_and_caller()?;
    match people.revoke_token(&caller, id).await {
        Ok(()) => Ok(Submitted::Done(())),
        Err(e) => e.into_submitted(),
    }
}
