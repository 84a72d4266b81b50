//! Units for numeric fields ("GB", "files", "seconds"), found in a vendor hint or in the wording
//! of the title, description or property name, and numbers written the way people read them
//! ("2,048 GB").

use serde_json::Value;

/// Known unit words (lower case, as written in titles) and how the form shows them.
const UNITS: &[(&str, &str)] = &[
    ("bytes", "bytes"),
    ("byte", "bytes"),
    ("kb", "KB"),
    ("kbs", "KB"),
    ("mb", "MB"),
    ("mbs", "MB"),
    ("megabytes", "MB"),
    ("gb", "GB"),
    ("gbs", "GB"),
    ("gigabytes", "GB"),
    ("tb", "TB"),
    ("tbs", "TB"),
    ("terabytes", "TB"),
    ("pb", "PB"),
    ("kib", "KiB"),
    ("mib", "MiB"),
    ("gib", "GiB"),
    ("tib", "TiB"),
    ("files", "files"),
    ("ms", "ms"),
    ("milliseconds", "ms"),
    ("seconds", "seconds"),
    ("secs", "seconds"),
    ("minutes", "minutes"),
    ("mins", "minutes"),
    ("hours", "hours"),
    ("days", "days"),
    ("weeks", "weeks"),
    ("months", "months"),
    ("years", "years"),
    ("percent", "%"),
    ("percentage", "%"),
    ("%", "%"),
    ("vcpus", "vCPUs"),
    ("vcpu", "vCPUs"),
    ("cpus", "CPUs"),
    ("cores", "cores"),
    ("nodes", "nodes"),
    ("partitions", "partitions"),
    ("replicas", "replicas"),
    ("dtus", "DTUs"),
    ("dtu", "DTUs"),
    ("connections", "connections"),
    ("messages", "messages"),
    ("requests", "requests"),
];

fn known_unit(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    UNITS.iter().find(|(w, _)| *w == lower).map(|(_, shown)| *shown)
}

/// The unit of a numeric field: a vendor hint (`x-unit`, `unit`, `x-units`, `units`) when the
/// broker gives one, else a unit named in the title ("HDFS storage (GB)", "Size in GB"), the
/// property name (`maxIntervalInSeconds`) or the description ("Namespace quota in files").
pub fn find_unit(schema: &Value, key: Option<&str>) -> Option<String> {
    for hint in ["x-unit", "unit", "x-units", "units"] {
        if let Some(text) = schema.get(hint).and_then(Value::as_str) {
            let text = text.trim();
            if !text.is_empty() && text.chars().count() <= 24 {
                return Some(text.to_string());
            }
        }
    }
    let title = schema.get("title").and_then(Value::as_str).unwrap_or("");
    let description = schema.get("description").and_then(Value::as_str).unwrap_or("");
    if let Some(unit) = parenthesised_unit(title).or_else(|| unit_after_in(title)).or_else(|| last_word_unit(title)) {
        return Some(unit);
    }
    if let Some(unit) = key.and_then(|k| unit_after_in(&split_camel(k))) {
        return Some(unit);
    }
    // Only the first sentence of a description: later ones tend to talk about other things.
    let first_sentence = description.split(". ").next().unwrap_or("");
    parenthesised_unit(first_sentence).or_else(|| unit_after_in(first_sentence))
}

