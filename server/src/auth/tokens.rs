//! API tokens: 256 random bits shown once (`qm_<base64url>`), stored as a SHA-256 hash.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "qm_";

/// A new token: (the token to show once, its hash to store, a short prefix to list).
pub fn generate() -> (String, String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    let shown = token.chars().take(PREFIX.len() + 6).collect();
    (token, hash, shown)
}

/// The stored form of a token. A fast hash is right here: tokens carry 256 bits of entropy.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a bearer value looks like one of our tokens (cheap check before a lookup).
pub fn looks_like_token(value: &str) -> bool {
    value.starts_with(PREFIX) && value.len() == PREFIX.len() + 43
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (token, stored, shown) = generate();
        assert!(looks_like_token(&token), "{token}");
        assert_eq!(stored, hash(&token));
        assert!(!stored.contains(&token[PREFIX.len()..]));
        assert!(token.starts_with(&shown));
        assert_ne!(generate().0, token);
    }
}
