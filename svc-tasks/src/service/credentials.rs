//! API keys: 256-bit random, shown once, stored as SHA-256; admin token compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "tfk_";

/// A new key: (the key to show once, its hash to store, a short prefix for listings).
pub fn new_api_key() -> (String, Vec<u8>, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let hash = hash_key(&key);
    let prefix = key.chars().take(KEY_PREFIX.len() + 6).collect();
    (key, hash, prefix)
}

pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Constant-time equality of a presented token with the configured one.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (key, hash, prefix) = new_api_key();
        let (other, _, _) = new_api_key();
        assert_ne!(key, other);
        assert!(key.starts_with(KEY_PREFIX));
        assert_eq!(key.len(), KEY_PREFIX.len() + 43, "32 bytes in base64url");
        assert_eq!(hash, hash_key(&key));
        assert!(key.starts_with(&prefix));
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
    }
}
