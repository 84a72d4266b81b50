//! JSON pointers (RFC 6901) into form values: building them and reading / writing through them.
//!
//! Every field of a form is addressed by the pointer of its value inside the parameters object
//! (`""` is the whole object, `/networking/nodes` a nested property, `/list/0/name` a property of
//! an array item). The same pointers key validation messages and the widgets' `data-field`.

use serde_json::{Map, Value};

/// Escapes one reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Undoes [`escape_token`].
pub fn unescape_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The pointer of property `key` (or array index) below `parent`.
pub fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", escape_token(key))
}

/// The pointer of array item `index` below `parent`.
pub fn item(parent: &str, index: usize) -> String {
    format!("{parent}/{index}")
}

/// The unescaped tokens of a pointer; `""` has none.
pub fn tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer.split('/').skip(1).map(unescape_token).collect()
}

/// The pointer of the parent and the last token, or `None` for the root.
pub fn split_last(pointer: &str) -> Option<(&str, String)> {
    let at = pointer.rfind('/')?;
    Some((&pointer[..at], unescape_token(&pointer[at + 1..])))
}

/// Whether `pointer` is `ancestor` itself or lies below it.
pub fn is_within(pointer: &str, ancestor: &str) -> bool {
    pointer == ancestor || (pointer.starts_with(ancestor) && pointer[ancestor.len()..].starts_with('/'))
}

/// Reads the value at `pointer`, if there is one.
pub fn get<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    value.pointer(pointer)
}

/// Writes `new` at `pointer`, creating the objects on the way (arrays are padded with `null` when
/// an index lies past their end). A value of the wrong kind on the way is replaced.
pub fn set(value: &mut Value, pointer: &str, new: Value) {
    let mut slot = value;
    for token in tokens(pointer) {
        slot = step_mut(slot, &token);
    }
    *slot = new;
}

fn step_mut<'v>(slot: &'v mut Value, token: &str) -> &'v mut Value {
    let index = token.parse::<usize>().ok().filter(|_| slot.is_array());
    if index.is_none() && !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match (slot, index) {
        (Value::Array(items), Some(index)) => {
            if index >= items.len() {
                items.resize(index + 1, Value::Null);
            }
            &mut items[index]
        }
        (Value::Object(map), _) => map.entry(token.to_string()).or_insert(Value::Null),
        (other, _) => other,
    }
}

/// Removes the value at `pointer` (an object property, or an array item, shifting the rest);
/// returns it. The root cannot be removed.
pub fn remove(value: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, last) = split_last(pointer)?;
    match value.pointer_mut(parent)? {
        Value::Object(map) => map.shift_remove(&last),
        Value::Array(items) => {
            let index = last.parse::<usize>().ok()?;
            (index < items.len()).then(|| items.remove(index))
        }
        _ => None,
    }
}

/// Makes an id attribute out of a prefix and a pointer: characters outside `[A-Za-z0-9-]` are
/// written as `_xx` (hex), so different pointers never share an id.
pub fn dom_id(prefix: &str, pointer: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + pointer.len() + 4);
    id.push_str(prefix);
    id.push('-');
    for c in pointer.chars() {
        if c.is_ascii_alphanumeric() || c == '-' {
            id.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                id.push_str(&format!("_{byte:02x}"));
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_and_splits_pointers() {
        assert_eq!(child("", "a/b~c"), "/a~1b~0c");
        assert_eq!(tokens("/a~1b~0c/0"), vec!["a/b~c".to_string(), "0".to_string()]);
        assert_eq!(split_last("/x/y~1z"), Some(("/x", "y/z".to_string())));
        assert_eq!(split_last(""), None);
        assert!(is_within("/a/b", "/a") && is_within("/a", "/a") && !is_within("/ab", "/a"));
        assert!(is_within("/a", ""));
    }

    #[test]
    fn sets_and_removes_through_missing_parents() {
        let mut v = json!({});
        set(&mut v, "/a/b", json!(1));
        set(&mut v, "/list/1", json!("x"));
        assert_eq!(v, json!({"a": {"b": 1}, "list": {"1": "x"}}));
        let mut v = json!({"list": ["a", "b", "c"]});
        set(&mut v, "/list/4", json!("e"));
        assert_eq!(v, json!({"list": ["a", "b", "c", null, "e"]}));
        assert_eq!(remove(&mut v, "/list/0"), Some(json!("a")));
        assert_eq!(remove(&mut v, "/list"), Some(json!(["b", "c", null, "e"])));
        assert_eq!(remove(&mut v, ""), None);
        let mut root = json!(null);
        set(&mut root, "", json!({"k": 1}));
        assert_eq!(root, json!({"k": 1}));
    }

    #[test]
    fn dom_ids_are_distinct_and_safe() {
        let a = dom_id("f", "/a.b");
        let b = dom_id("f", "/a/b");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(dom_id("f", ""), "f-");
    }
}
