//! The services' icons, served by the broker as SVG (`GET /icons/{service}.svg`) and named by
//! absolute URL in each service's `metadata.imageUrl`.
//!
//! One drawing style for all: a light tile with a thin border, a glyph in slate strokes and one
//! element in the service's accent colour, so the tiles read alike in a grid yet stay distinct
//! (and legible on the portal's light and dark themes, the tile carrying its own background).

use std::{collections::HashMap, fmt::Write as _};

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::Shared;

const INK: &str = "#334155";
const TILE: &str = "#f8fafc";
const BORDER: &str = "#cbd5e1";

/// One icon, rendered once.
pub struct Icon {
    pub svg: String,
    /// Strong validator for conditional requests (a hash of the SVG).
    pub etag: HeaderValue,
}

/// The absolute URL of a service's icon for a broker reachable at `public_url`.
pub fn url(public_url: &str, service: &str) -> String {
    format!("{}/icons/{service}.svg", public_url.trim_end_matches('/'))
}

/// Icons for the given services, by service name: `(name, display name)`.
pub fn render_all<'a>(services: impl IntoIterator<Item = (&'a str, &'a str)>) -> HashMap<String, Icon> {
    services
        .into_iter()
        .map(|(name, title)| {
            let svg = svg(name, title);
            let etag = HeaderValue::from_str(&format!("\"{:016x}\"", fnv1a(svg.as_bytes())))
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            (name.to_string(), Icon { svg, etag })
        })
        .collect()
}

