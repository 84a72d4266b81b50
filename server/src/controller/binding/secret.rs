//! Turning a broker's credentials into the data of a Kubernetes Secret, with upstream's
//! `secretTransforms` applied. Pure except for `AddKeysFrom`, whose Secrets the caller reads.

use std::collections::BTreeMap;

use app::model::SecretTransform;
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use serde_json::{Map, Value};

/// Credentials as Secret data (key → raw bytes): strings as themselves, anything else as JSON.
pub fn credentials_to_data(credentials: &Map<String, Value>) -> BTreeMap<String, Vec<u8>> {
    credentials
        .iter()
        .map(|(k, v)| {
            let bytes = match v {
                Value::String(s) => s.as_bytes().to_vec(),
                other => other.to_string().into_bytes(),
            };
            (k.clone(), bytes)
        })
        .collect()
}

/// Reads `{.a.b}` / `.a.b` / `a.b` from the credentials (upstream's simple JSONPath use).
fn json_path<'a>(credentials: &'a Map<String, Value>, expression: &str) -> Option<&'a Value> {
    let path = expression.trim().trim_start_matches('{').trim_end_matches('}').trim_start_matches('.');
    let mut parts = path.split('.');
    let first = credentials.get(parts.next()?)?;
    parts.try_fold(first, |v, key| v.get(key))
}

/// Applies the transforms in order. `other_secrets` holds the data of Secrets named by
/// `addKeysFrom` (namespace/name → data), read by the caller.
pub fn apply_transforms(
    data: &mut BTreeMap<String, Vec<u8>>,
    credentials: &Map<String, Value>,
    transforms: &[SecretTransform],
    other_secrets: &BTreeMap<String, BTreeMap<String, Vec<u8>>>,
) -> Result<(), String> {
    for t in transforms {
        if let Some(r) = &t.rename_key
            && let Some(v) = data.remove(&r.from)
        {
            data.insert(r.to.clone(), v);
        }
        if let Some(a) = &t.add_key {
            let value = if let Some(b) = &a.value {
                B64.decode(b).map_err(|_| format!("addKey {:?}: value is not base64", a.key))?
            } else if let Some(s) = &a.string_value {
                s.as_bytes().to_vec()
            } else if let Some(expr) = &a.json_path_expression {
                match json_path(credentials, expr) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(other) => other.to_string().into_bytes(),
                    None => return Err(format!("addKey {:?}: {expr:?} finds nothing in the credentials", a.key)),
                }
            } else {
                return Err(format!("addKey {:?} has no value, stringValue or jsonPathExpression", a.key));
            };
            data.insert(a.key.clone(), value);
        }
        if let Some(from) = t.add_keys_from.as_ref().and_then(|f| f.secret_ref.as_ref()) {
            let key = format!("{}/{}", from.namespace.as_deref().unwrap_or_default(), from.name);
            let source = other_secrets.get(&key).ok_or_else(|| format!("addKeysFrom: Secret {key} does not exist"))?;
            data.extend(source.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(r) = &t.remove_key {
            data.remove(&r.key);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use app::model::{AddKeyTransform, AddKeysFromTransform, ObjectReference, RemoveKeyTransform, RenameKeyTransform};
    use serde_json::json;

    use super::*;

    #[test]
    fn every_transform() {
        let credentials = json!({"uri": "hdfs://nn:8020", "user": "alice", "port": 8020, "sasl": {"password": "pw"}});
        let credentials = credentials.as_object().unwrap();
        let mut data = credentials_to_data(credentials);
        assert_eq!(data["port"], b"8020");
        let transforms = vec![
            SecretTransform {
                rename_key: Some(RenameKeyTransform { from: "uri".into(), to: "HDFS_URI".into() }),
                ..Default::default()
            },
            SecretTransform {
                add_key: Some(AddKeyTransform {
                    key: "PASSWORD".into(),
                    json_path_expression: Some("{.sasl.password}".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            SecretTransform {
                add_key: Some(AddKeyTransform {
                    key: "ENV".into(),
                    string_value: Some("prod".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            SecretTransform {
                add_keys_from: Some(AddKeysFromTransform {
                    secret_ref: Some(ObjectReference { namespace: Some("team-a".into()), name: "extra".into() }),
                }),
                ..Default::default()
            },
            SecretTransform { remove_key: Some(RemoveKeyTransform { key: "sasl".into() }), ..Default::default() },
        ];
        let others =
            BTreeMap::from([("team-a/extra".to_string(), BTreeMap::from([("CA".to_string(), b"pem".to_vec())]))]);
        apply_transforms(&mut data, credentials, &transforms, &others).unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["CA", "ENV", "HDFS_URI", "PASSWORD", "port", "user"]);
        assert_eq!(data["PASSWORD"], b"pw");

        let missing = vec![SecretTransform {
            add_key: Some(AddKeyTransform {
                key: "X".into(),
                json_path_expression: Some(".nope".into()),
                ..Default::default()
            }),
            ..Default::default()
        }];
        assert!(apply_transforms(&mut data, credentials, &missing, &others).unwrap_err().contains("finds nothing"));
    }
}
