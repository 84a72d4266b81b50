//! Where a request came from: the peer's address, or behind a trusted proxy the first
//! `X-Forwarded-For` hop. Put into the request as [`RequestSource`] for the audit log.

use std::net::SocketAddr;

use app::port::RequestSource;
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};

use crate::app_state::AppState;

pub fn source_of(request: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return first.to_string();
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
        .unwrap_or_default()
}

pub async fn record_source(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let source = source_of(&request, state.config.trust_forwarded_for);
    request.extensions_mut().insert(RequestSource(source));
    next.run(request).await
}
