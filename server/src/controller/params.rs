//! The parameters sent to a broker: `spec.parameters` merged with `parametersFrom` Secret keys,
//! a checksum to tell whether they changed, and a copy safe to show (Secret values redacted).

use app::model::{Kind, ParametersFromSource};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::store::ResourceStore;

pub const REDACTED: &str = "<redacted>";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parameters {
    /// What the broker receives.
    pub merged: Map<String, Value>,
    /// What the status shows: values that came from Secrets replaced by `<redacted>`.
    pub shown: Map<String, Value>,
    pub checksum: String,
}

/// Why parameters could not be put together: a sentence for a condition, and whether waiting
/// may help (a Secret that does not exist yet) or only a spec change will.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParametersError {
    pub message: String,
    pub transient: bool,
}

pub async fn resolve(
    store: &dyn ResourceStore,
    namespace: &str,
    inline: Option<&Value>,
    from: &[ParametersFromSource],
) -> Result<Parameters, ParametersError> {
    let fail = |message: String, transient: bool| ParametersError { message, transient };
    let mut merged = match inline {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(fail("spec.parameters must be a JSON object".into(), false)),
    };
    let mut shown = merged.clone();
    for source in from {
        let Some(key_ref) = &source.secret_key_ref else {
            return Err(fail("a parametersFrom entry names no secretKeyRef".into(), false));
        };
        let secret = store
            .get(Kind::Secret, namespace, &key_ref.name)
            .await
            .map_err(|e| fail(format!("cannot read Secret {namespace}/{}: {e}", key_ref.name), true))?
            .ok_or_else(|| {
                fail(format!("the Secret {namespace}/{} named in parametersFrom does not exist", key_ref.name), true)
            })?;
        let encoded = secret.pointer(&format!("/data/{}", key_ref.key)).and_then(Value::as_str).ok_or_else(|| {
            fail(format!("the Secret {namespace}/{} has no key {:?} (parametersFrom)", key_ref.name, key_ref.key), true)
        })?;
        let bytes = B64
            .decode(encoded)
            .map_err(|_| fail(format!("key {:?} of {} is not base64", key_ref.key, key_ref.name), false))?;
        let parsed: Value = serde_json::from_slice(&bytes).map_err(|_| {
            fail(
                format!("key {:?} of Secret {} must hold a JSON object of parameters", key_ref.key, key_ref.name),
                false,
            )
        })?;
        let Value::Object(params) = parsed else {
            return Err(fail(
                format!("key {:?} of Secret {} must hold a JSON object of parameters", key_ref.key, key_ref.name),
                false,
            ));
        };
        for (name, value) in params {
            if merged.contains_key(&name) {
                return Err(fail(
                    format!("parameter {name:?} is given both inline and in parametersFrom (Secret {})", key_ref.name),
                    false,
                ));
            }
            merged.insert(name.clone(), value);
            shown.insert(name, Value::String(REDACTED.into()));
        }
    }
    let checksum = checksum(&Value::Object(merged.clone()));
    Ok(Parameters { merged, shown, checksum })
}

/// SHA-256 of the canonical JSON (keys sorted at every level).
pub fn checksum(value: &Value) -> String {
    fn canonical(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), canonical(&map[k]))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    Sha256::digest(canonical(value).to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checksums_ignore_key_order() {
        assert_eq!(
            checksum(&json!({"a": 1, "b": {"x": 1, "y": 2}})),
            checksum(&json!({"b": {"y": 2, "x": 1}, "a": 1}))
        );
        assert_ne!(checksum(&json!({"a": 1})), checksum(&json!({"a": 2})));
    }
}
