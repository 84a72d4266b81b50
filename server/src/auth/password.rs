//! Password hashing with argon2id (the PHC string keeps its parameters and salt).

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

/// Hashes a password for storage.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the stored hash (false for a malformed hash, never an error).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time of a verification when there is no account, so a login attempt does not tell
/// by its speed whether a username exists.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash("not a password").unwrap_or_default());
    let _ = verify(password, &DUMMY);
}

/// A new random password for a person to type once (no look-alike characters).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    getrandom(&mut bytes);
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

fn getrandom(buf: &mut [u8]) {
    use argon2::password_hash::rand_core::RngCore;
    OsRng.fill_bytes(buf);
}

/// What a new password must be.
pub fn check_strength(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 12 {
        return Err("a password needs at least 12 characters");
    }
    if password.len() > 1024 {
        return Err("a password may have at most 1,024 bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn generated_passwords_are_long_and_varied() {
        let p = generate();
        assert_eq!(p.len(), 20);
        assert_ne!(p, generate());
        assert!(check_strength(&p).is_ok());
        assert!(check_strength("short").is_err());
    }
}
