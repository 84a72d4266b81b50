//! Validation messages keyed by the JSON pointer of the field they belong to, and the wording
//! shared by the browser's checks and the server's, so both say the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pointer;
use super::units::{format_number, format_value};

/// Messages per field. A missing required property is reported at the pointer of the property
/// itself (so the message sits beside the empty field); everything else at the value it is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldErrors {
    entries: BTreeMap<String, Vec<String>>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message at `pointer`; the same message twice at one pointer is kept once.
    pub fn push(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        let list = self.entries.entry(pointer.into()).or_default();
        let message = message.into();
        if !list.contains(&message) {
            list.push(message);
        }
    }

    /// Adds every message of `other`.
    pub fn extend(&mut self, other: FieldErrors) {
        for (pointer, messages) in other.entries {
            for message in messages {
                self.push(pointer.clone(), message);
            }
        }
    }

    /// The messages about exactly this field.
    pub fn at(&self, pointer: &str) -> &[String] {
        self.entries.get(pointer).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The messages about this field and everything below it, with their pointers.
    pub fn within<'a>(&'a self, ancestor: &'a str) -> impl Iterator<Item = (&'a str, &'a [String])> + 'a {
        self.entries
            .range(ancestor.to_string()..)
            .take_while(move |(p, _)| p.starts_with(ancestor))
            .filter(move |(p, _)| pointer::is_within(p, ancestor))
            .map(|(p, m)| (p.as_str(), m.as_slice()))
    }

    /// Whether there are messages about this field or anything below it.
    pub fn has_within(&self, ancestor: &str) -> bool {
        self.within(ancestor).next().is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of messages.
    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    /// Every (pointer, message), ordered by pointer.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().flat_map(|(p, ms)| ms.iter().map(move |m| (p.as_str(), m.as_str())))
    }

    /// The pointers that have messages.
    pub fn pointers(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// The wording of each kind of problem.
pub mod msg {
    use super::*;

    pub const REQUIRED: &str = "Required";

    pub fn wrong_type(expected: &[&str]) -> String {
        let names: Vec<&str> = expected.iter().map(|t| type_name(t)).collect();
        format!("Must be {}", join_or(&names))
    }

    fn type_name(t: &str) -> &str {
        match t {
            "string" => "text",
            "integer" => "a whole number",
            "number" => "a number",
            "boolean" => "true or false",
            "object" => "an object",
            "array" => "a list",
            "null" => "empty",
            other => other,
        }
    }

    pub fn minimum(limit: f64, exclusive: bool) -> String {
        if exclusive {
            format!("Must be greater than {}", format_number(limit))
        } else {
            format!("Must be at least {}", format_number(limit))
        }
    }

    pub fn maximum(limit: f64, exclusive: bool) -> String {
        if exclusive {
            format!("Must be less than {}", format_number(limit))
        } else {
            format!("Must be at most {}", format_number(limit))
        }
    }

    pub fn multiple_of(step: f64) -> String {
        format!("Must be a multiple of {}", format_number(step))
    }

    pub fn min_length(limit: u64) -> String {
        if limit == 1 { "Must not be empty".to_string() } else { format!("Must be at least {limit} characters") }
    }

    pub fn max_length(limit: u64) -> String {
        format!("Must be at most {limit} characters")
    }

    pub fn pattern(pattern: &str) -> String {
        format!("Must match the pattern {pattern}")
    }

    pub fn pattern_unchecked(pattern: &str) -> String {
        format!("Cannot check pattern {pattern} here; the broker will check it")
    }

    pub fn one_of_values(options: &[Value]) -> String {
        const SHOWN: usize = 8;
        let mut shown: Vec<String> = options.iter().take(SHOWN).map(format_value).collect();
        if options.len() > SHOWN {
            shown.push(format!("… ({} choices)", format_number(options.len() as f64)));
        }
        format!("Must be one of: {}", shown.join(", "))
    }

    pub fn constant(expected: &Value) -> String {
        format!("Must be {}", format_value(expected))
    }

    pub fn min_items(limit: u64) -> String {
        if limit == 1 { "Add at least one item".to_string() } else { format!("Add at least {limit} items") }
    }

    pub fn max_items(limit: u64) -> String {
        format!("At most {limit} items")
    }

    pub const UNIQUE_ITEMS: &str = "Items must be unique";

    pub fn min_properties(limit: u64) -> String {
        format!("Needs at least {limit} entries")
    }

    pub fn max_properties(limit: u64) -> String {
        format!("At most {limit} entries")
    }

    pub fn unknown_property(name: &str) -> String {
        format!("Unknown setting \u{201c}{name}\u{201d}")
    }

    pub fn property_name(name: &str, problem: &str) -> String {
        format!("Key \u{201c}{name}\u{201d}: {problem}")
    }

    pub fn format(format: &str) -> String {
        match format {
            "email" => "Must be an email address".to_string(),
            "uri" | "url" => "Must be a URI such as https://example.com".to_string(),
            "hostname" => "Must be a host name".to_string(),
            "ipv4" => "Must be an IPv4 address".to_string(),
            "ipv6" => "Must be an IPv6 address".to_string(),
            "date-time" => "Must be a date and time such as 2024-01-31T12:00:00Z".to_string(),
            "date" => "Must be a date such as 2024-01-31".to_string(),
            other => format!("Must be a valid {other}"),
        }
    }

    pub const NO_OPTION_MATCHES: &str = "Does not match any of the options";
    pub const SEVERAL_OPTIONS_MATCH: &str = "Matches more than one of the options";
    pub const NOT_ALLOWED: &str = "This value is not allowed";
    pub const CONTAINS: &str = "None of the items has the required form";

    pub fn dependency(present: &str, missing: &str) -> String {
        format!("Required when \u{201c}{present}\u{201d} is set (missing \u{201c}{missing}\u{201d})")
    }

    fn join_or(words: &[&str]) -> String {
        match words {
            [] => "something else".to_string(),
            [one] => (*one).to_string(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_by_pointer() {
        let mut e = FieldErrors::new();
        e.push("/a", "x");
        e.push("/a", "x");
        e.push("/a/b", "y");
        e.push("/ab", "z");
        assert_eq!(e.len(), 3);
        assert_eq!(e.at("/a"), ["x".to_string()]);
        let within: Vec<_> = e.within("/a").map(|(p, _)| p).collect();
        assert_eq!(within, vec!["/a", "/a/b"]);
        assert!(e.has_within(""));
        assert!(!e.has_within("/c"));
    }

    #[test]
    fn wording() {
        assert_eq!(msg::minimum(1024.0, false), "Must be at least 1,024");
        assert_eq!(msg::maximum(10.0, true), "Must be less than 10");
        assert_eq!(msg::wrong_type(&["integer"]), "Must be a whole number");
        assert_eq!(msg::wrong_type(&["string", "null"]), "Must be text or empty");
    }
}
