//! Every plan schema of the real-world corpus (`../shared/corpus/schemas`, or `$QM_CORPUS_DIR`)
//! compiles to a form, renders on the server with each top-level field, fills its defaults, and
//! round-trips them (form value → parameters → form value); the parameters those defaults make
//! pass the server's validator, except for required fields the schema gives no usable default
//! and for defaults the schema itself gets wrong. One line per schema is printed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app::schema_form::{
    FieldKind, SchemaForm, compile, from_parameters, initial_value, to_parameters, validate, validate::check_against,
};
use leptos::prelude::*;
use serde_json::Value;
use server::params::ParamsValidator;

fn corpus_schemas() -> Option<PathBuf> {
    let candidates = std::env::var_os("QM_CORPUS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .flat_map(|dir| [dir.join("schemas"), dir])
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/schemas")]);
    for dir in candidates {
        if dir.is_dir()
            && std::fs::read_dir(&dir).ok()?.flatten().any(|e| e.path().extension().is_some_and(|x| x == "json"))
        {
            return Some(dir);
        }
    }
    None
}

fn render(model: &app::schema_form::FormModel, start: Value) -> String {
    let owner = Owner::new();
    owner.with(|| {
        let value = RwSignal::new(start);
        let errors = Signal::derive({
            let model = model.clone();
            move || value.with(|v| validate(&model, v))
        });
        view! { <SchemaForm model=model.clone() value=value errors=errors show_all=true /> }.to_html()
    })
}

fn attr_escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Pointers (into the value) of defaults that the schema's own subschema rejects.
fn own_invalid_defaults(root: &Value, schema: &Value, at: &str, out: &mut Vec<String>) {
    let Some(map) = schema.as_object() else { return };
    if let Some(default) = map.get("default")
        && !check_against(root, schema, default, "").is_empty()
    {
        out.push(at.to_string());
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (k, s) in props {
            own_invalid_defaults(root, s, &app::schema_form::pointer::child(at, k), out);
        }
    }
    if let Some(items) = map.get("items") {
        own_invalid_defaults(root, items, &format!("{at}/*"), out);
    }
    for kw in ["oneOf", "anyOf", "allOf"] {
        for s in map.get(kw).and_then(Value::as_array).into_iter().flatten() {
            own_invalid_defaults(root, s, at, out);
        }
    }
}

/// `/list/0/x` is below `/list/*` (either may hold `*` for "any item").
fn below_pattern(pointer: &str, pattern: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pointer.split('/').collect(), pattern.split('/').collect());
    p.len() >= q.len() && q.iter().zip(&p).all(|(a, b)| *a == "*" || *b == "*" || a == b)
}

struct Outcome {
    line: String,
    failure: Option<String>,
    spent: Duration,
}

fn check_schema(path: &Path) -> Outcome {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fail = |why: String| Outcome {
        line: format!("FAIL {name}: {why}"),
        failure: Some(format!("{name}: {why}")),
        spent: Duration::ZERO,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(format!("unreadable: {e}")),
    };
    let schema: Value = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => return fail(format!("not JSON: {e}")),
    };
    let started = Instant::now();
    let model = compile(&schema);
    let defaults = initial_value(&model);
    let html = match catch_unwind(AssertUnwindSafe(|| render(&model, defaults.clone()))) {
        Ok(html) => html,
        Err(_) => return fail("rendering panicked".into()),
    };
    let client_errors = validate(&model, &defaults);
    let validator = ParamsValidator::new(&schema);
    let parameters = to_parameters(&model, &defaults);
    let server_errors = validator.validate(&parameters);
    let spent = started.elapsed();

    let mut problems: Vec<String> = Vec::new();
    let keys: Vec<String> = model.top_level_fields().iter().filter_map(|f| f.key.clone()).collect();
    for key in &keys {
        let attr = format!(r#"data-field="{}""#, attr_escaped(&app::schema_form::pointer::child("", key)));
        if !html.contains(&attr) {
            problems.push(format!("top-level field {key} not rendered"));
        }
    }
    for bad in ["unsupported", "Unsupported", "panicked"] {
        if html.contains(bad) {
            problems.push(format!("the page says {bad:?}"));
        }
    }
    let back = from_parameters(&model, &parameters);
    if back != defaults {
        problems.push(format!("defaults do not round-trip: {defaults} → {parameters} → {back}"));
    }
    let mut invalid_defaults = Vec::new();
    own_invalid_defaults(&schema, &schema, "", &mut invalid_defaults);
    let missing: Vec<&str> = server_errors.iter().filter(|(_, m)| *m == "Required").map(|(p, _)| p).collect();
    let unexpected: Vec<String> = server_errors
        .iter()
        // An invalid default can surface below it, or above it (at a `oneOf` that then matches nothing).
        .filter(|(p, m)| {
            *m != "Required" && !invalid_defaults.iter().any(|d| below_pattern(p, d) || below_pattern(d, p))
        })
        .map(|(p, m)| format!("{p}: {m}"))
        .collect();
    if !unexpected.is_empty() {
        problems.push(format!("defaults rejected by the server validator: {unexpected:?}"));
    }
    let client: Vec<&str> = client_errors.pointers().collect();
    let server: Vec<&str> = server_errors.pointers().collect();
    if client != server {
        problems.push(format!("browser and server disagree on the defaults: browser {client:?}, server {server:?}"));
    }

    let json_fields = model.walk().iter().filter(|(_, f)| matches!(f.kind, FieldKind::Json)).count();
    let line = format!(
        "{} {name}: {} top-level fields, {} in all ({} as JSON); defaults {}{}; schema problems: {}",
        if problems.is_empty() { "ok  " } else { "FAIL" },
        keys.len(),
        model.walk().len(),
        json_fields,
        if missing.is_empty() { "valid".to_string() } else { format!("valid but for required {missing:?}") },
        if invalid_defaults.is_empty() {
            String::new()
        } else {
            format!(" (schema's own invalid defaults at {invalid_defaults:?})")
        },
        validator.schema_problems().len(),
    );
    let failure = (!problems.is_empty()).then(|| format!("{name}: {}", problems.join("; ")));
    Outcome { line: if let Some(f) = &failure { format!("{line}\n     {f}") } else { line }, failure, spent }
}

#[test]
fn every_corpus_schema_renders_fills_round_trips_and_validates() {
    let Some(dir) = corpus_schemas() else {
        println!(
            "SKIPPED: schema corpus not found (looked in $QM_CORPUS_DIR and ../shared/corpus/schemas from the project root)"
        );
        return;
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut failures = Vec::new();
    let mut total = Duration::ZERO;
    for path in &paths {
        let outcome = check_schema(path);
        println!("{}", outcome.line);
        total += outcome.spent;
        failures.extend(outcome.failure);
    }
    println!(
        "{} of {} corpus schemas pass (compile + render + defaults + both validators: {:.1} ms in all)",
        paths.len() - failures.len(),
        paths.len(),
        total.as_secs_f64() * 1000.0
    );
    assert!(failures.is_empty(), "{} schemas failed:\n{}", failures.len(), failures.join("\n"));
}
