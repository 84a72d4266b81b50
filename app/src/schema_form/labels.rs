//! Readable texts out of schema parts: labels from property names, help from descriptions.
//! Everything here stays plain text; the widgets render it as text nodes, never as HTML.

use serde_json::Value;

/// `storageSpaceQuota` → "Storage space quota", `issuerURL` → "Issuer URL", `max_queue_size` →
/// "Max queue size".
pub fn humanize(key: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = key.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '_' | '-' | ' ' | '.') {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let boundary = match prev {
            Some(p) if c.is_uppercase() && p.is_lowercase() => true,
            // The last capital of an acronym starts the next word: "URLPath" → "URL", "Path".
            Some(p) if c.is_uppercase() && p.is_uppercase() && next.is_some_and(char::is_lowercase) => true,
            _ => false,
        };
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut out = String::with_capacity(key.len() + words.len());
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let acronym = word.chars().filter(|c| c.is_alphabetic()).count() > 1 && !word.chars().any(char::is_lowercase);
        if acronym {
            out.push_str(word);
        } else if i == 0 {
            let mut cs = word.chars();
            if let Some(first) = cs.next() {
                out.extend(first.to_uppercase());
                out.push_str(&cs.as_str().to_lowercase());
            }
        } else {
            out.push_str(&word.to_lowercase());
        }
    }
    out
}

/// Help text out of a description. Some brokers put a little HTML in descriptions (links, line
/// breaks); links become "text (address)" and a few formatting tags are dropped. Anything else,
/// `<script>` included, stays as literal text, which the page escapes.
pub fn help_text(description: &str) -> String {
    const DROPPED: &[&str] =
        &["br", "br/", "b", "/b", "i", "/i", "em", "/em", "strong", "/strong", "code", "/code", "p", "/p", "/a"];
    let mut out = String::with_capacity(description.len());
    let mut rest = description;
    let mut pending_href: Option<String> = None;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if !after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') {
            out.push('<');
            rest = after;
            continue;
        }
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = after[..close].trim();
        let name = tag.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        if name == "a" {
            pending_href = link_target(tag);
        } else if DROPPED.contains(&name.as_str()) {
            if name == "/a"
                && let Some(href) = pending_href.take()
            {
                out.push_str(&format!(" ({href})"));
            }
            if name.starts_with("br") || name == "p" {
                out.push(' ');
            }
        } else {
            out.push('<');
            out.push_str(&after[..=close]);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn link_target(tag: &str) -> Option<String> {
    let at = tag.find("href=")?;
    let value = &tag[at + 5..];
    let value = value.trim_start();
    let target = if let Some(quoted) = value.strip_prefix('"') {
        quoted.split('"').next()?
    } else if let Some(quoted) = value.strip_prefix('\'') {
        quoted.split('\'').next()?
    } else {
        value.split_whitespace().next()?
    };
    (target.starts_with("http://") || target.starts_with("https://")).then(|| target.to_string())
}

/// The text of a value inside a choice when the broker gives no label.
pub fn value_label(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "(none)".to_string(),
        Value::String(s) => s.clone(),
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

/// A string the broker gives for display, if it is one and is not blank.
pub fn text_of(schema: &Value, keyword: &str) -> Option<String> {
    schema.get(keyword).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanizes_property_names() {
        assert_eq!(humanize("storageSpaceQuota"), "Storage space quota");
        assert_eq!(humanize("issuerURL"), "Issuer URL");
        assert_eq!(humanize("URLPath"), "URL path");
        assert_eq!(humanize("max_queue_size"), "Max queue size");
        assert_eq!(humanize("autoScalerMin"), "Auto scaler min");
        assert_eq!(humanize("name"), "Name");
    }

    #[test]
    fn help_keeps_links_and_leaves_other_markup_literal() {
        assert_eq!(
            help_text("See <a href=https://help.example/x?a=1>Modules</a>.<br>More"),
            "See Modules (https://help.example/x?a=1). More"
        );
        assert_eq!(help_text("<script>alert(1)</script>"), "<script>alert(1)</script>");
        assert_eq!(help_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(help_text("<a href=\"javascript:alert(1)\">x</a>"), "x");
    }
}
