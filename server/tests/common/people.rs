//! People for authorization tests: accounts with passwords, teams, and clients signed in as them
//! the way a browser is (session cookie + Origin) or as a script is (API token).
#![allow(dead_code)]

use reqwest::header::{COOKIE, HeaderMap, HeaderValue, ORIGIN, SET_COOKIE};

use super::TestApp;
use server::auth::Role;

pub const PASSWORD: &str = "a long enough password";

impl TestApp {
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates `username` (if new) with [`PASSWORD`], in `teams` with their roles.
    pub async fn person(&self, username: &str, platform_admin: bool, teams: &[(&str, Role)]) -> i64 {
        let user = match self.accounts.user_by_name(username).await.unwrap() {
            Some(user) => user,
            None => self.accounts.create_user(username, username, Some(PASSWORD), platform_admin, false).await.unwrap(),
        };
        for (team, role) in teams {
            if self.accounts.list_teams().await.unwrap().iter().all(|(name, _)| name != team) {
                self.accounts.create_team(team, team).await.unwrap();
            }
            self.accounts.set_membership(user.id, team, *role).await.unwrap();
        }
        user.id
    }

    /// Posts the login form; returns the answer (a redirect).
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.anonymous
            .post(self.url("/auth/login"))
            .header(ORIGIN, self.origin())
            .form(&[("username", username), ("password", password), ("next", "/instances")])
            .send()
            .await
            .unwrap()
    }

    /// Asks for the shell's data (`/api/shell_info`) with this `Cookie` header and the portal's
    /// Origin, as a page of the portal does.
    pub async fn shell_info_as(&self, cookie: &str) -> reqwest::Response {
        self.anonymous
            .post(self.url("/api/shell_info"))
            .header(COOKIE, cookie.to_string())
            .header(ORIGIN, self.origin())
            .send()
            .await
            .unwrap()
    }

    /// A client signed in as `username` through the login form: it sends the session cookie and
    /// the portal's Origin, as the portal's own pages do.
    pub async fn session_client(&self, username: &str) -> reqwest::Client {
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), 303, "login of {username}");
        assert_eq!(response.headers()["location"], "/instances", "login of {username} succeeds");
        let cookie = session_cookie(&response).expect("a session cookie");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        headers.insert(ORIGIN, HeaderValue::from_str(&self.origin()).unwrap());
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
    }

    /// A client that acts with an API token of `username` (no cookie, no Origin).
    pub async fn token_client(&self, username: &str) -> reqwest::Client {
        let user = self.accounts.user_by_name(username).await.unwrap().unwrap();
        let (token, _) = self.accounts.create_token(user.id, "matrix").await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).default_headers(headers).build().unwrap()
    }
}

/// `qm_session=…` from a response's Set-Cookie headers.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response).map(|c| c.split(';').next().unwrap_or_default().to_string())
}

/// The whole Set-Cookie header of the session cookie.
pub fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("qm_session="))
        .map(str::to_string)
}
