//! Parameters as people read them: each top-level field's label and its value with its unit
//! ("HDFS storage (GB): 2,048 GB"), secrets masked, anything the form does not know shown as JSON.

use leptos::prelude::*;
use serde_json::Value;

use crate::schema_form::labels::humanize;
use crate::schema_form::units::{format_value, format_with_unit};
use crate::schema_form::{FieldKind, FormModel};

/// (label, value) per parameter, in the form's order, then the parameters the form lacks.
pub fn parameter_rows(model: Option<&FormModel>, parameters: &Value) -> Vec<(String, String)> {
    let Some(object) = parameters.as_object() else {
        return if parameters.is_null() { Vec::new() } else { vec![("Parameters".into(), parameters.to_string())] };
    };
    let fields = model.map(FormModel::top_level_fields).unwrap_or_default();
    let mut rows = Vec::new();
    for field in fields {
        let Some(key) = field.key.as_deref() else { continue };
        let Some(value) = object.get(key) else { continue };
        let shown = match (&field.kind, value) {
            (FieldKind::Text(t), _) if t.secret => "••••••••".to_string(),
            (FieldKind::Number(n), Value::Number(v)) => {
                v.as_f64().map_or_else(|| v.to_string(), |x| format_with_unit(x, n.unit.as_deref()))
            }
            (FieldKind::Toggle, Value::Bool(b)) => if *b { "Yes" } else { "No" }.to_string(),
            (_, v) => format_value(v),
        };
        rows.push((field.label.clone(), shown));
    }
    for (key, value) in object {
        if fields.iter().any(|f| f.key.as_deref() == Some(key.as_str())) {
            continue;
        }
        rows.push((humanize(key), format_value(value)));
    }
    rows
}

/// A definition list of parameters.
#[component]
pub fn ParameterList(rows: Vec<(String, String)>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="text-sm text-zinc-500 dark:text-zinc-400">"No parameters."</p> }.into_any();
    }
    view! {
        <dl class="divide-y divide-zinc-100 text-sm dark:divide-zinc-800" data-testid="parameters">
            {rows
                .into_iter()
                .map(|(label, value)| view! {
                    <div class="grid grid-cols-2 gap-2 py-1.5">
                        <dt class="text-zinc-500 dark:text-zinc-400">{label}</dt>
                        <dd class="min-w-0 break-words tabular-nums">{value}</dd>
                    </div>
                })
                .collect_view()}
        </dl>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema_form::compile;

    #[test]
    fn rows_carry_units_and_mask_secrets() {
        let model = compile(&json!({"properties": {
            "storage": {"type": "integer", "title": "HDFS storage (GB)", "minimum": 1, "maximum": 10},
            "password": {"type": "string", "format": "password"},
            "ssl": {"type": "boolean"}
        }}));
        let rows =
            parameter_rows(Some(&model), &json!({"storage": 2048, "password": "hunter2", "ssl": true, "extra": [1]}));
        assert_eq!(rows[0], ("HDFS storage (GB)".to_string(), "2,048 GB".to_string()));
        assert_eq!(rows[1].1, "••••••••");
        assert_eq!(rows[2].1, "Yes");
        assert_eq!(rows[3], ("Extra".to_string(), "[1]".to_string()));
        assert!(parameter_rows(None, &Value::Null).is_empty());
    }
}
