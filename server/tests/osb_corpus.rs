//! Real brokers' catalogs and schemas from the shared corpus (`../shared/corpus`, or
//! `$QM_CORPUS_DIR`): every catalog loads, every schema is accepted or gets a precise message.
//! Skips, saying so, when the corpus is absent.

mod osb_support;

use std::path::Path;

use osb_support::corpus_dir;
use server::osb::{
    Outcome, Severity,
    checks::{SchemaVerdict, check_schema},
    parse_catalog,
};

fn json_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("readable corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_catalog_loads_with_problems_placed() {
    let Some(corpus) = corpus_dir() else { return };
    let files = json_files(&corpus.join("catalogs"));
    assert_eq!(files.len(), 10, "the corpus holds 10 catalogs");
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = std::fs::read(&file).expect("readable");
        let parsed = parse_catalog(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        let raw_services = raw["services"].as_array().map_or(0, Vec::len);
        let plans: usize = parsed.catalog.services.iter().map(|s| s.plans.len()).sum();
        assert!(!parsed.catalog.services.is_empty() && plans > 0, "{name}: nothing usable");
        let errors = parsed.problems.iter().filter(|p| p.severity == Severity::Error).count();
        eprintln!(
            "{name}: {}/{raw_services} services, {plans} plans, {errors} errors, {} warnings",
            parsed.catalog.services.len(),
            parsed.problems.len() - errors,
        );
        for problem in &parsed.problems {
            eprintln!("  {:?}: {}", problem.severity, problem.message);
            assert!(problem.service_index.is_some(), "{name}: unplaced problem {problem:?}");
            if problem.schema.is_some() {
                assert!(problem.plan_id.is_some(), "{name}: schema problem without its plan: {problem:?}");
            }
        }
        // Round trip: what was kept serializes and reads back identically (unknown fields kept).
        let again = parse_catalog(&serde_json::to_vec(&parsed.catalog).expect("serialize")).expect("reparse");
        assert_eq!(again.catalog, parsed.catalog, "{name}: round trip");
    }
}

#[test]
fn every_corpus_schema_is_accepted_or_gets_a_precise_message() {
    let Some(corpus) = corpus_dir() else { return };
    let files = json_files(&corpus.join("schemas"));
    assert!(files.len() >= 90, "the corpus holds 97 schemas, found {}", files.len());
    let (mut accepted, mut warned, mut refused) = (0, 0, 0);
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).expect("readable")).expect("json");
        match check_schema(&schema) {
            SchemaVerdict::Accepted => accepted += 1,
            SchemaVerdict::Warned(message) => {
                warned += 1;
                eprintln!("{name}: warning: {message}");
                assert!(
                    message.contains("at /") || message.contains("at the root") || message.contains("$schema"),
                    "{name}: imprecise: {message}"
                );
            }
            SchemaVerdict::Refused(message) => {
                refused += 1;
                eprintln!("{name}: refused: {message}");
                assert!(!message.is_empty());
            }
        }
    }
    eprintln!("{accepted} accepted, {warned} with warnings, {refused} refused");
    assert!(accepted > 0);
}

#[tokio::test]
async fn the_largest_corpus_catalog_travels_over_http() {
    let Some(corpus) = corpus_dir() else { return };
    let bytes = std::fs::read(corpus.join("catalogs/osba__default.json")).expect("readable");
    let router = axum::Router::new().route("/v2/catalog", axum::routing::get(move || async move { bytes.clone() }));
    let url = osb_support::serve(router).await;
    let reply = osb_support::client(&url).catalog().await;
    let Outcome::Done { body, .. } = reply.outcome else { panic!("{:?}", reply.outcome) };
    assert!(body.catalog.services.len() >= 20, "{}", body.catalog.services.len());
}
