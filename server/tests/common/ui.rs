//! Calling the UI's server functions and pages over HTTP, as the browser does.
#![allow(dead_code)]

use serde_json::Value;

use super::TestApp;

/// A portal without a controller or built-in broker: the test writes every status itself.
pub async fn quiet_app() -> TestApp {
    TestApp::spawn_with(tempfile::tempdir().unwrap(), |c| {
        c.controller = None;
        c.builtin_broker = false;
    })
    .await
}

impl TestApp {
    /// GETs a page; returns status and body.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Calls a server function that takes JSON (`input = Json`).
    pub async fn call_json(&self, endpoint: &str, body: Value) -> (u16, Value) {
        let response = self.client.post(self.url(&format!("/api/{endpoint}"))).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Calls a server function with URL-encoded arguments (the default encoding).
    pub async fn call_form(&self, endpoint: &str, args: &[(&str, &str)]) -> (u16, Value) {
        let response = self.client.post(self.url(&format!("/api/{endpoint}"))).form(args).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}
