//! Live updates in the browser: an `EventSource` on the server's `/live/instances` stream, turned
//! into typed events. It reconnects by itself (the browser sends the last event id, which is the
//! store's resourceVersion); when the browser gives up (the server answered with an error), it
//! opens a new stream from the last version seen, after a pause. On the server this does nothing.

use leptos::prelude::*;
use serde::Deserialize;

use crate::api::governance::ApprovalRequest;
use crate::api::instances::InstanceRow;
use crate::model::{ServiceBinding, ServiceInstance};

/// Something that changed.
#[derive(Clone, Debug)]
pub enum LiveEvent {
    Instance(Box<ServiceInstance>),
    /// An instance as the list shows it (the list's stream, `rows=true`).
    Row(Box<InstanceRow>),
    Binding(Box<ServiceBinding>),
    InstanceDeleted {
        namespace: String,
        name: String,
    },
    BindingDeleted {
        namespace: String,
        name: String,
    },
    /// The stream could not resume; the full state follows.
    Reset,
    /// A request for the instance was held for approval, or decided.
    Approval(Box<ApprovalRequest>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    Connecting,
    Live,
    Reconnecting,
}

/// Which stream a page follows, and how its events are read. Each constructor names its own
/// reader, so a page's wasm carries only the readers of the events it follows.
pub struct Stream {
    /// The URL's parameters before `rv`, each ending in `&`.
    params: String,
    // Read in the browser only.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    parse: fn(&str, &str) -> Option<LiveEvent>,
}

impl Stream {
    /// One instance and its bindings, and decisions on requests for it.
    pub fn instance(namespace: &str, name: &str) -> Self {
        Self { params: format!("namespace={namespace}&instance={name}&"), parse: parse_event }
    }

    /// Every instance the caller may see, as list rows (`instance-row`, `instance-deleted`).
    pub fn rows() -> Self {
        Self { params: "rows=true&".into(), parse: parse_row_event }
    }

    /// `/live/instances?…&rv=…`: the stream from a version on.
    pub fn url(&self, rv: u64) -> String {
        format!("/live/instances?{}rv={rv}", self.params)
    }
}

#[derive(Deserialize)]
struct Gone {
    namespace: String,
    name: String,
}

fn gone(data: &str) -> Option<(String, String)> {
    let g: Gone = serde_json::from_str(data).ok()?;
    Some((g.namespace, g.name))
}

/// Parses one event of an instance's stream.
pub fn parse_event(kind: &str, data: &str) -> Option<LiveEvent> {
    Some(match kind {
        "instance" => LiveEvent::Instance(Box::new(serde_json::from_str(data).ok()?)),
        "binding" => LiveEvent::Binding(Box::new(serde_json::from_str(data).ok()?)),
        "instance-deleted" => gone(data).map(|(namespace, name)| LiveEvent::InstanceDeleted { namespace, name })?,
        "binding-deleted" => gone(data).map(|(namespace, name)| LiveEvent::BindingDeleted { namespace, name })?,
        "reset" => LiveEvent::Reset,
        "approval" => LiveEvent::Approval(Box::new(serde_json::from_str(data).ok()?)),
        _ => return None,
    })
}

/// Parses one event of the list's stream: rows and deletions, nothing else.
pub fn parse_row_event(kind: &str, data: &str) -> Option<LiveEvent> {
    Some(match kind {
        "instance-row" => LiveEvent::Row(Box::new(serde_json::from_str(data).ok()?)),
        "instance-deleted" => gone(data).map(|(namespace, name)| LiveEvent::InstanceDeleted { namespace, name })?,
        _ => return None,
    })
}

/// Follows the stream while the calling component lives. `on_event` runs for every event its
/// reader reads.
pub fn follow(stream: Stream, from: u64, on_event: impl Fn(LiveEvent) + 'static) -> ReadSignal<LiveState> {
    let (state, set_state) = signal(LiveState::Connecting);
    #[cfg(feature = "hydrate")]
    browser::start(stream, from, on_event, set_state);
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (stream, from, on_event, set_state);
    }
    state
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{cell::RefCell, rc::Rc};

    use leptos::prelude::*;
    use send_wrapper::SendWrapper;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{EventSource, MessageEvent};

    use super::{LiveEvent, LiveState, Stream};

    const EVENTS: [&str; 7] =
        ["instance", "instance-row", "binding", "instance-deleted", "binding-deleted", "reset", "approval"];

    struct Inner {
        source: Option<EventSource>,
        last: u64,
        stopped: bool,
        // Kept alive as long as the source uses them.
        closures: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    }

