//! `Table` responses (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): what `kubectl get`
//! prints, with the kinds' printer columns (class, plan, ready, status, age for instances).

use app::model::Kind;
use serde_json::{Value, json};

use super::schemas::{Column, info};

/// How much of each object a row carries (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(value: Option<&str>) -> Include {
        match value {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// Whether the client asked for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let params: Vec<&str> = part.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    })
}

fn column_definitions(kind: Kind) -> Vec<Value> {
    let mut columns = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace.",
    })];
    columns.extend(info(kind).columns.iter().map(|c| {
        json!({"name": c.name, "type": if c.type_ == "date" { "date" } else { c.type_.as_str() }, "format": "", "priority": c.priority, "description": c.description})
    }));
    columns
}

fn row(kind: Kind, object: &Value, include: Include) -> Value {
    let mut cells = vec![object.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
    cells.extend(info(kind).columns.iter().map(|c| cell(c, object)));
    let mut row = json!({"cells": cells});
    match include {
        Include::None => {}
        Include::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
            });
        }
        Include::Object => row["object"] = object.clone(),
    }
    row
}

/// A table of objects; `headers: false` leaves out the column definitions (later watch events).
pub fn table(kind: Kind, objects: &[Value], include: Include, headers: bool, list_meta: Value) -> Value {
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": if headers { column_definitions(kind) } else { Vec::new() },
        "rows": objects.iter().map(|o| row(kind, o, include)).collect::<Vec<_>>(),
    })
}

fn cell(column: &Column, object: &Value) -> Value {
    if column.json_path == "#data" {
        return json!(object.get("data").and_then(Value::as_object).map_or(0, |m| m.len()));
    }
    let Some(value) = evaluate(&column.json_path, object) else { return Value::Null };
    match column.type_.as_str() {
        "date" => value.as_str().map_or(Value::Null, |s| json!(age(s))),
        "string" => match value {
            Value::String(_) => value,
            other => json!(other.to_string()),
        },
        _ => value,
    }
}

/// Evaluates the JSONPath forms the printer columns use: `.a.b`, `.a[0].b`, and
/// `.a[?(@.k=="v")].b`.
pub fn evaluate(path: &str, object: &Value) -> Option<Value> {
    let mut current = object;
    let mut rest = path.trim_start_matches('.');
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (field, tail) = rest.split_at(end);
        if !field.is_empty() {
            current = current.get(field)?;
        }
        rest = tail;
        if let Some(bracket) = rest.strip_prefix('[') {
            let close = bracket.find(']')?;
            let selector = &bracket[..close];
            rest = &bracket[close + 1..];
            let items = current.as_array()?;
            current = if let Some(filter) = selector.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (key, wanted) = filter.split_once("==")?;
                let wanted = wanted.trim().trim_matches('"').trim_matches('\'');
                items.iter().find(|item| item.get(key.trim()).and_then(Value::as_str) == Some(wanted))?
            } else {
                items.get(selector.parse::<usize>().ok()?)?
            };
        }
        rest = rest.trim_start_matches('.');
    }
    Some(current.clone())
}

/// How long ago an RFC 3339 time was, as kubectl prints ages (`45s`, `12m`, `3h5m`, `4d`).
pub fn age(timestamp: &str) -> String {
    let Ok(then) = timestamp.parse::<jiff::Timestamp>() else { return "<invalid>".into() };
    let seconds = (jiff::Timestamp::now().as_second() - then.as_second()).max(0);
    human_duration(seconds)
}

pub fn human_duration(seconds: i64) -> String {
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if days < 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        format!("{}y", days / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let object = json!({"spec": {"a": "x"}, "status": {"conditions": [
            {"type": "Failed", "status": "False"}, {"type": "Ready", "status": "True", "reason": "ProvisionedSuccessfully"}]}});
        assert_eq!(evaluate(".spec.a", &object), Some(json!("x")));
        assert_eq!(
            evaluate(r#".status.conditions[?(@.type=="Ready")].reason"#, &object),
            Some(json!("ProvisionedSuccessfully"))
        );
        assert_eq!(evaluate(".status.conditions[0].type", &object), Some(json!("Failed")));
        assert_eq!(evaluate(".spec.missing", &object), None);
    }

    #[test]
    fn tables_for_kubectl() {
        assert!(wants_table("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
        assert!(!wants_table("application/json"));
        let si = json!({"metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"clusterServiceClassExternalName": "hdfs", "clusterServicePlanExternalName": "shared"}});
        let t = table(Kind::ServiceInstance, &[si], Include::Metadata, true, json!({}));
        assert_eq!(t["columnDefinitions"][1]["name"], "Class");
        assert_eq!(t["rows"][0]["cells"][0], "a");
        assert_eq!(t["rows"][0]["cells"][1], "hdfs");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(185), "3m5s");
        assert_eq!(human_duration(3 * 86400), "3d");
    }
}