/// "(GB)", "(in GB)" anywhere in the text.
fn parenthesised_unit(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        let close = after.find(')')?;
        let inner = after[..close].trim();
        let inner = inner.strip_prefix("in ").or_else(|| inner.strip_prefix("In ")).unwrap_or(inner).trim();
        if let Some(unit) = known_unit(inner) {
            return Some(unit.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

/// "… in GB", "Storage Size In TBs".
fn unit_after_in(text: &str) -> Option<String> {
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|w| !w.is_empty()).collect();
    words.windows(2).find_map(|pair| {
        let unit = pair[1].trim_end_matches(['.', ')', ':']);
        pair[0].eq_ignore_ascii_case("in").then(|| known_unit(unit)).flatten().map(str::to_string)
    })
}

/// "Disk size GB".
fn last_word_unit(text: &str) -> Option<String> {
    let last = text.split_whitespace().last()?;
    let unit = known_unit(last)?;
    // Only abbreviations: "… files" as the last word of a title is usually a noun, not a unit.
    (unit.chars().any(|c| c.is_ascii_uppercase()) && text.split_whitespace().count() > 1).then(|| unit.to_string())
}

/// `maxIntervalInSeconds` → "max Interval In Seconds".
fn split_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 8);
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '_' || c == '-' {
            out.push(' ');
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    out
}

/// A number with thousands separators: 2048 → "2,048", 1234.5 → "1,234.5".
pub fn format_number(n: f64) -> String {
    if !n.is_finite() {
        return n.to_string();
    }
    let text = if n.fract() == 0.0 && n.abs() < 9.0e15 { format!("{}", n as i64) } else { format!("{n}") };
    group_thousands(&text)
}

fn group_thousands(text: &str) -> String {
    let (sign, digits) = text.strip_prefix('-').map_or(("", text), |rest| ("-", rest));
    let (int, frac) = digits.split_once('.').map_or((digits, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A number with its unit: "2,048 GB", "50%".
pub fn format_with_unit(n: f64, unit: Option<&str>) -> String {
    match unit {
        Some("%") => format!("{}%", format_number(n)),
        Some(unit) => format!("{} {unit}", format_number(n)),
        None => format_number(n),
    }
}

/// Reads a number as people type it: "2,048", "2 048", "1_000", " 12.5 ".
pub fn parse_number(text: &str) -> Option<f64> {
    let cleaned: String = text.trim().chars().filter(|c| !matches!(c, ',' | '_' | ' ' | '\u{a0}')).collect();
    if cleaned.is_empty() {
        return None;
    }
    cleaned.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A JSON value as a short human text: strings bare, numbers grouped, `null` as "empty".
pub fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) if s.is_empty() => "(empty)".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map(format_number).unwrap_or_else(|| n.to_string()),
        Value::Bool(b) => b.to_string(),
        Value::Null => "empty".to_string(),
        other => {
            let text = other.to_string();
            if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_units_in_titles_descriptions_keys_and_hints() {
        assert_eq!(find_unit(&json!({"title": "HDFS storage (GB)"}), None).as_deref(), Some("GB"));
        assert_eq!(find_unit(&json!({"description": "Namespace quota in files"}), None).as_deref(), Some("files"));
        assert_eq!(find_unit(&json!({"description": "Storage Size In TBs"}), None).as_deref(), Some("TB"));
        assert_eq!(find_unit(&json!({"title": "Quota", "x-unit": "GiB"}), None).as_deref(), Some("GiB"));
        assert_eq!(find_unit(&json!({"unit": "files"}), None).as_deref(), Some("files"));
        assert_eq!(find_unit(&json!({}), Some("maxIntervalInSeconds")).as_deref(), Some("seconds"));
        assert_eq!(find_unit(&json!({"title": "Disk size GB"}), None).as_deref(), Some("GB"));
        assert_eq!(find_unit(&json!({"title": "Number of partitions"}), None), None);
        assert_eq!(find_unit(&json!({"title": "Name (optional)"}), None), None);
        assert_eq!(find_unit(&json!({"description": "Size. Stored in GB later"}), None), None);
    }

    #[test]
    fn formats_numbers_with_separators() {
        assert_eq!(format_number(2048.0), "2,048");
        assert_eq!(format_number(102400.0), "102,400");
        assert_eq!(format_number(-1234567.0), "-1,234,567");
        assert_eq!(format_number(1234.5), "1,234.5");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(100.0), "100");
        assert_eq!(format_with_unit(2048.0, Some("GB")), "2,048 GB");
        assert_eq!(format_with_unit(50.0, Some("%")), "50%");
        assert_eq!(format_with_unit(50000.0, Some("files")), "50,000 files");
    }

    #[test]
    fn parses_numbers_as_typed() {
        assert_eq!(parse_number("2,048"), Some(2048.0));
        assert_eq!(parse_number(" 1_000.5 "), Some(1000.5));
        assert_eq!(parse_number(""), None);
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("inf"), None);
    }

    #[test]
    fn formats_values_briefly() {
        assert_eq!(format_value(&json!("")), "(empty)");
        assert_eq!(format_value(&json!(4096)), "4,096");
        assert_eq!(format_value(&json!(null)), "empty");
        assert!(format_value(&json!({"a": "x".repeat(100)})).ends_with('…'));
    }
}
