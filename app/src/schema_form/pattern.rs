//! `pattern` checks with ECMAScript regular expressions, as JSON Schema defines them.
//!
//! In the browser the page's own `RegExp` does it (exact ECMAScript semantics, nothing added to
//! the wasm bundle). On the server (`ssr`) the pattern is translated to Rust syntax and run with
//! `fancy-regex`, which has look-around and back-references. A pattern the engine at hand does not
//! accept is reported as not checkable; it never panics.

use std::cell::RefCell;
use std::collections::HashMap;

/// What a pattern check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatternCheck {
    Matches,
    DoesNotMatch,
    /// The pattern cannot be compiled (or run) here.
    Unchecked,
}

/// Compiled patterns are kept per thread; the list is emptied when it grows past this.
const CACHE_LIMIT: usize = 512;

thread_local! {
    static CACHE: RefCell<HashMap<String, Option<engine::Compiled>>> = RefCell::new(HashMap::new());
}

/// Whether `text` contains a match of `pattern` (patterns are not anchored unless they say so).
pub fn check(pattern: &str, text: &str) -> PatternCheck {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(pattern.to_string(), engine::compile(pattern));
        }
        match cache.get(pattern) {
            Some(Some(compiled)) => engine::is_match(compiled, text),
            _ => PatternCheck::Unchecked,
        }
    })
}

/// Whether the engine at hand can check this pattern at all.
pub fn is_checkable(pattern: &str) -> bool {
    engine::compile(pattern).is_some()
}

#[cfg(target_arch = "wasm32")]
mod engine {
    use super::PatternCheck;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// `RegExp(pattern, flags)` (called as a function it constructs, like `new`), with the
        /// `SyntaxError` of a bad pattern caught instead of thrown through the wasm.
        #[wasm_bindgen(catch, js_name = RegExp)]
        fn new_regexp(pattern: &str, flags: &str) -> Result<js_sys::RegExp, JsValue>;
    }

    pub(super) type Compiled = js_sys::RegExp;

    pub(super) fn compile(pattern: &str) -> Option<Compiled> {
        // Unicode mode first (what JSON Schema means); legacy mode for patterns written loosely.
        new_regexp(pattern, "u").or_else(|_| new_regexp(pattern, "")).ok()
    }

    pub(super) fn is_match(regexp: &Compiled, text: &str) -> PatternCheck {
        regexp.set_last_index(0);
        if regexp.test(text) { PatternCheck::Matches } else { PatternCheck::DoesNotMatch }
    }
}

#[cfg(all(not(target_arch = "wasm32"), feature = "ssr"))]
mod engine {
    use super::PatternCheck;

    pub(super) type Compiled = fancy_regex::Regex;

    pub(super) fn compile(pattern: &str) -> Option<Compiled> {
        let translated = jsonschema_regex::to_rust_regex(pattern).ok()?;
        fancy_regex::RegexBuilder::new(&translated).backtrack_limit(1_000_000).build().ok()
    }

    pub(super) fn is_match(regex: &Compiled, text: &str) -> PatternCheck {
        match regex.is_match(text) {
            Ok(true) => PatternCheck::Matches,
            Ok(false) => PatternCheck::DoesNotMatch,
            Err(_) => PatternCheck::Unchecked,
        }
    }
}

/// Neither the browser nor the server build: patterns are left to the server.
#[cfg(all(not(target_arch = "wasm32"), not(feature = "ssr")))]
mod engine {
    use super::PatternCheck;

    pub(super) type Compiled = ();

    pub(super) fn compile(_pattern: &str) -> Option<Compiled> {
        None
    }

    pub(super) fn is_match(_: &Compiled, _text: &str) -> PatternCheck {
        PatternCheck::Unchecked
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn ecmascript_patterns_with_look_ahead() {
        let name = "^(?!cpu-worker-0$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
        assert_eq!(check(name, "pool-1"), PatternCheck::Matches);
        assert_eq!(check(name, "cpu-worker-0"), PatternCheck::DoesNotMatch);
        assert_eq!(check("^\\d*$", "123"), PatternCheck::Matches);
        assert_eq!(check("^\\d*$", "12a"), PatternCheck::DoesNotMatch);
        // Not anchored: a match anywhere counts.
        assert_eq!(check("b", "abc"), PatternCheck::Matches);
    }

    #[test]
    fn broken_patterns_are_unchecked_not_fatal() {
        assert_eq!(check("([a-z", "abc"), PatternCheck::Unchecked);
        assert_eq!(check("(?<=", "abc"), PatternCheck::Unchecked);
        assert!(!is_checkable("[z-a]"));
    }
}