    /// What an event of the stream is handed to: its kind and its data.
    type Handler = Rc<dyn Fn(&str, &str)>;

    pub fn start(stream: Stream, from: u64, on_event: impl Fn(LiveEvent) + 'static, set_state: WriteSignal<LiveState>) {
        let inner = Rc::new(RefCell::new(Inner { source: None, last: from, stopped: false, closures: Vec::new() }));
        let parse = stream.parse;
        let on_event: Handler = Rc::new(move |kind, data| {
            if let Some(event) = parse(kind, data) {
                on_event(event);
            }
        });
        let url = Rc::new(move |rv: u64| stream.url(rv));
        open(inner.clone(), url, on_event, set_state);
        let cleanup = SendWrapper::new(inner);
        on_cleanup(move || {
            let mut inner = cleanup.borrow_mut();
            inner.stopped = true;
            if let Some(source) = inner.source.take() {
                source.close();
            }
            inner.closures.clear();
        });
    }

    fn open(
        inner: Rc<RefCell<Inner>>,
        url: Rc<dyn Fn(u64) -> String>,
        on_event: Handler,
        set_state: WriteSignal<LiveState>,
    ) {
        let from = inner.borrow().last;
        let Ok(source) = EventSource::new(&url(from)) else {
            set_state.set(LiveState::Reconnecting);
            return;
        };
        let mut closures: Vec<Closure<dyn FnMut(web_sys::Event)>> = Vec::new();
        for kind in EVENTS {
            let inner = inner.clone();
            let on_event = on_event.clone();
            let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
                let Some(message) = event.dyn_ref::<MessageEvent>() else { return };
                if let Ok(id) = message.last_event_id().parse::<u64>() {
                    let mut inner = inner.borrow_mut();
                    inner.last = inner.last.max(id);
                }
                let data = message.data().as_string().unwrap_or_default();
                on_event(kind, &data);
            });
            let _ = source.add_event_listener_with_callback(kind, handler.as_ref().unchecked_ref());
            closures.push(handler);
        }
        let opened = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| set_state.set(LiveState::Live));
        let _ = source.add_event_listener_with_callback("open", opened.as_ref().unchecked_ref());
        closures.push(opened);
        let failed = {
            let inner = inner.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                set_state.set(LiveState::Reconnecting);
                let closed = inner.borrow().source.as_ref().is_some_and(|s| s.ready_state() == EventSource::CLOSED);
                if closed && !inner.borrow().stopped {
                    // The browser gave up; start again from the last version, after a pause.
                    let (inner, url, on_event) = (inner.clone(), url.clone(), on_event.clone());
                    set_timeout(
                        move || {
                            if !inner.borrow().stopped {
                                open(inner, url, on_event, set_state);
                            }
                        },
                        std::time::Duration::from_secs(3),
                    );
                }
            })
        };
        let _ = source.add_event_listener_with_callback("error", failed.as_ref().unchecked_ref());
        closures.push(failed);
        let mut state = inner.borrow_mut();
        if let Some(old) = state.source.replace(source) {
            old.close();
        }
        state.closures = closures;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> InstanceRow {
        let instance =
            serde_json::from_str(r#"{"metadata":{"name":"a","namespace":"t","resourceVersion":"7"}}"#).unwrap();
        InstanceRow::from_instance(&instance, Some("A".into()))
    }

    #[test]
    fn events_parse_and_urls_resume() {
        assert!(matches!(parse_event("instance", r#"{"metadata":{"name":"a"}}"#), Some(LiveEvent::Instance(_))));
        assert!(matches!(
            parse_event("binding-deleted", r#"{"namespace":"t","name":"b"}"#),
            Some(LiveEvent::BindingDeleted { .. })
        ));
        assert!(parse_event("instance", "not json").is_none());
        assert!(parse_event("secret", "{}").is_none());
        // The list's reader reads rows and deletions and skips the rest.
        assert!(matches!(
            parse_row_event("instance-row", &serde_json::to_string(&row()).unwrap()),
            Some(LiveEvent::Row(r)) if *r == row()
        ));
        assert!(matches!(
            parse_row_event("instance-deleted", r#"{"namespace":"t","name":"b"}"#),
            Some(LiveEvent::InstanceDeleted { .. })
        ));
        assert!(parse_row_event("instance", r#"{"metadata":{"name":"a"}}"#).is_none());
        assert!(parse_row_event("approval", "{}").is_none());
        assert_eq!(Stream::instance("team-a", "logs").url(42), "/live/instances?namespace=team-a&instance=logs&rv=42");
        assert_eq!(Stream::rows().url(0), "/live/instances?rows=true&rv=0");
    }
}
