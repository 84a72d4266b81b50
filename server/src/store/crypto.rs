//! Encryption at rest for Secrets: their `data` is sealed with XChaCha20-Poly1305 before it
//! reaches the database (and its change log), bound to the Secret's namespace and name.

use std::{io::Write, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD as B64};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};
use serde_json::{Map, Value};

const KEY_FILE: &str = "secret.key";
const SEALED_FIELD: &str = "sealedData";

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error("secret key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("secret key must be 32 bytes, base64-encoded ({0})")]
    Malformed(String),
}

/// Seals and opens Secret data. Cheap to clone.
#[derive(Clone)]
pub struct SecretCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

impl SecretCipher {
    /// A key given in configuration: 32 bytes, base64.
    pub fn from_base64(key: &str) -> Result<Self, SecretKeyError> {
        let bytes = B64.decode(key.trim()).map_err(|e| SecretKeyError::Malformed(e.to_string()))?;
        if bytes.len() != 32 {
            return Err(SecretKeyError::Malformed(format!("got {} bytes", bytes.len())));
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|e| SecretKeyError::Malformed(e.to_string()))?,
        })
    }

    /// The key kept in `<data_dir>/secret.key`, generated (mode 0600) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SecretKeyError> {
        let path = data_dir.join(KEY_FILE);
        let io = |source| SecretKeyError::Io { path: path.display().to_string(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = XChaCha20Poly1305::generate_key(&mut OsRng);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io)?;
                file.write_all(B64.encode(key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "generated a new key for encrypting Secrets at rest");
                Ok(Self { cipher: XChaCha20Poly1305::new(&key) })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Replaces a Secret's `data` with one sealed field (merging `stringData` first).
    pub fn seal(&self, secret: &mut Value) -> Result<(), String> {
        merge_string_data(secret)?;
        let aad = associated_data(secret);
        let Some(map) = secret.as_object_mut() else { return Err("a Secret must be a JSON object".into()) };
        let data = match map.remove("data") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let plaintext = serde_json::to_vec(&data).map_err(|e| e.to_string())?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: &plaintext, aad: aad.as_bytes() })
            .map_err(|_| "encryption failed".to_string())?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        map.insert(SEALED_FIELD.into(), Value::String(B64.encode(sealed)));
        Ok(())
    }

    /// Restores `data` from the sealed field (no-op for objects that carry none).
    pub fn open(&self, secret: &mut Value) -> Result<(), String> {
        let aad = associated_data(secret);
        let Some(map) = secret.as_object_mut() else { return Ok(()) };
        let Some(sealed) = map.remove(SEALED_FIELD) else { return Ok(()) };
        let bytes = sealed.as_str().and_then(|s| B64.decode(s).ok()).ok_or("sealed data is not base64")?;
        if bytes.len() < 24 {
            return Err("sealed data is truncated".into());
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plaintext = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| "cannot decrypt Secret data: wrong key or tampered data".to_string())?;
        let data: Map<String, Value> = serde_json::from_slice(&plaintext).map_err(|e| e.to_string())?;
        if !data.is_empty() {
            map.insert("data".into(), Value::Object(data));
        }
        Ok(())
    }
}

/// Merges `stringData` into `data` (base64-encoding it), as Kubernetes does on write, and
/// checks that `data` holds base64 strings.
pub fn merge_string_data(secret: &mut Value) -> Result<(), String> {
    let Some(map) = secret.as_object_mut() else { return Err("a Secret must be a JSON object".into()) };
    let mut data = match map.remove("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err("data must be an object of base64 strings".into()),
    };
    for (key, value) in &data {
        let s = value.as_str().ok_or_else(|| format!("data.{key} must be a base64 string"))?;
        B64.decode(s).map_err(|_| format!("data.{key} is not valid base64"))?;
    }
    match map.remove("stringData") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (key, value) in m {
                let s = value.as_str().ok_or_else(|| format!("stringData.{key} must be a string"))?;
                data.insert(key, Value::String(B64.encode(s)));
            }
        }
        Some(_) => return Err("stringData must be an object of strings".into()),
    }
    if !data.is_empty() {
        map.insert("data".into(), Value::Object(data));
    }
    Ok(())
}

fn associated_data(secret: &Value) -> String {
    format!("Secret/{}/{}", super::object::namespace(secret), super::object::name(secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seal_and_open_round_trip_and_merge_string_data() {
        let dir = tempfile::tempdir().unwrap();
        let cipher = SecretCipher::load_or_create(dir.path()).unwrap();
        let mut secret = json!({
            "metadata": {"name": "creds", "namespace": "team-a"},
            "data": {"user": B64.encode("alice")},
            "stringData": {"password": "s3cret-pa55"}
        });
        cipher.seal(&mut secret).unwrap();
        let text = secret.to_string();
        assert!(
            !text.contains("s3cret")
                && !text.contains(&B64.encode("s3cret-pa55"))
                && !text.contains(&B64.encode("alice"))
        );
        // The same key from the file opens it.
        let again = SecretCipher::load_or_create(dir.path()).unwrap();
        again.open(&mut secret).unwrap();
        assert_eq!(secret["data"]["password"], B64.encode("s3cret-pa55"));
        assert_eq!(secret["data"]["user"], B64.encode("alice"));
        assert!(secret.get("stringData").is_none());
    }

    #[test]
    fn sealed_data_is_bound_to_the_secret_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cipher = SecretCipher::load_or_create(dir.path()).unwrap();
        let mut secret = json!({"metadata": {"name": "a", "namespace": "n"}, "stringData": {"k": "v"}});
        cipher.seal(&mut secret).unwrap();
        let mut moved = secret.clone();
        moved["metadata"]["name"] = json!("b");
        assert!(cipher.open(&mut moved).unwrap_err().contains("cannot decrypt"));
        let other = SecretCipher::from_base64(&B64.encode([7u8; 32])).unwrap();
        assert!(other.open(&mut secret.clone()).is_err());
    }

    #[test]
    fn malformed_input_is_refused() {
        let cipher = SecretCipher::from_base64(&B64.encode([1u8; 32])).unwrap();
        assert!(cipher.seal(&mut json!({"data": {"k": "not base64!"}})).unwrap_err().contains("base64"));
        assert!(SecretCipher::from_base64("c2hvcnQ=").is_err());
    }
}
