//! Server-side rendering of the widgets: every kind shows up with its pointer, broker text is
//! escaped, and messages appear beside their fields.

use leptos::prelude::*;
use serde_json::{Value, json};

use super::*;

/// Renders a form for `schema` with `value` (its initial value when `None`).
pub(crate) fn render(schema: &Value, value: Option<Value>, show_all: bool) -> String {
    let model = compile(schema);
    let owner = Owner::new();
    owner.with(|| {
        let start = value.unwrap_or_else(|| initial_value(&model));
        let value = RwSignal::new(start);
        let errors = Signal::derive({
            let model = model.clone();
            move || value.with(|v| validate(&model, v))
        });
        view! { <SchemaForm model=model value=value errors=errors show_all=show_all /> }.to_html()
    })
}

#[test]
fn every_widget_kind_renders_with_its_pointer() {
    let schema = json!({"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "title": "Name"},
        "password": {"type": "string", "format": "password"},
        "storage": {"type": "integer", "title": "HDFS storage (GB)", "minimum": 1024, "maximum": 102400, "default": 2048},
        "count": {"type": "integer"},
        "ha": {"type": "boolean", "default": true},
        "color": {"enum": ["red", "green"]},
        "region": {"enum": ["a", "b", "c", "d", "e"]},
        "zones": {"type": "array", "items": {"enum": ["x", "y"]}},
        "kind": {"const": "v1"},
        "net": {"type": "object", "properties": {"cidr": {"type": "string", "default": "10.0.0.0/16"}}},
        "pools": {"type": "array", "default": [{"n": "p"}], "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}, "default": {"team": "a"}},
        "mode": {"oneOf": [{"title": "Simple", "type": "object", "properties": {"s": {"type": "string"}}}, {"title": "Expert", "type": "object", "properties": {"e": {"type": "integer"}}}]},
        "free": {"type": "object", "default": {"any": [1]}}
    }});
    let html = render(&schema, None, false);
    for (pointer, widget) in [
        ("/name", "text"),
        ("/password", "secret"),
        ("/storage", "slider"),
        ("/count", "number"),
        ("/ha", "toggle"),
        ("/color", "radio"),
        ("/region", "select"),
        ("/zones", "checkboxes"),
        ("/kind", "fixed"),
        ("/net", "group"),
        ("/pools", "list"),
        ("/tags", "key/value"),
        ("/mode", "options"),
        ("/free", "JSON"),
    ] {
        assert!(html.contains(&format!(r#"data-field="{pointer}" data-widget="{widget}""#)), "{pointer} as {widget}");
    }
    for name in ["/name", "/password", "/storage", "/count", "/ha", "/net/cidr", "/pools/0/n", "/tags/team", "/free"] {
        assert!(html.contains(&format!(r#"name="{name}""#)), "input named {name}");
    }
    assert!(html.contains("2,048 GB"), "the slider shows its value with unit");
    assert!(html.contains("1,024 GB") && html.contains("102,400 GB"));
    assert!(html.contains(r#"type="password""#));
    assert!(html.contains("Parameters as JSON"));
    assert!(html.contains(r#"for="sf-_2fname""#), "labels are tied to inputs");
}

#[test]
fn broker_text_is_escaped() {
    let evil = "<script>alert(1)</script>";
    let schema = json!({"title": evil, "description": evil, "properties": {
        evil: {"type": "string", "title": evil, "description": evil, "default": evil},
        "e": {"enum": [evil, "b"], "_enumDisplayName": {"b": evil}},
        "o": {"oneOf": [{"title": evil, "type": "object"}, {"title": "x", "type": "object", "properties": {"a": {"type": "string"}}}]},
        "m": {"type": "object", "additionalProperties": {"type": "string"}, "default": {evil: evil}}
    }});
    let html = render(&schema, None, true);
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"));
    // Textareas (JSON editors, the raw view, long texts) hold text that cannot close them early.
    let breakout = "</textarea><script>alert(1)</script>";
    let schema = json!({"properties": {
        "free": {"type": "object", "default": {"k": breakout}},
        "long": {"type": "string", "maxLength": 5000, "default": breakout}
    }});
    let html = render(&schema, None, false);
    assert!(!html.contains("<script>"), "{html}");
    assert_eq!(html.matches("<textarea").count(), html.matches("</textarea>").count(), "{html}");
}

#[test]
fn values_are_in_the_server_rendered_html() {
    let schema = json!({"properties": {"name": {"type": "string", "default": "db-\"1\""}, "ha": {"type": "boolean", "default": true}, "c": {"enum": ["a", "b"], "default": "b"}}});
    let html = render(&schema, None, false);
    assert!(html.contains(r#"value="db-&quot;1&quot;""#), "{html}");
    assert!(html.contains("checked"), "toggles and radios are checked before hydration");
}

#[test]
fn messages_show_beside_fields_after_submit() {
    let schema = json!({"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "q": {"type": "integer", "minimum": 1024, "maximum": 102400}
    }});
    let quiet = render(&schema, Some(json!({"q": 5})), false);
    assert!(!quiet.contains("Must be at least 1,024"), "untouched fields stay quiet until submit");
    let html = render(&schema, Some(json!({"q": 5})), true);
    assert!(html.contains("Must be at least 1,024"));
    assert!(html.contains("Required"));
    assert!(html.contains(r#"data-testid="schema-form-summary""#));
}

#[test]
#[cfg_attr(not(feature = "ssr"), ignore = "patterns need an engine: fancy-regex (ssr) or the browser")]
fn patterns_the_engine_cannot_run_are_noted_not_failed() {
    let schema = json!({"properties": {"x": {"type": "string", "pattern": "(?<=[", "default": "abc"}, "y": {"type": "string", "pattern": "^a"}}});
    let html = render(&schema, None, true);
    assert!(html.contains("Cannot check pattern (?&lt;=[ here"), "{html}");
    assert_eq!(html.matches(r#"data-note="" hidden"#).count(), 1, "the checkable pattern's note stays hidden");
    assert!(!html.contains("Must match"));
}

#[test]
fn hostile_schemas_render_quickly() {
    let started = std::time::Instant::now();
    let values: Vec<String> = (0..10_000).map(|i| format!("v{i}")).collect();
    let numbers: Vec<u32> = (0..10_000).collect();
    let schema = json!({
        "definitions": {"node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/node"}, "n": {"type": "string"}}}},
        "properties": {"big": {"enum": values}, "nums": {"enum": numbers}, "tree": {"$ref": "#/definitions/node"}, "me": {"$ref": "#"}}
    });
    let html = render(&schema, None, true);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(html.contains(r#"data-field="/tree/child""#) && html.contains(r#"data-field="/me""#));
    assert!(html.contains("<datalist"));
}

#[test]
fn schemas_that_cannot_be_forms_still_render() {
    for schema in
        [json!(null), json!(false), json!({"type": "Database"}), json!({"properties": {"t": {"items": [{}]}}})]
    {
        let html = render(&schema, None, true);
        assert!(html.contains("data-schema-form"));
    }
}

#[test]
fn conditional_fields_are_hidden_until_their_condition_holds() {
    let schema = json!({
        "properties": {"tier": {"enum": ["basic", "premium"], "default": "basic"}},
        "if": {"properties": {"tier": {"const": "premium"}}},
        "then": {"properties": {"replicas": {"type": "integer"}}}
    });
    let html = render(&schema, None, false);
    assert!(html.contains(r#"<div hidden data-conditional=""><div data-field="/replicas""#), "{html}");
    let html = render(&schema, Some(json!({"tier": "premium"})), false);
    assert!(html.contains(r#"<div data-conditional=""><div data-field="/replicas""#), "{html}");
}

#[test]
fn many_shapes_get_a_select_and_hints_show_beside_fields() {
    let branches: Vec<Value> =
        (0..6).map(|i| json!({"title": format!("Shape {i}"), "type": "object", "properties": {format!("p{i}"): {"type": "string"}}})).collect();
    let schema = json!({"properties": {"s": {"oneOf": branches}, "q": {"type": "integer"}}});
    let model = compile(&schema);
    let html = Owner::new().with(|| {
        let value = RwSignal::new(initial_value(&model));
        let errors = Signal::derive(FieldErrors::new);
        let hints = Signal::derive(|| {
            std::collections::HashMap::from([("/q".to_string(), "3,072 GB left in the team's quota".to_string())])
        });
        view! { <SchemaForm model=model.clone() value errors hints id_prefix="plan" /> }.to_html()
    });
    assert!(html.contains(r#"<select id="plan-_2fs-choice""#), "{html}");
    assert!(html.contains("3,072 GB left in the team"));
}