/// `GET /icons/{file}`: the SVG, cacheable for a day and revalidated by ETag.
pub(super) async fn serve(State(broker): State<Shared>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(icon) = file.strip_suffix(".svg").and_then(|name| broker.icons.get(name)) else {
        return (StatusCode::NOT_FOUND, "no such icon").into_response();
    };
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| matches!(tag.trim(), "*") || tag.trim() == icon.etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Body::from(icon.svg.clone()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    h.insert(header::ETAG, icon.etag.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Opened directly, an SVG is a document: let it run nothing and load nothing.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}

/// The icon of `service` (a generic box for a name without a drawing of its own).
pub fn svg(service: &str, title: &str) -> String {
    let (accent, mono, highlight) = glyph(service);
    let mut svg = String::with_capacity(1024);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\" width=\"64\" height=\"64\" role=\"img\" \
         aria-label=\"{title}\"><title>{title}</title>\
         <rect x=\"1\" y=\"1\" width=\"62\" height=\"62\" rx=\"14\" fill=\"{TILE}\" stroke=\"{BORDER}\" stroke-width=\"2\"/>\
         <g fill=\"none\" stroke=\"{INK}\" stroke-width=\"3\" stroke-linecap=\"round\" stroke-linejoin=\"round\">{mono}</g>\
         <g fill=\"{accent}\" stroke=\"{accent}\" stroke-width=\"3\" stroke-linecap=\"round\" stroke-linejoin=\"round\">\
         {highlight}</g></svg>",
        title = escape(title),
    );
    svg
}

/// (accent colour, slate strokes, accent shapes) per service.
fn glyph(service: &str) -> (&'static str, String, String) {
    match service {
        // A folder holding replicated blocks, one of them highlighted.
        "hdfs" => (
            "#2563eb",
            format!(
                "<path d=\"M14 20h12l4 4h20v22a2 2 0 0 1-2 2H16a2 2 0 0 1-2-2z\"/>\
                 <rect x=\"19.5\" y=\"32.5\" width=\"7\" height=\"7\" rx=\"1\" fill=\"{INK}\" stroke=\"none\"/>\
                 <rect x=\"37.5\" y=\"32.5\" width=\"7\" height=\"7\" rx=\"1\" fill=\"{INK}\" stroke=\"none\"/>"
            ),
            "<rect x=\"28.5\" y=\"32.5\" width=\"7\" height=\"7\" rx=\"1\" stroke=\"none\"/>".into(),
        ),
        // A honeycomb (the hive), one cell filled.
        "hive" => ("#d97706", hexagon(24.2, 25.0) + &hexagon(39.8, 25.0), hexagon(32.0, 38.5)),
        // An append-only log: a row of records, the newest highlighted, time flowing right.
        "kafka" => (
            "#0d9488",
            "<rect x=\"12\" y=\"21\" width=\"40\" height=\"13\" rx=\"2\"/><path d=\"M22 21v13M32 21v13M42 21v13\"/>\
             <path d=\"M16 43h32m-5-5 5 5-5 5\"/>"
                .into(),
            "<rect x=\"43.5\" y=\"22.5\" width=\"7\" height=\"10\" stroke=\"none\"/>".into(),
        ),
        // Split into map tasks, merged by the reduce.
        "mapreduce" => (
            "#7c3aed",
            "<path d=\"M19 32l9-12M19 32h9M19 32l9 12M36 20l8 10M36 32h7M36 44l8-10\"/>\
             <circle cx=\"16\" cy=\"32\" r=\"3.5\"/><circle cx=\"32\" cy=\"19\" r=\"3.5\"/>\
             <circle cx=\"32\" cy=\"32\" r=\"3.5\"/><circle cx=\"32\" cy=\"45\" r=\"3.5\"/>"
                .into(),
            "<circle cx=\"47\" cy=\"32\" r=\"4\"/>".into(),
        ),
        // A spark: a four-pointed star with two small glints.
        "spark" => (
            "#ea580c",
            "<path d=\"M46 13v8M42 17h8\"/><circle cx=\"17\" cy=\"47\" r=\"1.5\"/>".into(),
            "<path d=\"M32 16c1.6 9.5 6.5 14.4 16 16-9.5 1.6-14.4 6.5-16 16-1.6-9.5-6.5-14.4-16-16 9.5-1.6 14.4-6.5 16-16z\"/>"
                .into(),
        ),
        // A wide table with one column family highlighted.
        "hbase" => (
            "#db2777",
            "<rect x=\"14\" y=\"17\" width=\"36\" height=\"30\" rx=\"3\"/><path d=\"M26 17v30M38 17v30M14 27h36M14 37h36\"/>"
                .into(),
            "<rect x=\"27.5\" y=\"18.5\" width=\"9\" height=\"7\" stroke=\"none\" opacity=\"0.9\"/>\
             <rect x=\"27.5\" y=\"28.5\" width=\"9\" height=\"7\" stroke=\"none\" opacity=\"0.9\"/>\
             <rect x=\"27.5\" y=\"38.5\" width=\"9\" height=\"7\" stroke=\"none\" opacity=\"0.9\"/>"
                .into(),
        ),
        // Stacked in-memory layers, the hot one on top.
        "redis" => (
            "#dc2626",
            "<path d=\"M16 33l16 8 16-8M16 41l16 8 16-8\"/>".into(),
            "<path d=\"M16 25l16-8 16 8-16 8z\"/>".into(),
        ),
        // A message on its way: an envelope with motion lines, its flap highlighted.
        "rabbitmq" => (
            "#16a34a",
            "<rect x=\"20\" y=\"20\" width=\"32\" height=\"24\" rx=\"2.5\"/><path d=\"M10 26h5M8 32h7M10 38h5\"/>".into(),
            "<path d=\"M22 23l14 10 14-10\" fill=\"none\"/>".into(),
        ),
        // A storm cloud and its bolt.
        "storm" => (
            "#ca8a04",
            "<path d=\"M22 33a7 7 0 0 1 .5-14 10 10 0 0 1 19-3 8.5 8.5 0 0 1 2.5 17z\"/>".into(),
            "<path d=\"M34 28l-8 12h6l-3 10 10-13h-6l3-9z\" stroke-width=\"1.5\"/>".into(),
        ),
        // Anything else: a parcel.
        _ => (
            "#475569",
            "<path d=\"M14 24l18-9 18 9v18l-18 9-18-9zM14 24l18 9 18-9M32 33v18\"/>".into(),
            "<path d=\"M23 19.5l18 9\" fill=\"none\"/>".into(),
        ),
    }
}

/// A pointy-topped hexagon of radius 9 around (cx, cy).
fn hexagon(cx: f64, cy: f64) -> String {
    let (r, w) = (9.0, 9.0 * 0.866);
    format!(
        "<path d=\"M{:.1} {:.1}L{:.1} {:.1}V{:.1}L{:.1} {:.1}L{:.1} {:.1}V{:.1}z\"/>",
        cx,
        cy - r,
        cx + w,
        cy - r / 2.0,
        cy + r / 2.0,
        cx,
        cy + r,
        cx - w,
        cy + r / 2.0,
        cy - r / 2.0,
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// FNV-1a, 64 bits: a stable hash for ETags (the same icon gives the same tag in every build).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_service_has_its_own_drawing() {
        let names = ["hdfs", "hive", "kafka", "mapreduce", "spark", "hbase", "redis", "rabbitmq", "storm"];
        let generic = glyph("something-else");
        let mut seen = std::collections::HashSet::new();
        for name in names {
            let (accent, mono, highlight) = glyph(name);
            assert_ne!((mono.as_str(), highlight.as_str()), (generic.1.as_str(), generic.2.as_str()), "{name}");
            assert!(seen.insert(accent), "{name} shares its accent colour");
            let svg = svg(name, "T<&>");
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"") && svg.ends_with("</svg>"));
            assert!(svg.contains("<title>T&lt;&amp;&gt;</title>"));
        }
    }

    #[test]
    fn urls_are_absolute_under_the_broker() {
        assert_eq!(url("http://127.0.0.1:3000/broker/", "hdfs"), "http://127.0.0.1:3000/broker/icons/hdfs.svg");
    }
}
