//! The OSB catalog parser on arbitrary bytes (the seeds are real catalogs, so most inputs are
//! JSON close to a catalog). It must never panic, and what it keeps must read back as itself:
//! the parsed catalog, written out and parsed again, is the same catalog with no new errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::osb::{Severity, parse_catalog};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = parse_catalog(data) else { return };
    let _ = parsed.has_errors();
    for problem in &parsed.problems {
        assert!(!problem.message.is_empty(), "a catalog problem without a message: {problem:?}");
    }
    let written = serde_json::to_vec(&parsed.catalog).expect("a parsed catalog serializes");
    let again = parse_catalog(&written).expect("a parsed catalog, written out, is readable");
    let errors: Vec<&str> =
        again.problems.iter().filter(|p| p.severity == Severity::Error).map(|p| p.message.as_str()).collect();
    assert!(errors.is_empty(), "what the parser kept is refused when read again: {errors:?}");
    assert_eq!(again.catalog, parsed.catalog, "the kept catalog does not read back as itself");
});
