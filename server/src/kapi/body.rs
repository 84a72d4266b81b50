//! Request bodies: JSON or YAML (what kubectl, curl and a pasted manifest send), bounded in
//! size, with errors that say what is wrong and where.

use axum::{
    body::Body,
    http::{HeaderMap, StatusCode, header},
};
use serde_json::Value;

use super::{
    MAX_BODY_BYTES,
    status::{ApiError, ApiResult},
};

/// The media type of a request body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_yaml(media: &str) -> bool {
    matches!(media, "application/yaml" | "application/x-yaml" | "text/yaml" | "application/apply-patch+yaml")
}

fn is_json(media: &str) -> bool {
    matches!(
        media,
        "application/json"
            | "application/merge-patch+json"
            | "application/json-patch+json"
            | "application/strategic-merge-patch+json"
    )
}

pub async fn read(body: Body, headers: &HeaderMap) -> ApiResult<Value> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
        )
    })?;
    let media = content_type(headers);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request has no body: send the object as JSON or YAML"));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the request body is not UTF-8 text"))?;
    if is_json(&media) {
        parse_json(text)
    } else if is_yaml(&media) {
        parse_yaml(text)
    } else if media.is_empty() || media == "text/plain" {
        parse_json(text).or_else(|_| parse_yaml(text))
    } else {
        Err(ApiError::unsupported_media_type(&media))
    }
}

pub fn parse_json(text: &str) -> ApiResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

pub fn parse_yaml(text: &str) -> ApiResult<Value> {
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(media: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, media.parse().unwrap());
        h
    }

    #[tokio::test]
    async fn json_yaml_and_their_errors() {
        let v = read(Body::from("{\"a\": 1}"), &headers("application/json")).await.unwrap();
        assert_eq!(v["a"], 1);
        let v = read(Body::from("a: 1\nb: [x]\n"), &headers("application/yaml")).await.unwrap();
        assert_eq!(v["b"][0], "x");
        let e = read(Body::from("{\"a\": "), &headers("application/json")).await.unwrap_err();
        assert_eq!(e.code, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        let e = read(Body::from("a: [1, 2\n"), &headers("application/yaml")).await.unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{}", e.message);
        let e = read(Body::from(vec![b' '; MAX_BODY_BYTES + 1]), &headers("application/json")).await.unwrap_err();
        assert_eq!(e.code, StatusCode::PAYLOAD_TOO_LARGE);
        let e = read(Body::from("x"), &headers("application/vnd.kubernetes.protobuf")).await.unwrap_err();
        assert_eq!(e.code, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
