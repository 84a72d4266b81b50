//! What an island that shows a server's answer keeps: the question (mirrored in the address bar),
//! the answer shown, and whether a newer one is on its way. The catalog's and the instances list's
//! islands start from the page the server rendered and ask the server function again when their
//! filters change; an answer that arrives after a newer question was asked is dropped.

use std::future::Future;

use leptos::prelude::*;

pub struct Answers<Q: Send + Sync + 'static, T: Send + Sync + 'static> {
    /// The question the answer shown (or on its way) is for.
    pub query: RwSignal<Q>,
    /// The answer shown: the server's page, or why it could not be had.
    pub shown: RwSignal<Result<T, String>>,
    /// A question is on its way.
    pub busy: RwSignal<bool>,
    asked: StoredValue<u64>,
}

impl<Q: Send + Sync + 'static, T: Send + Sync + 'static> Clone for Answers<Q, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Q: Send + Sync + 'static, T: Send + Sync + 'static> Copy for Answers<Q, T> {}

impl<Q: Clone + Send + Sync + 'static, T: Send + Sync + 'static> Answers<Q, T> {
    /// Starts from the question the server answered and its answer.
    pub fn new(query: Q, first: T) -> Self {
        Self {
            query: RwSignal::new(query),
            shown: RwSignal::new(Ok(first)),
            busy: RwSignal::new(false),
            asked: StoredValue::new(0),
        }
    }

    /// Asks `load` for the answer to `next`, whose page is at `url`: the address bar shows it at
    /// once, the answer replaces the one shown when it comes, unless a newer question was asked.
    pub fn ask<F: Future<Output = Result<T, ServerFnError>> + 'static>(
        self,
        next: Q,
        url: &str,
        load: impl FnOnce(Q) -> F,
    ) {
        show_url(url);
        self.query.set(next.clone());
        self.asked.update_value(|n| *n += 1);
        let mine = self.asked.get_value();
        self.busy.set(true);
        let answer = load(next);
        leptos::task::spawn_local(async move {
            let answer = answer.await.map_err(|e| e.to_string());
            if self.asked.get_value() == mine {
                self.shown.set(answer);
                self.busy.set(false);
            }
        });
    }
}

/// Puts a URL in the address bar without loading a page (there is no router on an islands page;
/// within the full app the router reads the address again at its next navigation).
fn show_url(url: &str) {
    #[cfg(feature = "hydrate")]
    if let Ok(history) = window().history() {
        _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = url;
}
