//! What of a broker's URLs may reach the page. Broker text is untrusted: an image source must be
//! an http(s) URL or a `data:image/…` URL, a link must be http(s) (or, for a support address,
//! `mailto:`); anything else (`javascript:`, `data:text/html`, relative paths) is not used.

/// The largest `data:` image accepted (a broker could send megabytes).
const MAX_DATA_IMAGE: usize = 256 * 1024;

fn scheme_is(url: &str, prefix: &str) -> bool {
    url.len() >= prefix.len() && url[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Free of characters a browser would strip or that could break out of the attribute.
fn clean(url: &str) -> bool {
    !url.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>' | '\\' | '`'))
}

/// The URL if it may be the `src` of an `<img>`.
pub fn image_src(url: &str) -> Option<&str> {
    let url = url.trim();
    if !clean(url) {
        return None;
    }
    let http = (scheme_is(url, "https://") || scheme_is(url, "http://")) && url.len() < 4096;
    let data = scheme_is(url, "data:image/") && url.len() <= MAX_DATA_IMAGE;
    (http || data).then_some(url)
}

/// The URL if it may be the `href` of a link.
pub fn link_href(url: &str) -> Option<&str> {
    let url = url.trim();
    (clean(url) && (scheme_is(url, "https://") || scheme_is(url, "http://")) && url.len() < 4096).then_some(url)
}

/// The URL and its address if it is a `mailto:` link to an address (a broker's support address).
pub fn mailto(url: &str) -> Option<(&str, &str)> {
    let url = url.trim();
    if !clean(url) || !scheme_is(url, "mailto:") || url.len() >= 1024 {
        return None;
    }
    let address = url["mailto:".len()..].split('?').next().unwrap_or_default();
    address.contains('@').then_some((url, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_and_image_data_urls_pass() {
        assert_eq!(image_src("https://example.com/i.png"), Some("https://example.com/i.png"));
        assert_eq!(image_src(" HTTP://example.com/i.png "), Some("HTTP://example.com/i.png"));
        assert!(image_src("data:image/svg+xml;base64,PHN2Zz4=").is_some());
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "/relative.png",
            "//evil.example/x.png",
            "https://x/\"onerror=alert(1)",
            "",
        ] {
            assert_eq!(image_src(bad), None, "{bad}");
        }
        assert!(image_src(&format!("data:image/png;base64,{}", "A".repeat(MAX_DATA_IMAGE))).is_none());
        assert_eq!(link_href("https://docs.example.com"), Some("https://docs.example.com"));
        assert_eq!(link_href("mailto:team@example.com"), None);
        assert_eq!(link_href("data:image/png;base64,AA"), None);
        assert_eq!(link_href("javascript:alert(1)"), None);
        assert_eq!(mailto(" mailto:team@example.com "), Some(("mailto:team@example.com", "team@example.com")));
        assert_eq!(
            mailto("MAILTO:team@example.com?subject=HDFS"),
            Some(("MAILTO:team@example.com?subject=HDFS", "team@example.com"))
        );
        for bad in [
            "mailto:",
            "mailto:nobody",
            "mailto:?cc=a@b",
            "mailto:a@b\"onclick=x",
            "https://example.com",
            "javascript:x@y",
        ] {
            assert_eq!(mailto(bad), None, "{bad}");
        }
    }
}
