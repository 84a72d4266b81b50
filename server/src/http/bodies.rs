//! Request bodies on every route: one size limit, and answers that say what is wrong.
//!
//! [`guard`] runs in front of every route (portal, server functions, the Kubernetes-style API, the
//! built-in broker). A body over [`MAX_BODY_BYTES`] is refused with 413 before any handler reads
//! it (at once when `Content-Length` says so, else as soon as the stream passes the limit), so
//! no handler ever buffers more than that. Server functions get two more checks, because Leptos
//! answers every failure of theirs with 500: a content type they cannot read is refused with 415,
//! and arguments that do not deserialize (malformed form or JSON, missing fields) come back as
//! 400 with the deserializer's own words.

use std::{collections::BTreeSet, sync::OnceLock};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The largest request body any route accepts (the same as the Kubernetes-style API's).
pub const MAX_BODY_BYTES: usize = crate::kapi::MAX_BODY_BYTES;

/// The header Leptos puts on a server function's error answer.
const SERVER_FN_ERROR_HEADER: &str = "serverfnerror";

/// The paths of the registered server functions (`/api/…`).
fn server_fn_paths() -> &'static BTreeSet<String> {
    static PATHS: OnceLock<BTreeSet<String>> = OnceLock::new();
    PATHS.get_or_init(|| leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path.to_string()).collect())
}

fn is_server_fn(path: &str) -> bool {
    server_fn_paths().contains(path)
}

/// How the refusal is worded for the route's kind of client.
fn refuse(path: &str, code: StatusCode, reason: &'static str, message: String) -> Response {
    if crate::kapi::is_kubernetes_path(path) {
        return crate::kapi::status::ApiError::new(code, reason, message).into_response();
    }
    if path.starts_with(crate::broker::MOUNT_PATH) {
        let body = serde_json::json!({"error": reason, "description": message});
        return (code, axum::Json(body)).into_response();
    }
    if is_server_fn(path) {
        // The encoding the app's server-function client decodes into a readable error.
        let mut response = (code, format!("ServerError|{message}")).into_response();
        response
            .headers_mut()
            .insert(SERVER_FN_ERROR_HEADER, HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/api")));
        return response;
    }
    (code, message).into_response()
}

fn too_large(path: &str) -> Response {
    refuse(
        path,
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes ({} MiB)", MAX_BODY_BYTES >> 20),
    )
}

/// How much of an oversized body is still read (and thrown away) before the 413 is sent: a
/// client that is still sending when the answer comes and the connection closes sees a broken
/// connection instead of the answer. Larger bodies are cut off at once.
const DRAIN_BYTES: usize = 16 * MAX_BODY_BYTES;

/// How long draining may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards up to `cap` bytes of `body` (within [`DRAIN_TIME`]).
async fn drain(body: Body, cap: usize) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut seen = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > cap {
                break;
            }
        }
    })
    .await;
}

/// The whole body if it is within [`MAX_BODY_BYTES`]; `Err(None)` when it is larger (the rest
/// drained, see [`DRAIN_BYTES`]), `Err(Some(_))` when it could not be read.
async fn read_limited(body: Body) -> Result<Bytes, Option<axum::Error>> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Some)?;
        if buffer.len() + chunk.len() > MAX_BODY_BYTES {
            let rest = Body::from_stream(stream);
            drain(rest, DRAIN_BYTES.saturating_sub(buffer.len() + chunk.len())).await;
            return Err(None);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// The media type of a request, lowercase, without parameters.
fn media_type(request: &Request) -> String {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The middleware: see the module's documentation.
pub async fn guard(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_BODY_BYTES as u64) {
        if n <= DRAIN_BYTES as u64 {
            drain(request.into_body(), DRAIN_BYTES).await;
        }
        return too_large(&path);
    }
    // Reads without a body (the live stream among them) pass untouched.
    let no_body = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && declared.is_none_or(|n| n == 0)
        && !request.headers().contains_key(header::TRANSFER_ENCODING);
    if no_body {
        return next.run(request).await;
    }
    let server_fn = is_server_fn(&path);
    if server_fn {
        let media = media_type(&request);
        if !matches!(media.as_str(), "application/x-www-form-urlencoded" | "application/json" | "") {
            let shown = if media.len() > 80 { format!("{}…", &media[..80]) } else { media };
            return refuse(
                &path,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!(
                    "server functions take application/x-www-form-urlencoded or application/json bodies, not {shown}"
                ),
            );
        }
    }
    let (parts, body) = request.into_parts();
    let bytes: Bytes = match read_limited(body).await {
        Ok(bytes) => bytes,
        Err(None) => return too_large(&path),
        Err(Some(e)) => {
            return refuse(
                &path,
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("the request body could not be read: {e}"),
            );
        }
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if server_fn && response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        return arguments_error_as_400(&path, response).await;
    }
    response
}

/// A server function's "the arguments did not deserialize" (Leptos's `Args|…` or
/// `Deserialization|…` error, sent as 500) becomes the 400 it is, naming the function.
async fn arguments_error_as_400(path: &str, response: Response) -> Response {
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the server function's error could not be read").into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let argument_error = ["Args|", "Deserialization|"].iter().find_map(|p| text.strip_prefix(p));
    if let Some(detail) = argument_error {
        let function = path.trim_start_matches("/api/");
        let message = format!("Args|the request is not valid input for {function}: {detail}");
        parts.status = StatusCode::BAD_REQUEST;
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(message));
    }
    Response::from_parts(parts, Body::from(bytes))
}
